#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "store/message_store.h"

namespace vela::broker {

// SystemQueueReader is how a broker service consumes one queue of a system topic (DESIGN.md §7.1):
// it reads through the same consume-queue API as a pull, from an offset the service saves with its
// own state, and calls `wake` when the dispatcher adds a record to that topic, so the service
// sleeps until there is work. Nothing else runs on the dispatch path. A service reads from its
// saved offset, so it sees every record, including those dispatched during the store's recovery
// before it started. Read from one service thread; OnDispatch from any.
//
// Wake-ups are coalesced: after one, no other comes until the service reads again, so a busy
// service costs the appending threads one atomic load per record and no lock. A record dispatched
// after a read began either is in that read or wakes the service once more.
class SystemQueueReader final : public store::DispatchListener {
 public:
  SystemQueueReader(store::MessageStore& store, std::string_view topic, uint32_t queue_id, std::function<void()> wake);

  // Registers for wake-ups. REQUIRES: before traffic starts.
  void Start() { store_.AddDispatchListener(this); }
  void OnDispatch(const store::DispatchedRecord& record) override;

  // Up to max_count records from *offset, whose views stay valid while the result's pins are
  // held; *offset moves past them (and past a range retention deleted, which is logged as an
  // error: those records were never seen). Returns an empty result when nothing is new. Re-arms
  // the wake-up first.
  store::GetResult Read(store::QueueOffset* offset, int32_t max_count);
  // The queue's next offset to be written (clamps a saved offset after a crash lost the tail).
  store::QueueOffset MaxOffset() const { return store_.MaxQueueOffset(topic_, queue_id_); }

 private:
  store::MessageStore& store_;
  const std::string topic_;
  const uint32_t queue_id_;
  const std::function<void()> wake_;
  std::atomic<bool> armed_{true};  // the next dispatched record calls wake_
};

}  // namespace vela::broker
