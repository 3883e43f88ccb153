#include "store/store_verifier.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/coding.h"
#include "common/message_record.h"
#include "store/consume_queue.h"
#include "store/mapped_segment.h"

namespace vela::store {

namespace {
constexpr size_t kMaxProblems = 100;

void AddProblem(StoreVerifyReport& report, std::string line) {
  if (report.problems.size() < kMaxProblems) report.problems.push_back(std::move(line));
}

// Checks the entries of one consume queue's files against the log.
Status VerifyQueue(FileSystem& fs, const CommitLog& log, const std::string& dir, const std::string& topic,
                   uint32_t queue_id, StoreVerifyReport& report) {
  VELA_ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  std::sort(names.begin(), names.end());
  ++report.queues;
  for (const auto& name : names) {
    int64_t base;
    if (!MappedSegment::ParseFileName(name, &base)) continue;
    VELA_ASSIGN_OR_RETURN(std::string bytes, fs.ReadFile(dir + "/" + name));
    for (size_t at = 0; at + kQueueEntrySize <= bytes.size(); at += kQueueEntrySize) {
      const char* p = bytes.data() + at;
      const auto physical = static_cast<int64_t>(coding::GetFixed64(p));
      const auto size = static_cast<int64_t>(coding::GetFixed32(p + 8));
      if (size == 0) continue;
      const int64_t queue_offset = (base + static_cast<int64_t>(at)) / kQueueEntrySize;
      ++report.queue_entries;
      if (physical < log.min_offset().value()) continue;  // retention removed its record: not damage
      auto seg = log.SegmentFor(PhysicalOffset(physical));
      RecordView view;
      std::string why = "no segment holds it";
      if (seg && physical + size <= seg->end() &&
          DecodeRecord(seg->View(physical - seg->base(), size), /*verify_crc=*/true, &view, &why) ==
              DecodeOutcome::kRecord) {
        if (view.topic == topic && view.queue_id == queue_id && view.queue_offset == queue_offset &&
            view.physical_offset == physical) {
          continue;
        }
        why = fmt::format("the record there is {}/{} offset {}", view.topic, view.queue_id, view.queue_offset);
      }
      ++report.bad_queue_entries;
      AddProblem(report, fmt::format("queue {}/{} offset {} -> commit-log offset {} size {}: {}", topic, queue_id,
                                     queue_offset, physical, size, why));
    }
  }
  return Status::OK();
}
}  // namespace

Result<StoreVerifyReport> VerifyStore(const std::string& root) {
  auto fs = DefaultFileSystem();
  StoreVerifyReport report;
  const std::string log_dir = root + "/commitlog";
  VELA_ASSIGN_OR_RETURN(auto names, fs->ListDir(log_dir));
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    int64_t base;
    if (!MappedSegment::ParseFileName(name, &base)) continue;
    VELA_ASSIGN_OR_RETURN(auto file, fs->OpenFile(log_dir + "/" + name, /*create=*/false));
    VELA_ASSIGN_OR_RETURN(report.segment_size, file->Size());
    break;
  }
  if (report.segment_size == 0) return report;  // an empty store
  CommitLog log(*fs, log_dir, report.segment_size, /*size_limit=*/0, /*store_host=*/0, /*prewrite_segments=*/false);
  VELA_RETURN_IF_ERROR(log.Load());
  const auto scan = log.Scan(log.min_offset());
  report.log_min = log.min_offset();
  report.log_end = scan.end_offset;
  report.records = scan.records;
  report.damaged = scan.damaged;
  report.tail_reason = scan.reason;
  for (const auto& d : scan.damaged) {
    AddProblem(report, fmt::format("commit log [{}, {}): no intact record ({})", d.begin, d.end, d.reason));
  }
  if (!scan.reason.empty()) {
    AddProblem(report, fmt::format("commit log ends at {}: {} (a torn tail, cut at the next recovery)",
                                   scan.end_offset, scan.reason));
  }

  const std::string cq_dir = root + "/consumequeue";
  if (!fs->Exists(cq_dir)) return report;
  VELA_ASSIGN_OR_RETURN(auto topics, fs->ListDir(cq_dir));
  std::sort(topics.begin(), topics.end());
  for (const auto& topic : topics) {
    auto queues = fs->ListDir(cq_dir + "/" + topic);
    if (!queues.ok()) continue;
    for (const auto& queue : *queues) {
      const bool numeric = !queue.empty() && queue.size() <= 9 &&
                           std::all_of(queue.begin(), queue.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!numeric) continue;
      VELA_RETURN_IF_ERROR(VerifyQueue(*fs, log, cq_dir + "/" + topic + "/" + queue, topic,
                                       static_cast<uint32_t>(std::stoul(queue)), report));
    }
  }
  return report;
}

}  // namespace vela::store
