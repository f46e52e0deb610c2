//! The muster binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

/// Validation allocates many small strings on every core; mimalloc serves them faster than the
/// system allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
