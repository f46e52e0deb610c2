//! Checks and normalizations of single values: enums, tags, timezones, countries, and the
//! raw-cell checks for formulas (V007), control characters (V008) and mangled ids (V009).

use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

pub const WORK_STATUSES: [&str; 4] = ["UNKNOWN_WORK_STATUS", "CONTINGENT", "INTERN", "FULL_TIME"];

pub const USER_TAGS: [&str; 14] = [
    "UNKNOWN_USER_TAG",
    "BASIC_USER",
    "VIP",
    "FIELD_AGENT",
    "KNOWLEDGE_WORKER",
    "IT_AGENT",
    "TESTER",
    "SUPPORTED_LANGUAGE_USER",
    "SERVICE_ACCOUNT",
    "CALL_CENTER",
    "HAS_ACCESS_TO_BOT",
    "DIRECTOR",
    "EXECUTIVE",
    "SOCIAL_AUTH_USER",
];

/// Excel's limit on a cell's length.
pub const MAX_CELL_CHARS: usize = 32_767;

/// The enum value of a work status or one of its aliases (SPEC §4).
pub fn work_status(value: &str) -> Option<&'static str> {
    // Most cells hold the value itself: no folded copy for them (folding every status for
    // every row was 3 % of a validation's instructions).
    if let Some(exact) = WORK_STATUSES.iter().find(|s| **s == value) {
        return Some(exact);
    }
    Some(match crate::input::headers::fold(value).as_str() {
        "fulltime" | "ft" | "employee" | "permanent" => "FULL_TIME",
        "contingent" | "contractor" | "contingentworker" | "contract" | "temp" | "temporary"
        | "consultant" => "CONTINGENT",
        "intern" | "internship" => "INTERN",
        "unknownworkstatus" | "unknown" => "UNKNOWN_WORK_STATUS",
        _ => return None,
    })
}

/// Splits a multi-valued cell on `;`, `,` and line breaks, dropping empty parts.
pub fn split_multi(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([';', ',', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Result of a timezone lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Tz {
    Exact,
    /// Known but spelled in another case: the canonical spelling (N007).
    Recased(String),
    /// Unknown, with the closest known name if any (V005).
    Unknown(Option<String>),
}

static TZ_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .filter(|n| n != "Factory")
        .collect()
});

pub fn timezone(value: &str) -> Tz {
    if let Some(name) = TZ_BY_LOWER_CASE
        .get(value.to_ascii_lowercase().as_str())
        .map(|&i| &TZ_NAMES[i])
    {
        return if name == value {
            Tz::Exact
        } else {
            Tz::Recased(name.clone())
        };
    }
    static SUGGESTED: Memo = Memo::new();
    Tz::Unknown(SUGGESTED.get(value, || timezone_suggestion(value)))
}

/// Suggestions already made, by the value they were made for: a batch repeats one unknown value
/// on many rows, and each suggestion compares it with hundreds of names (review: 100,000 rows
/// of `Pacific Time` took 15 s).
struct Memo(std::sync::Mutex<Option<HashMap<String, Option<String>>>>);

impl Memo {
    const fn new() -> Memo {
        Memo(std::sync::Mutex::new(None))
    }

    fn get(&self, value: &str, make: impl FnOnce() -> Option<String>) -> Option<String> {
        let lock = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = lock().as_ref().and_then(|m| m.get(value)) {
            return known.clone();
        }
        let made = make();
        let mut memo = lock();
        let memo = memo.get_or_insert_with(HashMap::new);
        // Bounded: a batch of a million different bad values keeps only the first ones.
        if memo.len() < 10_000 {
            memo.insert(value.to_string(), made.clone());
        }
        made
    }
}

/// The zone an unknown timezone stands for, when that is clear; none rather than a guess, for a
/// wrong zone shifts the user's hours (review: `Pacific Standard Time` got `Pacific/Saipan`).
fn timezone_suggestion(value: &str) -> Option<String> {
    let known = |name: &str| {
        TZ_BY_LOWER_CASE
            .get(name.to_ascii_lowercase().as_str())
            .map(|&i| TZ_NAMES[i].clone())
    };
    // Spaces for underscores (`America/New York`).
    let spaced = value.trim().replace(' ', "_");
    if let Some(name) = known(&spaced) {
        return Some(name);
    }
    // An abbreviation that names one zone's offsets (`PST`; review: no suggestion). Not those
    // that name several (`IST`: India, Israel, Ireland; `CST`: the US, China; `BST`).
    let abbreviation = match value.trim().to_ascii_uppercase().as_str() {
        "PST" | "PDT" | "PT" => Some("America/Los_Angeles"),
        "EDT" | "ET" => Some("America/New_York"),
        "MDT" | "MT" => Some("America/Denver"),
        "AKST" | "AKDT" => Some("America/Anchorage"),
        "AEST" | "AEDT" => Some("Australia/Sydney"),
        "NZST" | "NZDT" => Some("Pacific/Auckland"),
        "JST" => Some("Asia/Tokyo"),
        "KST" => Some("Asia/Seoul"),
        "SGT" => Some("Asia/Singapore"),
        "HKT" => Some("Asia/Hong_Kong"),
        _ => None,
    };
    if let Some(name) = abbreviation.and_then(known) {
        return Some(name);
    }
    // A Windows zone (`Pacific Standard Time`, from Active Directory): the zone CLDR maps it
    // to for the world (its `001` territory).
    if let Some(name) = localzone::win_zone_to_iana(value.trim(), Some("001")).and_then(known) {
        return Some(name);
    }
    // An offset (`UTC+1`, `GMT-5`, `+05:00`): the `Etc/GMT` zone of that offset, whose sign
    // POSIX inverts; none for a part of an hour, nor for anything else offset-shaped
    // (`Etc/GMT+13` is one edit from `Etc/GMT-13`, the opposite offset).
    if let Some(caps) = UTC_OFFSET.captures(value.trim()) {
        let hours: i32 = caps[2].parse().ok()?;
        let minutes: i32 = caps.get(3).map_or(Some(0), |m| m.as_str().parse().ok())?;
        if minutes != 0 || hours > 14 {
            return None;
        }
        return match (hours, &caps[1]) {
            (0, _) => known("Etc/UTC"),
            (h, "+") => known(&format!("Etc/GMT-{h}")),
            (h, _) => known(&format!("Etc/GMT+{h}")),
        };
    }
    if value.bytes().any(|b| b.is_ascii_digit()) && value.contains(['+', '-']) {
        return None;
    }
    // A city alone (`New York`, `London`): the one zone named after it.
    let mut ending = TZ_NAMES.iter().filter(|n| {
        n.rsplit('/')
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(&spaced))
    });
    if let (Some(name), None) = (ending.next(), ending.next()) {
        return Some(name.clone());
    }
    // A typo of a zone's whole name (`Amrica/New_York`); not of an abbreviation, which an
    // edit turns into another zone (review: `MSK` got `MST`, `Z` got `NZ`).
    if !value.contains('/') {
        return None;
    }
    typo_of(
        &value.to_ascii_lowercase(),
        TZ_NAMES.iter().map(|n| (n.to_ascii_lowercase(), n)),
    )
    .cloned()
}

