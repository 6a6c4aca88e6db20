#!/bin/bash
# CPU profile of fpw_off, fpw_on and dwb_on on the quick set, write_only at 128 clients: one server on one
# data directory, restarted in each mode in turn (twice over), `perf record -a` for 20 s in the middle of
# each 40 s measured run, and a list of the server's processes so that samples can be put down to roles.
# Run as root from anywhere; needs perf (Debian: linux-perf). Then: cpu_by_role.py OUT [RUN_A RUN_B].
set -eu
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/tornbench-cpu-profile}
CLIENTS=${CLIENTS:-128}
PORT=${PORT:-55432}
TB=./target/release/tornbench
DATA=/var/lib/tornbench/cpu-profile-data
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
mkdir -p "$OUT"
BIN=$($TB build --profile quick | tail -1)

for mode in dwb_on fpw_off fpw_on dwb_on fpw_off fpw_on; do
  n=$(ls "$OUT"/perf-$mode-*.data 2>/dev/null | wc -l)
  run=$mode-$n
  echo "=== $run $(date -u +%T)"
  $TB server --profile quick --pg-bin "$BIN" --mode $mode --data-dir $DATA --port $PORT \
    > "$OUT/server-$run.log" 2>&1 &
  server=$!
  for _ in $(seq 120); do grep -q "^host=" "$OUT/server-$run.log" && break; sleep 1; done
  grep -q "^host=" "$OUT/server-$run.log" || { echo "server did not start: $OUT/server-$run.log"; exit 1; }
  if [ ! -f "$OUT/prepared" ]; then
    $TB prepare --conn "$CONN" --tables 10 --table-size 1000000 && touch "$OUT/prepared"
  fi
  # 15 s warm-up, 40 s measured; perf covers measured seconds 10 to 30
  $TB bench --conn "$CONN" --tables 10 --table-size 1000000 --workload write_only --clients $CLIENTS \
    --warmup 15 --duration 40 -q --json "$OUT/bench-$run.json" > "$OUT/bench-$run.log" &
  bench=$!
  sleep 25
  ps -eo pid,args > "$OUT/ps-$run.txt"
  perf record -a -F 499 -o "$OUT/perf-$run.data" -- sleep 20 > /dev/null 2>&1
  wait $bench
  kill -INT $server
  wait $server || true
done
echo "=== done $(date -u +%T)"
