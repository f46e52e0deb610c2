//! Header mapping: finds the header row, maps each column to a [`Field`] through the standard
//! names, the console's labels and a user's `--map` file, and reports F002, F003, F004, F006 and
//! X001 about columns.

use super::{Sheet, SheetKind};
use std::collections::HashMap;

/// Folds a header for matching: lower-case, without spaces, dashes and underscores.
pub fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

macro_rules! attrs {
    ($($variant:ident $name:literal [$($alias:literal),*]),* $(,)?) => {
        /// A standard attribute of a manual user (User Attribute Reference).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Attr { $($variant),* }
        impl Attr {
            pub const ALL: &'static [Attr] = &[$(Attr::$variant),*];
            pub fn name(self) -> &'static str { match self { $(Attr::$variant => $name),* } }
            fn aliases(self) -> &'static [&'static str] { match self { $(Attr::$variant => &[$($alias),*]),* } }
        }
    };
}

attrs! {
    EmailAddr "email_addr" ["Email Address", "Email", "E-mail", "Primary Email", "Work Email"],
    RecordId "record_id" ["Unique Record ID", "Record ID", "Joining Key"],
    FullName "full_name" ["Full Name", "Name", "Display Name"],
    FirstName "first_name" ["Given Name"],
    LastName "last_name" ["Surname", "Family Name"],
    Role "role" [],
    Department "department" [],
    ManagerEmail "manager_email" ["Manager"],
    EmployeeId "employee_id" [],
    CostCenterId "cost_center_id" [],
    CostCenterName "cost_center_name" [],
    WorkStatus "work_status" [],
    CountryCode "country_code" ["Country"],
    Timezone "timezone" ["Time Zone"],
    Region "region" [],
    City "city" [],
    State "state" [],
    UserTags "user_tags" ["Tags"],
}

/// The three ID-info lists of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdList {
    Itsm,
    Channel,
    Idm,
}

impl IdList {
    pub fn prefix(self) -> &'static str {
        match self {
            IdList::Itsm => "itsm",
            IdList::Channel => "channel",
            IdList::Idm => "idm",
        }
    }
    /// `itsm.user_id` and the like: the field an ID sheet's column is reported as.
    pub fn field(self, part: IdPart) -> &'static str {
        match (self, part) {
            (_, IdPart::RecordId) => "record_id",
            (IdList::Itsm, IdPart::Integration) => "itsm.integration",
            (IdList::Itsm, IdPart::UserId) => "itsm.user_id",
            (IdList::Itsm, IdPart::ExternalId) => "itsm.external_id",
            (IdList::Channel, IdPart::Integration) => "channel.integration",
            (IdList::Channel, IdPart::UserId) => "channel.user_id",
            (IdList::Channel, IdPart::ExternalId) => "channel.external_id",
            (IdList::Idm, IdPart::Integration) => "idm.integration",
            (IdList::Idm, IdPart::UserId) => "idm.user_id",
            (IdList::Idm, IdPart::ExternalId) => "idm.external_id",
        }
    }
    /// The sheet of the template's layout that holds this list.
    pub fn sheet_kind(self) -> SheetKind {
        match self {
            IdList::Itsm => SheetKind::Itsm,
            IdList::Channel => SheetKind::Channel,
            IdList::Idm => SheetKind::Idm,
        }
    }
    pub fn of_sheet(kind: SheetKind) -> Option<IdList> {
        match kind {
            SheetKind::Itsm => Some(IdList::Itsm),
            SheetKind::Channel => Some(IdList::Channel),
            SheetKind::Idm => Some(IdList::Idm),
            _ => None,
        }
    }
}

/// A column of an ID-info sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdPart {
    RecordId,
    Integration,
    UserId,
    ExternalId,
}

impl IdPart {
    pub fn name(self) -> &'static str {
        match self {
            IdPart::RecordId => "record_id",
            IdPart::Integration => "integration",
            IdPart::UserId => "user_id",
            IdPart::ExternalId => "external_id",
        }
    }
}

/// What a column holds after mapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Attr(Attr),
    EmailAliases,
    Custom(String),
    /// `itsm.<integration>.user_id` and its kin on a user sheet.
    Inline {
        list: IdList,
        integration: String,
        part: IdPart,
    },
    /// A column of an ID-info sheet.
    Id(IdPart),
    RowVersion,
    /// A credential-looking column (X001): its values are never read.
    Credential,
    /// Ignored (F004), e.g. an unknown column on an ID-info sheet.
    Ignored,
}

impl Field {
    /// Identifier columns, which a spreadsheet must keep as text (`00123` is not `123`).
    pub fn is_identifier(&self) -> bool {
        matches!(
            self,
            Field::Attr(Attr::RecordId | Attr::EmployeeId | Attr::CostCenterId)
                | Field::Id(IdPart::RecordId | IdPart::UserId | IdPart::ExternalId)
                | Field::Inline {
                    part: IdPart::UserId | IdPart::ExternalId,
                    ..
                }
        )
    }

