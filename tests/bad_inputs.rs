//! The bad-input corpus (testdata/bad/): every file gives its exact message, at its cell, with
//! its exit code, and never a panic.

mod common;

use common::muster;
use serde_json::Value;

/// (file, exit code, first finding: code, row, column, message)
type Case = (
    &'static str,
    i32,
    &'static str,
    Option<u64>,
    Option<&'static str>,
    &'static str,
);

const CORPUS: &[Case] = &[
    ("empty.csv", 1, "F007", None, None, "no user rows: the file is empty or holds only a header"),
    ("header-only.csv", 1, "F007", None, None, "no user rows: the file is empty or holds only a header"),
    ("only-blank-lines.csv", 1, "F007", None, None, "no user rows: the file is empty or holds only a header"),
    ("unbalanced-quotes.csv", 1, "F001", Some(2), None, "a quote opened in row 2 is never closed, so the rest of the file would run into one cell"),
    ("ragged.csv", 1, "V012", Some(2), Some("D"), "row 2 has 5 fields where the header has 3 (to column C): a value with the delimiter in it, not in quotes, split the row, and its cells from there on are under the wrong columns"),
    // Empty header cells at the end: the header ends at its last named column (C), as it does
    // in the annotated workbook, which keeps no empty cells.
    ("empty-header-cells.csv", 0, "F004", Some(2), Some("D"), "row 2 has cells past the header's last column (C); they were ignored"),
    ("nul-byte.csv", 1, "F001", None, None, "not a CSV file: it holds NUL bytes, the first on line 2 (binary data?)"),
    ("binary.csv", 1, "F001", None, None, "not a CSV file: it holds NUL bytes, the first on line 1 (binary data?)"),
    ("invalid-utf8.csv", 0, "F005", None, None, "decoded as windows-1252; the first value with letters beyond ASCII reads `José García`"),
    // A byte-order mark before Windows-1252 bytes: decoded as such, not into U+FFFD (review).
    ("bom-then-windows-1252.csv", 0, "F005", None, None, "decoded as windows-1252; the first value with letters beyond ASCII reads `José García`"),
    ("utf16-no-bom.csv", 1, "F001", None, None, "not a CSV file: it looks like UTF-16 text without a byte-order mark; save it as UTF-8"),
    ("long-cell.csv", 1, "V008", Some(2), Some("C"), "the value is 40000 characters long, more than a spreadsheet cell holds (32767)"),
    ("wide.csv", 1, "F001", Some(1), None, "row 1 has 20003 columns, more than 16384 (raise the limit with --max-columns)"),
    ("duplicate-headers.csv", 1, "F003", None, Some("D"), "column `full_name` maps to `full_name`, as column `full_name` already does; this one was ignored"),
    ("title-row.csv", 0, "F004", Some(1), None, "row 1 above the header row was ignored"),
    // Named like dotted ID columns but not one: not loaded as custom attributes (review).
    ("id-columns.csv", 1, "F009", None, Some("D"), "column `itsm.servicenow.sys_id` is named like a dotted ID column, but ends in `sys_id`, not `user_id` or `external_id`: its values would not be read as an identity"),
    ("columns.csv", 1, "F003", None, Some("B"), "column `E-mail` maps to `email_addr`, as column `Email` already does; this one was ignored"),
    ("missing-column.csv", 1, "F002", None, None, "required column `email_addr` is missing"),
    // A header past the first ten non-blank rows: named once, not three columns missing.
    ("deep-header.csv", 1, "F002", None, None, "no header row among the first ten non-blank rows: row 13 (`email_addr`, `record_id`, `full_name`, …) looks like the header, but muster looks no further"),
    ("truncated.xlsx", 1, "F001", None, None, "not a readable workbook (damaged or truncated?): invalid Zip archive: Could not find EOCD"),
    ("really-a-csv.xlsx", 1, "F001", None, None, "not a workbook: it looks like text (a CSV saved with the wrong extension?)"),
    ("password-protected.xlsx", 1, "F001", None, None, "cannot be read as a workbook: it is an OLE compound file (a legacy XLS, or a password-protected workbook)"),
    ("zip-bomb.xlsx", 1, "F001", None, None, "the workbook would unpack to 1536 MiB, more than the limit of 1024 MiB (a zip bomb?); raise it with --max-unpacked-mib"),
    // The sheets it has are named, so that a renamed `Users` sheet is found at once (review).
    ("no-users-sheet.xlsx", 1, "F007", None, None, "the workbook has no `Users` sheet (it has `Contractors`, `Notes`, not read): rename the sheet that holds the users `Users`"),
    // A sheet named nearly as an ID sheet: an error, for its rows would be lost (review).
    ("misnamed-sheet.xlsx", 1, "F008", None, None, "sheet `ITSM` was not read: its name is not one of Users, ITSM IDs, Channel IDs, IDM IDs, Bot Account; rename it `ITSM IDs` to have its rows read, or delete it"),
    // A workbook of another kind than its extension says: named, with the way out (review).
    ("really-an-ods.xlsx", 1, "F001", None, None, "cannot be read as .xlsx: it is an OpenDocument spreadsheet (rename it to .ods)"),
    ("really-an-xlsx.ods", 1, "F001", None, None, "cannot be read as .ods: it is an Excel workbook (rename it to .xlsx)"),
    // `--out records.json` read back (review: it was read as a CSV, F002 three times).
    ("records.json", 1, "F001", None, None, "a JSON file: muster reads records as JSONL, one record per line (write them with `--out records.jsonl`)"),
    // What a web service serves as `.xls`, and LibreOffice's flat ODS (producers review:
    // calamine's "Invalid OLE signature", and the XML read as a CSV of tags).
    ("web-page-named.xls", 1, "F001", None, None, "cannot be read as a workbook: it is XML or HTML: a flat OpenDocument spreadsheet (`.fods`), an Excel 2003 XML spreadsheet or a web page; open it in a spreadsheet program and save it as .xlsx or .ods"),
    ("csv-named.xls", 1, "F001", None, None, "not a workbook: it looks like text (a CSV saved with the wrong extension?)"),
    ("flat.fods", 1, "F001", None, None, "not a CSV file: it looks like XML or HTML: a flat OpenDocument spreadsheet (`.fods`), an Excel 2003 XML spreadsheet or a web page; open it in a spreadsheet program and save it as .xlsx or .ods"),
    // Found by the workbook fuzzer: calamine overflowed on an absurd cell reference.
    ("fuzz-cell-reference-overflow.xlsx", 1, "F001", None, None, "not a readable workbook: it is malformed (the reader failed: attempt to multiply with overflow)"),
    // One cell at XFD1048576 and a `000000` format (which has a workbook read whole): the
    // rectangle to its first cell would have been 512 GiB (found by review: an abort).
    ("far-cell.xlsx", 1, "F001", None, None, "sheet `Users` cannot be read: its cells span more than 16,777,216 from the first to the last, too many to read at once (a stray cell far from the others?)"),
    // A hidden sheet is read like any other: its rows are part of the batch (its D005 fails
    // it), and said so first, at its first row.
    ("hidden-sheets.xlsx", 1, "V013", Some(2), None, "sheet `ITSM IDs` is hidden in the workbook: its rows were read, and load as those of the sheets shown do"),
    // An error value newer than calamine reads: the sheet cannot be read, and says why.
    ("error-cell.xlsx", 1, "F001", None, None, "sheet `Users` cannot be read: Unsupported cell error value '#SPILL!' (what a failed formula leaves: enter the value itself in its cell)"),
    // A merged cell's value is in its first cell only, and a key is not filled down (N010
    // fills shared values only): the row below is read without an email, and says why; the
    // row above loads.
    ("merged-cells.xlsx", 1, "V011", Some(3), Some("A"), "the sheet shows A2's value over this cell, merged with it, but `email_addr` belongs to one user: this row is read without it"),
];

