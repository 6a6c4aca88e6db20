#!/bin/bash
# Diagnostic: dwb_on with its area on the disk vs on tmpfs (not crash-safe), write_only c64, quick set.
# usage: run.sh REPEATS
set -u
cd /work/main
G=/var/lib/tornbench/golden/10x1000000-6f9ce791da60/data
D=/var/lib/tornbench/exp-data
P=/var/cache/tornbench/builds/pg-18.6-8266d453f766ca35/install/bin
C="host=127.0.0.1 port=55432 user=postgres dbname=postgres"
OUT=/work/scratch/shm/out; mkdir -p $OUT
modes=(fpw_off dwb_on dwb_shm dwb_shm4g)
for r in $(seq 1 $1); do
  for i in 0 1 2 3; do
    m=${modes[$(( (i + r - 1) % 4 ))]}
    pkill -INT -f 'tornbench server' ; sleep 3
    rm -rf $D /dev/shm/pg_dw; cp -a $G $D
    set_args=(); tmode=$m
    case $m in
      dwb_shm|dwb_shm4g) rm -rf $D/pg_dw; mkdir /dev/shm/pg_dw; chown --reference=$G/pg_dw /dev/shm/pg_dw; chmod 700 /dev/shm/pg_dw; ln -s /dev/shm/pg_dw $D/pg_dw; tmode=dwb_on;;
    esac
    [ $m = dwb_shm4g ] && set_args=(--set double_write_buffer_size=4GB)
    log=$OUT/server-$m-r$r.log
    (setsid ./target/release/tornbench server --profile quick --mode $tmode --data-dir $D --port 55432 "${set_args[@]}" > $log 2>&1 &)
    for k in $(seq 120); do grep -q '^host=' $log 2>/dev/null && break; sleep 1; done
    $P/psql "$C" -qAtc "checkpoint" -c "show double_write" -c "show double_write_buffer_size" -c "show full_page_writes" > $OUT/settings-$m-r$r.txt
    sync
    head -1 /proc/stat > $OUT/stat0-$m-r$r
    ./target/release/tornbench bench --conn "$C" --tables 10 --table-size 1000000 --workload write_only --clients 64 --warmup 10 --duration 40 -q --json $OUT/bench-$m-r$r.json > $OUT/bench-$m-r$r.txt 2>&1
    head -1 /proc/stat > $OUT/stat1-$m-r$r
    $P/psql "$C" -xc "select * from pg_stat_double_write" > $OUT/dw-$m-r$r.txt 2>&1
    echo "$m r$r $(grep -i 'transactions' $OUT/bench-$m-r$r.txt | head -1)"
  done
done
pkill -INT -f 'tornbench server'; sleep 3; rm -rf $D /dev/shm/pg_dw
