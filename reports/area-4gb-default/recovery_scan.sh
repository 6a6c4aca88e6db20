#!/usr/bin/env bash
# What does a 4GB double-write area cost at crash recovery? The startup process reads every used slot
# before redo. This fills the default area with a write_only load on a copy of the quick profile's golden
# data directory, kills the server, and times the restart from its log.
#
# usage: recovery_scan.sh PG_BIN_DIR TORNBENCH_BINARY GOLDEN_DATA_DIR [SECONDS]
# Run as root; the server runs as the tornbench user. Prints the log lines of the restart.
set -euo pipefail

bin=${1:?PostgreSQL bin directory (the tornbench build)}
tornbench=${2:?tornbench binary}
golden=${3:?golden data directory of the quick profile}
seconds=${4:-90}
dir=/var/lib/tornbench/recovery-scan
port=54999
conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
as_server() { su tornbench -s /bin/bash -c "$*"; }

rm -rf "$dir"
mkdir -p "$dir"
cp -a "$golden" "$dir/data"
chown -R tornbench "$dir"
# postgresql.conf includes tornbench.conf (the golden's fpw_off settings); later lines win.
cat >>"$dir/data/tornbench.conf" <<EOF
port = $port
full_page_writes = off
double_write = on
EOF
as_server "$bin/pg_ctl -D $dir/data -l $dir/server.log -w -t 300 start"
"$tornbench" bench --conn "$conn" --tables 10 --table-size 1000000 --workload write_only \
    --clients 64 --duration "$seconds"
"$bin/psql" "$conn" -Atc "SELECT 'slots in use: ' || slots_in_use || ' of ' || slots FROM pg_stat_double_write"

# A crash: the postmaster stopped so that it cannot react, its children and then it killed.
pid=$(head -1 "$dir/data/postmaster.pid")
kill -STOP "$pid"
pkill -9 -P "$pid" || true
kill -9 "$pid"
sleep 2
rm -f "$dir/data/postmaster.pid"
start=$(date +%s.%N)
as_server "$bin/pg_ctl -D $dir/data -l $dir/server.log -w -t 600 start"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "restart took %.1f s\n", e - s }'
grep -E "was interrupted|redo starts|redo done|double-write|slots in use|ready to accept" "$dir/server.log" | tail -7
as_server "$bin/pg_ctl -D $dir/data -m fast -w stop"
rm -rf "$dir"
