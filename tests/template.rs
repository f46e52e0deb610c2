//! `muster template`: the workbook and CSV set a vendor fills in, and the copies in templates/.

mod common;

use calamine::{open_workbook_auto, Reader};
use common::{muster, part, root, sheets_xml};
use serde_json::Value;
use std::path::Path;

const FILES: [&str; 5] = [
    "users.csv",
    "itsm_ids.csv",
    "channel_ids.csv",
    "idm_ids.csv",
    "bot_account.csv",
];

fn template(args: &[&str], out: &Path) {
    muster()
        .arg("template")
        .args(args)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

fn validate(input: &Path, args: &[&str]) -> (i32, Value) {
    let out = muster()
        .args(["validate", "--format", "json"])
        .arg(input)
        .args(args)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap(), report)
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn templates_in_the_repository_match_what_muster_writes() {
    let dir = tempfile::tempdir().unwrap();
    for (args, shipped) in [
        (&["--format", "csv"][..], "templates/csv"),
        (&["--format", "csv", "--example"][..], "templates/example"),
    ] {
        let out = dir.path().join(shipped.replace('/', "-"));
        template(args, &out);
        for file in FILES {
            let written = std::fs::read_to_string(out.join(file)).unwrap();
            let kept = std::fs::read_to_string(root().join(shipped).join(file)).unwrap();
            assert_eq!(
                written,
                kept,
                "{shipped}/{file} drifted: run `muster template {}` -o {shipped}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn the_example_validates_clean_and_the_blank_only_with_file_findings() {
    let dir = tempfile::tempdir().unwrap();
    let example = dir.path().join("example.xlsx");
    template(&["--example"], &example);
    let (code, report) = validate(&example, &[]);
    assert_eq!(code, 0, "{report:#}");
    // The Instructions sheet is ignored, as SPEC §2 says of every other sheet (info).
    assert_eq!(codes(&report), ["F004"]);
    assert_eq!(report["summary"]["valid"], 4);

    let blank = dir.path().join("blank.xlsx");
    template(&[], &blank);
    let (_, report) = validate(&blank, &[]);
    assert!(
        codes(&report).iter().all(|c| c.starts_with('F')),
        "{report:#}"
    );

    let csv = dir.path().join("example-csv");
    template(&["--format", "csv", "--example"], &csv);
    let (code, report) = validate(&csv, &[]);
    assert_eq!((code, codes(&report).len()), (0, 0), "{report:#}");

    // With an organization's connectors, the lists and the bot's entries follow them (B002).
    let config = root().join("templates/muster.toml");
    let config = config.to_str().unwrap();
    let example = dir.path().join("configured.xlsx");
    template(&["--example", "--config", config], &example);
    let (code, report) = validate(&example, &["--config", config]);
    assert_eq!((code, codes(&report)), (0, vec!["F004".to_string()]));
    let mut wb = open_workbook_auto(&example).unwrap();
    let itsm = wb.worksheet_range("ITSM IDs").unwrap();
    let integrations: Vec<String> = itsm.rows().skip(1).map(|r| r[1].to_string()).collect();
    assert!(integrations.contains(&"jira_service_desk".to_string()));
    assert!(!integrations.contains(&"freshservice".to_string()));
}

#[test]
fn the_workbook_has_lists_text_ids_notes_and_frozen_headers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.xlsx");
    template(&[], &path);
    let mut wb = open_workbook_auto(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Instructions",
            "Users",
            "ITSM IDs",
            "Channel IDs",
            "IDM IDs",
            "Bot Account"
        ]
    );
    let users = wb.worksheet_range("Users").unwrap();
    let header: Vec<String> = users
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(&header[..3], ["email_addr", "record_id", "full_name"]);

    let sheets = sheets_xml(&path);
    for name in ["Users", "ITSM IDs", "Channel IDs", "IDM IDs", "Bot Account"] {
        let sheet = &sheets[name];
        assert!(sheet.frozen, "{name}");
        // Every header cell explains its column.
        assert_eq!(
            sheet.notes.len(),
            sheet.xml.matches("<c r=\"").count(),
            "{name}"
        );
    }
    let validations = |name: &str| -> Vec<(String, String)> {
        let re =
            regex::Regex::new(r#"sqref="([A-Z]+)2:[A-Z]+1048576"><formula1>([^<]*)<"#).unwrap();
        re.captures_iter(&sheets[name].xml)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect()
    };
    let users = validations("Users");
    // work_status (L), country_code (M), user_tags (R) read their lists from Instructions.
    let columns: Vec<&str> = users.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(columns, ["L", "M", "R"]);
    assert!(users.iter().all(|(_, f)| f.starts_with("Instructions!$")));
    assert_eq!(validations("ITSM IDs").len(), 1, "integration");
    assert!(
        sheets["Users"].xml.contains(r#"errorStyle="information""#),
        "several tags allowed"
    );

    // The integration list holds the configured ITSM connectors.
    let mut wb = open_workbook_auto(&path).unwrap();
    let instructions = wb.worksheet_range("Instructions").unwrap();
    let (_, formula) = &validations("ITSM IDs")[0];
    let col = formula.split('$').nth(1).unwrap();
    let idx = col.bytes().fold(0, |n, b| n * 26 + (b - b'A' + 1) as u32) - 1;
    let listed: Vec<String> = (1..6)
        .map(|r| instructions.get_value((r, idx)).unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "freshservice",
            "jira_service_desk",
            "manageengine",
            "salesforce",
            "servicenow"
        ]
    );

    // Identifier columns are formatted as text (number format 49, `@`).
    let styles = part(&path, "xl/styles.xml").unwrap();
    let text_style = regex::Regex::new(r#"<xf numFmtId="49"[^>]*>"#).unwrap();
    assert!(text_style.is_match(&styles));
    let record_id_col = regex::Regex::new(r#"<col min="2" max="2"[^>]*style="(\d+)""#).unwrap();
    assert!(
        record_id_col.is_match(&sheets["Users"].xml),
        "record_id column has a style"
    );
}

#[test]
fn template_needs_a_format_it_can_write() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["-o", "t.csv"][..],
        &["-o", "t.ods", "--format", "xlsx"][..],
    ] {
        let out = template_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("xlsx"));
    }
}

/// `muster template ARGS` run in `dir`.
fn template_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    muster()
        .arg("template")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `template -o` over a workbook or a CSV set already there is refused (a vendor's filled batch
/// of the same name would be lost), and replaces it with `--force`.
#[test]
fn template_keeps_a_file_already_there_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let filled = "filled by the vendor";
    std::fs::write(dir.path().join("vendor.xlsx"), filled).unwrap();
    std::fs::create_dir(dir.path().join("set")).unwrap();
    std::fs::write(dir.path().join("set/itsm_ids.csv"), filled).unwrap();
    for (args, file) in [
        (&["-o", "vendor.xlsx"][..], "vendor.xlsx"),
        (&["--format", "csv", "-o", "set"][..], "set/itsm_ids.csv"),
    ] {
        let out = template_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("already exists") && stderr.contains("--force"),
            "{stderr}"
        );
        let path = dir.path().join(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), filled);
        muster()
            .arg("template")
            .args(args)
            .arg("--force")
            .current_dir(dir.path())
            .assert()
            .code(0);
        assert_ne!(std::fs::read(&path).unwrap(), filled.as_bytes());
    }
}
