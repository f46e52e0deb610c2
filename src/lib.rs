//! muster: reads spreadsheets of manual users, validates every row, reports each problem with its
//! cell, and turns the valid rows into normalized records.
//!
//! Stages, each in its own module, with data flowing one way:
//! [`input`] (read and map headers) → [`validate`] (per-row in parallel, then cross-row) →
//! [`report`] (findings, records, terminal summary). [`rules`] is the one registry of rules.

/// This build's version: the package version, and the commit it was built from where it was
/// built from a git checkout (`0.3.0+d2ba847`, semver's build metadata; `build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("MUSTER_BUILD_SUFFIX"));

pub mod annotate;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod export;
pub mod finding;
pub mod input;
pub mod plan;
pub mod progress;
pub mod record;
pub mod report;
pub mod rules;
pub mod store;
mod swar;
pub mod template;
pub mod validate;
pub mod xlsx;

/// Runs `f`, turning a panic inside it (in a dependency: muster's own code returns errors) into
/// the panic's message, which is not printed. The panic hook is installed once and stays quiet
/// only for the thread inside `catch_panic`: a streamed sheet's reader thread runs this while
/// the main thread goes on, so swapping the process-wide hook per call would race.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    thread_local! {
        static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|quiet| quiet.get()) {
                previous(info)
            }
        }));
    });
    let was_quiet = QUIET.with(|quiet| quiet.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(was_quiet));
    result.map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".to_string())
    })
}

/// How a run ended (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// No finding at error severity.
    Success = 0,
    /// Findings at error severity.
    Failure = 1,
    /// muster could not do its job.
    Error = 2,
}

/// The most threads `-j` or RAYON_NUM_THREADS start.
const MOST_THREADS: usize = 1024;

/// The settings of a command that runs the rules (validate, import): the threads, `-j`
/// (`jobs`) else RAYON_NUM_THREADS, held to as many as `-j` takes (rayon starts as many threads
/// as it says, and 100,000 spawned for minutes before the machine ran out: review), and the
/// store's lock timeout. The variable is built into the pool here, not left to rayon, which
/// ignores ` 4`.
pub(crate) fn rules_settings(jobs: Option<usize>, flag: bool) -> anyhow::Result<()> {
    let from_env = match jobs {
        Some(_) => None,
        None => rayon_threads_setting(flag).map_err(anyhow::Error::msg)?,
    }
    .filter(|&n| n > 0)
    .map(|n| n.min(MOST_THREADS));
    if let Some(n) = jobs.or(from_env) {
        // A second build of the global pool fails harmlessly (tests run several commands).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    store::lock_timeout_setting().map_err(anyhow::Error::msg)?;
    Ok(())
}

/// RAYON_NUM_THREADS as rayon reads it, refused where rayon would quietly ignore it: `abc` or
/// `-1` ran on every core, which is not what the person who set it meant (review). `flag`:
/// the command has `-j`.
fn rayon_threads_setting(flag: bool) -> Result<Option<usize>, String> {
    let Some(value) = std::env::var_os("RAYON_NUM_THREADS") else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse::<usize>().map(Some).map_err(|_| {
        format!(
            "RAYON_NUM_THREADS={} is not a number of threads: give 1 or more (past {MOST_THREADS}, {MOST_THREADS} are started), 0 for every core{}",
            report::one_line(&text),
            if flag { ", or use -j" } else { "" }
        )
    })
}

/// Runs a parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitStatus> {
    let color = match cli.color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            use std::io::IsTerminal;
            // A terminal that says it is dumb draws no colours (locale review: escape codes).
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
                && std::io::stdout().is_terminal()
        }
    };
    if cli.no_progress {
        progress::disable();
    }
    match cli.command {
        cli::Command::Validate(args) => cmd::validate::run(&args, report::Style { color }),
        cli::Command::Rules(args) => cmd::rules::run(&args),
        cli::Command::Import(args) => cmd::import::run(&args, report::Style { color }),
        cli::Command::Export(args) => cmd::export::run(&args),
        cli::Command::History(args) => cmd::store::history(&args),
        cli::Command::Remove(args) => cmd::store::remove(&args),
        cli::Command::Forget(args) => cmd::store::forget(&args),
        cli::Command::Revert(args) => cmd::store::revert(&args),
        cli::Command::Template(args) => cmd::template::run(&args),
        cli::Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            // Made in memory: clap_complete panics on a stdout it cannot write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli::Cli::command(), "muster", &mut script);
            (std::io::stdout().lock().write_all(&script)).map_err(cmd::stdout_error)?;
            Ok(ExitStatus::Success)
        }
    }
}

/// The error and its causes, `: ` between them, leaving out a cause the message already says
/// (the library's errors name their source in their own words), or that only puts a code
/// before what the cause above it said (SQLite's "Error code 11: …").
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut above = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        let said = text.contains(&part) || (!above.is_empty() && part.ends_with(&above));
        if !said {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        above = part;
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        use super::error_text;
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(crate::report::OutputError::Io {
            path: "out.csv".into(),
            source: io,
        });
        assert_eq!(error_text(&err), "cannot write out.csv: no such file");
        // A cause in other words is still said, after the context.
        let err = anyhow::anyhow!("disk full").context("writing the report");
        assert_eq!(error_text(&err), "writing the report: disk full");
        // A damaged store: the store's words, SQLite's, then SQLite's with its code.
        #[derive(Debug)]
        struct Coded;
        impl std::fmt::Display for Coded {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("Error code 11: image is malformed")
            }
        }
        impl std::error::Error for Coded {}
        let err = anyhow::Error::new(Coded)
            .context("image is malformed")
            .context("s.db: the store is damaged (image is malformed)");
        assert_eq!(
            error_text(&err),
            "s.db: the store is damaged (image is malformed)"
        );
    }

    #[test]
    fn a_caught_panic_is_its_message_on_any_thread_nested_or_not() {
        assert_eq!(super::catch_panic(|| 7), Ok(7));
        assert_eq!(
            super::catch_panic(|| panic!("boom {}", 1)),
            Err::<(), _>("boom 1".to_string())
        );
        // Another thread's catch_panic, nested or not, leaves this one as it was.
        let inner = std::thread::spawn(|| {
            super::catch_panic(|| super::catch_panic(|| -> () { panic!("inner") }))
        })
        .join()
        .unwrap();
        assert_eq!(inner, Ok(Err("inner".to_string())));
        let outside = std::thread::spawn(|| panic!("not caught")).join();
        assert!(outside.is_err());
    }
}