/// `UTC+1`, `GMT-05:00`, `+0530`: a sign, hours and maybe minutes, after `UTC` or `GMT`.
static UTC_OFFSET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i:UTC|GMT)?\s*([+-])\s*([0-9]{1,2})(?::?([0-9]{2}))?$").expect("valid regex")
});

/// The one candidate within a typo of `value` (an edit for a short word, two for a longer
/// one), compared on their keys; none when two others are as close.
fn typo_of<'a, T>(value: &str, candidates: impl Iterator<Item = (String, &'a T)>) -> Option<&'a T>
where
    T: ?Sized + PartialEq,
{
    let limit = if value.chars().count() <= 6 { 1 } else { 2 };
    let mut best: Option<(usize, &T)> = None;
    let mut tied = false;
    for (key, item) in candidates {
        // Two letters swapped are one edit (`Itlay`).
        let d = strsim::osa_distance(value, &key);
        if d > limit {
            continue;
        }
        match best {
            Some((b, _)) if d > b => {}
            // Two names of one country (`korea`, `south korea`) are not a tie.
            Some((b, held)) if d == b => tied |= held != item,
            _ => {
                best = Some((d, item));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, item)| item)
}

/// Each name in ASCII lower case → its place in `TZ_NAMES` (the first, were two to differ only
/// in case): looking through the ~600 names for every row was 2 % of a validation.
static TZ_BY_LOWER_CASE: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (i, name) in TZ_NAMES.iter().enumerate() {
        map.entry(name.to_ascii_lowercase()).or_insert(i);
    }
    map
});

/// Result of a country lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Country {
    Exact,
    /// A lower-case code or a name, mapped to its code (N005).
    Mapped(&'static str),
    Unknown(Option<String>),
}

/// Short names people write that the ISO names (as `isocountry` has them) do not match, and
/// the current ISO short names it predates.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("usa", "US"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("republic of korea", "KR"),
    ("north korea", "KP"),
    ("russia", "RU"),
    ("vietnam", "VN"),
    ("czech republic", "CZ"),
    ("ivory coast", "CI"),
    ("turkey", "TR"),
    ("türkiye", "TR"),
    ("iran", "IR"),
    ("syria", "SY"),
    ("laos", "LA"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("moldova", "MD"),
    ("taiwan", "TW"),
    ("the netherlands", "NL"),
    ("netherlands (kingdom of the)", "NL"),
    ("holland", "NL"),
    ("deutschland", "DE"),
    ("uae", "AE"),
    ("macedonia", "MK"),
    ("north macedonia", "MK"),
    ("eswatini", "SZ"),
    ("democratic republic of the congo", "CD"),
    ("dr congo", "CD"),
    ("drc", "CD"),
    ("congo-kinshasa", "CD"),
    ("republic of the congo", "CG"),
    ("congo-brazzaville", "CG"),
    ("palestine", "PS"),
    ("micronesia", "FM"),
    ("burma", "MM"),
    ("east timor", "TL"),
    ("the bahamas", "BS"),
    ("the gambia", "GM"),
    ("brunei", "BN"),
    ("cape verde", "CV"),
    ("vatican", "VA"),
    ("vatican city", "VA"),
    ("korea, republic of", "KR"),
    ("korea, democratic people's republic of", "KP"),
    ("state of palestine", "PS"),
    ("sint maarten", "SX"),
];

/// Every country name folded (case, accents, the apostrophe) → its code: the ISO names and
/// the aliases, so that `Cote d'Ivoire` and `São Tomé and Príncipe` are found as written.
static COUNTRY_BY_NAME: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for code in isocountry::CountryCode::iter() {
        map.insert(fold_name(code.name()), code.alpha2());
    }
    for (name, code) in COUNTRY_ALIASES {
        map.insert(fold_name(name), *code);
    }
    map
});

fn fold_name(name: &str) -> String {
    super::fold_accents(name.trim()).replace(['\u{2019}', '\u{2018}', '\u{2bc}'], "'")
}

pub fn country(value: &str) -> Country {
    use isocountry::CountryCode;
    if value.len() == 2 {
        if let Ok(code) = CountryCode::for_alpha2_caseless(value) {
            return if code.alpha2() == value {
                Country::Exact
            } else {
                Country::Mapped(code.alpha2())
            };
        }
    }
    let folded = fold_name(value);
    if let Some(code) = COUNTRY_BY_NAME.get(&folded) {
        return Country::Mapped(code);
    }
    // Initials with dots (`U.S.`, `U.K.`, `U.S.A.`; review: no suggestion): as written
    // without them, the code mapped, anything else suggested.
    if value.contains('.') {
        let bare: String = value.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
        if !bare.is_empty() && bare.len() <= 3 && bare.is_ascii() {
            return match country(&bare) {
                Country::Exact => Country::Mapped(
                    isocountry::CountryCode::for_alpha2_caseless(&bare).map_or("", |c| c.alpha2()),
                ),
                other => other,
            };
        }
    }
    if value.len() == 3 {
        if let Ok(code) = CountryCode::for_alpha3_caseless(value) {
            return Country::Unknown(Some(code.alpha2().to_string()));
        }
    }
    // `UK`, or a typo of a name (`Germny`); none rather than a near country (review: `Eswatini`
    // got Estonia's `EE` by similarity).
    static SUGGESTED: Memo = Memo::new();
    let suggestion = SUGGESTED.get(&folded, || {
        match value.to_ascii_uppercase().as_str() {
            "UK" => Some("GB"),
            _ if folded.chars().count() < 4 => None,
            _ => typo_of(
                &folded,
                COUNTRY_BY_NAME.iter().map(|(n, c)| (n.clone(), *c)),
            ),
        }
        .map(str::to_string)
    });
    Country::Unknown(suggestion)
}

/// A sign, then the numbers and operators of an expression (`-1+`, `+2*(`), then a function
/// call, a cell reference or a `!`: what a spreadsheet runs (`-1+A1`, `-10+SUM(A1:A3)`). A
/// phone number (`+1 (555) 010-0100`) has no reference after its digits.
static FORMULA_AFTER_SIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[+\-@][\s0-9.+\-*/^&()%]*(?:[A-Za-z_][A-Za-z0-9_.]*\s*\(|\$?[A-Za-z]{1,3}\$?[0-9]+|.*!)",
    )
    .expect("valid regex")
});

