#include "store/retention_service.h"

#include "common/clock.h"
#include "store/logger.h"

namespace vela::store {

RetentionService::RetentionService(FileSystem& fs, const StoreOptions& options, CommitLog& log,
                                   ConsumeQueueTable& queues, MessageIdIndex& ids,
                                   std::function<int64_t()> dispatched_offset)
    : ServiceThread("vela-retention"),
      fs_(fs),
      options_(options),
      log_(log),
      queues_(queues),
      ids_(ids),
      dispatched_offset_(std::move(dispatched_offset)) {}

RetentionService::~RetentionService() { Stop(); }

int RetentionService::RunOnce() {
  int deleted = 0;
  constexpr int kMaxPerPass = 64;
  while (deleted < kMaxPerPass) {
    std::string reason;
    {
      auto segs = log_.Segments();
      if (segs.size() <= 1) break;
      const auto& oldest = segs.front();
      if (oldest->end() > dispatched_offset_()) break;
      const int64_t reserved_ms = static_cast<int64_t>(options_.file_reserved_hours) * 3600 * 1000;
      auto mtime = fs_.ModifiedTimeMs(oldest->path());
      if (mtime.ok() && NowEpochMs() - *mtime > reserved_ms) {
        reason = fmt::format("older than fileReservedTime {} h", options_.file_reserved_hours);
      } else if (options_.store_size_limit > 0 &&
                 static_cast<int64_t>(segs.size()) * log_.segment_size() >= options_.store_size_limit) {
        reason = fmt::format("the log reached storeSizeLimit {}", options_.store_size_limit);
      } else if (auto usage = fs_.GetDiskUsage(options_.root_dir);
                 usage.ok() && usage->capacity_bytes > 0 &&
                 100.0 * static_cast<double>(usage->capacity_bytes - usage->available_bytes) /
                         static_cast<double>(usage->capacity_bytes) >
                     options_.disk_max_used_space_ratio) {
        reason = fmt::format("disk use above diskMaxUsedSpaceRatio {}%", options_.disk_max_used_space_ratio);
      }
      if (reason.empty()) break;
    }
    Log().info("retention: deleting the oldest commit-log segment: {}", reason);
    Status st = log_.DeleteOldestSegment();
    if (!st.ok()) {
      Log().warn("retention: {}", st.ToString());
      break;
    }
    ++deleted;
  }
  if (deleted > 0) {
    Status st = queues_.DeleteBelow(log_.min_offset());
    if (!st.ok()) Log().warn("retention: consume queues: {}", st.ToString());
    st = ids_.DeleteBelow(log_.min_offset());
    if (!st.ok()) Log().warn("retention: message id index: {}", st.ToString());
  }
  return deleted;
}

void RetentionService::Run() {
  while (!stopped()) {
    WaitForRunning(std::chrono::milliseconds(options_.retention_interval_ms));
    if (stopped()) break;
    RunOnce();
  }
}

}  // namespace vela::store
