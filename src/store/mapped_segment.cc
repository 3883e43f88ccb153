#include "store/mapped_segment.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace vela::store {

std::string MappedSegment::FileName(int64_t offset) { return fmt::format("{:020d}", offset); }

bool MappedSegment::ParseFileName(std::string_view name, int64_t* offset) {
  if (name.size() != 20) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), *offset);
  return ec == std::errc() && p == name.data() + name.size();
}

Result<std::shared_ptr<MappedSegment>> MappedSegment::Map(std::unique_ptr<File> file, int64_t base, int64_t size) {
  void* p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, file->fd(), 0);
  if (p == MAP_FAILED) return ErrnoStatus("mmap", file->path(), errno);
  ::madvise(p, static_cast<size_t>(size), MADV_SEQUENTIAL);
  return std::shared_ptr<MappedSegment>(new MappedSegment(std::move(file), base, size, static_cast<char*>(p)));
}

void MappedSegment::Prefault(int64_t rel_from, int64_t rel_to) const {
  // Readahead through the file (POSIX_FADV_WILLNEED), not through the mapping: it fills the page
  // cache (zero-filled pages for an unwritten extent, without dirtying them) while holding no lock
  // of this process's address space. MADV_POPULATE_READ held the address-space lock for the whole
  // range: on this VM, where a page never touched before costs ~14 µs, 14 ms per 4 MiB, during
  // which any thread that mapped, unmapped or grew a heap waited, and W3 saw 15-60 ms stalls every
  // few seconds. Readers of the mapping take a minor fault on a page the cache already holds.
  const int64_t page = 4096;
  const int64_t from = std::max<int64_t>(0, rel_from) / page * page;
  const int64_t to = std::min(size_, rel_to);
  if (to <= from) return;
  (void)::posix_fadvise(file_->fd(), from, to - from, POSIX_FADV_WILLNEED);
}

bool MappedSegment::ReadAt(int64_t rel, int64_t len, char* out) const {
  if (rel < 0 || len < 0 || rel + len > size_) return false;
  while (len > 0) {
    const ssize_t n = ::pread(file_->fd(), out, static_cast<size_t>(len), rel);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    rel += n;
    len -= n;
  }
  return true;
}

void MappedSegment::AdviseRandomAccess() const { ::madvise(data_, static_cast<size_t>(size_), MADV_RANDOM); }

Result<std::shared_ptr<MappedSegment>> MappedSegment::Create(FileSystem& fs, const std::string& path,
                                                             int64_t base_offset, int64_t size, bool prewrite) {
  if (fs.Exists(path)) return Status::AlreadyExists(fmt::format("segment {} already exists", path));
  auto file = fs.OpenFile(path, true);
  if (!file.ok()) return file.status();
  Status st = (*file)->Allocate(0, size);
  if (st.ok() && prewrite) {
    // Turn the unwritten extents into written ones: a later fdatasync then only rewrites data
    // blocks instead of also committing extent conversions (BENCH.md: half the cost).
    const std::string zeros(std::min<int64_t>(size, 1 << 20), '\0');
    for (int64_t off = 0; st.ok() && off < size; off += static_cast<int64_t>(zeros.size())) {
      st = (*file)->WriteAt(off, std::string_view(zeros).substr(0, static_cast<size_t>(std::min<int64_t>(
                                                                         size - off, zeros.size()))));
    }
  }
  // Only the zeros need syncing now; an allocation alone becomes durable with the first sync of
  // data written into it (fdatasync commits the extents it needs), so it costs no journal commit
  // here, which matters for consume-queue files created on the send path.
  if (st.ok() && prewrite) st = (*file)->Sync(0, size);
  if (!st.ok()) {
    file->reset();
    (void)fs.Remove(path);
    return st;
  }
  return Map(std::move(*file), base_offset, size);
}

Result<std::shared_ptr<MappedSegment>> MappedSegment::OpenExisting(FileSystem& fs, const std::string& path,
                                                                   int64_t base_offset, int64_t size) {
  auto file = fs.OpenFile(path, false);
  if (!file.ok()) return file.status();
  auto actual = (*file)->Size();
  if (!actual.ok()) return actual.status();
  if (size == kCurrentSize) size = *actual;
  if (size == 0) return Status::FailedPrecondition(fmt::format("{} is empty: nothing to map", path));
  if (*actual < size) VELA_RETURN_IF_ERROR((*file)->Allocate(0, size));
  return Map(std::move(*file), base_offset, size);
}

Result<int64_t> MappedSegment::SizeOf(FileSystem& fs, const std::string& path) {
  VELA_ASSIGN_OR_RETURN(auto file, fs.OpenFile(path, false));
  return file->Size();
}

MappedSegment::~MappedSegment() { ::munmap(data_, static_cast<size_t>(size_)); }

Status MappedSegment::Sync(int64_t rel_from, int64_t rel_to) {
  if (rel_to <= rel_from) return Status::OK();
  return file_->Sync(rel_from, rel_to - rel_from);
}

Result<int64_t> MappedSegment::ZeroFrom(int64_t rel_from) {
  constexpr int64_t kPage = 4096;
  static const std::vector<char> kZeros(kPage, 0);
  int64_t dirty_to = rel_from;
  for (int64_t pos = rel_from; pos < size_;) {
    const int64_t chunk = std::min(kPage - pos % kPage, size_ - pos);
    if (std::memcmp(data_ + pos, kZeros.data(), static_cast<size_t>(chunk)) != 0) {
      std::memset(data_ + pos, 0, static_cast<size_t>(chunk));
      dirty_to = pos + chunk;
    }
    pos += chunk;
  }
  VELA_RETURN_IF_ERROR(Sync(rel_from, dirty_to));
  return dirty_to;
}

Status MappedSegment::MarkDeleted(FileSystem& fs) {
  if (deleted_.exchange(true)) return Status::OK();
  return fs.Remove(path());
}

}  // namespace vela::store
