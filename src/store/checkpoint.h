#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/service_thread.h"
#include "store/file_system.h"
#include "store/offsets.h"

namespace vela::store {

// The <root>/checkpoint file: where recovery may start. 32 bytes, little-endian:
// u32 magic "VCKP" (0x504B4356), u32 version (1), i64 flushed commit-log offset, i64 dispatched
// offset, u32 CRC-32C of bytes [0, 24), u32 zero. Written with write-temp + fsync + rename.
struct Checkpoint {
  PhysicalOffset flushed_offset;
  PhysicalOffset dispatched_offset;

  std::string Encode() const;
  // nullopt if missing or damaged (recovery then scans from the start).
  static std::optional<Checkpoint> Read(FileSystem& fs, const std::string& path);
  Status Write(FileSystem& fs, const std::string& path) const;
};

// CheckpointService runs `write_checkpoint` every interval on its own thread (the store's function
// syncs the queues and index, then writes the file). Owned by MessageStore; the function's
// captures must outlive it. Thread-safe Start/Stop from the owner.
class CheckpointService final : public ServiceThread {
 public:
  CheckpointService(std::function<Status()> write_checkpoint, int interval_ms)
      : ServiceThread("vela-checkpoint"), write_(std::move(write_checkpoint)), interval_ms_(interval_ms) {}
  ~CheckpointService() override { Stop(); }

 protected:
  void Run() override;

 private:
  std::function<Status()> write_;
  const int interval_ms_;
};

}  // namespace vela::store
