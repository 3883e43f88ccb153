#include "client/producer_impl.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "client/logger.h"
#include "client/message_codec.h"
#include "client/client_logging.h"
#include "client/status_convert.h"
#include "common/build_info.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/message_record.h"
#include "common/message_id.h"
#include "common/recall_handle.h"
#include "common/trace_record.h"

namespace vela::client {

namespace {
constexpr int64_t kHeartbeatIntervalMs = 10000;
}  // namespace

ProducerImpl::ProducerImpl(ProducerSettings settings) : settings_(std::move(settings)) {}

ProducerImpl::~ProducerImpl() { Shutdown(); }

vela::Status ProducerImpl::Start() {
  auto instance = ClientInstance::Create(settings_.config, settings_.register_fn);
  if (!instance.ok()) return instance.status();
  instance_ = std::move(instance).value();
  if (settings_.trace) {
    tracer_ = std::make_unique<TraceDispatcher>();
    tracer_->SetClientId(instance_->client_id());
    tracer_->Start();
  }
  if (!settings_.topics.empty()) {
    // Declared topics: fetch their routes and open the broker connections now, so that the first
    // send does not pay for them. A topic that cannot be resolved yet is left to the first send.
    for (const auto& topic : settings_.topics) {
      auto route = instance_->routes().Refresh(topic);
      if (!route.ok()) {
        ClientLogger()->warn("route of topic {} not fetched at start: {}", topic, route.status().ToString());
      }
    }
  }
  if (!settings_.topics.empty() || settings_.heartbeat_every_broker) {
    const v1::Header heartbeat = MakeHeartbeat();
    for (const auto& addr : HeartbeatAddrs()) {
      (void)instance_->rpc().InvokeSync(addr, heartbeat, {}, settings_.config.request_timeout_ms);
    }
  }
  instance_->ScheduleEvery(kHeartbeatIntervalMs, [this] { SendHeartbeat(); });
  return vela::Status::OK();
}

bool ProducerImpl::IsRetryable(const vela::Status& status) {
  switch (status.code()) {
    case vela::StatusCode::kUnavailable:
    case vela::StatusCode::kDeadlineExceeded:
      return true;
    case vela::StatusCode::kResourceExhausted:
      return status.subcode() == vela::SubCode::kNoSpace;
    default:
      return false;
  }
}

Result<std::shared_ptr<ProducerImpl::SendJob>> ProducerImpl::MakeJob(std::vector<Message> messages, bool batch,
                                                                     bool validate) {
  if (shut_down_.load(std::memory_order_acquire)) return vela::Status::FailedPrecondition("producer is shut down");
  if (messages.empty()) return vela::Status::InvalidArgument("no message to send");
  auto job = std::make_shared<SendJob>();
  job->topic = messages.front().topic;
  job->sharding_key = messages.front().sharding_key;
  job->count = static_cast<uint32_t>(messages.size());
  job->batch = batch;
  const int64_t now = NowEpochMs();
  job->born_ms = now;
  if (tracer_) job->born_ns = NowMonotonicNs();
  job->msg_ids.reserve(messages.size());
  for (const auto& m : messages) {
    if (validate) VELA_RETURN_IF_ERROR(ValidateMessage(m, settings_.max_message_bytes));
    if (m.topic != job->topic) return vela::Status::InvalidArgument("a batch must hold messages of one topic");
    job->msg_ids.push_back(NewMessageId());
  }
  job->messages = std::move(messages);
  if (tracer_) {
    // The broker's services add their own events for messages carrying the flag.
    for (auto& m : job->messages) m.properties[std::string(trace::kTraceFlagProperty)] = "true";
  }
  job->deadline_ms = now + settings_.send_timeout_ms;
  job->attempts_left = 1 + std::max(0, settings_.max_retries);
  return job;
}

Result<ProducerImpl::Target> ProducerImpl::PickAnyBroker(SendJob& job) {
  VELA_ASSIGN_OR_RETURN(auto info, instance_->namesrv().GetClusterInfo());
  std::vector<std::pair<std::string, std::string>> masters;  // name, addr
  for (const auto& b : info.brokers()) {
    auto it = b.addrs().find(0);
    if (it != b.addrs().end() && b.broker_name() != job.avoid_broker) masters.emplace_back(b.broker_name(), it->second);
  }
  if (masters.empty()) {
    return vela::Status::NotFound(fmt::format("no broker serves topic {}", job.topic), vela::SubCode::kTopicNotFound);
  }
  const auto& pick = masters[ShardingHash(job.topic + std::to_string(job.attempts_left)) % masters.size()];
  return Target{pick.first, pick.second, -1};
}

Result<ProducerImpl::Target> ProducerImpl::PickTarget(SendJob& job, bool may_block) {
  auto& routes = instance_->routes();
  bool stale = false;
  std::shared_ptr<const TopicRoute> route = routes.GetCached(job.topic, &stale);
  if (!route || stale) {
    if (!may_block && !route) return vela::Status::Unavailable("no cached route");
    if (!may_block) {
      std::string topic = job.topic;
      instance_->ScheduleAfter(0, [this, topic] { (void)instance_->routes().Refresh(topic); });
    } else {
      auto fetched = routes.Get(job.topic);
      if (!fetched.ok()) {
        if (fetched.status().code() == vela::StatusCode::kNotFound) return PickAnyBroker(job);
        return fetched.status();
      }
      route = *fetched;
    }
  }
  if (route->write_queues.empty()) return PickAnyBroker(job);
  const MessageQueue* queue = selector_.Select(*route, job.sharding_key, job.avoid_broker);
  return Target{queue->broker_name, route->AddrOf(queue->broker_name), queue->queue_id};
}

void ProducerImpl::AppendRecords(const SendJob& job, uint32_t queue, uint64_t born_host, std::string* out) {
  for (size_t i = 0; i < job.messages.size(); ++i) {
    AppendMessageRecord(job.messages[i], job.msg_ids[i], born_host, job.born_ms, out, queue);
  }
}

const std::string& ProducerImpl::EncodeFor(SendJob& job, int32_t queue_id, uint64_t born_host) {
  const auto queue = static_cast<uint32_t>(std::max(queue_id, 0));
  if (job.encoded_queue < 0) {
    job.records.clear();
    AppendRecords(job, queue, born_host, &job.records);
  } else if (job.encoded_queue != queue) {
    // A retry to another queue: re-address each record (its CRC covers the queue id).
    for (size_t pos = 0; pos + record::kFixedHeaderSize <= job.records.size();) {
      char* rec = job.records.data() + pos;
      coding::PutFixed32(rec + record::kOffQueueId, queue);
      RefreshRecordCrc(rec);
      pos += coding::GetFixed32(rec + record::kOffTotalSize);
    }
  }
  job.encoded_queue = queue;
  return job.records;
}

v1::Header ProducerImpl::MakeHeader(const SendJob& job, int32_t queue_id) const {
  v1::Header header;
  header.set_code(v1::SEND_MESSAGE);
  auto* request = header.mutable_send_request();
  request->set_topic(job.topic);
  request->set_queue_id(queue_id);
  request->set_producer_group(settings_.group);
  request->set_message_count(job.count);
  request->set_batch(job.batch);
  request->set_compact_receipts(true);
  return header;
}

Result<std::vector<SendReceipt>> ProducerImpl::ParseResponse(const std::vector<const SendJob*>& jobs,
                                                             const std::string& addr,
                                                             const std::string& broker_name,
                                                             Result<net::Frame> response,
                                                             std::vector<int64_t>* physical_offsets) const {
  if (!response.ok()) return response.status();
  const auto& sr = response->header.send_response();
  const std::string& broker_addr = sr.broker_addr().empty() ? addr : sr.broker_addr();
  uint32_t count = 0;
  for (const SendJob* job : jobs) count += job->count;
  const int acknowledged = sr.has_compact_receipt() ? sr.compact_receipt().physical_offsets_size() : sr.receipts_size();
  if (static_cast<uint32_t>(acknowledged) != count) {
    return vela::Status::Internal(fmt::format("broker {} acknowledged {} of {} messages", addr, acknowledged, count));
  }
  // The compact form is what MakeHeader asks for: queue offsets are consecutive, ids are ours.
  const bool compact = sr.has_compact_receipt();
  const auto& c = sr.compact_receipt();
  const bool timers = compact && c.deliver_at_ms_size() == acknowledged;
  std::vector<SendReceipt> receipts;
  receipts.reserve(count);
  int i = 0;
  for (const SendJob* job : jobs) {
    for (const std::string& msg_id : job->msg_ids) {
      SendReceipt& receipt = receipts.emplace_back();
      if (compact) {
        receipt.msg_id = msg_id;
        receipt.offset_id = MakeOffsetId(c.store_host(), c.physical_offsets(i));
        receipt.queue_id = c.queue_id();
        receipt.queue_offset = c.first_queue_offset() + i;
        receipt.store_timestamp_ms = c.store_timestamp_ms();
        if (timers) {
          receipt.deliver_at_ms = c.deliver_at_ms(i);
          receipt.recall_handle = EncodeRecallHandle(broker_name, receipt.deliver_at_ms, msg_id);
        }
      } else {
        const auto& r = sr.receipts(i);
        receipt.msg_id = r.msg_id();
        receipt.offset_id = r.offset_id();
        receipt.queue_id = r.queue_id();
        receipt.queue_offset = r.queue_offset();
        receipt.deliver_at_ms = r.deliver_at_ms();
        receipt.recall_handle = r.recall_handle();
        receipt.store_timestamp_ms = r.store_timestamp_ms();
      }
      if (physical_offsets != nullptr) {
        physical_offsets->push_back(compact ? c.physical_offsets(i) : sr.receipts(i).physical_offset());
      }
      receipt.topic = job->topic;
      receipt.broker_addr = broker_addr;
      ++i;
    }
  }
  return receipts;
}

Result<std::vector<SendReceipt>> ProducerImpl::Send(const std::vector<Message>& messages, bool batch) {
  VELA_ASSIGN_OR_RETURN(auto job, MakeJob(std::vector<Message>(messages), batch));
  if (!tracer_) return SendJobSync(*job);
  const int64_t start_ms = NowEpochMs();
  const int64_t start_ns = NowMonotonicNs();
  auto result = SendJobSync(*job);
  const int64_t cost_us = (NowMonotonicNs() - start_ns) / 1000;
  for (size_t i = 0; i < job->messages.size(); ++i) {
    TraceSend(job->messages[i], job->msg_ids[i], start_ms, cost_us,
              result.ok() ? std::string() : result.status().ToString(), result.ok() ? &(*result)[i] : nullptr);
  }
  return result;
}

void ProducerImpl::TraceSend(const Message& message, const std::string& msg_id, int64_t start_ms, int64_t cost_us,
                             const std::string& error, const SendReceipt* receipt) {
  // One event per send, refilled per message (Record copies only its encoding): a stored send
  // carries where and when the broker stored the message, which readers show as the store event.
  thread_local trace::TraceEvent send;
  send.type = trace::EventType::kSend;
  send.msg_id = msg_id;
  send.time_ms = start_ms;
  send.topic = message.topic;
  send.client_id = tracer_->client_id();
  send.group = settings_.group;
  send.cost_us = std::max<int64_t>(0, cost_us);
  send.status = error.empty() ? "ok" : "failed";
  send.keys.clear();
  for (const auto& key : message.keys) {
    if (!send.keys.empty()) send.keys += ' ';
    send.keys += key;
  }
  send.tags = message.tag;
  send.detail.assign(error, 0, std::min<size_t>(error.size(), 1024));
  send.broker.clear();
  send.queue_id = -1;
  send.queue_offset = -1;
  send.store_time_ms = -1;
  if (receipt == nullptr) {
    tracer_->Record(send, std::string_view());
    return;
  }
  send.broker = receipt->broker_addr;
  send.queue_id = receipt->queue_id;
  send.queue_offset = receipt->queue_offset;
  send.store_time_ms = receipt->store_timestamp_ms > 0 ? receipt->store_timestamp_ms : NowEpochMs();
  if (receipt->deliver_at_ms > 0) send.detail = fmt::format("timer message due at {}", receipt->deliver_at_ms);
  if (message.properties.count(std::string(prop::kTransactionPrepared)) != 0) {
    send.detail = "half message: invisible to consumers until its transaction is committed";
  }
  tracer_->Record(send, receipt->broker_addr);
}

Result<std::vector<SendReceipt>> ProducerImpl::SendJobSync(SendJob& job_ref) {
  SendJob* job = &job_ref;
  while (job->attempts_left-- > 0) {
    const int64_t remaining = job->deadline_ms - NowEpochMs();
    if (remaining <= 0) break;
    auto target = PickTarget(*job, /*may_block=*/true);
    if (!target.ok()) {
      job->last_error = target.status();
      if (!IsRetryable(target.status())) return target.status();
      continue;
    }
    auto result = ParseResponse({job}, target->addr, target->broker_name,
                                instance_->rpc().InvokeSync(
                                    target->addr, MakeHeader(*job, target->queue_id),
                                    net::OutBody(EncodeFor(*job, target->queue_id, instance_->born_host())),
                                    remaining));
    if (result.ok()) return result;
    job->last_error = result.status().WithContext(fmt::format("send to {}", target->addr));
    if (!IsRetryable(result.status())) return job->last_error;
    ClientLogger()->debug("send to {} failed ({}), {} attempts left", target->addr, result.status().ToString(),
                          job->attempts_left);
    job->avoid_broker = target->broker_name;
    (void)instance_->routes().Refresh(job->topic);
  }
  if (job->last_error.ok()) return vela::Status::DeadlineExceeded("send timed out before any attempt completed");
  return job->last_error;
}

Result<ProducerImpl::Target> ProducerImpl::PickPinnedTarget(const SendJob& job, const Placement& pin) {
  auto route = instance_->routes().Get(job.topic);
  if (!route.ok()) {
    // No route yet: the transaction's broker picks the queue (and creates the topic when its
    // auto-creation is on), as a plain send to an unknown topic would.
    if (route.status().code() == vela::StatusCode::kNotFound) return Target{pin.broker_name, pin.addr, -1};
    return route.status();
  }
  std::vector<int32_t> queues;
  for (const auto& q : (*route)->write_queues) {
    if (q.broker_name == pin.broker_name) queues.push_back(q.queue_id);
  }
  if (queues.empty()) {
    return vela::Status::FailedPrecondition(
        fmt::format("topic {} has no writable queue on broker {} ({}), which holds this transaction: every message "
                    "of a transaction goes to the broker of its first message",
                    job.topic, pin.broker_name, pin.addr));
  }
  const int32_t queue = queues[ShardingHash(job.sharding_key.empty() ? job.msg_ids.front() : job.sharding_key) %
                               queues.size()];
  return Target{pin.broker_name, pin.addr, queue};
}

Result<SendReceipt> ProducerImpl::SendTransactional(const Message& message, const std::string& msg_id,
                                                    const Placement* pin, Placement* placed) {
  if (!tracer_) return SendTransactionalUntraced(message, msg_id, pin, placed);
  const int64_t start_ms = NowEpochMs();
  const int64_t start_ns = NowMonotonicNs();
  auto result = SendTransactionalUntraced(message, msg_id, pin, placed);
  TraceSend(message, msg_id, start_ms, (NowMonotonicNs() - start_ns) / 1000,
            result.ok() ? std::string() : result.status().ToString(), result.ok() ? &*result : nullptr);
  return result;
}

Result<SendReceipt> ProducerImpl::SendTransactionalUntraced(const Message& message, const std::string& msg_id,
                                                           const Placement* pin, Placement* placed) {
  VELA_ASSIGN_OR_RETURN(auto job, MakeJob(std::vector<Message>{message}, false, /*validate=*/false));
  job->msg_ids.front() = msg_id;
  if (pin != nullptr) job->attempts_left = 1;  // never a second copy of a message of an open transaction
  while (job->attempts_left-- > 0) {
    const int64_t remaining = job->deadline_ms - NowEpochMs();
    if (remaining <= 0) break;
    auto target = pin != nullptr ? PickPinnedTarget(*job, *pin) : PickTarget(*job, /*may_block=*/true);
    if (!target.ok()) {
      job->last_error = target.status();
      if (!IsRetryable(target.status())) return target.status();
      continue;
    }
    std::vector<int64_t> offsets;
    auto result = ParseResponse({job.get()}, target->addr, target->broker_name,
                                instance_->rpc().InvokeSync(
                                    target->addr, MakeHeader(*job, target->queue_id),
                                    net::OutBody(EncodeFor(*job, target->queue_id, instance_->born_host())),
                                    remaining),
                                &offsets);
    if (result.ok()) {
      placed->broker_name = target->broker_name;
      placed->addr = target->addr;
      placed->physical_offset = offsets.front();
      return std::move(result->front());
    }
    job->last_error = result.status().WithContext(fmt::format("send to {}", target->addr));
    if (!IsRetryable(result.status())) return job->last_error;
    job->avoid_broker = target->broker_name;
    (void)instance_->routes().Refresh(job->topic);
  }
  if (job->last_error.ok()) return vela::Status::DeadlineExceeded("send timed out before any attempt completed");
  return job->last_error;
}

void ProducerImpl::SendAsync(Message message, SendCallback callback) {
  std::vector<Message> one;
  one.push_back(std::move(message));
  auto job = MakeJob(std::move(one), false);
  if (job.ok()) (*job)->callback = std::move(callback);  // traced, when tracing, by FinishAsync before it runs
  StartAsync(std::move(job), [callback](const vela::Status& status) { callback(ToPublic(status), SendReceipt{}); });
}

void ProducerImpl::SendTransactionalAsync(Message message, const std::string& msg_id, PlacedCallback callback) {
  std::vector<Message> one;
  one.push_back(std::move(message));
  auto job = MakeJob(std::move(one), false, /*validate=*/false);
  if (job.ok()) {
    (*job)->msg_ids.front() = msg_id;
    (*job)->placed_callback = std::move(callback);
  }
  StartAsync(std::move(job), [callback](const vela::Status& status) { callback(status, {}, Message{}, {}); });
}

void ProducerImpl::StartAsync(Result<std::shared_ptr<SendJob>> job, std::function<void(const vela::Status&)> fail) {
  if (!job.ok()) {
    vela::Status status = job.status();
    if (!instance_ || instance_->stopped()) {
      fail(status);
      return;
    }
    asio::post(instance_->callback_pool(), [fail = std::move(fail), status] { fail(status); });
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  AttemptAsync(std::move(job).value(), /*may_block=*/false);
}

void ProducerImpl::AttemptAsync(std::shared_ptr<SendJob> job, bool may_block) {
  const int64_t remaining = job->deadline_ms - NowEpochMs();
  if (job->attempts_left <= 0 || remaining <= 0) {
    vela::Status error = job->last_error.ok() ? vela::Status::DeadlineExceeded("send timed out") : job->last_error;
    asio::post(instance_->callback_pool(), [this, job, error] { FinishAsync(job, error, {}, {}); });
    return;
  }
  auto target = PickTarget(*job, may_block);
  if (!target.ok()) {
    if (!may_block && target.status().message() == "no cached route") {
      asio::post(instance_->internal_pool(), [this, job] { AttemptAsync(job, /*may_block=*/true); });
      return;
    }
    --job->attempts_left;
    job->last_error = target.status();
    if (!IsRetryable(target.status())) job->attempts_left = 0;
    asio::post(instance_->callback_pool(), [this, job] { AttemptAsync(job, /*may_block=*/false); });
    return;
  }
  --job->attempts_left;
  EnqueueOnLane(std::move(job), *target);
}

void ProducerImpl::EnqueueOnLane(std::shared_ptr<SendJob> job, const Target& target) {
  // Built in a per-thread buffer: a lane's key is copied only when its request leaves.
  thread_local std::string key;
  key.clear();
  key.append(target.addr).append(1, '/').append(job->topic).append(1, '/');
  char digits[16];
  key.append(digits, static_cast<size_t>(fmt::format_to(digits, "{}", target.queue_id) - digits));
  {
    std::lock_guard lock(lanes_mu_);
    Lane& lane = lanes_[key];
    if (lane.busy) {
      lane.waiting.push_back(std::move(job));
      return;
    }
    lane.busy = true;
  }
  std::vector<std::shared_ptr<SendJob>> jobs;
  jobs.push_back(std::move(job));
  DispatchLane(key, target, std::move(jobs));
}

void ProducerImpl::DispatchLane(const std::string& key, const Target& target,
                                std::vector<std::shared_ptr<SendJob>> jobs) {
  const uint64_t born_host = instance_->born_host();
  const auto queue = static_cast<uint32_t>(std::max(target.queue_id, 0));
  int64_t deadline = INT64_MAX;
  uint32_t count = 0;
  size_t estimate = 0;  // the records' size, but for their properties
  for (auto& job : jobs) {
    deadline = std::min(deadline, job->deadline_ms);
    count += job->count;
    for (size_t i = 0; i < job->messages.size(); ++i) {
      estimate += record::kMinRecordSize + job->topic.size() + job->msg_ids[i].size() + job->messages[i].body.size();
    }
  }
  // The records are encoded straight into the frame (a retry encodes them again from the messages).
  net::OutBody body;
  body.owned.reserve(estimate + 64 * count);
  for (const auto& job : jobs) AppendRecords(*job, queue, born_host, &body.owned);
  v1::Header header = MakeHeader(*jobs.front(), target.queue_id);
  header.mutable_send_request()->set_message_count(count);
  if (jobs.size() > 1) header.mutable_send_request()->set_batch(true);
  const int64_t remaining = std::max<int64_t>(1, deadline - NowEpochMs());
  instance_->rpc().Invoke(
      target.addr, std::move(header), std::move(body), remaining,
      [this, key, target, jobs = std::move(jobs)](Result<net::Frame> response) mutable {
        // On an io thread: completed where user callbacks run (the callback pool, or right here).
        instance_->RunCallback([this, key, target, jobs = std::move(jobs), response = std::move(response)]() mutable {
          CompleteLaneJobs(std::move(jobs), target.addr, target.broker_name, std::move(response));
          std::vector<std::shared_ptr<SendJob>> next;
          {
            std::lock_guard lock(lanes_mu_);
            Lane& lane = lanes_[key];
            // At most 256 messages or about 1 MiB leave together.
            size_t bytes = 0, n = 0;
            while (n < lane.waiting.size() && n < 256 && bytes < (1u << 20)) {
              for (const auto& m : lane.waiting[n]->messages) bytes += m.body.size();
              ++n;
            }
            next.assign(std::make_move_iterator(lane.waiting.begin()),
                        std::make_move_iterator(lane.waiting.begin() + static_cast<std::ptrdiff_t>(n)));
            lane.waiting.erase(lane.waiting.begin(), lane.waiting.begin() + static_cast<std::ptrdiff_t>(n));
            if (next.empty()) lane.busy = false;
          }
          if (!next.empty()) DispatchLane(key, target, std::move(next));
        });
      });
}

void ProducerImpl::CompleteLaneJobs(std::vector<std::shared_ptr<SendJob>> jobs, const std::string& addr,
                                    const std::string& broker_name, Result<net::Frame> response) {
  // Parse once for all the jobs, then hand each job its share of the receipts.
  std::vector<const SendJob*> parts;
  parts.reserve(jobs.size());
  for (const auto& job : jobs) parts.push_back(job.get());
  // Commit-log offsets only when a transactional send needs them (its END_TRANSACTION names them).
  const bool placed =
      std::any_of(jobs.begin(), jobs.end(), [](const auto& job) { return job->placed_callback != nullptr; });
  std::vector<int64_t> physical_offsets;
  auto receipts = ParseResponse(parts, addr, broker_name, std::move(response), placed ? &physical_offsets : nullptr);
  size_t next_receipt = 0;
  for (auto& job : jobs) {
    if (receipts.ok()) {
      FinishAsync(job, vela::Status::OK(), (*receipts)[next_receipt],
                  placed ? Placement{broker_name, addr, physical_offsets[next_receipt]} : Placement{});
      next_receipt += job->count;
      continue;
    }
    job->last_error = receipts.status().WithContext(fmt::format("send to {}", addr));
    if (!IsRetryable(receipts.status()) || shut_down_.load()) {
      FinishAsync(job, job->last_error, {}, {});
      continue;
    }
    job->avoid_broker = broker_name;
    std::string topic = job->topic;
    instance_->ScheduleAfter(0, [this, topic] { (void)instance_->routes().Refresh(topic); });
    AttemptAsync(job, /*may_block=*/false);
  }
}

void ProducerImpl::FinishAsync(const std::shared_ptr<SendJob>& job, const vela::Status& status,
                               const SendReceipt& receipt, const Placement& placed) {
  if (tracer_) {
    TraceSend(job->messages.front(), job->msg_ids.front(), job->born_ms, (NowMonotonicNs() - job->born_ns) / 1000,
              status.ok() ? std::string() : status.ToString(), status.ok() ? &receipt : nullptr);
  }
  try {
    if (job->placed_callback) {
      job->placed_callback(status, receipt, job->messages.front(), placed);
    } else {
      job->callback(ToPublic(status), receipt);
    }
  } catch (const std::exception& e) {
    ClientLogger()->error("send callback threw: {}", e.what());
  } catch (...) {
    ClientLogger()->error("send callback threw");
  }
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) idle_cv_.notify_all();
}

vela::Status ProducerImpl::SendOneway(const Message& message) {
  VELA_ASSIGN_OR_RETURN(auto job, MakeJob(std::vector<Message>{message}, false));
  VELA_ASSIGN_OR_RETURN(auto target, PickTarget(*job, /*may_block=*/true));
  auto header = MakeHeader(*job, target.queue_id);
  instance_->rpc().InvokeOneway(target.addr, std::move(header),
                                net::OutBody(EncodeFor(*job, target.queue_id, instance_->born_host())));
  return vela::Status::OK();
}

v1::Header ProducerImpl::MakeHeartbeat() const {
  v1::Header header;
  header.set_code(v1::HEARTBEAT);
  auto* hb = header.mutable_heartbeat_request();
  hb->set_client_id(instance_->client_id());
  hb->set_client_version(BuildVersionString());
  hb->add_producers()->set_group(settings_.group);
  return header;
}

std::vector<std::string> ProducerImpl::HeartbeatAddrs() {
  std::vector<std::string> addrs = instance_->routes().AllBrokerAddrs();
  if (!settings_.heartbeat_every_broker) return addrs;
  auto info = instance_->namesrv().GetClusterInfo();
  if (!info.ok()) {
    ClientLogger()->warn("brokers of the cluster not listed for the heartbeat: {}", info.status().ToString());
    return addrs;
  }
  for (const auto& b : info->brokers()) {
    auto it = b.addrs().find(0);
    if (it != b.addrs().end() && std::find(addrs.begin(), addrs.end(), it->second) == addrs.end()) {
      addrs.push_back(it->second);
    }
  }
  return addrs;
}

void ProducerImpl::SendHeartbeat() {
  const v1::Header header = MakeHeartbeat();
  for (const auto& addr : HeartbeatAddrs()) {
    instance_->rpc().Invoke(addr, header, {}, settings_.config.request_timeout_ms, [](Result<net::Frame>) {});
  }
}

void ProducerImpl::Shutdown() {
  if (shut_down_.exchange(true)) return;
  if (!instance_) return;
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait_for(lock, std::chrono::milliseconds(settings_.send_timeout_ms + 2000),
                      [this] { return in_flight_ == 0; });
  }
  v1::Header header;
  header.set_code(v1::UNREGISTER_CLIENT);
  header.mutable_unregister_client_request()->set_client_id(instance_->client_id());
  header.mutable_unregister_client_request()->set_producer_group(settings_.group);
  for (const auto& addr : instance_->routes().AllBrokerAddrs()) instance_->rpc().InvokeOneway(addr, header, {});
  if (tracer_) tracer_->Stop();  // writes the events still queued (bounded)
  instance_->Shutdown();
}

