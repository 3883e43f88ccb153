#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/message_record.h"
#include "common/result.h"
#include "store/offsets.h"

// The public surface of the store (DESIGN.md §6): what the broker calls. Everything else in
// src/store is an implementation detail behind MessageStore.
namespace vela::store {

class FileSystem;  // file_system.h: the I/O seam that fault-injection tests replace
class MetaStore;   // meta_store.h: RocksDB-backed topics, groups, offsets, key index, service state

enum class FlushDiskType { kAsync, kSync };

// Settings, with RocketMQ's key names where the meaning matches (documented in conf/broker.conf).
struct StoreOptions {
  std::string root_dir;                                        // storePathRootDir
  FlushDiskType flush_disk_type = FlushDiskType::kSync;        // flushDiskType
  int64_t commitlog_segment_size = 1LL << 30;                  // mappedFileSizeCommitLog
  int64_t consume_queue_segment_size = 300000 * 20;            // mappedFileSizeConsumeQueue
  int flush_interval_ms = 500;                                 // flushIntervalCommitLog
  int flush_least_pages = 4;                                   // flushCommitLogLeastPages
  int sync_flush_timeout_ms = 5000;                            // syncFlushTimeout
  int file_reserved_hours = 72;                                // fileReservedTime
  int file_reserved_seconds = 0;                               // fileReservedTimeSeconds: > 0 replaces hours (tests)
  int disk_max_used_space_ratio = 75;                          // diskMaxUsedSpaceRatio (percent)
  int disk_space_warning_level_ratio = 90;                     // diskSpaceWarningLevelRatio (percent)
  bool clean_file_forcibly = false;                            // cleanFileForciblyEnable
  int64_t store_size_limit = 0;                                // storeSizeLimit: commit-log bytes; 0 = none
  int32_t max_message_size = 4 * 1024 * 1024;                  // maxMessageSize (one record's body)
  uint64_t store_host = 0;                                     // packed broker address (PackHost)
  int key_index_max_per_key = 64;                              // newest entries kept per (topic, key)
  uint32_t max_hash_slot_num = 5'000'000;                      // maxHashSlotNum: id index slots per file
  uint32_t max_index_num = 20'000'000;                         // maxIndexNum: id index entries per file
  std::shared_ptr<FileSystem> fs;                              // null: the real file system
  // Added by the store implementation (not RocketMQ settings; FromConfig leaves them alone):
  int retention_interval_ms = 10000;                           // how often retention runs
  int checkpoint_interval_ms = 1000;                           // how often the checkpoint is written
  // Topics whose KEYS are indexed in the message id index (a hash entry per key, written on the
  // append path: constant time, deleted with the log by retention) instead of the RocksDB key
  // index (a sorted entry per key, trimmed to key_index_max_per_key): for system topics written
  // at message rates with a distinct key per message (RMQ_SYS_TRACE_TOPIC). QueryByKey serves
  // both the same way.
  std::vector<std::string> hash_keyed_topics;
  // The most bytes of records that results of GetMessages may hold as copies at once (pulls copy
  // records out of the log; past this they view the mapped log instead). Not a broker setting.
  int64_t max_read_copy_bytes = 128 << 20;
  // Set by the broker (not a setting): called on the flush thread after each successful
  // commit-log flush with how long it took, in microseconds (flush latency metrics). Must be cheap.
  std::function<void(int64_t micros)> flush_observer;

  // How long a segment is kept: fileReservedTimeSeconds when set, else fileReservedTime hours.
  int64_t file_reserved_ms() const {
    return file_reserved_seconds > 0 ? int64_t{file_reserved_seconds} * 1000
                                     : int64_t{file_reserved_hours} * 3600 * 1000;
  }

