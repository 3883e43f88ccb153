#pragma once

#include <cstdint>
#include <functional>

#include "common/service_thread.h"
#include "store/commit_log.h"
#include "store/consume_queue_table.h"
#include "store/message_id_index.h"
#include "store/message_store.h"

namespace vela::store {

// RetentionService deletes whole commit-log segments, oldest first, while the oldest is older
// than file_reserved_hours (by mtime), or the disk is fuller than disk_max_used_space_ratio
// percent, or the log's segments reach store_size_limit. It never deletes the segment being
// written nor one the dispatcher has not finished. Then it deletes consume-queue segments wholly
// below the new minimum. Readers holding a deleted segment keep it mapped until they let go.
//
// Owned by MessageStore; everything passed in must outlive it. RunOnce is thread-safe with
// respect to appends and reads, but must not run concurrently with itself.
class RetentionService final : public ServiceThread {
 public:
  RetentionService(FileSystem& fs, const StoreOptions& options, CommitLog& log, ConsumeQueueTable& queues,
                   MessageIdIndex& ids, std::function<int64_t()> dispatched_offset);
  ~RetentionService() override;

  // One pass; returns the number of commit-log segments deleted.
  int RunOnce();

 protected:
  void Run() override;

 private:
  FileSystem& fs_;
  const StoreOptions& options_;
  CommitLog& log_;
  ConsumeQueueTable& queues_;
  MessageIdIndex& ids_;
  std::function<int64_t()> dispatched_offset_;
};

}  // namespace vela::store
