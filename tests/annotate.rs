//! `--annotate` and `--report .xlsx`: the workbooks are read back with calamine (cells, sheets)
//! and from their XML parts (fills, notes, links, frozen panes, filters).

mod common;

use calamine::{open_workbook_auto, Data, Reader};
use common::{muster, sheets_xml};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

const ERROR_FILL: &str = "FFFFC7CE";
const WARNING_FILL: &str = "FFFFEB9C";

/// Validates `input` writing the annotated workbook (and any extra outputs in `args`); returns
/// the exit code and the JSON report of the run.
fn annotate(input: &str, annotated: &Path, args: &[&str]) -> (i32, Value) {
    let out = muster()
        .args(["validate", input, "--format", "json", "--annotate"])
        .arg(annotated)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(annotated.exists(), "no annotated workbook: {stderr}");
    let report = serde_json::from_slice(&out.stdout).expect("JSON report");
    (out.status.code().unwrap(), report)
}

fn findings(report: &Value) -> &[Value] {
    report["findings"].as_array().unwrap()
}

/// The sheet of the annotated workbook a finding lands on: its own sheet, or for a CSV the sheet
/// SPEC §2 names after the file.
fn sheet_of(f: &Value) -> String {
    if let Some(sheet) = f["sheet"].as_str() {
        return sheet.to_string();
    }
    let file = f["file"].as_str().unwrap();
    match Path::new(file).file_stem().unwrap().to_str().unwrap() {
        "itsm_ids" => "ITSM IDs",
        "channel_ids" => "Channel IDs",
        "idm_ids" => "IDM IDs",
        "bot_account" => "Bot Account",
        _ => "Users",
    }
    .to_string()
}

/// The cells the errors and warnings mark, with their worst severity (info findings are on the
/// Issues sheet only); the test inputs have their header on row 1, where findings about a whole
/// column land.
fn expected_marks(report: &Value) -> BTreeMap<(String, String), String> {
    let rank = |s: &str| ["info", "warning", "error"].iter().position(|x| *x == s);
    let mut marks: BTreeMap<(String, String), String> = BTreeMap::new();
    for f in findings(report) {
        let (row, col) = (f["row"].as_u64(), f["column"].as_str());
        if (row.is_none() && col.is_none()) || f["severity"] == "info" {
            continue;
        }
        let cell = format!("{}{}", col.unwrap_or("A"), row.unwrap_or(1));
        let severity = f["severity"].as_str().unwrap().to_string();
        let slot = marks.entry((sheet_of(f), cell)).or_default();
        if rank(&severity) > rank(slot) {
            *slot = severity;
        }
    }
    marks
}

/// Every finding's cell is marked (fill by severity, a note) and no other cell is.
fn assert_marked_exactly(annotated: &Path, report: &Value) {
    let expected = expected_marks(report);
    assert!(
        !expected.is_empty(),
        "the input should have findings on cells"
    );
    let sheets = sheets_xml(annotated);
    for (name, sheet) in &sheets {
        if name == "Summary" || name == "Issues" {
            continue;
        }
        for (cell, colour) in &sheet.fills {
            let severity = expected.get(&(name.clone(), cell.clone()));
            let want = match severity.map(String::as_str) {
                Some("error") => ERROR_FILL,
                Some("warning") => WARNING_FILL,
                _ => panic!("{name}!{cell} is filled {colour} but has no error or warning"),
            };
            assert_eq!(colour, want, "{name}!{cell}");
        }
        for cell in &sheet.notes {
            assert!(
                expected.contains_key(&(name.clone(), cell.clone())),
                "{name}!{cell} has a note but no finding"
            );
        }
    }
    for ((name, cell), severity) in &expected {
        let sheet = sheets
            .get(name)
            .unwrap_or_else(|| panic!("no sheet {name}"));
        assert!(sheet.notes.contains(cell), "{name}!{cell} has no note");
        if severity != "info" {
            assert!(
                sheet.fills.contains_key(cell),
                "{name}!{cell} is not filled"
            );
        }
    }
}

