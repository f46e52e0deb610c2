//! Every ID-format validator and the email check, on any string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::check::{email, ids};

const SYSTEMS: [&str; 10] = [
    "servicenow",
    "jira",
    "salesforce",
    "freshservice",
    "manageengine",
    "slack",
    "msteams",
    "okta",
    "azure_ad",
    "other",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for system in SYSTEMS {
        let check = ids::user_id(system, text);
        // A normalized id is stable: checking it again changes nothing.
        if check.error.is_none() {
            let again = ids::user_id(system, &check.normalized);
            assert_eq!(again.normalized, check.normalized, "{system}: {text:?}");
        }
        let _ = ids::external_id(system, text);
    }
    if text.len() == 15 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let id18 = format!("{text}{}", ids::salesforce_suffix(text));
        assert!(ids::user_id("salesforce", &id18).error.is_none());
    }
    let _ = email::check(text);
    let _ = email::key(text);
});
