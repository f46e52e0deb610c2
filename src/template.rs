//! `muster template` (SPEC §7): the five sheets an admin hands a vendor, with a description of
//! every column, drop-down lists, identifier columns kept as text and an `Instructions` sheet;
//! `--example` adds a few realistic rows that validate clean with the configuration in force.

use crate::check::ids::salesforce_suffix;
use crate::check::values::{country, Country, USER_TAGS, WORK_STATUSES};
use crate::config::{Config, ConnectorKind};
use crate::input::SheetKind;
use crate::report::{write_atomic, OutputError};
use crate::xlsx::{header_format, Widths, TEXT_FORMAT};
use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, Format, Formula, Note, Workbook, Worksheet, XlsxError,
};
use std::path::Path;

/// A template column: its header, whether a row needs it, whether it is an identifier (kept as
/// text), and the one line that tells a vendor what goes in it.
pub struct TemplateColumn {
    pub name: &'static str,
    pub required: bool,
    pub identifier: bool,
    pub description: &'static str,
}

const fn col(
    name: &'static str,
    required: bool,
    identifier: bool,
    description: &'static str,
) -> TemplateColumn {
    TemplateColumn {
        name,
        required,
        identifier,
        description,
    }
}

const USER_COLUMNS: &[TemplateColumn] = &[
    col("email_addr", true, false, "Work email address, e.g. jane.doe@partners.acme.com; unique across every user and alias"),
    col("record_id", true, true, "The joining key: the user's id in the primary identity source, exactly as it is there (case-sensitive)"),
    col("full_name", true, false, "Full name as people know the user"),
    col("first_name", false, false, "Given name"),
    col("last_name", false, false, "Family name"),
    col("role", false, false, "Job title"),
    col("department", false, false, "Department or team"),
    col("manager_email", false, false, "The manager's work email; the manager should be a known user"),
    col("employee_id", false, true, "Employee or contractor number, as text"),
    col("cost_center_id", false, true, "Cost center id, as text"),
    col("cost_center_name", false, false, "Cost center name"),
    col("work_status", false, false, "One of UNKNOWN_WORK_STATUS, CONTINGENT, INTERN, FULL_TIME (pick from the list)"),
    col("country_code", false, false, "ISO 3166-1 alpha-2 code such as DE or GB (pick from the list)"),
    col("timezone", false, false, "IANA timezone such as Europe/Berlin"),
    col("region", false, false, "Region, e.g. EMEA"),
    col("city", false, false, "City"),
    col("state", false, false, "State or province"),
    col("user_tags", false, false, "User tags: pick one from the list, or type several separated by ;"),
    col("email_aliases", false, false, "Other addresses the user is known by, separated by ;"),
];

const BOT_COLUMNS: &[TemplateColumn] = &[
    col("email_addr", true, false, "The bot account's email address"),
    col(
        "record_id",
        true,
        true,
        "The bot account's record id; its ITSM IDs rows use it",
    ),
    col("full_name", true, false, "The bot's display name"),
    col(
        "user_tags",
        false,
        false,
        "User tags: pick one from the list, or type several separated by ;",
    ),
];

const RECORD_ID: TemplateColumn = col(
    "record_id",
    true,
    true,
    "The record_id of the user (or the bot) on the Users (Bot Account) sheet",
);
const INTEGRATION: TemplateColumn = col(
    "integration",
    true,
    false,
    "The integration id of a configured connector, exactly (case-sensitive; pick from the list)",
);

const ITSM_COLUMNS: &[TemplateColumn] = &[
    RECORD_ID,
    INTEGRATION,
    col("user_id", true, true, "The ticketing system's own user id (ServiceNow sys_id, Jira accountId, Salesforce Id, numeric id)"),
    col("external_id", false, true, "The name the system shows: ServiceNow user_name, else the user's email"),
];
const CHANNEL_COLUMNS: &[TemplateColumn] = &[
    RECORD_ID,
    INTEGRATION,
    col(
        "user_id",
        true,
        true,
        "The chat user id (Slack U…/W…, Teams AAD object id)",
    ),
];
const IDM_COLUMNS: &[TemplateColumn] = &[
    RECORD_ID,
    INTEGRATION,
    col(
        "user_id",
        true,
        true,
        "The identity provider's user id (Okta 00u…, Azure AD object id)",
    ),
    col(
        "external_id",
        false,
        true,
        "The user's login, usually the email",
    ),
];

