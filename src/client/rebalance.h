#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/consume_service.h"
#include "client/consumer_context.h"
#include "client/offset_store.h"
#include "client/process_queue.h"
#include "client/pull_service.h"
#include "common/result.h"

namespace vela::client {

// Which queues of one topic this client consumes. Clustering: the average split of the sorted
// queues among the sorted live client ids (AllocateAveragely), so the members share the topic and
// every queue has one owner; broadcasting: every queue, whoever else consumes. Pure.
std::vector<MessageQueue> AllocateQueues(MessageModel model, const std::vector<MessageQueue>& sorted_queues,
                                         const std::vector<std::string>& sorted_client_ids, const std::string& me);

// RebalanceService owns the consumer's queue table (one ProcessQueue per assigned queue) and keeps
// it equal to the allocation: Rebalance recomputes every subscribed topic's share (AllocateQueues;
// the consumer list comes from a broker of the topic, clustering only), releases the queues that
// moved away and starts the new ones from their committed offset (else ConsumeFrom).
// Guarantees:
//  - a released queue is dropped first (no new pull, no new listener call), then its committable
//    offset is committed (sync), so the next owner starts where this one stopped or earlier;
//  - orderly clustering: a queue is pulled only while this client holds its broker lock
//    (LOCK_QUEUES); the start offset is read after the lock is granted (the previous owner has
//    committed by then); locks are renewed every lock_renew_interval_ms and missing ones retried
//    every second (RenewLocks); a queue whose renewal the broker refused is dropped; on release
//    the message in progress finishes, the offset is committed, then the lock is released
//    (UNLOCK_QUEUES); if the listener does not finish in time the lock is left to expire. Before
//    that commit, the messages already pulled are consumed too (up to 30 s, the locks renewed
//    meanwhile), so the next owner repeats none of them although keys finish out of offset order.
// Rebalance, RenewLocks and ReleaseAll are serialized by one mutex; a RenewLocks finding another
// round in progress skips (the periodic timer catches up), a Rebalance finding one leaves its round
// to the holder of the mutex, which runs it before leaving. Thread-safe.
class RebalanceService {
 public:
  RebalanceService(ConsumerContext& ctx, OffsetStore& store, PullService& pull, ConsumeService& consume)
      : ctx_(ctx), store_(store), pull_(pull), consume_(consume) {}

  // Returns true when a broker's consumer list did not hold this client yet (the caller should
  // heartbeat).
  bool Rebalance();
  // Whether the last round found no route for a subscribed topic (such as the group's retry
  // topic, which the broker creates at the first heartbeat and registers with the name server
  // just after: the caller may try again soon rather than a whole rebalance interval later).
  bool route_missing() const { return route_missing_.load(); }
  // Orderly clustering: lock queues not held yet, renew those due.
  void RenewLocks();
  // Commits every queue's committable offset; sync waits. Flushes the store.
  void CommitAll(bool sync);
  // Orderly clustering shutdown, before the consumer stops: stops pulling and waits (up to 30 s)
  // until every pulled message is finished, still renewing the locks, so the final commit covers
  // them. Rebalancing stops.
  void DrainAll();
  // Shutdown: drops every queue, commits (sync) and, orderly, unlocks. Stops rebalancing.
  void ReleaseAll();

  std::vector<std::shared_ptr<ProcessQueue>> Snapshot();
  // Lock validity as the SDK sees it: granted less than two renew intervals ago.
  static bool LockValid(const ProcessQueue& pq, int64_t renew_interval_ms);

 private:
  bool orderly_locking() const { return ctx_.options.orderly && ctx_.clustering(); }
  // One rebalance round; rebalance_mu_ held.
  bool RebalanceLocked();
  Result<std::vector<std::string>> GetConsumerList(const TopicRoute& route);
  // The offset to start pulling `mq` from: the committed one, else per ConsumeFrom.
  Result<int64_t> ComputeStartOffset(const MessageQueue& mq, const std::string& addr);
  // Reads the start offset, resets the queue's tracker to it and starts its pull loop.
  bool StartQueue(const std::shared_ptr<ProcessQueue>& pq);
  void ReleaseQueue(const std::shared_ptr<ProcessQueue>& pq, bool held_lock);
  // LOCK_QUEUES for `pqs` (grouped per broker). Returns the queues granted.
  std::vector<std::shared_ptr<ProcessQueue>> Lock(const std::vector<std::shared_ptr<ProcessQueue>>& pqs,
                                                  std::vector<std::shared_ptr<ProcessQueue>>* refused);
  void Unlock(const std::shared_ptr<ProcessQueue>& pq);
  void RenewLocksLocked();

  ConsumerContext& ctx_;
  OffsetStore& store_;
  PullService& pull_;
  ConsumeService& consume_;
  std::atomic<bool> route_missing_{false};
  std::mutex rebalance_mu_;  // serializes Rebalance, RenewLocks and ReleaseAll
  std::atomic<bool> rerun_requested_{false};  // a Rebalance was asked for and has not run yet
  bool released_all_ = false;  // GUARDED_BY(rebalance_mu_)
  std::atomic<bool> draining_{false};
  std::mutex queues_mu_;
  std::map<MessageQueue, std::shared_ptr<ProcessQueue>> queues_;  // GUARDED_BY(queues_mu_)
};

}  // namespace vela::client
