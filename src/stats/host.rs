//! The host's side of a measured window: CPU time by kind (/proc/stat) and bytes read and written by the
//! block devices (/proc/diskstats). sysinfo reports neither iowait nor per-window disk totals, so /proc it is.

use serde::{Deserialize, Serialize};

/// Cumulative host counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HostSnapshot {
    /// CPU seconds in user mode (nice included), all CPUs.
    pub cpu_user_secs: f64,
    /// CPU seconds in kernel mode (irq and softirq included).
    pub cpu_system_secs: f64,
    /// CPU seconds idle waiting for I/O.
    pub cpu_iowait_secs: f64,
    /// CPU seconds idle.
    pub cpu_idle_secs: f64,
    /// CPU seconds the hypervisor ran something else while this machine wanted to run (`None` in results
    /// recorded before steal was kept).
    #[serde(default)]
    pub cpu_steal_secs: Option<f64>,
    /// Bytes read by whole block devices.
    pub disk_read_bytes: f64,
    /// Bytes written by whole block devices.
    pub disk_written_bytes: f64,
}

impl HostSnapshot {
    /// Reads /proc now; counters that cannot be read are 0.
    pub fn now() -> HostSnapshot {
        let mut s = HostSnapshot::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
            s.apply_proc_stat(&stat, clock_ticks());
        }
        if let Ok(disk) = std::fs::read_to_string("/proc/diskstats") {
            let (r, w) = disk_bytes(&disk, &whole_disks());
            s.disk_read_bytes = r;
            s.disk_written_bytes = w;
        }
        s
    }

    fn apply_proc_stat(&mut self, stat: &str, ticks: f64) {
        let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
            return;
        };
        let v: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0.0) / ticks;
        // user nice system idle iowait irq softirq steal
        self.cpu_user_secs = at(0) + at(1);
        self.cpu_system_secs = at(2) + at(5) + at(6);
        self.cpu_idle_secs = at(3);
        self.cpu_iowait_secs = at(4);
        self.cpu_steal_secs = (v.len() > 7).then(|| at(7));
    }

    /// What changed between `self` (before) and `after`.
    pub fn delta(&self, after: &HostSnapshot) -> HostSnapshot {
        HostSnapshot {
            cpu_user_secs: after.cpu_user_secs - self.cpu_user_secs,
            cpu_system_secs: after.cpu_system_secs - self.cpu_system_secs,
            cpu_iowait_secs: after.cpu_iowait_secs - self.cpu_iowait_secs,
            cpu_idle_secs: after.cpu_idle_secs - self.cpu_idle_secs,
            cpu_steal_secs: after
                .cpu_steal_secs
                .zip(self.cpu_steal_secs)
                .map(|(a, b)| a - b),
            disk_read_bytes: after.disk_read_bytes - self.disk_read_bytes,
            disk_written_bytes: after.disk_written_bytes - self.disk_written_bytes,
        }
    }

    /// CPU seconds spent working (user + system).
    pub fn cpu_busy_secs(&self) -> f64 {
        self.cpu_user_secs + self.cpu_system_secs
    }

    /// Steal as a share of all CPU time the counters cover (busy, idle, iowait and steal); `None` when steal
    /// was not recorded or no time passed.
    pub fn steal_share(&self) -> Option<f64> {
        let steal = self.cpu_steal_secs?;
        let total = self.cpu_busy_secs() + self.cpu_idle_secs + self.cpu_iowait_secs + steal;
        (total > 0.0).then(|| steal / total)
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Names of whole block devices (not partitions, loop or ram devices), from /sys/block.
fn whole_disks() -> Vec<String> {
    std::fs::read_dir("/sys/block")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Bytes read and written by `devices`, from /proc/diskstats (sectors are 512 bytes there).
fn disk_bytes(diskstats: &str, devices: &[String]) -> (f64, f64) {
    let mut read = 0.0;
    let mut written = 0.0;
    for line in diskstats.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || !devices.iter().any(|d| d == f[2]) {
            continue;
        }
        read += f[5].parse::<f64>().unwrap_or(0.0) * 512.0;
        written += f[9].parse::<f64>().unwrap_or(0.0) * 512.0;
    }
    (read, written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_cpu_line() {
        let mut s = HostSnapshot::default();
        s.apply_proc_stat("cpu  100 10 50 1000 20 5 5 30 0 0\ncpu0 1 2 3\n", 100.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(s.cpu_user_secs, 1.1), "{s:?}");
        assert!(close(s.cpu_system_secs, 0.6), "{s:?}");
        assert!(close(s.cpu_iowait_secs, 0.2), "{s:?}");
        assert!(close(s.cpu_idle_secs, 10.0), "{s:?}");
        assert_eq!(s.cpu_steal_secs, Some(0.3));
    }

    #[test]
    fn steal_is_a_share_of_all_cpu_time_and_unknown_when_not_recorded() {
        let before = HostSnapshot::default();
        let mut after = HostSnapshot::default();
        after.apply_proc_stat("cpu  300 0 100 500 0 0 0 100 0 0\n", 100.0);
        // Only one side has steal: the delta cannot know it.
        assert_eq!(before.delta(&after).steal_share(), None);
        let mut start = HostSnapshot::default();
        start.apply_proc_stat("cpu  0 0 0 0 0 0 0 0 0 0\n", 100.0);
        let share = start.delta(&after).steal_share().unwrap();
        assert!((share - 0.1).abs() < 1e-9, "{share}");
        // An old kernel's line without a steal column.
        let mut old = HostSnapshot::default();
        old.apply_proc_stat("cpu  1 2 3 4 5 6 7\n", 100.0);
        assert_eq!(old.cpu_steal_secs, None);
    }

    #[test]
    fn results_recorded_before_steal_was_kept_still_load() {
        let json = r#"{"cpu_user_secs":1.0,"cpu_system_secs":2.0,"cpu_iowait_secs":0.0,"cpu_idle_secs":3.0,
            "disk_read_bytes":0.0,"disk_written_bytes":0.0}"#;
        let s: HostSnapshot = serde_json::from_str(json).unwrap();
        assert_eq!(s.cpu_steal_secs, None);
        assert_eq!(s.steal_share(), None);
    }

    #[test]
    fn counts_only_whole_disks() {
        let text = " 254       0 vda 100 0 2000 0 50 0 4000 0 0 0 0\n 254       1 vda1 100 0 2000 0 50 0 4000 0 0 0 0\n";
        assert_eq!(
            disk_bytes(text, &["vda".to_string()]),
            (2000.0 * 512.0, 4000.0 * 512.0)
        );
    }

    #[test]
    fn a_live_snapshot_moves_forward() {
        let a = HostSnapshot::now();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let b = HostSnapshot::now();
        let d = a.delta(&b);
        assert!(d.cpu_user_secs >= 0.0 && d.cpu_idle_secs >= 0.0);
    }
}
