//! A stored record's keys: the identities (integration, user id) and address keys that D004,
//! S001 and the plan compare a batch with. They are worked out from the record's text when it
//! is written and kept beside it (`users.keys`), so that reading a million stored users does
//! not parse and hash 2.4 GB of JSON again; a record written before they were kept (the column
//! is NULL) has them worked out from its text as it is read, by the same code.

use crate::check::email;
use serde_json::Value;
use std::borrow::Cow;

/// The first byte of every keys blob. Bump it when what [`of_text`] gives for a text changes
/// (say, `email::key` folds addresses differently): blobs of another format are not used, and
/// those records' keys come from their texts again.
pub const FORMAT: u8 = 1;

const IDENTITY: u8 = b'i';
const EMAIL: u8 = b'e';

/// What takes a record's keys, in the order [`of_text`] finds them.
pub trait KeySink {
    fn identity(&mut self, integration: &str, user_id: &str);
    fn email(&mut self, key: &str);
}

/// Gives the keys of the record `text` to `sink`: every ID-info entry with both an integration
/// and a user id (ITSM, chat, IDM), then the address keys of `email_addr` and `user_emails`.
pub fn of_text(text: &str, sink: &mut impl KeySink) {
    match serde_json::from_str::<StoredView>(text) {
        Ok(view) => view.give(sink),
        // Not the shape muster writes: take what the parsed tree offers.
        Err(_) => of_tree(text, sink),
    }
}

/// The keys of `text` as the blob `users.keys` holds.
pub fn encode(text: &str) -> Vec<u8> {
    struct Blob(Vec<u8>, u32);
    impl Blob {
        fn part(&mut self, s: &str) {
            self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.0.extend_from_slice(s.as_bytes());
        }
    }
    impl KeySink for Blob {
        fn identity(&mut self, integration: &str, user_id: &str) {
            self.1 += 1;
            self.0.push(IDENTITY);
            self.part(integration);
            self.part(user_id);
        }
        fn email(&mut self, key: &str) {
            self.1 += 1;
            self.0.push(EMAIL);
            self.part(key);
        }
    }
    // The format, then how many parts follow (so that a cut blob is not taken for a shorter
    // list), then each part: a tag and its texts, each after its length.
    let mut blob = Blob(Vec::with_capacity(512), 0);
    blob.0.extend_from_slice(&[FORMAT, 0, 0, 0, 0]);
    of_text(text, &mut blob);
    blob.0[1..5].copy_from_slice(&blob.1.to_le_bytes());
    blob.0
}

/// Gives the keys held in `blob` to `sink`, each part read once. For a blob that
/// [`is_well_formed`] accepted, as [`crate::store::UserChunk::push_keys`] checks every blob it
/// takes: it is not parsed a second time here. `None` when the blob is not well formed after
/// all, the parts before the fault already given.
pub fn decode(blob: &[u8], sink: &mut impl KeySink) -> Option<()> {
    parse(blob, |part| match part {
        Part::Identity(integration, user_id) => sink.identity(integration, user_id),
        Part::Email(key) => sink.email(key),
    })
    .then_some(())
}

/// Whether `blob` is one [`encode`] of this format wrote (as many parts as it says, every
/// length in bounds, every part UTF-8, nothing after): checked as the store is read, so that a
/// damaged blob falls back to the text.
pub fn is_well_formed(blob: &[u8]) -> bool {
    parse(blob, |_| ())
}

enum Part<'b> {
    Identity(&'b str, &'b str),
    Email(&'b str),
}

