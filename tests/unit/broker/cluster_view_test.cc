// /api/brokers' parts that stand alone: the figures read from a BROKER_STATUS map (rates on the
// broker's own uptime), the cache that bounds surveys to one per max age, and a surveyor without
// a reachable name server.
#include "broker/cluster_view.h"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vela::broker {
namespace {

BrokerSighting Reached(int64_t uptime_ms, int64_t messages_in, int64_t messages_out) {
  BrokerSighting b;
  b.broker_name = "broker-a";
  b.address = "127.0.0.1:10911";
  b.status = {{"version", "0.9.0"},
              {"uptimeMs", std::to_string(uptime_ms)},
              {"messagesIn", std::to_string(messages_in)},
              {"messagesOut", std::to_string(messages_out)},
              {"commitLogMinOffset", "1000"},
              {"commitLogMaxOffset", "5096"},
              {"vela_store_disk_used_ratio", "0.25"},
              {"httpPort", "8081"}};
  return b;
}

ClusterSurvey SurveyNumbered(int n) {
  ClusterSurvey s;
  s.registered = static_cast<size_t>(n);
  return s;
}

TEST(ClusterViewTest, FiguresAreReadFromTheBrokersStatus) {
  const BrokerFigures f = FiguresOf(Reached(60000, 500, 200), nullptr);
  EXPECT_EQ(f.version, "0.9.0");
  EXPECT_EQ(f.uptime_ms, 60000);
  EXPECT_EQ(f.messages_in, 500);
  EXPECT_EQ(f.messages_out, 200);
  EXPECT_EQ(f.commit_log_bytes, 4096);
  EXPECT_DOUBLE_EQ(f.disk_used_ratio.value_or(-1), 0.25);
  EXPECT_EQ(f.http_port, 8081);
  EXPECT_FALSE(f.messages_in_per_sec) << "no rate without a previous survey";
}

TEST(ClusterViewTest, MissingOrMalformedFiguresAreEmpty) {
  BrokerSighting b;
  b.status = {{"uptimeMs", "12x"}, {"httpPort", "-1"}, {"commitLogMaxOffset", "10"}};
  const BrokerFigures f = FiguresOf(b, nullptr);
  EXPECT_FALSE(f.uptime_ms);
  EXPECT_FALSE(f.http_port) << "HTTP off";
  EXPECT_FALSE(f.commit_log_bytes) << "no min offset";
  EXPECT_FALSE(f.disk_used_ratio);
  EXPECT_EQ(f.version, "");
}

TEST(ClusterViewTest, RatesAreMeasuredOnTheBrokersOwnUptime) {
  const BrokerSighting before = Reached(10000, 100, 50);
  const BrokerFigures f = FiguresOf(Reached(12000, 300, 50), &before);
  EXPECT_DOUBLE_EQ(f.messages_in_per_sec.value_or(-1), 100.0);
  EXPECT_DOUBLE_EQ(f.messages_out_per_sec.value_or(-1), 0.0);
  EXPECT_EQ(f.rate_window_ms, 2000);
}

TEST(ClusterViewTest, NoRateAcrossARestart) {
  const BrokerSighting before = Reached(90000, 5000, 4000);
  const BrokerFigures f = FiguresOf(Reached(3000, 10, 5), &before);
  EXPECT_FALSE(f.messages_in_per_sec);
  EXPECT_FALSE(f.messages_out_per_sec);
  EXPECT_FALSE(f.rate_window_ms);
  EXPECT_EQ(f.messages_in, 10) << "the totals are still shown";
}

TEST(ClusterViewTest, SurveysAtMostOncePerMaxAge) {
  std::atomic<int> surveys{0};
  int64_t now = 0;
  ClusterView view([&] { return SurveyNumbered(++surveys); }, 2000, [&] { return now; });
  auto first = view.Get();
  EXPECT_EQ(first->latest->registered, 1u);
  EXPECT_FALSE(first->previous);
  now = 1999;
  EXPECT_EQ(view.Get(), first);
  EXPECT_EQ(surveys.load(), 1);
  now = 2000;
  auto second = view.Get();
  EXPECT_EQ(surveys.load(), 2);
  EXPECT_EQ(second->latest->registered, 2u);
  EXPECT_EQ(second->previous, first->latest) << "the survey before is kept for rates";
}

TEST(ClusterViewTest, ReadersDuringASurveyGetTheOneBefore) {
  std::atomic<int> surveys{0};
  std::atomic<int64_t> now{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  ClusterView view(
      [&] {
        const int n = ++surveys;
        if (n == 2) {
          entered.set_value();
          released.wait();  // a slow survey: a broker that does not answer
        }
        return SurveyNumbered(n);
      },
      2000, [&] { return now.load(); });
  auto first = view.Get();
  now = 5000;
  auto slow = std::async(std::launch::async, [&] { return view.Get(); });
  entered.get_future().wait();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(view.Get(), first) << "served at once, one survey at a time";
  release.set_value();
  EXPECT_EQ(slow.get()->latest->registered, 2u);
  EXPECT_EQ(surveys.load(), 2);
}

TEST(ClusterViewTest, FirstReadersShareTheFirstSurvey) {
  std::atomic<int> surveys{0};
  ClusterView view(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return SurveyNumbered(++surveys);
      },
      2000, [] { return int64_t{0}; });
  std::vector<std::future<std::shared_ptr<const ClusterView::Snapshot>>> readers;
  for (int i = 0; i < 4; ++i) readers.push_back(std::async(std::launch::async, [&] { return view.Get(); }));
  for (auto& r : readers) EXPECT_EQ(r.get()->latest->registered, 1u);
  EXPECT_EQ(surveys.load(), 1);
}

TEST(ClusterViewTest, AFailedSurveyLetsTheNextReaderTryAgain) {
  int surveys = 0;
  ClusterView view(
      [&]() -> ClusterSurvey {
        if (++surveys == 1) throw std::runtime_error("survey failed");
        return SurveyNumbered(surveys);
      },
      2000, [] { return int64_t{0}; });
  EXPECT_THROW(view.Get(), std::runtime_error);
  EXPECT_EQ(view.Get()->latest->registered, 2u);
}

TEST(ClusterSurveyorTest, WithoutNameServersListsNoBrokerAndSaysWhy) {
  ClusterSurveyor surveyor({}, 1000);
  const ClusterSurvey s = surveyor.Survey();
  EXPECT_TRUE(s.brokers.empty());
  ASSERT_EQ(s.namesrv_errors.size(), 1u);
  EXPECT_NE(s.namesrv_errors[0].find("namesrvAddr"), std::string::npos) << s.namesrv_errors[0];
  EXPECT_GT(s.taken_at_ms, 0);
}

TEST(ClusterSurveyorTest, ANameServerThatDoesNotAnswerIsNamedPromptly) {
  const std::string dead = "127.0.0.1:" + std::to_string(vela::testing::FreePort());  // nothing listens there
  ClusterSurveyor surveyor({dead}, 1000);
  const auto start = std::chrono::steady_clock::now();
  const ClusterSurvey s = surveyor.Survey();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(s.brokers.empty());
  ASSERT_EQ(s.namesrv_errors.size(), 1u);
  EXPECT_EQ(s.namesrv_errors[0].rfind(dead + ": ", 0), 0u) << s.namesrv_errors[0];
}

}  // namespace
}  // namespace vela::broker
