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

    /// The validation bar: its length is set by `validate` to the rows it will check.
    pub fn rows(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(0), self.target());
        bar.set_style(
            ProgressStyle::with_template(
                "validating {bar:30} {human_pos}/{human_len} rows, {rate} rows/s, {eta} left",
            )
            .expect("a valid template")
            // indicatif's `{per_sec}` shows four decimals; a whole number of rows reads better.
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", indicatif::HumanCount(state.per_sec() as u64));
                },
            ),
        );
        bar
    }
}
