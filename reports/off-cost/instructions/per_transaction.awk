# Instructions per transaction of each build, and the patched build's difference, from the output of
# off_path_instructions.sh run once per transaction count (lines "txns N BUILD run R instructions COUNT"):
# the difference of the mean counts of the shortest and longest script, per transaction added, so that
# start-up and shutdown cancel out. The first build seen is taken as the baseline (the stock build).
# Usage: awk -f per_transaction.awk results-fpw-off.txt
$1 == "txns" {
    n = $2; build = $3
    sum[build, n] += $7; cnt[build, n]++
    if (!(build in seen)) { seen[build] = 1; order[++builds] = build }
    if (lo == "" || n < lo) lo = n
    if (hi == "" || n > hi) hi = n
}
END {
    for (i = 1; i <= builds; i++) {
        b = order[i]
        per[b] = (sum[b, hi] / cnt[b, hi] - sum[b, lo] / cnt[b, lo]) / (hi - lo)
        fixed = sum[b, lo] / cnt[b, lo] - lo * per[b]
        printf "%s: %.0f instructions per transaction, %.0f once per run\n", b, per[b], fixed
    }
    base = order[1]
    for (i = 2; i <= builds; i++) {
        b = order[i]
        printf "%s - %s: %+.0f per transaction (%+.3f%%)\n", b, base, per[b] - per[base],
            100 * (per[b] - per[base]) / per[base]
    }
}
