#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "store/checkpoint.h"
#include "store/commit_log.h"
#include "store/consume_queue_table.h"
#include "store/message_id_index.h"
#include "store/dir_lock.h"
#include "store/dispatcher.h"
#include "store/file_system.h"
#include "store/flush_service.h"
#include "store/message_store.h"
#include "store/retention_service.h"
#include "store/rocks_meta_store.h"

namespace vela::store {

// DefaultMessageStore is the MessageStore implementation (the composition root of src/store): it
// owns the directory lock, the commit log with its segment allocator, the flush service, the
// consume-queue table, the dispatcher, the checkpoint and retention services and the RocksDB
// metadata. Created by MessageStore::Open. Thread-safe (see MessageStore).
//
// Service start order: allocator, flush, dispatcher, checkpoint, retention; stopped in reverse.
class DefaultMessageStore final : public MessageStore {
 public:
  static Result<std::unique_ptr<DefaultMessageStore>> OpenImpl(StoreOptions options);
  ~DefaultMessageStore() override;

  void Shutdown() override;
  void Append(AppendRequest request, AppendCallback on_done) override;
  GetResult GetMessages(std::string_view topic, uint32_t queue_id, QueueOffset queue_offset, int32_t max_count,
                        int64_t max_bytes, const MessageFilter* filter, bool may_copy = true) override;
  Result<std::string> ReadRecordAt(PhysicalOffset physical_offset) override;
  Result<std::string> LookupByMessageId(std::string_view msg_id) override;
  std::vector<std::string> QueryByKey(std::string_view topic, std::string_view key, int max_results) override;
  QueueOffset MinQueueOffset(std::string_view topic, uint32_t queue_id) override;
  QueueOffset MaxQueueOffset(std::string_view topic, uint32_t queue_id) override;
  QueueOffset QueueOffsetForTimestamp(std::string_view topic, uint32_t queue_id, int64_t timestamp_ms) override;
  int64_t LastStoreTimestamp(std::string_view topic, uint32_t queue_id) override;
  void DeleteTopicQueues(std::string_view topic) override;
  void AddDispatchListener(DispatchListener* listener) override;
  void AddRetentionFloor(std::function<PhysicalOffset()> floor) override;
  MetaStore& meta() override { return *meta_; }
  StoreStats stats() const override;
  const StoreOptions& options() const override { return options_; }

  // --- Test and tool hooks (not part of MessageStore) ---
  // Stops every service without flushing, checkpointing or removing the abort marker, and
  // releases the lock: the directory is left as a killed process would leave it (the page cache
  // aside). Pending SYNC_FLUSH waiters fail with Aborted. The store is unusable afterwards.
  void CrashForTesting();
  // Runs one retention pass now; returns the number of segments deleted.
  int RunRetentionForTesting() { return retention_->RunOnce(); }
  // Blocks until the dispatcher has caught up with every record appended so far.
  void WaitForDispatch();
  // What recovery found at open (zeros after a clean start).
  const CommitLog::RecoveryReport& recovery_report() const { return recovery_; }
  Status WriteCheckpoint();

 private:
  explicit DefaultMessageStore(StoreOptions options);
  // Caps the consume-queue and id-index file sizes by the commit-log segment size (logged).
  static void FitIndexFilesToSegments(StoreOptions& options);
  Status OpenSteps();
  void StopServices();
  int64_t StoreTimestampAt(PhysicalOffset physical_offset);
  // Counts and logs a damaged record a read found, once per record.
  void ReportCorrupt(std::string_view topic, uint32_t queue_id, QueueOffset queue_offset,
                     PhysicalOffset physical_offset, const std::string& why);
  // After recovery: no queue hands out an offset that a consumer group already committed past
  // (a lost tail record must not make a group skip the next message).
  void RaiseQueueCountersToCommittedOffsets();

  StoreOptions options_;
  std::shared_ptr<FileSystem> fs_;
  std::string root_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<RocksMetaStore> meta_;
  std::unique_ptr<CommitLog> log_;
  std::unique_ptr<ConsumeQueueTable> queues_;
  std::unique_ptr<MessageIdIndex> ids_;
  std::unique_ptr<FlushService> flush_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<CheckpointService> checkpoint_;
  std::unique_ptr<RetentionService> retention_;
  CommitLog::RecoveryReport recovery_;
  std::mutex shutdown_mu_;
  std::mutex checkpoint_mu_;
  std::atomic<bool> closed_{false};
  bool shut_down_ = false;  // GUARDED_BY(shutdown_mu_)
  std::mutex corrupt_mu_;
  std::unordered_set<PhysicalOffset> reported_corrupt_;  // GUARDED_BY(corrupt_mu_): physical offsets
  std::atomic<int64_t> corrupt_records_{0};
  // Bytes of records GetMessages copied that results still hold (their pins give them back).
  std::shared_ptr<std::atomic<int64_t>> copied_total_ = std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace vela::store