/// V007: text a spreadsheet would run as a formula.
pub fn runs_as_formula(value: &str) -> bool {
    // The regex is anchored on a sign: most cells are ruled out by their first byte.
    // A number in scientific notation (`-1e5`) has what reads as a reference after its
    // digits, and a spreadsheet takes it as the number (review: it was V007).
    value.starts_with('=')
        || (value.starts_with(['+', '-', '@'])
            && FORMULA_AFTER_SIGN.is_match(value)
            && value.parse::<f64>().is_err())
}

/// V007's suggestion for `@U012AB3CG` or `@jdoe`: the handle after the `@`, when it is one
/// (letters, digits, `.`, `_`, `-`), not a function call or a reference such as `@SUM(A1)`.
pub fn handle_after_at(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('@')?;
    let handle = !rest.is_empty()
        && rest
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    handle.then_some(rest)
}

/// V007: `####`, what a spreadsheet shows for a number or a date too wide for its column, as a
/// CSV save writes it: the value itself is lost (review: loaded as a department).
pub fn too_wide_mark(value: &str) -> bool {
    value.len() >= 2 && value.bytes().all(|b| b == b'#')
}

/// V007: a spreadsheet's error value (`#N/A`, `#REF!`, LibreOffice's `Err:502`): what a
/// failed formula leaves, kept by "paste values" or a save to CSV. The value it stood for is
/// gone, and the text is never one a user attribute holds.
#[inline]
pub fn spreadsheet_error(value: &str) -> bool {
    const ERRORS: [&str; 18] = [
        // Google Sheets'.
        "#ERROR!",
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#EXTERNAL!",
        "#PYTHON!",
    ];
    match value.as_bytes().first() {
        Some(b'#') => ERRORS.iter().any(|e| e.eq_ignore_ascii_case(value)),
        Some(b'E') => value
            .strip_prefix("Err:")
            .is_some_and(|n| n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// V008: the first control character, if any. Multi-valued cells may hold line breaks.
pub fn control_character(value: &str, multi_valued: bool) -> Option<char> {
    let allowed = |c: char| multi_valued && matches!(c, '\n' | '\r');
    // Nearly every cell is printable ASCII, looked over eight bytes at a time.
    {
        use crate::swar::{below, equal, non_ascii};
        if !crate::swar::any(value.as_bytes(), b'a', |w| {
            below(w, 0x20) | equal(w, 0x7f) | non_ascii(w)
        }) {
            return None;
        }
    }
    // In ASCII, the control characters are the bytes below 0x20 and 0x7F; the others
    // (U+0080–U+009F) need the characters decoded.
    if value.is_ascii() {
        return value
            .bytes()
            .map(char::from)
            .find(|&c| (c < ' ' || c == '\x7f') && !allowed(c));
    }
    value.chars().find(|&c| c.is_control() && !allowed(c))
}

/// V008 for a key (a record id, an address, a system's id): the first invisible format
/// character (Unicode category Cf: U+200B zero-width space, U+FEFF, the bidi marks, the soft
/// hyphen), if any. Copied in with a value from a web page or a chat, it makes the key differ
/// from the same one typed elsewhere while looking the same. Names and other text may hold
/// them rightly (U+200C and U+200D in Persian and Indic names), so only keys are checked, and
/// with `joiners` an address may hold those two (an internationalized domain).
pub fn format_character(value: &str, joiners: bool) -> Option<char> {
    if value.is_ascii() {
        return None;
    }
    use icu_properties::{props::GeneralCategory, CodePointMapData};
    let category = CodePointMapData::<GeneralCategory>::new();
    value.chars().find(|&c| {
        category.get(c) == GeneralCategory::Format
            && !(joiners && matches!(c, '\u{200C}' | '\u{200D}'))
    })
}

/// V008 for any value: a bidi override (U+202D, U+202E), which shows the characters after it in
/// reverse order, so that a name or a title reads as other text than it holds (the "Trojan
/// Source" trick). Right-to-left text needs none: the marks, embeddings and isolates that
/// mixed scripts use rightly (U+200F, U+202B, U+2067) pass.
pub fn bidi_override(value: &str) -> Option<char> {
    if value.is_ascii() {
        return None;
    }
    value
        .chars()
        .find(|&c| matches!(c, '\u{202D}' | '\u{202E}'))
}

/// V014: a character of a key that looks like an ASCII one but is not, and the key with each
/// such character replaced by its twin. Keys are matched exactly, so
/// `ＣＴＲ-１００３` (a Japanese or Chinese input method's full-width forms), `CTR–1004` (an
/// autocorrected dash) and `СTR-1` (a Cyrillic `С`) are each a second key beside the one they
/// look like, and none matches the primary source's joining key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    /// The first such character.
    pub found: char,
    /// What it is, for the message: "a full-width form", "a typographic dash", "a Cyrillic
    /// letter drawn as a Latin one".
    pub what: &'static str,
    /// The key with each lookalike replaced by its twin, its other characters kept.
    pub fixed: String,
}

/// Cyrillic and Greek letters drawn like Latin ones (the confusables of Unicode's UTS #39
/// that a keyboard layout gives for a Latin letter).
const LATIN_TWINS: &[(char, char)] = &[
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('Х', 'X'),
    ('а', 'a'),
    ('е', 'e'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('у', 'y'),
    ('х', 'x'),
    ('і', 'i'),
    ('ј', 'j'),
    ('ѕ', 's'),
    ('І', 'I'),
    ('Ј', 'J'),
    ('Ѕ', 'S'),
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ζ', 'Z'),
    ('Η', 'H'),
    ('Ι', 'I'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ο', 'O'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Υ', 'Y'),
    ('Χ', 'X'),
    ('ο', 'o'),
    ('ν', 'v'),
];

/// [`Lookalike`] for a key, if it holds such a character. Only the forms drawn as their ASCII
/// twins count: full-width ones, dashes, and the Cyrillic and Greek letters of [`LATIN_TWINS`]
/// where Latin letters are beside them, or where every letter of the key is such a twin
/// (`АВС-1003`). Other compatibility forms (`Nº`, `²`, `ﬁ`) and letters with no Latin twin
/// (`Ж`) are a key's own (adversarial review).
pub fn lookalike(value: &str) -> Option<Lookalike> {
    if value.is_ascii() {
        return None;
    }
    let latin_twin = |c: char| LATIN_TWINS.iter().find(|(l, _)| *l == c).map(|&(_, a)| a);
    // A twin counts in a word of Latin letters and twins only (`СTR`), or in a key whose
    // letters are all twins (`АВС-1003`); not in a word of its own script (`CTR-Жанна`).
    let all_twins = value.chars().any(|c| latin_twin(c).is_some())
        && (value.chars())
            .filter(|c| c.is_alphabetic())
            .all(|c| latin_twin(c).is_some());
    let mixed_words: Vec<&str> = value
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| {
            w.chars().any(|c| c.is_ascii_alphabetic())
                && w.chars().all(|c| c.is_ascii() || latin_twin(c).is_some())
        })
        .collect();
    let in_mixed_word = |c: char| mixed_words.iter().any(|w| w.contains(c));
    let twin = |c: char| -> Option<(&'static str, char)> {
        if c.is_ascii() {
            return None;
        }
        if matches!(
            c,
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}'
        ) {
            return Some(("a typographic dash", '-'));
        }
        if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
            let ascii = char::from_u32(c as u32 - 0xFF01 + 0x21)?;
            return Some(("a full-width form", ascii));
        }
        let ascii = latin_twin(c).filter(|_| all_twins || in_mixed_word(c))?;
        let what = if ('\u{0400}'..='\u{04FF}').contains(&c) {
            "a Cyrillic letter drawn as a Latin one"
        } else {
            "a Greek letter drawn as a Latin one"
        };
        Some((what, ascii))
    };
    let (found, what) = value
        .chars()
        .find_map(|c| twin(c).map(|(what, _)| (c, what)))?;
    // `Müller–1` → `Müller-1`.
    let fixed = (value.chars())
        .map(|c| twin(c).map_or(c, |(_, ascii)| ascii))
        .collect();
    Some(Lookalike { found, what, fixed })
}