fn parse<'b>(blob: &'b [u8], mut give: impl FnMut(Part<'b>)) -> bool {
    fn len(rest: &mut &[u8]) -> Option<usize> {
        let (n, tail) = rest.split_first_chunk::<4>()?;
        *rest = tail;
        Some(u32::from_le_bytes(*n) as usize)
    }
    // A blob is nearly always UTF-8 as a whole (ASCII lengths and tags, UTF-8 texts): it is
    // checked once, and each part is a slice of it, UTF-8 exactly when it starts and ends on
    // a character's boundary. Checking each of a million users' dozen parts on its own was
    // the store read's slowest thread's second cost (docs/benchmarks.md, thirteenth session).
    let whole = std::str::from_utf8(blob).ok();
    let part = |rest: &mut &'b [u8]| -> Option<&'b str> {
        let n = len(rest)?;
        if rest.len() < n {
            return None;
        }
        let start = blob.len() - rest.len();
        let (s, tail) = rest.split_at(n);
        *rest = tail;
        match whole {
            Some(whole) => whole.get(start..start + n),
            None => std::str::from_utf8(s).ok(),
        }
    };
    let Some((&FORMAT, mut rest)) = blob.split_first() else {
        return false;
    };
    let Some(count) = len(&mut rest) else {
        return false;
    };
    for _ in 0..count {
        let Some((&tag, tail)) = rest.split_first() else {
            return false;
        };
        rest = tail;
        let parsed = match tag {
            IDENTITY => part(&mut rest).and_then(|i| Some(Part::Identity(i, part(&mut rest)?))),
            EMAIL => part(&mut rest).map(Part::Email),
            _ => None,
        };
        match parsed {
            Some(p) => give(p),
            None => return false,
        }
    }
    rest.is_empty()
}

/// A stored record's keys from its parsed tree: for a record not in the shape muster writes.
fn of_tree(text: &str, sink: &mut impl KeySink) {
    let record: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let info = &record["user_id_info"];
    for list in ["itsm_id_info", "channel_id_info", "idm_id_info"] {
        for e in info[list].as_array().into_iter().flatten() {
            if let (Some(i), Some(id)) = (e["integration"].as_str(), e["user_id"].as_str()) {
                sink.identity(i, id);
            }
        }
    }
    let aliases = info["user_emails"].as_array().into_iter().flatten();
    for e in std::iter::once(&record["user"]["email_addr"]).chain(aliases) {
        if let Some(e) = e.as_str() {
            sink.email(&email::key(e));
        }
    }
}

/// The parts of a stored record that the rules compare with, borrowed from its text where no
/// escape needs undoing: parsing only these (serde skips the rest) costs a fraction of a
/// whole `Value` tree per stored user.
#[derive(serde::Deserialize)]
struct StoredView<'a> {
    #[serde(borrow, default)]
    user: UserView<'a>,
    #[serde(borrow, default)]
    user_id_info: InfoView<'a>,
}

#[derive(serde::Deserialize, Default)]
struct UserView<'a> {
    #[serde(borrow, default)]
    email_addr: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize, Default)]
struct InfoView<'a> {
    #[serde(borrow, default)]
    itsm_id_info: Vec<EntryView<'a>>,
    #[serde(borrow, default)]
    channel_id_info: Vec<EntryView<'a>>,
    #[serde(borrow, default)]
    idm_id_info: Vec<EntryView<'a>>,
    #[serde(borrow, default)]
    user_emails: Vec<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct EntryView<'a> {
    #[serde(borrow, default)]
    integration: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
}