/// The columns of each sheet of the template.
pub fn columns(kind: SheetKind) -> &'static [TemplateColumn] {
    match kind {
        SheetKind::Users => USER_COLUMNS,
        SheetKind::Itsm => ITSM_COLUMNS,
        SheetKind::Channel => CHANNEL_COLUMNS,
        SheetKind::Idm => IDM_COLUMNS,
        SheetKind::Bot => BOT_COLUMNS,
    }
}

fn connector_kind(kind: SheetKind) -> Option<ConnectorKind> {
    match kind {
        SheetKind::Itsm => Some(ConnectorKind::Itsm),
        SheetKind::Channel => Some(ConnectorKind::Chat),
        SheetKind::Idm => Some(ConnectorKind::Idm),
        _ => None,
    }
}

/// The configured integration ids of one kind, in the configuration's order.
fn integrations(config: &Config, kind: ConnectorKind) -> Vec<&str> {
    config
        .connectors
        .iter()
        .filter(|(_, c)| c.kind == kind)
        .map(|(id, _)| id.as_str())
        .collect()
}

/// Every assigned ISO 3166-1 alpha-2 code muster accepts, sorted.
fn country_codes() -> Vec<&'static str> {
    let mut codes: Vec<&str> = isocountry::CountryCode::iter()
        .map(|c| c.alpha2())
        .filter(|c| matches!(country(c), Country::Exact))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// The rows of each sheet, as text in column order.
pub type Rows = Vec<Vec<String>>;