fn json_report(args: &[&str]) -> (i32, Value, String) {
    let out = muster()
        .arg("validate")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: no JSON ({e}): {stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

#[test]
fn every_bad_file_gives_its_message_at_its_cell() {
    let files: Vec<String> = std::fs::read_dir(common::root().join("testdata/bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for file in &files {
        assert!(
            CORPUS.iter().any(|c| c.0 == file),
            "testdata/bad/{file} has no expected message here"
        );
    }
    for &(file, code, rule, row, column, message) in CORPUS {
        let path = format!("testdata/bad/{file}");
        let (exit, report, _) = json_report(&[&path]);
        let first = &report["findings"][0];
        assert_eq!(exit, code, "{file}: {report:#}");
        assert_eq!(
            (
                first["code"].as_str(),
                first["row"].as_u64(),
                first["column"].as_str(),
                first["message"].as_str()
            ),
            (Some(rule), row, column, Some(message)),
            "{file}"
        );
        // Under --quiet a file-level problem is one line naming the file, then the closing line.
        let out = muster().args(["validate", &path, "-q"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        // Each error about a file, a sheet or a column: one line.
        let errors = (report["findings"].as_array().unwrap().iter())
            .filter(|f| {
                f["severity"] == "error" && f["code"].as_str().is_some_and(|c| c.starts_with('F'))
            })
            .count();
        if errors > 0 && rule.starts_with('F') {
            let line = stderr.lines().next().unwrap_or_default();
            assert!(
                line.starts_with(&format!("muster: {path}")) && line.ends_with(message),
                "{file}: {line}"
            );
        }
        assert!(stderr.lines().count() <= errors + 1, "{file}: {stderr}");
    }
}

/// The cell reference that overflows calamine's arithmetic (found by fuzzing) is F001, not a
/// panic, when the workbook is read whole too (`--annotate` reads it whole).
#[test]
fn a_reader_panic_is_f001_on_the_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let annotated = dir.path().join("a.xlsx");
    let out = muster()
        .args([
            "validate",
            "testdata/bad/fuzz-cell-reference-overflow.xlsx",
            "-q",
        ])
        .arg("--annotate")
        .arg(&annotated)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        "muster: testdata/bad/fuzz-cell-reference-overflow.xlsx: not a readable workbook: it is malformed (the reader failed: attempt to multiply with overflow)"
    );
}

#[test]
fn limits_can_be_raised_where_a_user_could_need_more() {
    // Read past 16,384 columns; still F001 for its 20,000 custom attributes, which no export
    // of a store could hold.
    let (_, report, _) = json_report(&["testdata/bad/wide.csv", "--max-columns", "30000"]);
    let f001: Vec<&str> = (report["findings"].as_array().unwrap().iter())
        .filter(|f| f["code"] == "F001")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(f001.len(), 1, "{f001:?}");
    assert!(f001[0].contains("custom attribute number 1001"), "{f001:?}");
    let (_, report, _) = json_report(&["testdata/bad/header-only.csv", "--max-rows", "0"]);
    assert_eq!(report["findings"][0]["code"], "F001");
}

/// A million rows with one bad row at the end: the finding names that row.
#[test]
fn a_million_rows_with_one_bad_row_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.csv");
    let mut text = String::with_capacity(40 << 20);
    text.push_str("email_addr,record_id,full_name\n");
    for i in 0..999_999 {
        text.push_str(&format!("u{i}@acme.com,R{i},User Number\n"));
    }
    text.push_str("bad@@acme.com,RBAD,Bad Row\n");
    std::fs::write(&path, text).unwrap();
    let (exit, report, _) = json_report(&[path.to_str().unwrap()]);
    assert_eq!(exit, 1);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0]["code"].as_str(), findings[0]["row"].as_u64()),
        (Some("V002"), Some(1_000_001))
    );
    assert_eq!(report["summary"]["valid"], 999_999);
}