Result<RecallOutcome> ProducerImpl::Recall(const std::string& topic, const std::string& recall_handle) {
  VELA_ASSIGN_OR_RETURN(RecallHandle handle, DecodeRecallHandle(recall_handle));
  VELA_ASSIGN_OR_RETURN(auto route, instance_->routes().Get(topic));
  std::string addr = route->AddrOf(handle.broker_name);
  if (addr.empty()) {
    VELA_ASSIGN_OR_RETURN(route, instance_->routes().Refresh(topic));
    addr = route->AddrOf(handle.broker_name);
  }
  if (addr.empty()) {
    return vela::Status::Unavailable(
        fmt::format("broker {} that holds the timer is not in the route of topic {}", handle.broker_name, topic));
  }
  v1::Header header;
  header.set_code(v1::RECALL_MESSAGE);
  header.mutable_recall_request()->set_topic(topic);
  header.mutable_recall_request()->set_recall_handle(recall_handle);
  VELA_ASSIGN_OR_RETURN(net::Frame frame,
                        instance_->rpc().InvokeSync(addr, std::move(header), {}, settings_.config.request_timeout_ms));
  switch (frame.header.recall_response().outcome()) {
    case v1::RECALL_DONE: return RecallOutcome::kRecalled;
    case v1::RECALL_ALREADY_RECALLED: return RecallOutcome::kAlreadyRecalled;
    case v1::RECALL_ALREADY_DELIVERED: return RecallOutcome::kAlreadyDelivered;
    default: return vela::Status::Internal("the broker answered the recall with an unknown outcome");
  }
}

