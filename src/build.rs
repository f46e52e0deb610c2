//! Puts the commit a build is made from into its version (`0.3.0+d2ba847`), so that a store's
//! history and a report tell two builds of one package version apart (upgrade review: every
//! build before 0.3.0 said `0.1.0`). A build outside a git checkout of this crate (a crate
//! package, a source archive) has the package version alone.
use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    // The checkout must be this crate's own, not a repository it was copied into.
    let own = git(&["rev-parse", "--show-toplevel"])
        .zip(Path::new(&manifest).canonicalize().ok())
        .is_some_and(|(top, manifest)| Path::new(&top).canonicalize().ok() == Some(manifest));
    let commit = own
        .then(|| git(&["rev-parse", "--short=7", "HEAD"]))
        .flatten();
    let suffix = commit.map(|c| format!("+{c}")).unwrap_or_default();
    println!("cargo:rustc-env=MUSTER_BUILD_SUFFIX={suffix}");
    // Run again when HEAD moves (a commit, a checkout): the files git keeps it in.
    if own {
        for name in ["HEAD", "packed-refs"] {
            if let Some(path) = git(&["rev-parse", "--git-path", name]) {
                println!("cargo:rerun-if-changed={path}");
            }
        }
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            if let Some(path) = git(&["rev-parse", "--git-path", &head]) {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=src/build.rs");
}