/// Near miss of `deep-header.csv`: a header on the tenth non-blank row is taken. A column
/// missing from the header is named with its article (`an `email_addr``).
#[test]
fn a_header_on_the_tenth_non_blank_row_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let notes: String = (1..10).map(|i| format!("Note {i},,\n")).collect();
    let tenth = dir.path().join("tenth.csv");
    std::fs::write(
        &tenth,
        format!("{notes}email_addr,record_id,full_name\na@acme.com,R1,Al Bo\n"),
    )
    .unwrap();
    let (exit, report, _) = json_report(&[tenth.to_str().unwrap()]);
    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(report["summary"]["valid"], 1, "{report:#}");
    let none = dir.path().join("none.csv");
    std::fs::write(&none, "record_id,full_name\nR1,Al Bo\n").unwrap();
    let (_, report, _) = json_report(&[none.to_str().unwrap()]);
    assert_eq!(
        report["findings"][0]["suggestion"], "Add an `email_addr` column",
        "{report:#}"
    );
    // The field it is for (review: null).
    assert_eq!(report["findings"][0]["field"], "email_addr", "{report:#}");
    // The columns muster did not know are named, with how to map one (locale review).
    let unknown = dir.path().join("unknown.csv");
    std::fs::write(
        &unknown,
        "email_addr,Personalnummer,Name\na@acme.com,R1,Al Bo\n",
    )
    .unwrap();
    let (_, report, _) = json_report(&[unknown.to_str().unwrap()]);
    let suggestion = report["findings"][0]["suggestion"]
        .as_str()
        .unwrap_or_default();
    assert!(
        suggestion.contains("(`Personalnummer`)") && suggestion.contains("--map"),
        "{report:#}"
    );
}

