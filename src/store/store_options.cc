#include <future>

#include <fmt/format.h>

#include "store/message_store.h"

namespace vela::store {

Result<StoreOptions> StoreOptions::FromConfig(const Config& config) {
  StoreOptions o;
  o.root_dir = config.GetString("storePathRootDir", o.root_dir);
  const std::string flush = config.GetString("flushDiskType", "SYNC_FLUSH");
  if (flush == "ASYNC_FLUSH") {
    o.flush_disk_type = FlushDiskType::kAsync;
  } else if (flush == "SYNC_FLUSH") {
    o.flush_disk_type = FlushDiskType::kSync;
  } else {
    return Status::InvalidArgument(fmt::format("flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH, not '{}'", flush));
  }
  auto get_bytes = [&](std::string_view key, int64_t* out, int64_t min) -> Status {
    auto v = config.GetBytes(key, *out);
    if (!v.ok()) return v.status();
    if (*v < min) return Status::InvalidArgument(fmt::format("{} must be at least {}, got {}", key, min, *v));
    *out = *v;
    return Status::OK();
  };
  auto get_int = [&](std::string_view key, int* out, int64_t min, int64_t max) -> Status {
    auto v = config.GetInt(key, *out);
    if (!v.ok()) return v.status();
    if (*v < min || *v > max) {
      return Status::InvalidArgument(fmt::format("{} must be in [{}, {}], got {}", key, min, max, *v));
    }
    *out = static_cast<int>(*v);
    return Status::OK();
  };
  VELA_RETURN_IF_ERROR(get_bytes("mappedFileSizeCommitLog", &o.commitlog_segment_size, 64 * 1024));
  VELA_RETURN_IF_ERROR(get_bytes("mappedFileSizeConsumeQueue", &o.consume_queue_segment_size, 20));
  VELA_RETURN_IF_ERROR(get_int("flushIntervalCommitLog", &o.flush_interval_ms, 1, 3600 * 1000));
  VELA_RETURN_IF_ERROR(get_int("flushCommitLogLeastPages", &o.flush_least_pages, 0, 1 << 20));
  VELA_RETURN_IF_ERROR(get_int("flushIntervalConsumeQueue", &o.checkpoint_interval_ms, 10, 3600 * 1000));
  VELA_RETURN_IF_ERROR(get_int("syncFlushTimeout", &o.sync_flush_timeout_ms, 1, 3600 * 1000));
  VELA_RETURN_IF_ERROR(get_int("fileReservedTime", &o.file_reserved_hours, 0, 24 * 365 * 10));
  VELA_RETURN_IF_ERROR(get_int("fileReservedTimeSeconds", &o.file_reserved_seconds, 0, 3600 * 24 * 365 * 10));
  VELA_RETURN_IF_ERROR(get_int("diskMaxUsedSpaceRatio", &o.disk_max_used_space_ratio, 1, 100));
  VELA_RETURN_IF_ERROR(get_int("diskSpaceWarningLevelRatio", &o.disk_space_warning_level_ratio, 1, 100));
  VELA_ASSIGN_OR_RETURN(o.clean_file_forcibly, config.GetBool("cleanFileForciblyEnable", o.clean_file_forcibly));
  VELA_RETURN_IF_ERROR(get_bytes("storeSizeLimit", &o.store_size_limit, 0));
  int slots = static_cast<int>(o.max_hash_slot_num);
  int entries = static_cast<int>(o.max_index_num);
  VELA_RETURN_IF_ERROR(get_int("maxHashSlotNum", &slots, 4, 1 << 28));
  VELA_RETURN_IF_ERROR(get_int("maxIndexNum", &entries, 1, 1 << 28));
  o.max_hash_slot_num = static_cast<uint32_t>(slots);
  o.max_index_num = static_cast<uint32_t>(entries);
  int64_t max_message = o.max_message_size;
  VELA_RETURN_IF_ERROR(get_bytes("maxMessageSize", &max_message, 1));
  if (max_message > (1LL << 30)) return Status::InvalidArgument("maxMessageSize must be at most 1g");
  o.max_message_size = static_cast<int32_t>(max_message);
  return o;
}

std::string_view GetOutcomeName(GetOutcome outcome) {
  switch (outcome) {
    case GetOutcome::kFound: return "FOUND";
    case GetOutcome::kNoMessageInQueue: return "NO_MESSAGE_IN_QUEUE";
    case GetOutcome::kNoMatchedMessage: return "NO_MATCHED_MESSAGE";
    case GetOutcome::kOffsetTooSmall: return "OFFSET_TOO_SMALL";
    case GetOutcome::kOffsetOverflowOne: return "OFFSET_OVERFLOW_ONE";
    case GetOutcome::kOffsetOverflowBadly: return "OFFSET_OVERFLOW_BADLY";
    case GetOutcome::kNoMatchedQueue: return "NO_MATCHED_QUEUE";
  }
  return "UNKNOWN";
}

Result<AppendResult> MessageStore::AppendAndWait(AppendRequest request) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  Append(std::move(request), [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace vela::store
