#include "client/rebalance.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "client/logger.h"
#include "client/queue_allocation.h"
#include "common/clock.h"

namespace vela::client {

namespace {

// How long a released orderly queue waits for its listener call in progress before it gives up
// unlocking (the lock then expires on the broker).
constexpr int64_t kReleaseWaitMs = 30000;

int64_t NowSteadyMs() { return NowMonotonicNs() / 1000000; }

}  // namespace

std::vector<MessageQueue> AllocateQueues(MessageModel model, const std::vector<MessageQueue>& sorted_queues,
                                         const std::vector<std::string>& sorted_client_ids, const std::string& me) {
  if (model == MessageModel::kBroadcasting) return sorted_queues;
  return AllocateAveragely(sorted_queues, sorted_client_ids, me);
}

bool RebalanceService::LockValid(const ProcessQueue& pq, int64_t renew_interval_ms) {
  return pq.locked.load() && NowSteadyMs() - pq.lock_granted_ms.load() < 2 * renew_interval_ms;
}

std::vector<std::shared_ptr<ProcessQueue>> RebalanceService::Snapshot() {
  std::lock_guard lock(queues_mu_);
  std::vector<std::shared_ptr<ProcessQueue>> out;
  out.reserve(queues_.size());
  for (const auto& [mq, pq] : queues_) out.push_back(pq);
  return out;
}

Result<std::vector<std::string>> RebalanceService::GetConsumerList(const TopicRoute& route) {
  v1::Header header;
  header.set_code(v1::GET_CONSUMER_LIST);
  header.mutable_consumer_list_request()->set_group(ctx_.group());
  vela::Status last = vela::Status::Unavailable("topic has no broker");
  for (const auto& [name, addr] : route.broker_addrs) {
    auto response = ctx_.instance->rpc().InvokeSync(addr, header, {}, ctx_.config.request_timeout_ms);
    if (!response.ok()) {
      last = response.status().WithContext(addr);
      continue;
    }
    const auto& ids = response->header.consumer_list_response().client_ids();
    std::vector<std::string> out(ids.begin(), ids.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  return last;
}

Result<int64_t> RebalanceService::ComputeStartOffset(const MessageQueue& mq, const std::string& addr) {
  VELA_ASSIGN_OR_RETURN(int64_t committed, store_.Read(mq, addr));
  if (committed >= 0) return committed;
  v1::Header offsets;
  offsets.set_code(v1::GET_QUEUE_OFFSETS);
  auto* o = offsets.mutable_queue_offsets_request();
  o->set_topic(mq.topic);
  o->set_queue_id(mq.queue_id);
  const auto from = ctx_.options.consume_from;
  if (from == ConsumeFrom::kTimestamp) o->set_timestamp_ms(ctx_.options.consume_from_timestamp_ms);
  VELA_ASSIGN_OR_RETURN(auto frame, ctx_.instance->rpc().InvokeSync(addr, offsets, {}, ctx_.config.request_timeout_ms));
  const auto& r = frame.header.queue_offsets_response();
  // A retry topic holds only this group's failed messages: always from its start.
  if (IsRetryTopic(mq.topic)) return r.min_offset();
  switch (from) {
    case ConsumeFrom::kFirst: return r.min_offset();
    case ConsumeFrom::kLast: return r.max_offset();
    case ConsumeFrom::kTimestamp: return r.offset_for_timestamp();
  }
  return r.max_offset();
}

bool RebalanceService::StartQueue(const std::shared_ptr<ProcessQueue>& pq) {
  auto start = ComputeStartOffset(pq->mq, ctx_.AddrOf(pq->mq));
  if (!start.ok()) {
    ClientLogger()->warn("cannot start {}: {}", pq->mq.ToString(), start.status().ToString());
    return false;  // the next rebalance (or lock round) tries again
  }
  {
    std::lock_guard lock(pq->mu);
    pq->tracker = OffsetTracker(*start);
    pq->last_committed = *start;
  }
  pq->pulling.store(true);
  ClientLogger()->info("{} takes {} from offset {}", ctx_.instance->client_id(), pq->mq.ToString(), *start);
  pull_.PullNext(pq);
  return true;
}

bool RebalanceService::Rebalance() {
  // One round at a time, and none waits for another: a round can block (an orderly release waits
  // for its listeners), and a waiting round would hold an internal thread the timers need. A round
  // asked for while another runs is not dropped: whoever holds the mutex runs it before leaving
  // (a membership change seen mid-round would otherwise wait a whole rebalance interval, with two
  // members pulling the same queues meanwhile).
  bool unknown_to_broker = false;
  rerun_requested_.store(true);
  for (;;) {
    std::unique_lock rebalance_lock(rebalance_mu_, std::try_to_lock);
    if (!rebalance_lock.owns_lock()) return unknown_to_broker;
    while (rerun_requested_.exchange(false)) unknown_to_broker = RebalanceLocked();
    rebalance_lock.unlock();
    if (!rerun_requested_.load()) return unknown_to_broker;  // else asked for just before the unlock
  }
}

bool RebalanceService::RebalanceLocked() {
  if (!ctx_.running.load() || released_all_ || draining_.load()) return false;
  bool unknown_to_broker = false;
  bool route_missing = false;
  const auto subs = ctx_.CopySubscriptions();
  std::set<MessageQueue> wanted;
  std::set<std::string> decided_topics;  // topics whose assignment is known this round
  for (const auto& [topic, filter] : subs) {
    auto route = ctx_.instance->routes().Get(topic);
    if (!route.ok()) {
      if (route.status().code() == vela::StatusCode::kNotFound) {
        decided_topics.insert(topic);
        route_missing = true;
      }
      ClientLogger()->debug("rebalance: no route for {}: {}", topic, route.status().ToString());
      continue;
    }
    if ((*route)->read_queues.empty()) {
      decided_topics.insert(topic);
      continue;
    }
    std::vector<std::string> ids;
    if (ctx_.clustering()) {
      auto list = GetConsumerList(**route);
      if (!list.ok()) {
        ClientLogger()->warn("rebalance: consumer list of {} failed: {}", ctx_.group(), list.status().ToString());
        continue;
      }
      if (!std::binary_search(list->begin(), list->end(), ctx_.instance->client_id())) {
        unknown_to_broker = true;  // the broker does not know us yet: keep what we have
        continue;
      }
      ids = std::move(list).value();
    }
    for (auto& mq : AllocateQueues(ctx_.options.model, (*route)->read_queues, ids, ctx_.instance->client_id())) {
      wanted.insert(mq);
    }
    decided_topics.insert(topic);
  }

  route_missing_.store(route_missing);
  std::vector<std::shared_ptr<ProcessQueue>> released;
  std::vector<MessageQueue> added;
  {
    std::lock_guard lock(queues_mu_);
    for (auto it = queues_.begin(); it != queues_.end();) {
      const bool subscribed = subs.count(it->first.topic) > 0;
      if (!subscribed || (decided_topics.count(it->first.topic) && !wanted.count(it->first))) {
        released.push_back(it->second);
        it = queues_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& mq : wanted) {
      if (!queues_.count(mq)) added.push_back(mq);
    }
  }
  for (const auto& pq : released) {
    ClientLogger()->info("{} releases {}", ctx_.instance->client_id(), pq->mq.ToString());
    ReleaseQueue(pq, /*held_lock=*/pq->locked.load());
  }
  if (!released.empty()) (void)store_.Flush();
  bool any_added = false;
  for (const auto& mq : added) {
    auto pq = std::make_shared<ProcessQueue>(mq, 0);
    if (!orderly_locking() && !StartQueue(pq)) continue;
    {
      std::lock_guard lock(queues_mu_);
      queues_[mq] = pq;
    }
    any_added = true;
  }
  if (orderly_locking() && any_added) RenewLocksLocked();  // lock the new queues at once
  return unknown_to_broker;
}

void RebalanceService::ReleaseQueue(const std::shared_ptr<ProcessQueue>& pq, bool held_lock) {
  if (orderly_locking()) {
    // Pulling stops; what was pulled is still consumed (under the lock we hold), so the commit
    // below covers every key's finished messages and the next owner repeats none of them: keys
    // finish out of offset order, the committable offset stops at the slowest one, and whatever
    // other keys finished past it would be consumed again. A full cache can take longer than one
    // renew interval, so while waiting (up to kReleaseWaitMs) this queue's lock and the other
    // held ones are renewed here (this round holds the mutex RenewLocks needs).
    pq->releasing.store(true);
    const int64_t deadline = NowSteadyMs() + kReleaseWaitMs;
    const int64_t step = std::max<int64_t>(1, ctx_.options.lock_renew_interval_ms / 2);
    bool drained = consume_.WaitDrained(pq, step);
    while (!drained && NowSteadyMs() < deadline) {
      if (held_lock) {
        if (Lock({pq}, nullptr).empty()) break;  // lost it: another owner may have started
        pq->lock_granted_ms.store(NowSteadyMs());
      }
      RenewLocksLocked();
      drained = consume_.WaitDrained(pq, step);
    }
    pq->dropped.store(true);
    if (!consume_.WaitIdle(pq, kReleaseWaitMs)) {
      ClientLogger()->warn("{}: the listener did not finish within {} ms; its lock is left to expire",
                           pq->mq.ToString(), kReleaseWaitMs);
      store_.Commit(pq, /*sync=*/true);
      return;
    }
    if (!drained) {
      ClientLogger()->warn("{}: pulled messages still unfinished at release; the next owner receives them again",
                           pq->mq.ToString());
    }
    store_.Commit(pq, /*sync=*/true);
    if (held_lock) Unlock(pq);
    return;
  }
  pq->dropped.store(true);
  store_.Commit(pq, /*sync=*/true);
}

void RebalanceService::DrainAll() {
  if (!orderly_locking()) return;
  draining_.store(true);  // no new queues from now on; lock renewal goes on
  auto queues = Snapshot();
  for (const auto& pq : queues) pq->releasing.store(true);
  // Lock renewal goes on meanwhile (draining_ only stops new queues), so the wait may be long:
  // a cache of max_cached_messages_per_queue takes a while, and what is not drained is consumed
  // again by the next owner.
  const int64_t deadline = NowSteadyMs() + kReleaseWaitMs;
  for (const auto& pq : queues) {
    if (!consume_.WaitDrained(pq, std::max<int64_t>(1, deadline - NowSteadyMs()))) {
      ClientLogger()->warn("{}: pulled messages still unfinished at shutdown; the next owner receives them again",
                           pq->mq.ToString());
    }
  }
}

std::vector<std::shared_ptr<ProcessQueue>> RebalanceService::Lock(
    const std::vector<std::shared_ptr<ProcessQueue>>& pqs, std::vector<std::shared_ptr<ProcessQueue>>* refused) {
  std::map<std::string, std::vector<std::shared_ptr<ProcessQueue>>> by_addr;
  for (const auto& pq : pqs) {
    std::string addr = ctx_.AddrOf(pq->mq);
    if (!addr.empty()) by_addr[addr].push_back(pq);
  }
  std::vector<std::shared_ptr<ProcessQueue>> granted;
  for (const auto& [addr, group] : by_addr) {
    v1::Header header;
    header.set_code(v1::LOCK_QUEUES);
    auto* request = header.mutable_lock_queues_request();
    request->set_group(ctx_.group());
    request->set_client_id(ctx_.instance->client_id());
    for (const auto& pq : group) {
      auto* q = request->add_queues();
      q->set_topic(pq->mq.topic);
      q->set_broker_name(pq->mq.broker_name);
      q->set_queue_id(pq->mq.queue_id);
    }
    auto response = ctx_.instance->rpc().InvokeSync(addr, std::move(header), {}, ctx_.config.request_timeout_ms);
    if (!response.ok()) {
      if (response.status().code() == vela::StatusCode::kUnimplemented) {
        ClientLogger()->error("broker {} does not implement queue locks (LOCK_QUEUES): orderly consumption of its "
                              "{} queue(s) cannot start: {}",
                              addr, group.size(), response.status().ToString());
      } else {
        ClientLogger()->warn("lock of {} queue(s) on {} failed: {}", group.size(), addr,
                             response.status().ToString());
      }
      continue;  // a transport error or a refusal decides nothing: the locks we hold run out on their own
    }
    std::set<MessageQueue> locked;
    for (const auto& q : response->header.lock_queues_response().locked()) {
      locked.insert(MessageQueue{q.topic(), q.broker_name(), q.queue_id()});
    }
    for (const auto& pq : group) {
      if (locked.count(pq->mq)) {
        granted.push_back(pq);
      } else if (refused != nullptr) {
        refused->push_back(pq);
      }
    }
  }
  return granted;
}

void RebalanceService::Unlock(const std::shared_ptr<ProcessQueue>& pq) {
  std::string addr = ctx_.AddrOf(pq->mq);
  if (addr.empty()) return;
  v1::Header header;
  header.set_code(v1::UNLOCK_QUEUES);
  auto* request = header.mutable_lock_queues_request();
  request->set_group(ctx_.group());
  request->set_client_id(ctx_.instance->client_id());
  auto* q = request->add_queues();
  q->set_topic(pq->mq.topic);
  q->set_broker_name(pq->mq.broker_name);
  q->set_queue_id(pq->mq.queue_id);
  auto response = ctx_.instance->rpc().InvokeSync(addr, std::move(header), {}, ctx_.config.request_timeout_ms);
  pq->locked.store(false);
  if (!response.ok()) {
    ClientLogger()->warn("unlock of {} on {} failed: {}", pq->mq.ToString(), addr, response.status().ToString());
  } else {
    ClientLogger()->info("{} unlocked {}", ctx_.instance->client_id(), pq->mq.ToString());
  }
}

void RebalanceService::RenewLocks() {
  {
    std::unique_lock rebalance_lock(rebalance_mu_, std::try_to_lock);  // see Rebalance
    if (!rebalance_lock.owns_lock()) return;
    if (!ctx_.running.load() || released_all_) return;
    RenewLocksLocked();
  }
  if (rerun_requested_.load()) (void)Rebalance();  // asked for while the locks were renewed
}

void RebalanceService::RenewLocksLocked() {
  if (!orderly_locking()) return;
  const int64_t now = NowSteadyMs();
  std::vector<std::shared_ptr<ProcessQueue>> due;
  for (const auto& pq : Snapshot()) {
    if (!pq->locked.load() || now - pq->lock_granted_ms.load() >= ctx_.options.lock_renew_interval_ms) {
      due.push_back(pq);
    }
  }
  if (due.empty()) return;
  std::vector<std::shared_ptr<ProcessQueue>> refused;
  for (const auto& pq : Lock(due, &refused)) {
    pq->lock_granted_ms.store(NowSteadyMs());
    pq->locked.store(true);
    if (!pq->pulling.load() && !StartQueue(pq)) continue;
  }
  for (const auto& pq : refused) {
    if (!pq->locked.load()) continue;  // never held: tried again at the next round
    // We held it and the broker gave it to another client (our lease ran out): stop at once and
    // start over from the committed offset should we get it back.
    ClientLogger()->warn("{} lost the lock of {}", ctx_.instance->client_id(), pq->mq.ToString());
    pq->locked.store(false);
    {
      std::lock_guard lock(queues_mu_);
      auto it = queues_.find(pq->mq);
      if (it != queues_.end() && it->second == pq) queues_.erase(it);
    }
    pq->dropped.store(true);
  }
}

void RebalanceService::CommitAll(bool sync) {
  for (const auto& pq : Snapshot()) store_.Commit(pq, sync);
  auto flushed = store_.Flush();
  if (!flushed.ok()) ClientLogger()->warn("{}", flushed.ToString());
}

void RebalanceService::ReleaseAll() {
  std::lock_guard rebalance_lock(rebalance_mu_);
  released_all_ = true;
  std::vector<std::shared_ptr<ProcessQueue>> queues;
  {
    std::lock_guard lock(queues_mu_);
    for (auto& [mq, pq] : queues_) queues.push_back(pq);
    queues_.clear();
  }
  for (const auto& pq : queues) pq->dropped.store(true);
  for (const auto& pq : queues) store_.Commit(pq, /*sync=*/true);
  if (orderly_locking()) {
    for (const auto& pq : queues) {
      if (pq->locked.load()) Unlock(pq);
    }
  }
  auto flushed = store_.Flush();
  if (!flushed.ok()) ClientLogger()->warn("{}", flushed.ToString());
}

}  // namespace vela::client
