//! Progress bars for the command line's long stages: the binary's own module.
//!
//! indicatif draws on stderr, and only on a terminal; the lines a stage prints go to
//! stdout either way, above the bar.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// One bar at a time: each stage replaces the previous one's.
#[derive(Default)]
pub struct Stages {
    bar: Option<ProgressBar>,
}

impl Stages {
    /// Starts a stage: a bar of `total` steps, or a spinner when the total is unknown.
    pub fn start(&mut self, name: &'static str, total: Option<u64>) {
        self.finish();
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{prefix:>10} [{bar:32}] {pos}/{len} {elapsed}")
                    .expect("the template is valid")
                    .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix:>10} {spinner} {elapsed}").expect("the template is valid"),
            ),
        };
        bar.set_prefix(name);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    /// One step of the stage done; `line`, if any, is printed above the bar.
    pub fn step(&mut self, line: Option<String>) {
        let print = |line: Option<String>| {
            if let Some(line) = line {
                println!("{line}");
            }
        };
        match &self.bar {
            Some(bar) => {
                bar.suspend(|| print(line));
                bar.inc(1);
            }
            None => print(line),
        }
    }

    /// Clears the last bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
