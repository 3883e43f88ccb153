#include "broker/trace/trace_writer.h"

#include "broker/logger.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "common/message_record.h"

namespace vela::broker::trace {

TraceWriter::TraceWriter(store::MessageStore& store, TopicManager& topics, std::string broker_addr,
                         uint64_t store_host)
    : store_(store), topics_(topics), broker_addr_(std::move(broker_addr)), store_host_(store_host) {}

Status TraceWriter::EnsureTopic() {
  if (topic_ready_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(create_mu_);
  VELA_RETURN_IF_ERROR(topics_.EnsureSystemTopic(vela::trace::kTraceTopic, 6).status());
  topic_ready_.store(true, std::memory_order_release);
  return Status::OK();
}

void TraceWriter::AppendRecords(std::vector<std::string_view> records, uint64_t events,
                                std::function<void(Status)> done) {
  if (Status ready = EnsureTopic(); !ready.ok()) return done(ready);
  store::AppendRequest request;
  request.records = std::move(records);
  store_.Append(std::move(request), [this, events, done = std::move(done)](Result<store::AppendResult> result) {
    if (result.ok()) recorded_.fetch_add(events, std::memory_order_relaxed);
    done(result.status());
  });
}

bool TraceWriter::IsTraced(std::string_view properties) {
  std::string_view value;
  return FindProperty(properties, vela::trace::kTraceFlagProperty, &value) && value == "true";
}

void TraceWriter::CountFailure(const Status& status) {
  failed_.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = NowEpochMs();
  int64_t last = last_failure_log_ms_.load(std::memory_order_relaxed);
  if (now - last >= 10000 && last_failure_log_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    BrokerLogger()->warn("trace event not recorded ({} failed so far): {}", failed_.load(std::memory_order_relaxed),
                         status.ToString());
  }
}

void TraceWriter::Record(vela::trace::TraceEvent event) {
  if (event.broker.empty()) event.broker = broker_addr_;
  if (event.time_ms <= 0) event.time_ms = NowEpochMs();
  vela::trace::TraceRecordBuilder builder;
  if (Status why; builder.Add(event, &why) != vela::trace::TraceRecordBuilder::AddOutcome::kAdded) {
    return CountFailure(why);
  }
  if (Status ready = EnsureTopic(); !ready.ok()) return CountFailure(ready);
  std::string record;
  builder.Finish(NewMessageId(), store_host_, NowEpochMs(), &record);
  store::AppendRequest request;
  request.records.push_back(record);
  store_.Append(std::move(request), [this](Result<store::AppendResult> result) {
    if (result.ok()) {
      recorded_.fetch_add(1, std::memory_order_relaxed);
    } else {
      CountFailure(result.status());
    }
  });
}

}  // namespace vela::broker::trace
