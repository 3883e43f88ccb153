#pragma once

#include <cstdint>
#include <climits>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace vela::broker::lock {

// A queue of this broker as the locks name it.
struct LockedQueue {
  std::string topic;
  int32_t queue_id = 0;
  auto operator<=>(const LockedQueue&) const = default;
};

// QueueLockManager holds the broker's queue locks for orderly consumption (LOCK_QUEUES,
// UNLOCK_QUEUES; docs/consumption.md "Broker side"): per (group, topic, queue id) at most one
// holder, a client id of the group, for a lease of `lease_ms` from its last lock request.
//
// - Lock grants or renews every queue not held by another client whose lease is still running
//   (an expired lease is taken over), and leaves the others out.
// - A lock ends when its holder unlocks it, when the holder leaves the group (unregisters,
//   expires, or the connection it heartbeats over closes: ReleaseClient), when the connection it
//   locked over closes (ReleaseConnection), or when its lease runs out.
// - Checking who may ask (membership, subscriptions) is the caller's; this class only keeps the
//   table. Times are the caller's clock (epoch ms), so tests can drive expiry.
//
// Memory: one entry per locked queue; every holder was a member of its group when it locked, and
// leaving the group releases its entries, so the table never outgrows the live members' queues.
// Thread-safe: one mutex, held only for map operations (no I/O, no callback).
class QueueLockManager {
 public:
  explicit QueueLockManager(int64_t lease_ms) : lease_ms_(lease_ms) {}

  // Locks or renews `queues` of `group` for `client_id` (asking over connection
  // `connection_id`); returns the ones it now holds, in request order.
  std::vector<LockedQueue> Lock(const std::string& group, const std::string& client_id, uint64_t connection_id,
                                const std::vector<LockedQueue>& queues, int64_t now_ms);
  // Releases the queues `client_id` holds among `queues`; returns those it did not hold (held by
  // another client, or by nobody).
  std::vector<LockedQueue> Unlock(const std::string& group, const std::string& client_id,
                                  const std::vector<LockedQueue>& queues);
  // Releases every lock of `client_id` in `group`. Returns how many.
  size_t ReleaseClient(const std::string& group, const std::string& client_id);
  // Releases every lock taken over connection `connection_id`. Returns how many.
  size_t ReleaseConnection(uint64_t connection_id);

  // The holder of a queue's lock whose lease runs at `now_ms`, or "" when none.
  std::string HolderOf(const std::string& group, const LockedQueue& queue, int64_t now_ms) const;
  // Locks in the table (expired leases included until they are taken over or released).
  size_t size() const;
  int64_t lease_ms() const { return lease_ms_; }

 private:
  struct Holder {
    std::string client_id;
    uint64_t connection_id = 0;
    int64_t expires_ms = 0;
  };
  using Key = std::tuple<std::string, std::string, int32_t>;  // group, topic, queue id
  // Removes the entry at `it`, and its connection index entry. REQUIRES: mu_ held.
  void EraseLocked(std::map<Key, Holder>::iterator it);

  const int64_t lease_ms_;
  mutable std::mutex mu_;
  std::map<Key, Holder> locks_;                                  // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, std::set<Key>> by_connection_;    // GUARDED_BY(mu_)
};

}  // namespace vela::broker::lock
