#!/usr/bin/env python3
"""CPU time per committed transaction, by server process role and by symbol, from profile.sh's output.

Usage: cpu_by_role.py OUT              the table of roles, and each mode's background writer and checkpointer
       cpu_by_role.py OUT RUN_A RUN_B  also the symbols whose cost differs most between two runs (dwb_on-0 ...)

Each perf sample stands for 1/499 s of one CPU. Samples are put down to a role through the process list
taken during the run (`postgres: background writer` and so on) and divided by the transactions the load
driver committed in the same 20 seconds.
"""
import collections
import glob
import json
import os
import re
import subprocess
import sys

HZ = 499
WINDOW = (10, 30)  # the measured seconds the perf window covers (see profile.sh)
ROLES = ["client backend", "background writer", "checkpointer", "walwriter", "autovacuum", "load driver",
         "kworker", "kdamond", "idle", "other"]


def role_of(args):
    """The role of a process from its ps command line, or None if it is not one of ours."""
    if "tornbench" in args:
        return "load driver"
    m = re.match(r"postgres: (checkpointer|background writer|walwriter|autovacuum)", args)
    if m:
        return m.group(1)
    if args.startswith("postgres: postgres"):
        return "client backend"
    return None


def role_of_comm(comm):
    """The role of a process the process list did not name, from its command name."""
    for prefix, role in [("tokio", "load driver"), ("tornbench", "load driver"), ("kdamond", "kdamond"),
                         ("kworker", "kworker"), ("swapper", "idle")]:
        if comm.startswith(prefix):
            return role
    return "other"


def load(out, run):
    """(transactions per second in the window, {role: µs/txn}, {(role, symbol): µs/txn}) of one run."""
    roles = {}
    for line in open(f"{out}/ps-{run}.txt"):
        p = line.strip().split(None, 1)
        role = role_of(p[1]) if len(p) == 2 and p[0].isdigit() else None
        if role:
            roles[int(p[0])] = role
    series = json.load(open(f"{out}/bench-{run}.json"))["series"]
    txns = sum(x["transactions"] for x in series if WINDOW[0] < x["t"] <= WINDOW[1])
    report = subprocess.run(["perf", "report", "-i", f"{out}/perf-{run}.data", "--no-children", "-g", "none",
                             "--sort", "pid,dso,sym", "-F", "sample,pid,dso,sym", "--stdio"],
                            capture_output=True, text=True, check=True).stdout
    by_role, by_sym = collections.Counter(), collections.Counter()
    for line in report.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+):(\S+)\s+\S+\s+(.*)$", line)
        if not m:
            continue
        samples, pid, comm, sym = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4).strip()
        role = roles.get(pid) or role_of_comm(comm)
        us = samples / HZ / txns * 1e6
        by_role[role] += us
        by_sym[(role, sym)] += us
    return txns / (WINDOW[1] - WINDOW[0]), by_role, by_sym


def main():
    out = sys.argv[1]
    runs = sorted(os.path.basename(p)[5:-5] for p in glob.glob(f"{out}/perf-*.data"))
    data = {r: load(out, r) for r in runs}

    print("CPU µs per committed transaction in the 20 s perf window, by process role")
    print(f"{'run':<11}{'TPS':>6}" + "".join(f"{r[:10]:>11}" for r in ROLES) + f"{'total':>8}")
    for r in runs:
        tps, by_role, _ = data[r]
        print(f"{r:<11}{tps:6.0f}" + "".join(f"{by_role.get(x, 0):11.1f}" for x in ROLES)
              + f"{sum(by_role.values()):8.1f}")

    for role in ["background writer", "checkpointer"]:
        for mode in ["dwb_on", "fpw_on", "fpw_off"]:
            rs = [r for r in runs if r.rsplit("-", 1)[0] == mode]
            if not rs:
                continue
            mean = collections.Counter()
            for r in rs:
                for (ro, sym), us in data[r][2].items():
                    if ro == role:
                        mean[sym] += us / len(rs)
            print(f"\n{role}, {mode} (mean of {len(rs)} runs): {sum(mean.values()):.1f} µs/txn; top symbols:")
            for sym, us in mean.most_common(20 if mode == "dwb_on" else 3):
                print(f"  {us:6.2f}  {sym[:80]}")

    if len(sys.argv) == 4:
        a, b = sys.argv[2], sys.argv[3]
        sa, sb = data[a][2], data[b][2]
        print(f"\nlargest differences, {b} minus {a}, µs per transaction ({a}'s own figure second)")
        for k in sorted(set(sa) | set(sb), key=lambda k: (-(sb.get(k, 0) - sa.get(k, 0)), k))[:25]:
            print(f"{sb.get(k, 0) - sa.get(k, 0):8.2f} {sa.get(k, 0):8.2f}  {k[0]:<18} {k[1][:70]}")


if __name__ == "__main__":
    main()
