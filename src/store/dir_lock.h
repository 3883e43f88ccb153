#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace vela::store {

// DirLock holds an exclusive flock on <root>/lock for the life of the store, with the holder's pid
// written in the file so a refused opener can name it. Releasing happens on destruction (and at
// process death, by the kernel). Thread-compatible; owned by MessageStore.
class DirLock {
 public:
  // Fails with FailedPrecondition "store directory <root> is locked by another process (pid N)".
  static Result<std::unique_ptr<DirLock>> Acquire(const std::string& root);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vela::store