impl StoredView<'_> {
    fn give(&self, sink: &mut impl KeySink) {
        let info = &self.user_id_info;
        for e in [&info.itsm_id_info, &info.channel_id_info, &info.idm_id_info]
            .into_iter()
            .flatten()
        {
            if let (Some(i), Some(id)) = (&e.integration, &e.user_id) {
                sink.identity(i, id);
            }
        }
        for e in self.user.email_addr.iter().chain(&info.user_emails) {
            sink.email(&email::key(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Seen(Vec<(String, String)>, Vec<String>);

    impl KeySink for Seen {
        fn identity(&mut self, integration: &str, user_id: &str) {
            self.0.push((integration.to_string(), user_id.to_string()));
        }
        fn email(&mut self, key: &str) {
            self.1.push(key.to_string());
        }
    }

    fn from_text(text: &str) -> Seen {
        let mut seen = Seen::default();
        of_text(text, &mut seen);
        seen
    }

    fn from_blob(blob: &[u8]) -> Option<Seen> {
        let mut seen = Seen::default();
        decode(blob, &mut seen).map(|()| seen)
    }

    const RECORD: &str = r#"{"record_id":"CTR-1","user":{"email_addr":"Ann.Lee@Example.COM","first_name":"Ann"},"user_id_info":{"user_emails":["ann@bücher.example","a\"q@example.com"],"itsm_id_info":[{"integration":"snow","user_id":"a1b2"}],"channel_id_info":[{"integration":"slack","user_id":"U0\u00e9"},{"integration":"teams"}],"idm_id_info":[{"integration":"okta","user_id":"00u1"}]}}"#;

    /// Also pins what `email::key` gives (IDNA, Unicode lower case): if a new `idna` or
    /// toolchain changes it, kept blobs no longer match their texts, and [`FORMAT`] must be
    /// bumped.
    #[test]
    fn the_blob_gives_what_the_text_gives() {
        let mut pinned = Seen::default();
        of_text(
            r#"{"user":{"email_addr":"ÅSA.Öberg@Exämple.SE"},"user_id_info":{"user_emails":["ΣΊΣΥΦΟΣ@ελλάδα.gr"]}}"#,
            &mut pinned,
        );
        assert_eq!(
            pinned.1,
            ["åsa.öberg@xn--exmple-cua.se", "σίσυφος@xn--hxakic4aa.gr"]
        );
        let seen = from_text(RECORD);
        assert_eq!(
            seen.0,
            [("snow", "a1b2"), ("slack", "U0é"), ("okta", "00u1")]
                .map(|(i, u)| (i.to_string(), u.to_string()))
        );
        assert_eq!(
            seen.1,
            [
                "ann.lee@example.com",
                "ann@xn--bcher-kva.example",
                "a\"q@example.com"
            ]
        );
        for text in [
            RECORD,
            "{}",
            "null",
            "not json",
            r#"{"user":{"email_addr":7},"user_id_info":{"itsm_id_info":"x"}}"#,
        ] {
            let blob = encode(text);
            assert!(is_well_formed(&blob), "{text}");
            assert_eq!(from_blob(&blob), Some(from_text(text)), "{text}");
        }
    }

    #[test]
    fn a_damaged_or_other_format_blob_is_refused() {
        let blob = encode(RECORD);
        let mut other = blob.clone();
        other[0] = FORMAT + 1;
        let mut bad_tag = blob.clone();
        bad_tag[5] = b'x';
        let mut not_utf8 = blob.clone();
        not_utf8[10] = 0xff;
        let mut longer = blob.clone();
        longer.push(0);
        // UTF-8 as a whole, but its first part is the first byte of `é`: the second part's
        // length starts with the character's second byte (169 bytes follow).
        let mut split_char = vec![
            FORMAT, 1, 0, 0, 0, IDENTITY, 1, 0, 0, 0, 0xc3, 0xa9, 0, 0, 0,
        ];
        split_char.extend([b'u'; 169]);
        assert!(std::str::from_utf8(&split_char).is_ok());
        // A length of 128 or more is not UTF-8 as a whole: each part is checked on its own.
        let mut long_key = vec![FORMAT, 1, 0, 0, 0, EMAIL, 200, 0, 0, 0];
        long_key.extend("é".repeat(100).as_bytes());
        assert!(std::str::from_utf8(&long_key).is_err() && is_well_formed(&long_key));
        let mut long_bad = long_key.clone();
        long_bad[11] = b'x';
        for (why, b) in [
            ("empty", &[][..]),
            ("other format", &other),
            ("unknown tag", &bad_tag),
            ("not UTF-8", &not_utf8),
            ("bytes after the parts", &longer),
            ("a part that splits a character", &split_char),
            ("a long part that is not UTF-8", &long_bad),
        ] {
            assert!(!is_well_formed(b), "{why}");
            assert_eq!(from_blob(b), None, "{why}");
        }
        for cut in 0..blob.len() {
            assert!(!is_well_formed(&blob[..cut]), "cut at {cut}");
            assert_eq!(from_blob(&blob[..cut]), None, "cut at {cut}");
        }
        assert_eq!(from_blob(&[FORMAT, 0, 0, 0, 0]), Some(Seen::default()));
    }
}
