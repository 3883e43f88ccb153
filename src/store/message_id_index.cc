#include "store/message_id_index.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <sys/mman.h>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "store/logger.h"

namespace vela::store {

static_assert(std::endian::native == std::endian::little, "slots and the entry count are accessed in place");

namespace {
constexpr uint32_t kMagic = 0x31584956;  // "VIX1"
constexpr uint32_t kVersion = 1;
constexpr int64_t kHeaderSize = 64;
constexpr int64_t kEntrySize = 16;
constexpr int64_t kCountAt = 16;

}  // namespace

int64_t MessageIdIndex::FileBytes(uint32_t slots, uint32_t entries) {
  return kHeaderSize + 4 * static_cast<int64_t>(slots) + kEntrySize * static_cast<int64_t>(entries);
}

namespace {
uint32_t HashId(std::string_view msg_id) { return crc32c::Value(msg_id.data(), msg_id.size()); }
}  // namespace

// Memory for the slots of the file being written: anonymous and backed by huge pages where the
// kernel allows, because slots are hit at random and 20 MB of 4 KiB pages cost a TLB miss (a
// nested page walk on a virtual machine) per insert.
std::shared_ptr<uint32_t> AllocateHotSlots(uint32_t slots) {
  constexpr size_t kHuge = 2u << 20;
  const size_t bytes = (4 * static_cast<size_t>(slots) + kHuge - 1) / kHuge * kHuge;
  void* raw = ::mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  // Trim to a 2 MiB-aligned range so whole huge pages fit.
  auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHuge - 1) / kHuge * kHuge;
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = start + bytes + kHuge;
  if (end > aligned + bytes) ::munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  auto* p = reinterpret_cast<uint32_t*>(aligned);
  (void)::madvise(p, bytes, MADV_HUGEPAGE);
  return std::shared_ptr<uint32_t>(p, [bytes](uint32_t* q) { ::munmap(q, bytes); });
}

// Hot slots made ahead of time for a file not started yet: zeros, every page touched now, so that
// starting the file costs its writer no allocation and no page fault. Null when memory cannot be had.
std::shared_ptr<uint32_t> TouchedBlankSlots(uint32_t slots) {
  std::shared_ptr<uint32_t> blank = AllocateHotSlots(slots);
  if (blank) std::memset(blank.get(), 0, 4 * static_cast<size_t>(slots));
  return blank;
}

// One index file, mapped. Its entries are always written through the mapping. Its slots are in
// the mapping while it is sealed (full, or the index closed), and in hot memory while it is the
// file being written: Activate copies them there, Seal copies them back. The on-disk slots of
// the file being written are therefore stale until it is sealed, which is why a crash relinks it.
// Its writer is the index's writer; see MessageIdIndex for the rest.
class MessageIdIndex::File {
 public:
  File(std::shared_ptr<MappedSegment> seg, uint32_t slots, uint32_t capacity)
      : seg_(std::move(seg)),
        slots_(slots),
        capacity_(capacity),
        read_slots_(std::shared_ptr<uint32_t>(seg_, MappedSlots())),
        next_(Count().load()),
        synced_(next_) {}

  // Writes a fresh header into a new, zeroed file.
  static void Format(MappedSegment& seg, uint32_t slots, uint32_t capacity) {
    char* h = seg.data();
    coding::PutFixed32(h, kMagic);
    coding::PutFixed32(h + 4, kVersion);
    coding::PutFixed32(h + 8, slots);
    coding::PutFixed32(h + 12, capacity);
    coding::PutFixed32(h + kCountAt, 0);
  }

