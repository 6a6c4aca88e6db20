#!/bin/bash
# Side by side: dwb_on on the previous patch's build (OLD) and on the current one (NEW), write_only at
# 64 and 128 clients, four repeats, the two builds taking turns to go first. Run as root from anywhere.
set -e
cd "$(dirname "$0")/../.."
OLD=${OLD:-/var/cache/tornbench/builds/pg-18.6-47bf37957e7cfcce/install/bin}
NEW=${NEW:-/var/cache/tornbench/builds/pg-18.6-0bc29f77eac52a94/install/bin}
common="--profile quick --modes dwb_on --workloads write_only --clients 64,128 --reports-dir reports/stale-copies"
for k in 1 2 3 4; do
  if [ $((k % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for b in $order; do
    if [ $b = old ]; then bin=$OLD; id=side-by-side-previous; else bin=$NEW; id=side-by-side-current; fi
    echo "=== repeat $k build $b $(date -u +%T)"
    ./target/release/tornbench run $common --repeats $k --pg-bin $bin --run-id $id
  done
done
echo "=== done $(date -u +%T)"
