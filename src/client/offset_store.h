#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client/consumer_context.h"
#include "client/process_queue.h"
#include "common/result.h"

namespace vela::client {

// OffsetStore keeps a consumer's committed offset per queue: where a queue's consumption resumes
// after a rebalance or a restart. Commit records a process queue's committable offset (its
// tracker's: never past a message still in flight), so a crash can redeliver but never skip.
// Implementations are thread-safe.
class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  // Reads what earlier runs persisted. Fails on a store that cannot be used (e.g. a corrupt file).
  virtual vela::Status Load() { return vela::Status::OK(); }
  // The committed offset of `mq` (served by `addr`), or -1 when there is none.
  virtual Result<int64_t> Read(const MessageQueue& mq, const std::string& addr) = 0;
  // The offset to piggy-back on the next pull of `pq` (0: nothing to send). Only the broker store
  // commits this way; `OnPullCommitted` records that the broker accepted it.
  virtual int64_t OffsetForPull(ProcessQueue&) { return 0; }
  virtual void OnPullCommitted(ProcessQueue&, int64_t) {}
  // Records `pq`'s committable offset when it moved; `sync` waits until it is durable.
  virtual void Commit(const std::shared_ptr<ProcessQueue>& pq, bool sync) = 0;
  // Makes everything recorded durable (the local file store writes its file).
  virtual vela::Status Flush() { return vela::Status::OK(); }
};

// BrokerOffsetStore: clustering mode. The group's offsets live on the brokers
// (QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET, and piggy-backed on pulls). With
// options.commit_offsets false it reads but never writes (tools that only peek).
class BrokerOffsetStore final : public OffsetStore {
 public:
  explicit BrokerOffsetStore(ConsumerContext& ctx) : ctx_(ctx) {}
  Result<int64_t> Read(const MessageQueue& mq, const std::string& addr) override;
  int64_t OffsetForPull(ProcessQueue& pq) override;
  void OnPullCommitted(ProcessQueue& pq, int64_t offset) override;
  void Commit(const std::shared_ptr<ProcessQueue>& pq, bool sync) override;

 private:
  ConsumerContext& ctx_;
};

// LocalFileOffsetStore: broadcast mode. Each instance keeps its own offsets in one file,
// `<dir>/<group>/<instance_name>.offsets`, a text file: a header line "vela-offsets 1", then one
// line per queue "<topic> <broker_name> <queue_id> <offset>". Flush writes a temporary file,
// fsyncs it and renames it over the old one, so a crash leaves the old or the new file, never a
// torn one. Load refuses a file that does not parse (naming the file and line) rather than
// silently starting over. The file is locked (flock) while the store lives, so a second instance
// of the same group and instance name on this machine is refused with a clear error instead of
// both overwriting each other's offsets. Commit only records in memory; Flush persists.
class LocalFileOffsetStore final : public OffsetStore {
 public:
  // With `read_only`, offsets are read but never written (PushConsumerOptions::commit_offsets false).
  LocalFileOffsetStore(std::string dir, std::string group, std::string instance_name, bool read_only = false);
  ~LocalFileOffsetStore() override;

  const std::string& path() const { return path_; }
  // "" when dir is empty: $HOME/.vela/offsets (or ./.vela/offsets without HOME).
  static std::string DefaultDir();

  vela::Status Load() override;
  Result<int64_t> Read(const MessageQueue& mq, const std::string& addr) override;
  void Commit(const std::shared_ptr<ProcessQueue>& pq, bool sync) override;
  vela::Status Flush() override;

  // Records an offset directly (tests, and the store's own Commit).
  void Put(const MessageQueue& mq, int64_t offset);

 private:
  const std::string path_;
  const bool read_only_;
  int lock_fd_ = -1;
  std::mutex mu_;
  std::map<MessageQueue, int64_t> offsets_;  // GUARDED_BY(mu_)
  bool dirty_ = false;                       // GUARDED_BY(mu_)
  std::mutex flush_mu_;                      // one writer of the file at a time
};

}  // namespace vela::client
