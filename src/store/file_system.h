#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vela::store {

// File is one open file of the store (a commit-log or consume-queue segment, the abort marker).
// The store writes segment contents through a shared memory mapping of fd() and makes them
// durable with Sync(); everything else (allocation, pre-writing, small files) goes through the
// methods below, so a test FileSystem can observe every durability point and inject failures.
// Owned by whoever opened it; closes the descriptor on destruction. Thread-safe (the methods are
// positional system calls).
class File {
 public:
  virtual ~File() = default;
  virtual const std::string& path() const = 0;
  virtual int fd() const = 0;
  // Reserves [offset, offset + length) on disk (fallocate). ENOSPC gives ResourceExhausted with
  // SubCode::kNoSpace.
  virtual Status Allocate(int64_t offset, int64_t length) = 0;
  // Writes all of `data` at `offset` (pwrite, retried on short writes).
  virtual Status WriteAt(int64_t offset, std::string_view data) = 0;
  // Makes [offset, offset + length) durable, including bytes written through a mapping
  // (fdatasync). May block on the disk.
  virtual Status Sync(int64_t offset, int64_t length) = 0;
  virtual Result<int64_t> Size() = 0;
};

// Space on the file system holding the store.
struct DiskUsage {
  uint64_t capacity_bytes = 0;
  uint64_t available_bytes = 0;  // free to an unprivileged writer (statvfs f_bavail)
  uint64_t free_bytes = 0;       // free in all, root's reserve included (f_bfree)

  // Percent of the space usable by the store that is used, as `df` computes it:
  // used / (used + available), where used = capacity - free. (1 - available / capacity would
  // count the file system's root reserve as used.)
  double UsedPercent() const {
    const uint64_t used = capacity_bytes > free_bytes ? capacity_bytes - free_bytes : 0;
    const uint64_t usable = used + available_bytes;
    return usable == 0 ? 0.0 : 100.0 * static_cast<double>(used) / static_cast<double>(usable);
  }
};

// FileSystem is the I/O seam of the store (STYLE.md §9): the real POSIX implementation, or a test
// double that remembers what was synced and drops the rest at a simulated power failure, or that
// returns ENOSPC. Shared by the store's components (StoreOptions::fs); thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens `path` read-write, creating it when `create` is true (and failing with NotFound when it
  // is false and the file does not exist).
  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory; NotFound if it does not exist.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;           // a file
  virtual Status RemoveAll(const std::string& path) = 0;        // a directory tree
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  // Writes `data` to path + ".tmp", syncs it, renames it over `path` and syncs the directory.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Last modification time, in epoch milliseconds.
  virtual Result<int64_t> ModifiedTimeMs(const std::string& path) = 0;
  virtual Result<DiskUsage> GetDiskUsage(const std::string& path) = 0;
};

// The real file system (POSIX calls). The returned object is a process-wide singleton.
std::shared_ptr<FileSystem> DefaultFileSystem();

// Converts an errno from `op` on `path` to a Status: ENOSPC/EDQUOT give ResourceExhausted with
// SubCode::kNoSpace ("disk full: ..."), ENOENT gives NotFound, the rest IOError.
Status ErrnoStatus(std::string_view op, const std::string& path, int err);

}  // namespace vela::store
