#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

#include "common/message_id.h"
#include "common/message_record.h"
#include "store/default_message_store.h"
#include "store/file_system.h"
#include "store/message_store.h"
#include "support/test_support.h"

namespace vela::store::testing {

// An encoded record as a producer would send it.
inline std::string MakeRecord(std::string_view topic, uint32_t queue_id, std::string_view body,
                              std::string_view tags = "", std::string_view keys = "", std::string msg_id = "") {
  if (msg_id.empty()) msg_id = NewMessageId();
  Properties props;
  if (!tags.empty()) props.emplace_back(std::string(prop::kTags), std::string(tags));
  if (!keys.empty()) props.emplace_back(std::string(prop::kKeys), std::string(keys));
  const std::string encoded = EncodeProperties(props);
  RecordFields f;
  f.topic = topic;
  f.queue_id = queue_id;
  f.born_timestamp_ms = 1700000000123;
  f.born_host = PackHost("10.1.2.3:4567");
  f.reconsume_times = 2;
  f.flags = record::kFlagBodyCompressed;
  f.msg_id = msg_id;
  f.properties = encoded;
  f.body = body;
  std::string out;
  EncodeRecord(f, &out);
  return out;
}

inline StoreOptions SmallOptions(const std::string& root) {
  StoreOptions o;
  o.root_dir = root;
  o.commitlog_segment_size = 1 << 20;
  o.consume_queue_segment_size = 20 * 1024;
  o.max_hash_slot_num = 64;  // small id index files: tests that append a few hundred records roll them
  o.max_index_num = 256;
  o.max_message_size = 256 * 1024;
  o.flush_interval_ms = 20;
  o.sync_flush_timeout_ms = 5000;
  o.disk_max_used_space_ratio = 100;
  o.disk_space_warning_level_ratio = 100;  // tests do not depend on how full this machine's disk is
  o.retention_interval_ms = 3600 * 1000;
  o.checkpoint_interval_ms = 100;
  o.store_host = PackHost("127.0.0.1:10911");
  return o;
}

inline std::unique_ptr<DefaultMessageStore> OpenStore(const StoreOptions& o) {
  auto r = DefaultMessageStore::OpenImpl(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

inline Result<AppendResult> AppendOne(MessageStore& store, const std::string& rec) {
  AppendRequest req;
  req.records.push_back(rec);
  return store.AppendAndWait(std::move(req));
}

// A FileSystem that remembers the content of every synced byte range and, at DropUnsyncedData(),
// rewrites each file it knows to exactly its synced content (unsynced bytes become zeros): a power
// failure, as leveldb's fault-injection Env simulates it. Can also refuse allocations (ENOSPC).
class FaultInjectionFileSystem final : public FileSystem {
 public:
  FaultInjectionFileSystem() : base_(DefaultFileSystem()) {}

  void set_no_space(bool v) {
    std::lock_guard lock(mu_);
    no_space_ = v;
  }
  bool no_space() {
    std::lock_guard lock(mu_);
    return no_space_;
  }
  // A small disk: allocations beyond `bytes` in all (from now on) fail with ENOSPC; -1: no limit.
  void set_space_budget(int64_t bytes) {
    std::lock_guard lock(mu_);
    budget_ = bytes;
  }
  // Takes `length` bytes of the budget; false when they are not there.
  bool TakeSpace(int64_t length) {
    std::lock_guard lock(mu_);
    if (budget_ < 0) return true;
    if (length > budget_) return false;
    budget_ -= length;
    return true;
  }
  // What GetDiskUsage reports instead of the real disk (nullopt: the real one).
  void set_disk_usage(std::optional<DiskUsage> usage) {
    std::lock_guard lock(mu_);
    fake_usage_ = usage;
  }
  void RecordSync(const std::string& path, int fd, int64_t offset, int64_t length) {
    std::lock_guard lock(mu_);
    std::string& shadow = shadow_[path];
    if (static_cast<int64_t>(shadow.size()) < offset + length) shadow.resize(static_cast<size_t>(offset + length));
    ssize_t n = ::pread(fd, shadow.data() + offset, static_cast<size_t>(length), offset);
    (void)n;
  }
  // Rewrites every known file with its synced content.
  void DropUnsyncedData() {
    std::lock_guard lock(mu_);
    for (const auto& [path, shadow] : shadow_) {
      int fd = ::open(path.c_str(), O_RDWR);
      if (fd < 0) continue;
      off_t size = ::lseek(fd, 0, SEEK_END);
      std::string content(static_cast<size_t>(size), '\0');
      std::memcpy(content.data(), shadow.data(), std::min(content.size(), shadow.size()));
      ssize_t n = ::pwrite(fd, content.data(), content.size(), 0);
      (void)n;
      ::fsync(fd);
      ::close(fd);
    }
  }

  class FaultFile final : public File {
   public:
    FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base) : fs_(fs), base_(std::move(base)) {}
    const std::string& path() const override { return base_->path(); }
    int fd() const override { return base_->fd(); }
    Status Allocate(int64_t offset, int64_t length) override {
      if (fs_->no_space() || !fs_->TakeSpace(length)) return ErrnoStatus("fallocate", path(), ENOSPC);
      return base_->Allocate(offset, length);
    }
    Status WriteAt(int64_t offset, std::string_view data) override { return base_->WriteAt(offset, data); }
    Status Sync(int64_t offset, int64_t length) override {
      VELA_RETURN_IF_ERROR(base_->Sync(offset, length));
      fs_->RecordSync(path(), fd(), offset, length);
      return Status::OK();
    }
    Result<int64_t> Size() override { return base_->Size(); }

   private:
    FaultInjectionFileSystem* fs_;
    std::unique_ptr<File> base_;
  };

  Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) override {
    auto f = base_->OpenFile(path, create);
    if (!f.ok()) return f.status();
    return std::unique_ptr<File>(new FaultFile(this, std::move(*f)));
  }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override { return base_->ListDir(path); }
  Status Remove(const std::string& path) override {
    {
      std::lock_guard lock(mu_);
      shadow_.erase(path);
    }
    return base_->Remove(path);
  }
  Status RemoveAll(const std::string& path) override {
    {
      std::lock_guard lock(mu_);
      std::erase_if(shadow_, [&](const auto& kv) { return kv.first.starts_with(path); });
    }
    return base_->RemoveAll(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    {
      std::lock_guard lock(mu_);
      auto it = shadow_.find(from);
      if (it != shadow_.end()) {
        shadow_[to] = std::move(it->second);
        shadow_.erase(it);
      }
    }
    return base_->Rename(from, to);
  }
  Status SyncDir(const std::string& path) override { return base_->SyncDir(path); }
  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    VELA_RETURN_IF_ERROR(base_->WriteFileAtomic(path, data));
    std::lock_guard lock(mu_);
    shadow_[path] = std::string(data);
    return Status::OK();
  }
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Result<int64_t> ModifiedTimeMs(const std::string& path) override { return base_->ModifiedTimeMs(path); }
  Result<DiskUsage> GetDiskUsage(const std::string& path) override {
    {
      std::lock_guard lock(mu_);
      if (fake_usage_) return *fake_usage_;
    }
    return base_->GetDiskUsage(path);
  }

 private:
  std::shared_ptr<FileSystem> base_;
  std::mutex mu_;
  bool no_space_ = false;
  int64_t budget_ = -1;
  std::optional<DiskUsage> fake_usage_;
  std::map<std::string, std::string> shadow_;
};

}  // namespace vela::store::testing
