//! Text in sysbench's shape: the live `[ Ns ] tps: ... qps: ...` lines and the final summary.

use super::result::{BenchResult, SecondSample};
use std::fmt::Write;

/// One live line, like sysbench's `--report-interval` output.
pub fn sample_line(s: &SecondSample, clients: u32, warmup: bool) -> String {
    format!(
        "[ {:>4.0}s{} ] thds: {clients} tps: {:.2} qps: {:.2} lat (ms,95%): {:.2} err/s: {:.2}",
        s.t,
        if warmup { " warm-up" } else { "" },
        s.tps(),
        s.qps(),
        s.latency.p95_ms,
        if s.secs > 0.0 {
            s.errors as f64 / s.secs
        } else {
            0.0
        },
    )
}

/// The final summary, like sysbench's.
pub fn render(r: &BenchResult) -> String {
    let mut out = String::new();
    let per_sec = |n: u64| n as f64 / r.elapsed_secs;
    let st = &r.statements;
    let e = &r.errors;
    let _ = writeln!(out, "SQL statistics:");
    let _ = writeln!(out, "    queries performed:");
    let _ = writeln!(out, "        read:                            {}", st.reads);
    let _ = writeln!(
        out,
        "        write:                           {}",
        st.writes
    );
    let _ = writeln!(out, "        other:                           {}", st.other);
    let _ = writeln!(
        out,
        "        total:                           {}",
        st.total()
    );
    let _ = writeln!(
        out,
        "    transactions:                        {:<8} ({:.2} per sec.)",
        r.transactions, r.tps
    );
    let _ = writeln!(
        out,
        "    queries:                             {:<8} ({:.2} per sec.)",
        st.total(),
        r.qps
    );
    let _ = writeln!(
        out,
        "    ignored errors:                      {:<8} ({:.2} per sec.)  deadlock {}, serialization {}, unique {}",
        e.total(),
        per_sec(e.total()),
        e.deadlock,
        e.serialization_failure,
        e.unique_violation
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "General statistics:");
    let _ = writeln!(
        out,
        "    total time:                          {:.4}s",
        r.elapsed_secs
    );
    let _ = writeln!(
        out,
        "    workload / clients / distribution:   {} / {} / {}",
        r.settings.workload, r.settings.clients, r.settings.distribution
    );
    let _ = writeln!(out);
    let l = &r.latency;
    let _ = writeln!(out, "Latency (ms):");
    for (name, v) in [
        ("min", l.min_ms),
        ("avg", l.avg_ms),
        ("50th percentile", l.p50_ms),
        ("95th percentile", l.p95_ms),
        ("99th percentile", l.p99_ms),
        ("99.9th percentile", l.p999_ms),
        ("max", l.max_ms),
    ] {
        let _ = writeln!(out, "         {:<18}{:>22.2}", format!("{name}:"), v);
    }
    out
}