/// What must survive the round trip: everything but the file, sheet and message (which names
/// the file); F005 is about the CSV's encoding, which a workbook does not have.
fn comparable(report: &Value) -> Vec<Vec<Value>> {
    findings(report)
        .iter()
        .filter(|f| f["code"] != "F005")
        .map(|f| {
            [
                "severity",
                "code",
                "row",
                "column",
                "field",
                "record_id",
                "value",
            ]
            .iter()
            .map(|k| f[*k].clone())
            .collect()
        })
        .collect()
}

fn validate_json(input: &Path) -> Value {
    let out = muster()
        .args(["validate", "--format", "json"])
        .arg(input)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

const BATCHES: [&str; 6] = [
    "testdata/batches/flat-inline.csv",
    "testdata/batches/excel-windows",
    "testdata/rules/D004",
    "testdata/rules/I001",
    "testdata/rules/V009-N009-V007.xlsx",
    "testdata/bad/columns.csv",
];

#[test]
fn every_finding_cell_is_marked_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    for input in BATCHES {
        let annotated = dir.path().join("annotated.xlsx");
        let (_, report) = annotate(input, &annotated, &[]);
        if input.contains("excel-windows") {
            continue; // clean: checked by the round trip
        }
        assert_marked_exactly(&annotated, &report);
    }
}

#[test]
fn the_annotated_workbook_validates_to_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    // `deep-header.csv` has no header found: F004 "past the header" names the same cells in
    // the annotated workbook. A CSV's split row (V012) is one in the workbook annotated from
    // it too (a vendor's workbook's cells past the header are F004), and its user stays
    // invalid. (Data under a CSV header's empty names, `a,b,c,,`, F004, is V012 there: the
    // workbook keeps no empty names.)
    for input in BATCHES.iter().chain(&[
        "testdata/batches/q3-contractors.xlsx",
        "testdata/bad/deep-header.csv",
        "testdata/rules/V012.csv",
        // What the vendor hid stays hidden: V013 again on the same rows, column and sheet.
        "testdata/rules/V013.xlsx",
        "testdata/rules/V013.ods",
    ]) {
        let annotated = dir.path().join("annotated.xlsx");
        let (code, report) = annotate(input, &annotated, &[]);
        let again = validate_json(&annotated);
        assert_eq!(comparable(&again), comparable(&report), "{input}");
        assert_eq!(again["summary"]["exit_code"], code, "{input}");
        assert_eq!(again["summary"]["valid"], report["summary"]["valid"]);
    }
}