/// `--example`: three users and the bot, with ID entries for the configured connectors, whose
/// values pass every rule for the connector's system.
pub fn example_rows(config: &Config, kind: SheetKind) -> Rows {
    struct Person {
        email: &'static str,
        record_id: &'static str,
        name: (&'static str, &'static str),
        user: [&'static str; 12],
        tags: &'static str,
    }
    let people = [
        Person {
            email: "priya.raman@acme.com",
            record_id: "CTR-2001",
            name: ("Priya", "Raman"),
            // role … state, in USER_COLUMNS order.
            user: [
                "Vendor Manager",
                "IT",
                "",
                "E-20417",
                "CC-4100",
                "IT Operations",
                "FULL_TIME",
                "IN",
                "Asia/Kolkata",
                "APAC",
                "Bengaluru",
                "Karnataka",
            ],
            tags: "IT_AGENT;HAS_ACCESS_TO_BOT",
        },
        Person {
            email: "lukas.becker@partners.acme.com",
            record_id: "CTR-2002",
            name: ("Lukas", "Becker"),
            user: [
                "Service Desk Analyst",
                "IT",
                "priya.raman@acme.com",
                "C-88012",
                "CC-4100",
                "IT Operations",
                "CONTINGENT",
                "DE",
                "Europe/Berlin",
                "EMEA",
                "Berlin",
                "Berlin",
            ],
            tags: "HAS_ACCESS_TO_BOT",
        },
        Person {
            email: "svc-reporting@acme.com",
            record_id: "SVC-0001",
            name: ("Reporting", "Service"),
            user: [
                "Service Account",
                "IT",
                "priya.raman@acme.com",
                "",
                "CC-4100",
                "IT Operations",
                "UNKNOWN_WORK_STATUS",
                "US",
                "America/New_York",
                "AMER",
                "New York",
                "NY",
            ],
            tags: "SERVICE_ACCOUNT",
        },
    ];
    const BOT: (&str, &str, &str) = ("moveworks.bot@acme.com", "BOT-0001", "Moveworks Bot");
    match kind {
        SheetKind::Users => people
            .iter()
            .map(|p| {
                let mut row = vec![
                    p.email.to_string(),
                    p.record_id.to_string(),
                    format!("{} {}", p.name.0, p.name.1),
                    p.name.0.to_string(),
                    p.name.1.to_string(),
                ];
                row.extend(p.user.iter().map(|s| s.to_string()));
                row.push(p.tags.to_string());
                row.push(String::new());
                row
            })
            .collect(),
        SheetKind::Bot => vec![vec![
            BOT.0.to_string(),
            BOT.1.to_string(),
            BOT.2.to_string(),
            "HAS_ACCESS_TO_BOT".to_string(),
        ]],
        _ => {
            let Some(ck) = connector_kind(kind) else {
                return Vec::new();
            };
            let mut rows = Vec::new();
            // Each user gets an entry in the first connector of the kind; the bot one in every
            // ticketing connector (B002).
            let first = integrations(config, ck).into_iter().take(1);
            for (i, p) in people.iter().enumerate() {
                for integration in first.clone() {
                    let system = &config.connectors[integration].system;
                    rows.push(id_row(
                        kind,
                        p.record_id,
                        integration,
                        system,
                        i as u32 + 1,
                        p.email,
                    ));
                }
            }
            if ck == ConnectorKind::Itsm {
                for integration in integrations(config, ck) {
                    let system = &config.connectors[integration].system;
                    rows.push(id_row(kind, BOT.1, integration, system, 9, BOT.0));
                }
            }
            rows
        }
    }
}

fn id_row(
    kind: SheetKind,
    record_id: &str,
    integration: &str,
    system: &str,
    n: u32,
    email: &str,
) -> Vec<String> {
    let (user_id, external_id) = example_ids(system, n, email);
    let mut row = vec![record_id.to_string(), integration.to_string(), user_id];
    if kind != SheetKind::Channel {
        row.push(external_id);
    }
    row
}

/// A user id and an external id of the shape each system uses (ID-FORMATS.md), the `n`th;
/// distinct for every `n` (the batch generator numbers millions of users with it).
pub fn example_ids(system: &str, n: u32, email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or(email);
    let user_id = match system {
        "servicenow" => format!(
            "{:032x}",
            0x6816f79cc0a8016401c5a33be04be440u128 + n as u128
        ),
        "jira" => format!("5b10ac8d82e05b22{n:08x}"),
        "salesforce" => {
            let id15 = format!("0058d{n:010}");
            format!("{id15}{}", salesforce_suffix(&id15))
        }
        "freshservice" => format!("2700010{n:04}"),
        "manageengine" => format!("{}", 1000 + n),
        "slack" => format!("U04{n:08}"),
        "msteams" => format!(
            "8f4c2d1e-5b6a-4c3d-9e8f-{:012x}",
            0x7a6b5c4d3e00u64 + n as u64
        ),
        "okta" => format!("00u1a2b3c{n:011}"),
        "azure_ad" => format!(
            "3f2504e0-4f89-41d3-9a0c-{:012x}",
            0x0305e82c3300u64 + n as u64
        ),
        _ => format!("{system}-{}", 1000 + n),
    };
    let external_id = match system {
        "servicenow" => local.to_string(),
        _ => email.to_string(),
    };
    (user_id, external_id)
}

/// The template as a CSV set in `dir` (created if missing): one file per sheet.
/// The files of the CSV set in `dir`, as [`write_csv_set`] names them.
pub fn csv_set_files(dir: &Path) -> Vec<std::path::PathBuf> {
    SheetKind::ALL
        .iter()
        .map(|kind| dir.join(format!("{}.csv", kind.file_stem())))
        .collect()
}

pub fn write_csv_set(dir: &Path, config: &Config, example: bool) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for (kind, path) in SheetKind::ALL.into_iter().zip(csv_set_files(dir)) {
        let rows = if example {
            example_rows(config, kind)
        } else {
            Vec::new()
        };
        write_atomic(&path, |w| {
            let mut out = csv::Writer::from_writer(w);
            out.write_record(columns(kind).iter().map(|c| c.name))?;
            for row in &rows {
                out.write_record(row)?;
            }
            out.flush()
        })?;
    }
    Ok(())
}

/// The template as a workbook.
pub fn write_workbook(path: &Path, config: &Config, example: bool) -> Result<(), OutputError> {
    crate::report::write_workbook(path, |workbook| build(workbook, config, example))
}

