// vela-page-cost: what it costs this machine to read written file pages through a mapping (a
// page fault maps each page into the process) against copying them with pread. Writes a file of
// --mib MiB with pwrite (so its pages are in the page cache, as a commit-log segment's are), then
// reads it back three ways and prints the time per 4 KiB page (the file is written --chunk-kib at a
// time, which also sets how large the page cache's folios are, and so how many pages a fault maps):
//   touch     mmap and read one byte per page (the kernel's fault-around maps a few pages a fault)
//   populate  mmap and MADV_POPULATE_READ --chunk-kib at a time, then read one byte per page
//   pread     pread --chunk-kib at a time into one buffer (a copy, no mapping)
// On this project's virtual machine mapping cost ~1.2 µs a page and copying ~0.2-0.5 µs
// (docs/performance.md, 2026-12-03), which decides where the broker reads records from.
// --write-kib sets the pwrite size apart from the read chunk; --prefault 1 first fallocates the file
// and reads it into the page cache (POSIX_FADV_WILLNEED), as the broker does ahead of its writer.
//   vela-page-cost --dir /tmp --mib 256 --chunk-kib 256 [--write-kib 16] [--prefault 1]
// Exit status: 0, 1 on an I/O error, 2 on bad usage.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace {

int Fail(const char* what) {
  std::perror(what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp";
  size_t mib = 256;
  size_t chunk_kib = 256;
  size_t write_kib = 0;  // 0: chunk_kib
  bool prefault = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--mib") {
      mib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (flag == "--chunk-kib") {
      chunk_kib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (flag == "--write-kib") {
      write_kib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (flag == "--prefault") {
      prefault = std::string(argv[i + 1]) == "1";
    } else {
      std::fprintf(stderr, "usage: vela-page-cost [--dir DIR] [--mib N] [--chunk-kib N] [--write-kib N] [--prefault 0|1]\n");
      return 2;
    }
  }
  if (argc % 2 == 0 || mib == 0 || chunk_kib == 0 || chunk_kib % 4 != 0 || (mib * 1024) % chunk_kib != 0) {
    std::fprintf(stderr, "usage: vela-page-cost [--dir DIR] [--mib N] [--chunk-kib N (a multiple of 4 dividing the size)]\n");
    return 2;
  }
  const size_t size = mib << 20;
  const size_t chunk = chunk_kib << 10;
  if (write_kib == 0) write_kib = chunk_kib;
  if ((mib * 1024) % write_kib != 0) {
    std::fprintf(stderr, "--write-kib must divide the size\n");
    return 2;
  }
  const size_t write_size = write_kib << 10;
  const size_t pages = size / 4096;
  const std::string path = dir + "/vela-page-cost." + std::to_string(::getpid());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Fail("open");
  ::unlink(path.c_str());  // gone when closed
  if (prefault) {
    // As the broker prepares a segment: allocated, then read into the page cache ahead of the writer.
    if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) return Fail("fallocate");
    (void)::posix_fadvise(fd, 0, static_cast<off_t>(size), POSIX_FADV_WILLNEED);
  }
  std::vector<char> buffer(std::max(chunk, write_size), 'x');
  for (size_t off = 0; off < size; off += write_size) {
    if (::pwrite(fd, buffer.data(), write_size, static_cast<off_t>(off)) != static_cast<ssize_t>(write_size)) {
      return Fail("pwrite");
    }
  }
  const char* names[] = {"touch", "populate", "pread"};
  for (int way = 0; way < 3; ++way) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) return Fail("mmap");
    const auto* bytes = static_cast<const volatile char*>(mapped);
    const auto start = std::chrono::steady_clock::now();
    volatile char sink = 0;  // the reads must happen
    if (way == 2) {
      for (size_t off = 0; off < size; off += chunk) {
        if (::pread(fd, buffer.data(), chunk, static_cast<off_t>(off)) != static_cast<ssize_t>(chunk)) return Fail("pread");
        sink = buffer[0];
      }
    } else {
      if (way == 1) {
        for (size_t off = 0; off < size; off += chunk) {
          if (::madvise(static_cast<char*>(mapped) + off, chunk, MADV_POPULATE_READ) != 0) return Fail("madvise");
        }
      }
      for (size_t off = 0; off < size; off += 4096) sink = bytes[off];
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-8s %10.0f us for %zu pages: %.2f us per 4 KiB page (chunks of %zu KiB)%s\n", names[way], us, pages,
                us / static_cast<double>(pages), chunk_kib, sink == 'x' ? "" : " (unexpected bytes)");
    ::munmap(mapped, size);
  }
  ::close(fd);
  return 0;
}
