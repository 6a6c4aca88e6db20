//! A probe of the host's memory speed during a measured window. On a shared virtual machine the same
//! work can take a third more or less CPU time from one minute to the next, because other guests load
//! the caches and memory the machine shares with them; CPU frequency stays put and steal stays near zero,
//! so neither /proc/stat nor a compute-only loop shows it. The probe times one fixed, cache-missing task
//! in its own thread's CPU time, once a second: the slower the host's memory right now, the longer it
//! takes. The report uses the medians to tell host noise from the difference between modes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// 8 MiB of 64-bit words: larger than the caches a guest's share of one socket gives it.
const PROBE_WORDS: usize = 1 << 20;
/// Passes over the array per timed task (about 10 ms of CPU on an idle host here).
const PROBE_PASSES: usize = 4;
/// Odd stride through the array, so that nearly every load misses the caches' prefetchers.
const PROBE_STRIDE: usize = 7919;

/// What the probe saw over one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// Timed tasks in the window.
    pub samples: usize,
    /// Median CPU milliseconds of one task: higher means a slower host.
    pub median_ms: f64,
}

impl ProbeSummary {
    /// Summarizes task times in milliseconds; `None` when there are none.
    pub fn of(times_ms: &[f64]) -> Option<ProbeSummary> {
        if times_ms.is_empty() {
            return None;
        }
        let mut v = times_ms.to_vec();
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median_ms = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(ProbeSummary {
            samples: v.len(),
            median_ms,
        })
    }
}

/// A running probe: a thread that times the task every `interval` until [`SpeedProbe::finish`] (or until
/// the probe is dropped, when the window fails).
pub struct SpeedProbe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<f64>>>,
}

impl SpeedProbe {
    /// Starts timing tasks now, one every `interval`.
    pub fn start(interval: Duration) -> SpeedProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("speed-probe".into())
            .spawn(move || {
                let words = probe_array();
                let mut times = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    times.push(time_task_ms(&words));
                    // Sleep in short steps so that finish() does not wait a whole interval.
                    let mut slept = Duration::ZERO;
                    while slept < interval && !flag.load(Ordering::Relaxed) {
                        let step = Duration::from_millis(50).min(interval - slept);
                        std::thread::sleep(step);
                        slept += step;
                    }
                }
                times
            })
            .expect("spawning the speed probe's thread");
        SpeedProbe {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the probe and summarizes its tasks (`None` if it timed none).
    pub fn finish(mut self) -> Option<ProbeSummary> {
        self.stop.store(true, Ordering::Relaxed);
        let times = self.thread.take()?.join().unwrap_or_default();
        ProbeSummary::of(&times)
    }
}

impl Drop for SpeedProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn probe_array() -> Vec<u64> {
    (0..PROBE_WORDS as u64)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect()
}

/// CPU milliseconds this thread spends on one task.
fn time_task_ms(words: &[u64]) -> f64 {
    let before = thread_cpu_secs();
    let mut x = 1u64;
    for _ in 0..PROBE_PASSES {
        for i in 0..words.len() {
            let j = i.wrapping_mul(PROBE_STRIDE) & (words.len() - 1);
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(words[j]);
        }
    }
    std::hint::black_box(x);
    (thread_cpu_secs() - before) * 1e3
}

fn thread_cpu_secs() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write to; CLOCK_THREAD_CPUTIME_ID exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(ProbeSummary::of(&[]), None);
        let odd = ProbeSummary::of(&[30.0, 10.0, 20.0]).unwrap();
        assert_eq!((odd.samples, odd.median_ms), (3, 20.0));
        let even = ProbeSummary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((even.samples, even.median_ms), (4, 2.5));
    }

    #[test]
    fn dropping_a_probe_tells_its_thread_to_stop() {
        let probe = SpeedProbe::start(Duration::from_secs(3600));
        let stop = probe.stop.clone();
        drop(probe);
        assert!(stop.load(Ordering::Relaxed));
    }

    #[test]
    fn a_task_takes_cpu_time() {
        let words = probe_array();
        assert!(time_task_ms(&words) > 0.0);
    }

    #[test]
    fn a_probe_times_a_task_at_once_and_stops_when_asked() {
        let probe = SpeedProbe::start(Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(300));
        // An hour's interval: finish() returning at all shows that it does not sleep it out.
        let summary = probe.finish().expect("the first task runs at start");
        assert!(
            summary.samples >= 1 && summary.median_ms > 0.0,
            "{summary:?}"
        );
    }
}
