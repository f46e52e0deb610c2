//! Outputs appear whole or not at all, also under SIGKILL, and are readable by the user only.

mod common;

use common::muster;
use std::path::Path;

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn every_output_is_readable_by_the_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let outputs = ["r.csv", "r.json", "r.xlsx", "o.jsonl", "a.xlsx"];
    for (report, out, annotate) in [
        ("r.csv", "o.jsonl", "a.xlsx"),
        ("r.json", "o2.jsonl", "a2.xlsx"),
        ("r.xlsx", "o3.json", "a3.xlsx"),
    ] {
        muster()
            .args(["validate", "testdata/batches/flat-inline.csv", "-q"])
            .args([
                "--report",
                &p(report),
                "--out",
                &p(out),
                "--annotate",
                &p(annotate),
            ])
            .assert()
            .code(1);
    }
    muster()
        .args(["template", "-o", &p("t.xlsx")])
        .assert()
        .success();
    muster()
        .args(["template", "--format", "csv", "-o", &p("tcsv")])
        .assert()
        .success();
    let store = p("muster.db");
    muster()
        .args([
            "import",
            "testdata/batches/q3-contractors.xlsx",
            "-q",
            "--store",
            &store,
        ])
        .assert()
        .success();
    for export in ["e.xlsx", "e.csv", "e.jsonl"] {
        muster()
            .args(["export", "-o", &p(export), "--store", &store])
            .assert()
            .success();
    }
    let mut checked = 0;
    for entry in walk(dir.path()) {
        if entry.is_file() {
            assert_eq!(mode(&entry), 0o600, "{}", entry.display());
            checked += 1;
        }
    }
    assert!(checked >= outputs.len() + 12, "{checked} files");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// SIGKILL while the annotated workbook is being written (the moment its temporary file appears,
/// and a little after): the output's name holds nothing, or a whole workbook; at most a
/// `.muster-*.tmp` is left beside it.
#[test]
fn a_kill_while_writing_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    let mut text = String::from("email_addr,record_id,full_name,work_status\n");
    let rows = 20_000;
    for i in 0..rows {
        text.push_str(&format!("u{i}@acme.com,R{i},User Number,SOMETIMES\n"));
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("annotated.xlsx");
    let temp_files = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".muster-") && n.ends_with(".tmp"))
            .count()
    };
    let whole = |path: &Path| {
        use calamine::Reader;
        let mut wb = calamine::open_workbook_auto(path).unwrap();
        wb.worksheet_range("Users").unwrap().height()
    };
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("muster"))
            .args(["validate", input.to_str().unwrap(), "-q", "--annotate"])
            .arg(&output)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    for extra_ms in [0, 50, 200] {
        let before = temp_files();
        let mut child = spawn();
        // Wait for the write to begin: a new temporary file beside the output.
        while temp_files() == before && child.try_wait().unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(extra_ms));
        let _ = child.kill();
        let _ = child.wait();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                ["big.csv", "annotated.xlsx"].contains(&name.as_str())
                    || (name.starts_with(".muster-") && name.ends_with(".tmp")),
                "{name}"
            );
        }
        if output.exists() {
            assert_eq!(
                whole(&output),
                rows + 1,
                "killed {extra_ms} ms into the write"
            );
        }
    }
    // Left alone, the run finishes and the workbook is whole.
    assert!(!spawn().wait().unwrap().success()); // exit 1: the batch has errors
    assert_eq!(whole(&output), rows + 1);
}
