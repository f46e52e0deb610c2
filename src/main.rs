//! The muster binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use muster::cli::Command;
use std::io::Write;
use std::process::ExitCode;

/// Validation allocates many small strings on every core; mimalloc serves them faster than the
/// system allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `allow_thp` (the 44th of its `mi_option_t`; the binding names only the
/// first few). The test below pins the enum's length, so an update that moves it fails there.
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// How this command's memory may come in transparent huge pages. mimalloc asks the kernel for
/// them, and under `defrag=madvise` a fault on fresh memory can stop to compact memory first
/// (docs/benchmarks.md, "Huge pages").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HugePages {
    /// Reading a store fills its tables (nine million identities at a million users) once,
    /// with fresh memory: there huge pages cost more in compaction than they save, 1–2 s of a
    /// million-row import or `validate --store`. Off for the whole process (`prctl`): the
    /// allocator's first arena is mapped before `main`, so its own option comes too late.
    Off,
    /// Validation's chunks are freed and their memory used again. mimalloc gives freed memory
    /// back in 64 KiB pieces, which splits a huge page; touched again, it comes back 4 KiB at a
    /// time, each page zeroed. Given back in whole huge pages only (`allow_thp = 2`).
    WholeOnly,
}

fn huge_pages(command: &Command) -> HugePages {
    match command {
        Command::Import(_) => HugePages::Off,
        Command::Validate(args) if args.store.is_some() => HugePages::Off,
        _ => HugePages::WholeOnly,
    }
}

/// A `MIMALLOC_ALLOW_THP` in the environment still decides.
fn set_huge_pages(pages: HugePages) {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    let allow = match pages {
        HugePages::Off => {
            // Where the kernel refuses, huge pages stay as they are: only slower.
            #[cfg(target_os = "linux")]
            let _ = rustix::thread::disable_transparent_huge_pages(true);
            0
        }
        HugePages::WholeOnly => 2,
    };
    // SAFETY: called before any thread of ours starts (the option is not set atomically).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, allow) }
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP end muster as before, with the shell's code (128 + the
/// signal), but first delete the `.muster-*.tmp` files of outputs being written, which the
/// default action left behind. The signals are blocked in every thread (the mask is inherited
/// by threads started after) and taken by one thread of their own with `sigwait`, so nothing
/// runs inside a signal handler. A store's transaction is left to SQLite, as a kill leaves it.
#[cfg(unix)]
fn end_cleanly_on_signals() {
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    // SAFETY: plain calls on a signal set we own, before any other thread starts.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    std::thread::spawn(move || {
        let mut signal: libc::c_int = 0;
        // SAFETY: waits on the set blocked above.
        if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
            muster::report::remove_live_temps();
            // Said, on a line of its own after a progress bar's (store review: Ctrl-C left the
            // bar's line unended, and nothing said what was left). Written with no lock: the
            // thread drawing the bar may hold stderr's.
            let name = match signal {
                libc::SIGINT => "Ctrl-C",
                libc::SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            let lead = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                "\n"
            } else {
                ""
            };
            let said = match muster::store::committed() {
                None => format!("{lead}muster: stopped by {name}: outputs not finished were deleted, and a store change not committed was not made\n"),
                Some(c) => format!(
                    "{lead}muster: stopped by {name} after its change to {} was committed: the change stands (`muster history` shows it); outputs not finished were deleted{}\n",
                    muster::report::one_line(&c.store.display().to_string()),
                    c.left_undone.get().map_or(String::new(), |what| format!("; {what}"))
                ),
            };
            // SAFETY: writes a buffer we own to the standard error's descriptor.
            unsafe { libc::write(2, said.as_ptr().cast(), said.len()) };
            // SAFETY: ends the process at once, as the signal's default action would.
            unsafe { libc::_exit(128 + signal) }
        }
    });
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a write to a closed pipe (`muster rules | head -1`) is an error
    // that `println!` turns into a panic. With the default action muster ends as other Unix
    // tools do, silently, and the shell sees 141 (not 0: the findings were not all read).
    // SAFETY: before any thread starts; setting a signal's disposition to its default.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    #[cfg(unix)]
    end_cleanly_on_signals();
    // An empty `MUSTER_STORE` is unset, as an empty `MUSTER_CONFIG` is: clap would take it as
    // `--store` given no value (review: "a value is required for '--store'" with no `--store`).
    // Before any thread starts.
    for name in ["MUSTER_STORE", "MUSTER_CONFIG"] {
        if std::env::var_os(name).is_some_and(|s| s.is_empty()) {
            std::env::remove_var(name);
        }
    }
    let cli = match muster::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return arguments_refused(&e),
    };
    set_huge_pages(huge_pages(&cli.command));
    // What is still in stdout's buffer is written here, where a failure is an error like any
    // other, not at exit, where it would go unsaid.
    let result = muster::run(cli).and_then(|status| {
        std::io::stdout()
            .flush()
            .map_err(muster::cmd::stdout_error)?;
        Ok(status)
    });
    match result {
        Ok(status) => ExitCode::from(status as u8),
        Err(err) => {
            // Where SIGPIPE cannot end the process (not Unix), a closed pipe still ends it
            // quietly; on Unix the signal ends it first (exit 141, see above).
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // A stderr that cannot be written leaves the exit code to say it.
            let text = muster::error_text(&err);
            let _ = writeln!(
                std::io::stderr(),
                "muster: {}",
                muster::report::terminal_safe(&text)
            );
            ExitCode::from(muster::ExitStatus::Error as u8)
        }
    }
}