  // Why the file's header does not describe it ("" when it does). A zero header is "blank".
  static std::string Check(const MappedSegment& seg) {
    if (seg.size() < kHeaderSize) return "shorter than its header";
    const char* h = seg.data();
    if (coding::GetFixed32(h) == 0) return "blank";
    if (coding::GetFixed32(h) != kMagic || coding::GetFixed32(h + 4) != kVersion) return "bad magic or version";
    const uint32_t slots = coding::GetFixed32(h + 8);
    const uint32_t capacity = coding::GetFixed32(h + 12);
    if (slots == 0 || capacity == 0 || FileBytes(slots, capacity) != seg.size()) {
      return "geometry does not match its size";
    }
    if (coding::GetFixed32(h + kCountAt) > capacity) return "entry count beyond capacity";
    return "";
  }
  static uint32_t SlotsOf(const MappedSegment& seg) { return coding::GetFixed32(seg.data() + 8); }
  static uint32_t CapacityOf(const MappedSegment& seg) { return coding::GetFixed32(seg.data() + 12); }

  int64_t first_offset() const { return seg_->base(); }
  uint32_t count() const { return Count().load(std::memory_order_acquire); }
  bool full() const { return next_ >= capacity_; }
  uint32_t capacity() const { return capacity_; }
  bool active() const { return hot_slots_ != nullptr; }

  // A file just created has zero slots: `blank_hot`, zeroed slots made ahead of time (or, without
  // them, fresh anonymous memory) serve as they are, nothing is copied. (Copying 20 MB out of a
  // new file read every page of it on the send path: a 120-220 ms stall at a broker's first
  // message.)
  void ActivateBlank(std::shared_ptr<uint32_t> blank_hot) {
    if (active()) return;
    if (!blank_hot) blank_hot = AllocateHotSlots(slots_);
    if (blank_hot) UseHotSlots(std::move(blank_hot));
  }
  // Moves the slots into hot memory (kept in the mapping if that cannot be had). The writer only.
  void Activate() {
    if (active()) return;
    std::shared_ptr<uint32_t> hot = AllocateHotSlots(slots_);
    if (!hot) return;
    std::memcpy(hot.get(), MappedSlots(), 4 * static_cast<size_t>(slots_));
    UseHotSlots(std::move(hot));
  }
  // The writer moves on to a new file: no entry is added here again. Readers keep using the hot
  // slots until FinishSeal, on the next Sync, copies them into the mapping: that copy faults in
  // 20 MB of file pages (100+ ms on this VM), which the writer's thread must not wait for. The
  // writer only.
  void Retire() {
    if (!active()) return;
    hot_slots_ = nullptr;
    seal_pending_.store(true, std::memory_order_release);  // after the last insert's writes
  }
  // Retire and FinishSeal at once (a clean close). The writer only.
  void Seal() {
    Retire();
    FinishSeal();
  }
  // Copies the slots of a retired file into its mapping (for the sync that follows) and points
  // readers there. Sync's, or the writer's at Close (never both at once).
  void FinishSeal() {
    if (!seal_pending_.exchange(false, std::memory_order_acq_rel)) return;
    const std::shared_ptr<uint32_t> hot = read_slots_.load(std::memory_order_acquire);
    std::memcpy(MappedSlots(), hot.get(), 4 * static_cast<size_t>(slots_));
    prefetch_slots_.store(MappedSlots(), std::memory_order_relaxed);
    read_slots_.store(std::shared_ptr<uint32_t>(seg_, MappedSlots()), std::memory_order_release);
    slots_unsynced_.store(true, std::memory_order_release);
  }

  // REQUIRES: !full(); the writer only.
  void Insert(uint32_t hash, int64_t physical_offset) {
    std::atomic_ref<uint32_t> slot(WriterSlots()[hash % slots_]);
    char* e = EntryAt(next_);
    coding::PutFixed32(e, hash);
    coding::PutFixed32(e + 4, slot.load(std::memory_order_relaxed));
    coding::PutFixed64(e + 8, static_cast<uint64_t>(physical_offset));
    ++next_;
    slot.store(next_, std::memory_order_release);
    Count().store(next_, std::memory_order_release);
  }

  // Any thread. A prefetch never faults, so a pointer to memory just unmapped is harmless.
  void Prefetch(uint32_t hash) const {
    __builtin_prefetch(prefetch_slots_.load(std::memory_order_relaxed) + hash % slots_, /*rw=*/1);
  }

