#!/usr/bin/env python3
"""How long does a small WAL-like flush wait while double-write batches are being written?

One thread writes 8MB batches to an O_DIRECT file, each in writes of PIECE pages (one after another) and then
one fdatasync, as the double-write area is written. Meanwhile the main thread writes 8kB to another,
buffered file and fdatasyncs it, like a commit's WAL flush, every 10 ms. Prints, for each piece size, the
median and 90th percentile of that small flush and the batches per second the writer managed.

    reports/io-size/queue_latency.py --dir /var/lib/tornbench
"""

import argparse
import mmap
import os
import statistics
import threading
import time

PAGE = 8192
BATCH_PAGES = 1024
AREA_BYTES = 256 << 20


def open_file(path, direct):
    flags = os.O_RDWR | os.O_CREAT | (os.O_DIRECT if direct else 0)
    fd = os.open(path, flags, 0o600)
    os.ftruncate(fd, AREA_BYTES)
    return fd


def measure(area_fd, wal_fd, piece, samples):
    """Returns (median ms, p90 ms, batches per second) for one piece size (None: the batch in one write)."""
    batch = mmap.mmap(-1, BATCH_PAGES * PAGE)  # page-aligned, as O_DIRECT needs
    batch.write(os.urandom(BATCH_PAGES * PAGE))
    record = mmap.mmap(-1, PAGE)
    record.write(os.urandom(PAGE))
    stop = threading.Event()
    batches = [0]

    def writer():
        view = memoryview(batch)
        step = piece or BATCH_PAGES
        while not stop.is_set():
            base = (batches[0] * BATCH_PAGES * PAGE) % (AREA_BYTES - BATCH_PAGES * PAGE)
            for first in range(0, BATCH_PAGES, step):
                os.pwritev(area_fd, [view[first * PAGE:(first + step) * PAGE]], base + first * PAGE)
            os.fdatasync(area_fd)
            batches[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    started = time.monotonic()
    waits = []
    for i in range(samples):
        t = time.perf_counter()
        os.pwritev(wal_fd, [record], (i % 1024) * PAGE)
        os.fdatasync(wal_fd)
        waits.append((time.perf_counter() - t) * 1000)
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    stop.set()
    thread.join()
    waits.sort()
    return statistics.median(waits), waits[int(len(waits) * 0.9)], batches[0] / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".", help="directory for the two 256MB scratch files")
    parser.add_argument("--samples", type=int, default=100, help="small flushes per piece size")
    parser.add_argument("--pieces", default="0,128,64,32,0",
                        help="piece sizes in pages, comma-separated; 0 writes each batch in one write")
    args = parser.parse_args()
    area_path = os.path.join(args.dir, "queue_latency.area")
    wal_path = os.path.join(args.dir, "queue_latency.wal")
    area_fd, wal_fd = open_file(area_path, True), open_file(wal_path, False)
    try:
        print(f"{'piece':>10} {'flush median':>13} {'flush p90':>10} {'batches/s':>10}")
        for piece in (int(p) for p in args.pieces.split(",")):
            median, p90, rate = measure(area_fd, wal_fd, piece or None, args.samples)
            label = f"{piece * PAGE // 1024}kB" if piece else "one write"
            print(f"{label:>10} {median:>10.2f} ms {p90:>7.2f} ms {rate:>10.1f}")
    finally:
        os.close(area_fd)
        os.close(wal_fd)
        os.unlink(area_path)
        os.unlink(wal_path)


if __name__ == "__main__":
    main()
