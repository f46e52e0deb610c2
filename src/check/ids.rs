//! Identifier formats per system (SPEC §4 table; sources in ID-FORMATS.md).

use super::email;

/// The outcome of checking a `user_id`: its normalized form, the normalization applied, and an
/// error (with a suggestion) or a warning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdCheck {
    pub normalized: String,
    /// `N006` or `N008` when the value was changed.
    pub change: Option<&'static str>,
    pub error: Option<(String, Option<String>)>,
    pub warning: Option<String>,
}

impl IdCheck {
    fn ok(value: &str) -> Self {
        IdCheck {
            normalized: value.to_string(),
            ..Default::default()
        }
    }
    fn error(value: &str, message: impl Into<String>) -> Self {
        IdCheck {
            normalized: value.to_string(),
            error: Some((message.into(), None)),
            ..Default::default()
        }
    }
    fn warn(mut self, message: impl Into<String>) -> Self {
        self.warning = Some(message.into());
        self
    }
}

/// Checks a `user_id` for a connector's system. Unknown systems get the generic check.
pub fn user_id(system: &str, value: &str) -> IdCheck {
    match system {
        "servicenow" => hex_id(value, 32, "a ServiceNow sys_id is 32 hex digits"),
        "jira" => jira(value),
        "salesforce" => salesforce(value),
        "freshservice" | "manageengine" => positive_integer(value),
        "slack" => slack(value),
        "msteams" => msteams(value),
        "okta" => okta(value),
        "azure_ad" => guid(value).unwrap_or_else(|| {
            IdCheck::error(
                value,
                "an Azure AD object id is a GUID (8-4-4-4-12 hex digits)",
            )
        }),
        _ => generic(value),
    }
}

/// Checks an ITSM/IDM `external_id`; `None` when it is fine.
pub fn external_id(system: &str, value: &str) -> Option<String> {
    match system {
        "servicenow" => (value.chars().count() > 40)
            .then(|| "a ServiceNow user_name is at most 40 characters".to_string()),
        "jira" | "freshservice" | "manageengine" | "okta" | "azure_ad" => {
            email::check(value).err().map(|e| {
                format!(
                    "a {system} external id is the user's email address: {}",
                    e.reason
                )
            })
        }
        "salesforce" => {
            // A sandbox username is the production one with the sandbox's name appended
            // (`jane@acme.com.dev1`), a name of letters and digits.
            let sandbox = || {
                value.rsplit_once('.').is_some_and(|(username, sandbox)| {
                    sandbox.starts_with(|c: char| c.is_ascii_alphabetic())
                        && sandbox.bytes().all(|b| b.is_ascii_alphanumeric())
                        && email::check(username).is_ok()
                })
            };
            (email::check(value).is_err() && !sandbox()).then(|| {
                "a Salesforce external id is the username, shaped like an email address".to_string()
            })
        }
        _ => generic(value).error.map(|e| e.0),
    }
}

fn generic(value: &str) -> IdCheck {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        IdCheck::error(value, "an id may not hold whitespace or control characters")
    } else {
        IdCheck::ok(value)
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `len` hex digits, braces allowed as for a GUID; lower-cased and braces stripped (N008).
fn hex_id(value: &str, len: usize, why: &str) -> IdCheck {
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(value);
    if inner.len() == len && is_hex(inner) {
        let mut c = lowercased(inner);
        if inner != value {
            c.change = Some("N008");
        }
        c
    } else {
        IdCheck::error(value, why)
    }
}

fn lowercased(value: &str) -> IdCheck {
    let lower = value.to_ascii_lowercase();
    let change = (lower != value).then_some("N008");
    IdCheck {
        normalized: lower,
        change,
        ..Default::default()
    }
}

/// A GUID, braces allowed; lower-cased and braces stripped (N008).
fn guid(value: &str) -> Option<IdCheck> {
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(value);
    // 8-4-4-4-12 hex digits: hyphens at 8, 13, 18 and 23, hex digits elsewhere.
    let shape = inner.len() == 36
        && inner.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    shape.then(|| {
        let mut c = lowercased(inner);
        if inner != value {
            c.change = Some("N008");
        }
        c
    })
}

fn jira(value: &str) -> IdCheck {
    if value.is_empty() || value.chars().any(char::is_whitespace) || value.chars().count() > 128 {
        return IdCheck::error(
            value,
            "a Jira accountId is 1 to 128 characters without whitespace",
        );
    }
    let lower_hex = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let uuid = |s: &str| {
        let p: Vec<&str> = s.split('-').collect();
        p.len() == 5
            && p.iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(p, n)| p.len() == n && lower_hex(p))
    };
    let legacy = value.len() == 24 && lower_hex(value);
    let modern = value
        .split_once(':')
        .is_some_and(|(d, u)| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && uuid(u));
    let customer = value
        .strip_prefix("qm:")
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(u, h)| {
            u.len() == 36
                && u.split('-').all(lower_hex)
                && !h.is_empty()
                && h.split('-').all(lower_hex)
        });
    let c = IdCheck::ok(value);
    if legacy || modern || customer {
        c
    } else {
        c.warn("not the shape of a Jira Cloud accountId (24 hex digits, `<digits>:<uuid>` or `qm:<uuid>:<hex>`)")
    }
}