    /// Columns whose value several users may share (a department, a manager, an ID sheet's
    /// record id over one user's entries): cells merged over rows of them are filled down
    /// (N010). Not a user's keys, identities, row version, a credential or an ignored column.
    pub fn is_shareable(&self) -> bool {
        !matches!(
            self,
            Field::Attr(Attr::RecordId | Attr::EmailAddr | Attr::EmployeeId)
                | Field::EmailAliases
                | Field::RowVersion
                | Field::Credential
                | Field::Ignored
                | Field::Id(IdPart::UserId | IdPart::ExternalId)
                | Field::Inline {
                    part: IdPart::UserId | IdPart::ExternalId,
                    ..
                }
        )
    }

    /// The report's `field` value for this column on a sheet of `kind`.
    pub fn report_name(&self, kind: SheetKind) -> String {
        match self {
            Field::Attr(a) => a.name().to_string(),
            Field::EmailAliases => "email_aliases".to_string(),
            Field::Custom(name) => format!("custom_attributes.{name}"),
            Field::Inline { list, part, .. } => format!("{}.{}", list.prefix(), part.name()),
            Field::Id(IdPart::RecordId) => "record_id".to_string(),
            Field::Id(part) => match IdList::of_sheet(kind) {
                Some(list) => format!("{}.{}", list.prefix(), part.name()),
                None => part.name().to_string(),
            },
            Field::RowVersion => "row_version".to_string(),
            Field::Credential | Field::Ignored => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    /// 0-based column index on the sheet.
    pub index: usize,
    pub header: String,
    pub field: Field,
    /// The report's `field` for this column (`itsm.user_id`), computed once per sheet.
    pub name: String,
}

/// A problem about a column or a row above the header, found while mapping.
#[derive(Debug, Clone)]
pub struct HeaderProblem {
    pub code: &'static str,
    /// The field a missing column is for (F002), where no column names it (review: null).
    pub field: Option<String>,
    pub column: Option<usize>,
    pub row: Option<u32>,
    pub header: Option<String>,
    pub message: String,
    pub suggestion: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// Index into `Sheet::rows` of the header row; data rows follow it.
    pub header_at: usize,
    /// Whether that row holds two of the sheet's required columns (else it is the first row
    /// with a value, standing for a header not found).
    pub header_found: bool,
    pub columns: Vec<Column>,
    pub problems: Vec<HeaderProblem>,
    /// Columns without a header and, in the rows read so far, without data: a streamed sheet's
    /// later rows may still hold some ([`unnamed_column`] then).
    pub unnamed: Vec<usize>,
    /// Columns up to the header row's last non-blank cell: a cell right of it is F004 "past
    /// the header". Trailing empty header cells do not count, so a CSV header `a,b,,` and the
    /// same row in a workbook (which keeps no empty cells) end at the same column.
    pub width: usize,
}

/// F004 for a column with data but no header.
pub fn unnamed_column(index: usize) -> HeaderProblem {
    column_problem(
        "F004",
        index,
        "",
        "a column without a header was ignored".to_string(),
        None,
    )
}

impl Mapping {
    pub fn column_of(&self, field: &Field) -> Option<&Column> {
        self.columns.iter().find(|c| &c.field == field)
    }

    /// The inline columns of one integration's entry (`itsm.servicenow.user_id`, `….external_id`),
    /// found without building a [`Field`] (no copy of the integration per row).
    pub fn inline_columns<'m>(
        &'m self,
        list: IdList,
        integration: &'m str,
    ) -> impl Iterator<Item = (IdPart, &'m Column)> + 'm {
        self.columns.iter().filter_map(move |c| match &c.field {
            Field::Inline {
                list: l,
                integration: i,
                part,
            } if *l == list && i == integration => Some((*part, c)),
            _ => None,
        })
    }
}

/// A user's renames from `--map`: folded vendor header → muster column name.
pub type Renames = HashMap<String, String>;

/// Found anywhere in a column's folded name (`secretar`y and `secretar`iat aside).
const CREDENTIAL_WORDS: [&str; 33] = [
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pswd",
    "secret",
    "token",
    "bearer",
    "apikey",
    "accesskey",
    "credential",
    "privatekey",
    "sshkey",
    "recoverycode",
    "sessioncookie",
    "mfaseed",
    "otpseed",
    // The same in the languages vendors' sheets come in (privacy review: `Passwort`).
    "passwort",
    "kennwort",
    "motdepasse",
    "contrasena",
    "contraseña",
    "palavrapasse",
    "wachtwoord",
    "losenord",
    "lösenord",
    "salasana",
    "haslo",
    "hasło",
    "adgangskode",
    "jelszo",
    "jelszó",
    "şifre",
];

/// Found only as a whole word of a column's name: `pin` is in `shipping`, `pwd` in `Group WD`
/// without its space, `senha` in `senhaus`.
const CREDENTIAL_NAMES: [&str; 9] = [
    "pin", "otp", "totp", "pwd", "pw", "senha", "heslo", "parola", "sifre",
];

/// Credentials in other scripts, found in the name as written, in NFKC (half-width kana) and
/// lower case: lookalike folding would change their letters.
const CREDENTIAL_WORDS_NATIVE: [&str; 14] = [
    "парол",
    "パスワード",
    "密码",
    "密碼",
    "口令",
    "暗証番号",
    "비밀번호",
    "κωδικός πρόσβασης",
    "κωδικος προσβασης",
    "كلمة المرور",
    "סיסמה",
    "पासवर्ड",
    "รหัสผ่าน",
    "mật khẩu",
];

/// Words beside `pin` that make it a place's: a postal code (`Pincode`, India's), a map's.
const PLACE_WORDS: [&str; 6] = ["postal", "post", "zip", "address", "location", "map"];

/// X001: whether a column named so looks like it holds credentials, as it looks to a person
/// (dots left out, fullwidth and Cyrillic or Greek lookalikes read as Latin; security review:
/// `pass.word`, `ｐａｓｓｗｏｒｄ`, a Cyrillic `а` escaped X001).
fn looks_like_credential(name: &str) -> bool {
    // `P@ssword` reads as `Password`.
    let looks = fold(&super::lookalikes_folded(name))
        .replace('.', "")
        .replace('@', "a")
        .replace("secretar", "");
    if CREDENTIAL_WORDS.iter().any(|w| looks.contains(w)) {
        return true;
    }
    use unicode_normalization::UnicodeNormalization;
    let native: String = name.nfkc().collect::<String>().to_lowercase();
    if CREDENTIAL_WORDS_NATIVE.iter().any(|w| native.contains(w)) {
        return true;
    }
    let words = name_words(name);
    let place = words.iter().any(|w| PLACE_WORDS.contains(&w.as_str()));
    words
        .iter()
        .any(|w| CREDENTIAL_NAMES.contains(&w.as_str()) && !(w == "pin" && place))
}

/// A column's name in lowercase words: split at what is not a letter or digit, and where a
/// lowercase letter meets an uppercase one (`badgePin`).
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut last_lower = false;
    for c in name.chars() {
        if (!c.is_alphanumeric() || (last_lower && c.is_uppercase())) && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        last_lower = c.is_lowercase();
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn required(kind: SheetKind) -> [Field; 3] {
    if kind.is_user_sheet() {
        [
            Field::Attr(Attr::EmailAddr),
            Field::Attr(Attr::RecordId),
            Field::Attr(Attr::FullName),
        ]
    } else {
        [
            Field::Id(IdPart::RecordId),
            Field::Id(IdPart::Integration),
            Field::Id(IdPart::UserId),
        ]
    }
}

/// The most custom attributes read from one sheet.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 1_000;

/// The longest column name read: a custom attribute's name is a key of the store, and a
/// header of every export.
const MAX_HEADER_CHARS: usize = 255;

/// Maps one header cell to its field on a sheet of `kind`.
pub fn map_header(header: &str, kind: SheetKind, renames: &Renames) -> Field {
    let trimmed = header.trim();
    // A vendor marks the columns to fill (`Record ID (required)`, `Full Name*`): the column is
    // the one the rest names (review: F002 with `Record ID (required)` there).
    if let Some(bare) = without_marker(trimmed) {
        let field = map_header(bare, kind, renames);
        if !matches!(field, Field::Custom(_) | Field::Ignored) {
            return field;
        }
    }
    let renamed = renames
        .get(&fold(trimmed))
        .map(String::as_str)
        .unwrap_or(trimmed);
    let folded = fold(renamed);
    // As the vendor named it too: `--map` gives a column another name, not other contents
    // (privacy review: `"Password" = "custom.notes"` put passwords in the store).
    if looks_like_credential(trimmed) || looks_like_credential(renamed) {
        return Field::Credential;
    }
    if folded == "rowversion" {
        return Field::RowVersion;
    }
    if !kind.is_user_sheet() {
        return match folded.as_str() {
            "recordid" | "uniquerecordid" | "joiningkey" => Field::Id(IdPart::RecordId),
            "integration" | "integrationid" | "connector" => Field::Id(IdPart::Integration),
            "userid" => Field::Id(IdPart::UserId),
            "externalid" if kind != SheetKind::Channel => Field::Id(IdPart::ExternalId),
            _ => Field::Ignored,
        };
    }
    if let Some(inline) = inline_field(renamed) {
        return inline;
    }
    if let Some(name) = renamed
        .strip_prefix("custom.")
        .or_else(|| renamed.strip_prefix("Custom."))
    {
        // `custom.` alone names no attribute.
        return match name.trim() {
            "" => Field::Ignored,
            name => Field::Custom(name.to_string()),
        };
    }
    if matches!(
        folded.as_str(),
        "useremail" | "useremails" | "emailaliases" | "aliases"
    ) {
        return Field::EmailAliases;
    }
    for &attr in Attr::ALL {
        if fold(attr.name()) == folded || attr.aliases().iter().any(|a| fold(a) == folded) {
            return Field::Attr(attr);
        }
    }
    Field::Custom(renamed.to_string())
}

/// A header without the mark a vendor put on it to say whether it must be filled: trailing
/// `*`, `(required)`, `[optional]`, ` - required` and the like. `None` when it has none.
fn without_marker(header: &str) -> Option<&str> {
    const MARKS: [&str; 8] = [
        "required",
        "optional",
        "mandatory",
        "req",
        "req.",
        "opt",
        "opt.",
        "if any",
    ];
    let bare = header.trim_end_matches('*').trim_end();
    if bare.len() < header.len() && !bare.is_empty() {
        return Some(bare);
    }
    let lower = header.to_ascii_lowercase();
    for (open, close) in [("(", ")"), ("[", "]"), ("- ", "")] {
        for mark in MARKS {
            let tail = format!("{open}{mark}{close}");
            if let Some(rest) = lower.strip_suffix(&tail) {
                let bare = header[..rest.len()].trim_end();
                if !bare.is_empty() && bare.len() < rest.len() + 1 {
                    return Some(bare);
                }
            }
        }
    }
    None
}

/// A column named as a dotted ID column but not one (SPEC §2 reserves them: never custom
/// attributes): `itsm.servicenow.sys_id`, `channel.slack.external_id`, `slack.user_id`. Its ids
/// would have loaded as a custom attribute, and the users without the identity (review).
fn id_column_like(header: &str) -> Option<(String, String)> {
    let list = |p: &str| match fold(p).as_str() {
        "itsm" => Some("itsm"),
        "channel" => Some("channel"),
        "idm" => Some("idm"),
        _ => None,
    };
    let parts: Vec<&str> = header.split(".").map(str::trim).collect();
    match parts.as_slice() {
        [prefix, middle @ .., suffix] if !middle.is_empty() && list(prefix).is_some() => {
            let (list, integration) = (list(prefix)?, middle.join("."));
            let parts = match list {
                "channel" => "`user_id`",
                _ => "`user_id` or `external_id`",
            };
            Some((
                format!("column `{header}` is named like a dotted ID column, but ends in `{suffix}`, not {parts}: its values would not be read as an identity"),
                match list {
                    "channel" => format!("Rename it to `channel.{integration}.user_id` if it holds the ids the chat system keys users by; or to `custom.{header}`, to keep it as a custom attribute"),
                    _ => format!("Rename it to `{list}.{integration}.user_id` if it holds the ids the system keys users by, or to `{list}.{integration}.external_id` if it holds their login or email; or to `custom.{header}`, to keep it as a custom attribute"),
                },
            ))
        }
        [integration, suffix] if matches!(fold(suffix).as_str(), "userid" | "externalid") => Some((
            format!("column `{header}` is named as an ID column without its list: its values would be read as a custom attribute, not an identity"),
            format!("Name it `itsm.{header}`, `channel.{header}` or `idm.{header}`, by the kind of the `{integration}` connector; or `custom.{header}`, to keep it as a custom attribute"),
        )),
        _ => None,
    }
}

/// `itsm.<integration>.user_id`: prefix and suffix folded, the integration kept verbatim.
fn inline_field(header: &str) -> Option<Field> {
    let (prefix, rest) = header.split_once('.')?;
    let (integration, suffix) = rest.rsplit_once('.')?;
    let list = match fold(prefix).as_str() {
        "itsm" => IdList::Itsm,
        "channel" => IdList::Channel,
        "idm" => IdList::Idm,
        _ => return None,
    };
    let part = match fold(suffix).as_str() {
        "userid" => IdPart::UserId,
        "externalid" if list != IdList::Channel => IdPart::ExternalId,
        _ => return None,
    };
    Some(Field::Inline {
        list,
        integration: integration.trim().to_string(),
        part,
    })
}

/// How many of the columns a sheet of `kind` requires a row's cells hold: two make it the
/// header (SPEC §2).
fn required_found<'a>(
    cells: impl Iterator<Item = &'a str>,
    kind: SheetKind,
    renames: &Renames,
) -> usize {
    let required = required(kind);
    let mut found = [false; 3];
    for cell in cells {
        let field = map_header(cell, kind, renames);
        if let Some(at) = required.iter().position(|r| *r == field) {
            found[at] = true;
        }
    }
    found.iter().filter(|&&f| f).count()
}

/// How many of the columns a user sheet or an ID-info sheet requires a row's cells hold, the
/// more of the two: the CSV reader asks it of each delimiter's split of a line before it knows
/// which kind of file it reads (two or more: the line is a header).
pub fn header_columns(cells: &[&str], renames: &Renames) -> usize {
    [SheetKind::Users, SheetKind::Itsm]
        .into_iter()
        .map(|kind| required_found(cells.iter().copied(), kind, renames))
        .max()
        .unwrap_or(0)
}

/// Finds the header row and maps every column of a sheet.
pub fn map_sheet(sheet: &Sheet, renames: &Renames) -> Mapping {
    let required = required(sheet.kind);
    let non_blank: Vec<usize> = (0..sheet.rows.len())
        .filter(|&i| !sheet.rows[i].is_blank())
        .take(10)
        .collect();
    let Some(&first) = non_blank.first() else {
        return Mapping::default();
    };
    let is_header = |i: &usize| {
        required_found(
            sheet.rows[*i].cells.iter().map(|c| c.text.as_str()),
            sheet.kind,
            renames,
        ) >= 2
    };
    let found = non_blank.iter().copied().find(is_header);
    // A header further down (a long preamble) is not taken (SPEC §2: the first ten non-blank
    // rows), but one F002 names it, where three "missing" columns would not say why. The
    // rows read so far are looked at (a streamed sheet's head holds 32 non-blank ones).
    let deeper = match (found, non_blank.last()) {
        (None, Some(&last)) if non_blank.len() == 10 => (last + 1..sheet.rows.len())
            .filter(|i| !sheet.rows[*i].is_blank())
            .find(is_header),
        _ => None,
    }
    .map(|at| {
        let row = sheet.rows[at].number;
        let cells: Vec<&str> = (sheet.rows[at].cells.iter())
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
            .collect();
        let mut names: Vec<String> = cells.iter().take(3).map(|t| format!("`{t}`")).collect();
        if cells.len() > 3 {
            names.push("…".to_string());
        }
        HeaderProblem {
            code: "F002",
            field: None,
            column: None,
            row: None,
            header: None,
            message: format!(
                "no header row among the first ten non-blank rows: row {row} ({}) looks like the header, but muster looks no further",
                names.join(", ")
            ),
            suggestion: Some(format!(
                "Delete the rows above row {row}, so that its header comes first"
            )),
        }
    });
    let header_at = found.unwrap_or(first);
    let mut mapping = Mapping {
        header_at,
        header_found: found.is_some(),
        ..Mapping::default()
    };
    for row in &sheet.rows[..header_at] {
        if !row.is_blank() {
            mapping.problems.push(HeaderProblem {
                code: "F004",
                field: None,
                column: None,
                row: Some(row.number),
                header: None,
                message: format!("row {} above the header row was ignored", row.number),
                suggestion: None,
            });
        }
    }
    let header_row = &sheet.rows[header_at];
    mapping.width = header_row
        .cells
        .iter()
        .rposition(|c| !c.text.trim().is_empty())
        .map_or(0, |i| i + 1);
    let mut seen: HashMap<Field, String> = HashMap::new();
    let mut customs = 0usize;
    for (index, cell) in header_row.cells[..mapping.width].iter().enumerate() {
        let mut header = cell.text.trim().to_string();
        // A UTF-8 byte-order mark read as Windows-1252 (or Latin-1): a spreadsheet opened a
        // UTF-8 file (muster's CSV export) in another encoding and saved it so; every accent
        // in it reads so too, `José` as `JosÃ©` (review). The column is read as named.
        if let Some(named) = header.strip_prefix("\u{EF}\u{BB}\u{BF}") {
            mapping.problems.push(column_problem(
                "F001",
                index,
                &header,
                format!("column `{header}` starts with `\u{EF}\u{BB}\u{BF}`, a UTF-8 byte-order mark read as Windows-1252: a spreadsheet opened this UTF-8 file in another encoding and saved it so, and every accented letter in it is mangled the same way (`é` → `Ã©`)"),
                Some("Open the original file again as UTF-8 (Excel: Data › From Text/CSV, File origin 65001: Unicode (UTF-8); LibreOffice: Character set Unicode (UTF-8)) and save it from there; a file without accented letters only needs those three characters deleted".to_string()),
            ));
            header = named.trim().to_string();
        }
        // A header names a field, or a key of the store's custom attributes: invisible format
        // characters in it are dropped before it is mapped, and a control character makes
        // it V008, the column ignored (security review: `pass\u{200B}word` escaped X001,
        // `email_aliases\u{2060}` became a custom attribute, and `dept\u{1b}[2J` a key that
        // cleared the terminal of whoever printed it).
        if crate::check::values::format_character(&header, false).is_some() {
            let category =
                icu_properties::CodePointMapData::<icu_properties::props::GeneralCategory>::new();
            header.retain(|c| category.get(c) != icu_properties::props::GeneralCategory::Format);
            header = header.trim().to_string();
        }
        let control = crate::check::values::control_character(&header, true).filter(|&c| c != '\t');
        let length = header.chars().count();
        if control.is_some() || length > MAX_HEADER_CHARS {
            let shown = header.escape_debug().to_string();
            let message = match control {
                Some(c) => format!(
                    "column `{shown}` holds the control character U+{:04X}; it was ignored",
                    c as u32
                ),
                // A custom attribute's name, kept in the store and written as a header by
                // every export (review: a 40,000-character one made the store's XLSX export
                // fail for all).
                None => format!(
                    "column `{}…` has a name of {length} characters, more than {MAX_HEADER_CHARS}; it was ignored",
                    shown.chars().take(40).collect::<String>()
                ),
            };
            mapping.problems.push(column_problem(
                "V008",
                index,
                &header,
                message,
                Some("Rename the column: type its name again".to_string()),
            ));
            mapping.columns.push(Column {
                index,
                header,
                field: Field::Ignored,
                name: Field::Ignored.report_name(sheet.kind),
            });
            continue;
        }
        if header.is_empty() {
            let has_data = sheet.rows[header_at + 1..]
                .iter()
                .any(|r| r.cell(index).is_some_and(|c| !c.text.trim().is_empty()));
            if has_data {
                mapping.problems.push(unnamed_column(index));
            } else {
                mapping.unnamed.push(index);
            }
            continue;
        }
        let mut field = map_header(&header, sheet.kind, renames);
        // A character lost in decoding (V008 in a cell too): the column's name is not what
        // its author wrote, so nothing is read under it.
        if header.contains('\u{FFFD}') {
            mapping.problems.push(column_problem(
                "V008",
                index,
                &header,
                format!("column `{header}` holds U+FFFD, the mark of a character lost in decoding; it was ignored"),
                Some("Save the file again as UTF-8 from the program that made it".to_string()),
            ));
            field = Field::Ignored;
        } else {
            match &field {
            Field::Credential => mapping.problems.push(column_problem(
                "X001",
                index,
                &header,
                format!("column `{header}` looks like it holds credentials; its values are never read or copied"),
                Some("Remove the column and share credentials through a secrets manager".to_string()),
            )),
            Field::Ignored => mapping.problems.push(column_problem(
                "F004",
                index,
                &header,
                format!("column `{header}` is not a column of the {} sheet and was ignored", sheet.kind.sheet_name()),
                None,
            )),
            // Never on a column named as a custom attribute, here or by the `--map` file
            // (review: `"Dept" = "custom.deparment"` was F006).
            Field::Custom(name)
                if !header.to_ascii_lowercase().starts_with("custom.")
                    && !renames.contains_key(&fold(&header)) =>
            {
                if let Some((message, suggestion)) = id_column_like(name) {
                    mapping.problems.push(column_problem("F009", index, &header, message, Some(suggestion)));
                    field = Field::Ignored;
                } else if let Some(attr) = near_miss(name) {
                    mapping.problems.push(column_problem(
                        "F006",
                        index,
                        &header,
                        format!("column `{header}` is not a standard attribute and was mapped to `custom_attributes.{name}`"),
                        Some(format!("Rename it to `{}` if it holds the {}", attr.name(), attr.name().replace('_', " "))),
                    ));
                }
            }
            _ => {}
        }
        }
        if matches!(field, Field::Custom(_)) {
            customs += 1;
            // A store's export writes every custom attribute its users have as a column, and
            // a sheet holds 16,384 (review: 16,370 custom columns imported, and then no XLSX
            // export of the store could be written).
            if customs == MAX_CUSTOM_ATTRIBUTES + 1 {
                mapping.problems.push(column_problem(
                    "F001",
                    index,
                    &header,
                    format!("column `{header}` is custom attribute number {customs}, past the {MAX_CUSTOM_ATTRIBUTES} muster reads from a sheet: each becomes a column of the store's exports, which a spreadsheet must hold; nothing of this file was loaded"),
                    Some("Remove the columns that are not attributes of the users (notes, a pasted report), or keep them elsewhere".to_string()),
                ));
            }
            if customs > MAX_CUSTOM_ATTRIBUTES {
                field = Field::Ignored;
            }
        }
        if !matches!(field, Field::Credential | Field::Ignored) {
            if let Some(first) = seen.get(&field) {
                mapping.problems.push(column_problem(
                    "F003",
                    index,
                    &header,
                    format!(
                        "column `{header}` maps to `{}`, as column `{first}` already does; this one was ignored",
                        field.report_name(sheet.kind)
                    ),
                    Some("Remove or rename one of the two columns".to_string()),
                ));
                field = Field::Ignored;
            } else {
                seen.insert(field.clone(), header.clone());
            }
        }
        let name = field.report_name(sheet.kind);
        mapping.columns.push(Column {
            index,
            header,
            field,
            name,
        });
    }
    for req in &required {
        if !seen.contains_key(req) {
            let name = req.report_name(sheet.kind);
            let alias_hint = (seen.get(&Field::EmailAliases))
                .filter(|_| req == &Field::Attr(Attr::EmailAddr))
                .map(|aliases| {
                    format!("The `{aliases}` column holds aliases; rename it to `email_addr` if it holds the primary address")
                });
            // A custom column whose name is part of the field's (`Mail`, `ID`, `Name`) may be
            // it under a name muster does not know: say how to have it read.
            let wanted = fold(&name);
            let renamed_hint = mapping
                .columns
                .iter()
                .filter(|c| matches!(c.field, Field::Custom(_)))
                .find(|c| {
                    let f = fold(&c.header);
                    f.len() >= 2 && wanted.contains(&f)
                })
                .map(|c| {
                    format!(
                        "If column `{0}` holds it, rename it to `{name}`, or map it with --map (a file with a `[columns]` table: `\"{0}\" = \"{name}\"`)",
                        c.header
                    )
                });
            // A header read with the wrong delimiter is one column holding every name
            // (review: `--delimiter ';'` on a comma file only said to add the columns).
            let delimiter_hint = mapping.columns.iter().find_map(|c| {
                let by = [',', ';', '\t', '|'].into_iter().find(|&d| {
                    c.header.split(d).count() > 1
                        && (c.header.split(d))
                            .any(|part| map_header(part.trim(), sheet.kind, renames) == *req)
                })?;
                let shown = if by == '\t' { "tab".to_string() } else { format!("'{by}'") };
                let start: String = c.header.chars().take(40).collect();
                let more = if start.len() < c.header.len() { "…" } else { "" };
                Some(format!(
                    "The header was read as one column `{start}{more}`: its names are separated by {shown}; pass --delimiter {shown}"
                ))
            });
            mapping.problems.push(HeaderProblem {
                code: "F002",
                field: Some(name.to_string()),
                column: None,
                row: None,
                header: None,
                message: format!("required column `{name}` is missing"),
                suggestion: delimiter_hint.or(alias_hint).or(renamed_hint).or_else(|| {
                    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    };
                    // The columns muster did not know are where the value may be, under
                    // another name: name them, and how one is read as this one.
                    let unknown: Vec<&str> = (mapping.columns.iter())
                        .filter(|c| matches!(c.field, Field::Custom(_)))
                        .map(|c| c.header.as_str())
                        .collect();
                    Some(match unknown.as_slice() {
                        [] => format!("Add {article} `{name}` column"),
                        [_, ..] => {
                            let shown: Vec<String> =
                                unknown.iter().take(6).map(|h| format!("`{h}`")).collect();
                            let more = match unknown.len().saturating_sub(6) {
                                0 => String::new(),
                                n => format!(" and {n} more"),
                            };
                            format!(
                                "Add {article} `{name}` column, or, if one of the columns muster does not know ({}{more}) holds it, map it with --map (a file with a `[columns]` table: `\"their name\" = \"{name}\"`)",
                                shown.join(", ")
                            )
                        }
                    })
                }),
            });
        }
    }
    // The first row was taken as the header only for want of one: what its columns gave is
    // noise beside the header further down.
    if let Some(deeper) = deeper {
        mapping.problems = vec![deeper];
    }
    mapping
}

fn column_problem(
    code: &'static str,
    index: usize,
    header: &str,
    message: String,
    suggestion: Option<String>,
) -> HeaderProblem {
    HeaderProblem {
        code,
        field: None,
        column: Some(index),
        row: None,
        header: Some(header.to_string()),
        message,
        suggestion,
    }
}

/// F006: an unknown column that is a standard attribute misspelled, or named as spreadsheets
/// often name it. Misspelled: its folded name within Jaro-Winkler 0.85 of the attribute's and
/// a few edits from it (one in five letters), so that another word sharing the first letters is
/// not one (review: `Status` was taken for `state`, `Employee Name` for `employee_id`).
fn near_miss(name: &str) -> Option<Attr> {
    let folded = fold(name);
    if let Some(&(_, attr)) = OFTEN_NAMED.iter().find(|(n, _)| *n == folded) {
        return Some(attr);
    }
    Attr::ALL
        .iter()
        .filter_map(|&a| {
            let standard = fold(a.name());
            let edits = strsim::damerau_levenshtein(&folded, &standard);
            (edits * 5 <= standard.chars().count() + 2)
                .then(|| (a, strsim::jaro_winkler(&folded, &standard)))
        })
        .filter(|&(_, score)| score >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(a, _)| a)
}

/// Folded column names that spreadsheets give a standard attribute, too loose to map it by
/// (a `Status` may be a ticket's): F006 suggests the attribute.
const OFTEN_NAMED: &[(&str, Attr)] = &[
    ("dept", Attr::Department),
    ("title", Attr::Role),
    ("jobtitle", Attr::Role),
    ("position", Attr::Role),
    ("status", Attr::WorkStatus),
    ("employmentstatus", Attr::WorkStatus),
    ("workerstatus", Attr::WorkStatus),
    ("employeename", Attr::FullName),
    ("contractorname", Attr::FullName),
    ("username", Attr::FullName),
    ("employeenumber", Attr::EmployeeId),
    ("empid", Attr::EmployeeId),
    ("tz", Attr::Timezone),
    ("tag", Attr::UserTags),
    ("costcenter", Attr::CostCenterId),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn users(h: &str) -> Field {
        map_header(h, SheetKind::Users, &Renames::new())
    }

    #[test]
    fn maps_names_and_aliases() {
        assert_eq!(users("Email Address"), Field::Attr(Attr::EmailAddr));
        assert_eq!(users("E-mail"), Field::Attr(Attr::EmailAddr));
        assert_eq!(users("RECORD_ID"), Field::Attr(Attr::RecordId));
        assert_eq!(users("User Email"), Field::EmailAliases);
        assert_eq!(users("custom.office"), Field::Custom("office".into()));
        assert_eq!(users("Office"), Field::Custom("Office".into()));
        assert_eq!(users("API Token"), Field::Credential);
        // As they look (security review).
        for name in [
            "pass.word",
            "api.key",
            "Passphrase",
            "ｐａｓｓｗｏｒｄ",
            "p\u{430}ssword",
            "Bearer",
            "Passwort",
            "Mot de passe",
            "Contraseña",
            "PIN",
            "Badge PIN",
            "badgePin",
            "OTP seed",
            "Пароль",
            "パスワード",
            // Second review: none of these were.
            "Badge PIN code",
            "PIN-Code Zutritt",
            "PW",
            "pswd",
            "P@ssword",
            "userPwd",
            "Palavra-passe",
            "heslo",
            "Şifre",
            "Пароли",
            "ﾊﾟｽﾜｰﾄﾞ",
            "Mật khẩu",
            "Recovery codes",
            "SSH key",
        ] {
            assert_eq!(users(name), Field::Credential, "{name}");
        }
        // Words that hold one without being one.
        for name in [
            "Shipping address",
            "Pincode",
            "Postal PIN",
            "Map PIN",
            "Hotpot",
            "Spinner",
            "Pinyin name",
            "Secretary",
            "Executive Secretariat",
            "Group WD",
            "Upwd",
            "Senhaus",
            "Κωδικός υπαλλήλου",
        ] {
            assert_ne!(users(name), Field::Credential, "{name}");
        }
        // A `--map` rename gives the column a name, not other contents (privacy review).
        let renames = Renames::from([("password".to_string(), "custom.notes".to_string())]);
        assert_eq!(
            map_header("Password", SheetKind::Users, &renames),
            Field::Credential
        );
        assert_eq!(
            users("ITSM.ServiceNow.User_ID"),
            Field::Inline {
                list: IdList::Itsm,
                integration: "ServiceNow".into(),
                part: IdPart::UserId
            }
        );
    }

    #[test]
    fn a_vendor_s_required_mark_is_no_part_of_the_name() {
        assert_eq!(users("Record ID (required)"), Field::Attr(Attr::RecordId));
        assert_eq!(users("Email (Required)"), Field::Attr(Attr::EmailAddr));
        assert_eq!(users("Full Name*"), Field::Attr(Attr::FullName));
        assert_eq!(users("full_name *"), Field::Attr(Attr::FullName));
        assert_eq!(
            users("Department [optional]"),
            Field::Attr(Attr::Department)
        );
        assert_eq!(users("Manager - optional"), Field::Attr(Attr::ManagerEmail));
        // A custom column keeps its name as written; a name that is only a mark stays.
        assert_eq!(
            users("Office (optional)"),
            Field::Custom("Office (optional)".into())
        );
        assert_eq!(users("(required)"), Field::Custom("(required)".into()));
        assert_eq!(users("*"), Field::Custom("*".into()));
        assert_eq!(
            map_header("user_id (required)", SheetKind::Itsm, &Renames::new()),
            Field::Id(IdPart::UserId)
        );
    }

    #[test]
    fn near_misses_are_found() {
        assert_eq!(near_miss("deparment"), Some(Attr::Department));
        assert_eq!(near_miss("Full Nmae"), Some(Attr::FullName));
        assert_eq!(near_miss("Departments"), Some(Attr::Department));
        assert_eq!(near_miss("timezon"), Some(Attr::Timezone));
        assert_eq!(near_miss("office"), None);
        // Another word with the same first letters is no misspelling (review).
        assert_eq!(near_miss("Employee Name"), Some(Attr::FullName));
        assert_eq!(near_miss("Employee Type"), None);
        assert_eq!(near_miss("Manager Name"), None);
        assert_eq!(near_miss("Statement"), None);
        assert_eq!(near_miss("Cityscape"), None);
        // Names spreadsheets often give an attribute.
        assert_eq!(near_miss("Status"), Some(Attr::WorkStatus));
        assert_eq!(near_miss("Job Title"), Some(Attr::Role));
        assert_eq!(near_miss("Dept"), Some(Attr::Department));
        assert_eq!(near_miss("TZ"), Some(Attr::Timezone));
    }
}
