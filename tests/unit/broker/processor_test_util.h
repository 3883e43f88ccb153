#pragma once

// What the broker's processor tests share: a real store on a temporary directory, the services a
// processor is built with, and a call that drives a handler without sockets (RequestContext's
// reply sink) and returns what it answered.
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include "broker/broker_counters.h"
#include "broker/broker_options.h"
#include "common/trace_record.h"
#include "broker/client_manager.h"
#include "broker/namesrv_registrar.h"
#include "broker/processors/resource_resolver.h"
#include "broker/pull_hold_service.h"
#include "broker/topic_manager.h"
#include "filter/filter_cache.h"
#include "net/dispatcher.h"
#include "support/test_support.h"
#include "unit/store/store_test_util.h"

namespace vela::broker::testing {

// What a handler answered: nullopt status when it did not answer.
struct Answer {
  std::optional<Status> status;
  v1::Header header;
  std::string body;  // the owned part and the views, concatenated
};

// Runs `handler` on a request with `header` and `body` and returns its answer, waiting up to
// `wait` for one given from another thread (a send under SYNC_FLUSH answers from the flush thread).
// A handler expected to drop the request (a heartbeat without a socket) is called with wait 0.
inline Answer Call(const std::function<void(net::RequestContext, net::Frame)>& handler, v1::Header header,
                   std::string body = {}, std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  auto answer = std::make_shared<Answer>();
  auto answered = std::make_shared<std::promise<void>>();
  std::future<void> done = answered->get_future();
  net::RequestContext rc(
      [answer, answered](Status status, v1::Header response, net::OutBody out) {
        answer->status = std::move(status);
        answer->header = std::move(response);
        answer->body = std::move(out.owned);
        for (std::string_view v : out.views) answer->body.append(v);
        answered->set_value();
      },
      header);
  net::Frame frame;
  frame.header = std::move(header);
  frame.body = std::move(body);
  handler(rc, std::move(frame));
  if (done.wait_for(wait) != std::future_status::ready) return Answer{};
  return *answer;
}

// The broker's services over a real store in a temporary directory, as BrokerController builds them.
class ProcessorTest : public ::testing::Test {
 protected:
  ProcessorTest() {
    options_.store = store::testing::SmallOptions(dir_.str());
    options_.store.hash_keyed_topics = {std::string(vela::trace::kTraceTopic)};
    store_ = store::testing::OpenStore(options_.store);
    topics_ = std::make_unique<TopicManager>(store_->meta());
    registrar_ = std::make_unique<NamesrvRegistrar>(
        std::vector<std::string>{}, 30000, [] { return v1::RegisterBrokerRequest(); }, [] { return uint64_t{0}; });
    resolver_ = std::make_unique<ResourceResolver>(options_, broker_addr_, *topics_, *registrar_);
  }
  ~ProcessorTest() override {
    holds_.ReleaseAll();
    pool_.join();
    if (store_) store_->Shutdown();
  }

  void CreateTopic(const std::string& name, int32_t queues = 4) {
    store::TopicConfig t;
    t.name = name;
    t.read_queues = t.write_queues = queues;
    ASSERT_OK(topics_->UpsertTopic(t));
  }

  vela::testing::TempDir dir_;
  BrokerOptions options_;
  std::string broker_addr_ = "127.0.0.1:10911";
  std::unique_ptr<store::DefaultMessageStore> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<NamesrvRegistrar> registrar_;
  std::unique_ptr<ResourceResolver> resolver_;
  ClientManager clients_{60000};
  filter::FilterCache filters_;
  BrokerCounters counters_;
  std::vector<HeldPull> retried_;  // what the hold service asked to retry
  PullHoldService holds_{[this](HeldPull pull, bool) { retried_.push_back(std::move(pull)); }};
  asio::thread_pool pool_{1};
};

}  // namespace vela::broker::testing
