//! The one registry of rules: stable code, kebab-case name, default severity, summary and
//! explanation. `muster rules` and `docs/rules.md` are generated from it. Codes are never reused.

use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! define_rules {
    ($($code:ident $variant:ident $name:literal $sev:ident $summary:literal $example:literal;)*) => {
        /// Every rule muster checks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $($variant),* }
        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];
            pub fn code(self) -> &'static str { match self { $(Rule::$variant => stringify!($code)),* } }
            pub fn name(self) -> &'static str { match self { $(Rule::$variant => $name),* } }
            pub fn default_severity(self) -> Severity { match self { $(Rule::$variant => Severity::$sev),* } }
            pub fn summary(self) -> &'static str { match self { $(Rule::$variant => $summary),* } }
            /// A worked example: what fires, and what to write instead.
            pub fn example(self) -> &'static str { match self { $(Rule::$variant => $example),* } }
        }
    };
}

define_rules! {
    F001 FileUnreadable "file-unreadable" Error "file unreadable, unsupported, corrupt or encrypted" "`users.xlsx` that is really a CSV file: save it again as a workbook, or rename it `.csv`";
    F002 RequiredColumnMissing "required-column-missing" Error "a required column (`email_addr`, `record_id`, `full_name`) is missing" "a Users sheet with `Email`, `Name` but no record id column: add `record_id`";
    F003 DuplicateColumn "duplicate-column" Error "the same column twice after header mapping" "`Email` and `E-mail` both map to `email_addr`: keep one";
    F004 Ignored "ignored" Info "sheet, column, file or row above the header ignored" "an `Instructions` sheet, or a title row above the header";
    F005 NonUtf8Encoding "non-utf8-encoding" Info "non-UTF-8 encoding detected and decoded" "a CSV saved by Excel on Windows in its code page (Windows-1252; Windows-1251 for Cyrillic, Shift_JIS for Japanese): detected and decoded; if names read wrong, give `--encoding`";
    F006 MisspelledColumn "misspelled-column" Warning "an unknown column, mapped to a custom attribute, looks like a misspelled standard attribute" "`deparment` becomes `custom_attributes.deparment`: rename it `department`";
    F007 NoUsers "no-users" Error "the batch holds no user rows" "a header-only file, or a workbook without a `Users` sheet";
    F008 MisnamedSheet "misnamed-sheet" Error "a sheet or file named as a copy or a shortening of one muster reads was not read (its rows would be lost)" "a sheet `ITSM` or `ITSM IDs (2)` beside `Users`: rename it `ITSM IDs` (or move its rows there), or delete it";
    F009 UnknownIdColumn "unknown-id-column" Error "a column named as a dotted ID column (`itsm.`, `channel.`, `idm.`) that is not one, or an ID column without its list" "`itsm.servicenow.sys_id` (not `user_id`), `slack.user_id` (no `channel.`)";
    V001 RequiredValueEmpty "required-value-empty" Error "a required value is empty" "a user row without `full_name`";
    V002 InvalidEmail "invalid-email" Error "invalid email address (`email_addr`, an alias, `manager_email`)" "`jane@@acme.com`, `jane@localhost`, `jürgen@acme.com`: use `jane@acme.com`, `jurgen@acme.com`";
    V003 InvalidWorkStatus "invalid-work-status" Error "`work_status` is not in the enum nor an alias of it" "`PART_TIME`: use one of UNKNOWN_WORK_STATUS, CONTINGENT, INTERN, FULL_TIME";
    V004 UnknownUserTag "unknown-user-tag" Error "unknown user tag" "`HAS_ACESS_TO_BOT`: use `HAS_ACCESS_TO_BOT`";
    V005 UnknownTimezone "unknown-timezone" Error "unknown IANA timezone" "`America/New York`: use `America/New_York`";
    V006 InvalidCountry "invalid-country" Error "not an assigned ISO 3166-1 alpha-2 code, nor a country name muster can map" "`UK`: use `GB`";
    V007 FormulaCell "formula-cell" Error "a formula cell, a value a spreadsheet would run as a formula, a spreadsheet's error value, or the `####` it shows for a value too wide for its column" "`=HYPERLINK(\"http://x\")`, `@SUM(A1)` or `#N/A`; `+1 555 0100` and `-5` are fine";
    V008 ControlCharacters "control-characters" Error "control characters, U+FFFD (a character lost in decoding), an invisible format character in a key (U+200B, U+FEFF, a bidi mark), a bidi override (U+202E, which shows text reversed) in any value, or a value longer than 32,767 characters; a column whose name holds a control character or is longer than 255 characters (the column is ignored)" "a record id with a tab or a zero-width space inside it";
    V009 MangledIdentifier "mangled-identifier" Error "an identifier mangled by a spreadsheet (scientific notation, date, precision lost)" "`1.23457E+11` in `employee_id`: format the column as text and enter the id again";
    V010 NameMismatch "name-mismatch" Warning "`first_name`/`last_name` not both found as words of `full_name`" "`full_name` Jane Doe with `first_name` John";
    V011 MergedCellHidesValue "merged-cell-hides-value" Error "a cell under cells merged over rows holds another value than the sheet shows over it: a value of its own, hidden by the merge, or none in a key's column" "`employee_id` `E-7` in C2, merged over C2:C3: C3 shows `E-7` but is read empty";
    V012 SplitRow "split-row" Error "a CSV row with more fields than its header: a value holding the delimiter, not in quotes, split it, and the cells from there on are under the wrong columns" "`ann@acme.com,CTR-1,“Lee, Ann”,IT` under four columns: `Ann”` read as the department";
    V013 HiddenCells "hidden-cells" Warning "a sheet the workbook hides, or a row or column a sheet hides (by hand, or a filter's, or at no height or width), holds values: they are read and loaded as if shown" "row 12, hidden by a filter on `work_status`: unhide it to check it, or delete the row if it is not to be loaded";
    V014 LookalikeCharacters "lookalike-characters" Error "a key (a record id, an identifier, an ID sheet's `user_id`) spelled with characters that look like ASCII ones but are not: full-width forms (an input method's `ＣＴＲ-１００３`), a typographic dash (an autocorrected `CTR–1004`), a Cyrillic or Greek letter among Latin ones (`СTR-1`): a second key beside the one it looks like" "`ＣＴＲ-１００３` as a record id: type it again in ASCII, `CTR-1003`";
    V015 LostCharacter "lost-character" Error "a `?` in a name or an email address, or between two letters of another text: what a save in a code page without the character writes in its place (Excel's CSV (Comma delimited) saves Windows-1252, Windows PowerShell's Export-Csv ASCII)" "`?ukasz Nowak` for `Łukasz Nowak`, `M?nchen` for `München`: save the file again as CSV UTF-8 from the original";
    D001 DuplicateRecordId "duplicate-record-id" Error "duplicate `record_id` in the batch" "two rows with record id `CTR-1042`";
    D002 DuplicateEmail "duplicate-email" Error "an email (primary or alias) used by two users" "`jane@acme.com` as one user's address and another's alias";
    D003 DuplicateIntegrationEntry "duplicate-integration-entry" Error "more than one ID-info entry for the same integration for one user" "two `servicenow` rows in ITSM IDs for `CTR-1042`: keep one";
    D004 DuplicateExternalIdentity "duplicate-external-identity" Error "the same external identity (integration + user_id) on two users" "Slack `U012AB3CD` on two users";
    D005 UnknownRecordReference "unknown-record-reference" Error "ID-info row whose `record_id` is not in the batch or the store" "an ITSM IDs row for `CTR-9999` that no Users row has";
    I001 UnknownIntegration "unknown-integration" Error "integration is not a configured connector" "`ServiceNow` where the connector is `servicenow` (case matters)";
    I002 MalformedItsmUserId "malformed-itsm-user-id" Error "ITSM `user_id` malformed for its system" "a ServiceNow sys_id of 31 hex digits";
    I003 MalformedExternalId "malformed-external-id" Warning "ITSM/IDM `external_id` missing or malformed for its system" "a Jira external id that is not an email address";
    I004 MalformedChannelUserId "malformed-channel-user-id" Error "channel `user_id` malformed for its system" "Slack `u012ab3cd` (lower case) or `C012AB3CD` (a channel, not a user)";
    I005 MalformedIdmUserId "malformed-idm-user-id" Error "IDM `user_id` malformed for its system" "an Azure AD object id that is not a GUID";
    I006 WrongIdList "wrong-id-list" Error "connector used in the wrong list" "`slack` (a chat connector) in ITSM IDs";
    I007 UnusualId "unusual-id" Warning "an id well-formed for its system but unusual" "a Salesforce id whose key prefix is not `005` (not a User)";
    R001 UnknownManager "unknown-manager" Warning "`manager_email` matches no user in the batch, the store or the source directory" "a manager address with a typo";
    R002 ManagerCycle "manager-cycle" Warning "a user is their own manager, or a manager cycle" "A managed by B, B managed by A";
    S001 EmailInStore "email-in-store" Error "email already belongs to another record in the store" "a new contractor with the address of a stored user";
    S002 JoiningKeyMismatch "joining-key-mismatch" Error "the source directory has this email under another record id" "`jane@acme.com` with record id `CTR-1` where the source says `E-42`";
    S003 RecordInSource "record-in-source" Warning "record id also provided by the primary source" "a manual user whose record id the HR system already provides";
    S004 StaleExportRow "stale-export-row" Error "the row comes from an export and the record has changed in the store since" "an edited export imported after someone else changed the user";
    B001 MultipleBots "multiple-bots" Error "more than one bot account, or a row that would change which record is the bot" "two rows on the Bot Account sheet; a user row with the stored bot's record id";
    B002 BotMissingItsm "bot-missing-itsm" Error "bot account has no ITSM entry for an itsm connector of the config file" "a config declaring `servicenow` and a bot without a servicenow ITSM row";
    X001 CredentialColumn "credential-column" Error "a column that looks like a credential" "an `API Token` column: remove it";
    N001 WhitespaceTrimmed "whitespace-trimmed" Info "whitespace trimmed, or an optional value of invisible characters only read as empty" "` jane@acme.com ` becomes `jane@acme.com`";
    N002 EmailLowercased "email-lowercased" Info "email lower-cased; an alias given twice, or the address itself as an alias, left out" "`Jane@Acme.com` becomes `jane@acme.com`";
    N003 TagsNormalized "tags-normalized" Info "tags upper-cased, de-duplicated" "`vip; VIP` becomes `VIP`";
    N004 WorkStatusMapped "work-status-mapped" Info "work-status alias mapped" "`Contractor` becomes `CONTINGENT`";
    N005 CountryMapped "country-mapped" Info "country name or lower-case code mapped" "`Germany` becomes `DE`";
    N006 SalesforceIdExtended "salesforce-id-extended" Info "Salesforce 15-character id extended to 18 (or an 18-character suffix upper-cased)" "`00558000001N0Ke` becomes `00558000001N0KeAAK`";
    N007 TimezoneCanonical "timezone-canonical" Info "timezone case made canonical" "`america/new_york` becomes `America/New_York`";
    N008 GuidNormalized "guid-normalized" Info "GUID or sys_id lower-cased, braces stripped" "`{7FAF8AB2-…}` becomes `7faf8ab2-…`";
    N009 PaddingRestored "padding-restored" Info "zero padding restored from the cell's number format" "`123` in a `000000` cell becomes `000123`";
    N010 MergedCellFilled "merged-cell-filled" Info "an empty cell of cells merged over rows read as the top cell's value, which the sheet shows over it" "`Engineering` in B2, merged over B2:B4: B3 and B4 read `Engineering`";
}