// ---- public surface ----

Producer::Producer(std::unique_ptr<ProducerImpl> impl) : impl_(std::move(impl)) {}
Producer::~Producer() { Shutdown(); }

StatusOr<SendReceipt> Producer::Send(const Message& message) {
  auto result = impl_->Send({message}, false);
  if (!result.ok()) return ToPublic(result.status());
  return std::move(result->front());
}

void Producer::SendAsync(Message message, SendCallback callback) { impl_->SendAsync(std::move(message), std::move(callback)); }

Status Producer::SendOneway(const Message& message) { return ToPublic(impl_->SendOneway(message)); }

StatusOr<std::vector<SendReceipt>> Producer::SendBatch(const std::vector<Message>& messages) {
  auto result = impl_->Send(messages, true);
  if (!result.ok()) return ToPublic(result.status());
  return std::move(result).value();
}

StatusOr<RecallOutcome> Producer::Recall(const std::string& topic, const std::string& recall_handle) {
  auto result = impl_->Recall(topic, recall_handle);
  if (!result.ok()) return ToPublic(result.status());
  return *result;
}

void Producer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

const std::string& Producer::client_id() const { return impl_->client_id(); }
uint64_t Producer::trace_dropped() const { return impl_->trace_dropped(); }

ProducerBuilder& ProducerBuilder::SetClientConfig(ClientConfig config) {
  std::string namesrv = config_.namesrv_addr;
  config_ = std::move(config);
  if (config_.namesrv_addr.empty()) config_.namesrv_addr = namesrv;
  return *this;
}
ProducerBuilder& ProducerBuilder::SetTopics(std::vector<std::string> topics) {
  topics_ = std::move(topics);
  return *this;
}

