//! Progress on stderr for long steps: a spinner with the stage and elapsed time on a terminal, one line per
//! stage otherwise (CI logs).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A long piece of work made of named stages.
pub struct StageProgress {
    bar: Option<ProgressBar>,
    what: String,
    started: Instant,
    stage_started: Instant,
    stage: String,
}

impl StageProgress {
    /// Starts showing progress for `what` (e.g. "build PostgreSQL 18.6").
    pub fn new(what: &str) -> StageProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix}: {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        StageProgress {
            bar,
            what: what.to_string(),
            started: Instant::now(),
            stage_started: Instant::now(),
            stage: String::new(),
        }
    }

    /// Enters a new stage.
    pub fn stage(&mut self, stage: &str) {
        self.end_stage();
        self.stage = stage.to_string();
        self.stage_started = Instant::now();
        match &self.bar {
            Some(bar) => bar.set_message(stage.to_string()),
            None => eprintln!("{}: {stage} ...", self.what),
        }
    }

    fn end_stage(&mut self) {
        if !self.stage.is_empty() && self.bar.is_none() {
            eprintln!(
                "{}: {} done in {:.1} s",
                self.what,
                self.stage,
                self.stage_started.elapsed().as_secs_f64()
            );
        }
    }

    /// Ends the display, printing the total time.
    pub fn finish(mut self, summary: &str) {
        self.end_stage();
        self.stage.clear();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!(
            "{}: {summary} ({:.1} s)",
            self.what,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Ends the display after a failure, without a summary.
    pub fn abandon(mut self) {
        self.stage.clear();
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }

    /// The stage being worked on.
    pub fn current_stage(&self) -> &str {
        &self.stage
    }
}
