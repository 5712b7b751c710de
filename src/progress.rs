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
            Some(total) => ProgressBar::new(total).with_style(bar_style()),
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

    /// Prints `line` above the bar, without a step.
    pub fn line(&mut self, line: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Where the stage is: `position` of `length` steps, and `rows` so far, shown with
    /// their rate since the stage began (rows/s).
    pub fn rows(&mut self, position: u64, length: u64, rows: u64) {
        self.position(position, length);
        if let Some(bar) = &self.bar {
            let seconds = bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!("{rows} rows, {:.0} rows/s", rows as f64 / seconds));
        }
    }

    /// Where the stage is: `position` of `length` steps (a spinner becomes a bar).
    pub fn position(&mut self, position: u64, length: u64) {
        if let Some(bar) = &self.bar {
            if bar.length() != Some(length) {
                bar.set_style(bar_style());
                bar.set_length(length);
            }
            bar.set_position(position);
        }
    }

    /// Clears the last bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// A stage of known length: its steps, time, and a message (rows and rows/s).
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>10} [{bar:32}] {pos}/{len} {elapsed} {msg}")
        .expect("the template is valid")
        .progress_chars("=> ")
}
