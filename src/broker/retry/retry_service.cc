#include "broker/retry/retry_service.h"

#include <algorithm>

#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/retry/retry_message.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/validation.h"

namespace vela::broker::retry {
namespace {

// State keys (docs/storage-format.md, "Dead letters").
constexpr std::string_view kFloorPrefix = "dlq/floor/";    // + group -> fixed64 queue offset
constexpr std::string_view kResentPrefix = "dlq/resent/";  // + group NUL be64 queue offset -> ""

// Dead letters read from the queue per step, and resent per append.
constexpr int32_t kReadBatch = 256;
constexpr int32_t kDefaultPage = 32;
constexpr int32_t kMaxPage = 256;
constexpr int64_t kMaxPageBytes = 4 * 1024 * 1024;

std::string FloorKey(std::string_view group) { return std::string(kFloorPrefix).append(group); }
std::string ResentPrefixOf(std::string_view group) {
  std::string k(kResentPrefix);
  k.append(group);
  k.push_back('\0');
  return k;
}
std::string ResentKey(std::string_view group, int64_t queue_offset) {
  std::string k = ResentPrefixOf(group);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(queue_offset));
  return k;
}

// Calls fn(view) for each intact record of (topic, 0) from *offset to the queue's end (or until fn
// returns false), moving *offset past what it handed over. Damaged records are skipped (the store
// reports them).
template <typename Fn>
void WalkQueue(store::MessageStore& store, const std::string& topic, int64_t* offset, Fn&& fn) {
  for (;;) {
    store::GetResult got =
        store.GetMessages(topic, 0, store::QueueOffset(*offset), kReadBatch, kMaxPageBytes, nullptr);
    if (got.outcome == store::GetOutcome::kOffsetTooSmall) {
      *offset = got.min_offset.value();
      continue;
    }
    if (got.outcome != store::GetOutcome::kFound) return;
    if (got.records.empty() && got.next_begin_offset.value() <= *offset) return;  // nothing to move past
    for (std::string_view raw : got.records) {
      RecordView view;
      if (DecodeRecord(raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) continue;
      if (!fn(view)) {
        *offset = view.queue_offset;
        return;
      }
      *offset = view.queue_offset + 1;
    }
    *offset = std::max(*offset, got.next_begin_offset.value());
  }
}

}  // namespace

RetryService::RetryService(store::MessageStore& store, TopicManager& topics, timer::TimerService& timers,
                           NamesrvRegistrar* registrar, metrics::BrokerMetrics* metrics)
    : store_(store), topics_(topics), timers_(timers), registrar_(registrar), metrics_(metrics) {}

Status RetryService::EnsureTopic(const std::string& topic) {
  if (topics_.GetTopic(topic)) return Status::OK();
  std::lock_guard lock(create_mu_);
  VELA_ASSIGN_OR_RETURN(bool created, topics_.EnsureSystemTopic(topic, 6));
  if (created && registrar_ != nullptr) registrar_->Trigger();
  return Status::OK();
}

Status RetryService::EnsureRetryTopic(std::string_view group) {
  VELA_RETURN_IF_ERROR(CheckGroupForRetry(group));
  return EnsureTopic(RetryTopicOf(group));
}

Status RetryService::EnsureDlqTopic(std::string_view group) {
  VELA_RETURN_IF_ERROR(CheckGroupForRetry(group));
  return EnsureTopic(DlqTopicOf(group));
}

void RetryService::SendBack(const v1::SendBackRequest& req, SendBackCallback done) {
  const std::string& group = req.group();
  if (Status s = CheckGroupForRetry(group); !s.ok()) return done(s);
  if (req.msg_id().empty()) return done(Status::InvalidArgument("send-back names no message id (msg_id)"));
  if (req.physical_offset() < 0) {
    return done(Status::InvalidArgument(fmt::format("physical_offset {} is negative", req.physical_offset())));
  }
  auto raw = store_.ReadRecordAt(store::PhysicalOffset(req.physical_offset()));
  if (!raw.ok()) {
    if (raw.status().code() == StatusCode::kNotFound) {
      return done(Status::NotFound(fmt::format("no message starts at commit-log offset {} on this broker",
                                               req.physical_offset())));
    }
    return done(raw.status().WithContext(fmt::format("reading commit-log offset {}", req.physical_offset())));
  }
  RecordView original;
  std::string reason;
  if (DecodeRecord(*raw, /*verify_crc=*/true, &original, &reason) != DecodeOutcome::kRecord) {
    return done(Status::Corruption(
        fmt::format("the record at commit-log offset {} is damaged: {}", req.physical_offset(), reason)));
  }
  if (original.msg_id != req.msg_id()) {
    return done(Status::NotFound(fmt::format("the message at commit-log offset {} has id {}, not {}",
                                             req.physical_offset(), original.msg_id, req.msg_id())));
  }
  const std::string retry_topic = RetryTopicOf(group);
  // A consumer sends back what it consumed: a message of a user topic, or of its own retry topic.
  // Never the broker's own records (a half message, a timer record, another group's retry).
  if (IsReservedTopicName(original.topic) && original.topic != retry_topic) {
    return done(Status::PermissionDenied(
        fmt::format("the message at commit-log offset {} is in system topic {}: group {} can send back only messages "
                    "of user topics and of {}",
                    req.physical_offset(), original.topic, group, retry_topic)));
  }
  const auto config = topics_.GetGroup(group);
  const int32_t group_max = config ? config->max_retries : kDefaultMaxReconsumeTimes;
  const auto& levels = timers_.options().delay_level_ms;
  auto decision = DecideSendBack(original.reconsume_times, req.delay_level(), req.max_reconsume_times(), group_max,
                                 levels.size());
  if (!decision.ok()) return done(decision.status());

  v1::SendBackResponse response;
  response.set_dead_lettered(decision->dead_letter);
  response.set_reconsume_times(static_cast<int32_t>(decision->reconsume_times));
  std::string record;
  if (decision->dead_letter) {
    if (Status s = EnsureDlqTopic(group); !s.ok()) return done(s.WithContext("creating the dead-letter topic"));
    record = EncodeSendBackCopy(original, DlqTopicOf(group), decision->reconsume_times);
  } else {
    if (Status s = EnsureRetryTopic(group); !s.ok()) return done(s.WithContext("creating the retry topic"));
    if (Status s = timers_.EnsureTimerTopic(); !s.ok()) return done(s.WithContext("creating the timer topic"));
    const std::string copy = EncodeSendBackCopy(original, retry_topic, decision->reconsume_times);
    RecordView copy_view;
    (void)DecodeRecord(copy, /*verify_crc=*/false, &copy_view);  // just encoded
    const int64_t due = NowEpochMs() + levels[static_cast<size_t>(decision->delay_level - 1)];
    record = timer::EncodeTimerRecord(copy_view, /*real_queue=*/0, due);
    response.set_deliver_at_ms(due);
    response.set_delay_level(decision->delay_level);
  }
  store::AppendRequest append;
  append.records.push_back(record);
  store_.Append(std::move(append), [this, group, response = std::move(response), done = std::move(done)](
                                       Result<store::AppendResult> result) mutable {
    if (!result.ok()) {
      if (result.status().IsNoSpace()) BrokerLogger()->warn("send-back refused: {}", result.status().ToString());
      done(result.status());
      return;
    }
    if (metrics_ != nullptr) {
      metrics_->send_backs.WithLabels({group}).Increment();
      if (response.dead_lettered()) metrics_->dead_letters.WithLabels({group}).Increment();
    }
    done(std::move(response));
  });
}

int64_t RetryService::ResendFloor(std::string_view group) {
  auto v = store_.meta().GetState(FloorKey(group));
  return v && v->size() == 8 ? static_cast<int64_t>(coding::GetFixed64(v->data())) : 0;
}

bool RetryService::ResentMarked(std::string_view group, int64_t queue_offset) {
  return store_.meta().GetState(ResentKey(group, queue_offset)).has_value();
}

Result<DeadLetterPage> RetryService::ListDeadLetters(std::string_view group, int64_t start_offset,
                                                     int32_t max_messages) {
  VELA_RETURN_IF_ERROR(CheckGroupForRetry(group));
  if (start_offset < 0) return Status::InvalidArgument(fmt::format("start_offset {} is negative", start_offset));
  if (max_messages < 0) return Status::InvalidArgument(fmt::format("max_messages {} is negative", max_messages));
  const std::string dlq = DlqTopicOf(group);
  if (!topics_.GetTopic(dlq)) {
    return Status::NotFound(fmt::format("group {} has no dead letters on this broker (no topic {})", group, dlq),
                            SubCode::kTopicNotFound);
  }
  const int32_t limit = max_messages == 0 ? kDefaultPage : std::min(max_messages, kMaxPage);
  DeadLetterPage page;
  int64_t offset = std::max(start_offset, ResendFloor(group));
  WalkQueue(store_, dlq, &offset, [&](const RecordView& view) {
    if (page.count >= static_cast<uint32_t>(limit) ||
        static_cast<int64_t>(page.records.size() + view.raw.size()) > kMaxPageBytes) {
      return false;
    }
    if (!ResentMarked(group, view.queue_offset)) {
      page.records.append(view.raw);
      ++page.count;
    }
    return true;
  });
  page.next_offset = offset;
  page.more = offset < store_.MaxQueueOffset(dlq, 0).value();
  return page;
}

Result<ResendResult> RetryService::Resend(std::string_view group, std::string_view msg_id, bool all) {
  VELA_RETURN_IF_ERROR(CheckGroupForRetry(group));
  if (!all && msg_id.empty()) return Status::InvalidArgument("resend needs a message id or all");
  if (all && !msg_id.empty()) return Status::InvalidArgument("resend takes a message id or all, not both");
  const std::string dlq = DlqTopicOf(group);
  if (!topics_.GetTopic(dlq)) {
    return Status::NotFound(fmt::format("group {} has no dead letters on this broker (no topic {})", group, dlq),
                            SubCode::kTopicNotFound);
  }
  VELA_RETURN_IF_ERROR(EnsureRetryTopic(group));
  const std::string retry_topic = RetryTopicOf(group);
  std::lock_guard lock(resend_mu_);
  ResendResult result;
  int64_t offset = ResendFloor(group);
  const int64_t end = store_.MaxQueueOffset(dlq, 0).value();
  Status failed;
  // Copies waiting to be appended, with the queue offsets of their dead letters.
  std::vector<std::string> copies;
  std::vector<int64_t> offsets;
  auto flush = [&]() -> Status {
    if (copies.empty()) return Status::OK();
    store::AppendRequest append;
    for (const auto& c : copies) append.records.push_back(c);
    VELA_RETURN_IF_ERROR(store_.AppendAndWait(std::move(append)).status());
    store::MetaStore::StateBatch batch;
    if (all) {
      // Everything below the next offset is resent now (or was before).
      std::string floor;
      coding::AppendFixed64(&floor, static_cast<uint64_t>(offsets.back() + 1));
      batch.puts.emplace_back(FloorKey(group), std::move(floor));
    } else {
      for (int64_t o : offsets) batch.puts.emplace_back(ResentKey(group, o), "");
    }
    VELA_RETURN_IF_ERROR(store_.meta().WriteState(batch));
    if (metrics_ != nullptr) metrics_->dead_letters_resent.WithLabels({group}).Increment(static_cast<double>(copies.size()));
    copies.clear();
    offsets.clear();
    return Status::OK();
  };
  WalkQueue(store_, dlq, &offset, [&](const RecordView& view) {
    if (view.queue_offset >= end) return false;  // what arrives from now on waits for the next resend
    if (!all && view.msg_id != msg_id) return true;
    if (ResentMarked(group, view.queue_offset)) return true;
    copies.push_back(EncodeResentRecord(view, retry_topic));
    offsets.push_back(view.queue_offset);
    ++result.resent;
    if (result.msg_ids.size() < ResendResult::kMaxListedIds) result.msg_ids.emplace_back(view.msg_id);
    if (copies.size() >= static_cast<size_t>(kReadBatch)) {
      failed = flush();
      if (!failed.ok()) return false;
    }
    return true;
  });
  if (failed.ok()) failed = flush();
  if (!failed.ok()) {
    return failed.WithContext(fmt::format("resending dead letters of group {} ({} resent before the failure)", group,
                                          result.resent - static_cast<int32_t>(copies.size())));
  }
  if (all) {
    // Every dead letter below `end` is resent now (or was before, and marked): the floor moves
    // there, and the marks below it are no longer needed.
    const int64_t floor = end;
    store::MetaStore::StateBatch cleanup;
    std::string floor_value;
    coding::AppendFixed64(&floor_value, static_cast<uint64_t>(floor));
    cleanup.puts.emplace_back(FloorKey(group), std::move(floor_value));
    const std::string prefix = ResentPrefixOf(group);
    store_.meta().ScanState(prefix, [&](std::string_view k, std::string_view) {
      if (k.size() != prefix.size() + 8) return true;
      if (static_cast<int64_t>(coding::GetBigEndian64(k.data() + prefix.size())) >= floor) return false;
      cleanup.deletes.emplace_back(k);
      return true;
    });
    if (Status s = store_.meta().WriteState(cleanup); !s.ok()) {
      BrokerLogger()->warn("dead letters of group {}: resend floor not saved: {}", group, s.ToString());
    }
  }
  if (!all && result.resent == 0) {
    return Status::NotFound(
        fmt::format("group {} has no dead letter with id {} left to resend on this broker", group, msg_id));
  }
  BrokerLogger()->info("resent {} dead letters of group {} into {}", result.resent, group, retry_topic);
  return result;
}

}  // namespace vela::broker::retry
