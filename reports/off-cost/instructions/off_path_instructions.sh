#!/usr/bin/env bash
# Instructions executed by one PostgreSQL backend (single-user mode, under callgrind) for a fixed, deterministic
# write-only script, on two builds: prints one line per run with the build and its instruction count.
# Usage: off_path_instructions.sh ROWS TXNS RUNS PREFIX_A PREFIX_B [shared_buffers] [full_page_writes]
set -euo pipefail
rows=$1 txns=$2 runs=$3 a=$4 b=$5 sb=${6:-16MB} fpw=${7:-off}
work=${WORK:-/tmp/icount}
# A build's name in file names and output: its cache directory, pg-18.6-KEY.
build_tag() { basename "$(dirname "$1")"; }
rm -rf "$work" && mkdir -p "$work" && chown postgres "$work"

# The load: one write_only-like transaction per statement group, ids from a fixed sequence, no randomness.
sql="$work/load.sql"
{
  for i in $(seq 1 "$txns"); do
    id=$(( (i * 7919) % rows + 1 ))
    id2=$(( (i * 104729) % rows + 1 ))
    echo "BEGIN;"
    echo "UPDATE t SET k = k + 1 WHERE id = $id;"
    echo "UPDATE t SET c = md5(c) WHERE id = $id2;"
    echo "DELETE FROM t WHERE id = $id;"
    echo "INSERT INTO t VALUES ($id, $i, md5('$i'), 'pad');"
    echo "COMMIT;"
  done
} > "$sql"

for prefix in "$a" "$b"; do
  tag=$(build_tag "$prefix")
  golden="$work/golden-$tag"
  su postgres -c "$prefix/bin/initdb -k -A trust -D $golden" > "$work/initdb-$tag.log"
  cat >> "$golden/postgresql.conf" <<CONF
shared_buffers = $sb
full_page_writes = $fpw
checkpoint_timeout = 1d
max_wal_size = 10GB
CONF
  echo "CREATE TABLE t (id int PRIMARY KEY, k int, c text, pad text);
INSERT INTO t SELECT g, g, md5(g::text), 'pad' FROM generate_series(1, $rows) g;
CREATE INDEX t_k ON t (k);
VACUUM ANALYZE t;
CHECKPOINT;" | su postgres -c "$prefix/bin/postgres --single -D $golden postgres" > "$work/setup-$tag.log"
done

for r in $(seq 1 "$runs"); do
  for prefix in "$a" "$b"; do
    tag=$(build_tag "$prefix")
    d="$work/run-$tag"
    rm -rf "$d" && cp -a "$work/golden-$tag" "$d"
    out="$work/cg-$tag-$r.out"
    su postgres -c "valgrind --tool=callgrind --callgrind-out-file=$out --trace-children=no \
      $prefix/bin/postgres --single -D $d postgres" < "$sql" > "$work/run-$tag-$r.log" 2>&1
    total=$(grep -m1 '^summary:\|^totals:' "$out" | awk '{print $2}')
    echo "$tag run $r instructions $total"
  done
done
