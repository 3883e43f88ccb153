#include "store/checkpoint.h"

#include "common/coding.h"
#include "common/crc32c.h"
#include "store/logger.h"

namespace vela::store {

namespace {
constexpr uint32_t kMagic = 0x504B4356;  // "VCKP"
constexpr uint32_t kVersion = 1;
constexpr size_t kSize = 32;
}  // namespace

std::string Checkpoint::Encode() const {
  std::string out;
  coding::AppendFixed32(&out, kMagic);
  coding::AppendFixed32(&out, kVersion);
  coding::AppendFixed64(&out, static_cast<uint64_t>(flushed_offset.value()));
  coding::AppendFixed64(&out, static_cast<uint64_t>(dispatched_offset.value()));
  coding::AppendFixed32(&out, crc32c::Value(out.data(), out.size()));
  coding::AppendFixed32(&out, 0);
  return out;
}

std::optional<Checkpoint> Checkpoint::Read(FileSystem& fs, const std::string& path) {
  auto data = fs.ReadFile(path);
  if (!data.ok()) return std::nullopt;
  const std::string& d = *data;
  if (d.size() != kSize || coding::GetFixed32(d.data()) != kMagic || coding::GetFixed32(d.data() + 4) != kVersion ||
      coding::GetFixed32(d.data() + 24) != crc32c::Value(d.data(), 24)) {
    Log().warn("checkpoint {} is damaged; recovery scans the whole log", path);
    return std::nullopt;
  }
  Checkpoint c;
  c.flushed_offset = PhysicalOffset(static_cast<int64_t>(coding::GetFixed64(d.data() + 8)));
  c.dispatched_offset = PhysicalOffset(static_cast<int64_t>(coding::GetFixed64(d.data() + 16)));
  return c;
}

Status Checkpoint::Write(FileSystem& fs, const std::string& path) const { return fs.WriteFileAtomic(path, Encode()); }

void CheckpointService::Run() {
  while (!stopped()) {
    WaitForRunning(std::chrono::milliseconds(interval_ms_));
    if (stopped()) break;
    Status st = write_();
    if (!st.ok()) Log().warn("checkpoint failed: {}", st.ToString());
  }
}

}  // namespace vela::store
