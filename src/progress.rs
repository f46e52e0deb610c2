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

/// Whether progress may be drawn at all: `--no-progress` (or `MUSTER_NO_PROGRESS`) turns it off
/// for the run, for a screen reader or a braille display, which read every redraw (locale and
/// accessibility review), and for a terminal recorded to a log.
static ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns progress off for the rest of the run.
pub fn disable() {
    ALLOWED.store(false, std::sync::atomic::Ordering::Relaxed);
}

impl Progress {
    pub fn new(wanted: bool) -> Progress {
        Progress {
            shown: wanted
                && ALLOWED.load(std::sync::atomic::Ordering::Relaxed)
                && std::io::stderr().is_terminal(),
        }
    }

    /// Every bar starts hidden, and is drawn from a second on ([`Progress::later`]).
    fn target(&self) -> ProgressDrawTarget {
        ProgressDrawTarget::hidden()
    }

    /// Draws `bar` on stderr once it has run for a second, unless it has ended: a step that
    /// takes less draws nothing, for the screen reader that reads every redraw and the eye
    /// that sees a flicker (accessibility review: a 40-user file redrew a dozen times).
    fn later(&self, bar: ProgressBar) -> ProgressBar {
        if self.shown {
            let weak = bar.downgrade();
            std::thread::spawn(move || {
                std::thread::sleep(SHOWN_AFTER);
                if let Some(bar) = weak.upgrade().filter(|b| !b.is_finished()) {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
            });
        }
        bar
    }

    /// A spinner for a step of unknown length (`reading vendor.xlsx`).
    pub fn spinner(&self, message: String) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.later(bar)
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
        self.later(bar)
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
        self.later(bar)
    }
}

/// How long a step runs before its progress is drawn.
const SHOWN_AFTER: Duration = Duration::from_secs(1);

/// indicatif's `{per_sec}` shows four decimals; a whole number of rows reads better.
fn whole_rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{}", indicatif::HumanCount(state.per_sec() as u64));
}