const SF_SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 3-character case-safe suffix of a 15-character Salesforce id.
pub fn salesforce_suffix(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let n: usize = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .map(|(j, _)| 1 << j)
                .sum();
            SF_SUFFIX[n] as char
        })
        .collect()
}

fn salesforce(value: &str) -> IdCheck {
    if !(value.len() == 15 || value.len() == 18)
        || !value.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return IdCheck::error(value, "a Salesforce id is 15 or 18 letters and digits");
    }
    let (id15, suffix) = value.split_at(15);
    let expected = salesforce_suffix(id15);
    let mut c = if value.len() == 15 {
        IdCheck {
            normalized: format!("{id15}{expected}"),
            change: Some("N006"),
            ..Default::default()
        }
    } else if suffix.eq_ignore_ascii_case(&expected) {
        // The suffix is written upper-case; a lower-case one written so is a change (N006,
        // the case-safe form) that gets its info finding like any other (SPEC §4).
        IdCheck {
            normalized: format!("{id15}{expected}"),
            change: (suffix != expected).then_some("N006"),
            ..Default::default()
        }
    } else {
        let mut c = IdCheck::error(value, format!("the suffix `{suffix}` does not match the checksum of the first 15 characters (`{expected}`)"));
        c.error.as_mut().expect("set above").1 = restore_case(id15, suffix)
            .map(|id| format!("Use `{id}` (the case restored from the suffix)"));
        return c;
    };
    if !value.starts_with("005") {
        c.warning =
            Some("the key prefix is not `005`: this is not a Salesforce User id".to_string());
    }
    c
}

/// When a spreadsheet changed the case of the first 15 characters, the suffix still tells it.
fn restore_case(id15: &str, suffix: &str) -> Option<String> {
    let one_case = !id15.bytes().any(|b| b.is_ascii_uppercase())
        || !id15.bytes().any(|b| b.is_ascii_lowercase());
    if !one_case {
        return None;
    }
    let suffix = suffix.to_ascii_uppercase();
    let mut out = String::new();
    for (chunk, s) in id15.as_bytes().chunks(5).zip(suffix.bytes()) {
        let n = SF_SUFFIX.iter().position(|&c| c == s)?;
        for (j, &b) in chunk.iter().enumerate() {
            let upper = n & (1 << j) != 0;
            if upper && !b.is_ascii_alphabetic() {
                return None;
            }
            out.push(if upper {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            } as char);
        }
    }
    (salesforce_suffix(&out) == suffix).then(|| format!("{out}{suffix}"))
}

fn positive_integer(value: &str) -> IdCheck {
    let ok = !value.starts_with('0')
        && !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && value.parse::<i64>().is_ok();
    if ok {
        IdCheck::ok(value)
    } else {
        IdCheck::error(value, "the id is a positive whole number that fits 64 bits")
    }
}

fn slack(value: &str) -> IdCheck {
    let mut c = slack_shape(value);
    if let Some((_, suggestion)) = c.error.as_mut() {
        *suggestion = slack_within(value).map(|id| format!("Use `{id}`"));
    }
    c
}

