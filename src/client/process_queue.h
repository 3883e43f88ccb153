#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/offset_tracker.h"
#include "client/route.h"
#include "vela/message.h"

namespace vela::client {

// KeyedBacklog holds an orderly queue's pulled messages not yet finished, one FIFO per sharding
// key (property SHARDING_KEY; messages without one share the key ""). It guarantees the orderly
// rule: a key is "busy" from the Add that finds it idle until the PopFront that empties it, and
// exactly one worker (the one started on that first Add) serves a busy key, always at the front of
// its FIFO, so a key's messages are handed out one at a time in the order they were added (offset
// order). Different keys are independent. References returned by Front stay valid until that
// message is popped (node-based map and lists). Thread-compatible
// (ProcessQueue guards it with its mutex).
class KeyedBacklog {
 public:
  static std::string KeyOf(const MessageView& message);

  // Appends `message` to its key's FIFO. Returns true when the key was idle: the caller must
  // start one worker for `key` (set to the message's key).
  bool Add(MessageView message, std::string* key);
  // The oldest unfinished message of `key`, or null when the key is idle.
  MessageView* Front(const std::string& key);
  // Finishes the front message of `key`. Returns true when more messages of the key wait (the
  // worker goes on with them), false when the key became idle.
  bool PopFront(const std::string& key);
  // PopFront, then the key's new front message (null when the key became idle), in one lookup.
  // The new front has no failures yet.
  MessageView* PopFrontAndPeek(const std::string& key);
  // Failed deliveries of the key's front message so far (reset when it is popped); 0 when idle.
  int FrontFailures(const std::string& key) const;
  // Counts one more failed delivery of the key's front message; returns the new count.
  int AddFrontFailure(const std::string& key);

  size_t busy_keys() const { return fifo_.size(); }
  size_t size() const { return size_; }

 private:
  struct Fifo {
    std::list<MessageView> messages;  // list nodes never move: Front stays valid across Adds
    int front_failures = 0;
  };
  using FifoMap = std::unordered_map<std::string, Fifo>;
  // Pops the front of `fifo`, keeping its list node (emptied) for a later Add.
  void Pop(Fifo& fifo);
  // Storage of keys that went idle and of popped messages, reused by Add: with many keys each
  // busy for a message or two, a map node and a list node would otherwise be allocated and freed
  // per message.
  static constexpr size_t kMaxSpareFifos = 256;
  static constexpr size_t kMaxSpareMessages = 256;
  FifoMap fifo_;
  std::vector<FifoMap::node_type> spare_;
  std::list<MessageView> spare_messages_;  // emptied MessageViews
  size_t size_ = 0;
};

// ProcessQueue is a consumer's state for one assigned queue: the offset tracker of the messages
// pulled and not yet consumed, the last offset committed, whether the queue was released
// (dropped) by a rebalance or shutdown, and for orderly consumption the broker lock and the
// per-key backlog. Shared (shared_ptr) by the pull loop, the consume tasks and the committer; a
// dropped queue's pending work finds the flag and stops. Thread-safe: the tracker,
// last_committed, backlog and consuming are guarded by mu; the flags are atomics.
struct ProcessQueue {
  explicit ProcessQueue(MessageQueue queue, int64_t start_offset)
      : mq(std::move(queue)), tracker(start_offset), last_committed(start_offset) {}

  const MessageQueue mq;
  std::atomic<bool> dropped{false};
  // Orderly clustering: the broker lock (held, and when it was last granted or renewed, steady
  // ms) and whether the pull loop has started (it starts once, with the first lock).
  std::atomic<bool> locked{false};
  std::atomic<int64_t> lock_granted_ms{0};
  std::atomic<bool> pulling{false};
  // Orderly clustering, on its way out (rebalance or shutdown): no more pulls, the messages
  // already pulled are still consumed (so the commit before the unlock covers them).
  std::atomic<bool> releasing{false};

  std::mutex mu;
  OffsetTracker tracker;   // GUARDED_BY(mu)
  int64_t last_committed;  // GUARDED_BY(mu): what the store last accepted (or the start offset)
  KeyedBacklog backlog;    // GUARDED_BY(mu): orderly only
  int consuming = 0;       // GUARDED_BY(mu): listener calls in progress (orderly release waits for 0)
  size_t parked_keys = 0;  // GUARDED_BY(mu): orderly keys stopped by kLeave (they take no more messages)
  std::condition_variable idle_cv;  // notified when consuming drops
};

}  // namespace vela::client
