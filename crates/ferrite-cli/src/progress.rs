//! Progress display on stderr (hidden automatically when it is not a terminal).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner with a message, for steps of unknown length such as loading.
pub fn spinner(msg: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(msg.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar over `total` steps.
pub fn bar(total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// The steps of a long command, on stderr: a spinner showing the current step
/// and its time on a terminal; otherwise one line per step, so a log of a
/// minute-long run shows where it is. Cleared (on a terminal) when dropped.
pub struct Steps(Option<ProgressBar>);

impl Steps {
    pub fn new() -> Steps {
        Steps(std::io::stderr().is_terminal().then(|| spinner("")))
    }

    pub fn step(&self, msg: &str) {
        match &self.0 {
            Some(bar) => {
                bar.reset_elapsed();
                bar.set_message(msg.to_string());
            }
            None => eprintln!("{msg}"),
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
