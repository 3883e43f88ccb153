#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/commit_log.h"
#include "store/offsets.h"

namespace vela::store {

// What VerifyStore found in a store directory.
struct StoreVerifyReport {
  int64_t segment_size = 0;
  PhysicalOffset log_min;      // first byte of the oldest segment
  PhysicalOffset log_end;      // where the intact data ends
  int64_t records = 0;         // intact records in the log
  std::vector<CommitLog::DamagedRange> damaged;  // damage in the middle (intact records follow)
  std::string tail_reason;     // why the data ends where it does ("" at a clean end)
  int64_t queues = 0;          // consume queues checked
  int64_t queue_entries = 0;   // entries checked
  int64_t bad_queue_entries = 0;  // entries naming no intact record of their queue and offset
  std::vector<std::string> problems;  // the first problems, one line each

  bool clean() const { return damaged.empty() && tail_reason.empty() && bad_queue_entries == 0; }
};

// Scans a store directory read-only: every commit-log record's CRC (as recovery does, telling damage
// in the middle from a torn tail) and every consume-queue entry (it must name an intact record of
// its topic, queue and offset). Changes nothing; safe next to a running broker (whose newest bytes
// may then move while they are read). Fails only when the directory cannot be read.
Result<StoreVerifyReport> VerifyStore(const std::string& root);

}  // namespace vela::store
