#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/service_thread.h"
#include "store/commit_log.h"
#include "store/consume_queue_table.h"
#include "store/message_id_index.h"
#include "store/message_store.h"

namespace vela::store {

// RetentionService deletes whole commit-log segments, oldest first, and guards the disk.
//
// A segment older than file_reserved_hours (by mtime) is deleted. Under pressure (the disk fuller
// than disk_max_used_space_ratio percent, as `df` counts it, or the log at store_size_limit) a
// younger segment is deleted only when the operator asked for it (clean_file_forcibly), and then
// every deletion is logged as an error; otherwise the pressure is logged and nothing is deleted.
// Past disk_space_warning_level_ratio percent, WritableStatus() refuses appends, so a full disk
// stops new messages instead of destroying stored ones. It never deletes the segment being
// written nor one the dispatcher has not finished; then it deletes consume-queue segments and id
// index files wholly below the new minimum. Readers holding a deleted segment keep it mapped.
//
// Owned by MessageStore; everything passed in must outlive it. RunOnce and CheckDisk are
// thread-safe with respect to appends and reads, but must not run concurrently with themselves;
// WritableStatus from any thread.
class RetentionService final : public ServiceThread {
 public:
  RetentionService(FileSystem& fs, const StoreOptions& options, CommitLog& log, ConsumeQueueTable& queues,
                   MessageIdIndex& ids, std::function<PhysicalOffset()> dispatched_offset);
  ~RetentionService() override;

  // One pass; returns the number of commit-log segments deleted.
  int RunOnce();
  // See MessageStore::AddRetentionFloor. REQUIRES: before traffic starts.
  void AddFloor(std::function<PhysicalOffset()> floor);
  // Measures the disk and updates WritableStatus (the thread does it every second).
  void CheckDisk();
  // OK while appends may go on; ResourceExhausted (SubCode::kNoSpace) while the disk is past
  // diskSpaceWarningLevelRatio. Cheap when OK.
  Status WritableStatus() const;

 protected:
  void Run() override;

 private:
  FileSystem& fs_;
  const StoreOptions& options_;
  CommitLog& log_;
  ConsumeQueueTable& queues_;
  MessageIdIndex& ids_;
  std::function<PhysicalOffset()> dispatched_offset_;
  std::vector<std::function<PhysicalOffset()>> floors_;  // set before traffic; read by the retention thread
  std::mutex floors_mu_;
  std::atomic<bool> disk_full_{false};
  mutable std::mutex full_mu_;
  std::string full_reason_;             // GUARDED_BY(full_mu_)
  int64_t last_pressure_log_ms_ = 0;
  int64_t last_floor_log_ms_ = 0;    // RunOnce's: the pressure warning is logged once a minute
};

}  // namespace vela::store