/// Where the drop-down lists live: columns of the `Instructions` sheet, so the workbook holds no
/// sheet a reader would have to skip beyond the one SPEC §2 already names.
struct Lists {
    work_status: String,
    user_tags: String,
    country_code: String,
    integrations: [(SheetKind, Option<String>); 3],
}

const LIST_COLUMN: u16 = 6;

fn build(workbook: &mut Workbook, config: &Config, example: bool) -> Result<(), XlsxError> {
    let instructions = workbook.add_worksheet().set_name("Instructions")?;
    let lists = write_instructions(instructions, config)?;
    for kind in SheetKind::ALL {
        let ws = workbook.add_worksheet().set_name(kind.sheet_name())?;
        let rows = if example {
            example_rows(config, kind)
        } else {
            Vec::new()
        };
        write_sheet(ws, kind, &rows, &lists)?;
    }
    Ok(())
}

fn write_instructions(ws: &mut Worksheet, config: &Config) -> Result<Lists, XlsxError> {
    let title = Format::new().set_bold().set_font_size(14);
    let header = header_format();
    let wrap = Format::new().set_text_wrap();
    let lines = [
        "One row per user on Users; the bot account, if any, on Bot Account.",
        "ID info goes on ITSM IDs, Channel IDs and IDM IDs: one row per entry, joined to the user by record_id; at most one entry per integration and user.",
        "Identifier columns are formatted as text: type 00123 and it stays 00123. Do not enter formulas.",
        "Several values in one cell (user_tags, email_aliases) are separated by ;",
        "Hover a column header for what it holds. Check the file with: muster validate FILE.xlsx --annotate checked.xlsx",
        "This sheet is not read by muster.",
    ];
    ws.write_string_with_format(0, 0, "How to fill in this workbook", &title)?;
    for (i, line) in lines.iter().enumerate() {
        ws.write_string(i as u32 + 1, 0, *line)?;
    }
    let mut r = lines.len() as u32 + 2;
    for (c, h) in ["sheet", "column", "required", "description"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(r, c as u16, *h, &header)?;
    }
    for kind in SheetKind::ALL {
        for column in columns(kind) {
            r += 1;
            ws.write_string(r, 0, kind.sheet_name())?;
            ws.write_string(r, 1, column.name)?;
            ws.write_string(r, 2, if column.required { "yes" } else { "" })?;
            ws.write_string_with_format(r, 3, column.description, &wrap)?;
        }
    }
    ws.set_column_width(0, 13)?;
    ws.set_column_width(1, 18)?;
    ws.set_column_width(2, 9)?;
    ws.set_column_width(3, 70)?;

    // The lists the drop-downs read, one column each.
    let mut next = LIST_COLUMN;
    let mut list =
        |ws: &mut Worksheet, name: &str, values: &[&str]| -> Result<Option<String>, XlsxError> {
            let c = next;
            next += 1;
            ws.write_string_with_format(0, c, name, &header)?;
            let mut width = Widths::default();
            width.see(c as usize, name);
            for (i, v) in values.iter().enumerate() {
                ws.write_string(i as u32 + 1, c, *v)?;
                width.see(c as usize, v);
            }
            width.apply(ws)?;
            let letter = crate::finding::column_letter(c as usize);
            Ok((!values.is_empty())
                .then(|| format!("=Instructions!${letter}$2:${letter}${}", values.len() + 1)))
        };
    let work_status = list(ws, "work_status", &WORK_STATUSES)?.expect("four values");
    let user_tags = list(ws, "user_tags", &USER_TAGS)?.expect("fourteen tags");
    let country_code = list(ws, "country_code", &country_codes())?.expect("the ISO codes");
    let mut integrations_of = |kind: SheetKind| -> Result<(SheetKind, Option<String>), XlsxError> {
        let ck = connector_kind(kind).expect("an ID-info sheet");
        let ids = integrations(config, ck);
        let name = format!("integration ({})", kind.sheet_name());
        Ok((kind, list(ws, &name, &ids)?))
    };
    let integrations = [
        integrations_of(SheetKind::Itsm)?,
        integrations_of(SheetKind::Channel)?,
        integrations_of(SheetKind::Idm)?,
    ];
    Ok(Lists {
        work_status,
        user_tags,
        country_code,
        integrations,
    })
}

