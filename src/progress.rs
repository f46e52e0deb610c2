//! Progress on a terminal (SPEC §5): spinners while reading and writing, a bar with rows/s and
//! the ETA while validating. Drawn on stderr only when it is a terminal, and never under
//! `--quiet` or `--format json`; a hidden bar costs an atomic add per row.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    pub fn new(wanted: bool) -> Progress {
        Progress {
            shown: wanted && std::io::stderr().is_terminal(),
        }
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    /// A spinner for a step of unknown length (`reading vendor.xlsx`).
    pub fn spinner(&self, message: String) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// Whether anything is drawn: what only a bar would use need not be worked out otherwise.
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// A bar over the users a step goes through (`writing current.csv`); with no `len`, a
    /// count without an end.
    pub fn users(&self, step: String, len: Option<usize>) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(len.map(|n| n as u64), self.target());
        let template = match len {
            // The bar takes what the terminal's width leaves: a long path must not wrap it.
            Some(_) => "{msg} {wide_bar} {human_pos}/{human_len} users, {rate}/s, {eta} left",
            None => "{spinner} {msg}: {human_pos} users, {rate} users/s ({elapsed})",
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .with_key("rate", whole_rate),
        );
        bar.set_message(step);
        bar
    }

    /// The validation bar: its length is set by `validate` to the rows it will check.
    pub fn rows(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(0), self.target());
        bar.set_style(
            ProgressStyle::with_template(
                "validating {bar:30} {human_pos}/{human_len} rows, {rate} rows/s, {eta} left",
            )
            .expect("a valid template")
            .with_key("rate", whole_rate),
        );
        bar
    }
}

/// indicatif's `{per_sec}` shows four decimals; a whole number of rows reads better.
fn whole_rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{}", indicatif::HumanCount(state.per_sec() as u64));
}
