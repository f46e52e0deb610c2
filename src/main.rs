//! The muster binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

/// Validation allocates many small strings on every core; mimalloc serves them faster than the
/// system allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `allow_thp` (the 44th of its `mi_option_t`; the binding names only the
/// first few). The test below pins the enum's length, so an update that moves it fails there.
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// mimalloc asks the kernel for transparent huge pages, then gives freed memory back in 64 KiB
/// pieces, which splits the huge pages: touched again, that memory comes back a 4 KiB page at a
/// time, each one zeroed, and under `defrag=madvise` a fault can stop to compact memory first.
/// That was up to a third of a run's CPU time (docs/benchmarks.md, "Huge pages kept whole").
/// With `allow_thp = 2` memory is given back in whole huge pages only. A `MIMALLOC_ALLOW_THP`
/// in the environment still decides.
fn keep_huge_pages_whole() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: called first thing in `main`, before any thread of ours starts (the option
        // is not set atomically).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 2) }
    }
}

fn main() -> ExitCode {
    keep_huge_pages_whole();
    let cli = muster::cli::Cli::parse();
    match muster::run(cli) {
        Ok(status) => ExitCode::from(status as u8),
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("muster: {err:#}");
            ExitCode::from(muster::ExitStatus::Error as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_thp_is_the_option_set() {
        // mimalloc v3's option list as counted for MI_OPTION_ALLOW_THP: allow_thp is followed by
        // minimal_purge_size, arena_max_object_size and arena_is_numa_local.
        assert_eq!(libmimalloc_sys::_mi_option_last, 47);
        assert_eq!(MI_OPTION_ALLOW_THP, libmimalloc_sys::_mi_option_last - 4);
        keep_huge_pages_whole();
        let expected = match std::env::var("MIMALLOC_ALLOW_THP") {
            Ok(_) => None,
            Err(_) => Some(2),
        };
        let got = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP) };
        if let Some(expected) = expected {
            assert_eq!(got, expected);
        }
    }
}