  // Reads the settings above from `config`; unknown keys are ignored, malformed values refused.
  static Result<StoreOptions> FromConfig(const Config& config);
};

// One append: pre-encoded records (common/message_record.h). The store reads topic and queue id
// from each record and stamps queue offset, physical offset, store time and store host. Records
// for the same queue in one request get consecutive queue offsets, with nothing between them.
struct AppendRequest {
  std::vector<std::string_view> records;  // must stay valid until Append() returns; the store copies
};

// Where one appended record landed.
struct AppendedRecord {
  uint32_t queue_id = 0;
  QueueOffset queue_offset;
  PhysicalOffset physical_offset;
  uint32_t size = 0;
  int64_t store_timestamp_ms = 0;
};
// The outcome of one Append: every record's place, in request order.
struct AppendResult {
  std::vector<AppendedRecord> records;
  PhysicalOffset end_offset;  // just past the last record
};
// Called once per Append: at once under ASYNC_FLUSH (on the caller's thread), under SYNC_FLUSH on
// the flush thread when the bytes are durable, or with DeadlineExceeded after syncFlushTimeout.
// Must be cheap: post elsewhere, never block.
using AppendCallback = std::function<void(Result<AppendResult>)>;

// What a pull found (RocketMQ's GetMessageStatus). Outcomes, not errors.
enum class GetOutcome {
  kFound,
  kNoMessageInQueue,     // the queue is empty
  kNoMatchedMessage,     // entries were read but the filter matched none; resume at next_begin_offset
  kOffsetTooSmall,       // below the retained minimum ("offset moved"); resume at min_offset
  kOffsetOverflowOne,    // offset == max: nothing new yet (the long-poll case)
  kOffsetOverflowBadly,  // offset > max
  kNoMatchedQueue,       // no such topic or queue
};
std::string_view GetOutcomeName(GetOutcome outcome);

// Filter applied while reading a queue: first the tag hash in the queue entry (no record read),
// then the whole record. Implemented by the broker over src/filter. Must be thread-safe.
class MessageFilter {
 public:
  virtual ~MessageFilter() = default;
  virtual bool MatchesTagHash(int64_t tag_hash) const = 0;
  virtual bool MatchesRecord(const RecordView& record) const = 0;
};

// What GetMessages found, with the pins that keep its views valid.
struct GetResult {
  GetOutcome outcome = GetOutcome::kNoMatchedQueue;
  QueueOffset next_begin_offset;
  QueueOffset min_offset;
  QueueOffset max_offset;
  // Whole stored records, viewing copies of the log (or, after a read error, the mapped
  // segments): valid while `pins` are held.
  std::vector<std::string_view> records;
  std::shared_ptr<const void> pins;  // keeps the copies, and the segments mapped (retention waits for it)
  int64_t total_bytes = 0;
  // Queue offsets in [queue_offset, next_begin_offset) whose record is damaged (its CRC fails, or
  // nothing intact is left of it): skipped, never served, reported so the consumer knows.
  std::vector<QueueOffset> corrupt_offsets;
};

// A record whose queue entry was just written, handed to DispatchListeners.
struct DispatchedRecord {
  std::string_view topic;
  uint32_t queue_id = 0;
  QueueOffset queue_offset;
  PhysicalOffset physical_offset;
  uint32_t size = 0;
  int64_t tag_hash = 0;
  int64_t store_timestamp_ms = 0;
  uint32_t flags = 0;
  const RecordView* record = nullptr;  // the decoded record, valid during the call only
};

// Told of each record after its queue entry is visible to GetMessages, on the thread that appended
// it (or the dispatcher thread, when it caught up after a failure). Records of one append come in
// commit-log order; several threads may call at once. Runs on the send path: keep it short, and
// never call back into Append.
class DispatchListener {
 public:
  virtual ~DispatchListener() = default;
  virtual void OnDispatch(const DispatchedRecord& record) = 0;
};

// Figures for BROKER_STATUS and tests: offsets and counters at one moment.
struct StoreStats {
  PhysicalOffset min_physical_offset;
  PhysicalOffset max_physical_offset;  // written
  PhysicalOffset flushed_offset;
  PhysicalOffset dispatched_offset;
  int64_t appended_records = 0;
  int64_t appended_bytes = 0;
  int64_t disk_full_rejections = 0;
  int64_t recovered_truncated_bytes = 0;
  int64_t recovered_damaged_ranges = 0;  // damage in the middle found by the last recovery, kept
  int64_t corrupt_records = 0;           // damaged records found by reads and dispatch walks
  bool dispatch_healthy = true;          // false while queue entries cannot be written
  bool disk_writable = true;             // false while the disk is past diskSpaceWarningLevelRatio
  int64_t commitlog_segments = 0;
  int64_t read_copy_bytes = 0;           // bytes of copied records that results of GetMessages hold
};

// MessageStore owns a broker's store directory: commit log, consume queues, dispatcher, flush
// service, retention, RocksDB metadata, checkpoint and the directory lock. Opened once per broker
// process; thread-safe: any thread may append and read concurrently.
class MessageStore {
 public:
  // Locks the directory (a second opener fails with FailedPrecondition naming the holder),
  // recovers after a crash (abort marker present): verifies CRCs from the checkpoint, truncates at
  // the first bad record and logs what was dropped, rebuilds queues and indexes; then starts the
  // background services.
  static Result<std::unique_ptr<MessageStore>> Open(StoreOptions options);
  virtual ~MessageStore() = default;

