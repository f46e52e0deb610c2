//! Properties that hold for any input proptest can think of.

use muster::check::{email, ids};
use muster::config::Config;
use muster::input::csv::{read_bytes, to_nfc};
use muster::input::{jsonl, Batch, ReadOptions, Sheet, SheetKind};
use muster::rules::Severity;
use muster::validate::{validate, Outcome};
use proptest::prelude::*;

fn run(sheets: Vec<Sheet>) -> Outcome {
    let batch = Batch {
        files: vec![sheets[0].file.clone()],
        sheets,
        ..Default::default()
    };
    validate(
        &batch,
        &Config::builtin(),
        &Default::default(),
        &mut Default::default(),
        &indicatif::ProgressBar::hidden(),
    )
}

fn csv_sheet(text: &str) -> Sheet {
    let (rows, encoding) = read_bytes(text.as_bytes(), &ReadOptions::default()).unwrap();
    Sheet {
        file: "batch.csv".to_string(),
        sheet: None,
        kind: SheetKind::Users,
        order: (0, 0),
        rows,
        encoding,
        lettered: true,
        delimited: true,
        rest: None,
        hidden: Default::default(),
    }
}

/// A user row that should validate clean: its fields drawn from valid shapes.
fn user() -> impl Strategy<Value = (String, String, String, String, String)> {
    (
        "[a-z]{1,10}(\\.[a-z]{1,8})?",
        "[A-Z]{2,4}-[0-9]{1,6}",
        "[A-Z][a-z]{1,8}",
        "[A-Z][a-z]{1,10}",
        prop::sample::select(vec![
            "CONTINGENT",
            "FULL_TIME",
            "INTERN",
            "Contractor",
            "temp",
        ]),
    )
        .prop_map(|(local, rid, first, last, status)| {
            (
                format!("{local}@Partners.Acme.com"),
                rid,
                first,
                last,
                status.to_string(),
            )
        })
}

proptest! {
    #[test]
    fn normalization_is_idempotent(s in any::<String>()) {
        let once = to_nfc(s);
        prop_assert_eq!(to_nfc(once.clone()), once);
    }

    #[test]
    fn email_keys_are_idempotent(local in "[a-zA-Z0-9._-]{1,20}", domain in "[a-zA-Z0-9-]{1,12}\\.(com|de|xn--p1ai|org)") {
        let address = format!("{local}@{domain}");
        let key = email::key(&address);
        prop_assert_eq!(email::key(&key), key);
    }

    #[test]
    fn a_salesforce_15_char_id_becomes_an_18_char_id_that_passes(id in "[a-zA-Z0-9]{15}") {
        let check = ids::user_id("salesforce", &id);
        prop_assert!(check.error.is_none());
        prop_assert_eq!(check.normalized.len(), 18);
        let again = ids::user_id("salesforce", &check.normalized);
        prop_assert!(again.error.is_none() && again.change.is_none());
        prop_assert_eq!(&again.normalized, &check.normalized);
    }

    #[test]
    fn records_written_validate_clean_and_give_the_same_bytes(users in prop::collection::vec(user(), 1..20)) {
        let mut text = String::from("email_addr,record_id,full_name,first_name,last_name,work_status\n");
        for (i, (email, rid, first, last, status)) in users.iter().enumerate() {
            // Distinct keys: duplicates are findings, not what this property is about.
            text.push_str(&format!("{i}{email},{rid}{i},{first} {last},{first},{last},{status}\n"));
        }
        let first = run(vec![csv_sheet(&text)]);
        prop_assert!(first.findings.iter().all(|f| f.severity != Severity::Error), "{:?}", first.findings);
        prop_assert_eq!(first.records.len(), users.len());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let jsonl: String = first.records.in_memory().iter().map(|r| format!("{}\n", r.json)).collect();
        std::fs::write(&path, &jsonl).unwrap();
        let second = run(jsonl::read(&path, "records.jsonl", 0).unwrap().0);
        prop_assert!(second.findings.is_empty(), "{:?}", second.findings);
        let again: String = second.records.in_memory().iter().map(|r| format!("{}\n", r.json)).collect();
        prop_assert_eq!(again, jsonl);
    }
}