/// The Slack user id a malformed value holds: in upper case (`u012ab3cd`), in a mention
/// (`<@U012AB3CD>`, `@U012AB3CD`) or at the end of a profile's link.
fn slack_within(value: &str) -> Option<String> {
    let inner = value.trim_start_matches('<').trim_end_matches('>');
    let inner = inner.split('|').next().unwrap_or(inner);
    let inner = inner.trim_start_matches('@');
    let inner = inner
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(inner);
    let id = inner.to_ascii_uppercase();
    (id != value && slack_shape(&id).error.is_none()).then_some(id)
}

fn slack_shape(value: &str) -> IdCheck {
    let Some(first) = value.chars().next() else {
        return IdCheck::error(value, "empty");
    };
    if !matches!(first, 'U' | 'W') {
        let what = match first {
            'T' => " (a workspace id)",
            'C' | 'G' => " (a channel id)",
            'D' => " (a direct-message id)",
            'B' => " (a bot id)",
            _ => "",
        };
        return IdCheck::error(
            value,
            format!("a Slack user id starts with `U` or `W`{what}"),
        );
    }
    if !value[1..]
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        || value.len() < 2
    {
        return IdCheck::error(
            value,
            "a Slack user id is `U` or `W` then upper-case letters and digits",
        );
    }
    let c = IdCheck::ok(value);
    if value.len() - 1 < 8 {
        c.warn("shorter than Slack user ids usually are (8 or more characters after the first)")
    } else {
        c
    }
}

fn msteams(value: &str) -> IdCheck {
    if let Some(c) = guid(value) {
        return c;
    }
    match value.strip_prefix("29:") {
        Some(rest)
            if !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            IdCheck::ok(value)
                .warn("a `29:` id is per bot app; the user's AAD object id (a GUID) is stable")
        }
        _ => IdCheck::error(
            value,
            "a Teams user id is the AAD object id (a GUID) or a `29:` id",
        ),
    }
}

