// vela-store: offline tools for a broker's store directory (CLI.md). `verify` scans it read-only.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/command_line.h"
#include "store/store_verifier.h"

namespace {

int Verify(const std::string& dir, bool json) {
  auto report = vela::store::VerifyStore(dir);
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n", report.status().ToString().c_str());
    return 2;
  }
  const auto& r = *report;
  if (json) {
    nlohmann::json j;
    j["storeDir"] = dir;
    j["clean"] = r.clean();
    j["segmentSize"] = r.segment_size;
    j["commitLogMinOffset"] = r.log_min.value();
    j["commitLogEndOffset"] = r.log_end.value();
    j["records"] = r.records;
    j["damagedRanges"] = nlohmann::json::array();
    for (const auto& d : r.damaged) {
      j["damagedRanges"].push_back({{"begin", d.begin.value()}, {"end", d.end.value()}, {"reason", d.reason}});
    }
    j["tornTail"] = r.tail_reason;
    j["queues"] = r.queues;
    j["queueEntries"] = r.queue_entries;
    j["badQueueEntries"] = r.bad_queue_entries;
    j["problems"] = r.problems;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("store %s: commit log [%lld, %lld), %lld intact records, %zu damaged range(s)%s\n", dir.c_str(),
                static_cast<long long>(r.log_min.value()), static_cast<long long>(r.log_end.value()),
                static_cast<long long>(r.records), r.damaged.size(), r.tail_reason.empty() ? "" : ", a torn tail");
    std::printf("consume queues: %lld, entries %lld, bad entries %lld\n", static_cast<long long>(r.queues),
                static_cast<long long>(r.queue_entries), static_cast<long long>(r.bad_queue_entries));
    for (const auto& p : r.problems) std::printf("problem: %s\n", p.c_str());
    std::printf("%s\n", r.clean() ? "clean" : "DAMAGED");
  }
  return r.clean() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vela-store: offline tools for a Vela store directory"};
  vela::AddVersionFlag(app, "vela-store");
  app.require_subcommand(1);
  std::string dir;
  bool json = false;
  auto* verify = app.add_subcommand("verify", "Check every commit-log record's CRC and every consume-queue entry "
                                              "(read-only). Exit status 0: clean, 1: damage found, 2: unreadable");
  verify->add_option("--store-dir", dir, "the store directory (storePathRootDir)")->required();
  verify->add_flag("--json", json, "print the report as JSON");
  if (auto code = vela::ParseCommandLine(app, argc, argv)) return *code;
  return Verify(dir, json);
}
