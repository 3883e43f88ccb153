#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/consume_queue.h"

namespace vela::store {

// ConsumeQueueTable finds the ConsumeQueue of a (topic, queue) under <root>/consumequeue/,
// creating it on first use. Owned by MessageStore; the FileSystem must outlive it. Thread-safe.
class ConsumeQueueTable {
 public:
  ConsumeQueueTable(FileSystem& fs, std::string dir, int64_t segment_size)
      : fs_(fs), dir_(std::move(dir)), segment_size_(segment_size) {}

  // Loads every queue directory; entries at or past `log_end` are removed.
  Status LoadAll(PhysicalOffset log_end);
  std::shared_ptr<ConsumeQueue> Find(std::string_view topic, uint32_t queue_id) const;
  std::shared_ptr<ConsumeQueue> FindOrCreate(std::string_view topic, uint32_t queue_id);
  // Every queue with its topic and id.
  struct Named {
    std::string topic;
    uint32_t queue_id;
    std::shared_ptr<ConsumeQueue> queue;
  };
  std::vector<Named> All() const;
  Status DeleteTopic(std::string_view topic);
  Status SyncAll();
  Status DeleteBelow(PhysicalOffset min_physical);

 private:
  FileSystem& fs_;
  const std::string dir_;
  const int64_t segment_size_;
  mutable std::mutex mu_;
  std::map<std::string, std::map<uint32_t, std::shared_ptr<ConsumeQueue>>, std::less<>> queues_;  // GUARDED_BY(mu_)
};

}  // namespace vela::store