#[test]
fn the_batch_keeps_its_sheets_cells_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let annotated = dir.path().join("a.xlsx");
    annotate("testdata/batches/q3-contractors.xlsx", &annotated, &[]);
    let mut original = open_workbook_auto("testdata/batches/q3-contractors.xlsx").unwrap();
    let mut written = open_workbook_auto(&annotated).unwrap();
    let names = written.sheet_names();
    // The annotation sheets first, then every sheet of the vendor's workbook in its order.
    let mut want = vec!["Summary".to_string(), "Issues".to_string()];
    want.extend(original.sheet_names());
    assert_eq!(names, want);
    for name in original.sheet_names() {
        let a = original.worksheet_range(&name).unwrap();
        let b = written.worksheet_range(&name).unwrap();
        assert_eq!(a.start(), b.start(), "{name}");
        let text = |d: &Data| d.to_string();
        let rows_a: Vec<Vec<String>> = a.rows().map(|r| r.iter().map(text).collect()).collect();
        let rows_b: Vec<Vec<String>> = b.rows().map(|r| r.iter().map(text).collect()).collect();
        assert_eq!(rows_a, rows_b, "{name}");
    }

    // A CSV set: identifiers stay text, and their column is formatted as text for new entries.
    let annotated = dir.path().join("b.xlsx");
    annotate("testdata/rules/D004", &annotated, &[]);
    let mut written = open_workbook_auto(&annotated).unwrap();
    assert_eq!(
        written.sheet_names(),
        ["Summary", "Issues", "Users", "ITSM IDs"]
    );
    let itsm = written.worksheet_range("ITSM IDs").unwrap();
    assert!(itsm
        .rows()
        .skip(1)
        .all(|r| r.iter().all(|c| matches!(c, Data::String(_) | Data::Empty))));
    let sheets = sheets_xml(&annotated);
    assert!(sheets["ITSM IDs"].frozen && sheets["Users"].frozen);
    let styles = common::part(&annotated, "xl/styles.xml").unwrap();
    assert!(
        styles.contains(r#"numFmtId="49""#),
        "identifier cells are Text"
    );

    // Cell by cell, in the flat layout: a bold header, identifiers formatted as text (unmarked
    // ones are written without a format and take their column's), other cells in the default
    // style.
    let annotated = dir.path().join("c.xlsx");
    let (_, report) = annotate("testdata/batches/flat-inline.csv", &annotated, &[]);
    let marked = expected_marks(&report);
    let users = &sheets_xml(&annotated)["Users"];
    let style = |cell: &str| users.styles[cell];
    for col in ["A", "C", "K", "N", "P"] {
        assert!(style(&format!("{col}1")).bold, "{col}1 is a header cell");
    }
    let mut checked = 0;
    for row in 2..=10 {
        let unmarked =
            |col: &str| !marked.contains_key(&("Users".to_string(), format!("{col}{row}")));
        if unmarked("K") {
            let want = common::CellStyle {
                bold: false,
                num_format: 49,
            };
            assert_eq!(style(&format!("K{row}")), want, "K{row}, an identifier");
            checked += 1;
        }
        if unmarked("C") {
            assert_eq!(
                style(&format!("C{row}")),
                Default::default(),
                "C{row}, a name"
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "most of the first rows have no finding");
}

#[test]
fn issues_sheet_links_every_finding_to_its_cell() {
    let dir = tempfile::tempdir().unwrap();
    let annotated = dir.path().join("a.xlsx");
    let (_, report) = annotate("testdata/batches/flat-inline.csv", &annotated, &[]);
    let mut wb = open_workbook_auto(&annotated).unwrap();
    let issues = wb.worksheet_range("Issues").unwrap();
    let header: Vec<String> = issues
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    let mut want: Vec<String> = muster::finding::REPORT_FIELDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.push("link".to_string());
    assert_eq!(header, want);
    assert_eq!(issues.height(), findings(&report).len() + 1);

    let sheets = sheets_xml(&annotated);
    let links = &sheets["Issues"].links;
    assert_eq!(links.len(), findings(&report).len());
    for (f, (target, location)) in findings(&report).iter().zip(links) {
        assert!(target.is_empty(), "an internal link");
        let want = match (f["row"].as_u64(), f["column"].as_str()) {
            (None, None) => "'Summary'!A1".to_string(),
            (row, col) => format!("'Users'!{}{}", col.unwrap_or("A"), row.unwrap_or(1)),
        };
        assert_eq!(location, &want);
    }
    assert!(sheets["Issues"].frozen && sheets["Issues"].filtered);

    // A note holds the code, the severity, the message and the suggestion.
    let notes = common::part(&annotated, "xl/comments1.xml").unwrap();
    assert!(notes.contains("V003 (error): `PART_TIME` is not a work status"));
    assert!(notes.contains("Suggestion: Use one of UNKNOWN_WORK_STATUS, CONTINGENT"));

    // The Summary counts findings per rule.
    let summary = wb.worksheet_range("Summary").unwrap();
    let d001 = summary
        .rows()
        .find(|r| r.first().is_some_and(|c| *c == "D001"))
        .expect("a D001 line");
    assert_eq!(
        d001[3].to_string(),
        report["summary"]["by_code"]["D001"].to_string()
    );
}

#[test]
fn credentials_are_blanked_and_whole_file_findings_go_to_summary() {
    let dir = tempfile::tempdir().unwrap();
    let annotated = dir.path().join("a.xlsx");
    annotate("testdata/bad/columns.csv", &annotated, &[]);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&annotated).unwrap()).unwrap();
    for i in 0..zip.len() {
        let mut text = String::new();
        let mut entry = zip.by_index(i).unwrap();
        if entry.read_to_string(&mut text).is_ok() {
            assert!(
                !text.contains("tok_live"),
                "{:?} holds a credential",
                entry.name()
            );
        }
    }
    let mut wb = open_workbook_auto(&annotated).unwrap();
    let users = wb.worksheet_range("Users").unwrap();
    assert_eq!(users.get_value((0, 5)).unwrap().to_string(), "API Token");

    let annotated = dir.path().join("b.xlsx");
    annotate("testdata/batches/excel-windows", &annotated, &[]);
    let mut wb = open_workbook_auto(&annotated).unwrap();
    let summary = wb.worksheet_range("Summary").unwrap();
    assert!(summary.rows().any(|r| r.iter().any(|c| *c == "F005")));
}

