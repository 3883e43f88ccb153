#!/usr/bin/env python3
"""What a page of memory costs the first time it is used, on this machine (docs/performance.md,
"Fresh pages").

    python3 bench/tools/fresh_pages.py [DIR] [GIB]

Round 1 writes GIB GiB (default 3) into a new file in DIR (default /tmp) with 1 MiB pwrites and
prints the CPU per 4 KiB page of each 512 MiB; the file is deleted; round 2 does the same at once,
so its pages are the ones round 1 just freed. Then anonymous memory: 1 GiB mapped and touched once
per page, three times (unmapped in between). Only the kernel's work is in these figures: the page
allocation, its zeroing or filling, and for anonymous memory the page-table update.
"""
import mmap
import os
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
gib = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CHUNK = 512 << 20
PAGE = 4096


def write_file(path):
    buf = b"x" * (1 << 20)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    costs = []
    try:
        for chunk in range(gib * (1 << 30) // CHUNK):
            start = time.process_time()
            for i in range(CHUNK >> 20):
                os.pwrite(fd, buf, chunk * CHUNK + (i << 20))
            costs.append((time.process_time() - start) * 1e6 / (CHUNK // PAGE))
    finally:
        os.close(fd)
        os.unlink(path)
    return costs


path = os.path.join(directory, f"fresh-pages-{os.getpid()}.tmp")
for round_no in (1, 2):
    costs = write_file(path)
    print(f"page cache, round {round_no}, us per page per 512 MiB written: " + " ".join(f"{c:.2f}" for c in costs),
          flush=True)
for round_no in (1, 2, 3):
    size = 1 << 30
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    start = time.process_time()
    for offset in range(0, size, PAGE):
        m[offset] = 1
    print(f"anonymous memory, round {round_no}: {(time.process_time() - start) * 1e6 / (size // PAGE):.2f} us per page "
          "(touched once; includes the interpreter's ~0.1 us per step)", flush=True)
    m.close()