/// An XLS sheet with a cell far from the others is F001 before calamine allocates every cell
/// between them (security review: column 65,535 asked for 137 GB and aborted; column 3,000
/// took 6 GB).
#[test]
fn an_xls_cell_far_from_the_others_is_f001() {
    let mut bytes =
        std::fs::read(common::root().join("testdata/batches/q3-contractors.xls")).unwrap();
    // The second LABELSST record (a string cell): its row and column moved to 65,535 and 3,000.
    let labelsst = [0xFD, 0x00, 0x0A, 0x00];
    let first = bytes.windows(4).position(|w| w == labelsst).unwrap();
    let second = first
        + 1
        + bytes[first + 1..]
            .windows(4)
            .position(|w| w == labelsst)
            .unwrap();
    bytes[second + 4..second + 8].copy_from_slice(&[0xFF, 0xFF, 0xB8, 0x0B]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.xls");
    std::fs::write(&path, bytes).unwrap();
    let (code, report, _) = json_report(&[path.to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    let first = &report["findings"][0];
    assert_eq!(first["code"], "F001", "{report:#}");
    let message = first["message"].as_str().unwrap();
    assert!(
        message.contains("its cells span rows 1 to 65536 and columns A to DKK")
            && message.contains("a stray cell far from the others"),
        "{message}"
    );
}

/// The vendor's notes written back by `--annotate` are bounded, and the rest said (security
/// review: a 2.5 MB workbook of a million notes took 13 GB, then aborted).
#[test]
fn a_workbook_s_notes_past_the_bound_are_not_written_back_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet().set_name("Users").unwrap();
    for (c, h) in ["email_addr", "record_id", "full_name"].iter().enumerate() {
        sheet.write(0, c as u16, *h).unwrap();
    }
    sheet
        .write_row(1, 0, ["a@acme.com", "CTR-1", "Ann Lee"])
        .unwrap();
    for r in 0..10_003u32 {
        let note = rust_xlsxwriter::Note::new("see me");
        sheet.insert_note(r + 3, 5, &note).unwrap();
    }
    workbook.save(&path).unwrap();
    let annotated = dir.path().join("back.xlsx");
    let (code, report, _) = json_report(&[
        path.to_str().unwrap(),
        "--annotate",
        annotated.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{report:#}");
    let said = (report["findings"].as_array().unwrap().iter())
        .find(|f| f["code"] == "F004" && f["row"].is_null() && f["sheet"].is_null())
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        said["message"],
        "the workbook has 3 more notes than the 10000 an annotated workbook carries; those are not written back"
    );
    let parts = zip::ZipArchive::new(std::fs::File::open(&annotated).unwrap()).unwrap();
    assert!(parts
        .file_names()
        .any(|n| n.is_ok_and(|n| n.contains("comments"))));
}