impl Rule {
    /// Finds a rule by code (`V002`) or name (`invalid-email`), ignoring case.
    pub fn lookup(key: &str) -> Option<Rule> {
        Rule::ALL
            .iter()
            .copied()
            .find(|r| r.code().eq_ignore_ascii_case(key) || r.name().eq_ignore_ascii_case(key))
    }

    pub fn from_code(code: &str) -> Rule {
        Rule::lookup(code).expect("codes used inside muster are in the registry")
    }

    /// `muster rules CODE`.
    pub fn explain(self) -> String {
        format!(
            "{} {}\ndefault severity: {}\n\n{}.\n\nExample: {}.\n",
            self.code(),
            self.name(),
            self.default_severity().as_str(),
            capitalize(self.summary()),
            self.example()
        )
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Severities in force: defaults changed by `[rules]` and `--deny/--warn/--allow`.
/// `None` means the rule is silenced.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    overrides: HashMap<Rule, Option<Severity>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UnknownRule {
    #[error("unknown rule `{0}` (see `muster rules`)")]
    Unknown(String),
    /// F001 and F007 say nothing of the batch was read: lowered, an unreadable or empty file
    /// would pass without a word.
    #[error("{0} cannot be lowered: a file muster could not read, or that holds no users, does not pass")]
    Fixed(&'static str),
}

impl RuleSet {
    pub fn set(&mut self, key: &str, severity: Option<Severity>) -> Result<(), UnknownRule> {
        let rule = Rule::lookup(key.trim()).ok_or_else(|| UnknownRule::Unknown(key.to_string()))?;
        if matches!(rule, Rule::FileUnreadable | Rule::NoUsers) && severity != Some(Severity::Error)
        {
            return Err(UnknownRule::Fixed(rule.code()));
        }
        self.overrides.insert(rule, severity);
        Ok(())
    }

    pub fn severity(&self, rule: Rule) -> Option<Severity> {
        self.overrides
            .get(&rule)
            .copied()
            .unwrap_or(Some(rule.default_severity()))
    }
}

/// `docs/rules.md`, generated so it cannot drift from the registry.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Rules\n\nGenerated by `muster rules --markdown` from the registry in `src/rules.rs`; a test keeps it current.\n\n| code | name | default | finding | example |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in Rule::ALL {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.code(),
            r.name(),
            r.default_severity().as_str(),
            r.summary().replace('|', "\\|"),
            r.example().replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        let mut names: Vec<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        codes.sort();
        names.sort();
        codes.dedup();
        names.dedup();
        assert_eq!(codes.len(), Rule::ALL.len());
        assert_eq!(names.len(), Rule::ALL.len());
    }

    #[test]
    fn lookup_by_code_or_name() {
        assert_eq!(Rule::lookup("v002"), Some(Rule::InvalidEmail));
        assert_eq!(Rule::lookup("invalid-email"), Some(Rule::InvalidEmail));
        let mut set = RuleSet::default();
        set.set("R001", Some(Severity::Error)).unwrap();
        assert_eq!(set.severity(Rule::UnknownManager), Some(Severity::Error));
        assert!(set.set("Z999", None).is_err());
    }
}