/// Every row below the header.
const LAST_ROW: u32 = 1_048_575;

fn write_sheet(
    ws: &mut Worksheet,
    kind: SheetKind,
    rows: &Rows,
    lists: &Lists,
) -> Result<(), XlsxError> {
    let header = header_format();
    let text = Format::new().set_num_format_index(TEXT_FORMAT);
    let mut widths = Widths::default();
    for (c, column) in columns(kind).iter().enumerate() {
        let col = c as u16;
        ws.write_string_with_format(0, col, column.name, &header)?;
        widths.see(c, column.name);
        let required = if column.required { " (required)" } else { "" };
        let note = Note::new(format!("{}{required}: {}", column.name, column.description))
            .add_author_prefix(false)
            .set_width(300)
            .set_height(80);
        ws.insert_note(0, col, &note)?;
        if column.identifier {
            ws.set_column_format(col, &text)?;
        }
        if let Some(validation) = validation(column.name, kind, lists) {
            ws.add_data_validation(1, col, LAST_ROW, col, &validation)?;
        }
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            let column = &columns(kind)[c];
            if column.identifier {
                ws.write_string_with_format(r as u32 + 1, c as u16, value, &text)?;
            } else {
                ws.write_string(r as u32 + 1, c as u16, value)?;
            }
            widths.see(c, value);
        }
    }
    ws.set_freeze_panes(1, 0)?;
    widths.apply(ws)
}

fn validation(column: &str, kind: SheetKind, lists: &Lists) -> Option<DataValidation> {
    let from = |range: &str| DataValidation::new().allow_list_formula(Formula::new(range));
    Some(match column {
        "work_status" => from(&lists.work_status)
            .set_error_title("work_status")
            .ok()?
            .set_error_message("Pick one of UNKNOWN_WORK_STATUS, CONTINGENT, INTERN, FULL_TIME.")
            .ok()?,
        // Several tags in one cell are allowed: the list offers one, and typing more only
        // informs.
        "user_tags" => from(&lists.user_tags)
            .set_error_style(DataValidationErrorStyle::Information)
            .set_input_title("user_tags")
            .ok()?
            .set_input_message("Pick a tag, or type several separated by ;")
            .ok()?,
        "country_code" => from(&lists.country_code)
            .set_error_style(DataValidationErrorStyle::Warning)
            .set_error_message("Use an ISO 3166-1 alpha-2 code such as DE or GB.")
            .ok()?,
        "integration" => {
            let range = lists
                .integrations
                .iter()
                .find(|(k, _)| *k == kind)?
                .1
                .as_deref()?;
            from(range)
                .set_error_title("integration")
                .ok()?
                .set_error_message(
                    "Use a configured integration id, exactly as it is spelled (case-sensitive).",
                )
                .ok()?
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::ids::{external_id, user_id};

    #[test]
    fn example_ids_pass_their_systems_checks() {
        for system in [
            "servicenow",
            "jira",
            "salesforce",
            "freshservice",
            "manageengine",
            "slack",
            "msteams",
            "okta",
            "azure_ad",
            "acme_itsm",
        ] {
            for n in [1, 9, 42, 99_999, 1_000_000, 4_000_000] {
                let (uid, ext) = example_ids(system, n, "jane.doe@acme.com");
                let check = user_id(system, &uid);
                assert!(
                    check.error.is_none() && check.warning.is_none() && check.change.is_none(),
                    "{system} {uid}: {check:?}"
                );
                assert_eq!(external_id(system, &ext), None, "{system} {ext}");
            }
        }
    }

    #[test]
    fn example_rows_fill_every_column() {
        let config = Config::builtin();
        for kind in SheetKind::ALL {
            for row in example_rows(&config, kind) {
                assert_eq!(row.len(), columns(kind).len(), "{kind:?}");
            }
        }
    }

    #[test]
    fn country_list_is_the_assigned_codes() {
        let codes = country_codes();
        assert!(codes.contains(&"DE") && codes.contains(&"GB"));
        assert!(!codes.contains(&"UK") && !codes.contains(&"XK"));
        assert!(codes.len() > 240);
    }
}