fn okta(value: &str) -> IdCheck {
    if value.len() != 20 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return IdCheck::error(value, "an Okta user id is 20 letters and digits");
    }
    let c = IdCheck::ok(value);
    if value.starts_with("00u") {
        c
    } else {
        c.warn("an Okta user id usually starts with `00u`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_checksum_matches_the_worked_examples() {
        assert_eq!(salesforce_suffix("00558000001N0Ke"), "AAK");
        assert_eq!(salesforce_suffix("a0RE000000IJmcN"), "MAT");
        assert_eq!(salesforce_suffix("003G000001SUbc4"), "IAD");
        assert_eq!(salesforce_suffix("aBcDEfgHIJKLMNO"), "025");
        assert_eq!(salesforce_suffix("a0D30000001n7Pi"), "EAI");
        let c = user_id("salesforce", "00558000001N0Ke");
        assert_eq!(
            (c.normalized.as_str(), c.change),
            ("00558000001N0KeAAK", Some("N006"))
        );
        assert_eq!(
            user_id("salesforce", "00558000001N0KeAAK"),
            IdCheck::ok("00558000001N0KeAAK")
        );
        let suffix_lowered = user_id("salesforce", "00558000001N0Keaak");
        assert_eq!(
            (suffix_lowered.normalized.as_str(), suffix_lowered.change),
            ("00558000001N0KeAAK", Some("N006"))
        );
        assert_eq!(user_id("salesforce", "00558000001N0KeAAK").change, None);
        let lowered = user_id("salesforce", "00558000001n0keAAK");
        assert_eq!(
            lowered.error.unwrap().1.as_deref(),
            Some("Use `00558000001N0KeAAK` (the case restored from the suffix)")
        );
        assert!(user_id("salesforce", "a0RE000000IJmcN").warning.is_some());
    }

    #[test]
    fn formats_per_system() {
        let err = |s, v| user_id(s, v).error.is_some();
        let warn = |s, v| {
            let c = user_id(s, v);
            c.error.is_none() && c.warning.is_some()
        };
        let fine = |s, v| {
            let c = user_id(s, v);
            c.error.is_none() && c.warning.is_none()
        };
        assert!(fine("servicenow", "10af7aec73d4c3002728690c4cf6271c"));
        assert_eq!(
            user_id("servicenow", "10AF7AEC73D4C3002728690C4CF6271C").change,
            Some("N008")
        );
        assert!(err("servicenow", "10af7aec73d4c3002728690c4cf6271"));
        // SPEC §4 N008: a sys_id's braces are stripped as a GUID's are.
        let braced = user_id("servicenow", "{10AF7AEC73D4C3002728690C4CF6271C}");
        assert_eq!(
            (braced.normalized.as_str(), braced.change),
            ("10af7aec73d4c3002728690c4cf6271c", Some("N008"))
        );
        assert!(err("servicenow", "{10af7aec73d4c3002728690c4cf6271c"));
        assert!(err("servicenow", "{10af7aec73d4c3002728690c4cf6271}"));
        assert!(fine("jira", "5b10ac8d82e05b22cc7d4ef5"));
        assert!(fine("jira", "557058:5aedf933-2312-40bc-b328-0c21314167f0"));
        assert!(fine("jira", "qm:5aedf933-2312-40bc-b328-0c21314167f0:1a2b"));
        assert!(warn("jira", "JIRAUSER10100"));
        assert!(err("jira", "jane doe"));
        assert!(fine("freshservice", "19000123456"));
        assert!(err("manageengine", "0123"));
        assert!(err("manageengine", "99999999999999999999"));
        assert!(fine("slack", "U0G9QF9C6"));
        assert!(warn("slack", "U123"));
        assert!(err("slack", "u0g9qf9c6"));
        assert!(err("slack", "C0G9QF9C6"));
        // The user id a malformed one holds is suggested; a channel's is none (review).
        let suggested = |v: &str| user_id("slack", v).error.and_then(|e| e.1);
        for v in [
            "u0g9qf9c6",
            "<@U0G9QF9C6>",
            "<@U0G9QF9C6|jane>",
            "@u0g9qf9c6",
            "https://acme.slack.com/team/U0G9QF9C6/",
        ] {
            assert_eq!(suggested(v).as_deref(), Some("Use `U0G9QF9C6`"), "{v}");
        }
        assert_eq!(suggested("C0G9QF9C6"), None);
        assert_eq!(suggested("c0g9qf9c6"), None);
        assert_eq!(suggested("jane doe"), None);
        assert!(fine("msteams", "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"));
        assert!(warn("msteams", "29:1abcDEF_-x"));
        assert!(err("msteams", "19:meeting@thread.v2"));
        assert!(fine("okta", "00ub0oNGTSWTBKOLGLNR"));
        assert!(warn("okta", "00gb0oNGTSWTBKOLGLNR"));
        assert!(err("okta", "00ub0oNGTSWT"));
        let braced = user_id("azure_ad", "{7FAF8AB2-3D56-4244-B585-20C8A42ED2B8}");
        assert_eq!(
            (braced.normalized.as_str(), braced.change),
            ("7faf8ab2-3d56-4244-b585-20c8a42ed2b8", Some("N008"))
        );
        assert!(err("azure_ad", "not-a-guid"));
        assert!(fine("azure_ad", "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"));
        for bad in [
            "7faf8ab23-d56-4244-b585-20c8a42ed2b8",
            "7faf8ab2-3d56-4244-b585-20c8a42ed2bg",
            "7faf8ab2-3d56-4244-b585-20c8a42ed2b",
            "7faf8ab2-3d56-4244-b585-20c8a42ed2b88",
            "{7faf8ab2-3d56-4244-b585-20c8a42ed2b8",
        ] {
            assert!(err("azure_ad", bad), "{bad}");
        }
        assert!(fine("workday", "987654"));
        assert!(err("workday", "98 76"));
    }

    #[test]
    fn external_ids() {
        assert!(external_id("jira", "jane@acme.com").is_none());
        assert!(external_id("jira", "jane").is_some());
        assert!(external_id("servicenow", "jane.doe").is_none());
        assert!(external_id("servicenow", &"x".repeat(41)).is_some());
        // A Salesforce sandbox username: the sandbox's name after the domain (review).
        for ok in ["jane@acme.com", "jane@acme.com.uat", "jane@acme.com.dev1"] {
            assert_eq!(external_id("salesforce", ok), None, "{ok}");
        }
        for bad in [
            "jane",
            "jane@acme",
            "jane@acme.com.1dev",
            "jane@acme.com.de-v",
        ] {
            assert!(external_id("salesforce", bad).is_some(), "{bad}");
        }
    }
}