/// V015: where `?` stands for a character a save could not write (Windows-1252 has no `Ł`,
/// ASCII no `ë`, and both write `?`; a name or an address never holds one), or, in other text,
/// a `?` between two letters (`M?nchen`), as a question never has it.
pub fn lost_character(text: &str, name_or_address: bool) -> bool {
    if !text.contains('?') {
        return false;
    }
    if name_or_address {
        return true;
    }
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(3)
        .any(|w| w[1] == '?' && w[0].is_alphabetic() && w[2].is_alphabetic())
}

/// The first space other than U+0020 inside a key (U+00A0, U+2007, U+202F, an ideographic
/// space; at its ends they are trimmed, N001): V008, for it makes two keys that look alike
/// differ.
pub fn odd_space(value: &str) -> Option<char> {
    if value.is_ascii() {
        return None;
    }
    value
        .trim()
        .chars()
        .find(|&c| c != ' ' && c.is_whitespace())
}

/// Whether a trimmed value shows nothing: only spaces, format characters (U+200B, U+FEFF, a
/// bidi mark) and the fillers that render blank (Hangul fillers, the braille blank). Such a
/// `full_name` is as empty as a blank cell (V001).
pub fn invisible_only(value: &str) -> bool {
    if value.is_ascii() {
        return value.trim().is_empty();
    }
    value.chars().all(|c| {
        c.is_whitespace()
            || is_format(c)
            || matches!(
                c,
                '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
            )
    })
}

/// A format character (Unicode's `Cf`: U+200B, U+FEFF, a bidi mark, a soft hyphen), which
/// shows nothing where it stands.
pub fn is_format(c: char) -> bool {
    use icu_properties::{props::GeneralCategory, CodePointMapData};
    CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
}

static SCIENTIFIC: LazyLock<Regex> = LazyLock::new(|| {
    // At most three digits in the exponent, as spreadsheets write it (`E+308` at most): a
    // sys_id of digits and one `e` is an id (review: `1e1000…` was V009).
    Regex::new(r"^[+-]?[0-9](?:[.,][0-9]+)?[eE][+-]?[0-9]{1,3}$").expect("valid regex")
});
/// A date, and the time a date-time cell adds when saved as text (`2026-03-01 00:00:00`,
/// `3/1/2026 0:00`, `2026-03-01T00:00:00`). The year first with `-` or `/` (`2026/03/01`, as
/// Japanese settings write it, or `2026. 12. 31.`, as Hungarian ones do), or last with `/`, `.`
/// or, with four digits, `-` (`01-03-2026`, Dutch settings; not `10-20-30`, a code more often
/// than a date).
static DATE_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:([0-9]{4})(?:[-/]|\. )([0-9]{1,2})(?:[-/]|\. )([0-9]{1,2})\.?|([0-9]{1,2})/([0-9]{1,2})/([0-9]{2,4})|([0-9]{1,2})[.-]([0-9]{1,2})[.-]([0-9]{4}))(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?$")
        .expect("valid regex")
});
/// A date with the month's name, as a spreadsheet shows `1-3` or `3-01` it turned into a date
/// (`1-Mar`, `01-Mar-26`, `Mar-01`). Only as spreadsheets write the month (`Mar`): an id in
/// capitals (`SEP-00`, `MAR-12`) is a code, not a date.
static MONTH_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[1-9]|[0-2][0-9]|3[01])-(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(?:-[0-9]{2}|-(?:19|20)[0-9]{2})?|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(?:[0-9]{2}|(?:19|20)[0-9]{2}))$")
        .expect("valid regex")
});

/// What German and French Excel show for `1-3` or `3-26` typed into a cell they turned into a
/// date, with no year: `01. Mrz` (`TT. MMM`), `01-mars` (`jj-mmm`), `mars-26` (`mmm-aa`)
/// (Windows review: the English `1-Mar` was V009, these not). Only as Excel writes them: a
/// day of two digits, German months capitalized after `. `, French ones in small letters with
/// their dots; `31-Dez` or `1-mai` stays a code.
static EXCEL_DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    const FRENCH: &str =
        r"(?:janv\.|févr\.|mars|avr\.|mai|juin|juil\.|août|sept\.|oct\.|nov\.|déc\.)";
    Regex::new(&format!(
        r"^(?:(?:0[1-9]|[12][0-9]|3[01])(?:\. (?:Jan|Feb|Mrz|Apr|Mai|Jun|Jul|Aug|Sep|Okt|Nov|Dez)|-{FRENCH})|{FRENCH}-[0-9]{{2}})$"
    ))
    .expect("valid regex")
});

/// [`EXCEL_DAY_MONTH`], run only on what could match: short, starting with a digit and `. ` or
/// `-` after it, or a small letter.
fn is_excel_day_month(value: &str) -> bool {
    let b = value.as_bytes();
    let shape = match b.first() {
        Some(b'0'..=b'3') => matches!(b.get(2), Some(b'.' | b'-')),
        Some(b'a'..=b'z') => true,
        _ => false,
    };
    (6..=10).contains(&b.len()) && shape && EXCEL_DAY_MONTH.is_match(value)
}