#[test]
fn xlsx_report_has_the_eleven_fields_and_links_into_the_annotated_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("findings.xlsx");
    let out = muster()
        .args([
            "validate",
            "testdata/batches/flat-inline.csv",
            "--format",
            "json",
            "--report",
        ])
        .arg(&report_path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut wb = open_workbook_auto(&report_path).unwrap();
    let sheet = wb.worksheet_range("Findings").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|d| d.to_string()).collect())
        .collect();
    assert_eq!(rows[0], muster::finding::REPORT_FIELDS);
    assert_eq!(rows.len(), findings(&report).len() + 1);
    for (row, f) in rows[1..].iter().zip(findings(&report)) {
        for (i, field) in muster::finding::REPORT_FIELDS.iter().enumerate() {
            let want = match &f[*field] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(row[i], want, "{field}");
        }
    }
    let xml = sheets_xml(&report_path);
    assert!(xml["Findings"].frozen && xml["Findings"].filtered);
    assert!(xml["Findings"].links.is_empty());

    // Beside an annotated workbook, each row links to the cell in it.
    let annotated = dir.path().join("annotated.xlsx");
    annotate(
        "testdata/batches/flat-inline.csv",
        &annotated,
        &["--report", report_path.to_str().unwrap()],
    );
    let xml = sheets_xml(&report_path);
    let links = &xml["Findings"].links;
    assert_eq!(links.len(), findings(&report).len());
    assert!(links.iter().all(|(target, _)| target == "annotated.xlsx"));
    assert!(links.iter().any(|(_, location)| location == "'Users'!F2"));
}

#[test]
fn annotate_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("r.jsonl");
    muster()
        .args([
            "validate",
            "testdata/batches/q3-contractors.xlsx",
            "-q",
            "--out",
        ])
        .arg(&records)
        .assert()
        .success();
    let x = dir.path().join("x.xlsx");
    let x = x.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "testdata/batches/flat-inline.csv",
                "--annotate",
                x,
                "--report",
                x,
            ],
            "two outputs",
        ),
        (
            &[records.to_str().unwrap(), "--annotate", x],
            "holds records",
        ),
        (
            &[
                "testdata/batches/flat-inline.csv",
                "testdata/rules/D004",
                "--annotate",
                x,
            ],
            "single input",
        ),
        (
            &["testdata/batches/flat-inline.csv", "--annotate", "x.csv"],
            ".xlsx",
        ),
        (
            &[
                "testdata/rules/V009-N009-V007.xlsx",
                "--annotate",
                "testdata/rules/V009-N009-V007.xlsx",
            ],
            "also an input",
        ),
    ];
    for (args, message) in cases {
        let out = muster().arg("validate").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("x.xlsx").exists());
}

