// SystemQueueReader over a real store: a service is woken once per read, not once per record, and a
// record dispatched after a read always wakes it again.
#include "broker/system_queue_reader.h"

#include <atomic>

#include <gtest/gtest.h>

#include "unit/broker/processor_test_util.h"

namespace vela::broker {
namespace {

using store::testing::MakeRecord;

class SystemQueueReaderTest : public testing::ProcessorTest {
 protected:
  void Append(int n, uint32_t queue = 1) {
    std::vector<std::string> records;
    for (int i = 0; i < n; ++i) records.push_back(MakeRecord("orders", queue, "body " + std::to_string(i)));
    store::AppendRequest req;
    for (const auto& r : records) req.records.push_back(r);
    ASSERT_OK(store_->AppendAndWait(std::move(req)).status());
    store_->WaitForDispatch();
  }
  std::atomic<int> wakes{0};
};

TEST_F(SystemQueueReaderTest, WakesOncePerReadAndAgainForRecordsAfterIt) {
  CreateTopic("orders");
  SystemQueueReader reader(*store_, "orders", 1, [this] { wakes.fetch_add(1); });
  reader.Start();

  Append(3);
  Append(2);
  EXPECT_EQ(wakes.load(), 1) << "records before the first read wake the service once";
  Append(4, /*queue=*/2);
  EXPECT_EQ(wakes.load(), 1) << "another queue's records do not wake it";

  store::QueueOffset next(0);
  store::GetResult got = reader.Read(&next, 100);
  EXPECT_EQ(got.records.size(), 5u);
  EXPECT_EQ(next, store::QueueOffset(5));
  EXPECT_EQ(wakes.load(), 1);

  // Nothing new: the read finds nothing and stays armed.
  EXPECT_TRUE(reader.Read(&next, 100).records.empty());
  Append(1);
  EXPECT_EQ(wakes.load(), 2) << "a record after a read wakes the service";
  Append(1);
  EXPECT_EQ(wakes.load(), 2);
  EXPECT_EQ(reader.Read(&next, 100).records.size(), 2u);
  EXPECT_EQ(next, store::QueueOffset(7));
}

}  // namespace
}  // namespace vela::broker