/// A date as spreadsheets in other languages write one with its month's name, and a year
/// (`31-Dez-2026`, `31. Dez. 2026`, `31-déc.-2026`, `31 dic 2026`), or in Chinese, Japanese
/// or Korean (`2026年12月31日`, `2026년 12월 31일`) (locale review: none was V009).
static LOCAL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    // The month's name as spreadsheets write it (`Dez`, `déc.`), not in capitals (`SET-42`,
    // `OUT-22` are codes), with a four-digit year (`7-set-42` may be a code too), and a day and
    // month that exist (adversarial review: `01.01.01`, `00-Gen-00`, `99月99日` were V009).
    const DAY: &str = "(?:0?[1-9]|[12][0-9]|3[01])";
    const MONTH: &str = "(?:0?[1-9]|1[0-2])";
    let names = "[Jj]an|[Jj]anv|[Ff]eb|[Ff]ebr|[Ff]évr|[Ff]ev|[Mm]är|[Mm]rz|[Mm]rt|[Mm]ars|[Mm]ar|[Aa]pr|[Aa]vr|[Aa]br|[Mm]ai|[Mm]ei|[Mm]ay|[Mm]ag|[Jj]un|[Jj]uin|[Gg]iu|[Jj]ul|[Jj]uil|[Ll]ug|[Aa]ug|[Aa]oût|[Aa]go|[Ss]ep|[Ss]ept|[Ss]et|[Oo]kt|[Oo]ct|[Oo]tt|[Oo]ut|[Nn]ov|[Dd]ez|[Dd]ec|[Dd]éc|[Dd]ic|[Ee]ne|[Gg]en";
    Regex::new(&format!(
        r"^(?:{DAY}(?:\. ?| |-)(?:{names})\.?(?: |-)(?:19|20)[0-9]{{2}}|(?:(?:19|20)[0-9]{{2}}\s?[年년]\s?)?{MONTH}\s?[月월]\s?{DAY}\s?[日일])$"
    ))
    .expect("valid regex")
});

/// [`MONTH_DATE`], run only on what could match: short, starting with a digit or a month's
/// first letter.
fn is_month_date(value: &str) -> bool {
    let b = value.as_bytes();
    // `1-Mar`, `01-Mar`: a digit first, `-` second or third; `Mar-01`: a capital, then a small
    // letter (not `SEP-00`), `-` fourth.
    let shape = match b.first() {
        Some(b'0'..=b'9') => b.get(1) == Some(&b'-') || b.get(2) == Some(&b'-'),
        Some(b'J' | b'F' | b'M' | b'A' | b'S' | b'O' | b'N' | b'D') => {
            b.get(1).is_some_and(u8::is_ascii_lowercase) && b.get(3) == Some(&b'-')
        }
        _ => false,
    };
    (5..=11).contains(&b.len()) && shape && MONTH_DATE.is_match(value)
}

/// Whether `value` is a date as spreadsheets write one: the shape, and a day that exists
/// (`2026-02-30` or `1234-56-78` is an id, not a date a spreadsheet made). A day and month
/// with `/` or `.` may come in either order (US or European settings).
fn is_date_text(value: &str) -> bool {
    let Some(c) = DATE_TEXT.captures(value) else {
        return false;
    };
    let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<i16>().ok());
    let day_exists = |y: Option<i16>, m: Option<i16>, d: Option<i16>| match (y, m, d) {
        (Some(y), Some(m), Some(d)) => {
            let (Ok(m), Ok(d)) = (i8::try_from(m), i8::try_from(d)) else {
                return false;
            };
            jiff::civil::Date::new(y, m, d).is_ok()
        }
        _ => false,
    };
    let year = |i: usize| n(i).map(|y| if y < 100 { 2000 + y } else { y });
    day_exists(n(1), n(2), n(3))
        || [(4, 5, 6), (7, 8, 9)]
            .iter()
            .any(|&(a, b, y)| day_exists(year(y), n(a), n(b)) || day_exists(year(y), n(b), n(a)))
}

/// V009 for text: scientific notation or a date as spreadsheets write one.
pub fn mangled_text(value: &str) -> Option<&'static str> {
    // Both shapes are made of digits, signs and separators only: any other byte rules them
    // out without running the regexes (this runs for every identifier cell).
    const DATE: &str = "is a date: a spreadsheet turned the id into a date";
    if !value.bytes().all(|b| {
        matches!(
            b,
            b'0'..=b'9' | b'+' | b'-' | b'.' | b',' | b'e' | b'E' | b'/' | b' ' | b':' | b'T'
        )
    }) {
        // A day, then `.`, ` ` or `-` (`31-Dez-2026`), or CJK (`12月31日`): a GUID or an Okta
        // id that starts with a digit is not looked at further.
        let local = || {
            let b = value.as_bytes();
            let day_then_separator = |at: usize| matches!(b.get(at), Some(b'.' | b' ' | b'-'));
            b.first().is_some_and(u8::is_ascii_digit)
                && value.len() <= 24
                && (day_then_separator(1) || day_then_separator(2) || !value.is_ascii())
                && LOCAL_DATE.is_match(value)
        };
        return (is_month_date(value) || local() || is_excel_day_month(value)).then_some(DATE);
    }
    if SCIENTIFIC.is_match(value) {
        Some("is in scientific notation: a spreadsheet turned the id into a number and dropped digits")
    } else if is_date_text(value) {
        Some(DATE)
    } else {
        None
    }
}

/// Which of a user's names a V010 part is: where it stands in a full name written without
/// spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    /// `first_name`: at the end (`王小明`'s `小明`).
    Given,
    /// `last_name`: at the start (`王`).
    Family,
}

/// V010: every word of `part` is a word of `full`, case- and accent-folded.
pub fn words_in(part: &str, full: &str, which: NamePart) -> bool {
    // ASCII (nearly every name) folds to its lower case: compared as it is, with no copies.
    if part.is_ascii() && full.is_ascii() {
        let full_words = words(full);
        return words(part)
            .iter()
            .all(|w| full_words.iter().any(|f| f.eq_ignore_ascii_case(w)));
    }
    words_in_folded(part, full, which)
}

/// [`words_in`] on folded copies: the definition.
fn words_in_folded(part: &str, full: &str, which: NamePart) -> bool {
    // An autocorrected apostrophe (`O’Brien`) is the typed one (`O'Brien`).
    let fold = |s: &str| super::fold_accents(s).replace(['\u{2019}', '\u{2018}', '\u{2bc}'], "'");
    let (part, full) = (fold(part), fold(full));
    let full_words = words(&full);
    // Chinese, Japanese and Korean names are written without a space between family and
    // given name, the family name first (`王小明`, `김민준`, `田中ルーシー`): a family name in
    // those scripts is found at the start of a word of the full name, a given name at its end
    // (not inside it: `王` is not a part of `李王明`; nor at the other end: `明` is not the
    // family name of `李小明`, adversarial review).
    // Thai puts the given name first, as Latin names do: written without a space, either
    // end (adversarial review: `สมชายใจดี` warned on both names).
    words(&part).iter().all(|w| {
        full_words.contains(w)
            || (w.chars().all(written_unspaced)
                && full_words.iter().any(|f| match which {
                    _ if w.chars().any(is_thai) => f.starts_with(w) || f.ends_with(w),
                    NamePart::Family => f.starts_with(w),
                    NamePart::Given => f.ends_with(w),
                }))
    })
}

