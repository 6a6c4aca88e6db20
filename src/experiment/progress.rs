//! The two progress bars of a run: the matrix (scenario i of n, ETA) and the current phase (rebuild, vacuum,
//! warm-up, measure with live TPS). On a terminal they draw in place; otherwise one line per phase.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// The run's progress display.
pub struct RunProgress {
    multi: MultiProgress,
    matrix: ProgressBar,
    phase: ProgressBar,
    plain: bool,
}

impl RunProgress {
    /// A display for `scenarios` scenarios, each taking about `secs_each` seconds of load.
    pub fn new(scenarios: usize, secs_each: u64) -> RunProgress {
        let plain = !std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if plain {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let matrix = multi.add(ProgressBar::new((scenarios as u64) * secs_each.max(1)));
        matrix.set_style(
            ProgressStyle::with_template("matrix [{elapsed_precise}] {bar:30} {msg} (ETA {eta})")
                .expect("template"),
        );
        let phase = multi.add(ProgressBar::new(1));
        phase.set_style(
            ProgressStyle::with_template("  {prefix}: {bar:30} {pos}/{len} s {msg}")
                .expect("template"),
        );
        RunProgress {
            multi,
            matrix,
            phase,
            plain,
        }
    }

    /// Announces scenario `index` (1-based) of `total`.
    pub fn scenario(&self, index: usize, total: usize, id: &str) {
        let msg = format!("scenario {index}/{total}: {id}");
        if self.plain {
            eprintln!("{msg}");
        }
        self.matrix.set_message(msg);
    }

    /// Starts a phase of about `secs` seconds (0 when unknown).
    pub fn phase(&self, name: &str, secs: u64) {
        if self.plain {
            eprintln!(
                "  {name}{}",
                if secs > 0 {
                    format!(" ({secs} s)")
                } else {
                    String::new()
                }
            );
        }
        self.phase.set_prefix(name.to_string());
        self.phase.set_length(secs.max(1));
        self.phase.set_position(0);
        self.phase.set_message(String::new());
        self.phase.enable_steady_tick(Duration::from_millis(500));
    }

    /// Live figures of the running phase: elapsed seconds and a message such as the current TPS.
    pub fn tick(&self, elapsed_secs: u64, message: &str) {
        self.phase.set_position(elapsed_secs);
        self.phase.set_message(message.to_string());
    }

    /// Counts `secs` seconds of load as done on the matrix bar.
    pub fn advance(&self, secs: u64) {
        self.matrix.inc(secs);
    }

    /// Prints a line above the bars.
    pub fn println(&self, line: &str) {
        if self.plain {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        self.phase.finish_and_clear();
        self.matrix.finish_and_clear();
    }
}