ProducerBuilder& ProducerBuilder::SetNamesrvAddr(std::string addrs) {
  config_.namesrv_addr = std::move(addrs);
  return *this;
}
ProducerBuilder& ProducerBuilder::SetGroup(std::string producer_group) {
  group_ = std::move(producer_group);
  return *this;
}
ProducerBuilder& ProducerBuilder::SetSendTimeoutMs(int64_t timeout_ms) {
  send_timeout_ms_ = timeout_ms;
  return *this;
}
ProducerBuilder& ProducerBuilder::SetMaxRetries(int retries) {
  max_retries_ = retries;
  return *this;
}
ProducerBuilder& ProducerBuilder::SetMaxMessageBytes(size_t bytes) {
  max_message_bytes_ = bytes;
  return *this;
}

ProducerBuilder& ProducerBuilder::SetLogLevel(std::string level) {
  config_.log_level = std::move(level);
  return *this;
}
ProducerBuilder& ProducerBuilder::SetLogFile(std::string path) {
  config_.log_file = std::move(path);
  return *this;
}
ProducerBuilder& ProducerBuilder::EnableTrace() {
  trace_ = true;
  return *this;
}

StatusOr<std::unique_ptr<Producer>> ProducerBuilder::Build() {
  if (send_timeout_ms_ <= 0) return Status(StatusCode::kInvalidArgument, "send timeout must be positive");
  if (auto logging = ApplyClientLogging(config_); !logging.ok()) return ToPublic(logging);
  ProducerSettings settings;
  settings.config = config_;
  settings.group = group_;
  settings.send_timeout_ms = send_timeout_ms_;
  settings.max_retries = max_retries_;
  settings.max_message_bytes = max_message_bytes_;
  settings.topics = topics_;
  settings.trace = trace_;
  auto impl = std::make_unique<ProducerImpl>(std::move(settings));
  auto status = impl->Start();
  if (!status.ok()) return ToPublic(status);
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

}  // namespace vela::client