/// A letter of a script whose names are written without spaces between their parts, or a
/// mark written among them (the long vowel `ー` of `ルーシー`, the repeat `々` of `佐々木`,
/// which Unicode gives to no script; adversarial review).
fn is_thai(c: char) -> bool {
    use icu_properties::{props::Script, CodePointMapData};
    CodePointMapData::<Script>::new().get(c) == Script::Thai
}

fn written_unspaced(c: char) -> bool {
    use icu_properties::{props::Script, CodePointMapData};
    matches!(c, '\u{30FC}' | '\u{FF70}' | '\u{3005}')
        || matches!(
            CodePointMapData::<Script>::new().get(c),
            Script::Han | Script::Hiragana | Script::Katakana | Script::Hangul | Script::Thai
        )
}

fn words(s: &str) -> Vec<&str> {
    // Any space splits words, a no-break space (`Jane\u{a0}Doe`, from a web form) too, and
    // the punctuation between names (`Smith, Alice`, `Jr.`, `(Al)`).
    s.split(|c: char| {
        // The middle dots between the parts of a foreign name in Japanese (`ジョン・スミス`).
        c.is_whitespace()
            || matches!(
                c,
                '-' | ',' | '.' | ';' | '(' | ')' | '"' | '/' | '\u{30FB}' | '\u{FF65}' | '\u{B7}'
            )
    })
    .filter(|w| !w.is_empty())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalike_keys_name_the_character_and_the_ascii_key() {
        let found = |v: &str| lookalike(v).map(|l| (l.found, l.fixed));
        assert_eq!(found("ＣＴＲ-１００３"), Some(('Ｃ', "CTR-1003".into())));
        assert_eq!(found("CTR–1004"), Some(('–', "CTR-1004".into())));
        assert_eq!(found("CTR\u{2011}1"), Some(('\u{2011}', "CTR-1".into())));
        assert_eq!(found("\u{421}TR-1"), Some(('С', "CTR-1".into())));
        assert_eq!(found("E\u{3a7}-1"), Some(('Χ', "EX-1".into())));
        // Every letter a twin: a key no one can tell from the Latin one.
        assert_eq!(found("АВС-1003"), Some(('А', "ABC-1003".into())));
        // The key's own characters are kept where only the dash is a lookalike.
        assert_eq!(found("Müller–1"), Some(('–', "Müller-1".into())));
        assert_eq!(found("東京－８"), Some(('－', "東京-8".into())));
        // Another script throughout, letters with no Latin twin, and compatibility forms
        // that are a key's own (adversarial review).
        for fine in [
            "CTR-1003",
            "Жанна-7",
            "東京-8",
            "ΑΒΓ-8",
            "Müller-1",
            "ö-1",
            "CTRЖ1",
            "Nº-12",
            "№-4100",
            "E-12ª",
            "E-²3",
            "ﬁn-1",
            "Ⅻ-1",
            "E-1…2",
            "CTR-Жанна",
        ] {
            assert_eq!(lookalike(fine), None, "{fine}");
        }
    }

    #[test]
    fn a_value_of_invisible_characters_shows_nothing() {
        for blank in [
            "",
            " ",
            "\u{200B}",
            "\u{FEFF}\u{2060}",
            "\u{200E}",
            "\u{3164}",
            "\u{A0}\u{2800}",
        ] {
            assert!(invisible_only(blank), "{blank:?}");
        }
        for shown in ["Al", "\u{200B}Al", "Zoë", "李"] {
            assert!(!invisible_only(shown), "{shown:?}");
        }
    }

    #[test]
    fn words_of_a_name_are_found_in_the_full_name_folded() {
        for (part, full, found) in [
            ("Jane", "Jane Doe", true),
            ("jane", "JANE DOE", true),
            ("Mary-Jane", "mary jane Doe", true),
            ("Jo", "Jane Doe", false),
            ("", "Jane Doe", true),
            ("José", "Jose Alvarez", true),
            ("Jose", "JOSÉ Álvarez", true),
            ("Zoë", "Zoe Smith-Jones", true),
            ("Jones", "Zoë Smith-Jones", true),
            ("Bjørn", "Bjorn Berg", false),
            ("Jane", "Jane\u{a0}Doe", true),
            // Names in scripts written without spaces: a part inside the full name.
            ("小明", "王小明", true),
            ("王", "王小明", true),
            ("민준", "김민준", true),
            ("花子", "佐藤 花子", true),
            ("スミス", "ジョン・スミス", true),
            ("小红", "王小明", false),
            ("ルーシー", "田中ルーシー", true),
            ("佐々木", "佐々木 花子", true),
            ("佐々木", "佐々木花子", true),
            // Inside, not at an end: another name's character.
            ("王", "李王明", false),
            // Latin letters are words still: no part of a word.
            ("Ann", "Anne-Marie Dupont", false),
            ("Doe", "Jane\u{a0}Doe", true),
            ("Smith", "Smith, Alice", true),
            ("Alice", "Smith, Alice", true),
            ("O'Brien", "Dave O\u{2019}Brien", true),
            ("O\u{2019}Brien", "Dave O'Brien", true),
            ("Al", "Alice (Al) Smith", true),
            ("Brien", "Dave O'Brien", false),
        ] {
            let either = |part, full| {
                words_in(part, full, NamePart::Given) || words_in(part, full, NamePart::Family)
            };
            assert_eq!(either(part, full), found, "{part} in {full}");
        }
        // Written without spaces, a family name starts the word and a given name ends it.
        for (part, which, full, found) in [
            ("王", NamePart::Family, "王小明", true),
            ("小明", NamePart::Given, "王小明", true),
            ("明", NamePart::Family, "李小明", false),
            ("小明", NamePart::Given, "李小明", true),
            ("李", NamePart::Given, "李小明", false),
            ("田中", NamePart::Family, "田中ルーシー", true),
            ("ルーシー", NamePart::Given, "田中ルーシー", true),
            ("김", NamePart::Family, "김민준", true),
            ("민준", NamePart::Given, "김민준", true),
            // Thai, given name first: at either end.
            ("สมชาย", NamePart::Given, "สมชายใจดี", true),
            ("ใจดี", NamePart::Family, "สมชายใจดี", true),
            // A word of its own, at either place.
            ("花子", NamePart::Family, "花子 佐藤", true),
            ("スミス", NamePart::Family, "ジョン・スミス", true),
        ] {
            assert_eq!(words_in(part, full, which), found, "{part} in {full}");
        }
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(5_000), |(
            part in "[a-cA-C ,.'-]{0,8}",
            full in "[a-cA-C ,.'-]{0,16}",
        )| {
            prop_assert_eq!(
                words_in(&part, &full, NamePart::Given),
                words_in_folded(&part, &full, NamePart::Given)
            );
        });
    }

    #[test]
    fn work_status_aliases() {
        assert_eq!(work_status("Contractor"), Some("CONTINGENT"));
        assert_eq!(work_status("full-time"), Some("FULL_TIME"));
        assert_eq!(work_status("FULL_TIME"), Some("FULL_TIME"));
        assert_eq!(work_status("PART_TIME"), None);
        // Every status however it is written: case, spaces, dashes.
        for status in WORK_STATUSES {
            for written in [
                status.to_string(),
                status.to_lowercase(),
                status.replace('_', " "),
                status.replace('_', "-").to_lowercase(),
            ] {
                assert_eq!(work_status(&written), Some(status), "{written}");
            }
        }
    }

    #[test]
    fn timezones() {
        assert_eq!(timezone("America/Danmarkshavn"), Tz::Exact);
        assert_eq!(timezone("Asia/Calcutta"), Tz::Exact);
        assert_eq!(
            timezone("america/new_york"),
            Tz::Recased("America/New_York".into())
        );
        assert_eq!(
            timezone("America/New York"),
            Tz::Unknown(Some("America/New_York".into()))
        );
        // An abbreviation of one zone's offsets; none for one of several (review).
        for (abbreviation, zone) in [("PST", "America/Los_Angeles"), ("jst", "Asia/Tokyo")] {
            assert_eq!(timezone(abbreviation), Tz::Unknown(Some(zone.into())));
        }
        for several in ["IST", "CST", "BST"] {
            assert_eq!(timezone(several), Tz::Unknown(None), "{several}");
        }
        assert_eq!(
            timezone("Americas/New_York"),
            Tz::Unknown(Some("America/New_York".into()))
        );
        assert!(matches!(timezone("Factory"), Tz::Unknown(_)));
        // Suggestions that name the zone meant, or none (review: `Pacific Standard Time` got
        // `Pacific/Saipan`, `UTC+1` got `UTC`, `Etc/GMT+13` the opposite offset).
        let suggested = |v: &str| match timezone(v) {
            Tz::Unknown(s) => s,
            other => panic!("{v}: {other:?}"),
        };
        for (value, zone) in [
            ("Pacific Standard Time", Some("America/Los_Angeles")),
            ("India Standard Time", Some("Asia/Calcutta")),
            ("W. Europe Standard Time", Some("Europe/Berlin")),
            ("UTC+1", Some("Etc/GMT-1")),
            ("GMT-5", Some("Etc/GMT+5")),
            ("UTC-05:00", Some("Etc/GMT+5")),
            ("UTC+5:30", None),
            ("Etc/GMT+13", None),
            ("New York", Some("America/New_York")),
            ("london", Some("Europe/London")),
            ("Amrica/New_York", Some("America/New_York")),
            ("Europe/Berln", Some("Europe/Berlin")),
            ("Mars/Olympus_Mons", None),
            ("MSK", None),
            // Not a typo's zone: the one zone Hong Kong Time names (the abbreviations' table).
            ("HKT", Some("Asia/Hong_Kong")),
            ("Z", None),
        ] {
            assert_eq!(suggested(value).as_deref(), zone, "{value}");
        }
        // Every name, as it is and in another case, found as the scan of all names found it.
        for name in TZ_NAMES.iter() {
            assert_eq!(timezone(name), Tz::Exact, "{name}");
            let first = |v: &str| TZ_NAMES.iter().find(|n| n.eq_ignore_ascii_case(v)).cloned();
            for other in [name.to_ascii_uppercase(), name.to_ascii_lowercase()] {
                let expected = match first(&other) {
                    Some(n) if n == other => Tz::Exact,
                    Some(n) => Tz::Recased(n),
                    None => unreachable!("{other} is {name} in another case"),
                };
                assert_eq!(timezone(&other), expected, "{other}");
            }
        }
    }

    #[test]
    fn countries() {
        assert_eq!(country("DE"), Country::Exact);
        assert_eq!(country("de"), Country::Mapped("DE"));
        assert_eq!(country("Germany"), Country::Mapped("DE"));
        assert_eq!(country("United Kingdom"), Country::Mapped("GB"));
        assert_eq!(country("UK"), Country::Unknown(Some("GB".into())));
        // Initials with dots (review).
        assert_eq!(country("U.S."), Country::Mapped("US"));
        assert_eq!(country("U.K."), Country::Unknown(Some("GB".into())));
        assert_eq!(country("D. E."), Country::Mapped("DE"));
        assert!(matches!(country("XK"), Country::Unknown(_)));
        assert_eq!(country("Germny"), Country::Unknown(Some("DE".into())));
        // Current ISO short names, accents either way, the apostrophe typed or curled.
        for (name, code) in [
            ("North Macedonia", "MK"),
            ("Eswatini", "SZ"),
            ("DR Congo", "CD"),
            ("Democratic Republic of the Congo", "CD"),
            ("Netherlands (Kingdom of the)", "NL"),
            ("Cote d'Ivoire", "CI"),
            ("Côte d\u{2019}Ivoire", "CI"),
            ("São Tomé and Príncipe", "ST"),
            ("Aland Islands", "AX"),
            ("Curacao", "CW"),
        ] {
            assert_eq!(country(name), Country::Mapped(code), "{name}");
        }
        // No near country as a suggestion: only a typo's.
        assert_eq!(country("Estwatini"), Country::Unknown(Some("SZ".into())));
        assert_eq!(country("Atlantis"), Country::Unknown(None));
        assert_eq!(country("Austrailia"), Country::Unknown(Some("AU".into())));
        assert_eq!(country("Austrlia"), Country::Unknown(None)); // Australia or Austria
        assert_eq!(country("Itlay"), Country::Unknown(Some("IT".into())));
        assert_eq!(country("Korea, Republic of"), Country::Mapped("KR"));
        assert_eq!(country("Austria"), Country::Mapped("AT"));
    }

    /// The ASCII fast path finds what the definition finds.
    #[test]
    fn control_characters_fast_path_is_the_definition() {
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(5_000), |(v in "[\\x00-\\x7f\u{80}-\u{a0}é ]{0,40}", multi: bool)| {
            let slow = v
                .chars()
                .find(|&c| c.is_control() && !(multi && matches!(c, '\n' | '\r')));
            prop_assert_eq!(control_character(&v, multi), slow);
        });
    }

    #[test]
    fn spreadsheet_errors() {
        for e in [
            "#N/A", "#REF!", "#value!", "#DIV/0!", "#NAME?", "Err:502", "#SPILL!",
        ] {
            assert!(spreadsheet_error(e), "{e}");
        }
        for ok in [
            "#N/A x", "#1", "#", "Err:5", "Err:5021", "N/A", "#REFS!", "Error", "",
        ] {
            assert!(!spreadsheet_error(ok), "{ok}");
        }
        assert!(too_wide_mark("########") && too_wide_mark("##"));
        assert!(!too_wide_mark("#") && !too_wide_mark("#1") && !too_wide_mark("## 2"));
    }

    #[test]
    fn formulas_and_mangling() {
        for f in [
            "=1+1",
            "@SUM(A1)",
            "+cmd|' /C calc'!A0",
            "-A1",
            "=HYPERLINK(\"x\")",
            "-1+A1",
            "+2*B3",
            "-10+SUM(A1:A3)",
            "+(1+$B$2)",
        ] {
            assert!(runs_as_formula(f), "{f}");
        }
        for ok in [
            "+1 555 0100",
            "-5",
            "jane@acme.com",
            "O'Brien",
            "+1 (555) 010-0100",
            "+44 20 7946 0958 ext. 12",
            "-5 Apt B",
            "-1e5",
            "+2.5E+10",
        ] {
            assert!(!runs_as_formula(ok), "{ok}");
        }
        assert_eq!(handle_after_at("@U012AB3CG"), Some("U012AB3CG"));
        assert_eq!(handle_after_at("@jane.doe"), Some("jane.doe"));
        for not_a_handle in ["@SUM(A1)", "@", "@-A1", "@A1+1", "U012AB3CG"] {
            assert_eq!(handle_after_at(not_a_handle), None, "{not_a_handle}");
        }
        assert!(mangled_text("1.23457E+11").is_some());
        assert!(mangled_text("2026-03-01").is_some());
        assert!(mangled_text("3/1/2026").is_some());
        assert!(mangled_text("01.03.2026").is_some());
        assert!(mangled_text("31/12/26").is_some());
        assert!(mangled_text("12/31/2026").is_some());
        assert!(mangled_text("CTR-1042").is_none());
        // Dates as other settings write them (review), and what stays an id.
        for date in [
            "01-03-2026",
            "2026/03/01",
            "2026/3/1",
            "1-3-2026",
            "-1e5",
            "1E+308",
        ] {
            assert!(mangled_text(date).is_some(), "{date}");
        }
        for id in [
            "10-20-30",
            "2026-13-01",
            "1e1000000000000000000000000000000",
            "1234-56-78",
            "2026.03.01",
        ] {
            assert!(mangled_text(id).is_none(), "{id}");
        }
        for date in [
            "2026-03-01 00:00:00",
            "3/1/2026 0:00",
            "2026-03-01T00:00:00",
            "1-Mar",
            "01-Mar-26",
            "1-Mar-2026",
            "Mar-01",
            "Dec-2026",
            // Other languages' settings (locale review).
            "2026. 12. 31.",
            "2026年12月31日",
            "12月31日",
            "2026년 12월 31일",
            "31-Dez-2026",
            "31. Dez. 2026",
            "31-déc.-2026",
            "31 dic 2026",
            // German and French Excel's `1-3` and `3-26` (Windows review).
            "01. Mrz",
            "12. Okt",
            "01-mars",
            "01-févr.",
            "mars-26",
            "déc.-26",
        ] {
            assert!(mangled_text(date).is_some(), "{date}");
        }
        for id in [
            "10.20.30",
            "1.2.34",
            "12.34.56",
            "31-Dez",
            "E-2026.1",
            "2026.12.31",
            // Dotted codes, capitals, a two-digit year, days that do not exist (adversarial
            // review).
            "01.01.01",
            "31.12.26",
            "7-SET-42",
            "1-OUT-22",
            "3 mai 99",
            "00-Gen-2000",
            "99月99日",
            "1月2",
            "1-mai",
            "01-Mars",
            "01. MRZ",
            "mars-2026x",
            "32. Mrz",
        ] {
            assert!(mangled_text(id).is_none(), "{id}");
        }
        for id in [
            "Mar-1042",
            "1-March",
            "32-Mar",
            "MAR1",
            "Marco-01",
            "2026-03-01 ab",
        ] {
            assert!(mangled_text(id).is_none(), "{id}");
        }
        // The shape of a date, but no day a spreadsheet could have made: an id.
        for id in [
            "1234-56-78",
            "99/99/9999",
            "12.34.5678",
            "2026-02-30",
            "0000-00-00",
            "2026-13-45",
        ] {
            assert!(mangled_text(id).is_none(), "{id}");
        }
        // The byte pre-filters rule out only what the regexes would not match.
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(5_000), |(v in "[0-9+@=.,eE/ (!$A-Za-z-]{0,14}")| {
            let by_regex = SCIENTIFIC.is_match(&v)
                || is_date_text(&v)
                || MONTH_DATE.is_match(&v)
                || LOCAL_DATE.is_match(&v)
                || EXCEL_DAY_MONTH.is_match(&v);
            prop_assert_eq!(mangled_text(&v).is_some(), by_regex);
            prop_assert_eq!(
                runs_as_formula(&v),
                v.starts_with('=') || FORMULA_AFTER_SIGN.is_match(&v)
            );
        });
        assert!(words_in("Mary Kate", "Mary Kate O'Neil", NamePart::Given));
        assert!(words_in(
            "van der Berg",
            "Jan van der Berg",
            NamePart::Given
        ));
        assert!(words_in("Anne", "Anne-Marie Dupont", NamePart::Given));
        assert!(words_in("José", "jose alvarez", NamePart::Given));
        assert!(!words_in("John", "Jane Doe", NamePart::Given));
        assert_eq!(control_character("a\tb", false), Some('\t'));
        assert_eq!(control_character("a\nb", true), None);
        for invisible in [
            "R\u{200b}1",
            "\u{feff}R1",
            "R1\u{202e}",
            "R\u{ad}1",
            "R\u{2060}1",
        ] {
            assert!(format_character(invisible, true).is_some(), "{invisible:?}");
        }
        // A joiner in an internationalized domain is an address's own (review).
        assert_eq!(format_character("ali@می\u{200c}خواهم.ir", true), None);
        assert!(format_character("R\u{200c}1", false).is_some());
        // Not format characters: a no-break space, accents, a line break.
        for visible in ["R\u{a0}1", "Zoë", "R1", "a\nb"] {
            assert_eq!(format_character(visible, false), None, "{visible:?}");
        }
    }

    #[test]
    fn a_question_mark_is_a_lost_character_in_names_and_between_letters() {
        use super::lost_character;
        for name in [
            "?ukasz",
            "Zo? Garcia",
            "Jos?",
            "Zoë ?",
            "?ukasz.nowak@acme.com",
        ] {
            assert!(lost_character(name, true), "{name}");
        }
        assert!(!lost_character("Zoë Garcia", true));
        for text in ["M?nchen", "Bj?rn's team", "Stra?e 4"] {
            assert!(lost_character(text, false), "{text}");
        }
        for text in ["Remote?", "Who? Me", "? pending", "IT (?)", "5?6"] {
            assert!(!lost_character(text, false), "{text}");
        }
    }
}