/// What clap says instead of running: help and the version on stdout, whose failure to be
/// written is said and exit 2 (automation review: `--version > /dev/full` exited 0); a usage
/// error on stderr, and, where `--format json` was asked for, as `{"error", "exit_code"}` on
/// stdout too, as every other failure is (automation review: stdout was empty).
fn arguments_refused(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = e.exit_code().clamp(0, 255) as u8;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let mut out = std::io::stdout().lock();
        let written = write!(out, "{}", e.render()).and_then(|()| out.flush());
        return match written {
            Ok(()) => ExitCode::from(code),
            Err(io) if io.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(code),
            Err(io) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "muster: cannot write to standard output: {io}"
                );
                ExitCode::from(muster::ExitStatus::Error as u8)
            }
        };
    }
    let _ = e.print();
    let args: Vec<String> = std::env::args().collect();
    let json = (args.windows(2)).any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    if json {
        // The first paragraph: the error, with what it lists (the arguments not given).
        let rendered = e.render().to_string();
        let why: Vec<&str> = (rendered.lines())
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let why = why.join(" ");
        let why = why.trim_start_matches("error: ");
        let body = serde_json::json!({ "error": why, "exit_code": code });
        let _ = writeln!(std::io::stdout(), "{body}");
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, so that no other sets the options between its steps.
    #[test]
    fn huge_pages_are_set_as_chosen() {
        // mimalloc v3's option list as counted for MI_OPTION_ALLOW_THP: allow_thp is followed by
        // minimal_purge_size, arena_max_object_size and arena_is_numa_local.
        assert_eq!(libmimalloc_sys::_mi_option_last, 47);
        assert_eq!(MI_OPTION_ALLOW_THP, libmimalloc_sys::_mi_option_last - 4);
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return;
        }
        let allow_thp = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP) };
        set_huge_pages(HugePages::WholeOnly);
        assert_eq!(allow_thp(), 2);
        set_huge_pages(HugePages::Off);
        assert_eq!(allow_thp(), 0);
        // The kernel's word for this process (Linux 5.0 and later say it).
        #[cfg(target_os = "linux")]
        if let Some(line) = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("THP_enabled:"))
        {
            assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
        }
    }

    #[test]
    fn huge_pages_are_off_where_a_store_is_read() {
        let command = |args: &[&str]| {
            muster::cli::Cli::try_parse_from(args)
                .expect("arguments parse")
                .command
        };
        let cases = [
            (
                &["muster", "import", "b.csv", "--store", "s.db"][..],
                HugePages::Off,
            ),
            (
                &["muster", "validate", "b.csv", "--store", "s.db"][..],
                HugePages::Off,
            ),
            (&["muster", "validate", "b.csv"][..], HugePages::WholeOnly),
            (&["muster", "rules"][..], HugePages::WholeOnly),
        ];
        for (args, allow) in cases {
            // `MUSTER_STORE` gives every `validate` a store.
            if !args.contains(&"--store") && std::env::var_os("MUSTER_STORE").is_some() {
                continue;
            }
            assert_eq!(huge_pages(&command(args)), allow, "{args:?}");
        }
    }
}