#[test]
fn notes_stop_at_the_cap_but_every_cell_is_filled() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many.csv");
    let cap = muster::annotate::MAX_NOTES;
    let mut csv = String::from("email_addr,record_id,full_name,work_status\n");
    for i in 0..cap + 5 {
        csv.push_str(&format!("u{i}@acme.com,R{i},User {i},SOMETIMES\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let annotated = dir.path().join("a.xlsx");
    let (code, _) = annotate(input.to_str().unwrap(), &annotated, &[]);
    assert_eq!(code, 1);
    let sheets = sheets_xml(&annotated);
    assert_eq!(sheets["Users"].notes.len(), cap);
    assert_eq!(sheets["Users"].fills.len(), cap + 5);
    let mut wb = open_workbook_auto(&annotated).unwrap();
    let summary = wb.worksheet_range("Summary").unwrap();
    let line = summary.get_value((1, 0)).unwrap().to_string();
    assert!(
        line.contains(&format!("the first {cap} of the {} marked cells", cap + 5)),
        "{line}"
    );
}

/// A CSV big enough to stream in several chunks is validated streamed and read a second time to
/// be written back: its annotated sheet is the one a whole read (standard input) gives, with the
/// marks of rows far past the first chunk, and every row.
#[test]
fn a_streamed_csv_is_annotated_as_a_whole_read_would_be() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    let rows = 14_000;
    // About 5 MB: more than the first chunk of blocks (16 × 256 KiB) that streaming reads.
    let filler = "x".repeat(300);
    let mut csv = String::from("email_addr,record_id,full_name,department\n");
    for i in 0..rows {
        let email = if i == 13_000 {
            "not-an-address".to_string()
        } else {
            format!("u{i}@acme.com")
        };
        let rid = if i == 13_500 {
            "R1".to_string()
        } else {
            format!("R{i}")
        };
        csv.push_str(&format!("{email},{rid},User {i},{filler}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let streamed = dir.path().join("streamed.xlsx");
    let (code, report) = annotate(input.to_str().unwrap(), &streamed, &[]);
    assert_eq!(code, 1);
    assert_marked_exactly(&streamed, &report);
    let codes: Vec<&str> = findings(&report)
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"V002") && codes.contains(&"D001"),
        "{codes:?}"
    );

    let whole = dir.path().join("whole.xlsx");
    let out = muster()
        .args(["validate", "-", "-q", "--annotate"])
        .arg(&whole)
        .pipe_stdin(&input)
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (streamed_sheets, whole_sheets) = (sheets_xml(&streamed), sheets_xml(&whole));
    assert_eq!(streamed_sheets["Users"].xml, whole_sheets["Users"].xml);
    let mut wb = open_workbook_auto(&streamed).unwrap();
    let users = wb.worksheet_range("Users").unwrap();
    assert_eq!(users.height(), rows + 1);
}

/// LibreOffice opens what muster writes without complaint. Runs only where `libreoffice` is
/// installed (not on CI): `apt-get install libreoffice-calc` to run it.
#[test]
fn libreoffice_converts_every_workbook_muster_writes() {
    let installed = std::process::Command::new("libreoffice")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("libreoffice is not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let annotated = dir.path().join("annotated.xlsx");
    let report = dir.path().join("report.xlsx");
    annotate(
        "testdata/batches/flat-inline.csv",
        &annotated,
        &["--report", report.to_str().unwrap()],
    );
    let template = dir.path().join("template.xlsx");
    muster()
        .args(["template", "--example", "-o"])
        .arg(&template)
        .assert()
        .success();
    let (store, exported) = (dir.path().join("s.db"), dir.path().join("export.xlsx"));
    for args in [
        vec!["import", "testdata/batches/q3-contractors.xlsx"],
        vec!["export", "-o", exported.to_str().unwrap()],
    ] {
        muster()
            .args(args)
            .arg("--store")
            .arg(&store)
            .assert()
            .success();
    }
    let profile = format!("-env:UserInstallation=file://{}/lo", dir.path().display());
    let out = std::process::Command::new("libreoffice")
        .args([
            profile.as_str(),
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(dir.path())
        .args([&annotated, &report, &template, &exported])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["annotated.pdf", "report.pdf", "template.pdf", "export.pdf"] {
        let pdf = std::fs::read(dir.path().join(name)).unwrap_or_default();
        assert!(pdf.starts_with(b"%PDF") && pdf.len() > 1000, "{name}");
    }
}

/// A boolean cell comes back a boolean (review: it was written as the text `TRUE`).
#[test]
fn a_boolean_cell_stays_a_boolean() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("b.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Users").unwrap();
    for (c, h) in ["email_addr", "record_id", "full_name", "Remote"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "a@acme.com").unwrap();
    ws.write_string(1, 1, "R1").unwrap();
    ws.write_string(1, 2, "Al Bo").unwrap();
    ws.write_boolean(1, 3, true).unwrap();
    wb.save(&input).unwrap();
    let annotated = dir.path().join("a.xlsx");
    annotate(input.to_str().unwrap(), &annotated, &[]);
    let mut written = open_workbook_auto(&annotated).unwrap();
    let users = written.worksheet_range("Users").unwrap();
    assert_eq!(users.get_value((1, 3)), Some(&Data::Bool(true)));
}

/// A finding about a whole sheet links to that sheet (review: the Issues sheet linked an
/// ignored `Instructions` sheet's F004 to the Summary, though the sheet is in the workbook).
#[test]
fn a_finding_about_a_whole_sheet_links_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let annotated = dir.path().join("a.xlsx");
    let (_, report) = annotate("testdata/batches/q3-contractors.xlsx", &annotated, &[]);
    let at = findings(&report)
        .iter()
        .position(|f| f["code"] == "F004" && f["sheet"] == "Instructions")
        .expect("the Instructions sheet's F004");
    let links = &sheets_xml(&annotated)["Issues"].links;
    assert_eq!(links[at].1, "'Instructions'!A1");
}

/// Every comments part of a workbook, one after the other.
fn all_comments(xlsx: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(xlsx).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .filter(|n| n.contains("comments"))
        .collect();
    let mut text = String::new();
    for name in names {
        zip.by_name(&name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
    }
    text
}

/// The vendor's notes come back in the annotated workbook (review: they were dropped): on a
/// cell muster found nothing on as written, on a cell with a finding before muster's text and
/// in the vendor's name, and on a sheet muster ignores. Annotated again, the workbook keeps
/// one of each: muster's text is not read back as the vendor's.
#[test]
fn the_vendors_notes_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("notes.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let note = |text: &str| rust_xlsxwriter::Note::new(text).set_author("Vendor");
    let sheet = book.add_worksheet().set_name("Users").unwrap();
    for (c, h) in ["email_addr", "record_id", "full_name"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "not-an-email").unwrap();
    sheet.write_string(1, 1, "R1").unwrap();
    sheet.write_string(1, 2, "Al Bo").unwrap();
    sheet.write_string(2, 0, "b@acme.com").unwrap();
    sheet.write_string(2, 1, "R2").unwrap();
    sheet.write_string(2, 2, "Bo Al").unwrap();
    sheet
        .insert_note(1, 0, &note("Jane: her address is coming"))
        .unwrap();
    sheet.insert_note(2, 2, &note("Started in May")).unwrap();
    let other = book.add_worksheet().set_name("Instructions").unwrap();
    other.write_string(0, 0, "Fill in Users").unwrap();
    other.insert_note(0, 0, &note("Ask Omar")).unwrap();
    book.save(&input).unwrap();

    let once = dir.path().join("once.xlsx");
    annotate(input.to_str().unwrap(), &once, &[]);
    let twice = dir.path().join("twice.xlsx");
    annotate(once.to_str().unwrap(), &twice, &[]);
    for annotated in [&once, &twice] {
        let comments = all_comments(annotated);
        for text in [
            "Jane: her address is coming",
            "— muster —",
            "V002 (error)",
            "Started in May",
            "Ask Omar",
        ] {
            assert_eq!(comments.matches(text).count(), 1, "{text}: {comments}");
        }
        // The shared note is the vendor's, and comes first.
        let vendor = comments.find("Jane: her address").unwrap();
        assert!(
            vendor < comments.find("V002 (error)").unwrap(),
            "{comments}"
        );
        assert_eq!(
            comments.matches("<author>muster</author>").count(),
            0,
            "{comments}"
        );
    }
}

/// A credential column stays one under any name `--map` gives it, and the vendor's note on a
/// credential cell is dropped with its value (privacy review: `"Password" = "custom.notes"`
/// put the passwords in the records, the store and the workbook; a "hint" note went back).
#[test]
fn credentials_stay_out_under_a_rename_and_with_their_notes() {
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("b.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet().set_name("Users").unwrap();
    sheet
        .write_row(0, 0, ["email_addr", "record_id", "full_name", "Password"])
        .unwrap();
    sheet
        .write_row(1, 0, ["a@acme.com", "CTR-1", "Ann Lee", "HunterPass2!"])
        .unwrap();
    sheet
        .insert_note(1, 3, &rust_xlsxwriter::Note::new("hint: PwNoteSecret2"))
        .unwrap();
    sheet
        .insert_note(0, 3, &rust_xlsxwriter::Note::new("default: HeaderSecret3"))
        .unwrap();
    workbook.save(&batch).unwrap();
    let map = dir.path().join("map.toml");
    std::fs::write(&map, "[columns]\n\"Password\" = \"custom.notes\"\n").unwrap();
    let annotated = dir.path().join("a.xlsx");
    let records = dir.path().join("r.jsonl");
    let (code, report) = annotate(
        batch.to_str().unwrap(),
        &annotated,
        &[
            "--map",
            map.to_str().unwrap(),
            "--out",
            records.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        findings(&report).iter().any(|f| f["code"] == "X001"),
        "{report:#}"
    );
    let mut seen = report.to_string();
    seen.push_str(&std::fs::read_to_string(&records).unwrap_or_default());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&annotated).unwrap()).unwrap();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let _ = entry.read_to_string(&mut seen);
    }
    for secret in ["HunterPass2!", "PwNoteSecret2", "HeaderSecret3"] {
        assert!(!seen.contains(secret), "{secret} reached an output");
    }
}

/// A negative number shown padded keeps its sign out of the padding when annotated, and
/// negative zero reads as zero (cross-format review: `-0042` came back `-00042`; `-0` was read).
#[test]
fn negative_padded_numbers_come_back_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("b.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet().set_name("Users").unwrap();
    sheet
        .write_row(
            0,
            0,
            [
                "email_addr",
                "record_id",
                "full_name",
                "custom.code",
                "custom.zero",
            ],
        )
        .unwrap();
    sheet
        .write_row(1, 0, ["a@acme.com", "CTR-1", "Ann Lee"])
        .unwrap();
    let padded = rust_xlsxwriter::Format::new().set_num_format("0000");
    sheet.write_number_with_format(1, 3, -42, &padded).unwrap();
    sheet.write_number(1, 4, -0.0).unwrap();
    workbook.save(&batch).unwrap();
    let records = |input: &Path| {
        let out = muster()
            .arg("validate")
            .arg(input)
            .args(["-q", "--out", "-"])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str::<Value>(text.lines().next().unwrap()).unwrap()
    };
    let first = records(&batch);
    let custom = &first["user"]["custom_attributes"];
    assert_eq!(
        (custom["code"].as_str(), custom["zero"].as_str()),
        (Some("-0042"), Some("0"))
    );
    let annotated = dir.path().join("a.xlsx");
    annotate(batch.to_str().unwrap(), &annotated, &[]);
    assert_eq!(records(&annotated), first);
}