  // Calls fn for each entry of `hash`, newest first; false when fn asked to stop.
  bool Find(uint32_t hash, const std::function<bool(PhysicalOffset)>& fn) const {
    const std::shared_ptr<uint32_t> slots = read_slots_.load(std::memory_order_acquire);
    uint32_t i = std::atomic_ref<uint32_t>(slots.get()[hash % slots_]).load(std::memory_order_acquire);
    while (i != 0 && i <= capacity_) {
      const char* e = EntryAt(i - 1);
      if (coding::GetFixed32(e) == hash && !fn(PhysicalOffset(static_cast<int64_t>(coding::GetFixed64(e + 8))))) {
        return false;
      }
      const uint32_t prev = coding::GetFixed32(e + 4);
      if (prev >= i) break;  // only older entries are linked; anything else is damage
      i = prev;
    }
    return true;
  }

  // After a crash the slots may be newer or older on disk than the entries they point to: takes
  // the entries as the truth (counting those written past a stale header count) and rebuilds every
  // chain. Before the writer starts.
  void Relink() {
    uint32_t n = std::min(Count().load(), capacity_);
    static const char kZero[kEntrySize] = {};
    while (n < capacity_ && std::memcmp(EntryAt(n), kZero, kEntrySize) != 0) ++n;
    uint32_t* slots = WriterSlots();
    std::memset(slots, 0, 4 * static_cast<size_t>(slots_));
    for (uint32_t i = 0; i < n; ++i) {
      char* e = EntryAt(i);
      uint32_t* slot = slots + coding::GetFixed32(e) % slots_;
      coding::PutFixed32(e + 4, *slot);
      *slot = i + 1;
    }
    Count().store(n);
    next_ = n;
    synced_ = 0;
    if (!active()) slots_unsynced_.store(true);
  }

  // Syncs the header, the entries written so far and, once sealed, the slots (finishing the seal
  // of a retired file first). One caller at a time.
  Status Sync() {
    FinishSeal();
    const bool slots = slots_unsynced_.exchange(false, std::memory_order_acquire);
    const uint32_t n = count();
    if (n == synced_ && !slots) return Status::OK();
    Status st = seg_->Sync(0, FileBytes(slots_, n));
    if (!st.ok()) {
      if (slots) slots_unsynced_.store(true);
      return st;
    }
    synced_ = n;
    return Status::OK();
  }

  Status MarkDeleted(FileSystem& fs) { return seg_->MarkDeleted(fs); }

 private:
  void UseHotSlots(std::shared_ptr<uint32_t> hot) {
    hot_slots_ = hot.get();
    prefetch_slots_.store(hot_slots_, std::memory_order_relaxed);
    read_slots_.store(std::move(hot), std::memory_order_release);
  }
  std::atomic_ref<uint32_t> Count() const {
    return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(seg_->data() + kCountAt));
  }
  uint32_t* MappedSlots() const { return reinterpret_cast<uint32_t*>(seg_->data() + kHeaderSize); }
  uint32_t* WriterSlots() const { return hot_slots_ ? hot_slots_ : MappedSlots(); }
  char* EntryAt(uint32_t i) const {
    return seg_->data() + kHeaderSize + 4 * static_cast<int64_t>(slots_) + kEntrySize * static_cast<int64_t>(i);
  }

  const std::shared_ptr<MappedSegment> seg_;
  const uint32_t slots_;
  const uint32_t capacity_;
  std::atomic<std::shared_ptr<uint32_t>> read_slots_;  // the slots readers use (hot or mapped)
  std::atomic<uint32_t*> prefetch_slots_{MappedSlots()};
  uint32_t* hot_slots_ = nullptr;  // the writer's: set while active
  std::atomic<bool> slots_unsynced_{false};  // sealed or relinked slots not yet synced
  std::atomic<bool> seal_pending_{false};    // retired: its hot slots still to be copied to the mapping
  uint32_t next_;    // the writer's: entries written
  uint32_t synced_;  // Sync's: entries known durable
};

