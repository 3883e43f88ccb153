#include "broker/lock/lock_processor.h"

#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/retry/retry_message.h"
#include "common/clock.h"

namespace vela::broker::lock {
namespace {

std::string Clip(const std::string& s) { return s.size() <= 128 ? s : s.substr(0, 128) + "..."; }

}  // namespace

LockProcessor::LockProcessor(std::string broker_name, QueueLockManager& locks, ClientManager& clients,
                             TopicManager& topics)
    : broker_name_(std::move(broker_name)), locks_(locks), clients_(clients), topics_(topics) {}

void LockProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::LOCK_QUEUES,
                               [this](net::RequestContext rc, net::Frame frame) { HandleLock(rc, std::move(frame)); });
  dispatcher.RegisterProcessor(v1::UNLOCK_QUEUES, [this](net::RequestContext rc, net::Frame frame) {
    HandleUnlock(rc, std::move(frame));
  });
}

Status LockProcessor::Check(const v1::LockQueuesRequest& req, std::vector<LockedQueue>* queues) const {
  if (req.group().empty()) return Status::InvalidArgument("lock request names no consumer group");
  if (req.client_id().empty()) return Status::InvalidArgument("lock request names no client id");
  if (req.queues_size() > kMaxQueuesPerRequest) {
    return Status::InvalidArgument(
        fmt::format("lock request names {} queues; at most {}", req.queues_size(), kMaxQueuesPerRequest));
  }
  if (!clients_.IsConsumer(req.group(), req.client_id())) {
    return Status::PermissionDenied(
        fmt::format("client {} is not a registered consumer of group {} on broker {}: only a member of the group "
                    "(HEARTBEAT over a live connection) may lock or unlock its queues",
                    Clip(req.client_id()), Clip(req.group()), broker_name_));
  }
  const std::string retry_topic = retry::RetryTopicOf(req.group());
  queues->reserve(static_cast<size_t>(req.queues_size()));
  for (const auto& q : req.queues()) {
    if (!q.broker_name().empty() && q.broker_name() != broker_name_) {
      return Status::InvalidArgument(fmt::format("queue {}/{} belongs to broker {}, not to this broker {}",
                                                 Clip(q.topic()), q.queue_id(), Clip(q.broker_name()), broker_name_));
    }
    auto topic = topics_.GetTopic(q.topic());
    if (!topic) {
      return Status::NotFound(fmt::format("topic {} does not exist on broker {}", Clip(q.topic()), broker_name_),
                              SubCode::kTopicNotFound);
    }
    if (q.queue_id() < 0 || q.queue_id() >= topic->read_queues) {
      return Status::InvalidArgument(fmt::format("queue {} does not exist: topic {} has {} read queues", q.queue_id(),
                                                 q.topic(), topic->read_queues));
    }
    v1::Subscription subscription;
    if (q.topic() != retry_topic && !clients_.FindSubscription(req.group(), q.topic(), &subscription)) {
      return Status::PermissionDenied(fmt::format(
          "group {} does not subscribe to topic {}: its members may lock only queues of topics it subscribes to",
          Clip(req.group()), q.topic()));
    }
    queues->push_back(LockedQueue{q.topic(), q.queue_id()});
  }
  return Status::OK();
}

void LockProcessor::HandleLock(net::RequestContext rc, net::Frame frame) {
  if (!frame.header.has_lock_queues_request()) {
    return rc.ReplyError(Status::InvalidArgument("LOCK_QUEUES needs lock_queues_request"));
  }
  const auto& req = frame.header.lock_queues_request();
  std::vector<LockedQueue> queues;
  if (Status s = Check(req, &queues); !s.ok()) {
    BrokerLogger()->info("lock request from {} refused: {}", rc.peer(), s.ToString());
    return rc.ReplyError(s);
  }
  const auto locked = locks_.Lock(req.group(), req.client_id(), rc.connection_id(), queues, NowEpochMs());
  v1::Header resp;
  auto* out = resp.mutable_lock_queues_response();
  for (const auto& q : locked) {
    auto* ref = out->add_locked();
    ref->set_topic(q.topic);
    ref->set_broker_name(broker_name_);
    ref->set_queue_id(q.queue_id);
  }
  rc.Reply(Status::OK(), std::move(resp));
}

void LockProcessor::HandleUnlock(net::RequestContext rc, net::Frame frame) {
  if (!frame.header.has_lock_queues_request()) {
    return rc.ReplyError(Status::InvalidArgument("UNLOCK_QUEUES needs lock_queues_request"));
  }
  const auto& req = frame.header.lock_queues_request();
  std::vector<LockedQueue> queues;
  if (Status s = Check(req, &queues); !s.ok()) {
    BrokerLogger()->info("unlock request from {} refused: {}", rc.peer(), s.ToString());
    return rc.ReplyError(s);
  }
  const auto not_held = locks_.Unlock(req.group(), req.client_id(), queues);
  if (!not_held.empty()) {
    std::string names;
    for (size_t i = 0; i < not_held.size() && i < 16; ++i) {
      names += fmt::format("{}{}/{}", i == 0 ? "" : ", ", not_held[i].topic, not_held[i].queue_id);
    }
    if (not_held.size() > 16) names += fmt::format(" and {} more", not_held.size() - 16);
    const Status s = Status::FailedPrecondition(
        fmt::format("client {} of group {} does not hold the lock of {} (the queues it held were released)",
                    Clip(req.client_id()), Clip(req.group()), names));
    BrokerLogger()->info("unlock from {}: {}", rc.peer(), s.ToString());
    return rc.ReplyError(s);
  }
  rc.Reply(Status::OK());
}

}  // namespace vela::broker::lock