  // Flushes, writes the checkpoint, removes the abort marker, stops services, unlocks. Idempotent.
  virtual void Shutdown() = 0;

  // Appends the records. Validation failures (bad record, size over maxMessageSize, unknown
  // layout) and "disk full" (ResourceExhausted, SubCode::kNoSpace) are reported through on_done.
  // Never blocks on disk I/O.
  virtual void Append(AppendRequest request, AppendCallback on_done) = 0;
  // Append that waits for the callback: for tools and tests, never on an io thread.
  Result<AppendResult> AppendAndWait(AppendRequest request);

  // Reads up to max_count records (and about max_bytes) of (topic, queue) from queue_offset.
  // With `may_copy` (the caller will let the result go soon, e.g. a response to a connection
  // that is keeping up) the records are copied out of the log (StoreOptions::max_read_copy_bytes);
  // otherwise they view the mapped log (a result held for long, e.g. queued behind a slow reader,
  // then costs page cache, not the broker's own memory).
  virtual GetResult GetMessages(std::string_view topic, uint32_t queue_id, QueueOffset queue_offset, int32_t max_count,
                                int64_t max_bytes, const MessageFilter* filter, bool may_copy = true) = 0;
  // A copy of the record at a physical offset (offset ids); NotFound if none starts there.
  virtual Result<std::string> ReadRecordAt(PhysicalOffset physical_offset) = 0;
  // A copy of the record with this producer-assigned unique id (RocksDB index); NotFound if none.
  virtual Result<std::string> LookupByMessageId(std::string_view msg_id) = 0;
  // Copies of the newest records of `topic` carrying `key`, newest first.
  virtual std::vector<std::string> QueryByKey(std::string_view topic, std::string_view key, int max_results) = 0;

  virtual QueueOffset MinQueueOffset(std::string_view topic, uint32_t queue_id) = 0;
  virtual QueueOffset MaxQueueOffset(std::string_view topic, uint32_t queue_id) = 0;  // next offset to be written
  // First queue offset whose record was stored at or after timestamp_ms (max offset if none).
  virtual QueueOffset QueueOffsetForTimestamp(std::string_view topic, uint32_t queue_id, int64_t timestamp_ms) = 0;
  virtual int64_t LastStoreTimestamp(std::string_view topic, uint32_t queue_id) = 0;  // 0 if empty
  // Drops the topic's consume queues (records stay in the log until retention).
  virtual void DeleteTopicQueues(std::string_view topic) = 0;

  // REQUIRES: called before traffic starts (at broker startup). The listener must outlive the store.
  virtual void AddDispatchListener(DispatchListener* listener) = 0;
  // A service that still needs old records (a pending timer) names the lowest commit-log offset
  // it needs; retention never deletes a segment holding that offset or anything after it.
  // `floor` is called from the retention thread, must be thread-safe and cheap, and returns
  // PhysicalOffset(INT64_MAX) when it needs nothing. REQUIRES: before traffic starts; `floor`
  // outlives the store.
  virtual void AddRetentionFloor(std::function<PhysicalOffset()> floor) = 0;

  virtual MetaStore& meta() = 0;
  virtual StoreStats stats() const = 0;
  virtual const StoreOptions& options() const = 0;
};

}  // namespace vela::store
