// vela-fsync-latency: what the disk itself allows a durable append, without any broker. Writes
// --count records of --size bytes (pwrite at the next offset, then fdatasync) into a file under
// --dir, one file per way of preparing it, and prints the latency of each write + sync:
//   append     a file that grows with each write (every sync also commits a size change)
//   fallocated a file fallocated beforehand (unwritten extents: a sync converts one)
//   prewritten a file filled with zeros and synced beforehand (a sync writes data only)
// This is the floor under a SYNC_FLUSH send at window 1 (bench/compare.sh prints it beside the
// broker's figures, measured in the same run).
//   vela-fsync-latency --dir /tmp/x --count 2000 --size 1024 --rounds 2 [--json]
// Exit status: 0, 1 on an I/O error, 2 on bad usage.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace {

// Latencies in microseconds of one way of preparing the file, over every round.
struct Way {
  std::string name;
  std::vector<double> us;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool Fail(const char* what, const std::string& path) {
  std::fprintf(stderr, "vela-fsync-latency: %s %s: %s\n", what, path.c_str(), std::strerror(errno));
  return false;
}

// Prepares `path` as `way` says for `bytes` bytes, then times count pwrite + fdatasync pairs.
bool Run(const std::string& path, const std::string& way, int count, int size, std::vector<double>* out) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Fail("open", path);
  const int64_t bytes = static_cast<int64_t>(count) * size;
  if (way != "append" && ::posix_fallocate(fd, 0, bytes) != 0) return Fail("fallocate", path);
  if (way == "prewritten") {
    const std::string zeros(1 << 20, '\0');
    for (int64_t off = 0; off < bytes; off += static_cast<int64_t>(zeros.size())) {
      const auto n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(zeros.size()), bytes - off));
      if (::pwrite(fd, zeros.data(), n, off) != static_cast<ssize_t>(n)) return Fail("pwrite", path);
    }
  }
  if (::fsync(fd) != 0) return Fail("fsync", path);
  const std::string record(static_cast<size_t>(size), 'r');
  for (int i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (::pwrite(fd, record.data(), record.size(), static_cast<off_t>(i) * size) != size) return Fail("pwrite", path);
    if (::fdatasync(fd) != 0) return Fail("fdatasync", path);
    out->push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vela-fsync-latency: pwrite + fdatasync latency of this disk, three ways"};
  std::string dir = "/tmp";
  int count = 2000, size = 1024, rounds = 2;
  bool json = false;
  app.add_option("--dir", dir, "directory for the test files (on the disk to measure)");
  app.add_option("--count", count, "writes per way and round")->check(CLI::Range(1, 10000000));
  app.add_option("--size", size, "bytes per write")->check(CLI::Range(1, 1 << 24));
  app.add_option("--rounds", rounds, "rounds, the ways interleaved in each")->check(CLI::Range(1, 100));
  app.add_flag("--json", json, "one JSON object instead of text");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::vector<Way> ways = {{"append", {}}, {"fallocated", {}}, {"prewritten", {}}};
  for (int r = 0; r < rounds; ++r) {
    for (auto& w : ways) {
      const std::string path = dir + "/vela-fsync-latency." + std::to_string(::getpid()) + "." + w.name;
      if (!Run(path, w.name, count, size, &w.us)) return 1;
    }
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& w : ways) {
    out[w.name] = {{"p50_us", Percentile(w.us, 50)}, {"p99_us", Percentile(w.us, 99)},
                   {"p999_us", Percentile(w.us, 99.9)}, {"max_us", Percentile(w.us, 100)}, {"samples", w.us.size()}};
  }
  if (json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    for (const auto& w : ways) {
      const auto& o = out[w.name];
      std::printf("%-10s p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us  max %7.1f us  (%zu writes of %d B)\n",
                  w.name.c_str(), o["p50_us"].get<double>(), o["p99_us"].get<double>(), o["p999_us"].get<double>(),
                  o["max_us"].get<double>(), w.us.size(), size);
    }
  }
  return 0;
}
