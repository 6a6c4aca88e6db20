"""Summarizes idle_probe's output: median, range, and the mean of each 10 s stretch.

Usage: python3 idle_summary.py mem.txt alu.txt
"""
import statistics
import sys


def summarize(path):
    rows = [tuple(map(float, line.split()[:2])) for line in open(path) if line.strip()]
    times = [ms for _, ms in rows]
    stretches = {}
    for secs, ms in rows:
        stretches.setdefault(int(secs // 10), []).append(ms)
    means = [statistics.mean(v) for _, v in sorted(stretches.items()) if len(v) >= 10]
    print(f"{path}: {len(times)} tasks, median {statistics.median(times):.2f} ms, "
          f"range {min(times):.2f}-{max(times):.2f} ms; "
          f"10 s means {min(means):.2f}-{max(means):.2f} ms "
          f"({100 * (max(means) / min(means) - 1):.0f}% apart)")


for p in sys.argv[1:]:
    summarize(p)
