#!/bin/bash
# Does the tool's separate warm-up (same seed, reconnect) change fpw_off vs dwb_on?
# variants: cont = one bench with --warmup 10 (stream continues); replay = bench 10 s then bench 40 s, same seed
set -u
cd /work/main
G=/var/lib/tornbench/golden/10x1000000-6f9ce791da60/data
D=/var/lib/tornbench/exp-data
P=/var/cache/tornbench/builds/pg-18.6-8266d453f766ca35/install/bin
C="host=127.0.0.1 port=55432 user=postgres dbname=postgres"
OUT=/work/scratch/shm/out2; mkdir -p $OUT
combos=(fpw_off:cont dwb_on:cont fpw_off:replay dwb_on:replay)
B="./target/release/tornbench bench --tables 10 --table-size 1000000 --workload write_only --clients 64 -q"
for r in $(seq 1 $1); do
  for i in 0 1 2 3; do
    c=${combos[$(( (i + r - 1) % 4 ))]}; m=${c%:*}; v=${c#*:}
    pkill -INT -f 'tornbench server' ; sleep 3
    rm -rf $D; cp -a $G $D
    log=$OUT/server-$m-$v-r$r.log
    (setsid ./target/release/tornbench server --profile quick --mode $m --data-dir $D --port 55432 > $log 2>&1 &)
    for k in $(seq 120); do grep -q '^host=' $log 2>/dev/null && break; sleep 1; done
    $P/psql "$C" -qAtc "checkpoint"; sync
    if [ $v = cont ]; then
      $B --conn "$C" --seed $((1+r)) --warmup 10 --duration 40 > $OUT/bench-$m-$v-r$r.txt 2>&1
    else
      $B --conn "$C" --seed $((1+r)) --duration 10 > /dev/null 2>&1
      $B --conn "$C" --seed $((1+r)) --duration 40 > $OUT/bench-$m-$v-r$r.txt 2>&1
    fi
    echo "$m $v r$r $(grep -i 'transactions:' $OUT/bench-$m-$v-r$r.txt | head -1)"
  done
done
pkill -INT -f 'tornbench server'; sleep 3; rm -rf $D
