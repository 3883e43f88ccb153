#include "store/retention_service.h"

#include <algorithm>

#include "common/clock.h"
#include "store/logger.h"

namespace vela::store {

namespace {
constexpr int64_t kPressureLogIntervalMs = 60 * 1000;
constexpr auto kDiskCheckInterval = std::chrono::milliseconds(1000);
}  // namespace

RetentionService::RetentionService(FileSystem& fs, const StoreOptions& options, CommitLog& log,
                                   ConsumeQueueTable& queues, MessageIdIndex& ids,
                                   std::function<PhysicalOffset()> dispatched_offset)
    : ServiceThread("vela-retention"),
      fs_(fs),
      options_(options),
      log_(log),
      queues_(queues),
      ids_(ids),
      dispatched_offset_(std::move(dispatched_offset)) {}

RetentionService::~RetentionService() { Stop(); }

void RetentionService::CheckDisk() {
  auto usage = fs_.GetDiskUsage(options_.root_dir);
  if (!usage.ok()) return;
  const double used = usage->UsedPercent();
  const bool full = used >= options_.disk_space_warning_level_ratio;
  const bool was_full = disk_full_.load(std::memory_order_relaxed);
  if (full) {
    std::lock_guard lock(full_mu_);
    full_reason_ = fmt::format(
        "disk full: {} is {:.1f}% used, past diskSpaceWarningLevelRatio {}%; sends are refused until space is freed",
        options_.root_dir, used, options_.disk_space_warning_level_ratio);
  }
  disk_full_.store(full, std::memory_order_release);
  if (full && !was_full) {
    Log().error("store {}: disk {:.1f}% used (available {} bytes), past diskSpaceWarningLevelRatio {}%: refusing "
                "sends",
                options_.root_dir, used, usage->available_bytes, options_.disk_space_warning_level_ratio);
  } else if (!full && was_full) {
    Log().warn("store {}: disk {:.1f}% used, below diskSpaceWarningLevelRatio {}% again: accepting sends",
               options_.root_dir, used, options_.disk_space_warning_level_ratio);
  }
}

Status RetentionService::WritableStatus() const {
  if (!disk_full_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(full_mu_);
  return Status::ResourceExhausted(full_reason_, SubCode::kNoSpace);
}

void RetentionService::AddFloor(std::function<PhysicalOffset()> floor) {
  std::lock_guard lock(floors_mu_);
  floors_.push_back(std::move(floor));
}

int RetentionService::RunOnce() {
  PhysicalOffset floor(INT64_MAX);
  {
    std::lock_guard lock(floors_mu_);
    for (const auto& f : floors_) floor = std::min(floor, f());
  }
  int deleted = 0;
  constexpr int kMaxPerPass = 64;
  while (deleted < kMaxPerPass) {
    auto segs = log_.Segments();
    if (segs.size() <= 1) break;
    const auto& oldest = segs.front();
    if (oldest->end() > dispatched_offset_().value()) break;
    if (oldest->end() > floor.value()) {
      if (NowEpochMs() - last_floor_log_ms_ >= kPressureLogIntervalMs) {
        last_floor_log_ms_ = NowEpochMs();
        Log().info("retention: keeping commit-log segment {}: a broker service (pending timers) still needs offset {}",
                   oldest->path(), floor);
      }
      break;
    }
    const int64_t reserved_ms = options_.file_reserved_ms();
    auto mtime = fs_.ModifiedTimeMs(oldest->path());
    std::string pressure;
    if (options_.store_size_limit > 0 &&
        static_cast<int64_t>(segs.size()) * log_.segment_size() >= options_.store_size_limit) {
      pressure = fmt::format("the log reached storeSizeLimit {}", options_.store_size_limit);
    } else if (auto usage = fs_.GetDiskUsage(options_.root_dir);
               usage.ok() && usage->UsedPercent() > options_.disk_max_used_space_ratio) {
      pressure = fmt::format("the disk is {:.1f}% used, above diskMaxUsedSpaceRatio {}%", usage->UsedPercent(),
                             options_.disk_max_used_space_ratio);
    }
    if (mtime.ok() && NowEpochMs() - *mtime > reserved_ms) {
      Log().info("retention: deleting the oldest commit-log segment: older than fileReservedTime {} s",
                 options_.file_reserved_ms() / 1000);
    } else if (!pressure.empty() && options_.clean_file_forcibly) {
      Log().error("retention: {}; cleanFileForciblyEnable is on: deleting commit-log segment {} although it is "
                  "younger than fileReservedTime {} s (its messages are gone, consumed or not)",
                  pressure, oldest->path(), options_.file_reserved_ms() / 1000);
    } else {
      if (!pressure.empty() && NowEpochMs() - last_pressure_log_ms_ >= kPressureLogIntervalMs) {
        last_pressure_log_ms_ = NowEpochMs();
        Log().warn("retention: {}, but no commit-log segment is older than fileReservedTime {} s: nothing deleted "
                   "(cleanFileForciblyEnable is off); sends stop at diskSpaceWarningLevelRatio {}%",
                   pressure, options_.file_reserved_ms() / 1000, options_.disk_space_warning_level_ratio);
      }
      break;
    }
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
  // A pass at least every half retention, so a segment outlives its retention by at most that.
  const auto interval = std::chrono::milliseconds(
      std::max<int64_t>(1, std::min<int64_t>(options_.retention_interval_ms, options_.file_reserved_ms() / 2)));
  auto next_pass = std::chrono::steady_clock::now() + interval;
  while (!stopped()) {
    WaitForRunning(std::min<std::chrono::milliseconds>(kDiskCheckInterval, interval));
    if (stopped()) break;
    CheckDisk();
    if (std::chrono::steady_clock::now() >= next_pass) {
      RunOnce();
      next_pass = std::chrono::steady_clock::now() + interval;
    }
  }
}

}  // namespace vela::store