MessageIdIndex::MessageIdIndex(FileSystem& fs, std::string dir, Geometry geometry)
    : fs_(fs), dir_(std::move(dir)), geometry_(geometry) {}

MessageIdIndex::~MessageIdIndex() = default;

Result<std::unique_ptr<MessageIdIndex>> MessageIdIndex::Open(FileSystem& fs, std::string dir, Geometry geometry,
                                                             std::optional<PhysicalOffset> relink_from) {
  // Slots a multiple of 4 keep the 16-byte entries aligned, so none straddles a page.
  geometry.slots = std::max<uint32_t>(4, geometry.slots / 4 * 4);
  geometry.entries = std::max<uint32_t>(1, geometry.entries);
  std::unique_ptr<MessageIdIndex> index(new MessageIdIndex(fs, std::move(dir), geometry));
  VELA_RETURN_IF_ERROR(fs.CreateDirs(index->dir_));
  VELA_ASSIGN_OR_RETURN(auto names, fs.ListDir(index->dir_));
  std::vector<int64_t> bases;
  for (const auto& n : names) {
    int64_t base;
    if (MappedSegment::ParseFileName(n, &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  std::vector<std::shared_ptr<File>> files;
  std::string damage;
  for (int64_t base : bases) {
    const std::string path = index->dir_ + "/" + MappedSegment::FileName(base);
    VELA_ASSIGN_OR_RETURN(const int64_t bytes, MappedSegment::SizeOf(fs, path));
    if (bytes == 0) {
      // A crash between the file's creation and its allocation: it never held an entry.
      Log().info("message id index: removing {}, which is empty", path);
      VELA_RETURN_IF_ERROR(fs.Remove(path));
      continue;
    }
    VELA_ASSIGN_OR_RETURN(auto seg, MappedSegment::OpenExisting(fs, path, base, MappedSegment::kCurrentSize));
    const std::string why = File::Check(*seg);
    if (why == "blank") {
      // Created but never synced: every entry it had lies past the checkpoint and is re-dispatched.
      Log().info("message id index: removing {}, which was never synced", path);
      VELA_RETURN_IF_ERROR(seg->MarkDeleted(fs));
      continue;
    }
    if (!why.empty()) {
      damage = fmt::format("{}: {}", path, why);
      break;
    }
    seg->AdviseRandomAccess();
    files.push_back(std::make_shared<File>(seg, File::SlotsOf(*seg), File::CapacityOf(*seg)));
  }
  if (!damage.empty()) {
    Log().warn("message id index: {}; dropping the index, to be rebuilt from the commit log", damage);
    files.clear();
    VELA_RETURN_IF_ERROR(fs.RemoveAll(index->dir_));
    VELA_RETURN_IF_ERROR(fs.CreateDirs(index->dir_));
  }
  if (!files.empty()) files.back()->Activate();
  if (relink_from) {
    // Files written to since the checkpoint: the newest, and any whose successor starts at or
    // past it (it may have been sealed after the checkpoint read its offset).
    for (size_t i = 0; i < files.size(); ++i) {
      if (i + 1 == files.size() || files[i + 1]->first_offset() >= relink_from->value()) files[i]->Relink();
    }
  }
  index->files_ = std::move(files);
  if (!index->files_.empty()) {
    index->active_ = index->files_.back();
    index->prefetch_file_.store(index->active_.get());
  }
  if (!index->active_ || index->active_->full()) {
    // The first insert starts a file: its slots are made now, not on the send path.
    index->spare_hot_slots_ = TouchedBlankSlots(index->geometry_.slots);
  }
  return index;
}

Status MessageIdIndex::StartFile(int64_t first_offset) {
  int64_t base = first_offset;
  if (active_) base = std::max(base, active_->first_offset() + 1);  // names stay unique and ascending
  const std::string path = dir_ + "/" + MappedSegment::FileName(base);
  if (fs_.Exists(path)) VELA_RETURN_IF_ERROR(fs_.Remove(path));
  VELA_ASSIGN_OR_RETURN(auto seg, MappedSegment::Create(fs_, path, base, FileBytes(geometry_.slots, geometry_.entries),
                                                        /*prewrite=*/false));
  seg->AdviseRandomAccess();
  File::Format(*seg, geometry_.slots, geometry_.entries);
  auto file = std::make_shared<File>(std::move(seg), geometry_.slots, geometry_.entries);
  std::shared_ptr<uint32_t> spare;
  {
    std::lock_guard lock(mu_);
    spare = std::move(spare_hot_slots_);
  }
  file->ActivateBlank(std::move(spare));
  if (active_) active_->Retire();
  std::lock_guard lock(mu_);
  files_.push_back(file);
  active_ = std::move(file);
  prefetch_file_.store(active_.get(), std::memory_order_release);
  ++files_created_;
  return Status::OK();
}

Status MessageIdIndex::Insert(std::string_view msg_id, PhysicalOffset physical_offset) {
  if (!active_ || active_->full()) {
    const int64_t now = NowMonotonicUs();
    if (now < start_retry_at_us_) {
      return Status::Unavailable("message id index: creating a file failed less than a second ago");
    }
    Status st = StartFile(physical_offset.value());
    if (!st.ok()) {
      start_retry_at_us_ = now + 1'000'000;
      return st;
    }
  }
  if (!active_->active()) active_->Activate();  // after Close
  active_->Insert(HashId(msg_id), physical_offset.value());
  return Status::OK();
}

void MessageIdIndex::Close() {
  if (active_) active_->Seal();
}

void MessageIdIndex::Prefetch(std::string_view msg_id) const {
  if (const File* f = prefetch_file_.load(std::memory_order_acquire)) f->Prefetch(HashId(msg_id));
}

std::vector<std::shared_ptr<MessageIdIndex::File>> MessageIdIndex::Snapshot() const {
  std::lock_guard lock(mu_);
  return files_;
}

void MessageIdIndex::Find(std::string_view msg_id, const std::function<bool(PhysicalOffset)>& fn) const {
  const uint32_t hash = HashId(msg_id);
  const auto files = Snapshot();
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    if (!(*it)->Find(hash, fn)) return;
  }
}

bool MessageIdIndex::empty() const {
  const auto files = Snapshot();
  return std::all_of(files.begin(), files.end(), [](const auto& f) { return f->count() == 0; });
}

Status MessageIdIndex::Sync() {
  uint64_t created;
  {
    std::lock_guard lock(mu_);
    created = files_created_;
  }
  const auto files = Snapshot();
  for (const auto& f : files) VELA_RETURN_IF_ERROR(f->Sync());
  if (created != files_created_synced_) {
    VELA_RETURN_IF_ERROR(fs_.SyncDir(dir_));
    files_created_synced_ = created;
  }
  PrepareSpareSlots(files);
  return Status::OK();
}

void MessageIdIndex::PrepareSpareSlots(const std::vector<std::shared_ptr<File>>& files) {
  // When the newest file is seven eighths full, the next one's slots are made here (and touched),
  // so that starting it costs the writer no allocation and no page faults.
  if (files.empty() || files.back()->count() < files.back()->capacity() / 8 * 7) return;
  {
    std::lock_guard lock(mu_);
    if (spare_hot_slots_) return;
  }
  std::shared_ptr<uint32_t> spare = TouchedBlankSlots(geometry_.slots);
  if (!spare) return;
  std::lock_guard lock(mu_);
  if (!spare_hot_slots_) spare_hot_slots_ = std::move(spare);
}

Status MessageIdIndex::DeleteBelow(PhysicalOffset min_physical) {
  std::lock_guard lock(mu_);
  while (files_.size() > 1 && files_[1]->first_offset() <= min_physical.value()) {
    VELA_RETURN_IF_ERROR(files_.front()->MarkDeleted(fs_));
    files_.erase(files_.begin());
  }
  return Status::OK();
}

}  // namespace vela::store
