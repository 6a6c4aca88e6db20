#!/usr/bin/env python3
"""Side-by-side check that tornbench's driver is faithful to sysbench 1.0.20 and cheaper than it.

Against one server and one data set, runs `sysbench oltp_<workload> run --rand-type=uniform` and
`tornbench bench` back to back, alternating which goes first, for write_only and read_write, and prints
for each: the TPS of both, their ratio, and the client's CPU seconds per 1,000 transactions, read from
/proc/<pid>/stat (utime + stime) of the client process just after it exits (waitid WNOWAIT keeps the
zombie's /proc entry readable until we reap it).

With --prepare it first times `sysbench oltp_write_only prepare` against `tornbench prepare` (same tables
and rows, same server); tornbench's load is left in place for the runs.

Example (a server from `tornbench server --profile quick --mode fpw_off` on port 5432):
    scripts/compare_sysbench.py --port 5432 --tables 10 --table-size 200000 --secs 60 --prepare
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
TXN_RE = re.compile(r"transactions:\s+(\d+)\s+\(([\d.]+) per sec")


def run_measured(cmd):
    """Runs cmd; returns (wall seconds, client CPU seconds from /proc, combined output)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After ")" field 0 is the state (field 3 of proc(5)); utime and stime are fields 14 and 15.
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    proc.wait()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return wall, cpu, out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_bin = os.path.join(here, "..", "target", "release", "tornbench")
    if os.environ.get("CARGO_TARGET_DIR"):
        default_bin = os.path.join(os.environ["CARGO_TARGET_DIR"], "release", "tornbench")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="postgres")
    p.add_argument("--db", default="postgres")
    p.add_argument("--tables", type=int, default=10)
    p.add_argument("--table-size", type=int, default=200_000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--secs", type=int, default=60, help="seconds per run")
    p.add_argument("--rounds", type=int, default=2, help="runs of each tool per workload")
    p.add_argument("--workloads", default="write_only,read_write")
    p.add_argument("--prepare", action="store_true", help="first compare the load times")
    p.add_argument("--tornbench", default=default_bin, help="a release build of tornbench")
    p.add_argument("--psql", default=shutil.which("psql"),
                   help="psql, to CHECKPOINT before each timed load [default: from PATH; skipped if none]")
    a = p.parse_args()
    if not shutil.which("sysbench"):
        sys.exit("sysbench is not on PATH (apt-get install sysbench)")
    conn = f"host={a.host} port={a.port} user={a.user} dbname={a.db}"
    data = [f"--tables={a.tables}", f"--table-size={a.table_size}"]
    sb_conn = ["--db-driver=pgsql", f"--pgsql-host={a.host}", f"--pgsql-port={a.port}",
               f"--pgsql-user={a.user}", f"--pgsql-db={a.db}"]
    tb_data = ["--conn", conn, "--tables", str(a.tables), "--table-size", str(a.table_size)]

    def checkpoint():
        # The previous load's dirty pages and WAL are not the next one's work.
        if a.psql:
            subprocess.run([a.psql, conn, "-qc", "CHECKPOINT"], check=True)

    if a.prepare:
        subprocess.run(["sysbench", "oltp_write_only", *sb_conn, *data, "cleanup"], check=True,
                       stdout=subprocess.DEVNULL)
        checkpoint()
        sb_wall, _, _ = run_measured(["sysbench", "oltp_write_only", *sb_conn, *data, "prepare"])
        subprocess.run([a.tornbench, "prepare", "--drop", *tb_data], check=True, stderr=subprocess.DEVNULL)
        checkpoint()
        tb_wall, _, out = run_measured([a.tornbench, "prepare", *tb_data])
        print(f"prepare {a.tables} x {a.table_size} rows: sysbench {sb_wall:.2f} s, "
              f"tornbench {tb_wall:.2f} s, speed-up {sb_wall / tb_wall:.1f}x")
        print("  tornbench: " + out.strip().splitlines()[-1])
        sys.stdout.flush()

    print(f"\n{a.clients} clients, {a.secs} s per run, {a.rounds} runs each, alternating; "
          f"client CPU from /proc/<pid>/stat utime+stime")
    for workload in a.workloads.split(",") if a.rounds > 0 else []:
        runs = {"sysbench": [], "tornbench": []}
        for r in range(a.rounds):
            order = ["sysbench", "tornbench"] if r % 2 == 0 else ["tornbench", "sysbench"]
            for tool in order:
                if tool == "sysbench":
                    cmd = ["sysbench", f"oltp_{workload}", *sb_conn, *data, f"--threads={a.clients}",
                           f"--time={a.secs}", "--rand-type=uniform", "run"]
                else:
                    cmd = [a.tornbench, "bench", *tb_data, "--workload", workload, "--clients",
                           str(a.clients), "--duration", str(a.secs), "--distribution", "uniform",
                           "--quiet"]
                _, cpu, out = run_measured(cmd)
                m = TXN_RE.search(out)
                if not m:
                    sys.exit(f"no transaction count in the output of {tool}:\n{out}")
                txns, tps = int(m.group(1)), float(m.group(2))
                runs[tool].append((tps, cpu / txns * 1000))
                print(f"  {workload:<10} round {r + 1} {tool:<9} tps {tps:9.2f}  "
                      f"client CPU {cpu:6.2f} s = {cpu / txns * 1000:.3f} s per 1000 txn")
                sys.stdout.flush()
        sb_tps = statistics.mean(t for t, _ in runs["sysbench"])
        tb_tps = statistics.mean(t for t, _ in runs["tornbench"])
        sb_cpu = statistics.mean(c for _, c in runs["sysbench"])
        tb_cpu = statistics.mean(c for _, c in runs["tornbench"])
        print(f"{workload}: TPS sysbench {sb_tps:.2f}, tornbench {tb_tps:.2f}, ratio {tb_tps / sb_tps:.3f}; "
              f"client CPU per 1000 txn sysbench {sb_cpu:.3f} s, tornbench {tb_cpu:.3f} s "
              f"(ratio {tb_cpu / sb_cpu:.3f})")


if __name__ == "__main__":
    main()
