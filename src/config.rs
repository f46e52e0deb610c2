//! `muster.toml`: the organization's connectors and rule severities, and `--map` header renames.

use crate::input::headers::{fold, Renames};
use crate::rules::{RuleSet, Severity, UnknownRule};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

/// The kind of a connector: which ID-info list it belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    // As a system is taken in any case (`ServiceNow`), so is its kind (configuration review:
    // `kind = "ITSM"` was refused).
    #[serde(alias = "ITSM", alias = "Itsm")]
    Itsm,
    #[serde(alias = "CHAT", alias = "Chat")]
    Chat,
    #[serde(alias = "IDM", alias = "Idm")]
    Idm,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    pub system: String,
    pub kind: ConnectorKind,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesTable {
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    warn: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    connectors: Option<BTreeMap<String, Connector>>,
    #[serde(default)]
    rules: RulesTable,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// Integration id (case-sensitive) → connector.
    pub connectors: BTreeMap<String, Connector>,
    /// Whether the connectors come from a config file (B002 applies only then).
    pub declared: bool,
    pub rules: RuleSet,
    /// Where it came from, for the summary.
    pub source: String,
    /// What in the file looks like a mistake muster cannot call one (a system name close to
    /// a known one): printed on stderr by the commands.
    pub warnings: Vec<String>,
}

/// The systems muster checks ids for (SPEC §3), with their kinds.
const KNOWN_SYSTEMS: [(&str, ConnectorKind); 9] = [
    ("servicenow", ConnectorKind::Itsm),
    ("jira", ConnectorKind::Itsm),
    ("salesforce", ConnectorKind::Itsm),
    ("freshservice", ConnectorKind::Itsm),
    ("manageengine", ConnectorKind::Itsm),
    ("slack", ConnectorKind::Chat),
    ("msteams", ConnectorKind::Chat),
    ("okta", ConnectorKind::Idm),
    ("azure_ad", ConnectorKind::Idm),
];

/// Other names of the known systems, as an admin may write them: the product's names over
/// the years (Azure AD is Entra ID; Jira Service Desk is Jira Service Management).
const SYSTEM_NAMES: [(&str, &str); 13] = [
    ("service_now", "servicenow"),
    ("jira_service_desk", "jira"),
    ("jira_service_management", "jira"),
    ("jira_cloud", "jira"),
    ("jsm", "jira"),
    ("teams", "msteams"),
    ("ms_teams", "msteams"),
    ("microsoft_teams", "msteams"),
    ("entra", "azure_ad"),
    ("entra_id", "azure_ad"),
    ("microsoft_entra_id", "azure_ad"),
    ("aad", "azure_ad"),
    ("azure_active_directory", "azure_ad"),
];

/// The known system `system` names (`ServiceNow`, `Entra ID`, `jira-cloud`), with its kind.
fn known_system(system: &str) -> Option<&'static (&'static str, ConnectorKind)> {
    let folded: String = (system.trim().chars())
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let name = SYSTEM_NAMES
        .iter()
        .find(|(other, _)| *other == folded)
        .map_or(folded.as_str(), |(_, known)| known);
    KNOWN_SYSTEMS.iter().find(|(k, _)| *k == name)
}

/// Why no batch could name connector `id`: a batch's cells are trimmed and in NFC, and an
/// invisible character in one is V008 (configuration review: `"servicenow "` made every
/// row I001, suggesting the id with its space, and the template's drop-down offered it).
fn unmatchable_id(id: &str) -> Option<String> {
    // A cell that shows nothing is an empty one (V001), fillers such as U+3164 too.
    if crate::check::values::invisible_only(id) {
        return Some(
            "the id is empty, or shows nothing; a connector's id is the integration id rows name"
                .into(),
        );
    }
    if id.trim() != id {
        return Some(format!(
            "the id has a space at its start or end, which a batch's cells never keep: write `{}`",
            id.trim()
        ));
    }
    if let Some(c) = (id.chars()).find(|&c| c.is_control() || crate::check::values::is_format(c)) {
        return Some(format!(
            "the id holds the invisible character U+{:04X}, which a batch's cells cannot match: write `{}`",
            c as u32,
            id.replace(c, "")
        ));
    }
    let nfc: String = id.nfc().collect();
    (nfc != id).then(|| {
        format!("the id is in decomposed Unicode (NFD), and a batch's cells are read in NFC: write it as `{nfc}` (saved from another editor, it may look the same)")
    })
}

impl ConnectorKind {
    fn name(self) -> &'static str {
        match self {
            ConnectorKind::Itsm => "itsm",
            ConnectorKind::Chat => "chat",
            ConnectorKind::Idm => "idm",
        }
    }
}

/// The 1-based line of `text`, from line `from` (0-based) on, that `is_it` picks, as
/// ` (line N)`, or nothing. Comments are not looked at.
fn line_where(text: &str, from: usize, is_it: impl Fn(&str) -> bool) -> String {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| is_it(l.split('#').next().unwrap_or("").trim()))
        .map(|(i, _)| format!(" (line {})", i + 1))
        .unwrap_or_default()
}

/// The line of connector `id`'s table header (`[connectors.id]`, quoted or not).
fn connector_line(text: &str, id: &str) -> String {
    line_where(text, 0, |l| {
        l == format!("[connectors.{id}]") || l == format!("[connectors.\"{id}\"]")
    })
}

/// The line where `key` is listed under `list` (`allow = ["R001"]`, over lines or not).
fn rule_line(text: &str, list: &str, key: &str) -> String {
    let starts_list = |l: &str| {
        l.strip_prefix(list)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    let Some(from) = text.lines().position(|l| starts_list(l.trim())) else {
        return String::new();
    };
    line_where(text, from, |l| l.contains(&format!("\"{key}\"")))
}

/// The line of a `[columns]` entry for header `from` (quoted, or a bare key).
fn map_line(text: &str, from: &str) -> String {
    line_where(text, 0, |l| {
        let key = l.split('=').next().unwrap_or("").trim();
        key == format!("\"{from}\"") || key == from
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}{}: {source}", path.display(), if *from_env { " (named by MUSTER_CONFIG)" } else { "" })]
    Read {
        path: PathBuf,
        source: std::io::Error,
        /// Named by `$MUSTER_CONFIG`, which the user may have forgotten is set.
        from_env: bool,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Rule { path: PathBuf, source: UnknownRule },
}

impl Config {
    pub fn builtin() -> Config {
        let c = |system: &str, kind| Connector {
            system: system.to_string(),
            kind,
        };
        let connectors = [
            ("jira_service_desk", c("jira", ConnectorKind::Itsm)),
            ("servicenow", c("servicenow", ConnectorKind::Itsm)),
            ("salesforce", c("salesforce", ConnectorKind::Itsm)),
            ("freshservice", c("freshservice", ConnectorKind::Itsm)),
            ("manageengine", c("manageengine", ConnectorKind::Itsm)),
            ("slack", c("slack", ConnectorKind::Chat)),
            ("msteams", c("msteams", ConnectorKind::Chat)),
            ("okta", c("okta", ConnectorKind::Idm)),
            ("azure_ad", c("azure_ad", ConnectorKind::Idm)),
        ]
        .into_iter()
        .map(|(id, c)| (id.to_string(), c))
        .collect();
        Config {
            connectors,
            declared: false,
            rules: RuleSet::default(),
            source: "built-in defaults".to_string(),
            warnings: Vec::new(),
        }
    }

    /// `--config FILE`, else `$MUSTER_CONFIG`, else `./muster.toml`, else the built-in default.
    pub fn find(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = explicit
            .map(Path::to_path_buf)
            // An empty variable is an unset one, as shells and CI files leave them.
            .or_else(|| {
                std::env::var_os("MUSTER_CONFIG")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            // Anything of that name: a link to a share not mounted, or a folder, is said, not
            // passed over for the defaults (configuration review: the organization's
            // connectors were lost unsaid).
            .or_else(|| {
                Some(PathBuf::from("muster.toml")).filter(|p| p.symlink_metadata().is_ok())
            });
        // clap gives `$MUSTER_CONFIG` as `--config`: the path it names is the variable's.
        let from_env = (path.as_deref())
            .is_some_and(|p| std::env::var_os("MUSTER_CONFIG").is_some_and(|v| p == v));
        match path {
            Some(path) => Config::load(&path).map_err(|e| match e {
                ConfigError::Read { path, source, .. } => ConfigError::Read {
                    path,
                    source,
                    from_env,
                },
                e => e,
            }),
            None => Ok(Config::builtin()),
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&read_text(path)?, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            // `[connectors.jira.prod]` is the table `prod` inside `jira`: TOML says "unknown
            // field `prod`" (configuration review). An id with a dot is written in quotes.
            let dotted = text.lines().map(str::trim).find_map(|l| {
                let id = l.strip_prefix("[connectors.")?.strip_suffix(']')?;
                (!id.starts_with('"') && id.contains('.')).then_some(id)
            });
            let hint = dotted
                .map(|id| format!("\n(a connector id with a dot is written in quotes: `[connectors.\"{id}\"]`)"))
                .unwrap_or_default();
            ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("{e}{hint}"),
            }
        })?;
        let mut config = Config::builtin();
        config.source = path.display().to_string();
        let invalid = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        if let Some(mut connectors) = file.connectors {
            let ids: Vec<String> = connectors.keys().cloned().collect();
            for (i, a) in ids.iter().enumerate() {
                if let Some(b) = ids[i + 1..].iter().find(|b| b.eq_ignore_ascii_case(a)) {
                    return Err(invalid(format!(
                        "connectors `{a}`{} and `{b}`{} differ only in case: integration ids are matched case-sensitively, so a batch's `{b}` rows would not count for `{a}`; keep the one your organization configured",
                        connector_line(text, a),
                        connector_line(text, b)
                    )));
                }
            }
            for id in connectors.keys() {
                if let Some(why) = unmatchable_id(id) {
                    return Err(invalid(format!(
                        "connector `{id}`{}: {why}",
                        connector_line(text, id)
                    )));
                }
            }
            for (id, c) in connectors.iter_mut() {
                let at = connector_line(text, id);
                let system = c.system.trim();
                if system.is_empty() {
                    return Err(invalid(format!(
                        "connector `{id}`{at}: `system` is empty: name the system it is ({})",
                        KNOWN_SYSTEMS.map(|(k, _)| k).join(", ")
                    )));
                }
                match known_system(system) {
                    Some((known, kind)) if *kind != c.kind => {
                        return Err(invalid(format!(
                            "connector `{id}`{at}: system `{known}` is {} system, not {}",
                            match kind {
                                ConnectorKind::Chat => "a chat",
                                ConnectorKind::Itsm => "an itsm",
                                ConnectorKind::Idm => "an idm",
                            },
                            c.kind.name()
                        )));
                    }
                    // `ServiceNow` is servicenow: its ids get servicenow's checks.
                    Some((known, _)) => c.system = known.to_string(),
                    // A system of the organization's own (`workday`) is not warned of at every
                    // run; one spelt nearly as a known one is (the other names of the known
                    // ones are known: `jira_cloud` had silently turned off Jira's checks).
                    None => {
                        let near = KNOWN_SYSTEMS.iter().find(|(k, _)| {
                            strsim::jaro_winkler(k, &system.to_ascii_lowercase()) >= 0.9
                        });
                        if let Some((known, _)) = near {
                            config.warnings.push(format!(
                                "{}: connector `{id}`{at}: system `{system}` is not one muster knows, so its ids get generic checks only; did you mean `{known}`?",
                                path.display()
                            ));
                        }
                    }
                }
            }
            config.connectors = connectors;
            config.declared = true;
        }
        let mut listed: BTreeMap<crate::rules::Rule, &str> = BTreeMap::new();
        for (keys, severity, list) in [
            (&file.rules.deny, Some(Severity::Error), "deny"),
            (&file.rules.warn, Some(Severity::Warning), "warn"),
            (&file.rules.allow, None, "allow"),
        ] {
            for key in keys {
                let at = rule_line(text, list, key);
                let rule = crate::rules::Rule::lookup(key.trim())
                    .ok_or_else(|| invalid(format!("{}{at}", UnknownRule::Unknown(key.clone()))))?;
                if let Some(other) = listed.insert(rule, list).filter(|o| *o != list) {
                    return Err(invalid(format!(
                        "{} is in both `{other}` and `{list}`{at}; list it once",
                        rule.code()
                    )));
                }
                config
                    .rules
                    .set(key, severity)
                    .map_err(|source| ConfigError::Rule {
                        path: path.to_path_buf(),
                        source,
                    })?;
            }
        }
        Ok(config)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    columns: BTreeMap<String, String>,
}

/// A configuration or map file's text: UTF-8, with or without a byte-order mark, or UTF-16
/// with one (Windows Notepad's "Unicode"); other encodings are refused with what to do
/// (locale review: "stream did not contain valid UTF-8").
fn read_text(path: &Path) -> Result<String, ConfigError> {
    // A pipe would be waited on for ever, `/dev/zero` read until memory ran out (adversarial
    // review): a configuration is a file, as a batch is.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() && !meta.is_dir() {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: "not a file (a pipe or a device): give the configuration as a file".into(),
            });
        }
    }
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
        from_env: false,
    })?;
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(&bytes) {
        let (text, malformed) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if !malformed {
            return Ok(text.into_owned());
        }
    }
    String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
        path: path.to_path_buf(),
        message: "it is not UTF-8 text (saved in a Windows code page?): save it as UTF-8".into(),
    })
}

/// Reads `--map mapping.toml`: a `[columns]` table of vendor header → muster column. Two
/// entries for one header (muster compares headers case- and space-folded), an empty target,
/// and a target that is no column muster knows (`emial_addr`) are errors naming their line;
/// `custom_attributes.office` is read as `custom.office`, as the report writes it.
pub fn load_renames(path: &Path) -> Result<Renames, ConfigError> {
    let text = read_text(path)?;
    let invalid = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let file: MapFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut renames = Renames::new();
    let mut given: BTreeMap<String, String> = BTreeMap::new();
    for (from, to) in &file.columns {
        let at = map_line(&text, from);
        // Headers are read in NFC: a key typed on a Mac (`Vollsta\u{308}ndiger Name`) is the
        // same header (locale review: it matched nothing).
        let from: String = from.nfc().collect();
        if let Some(first) = given.insert(fold(&from), from.clone()) {
            return Err(invalid(format!(
                "`{first}` and `{from}`{at} name the same header (headers are compared without case and spaces); keep one"
            )));
        }
        let to = to.trim();
        let to = match to.strip_prefix("custom_attributes.") {
            Some(name) => format!("custom.{name}"),
            None => to.to_string(),
        };
        if to.is_empty() || to.eq_ignore_ascii_case("custom.") {
            return Err(invalid(format!("`{from}`{at} is mapped to no column")));
        }
        if !is_known_column(&to) {
            // A misspelt target names the column it was meant for (docs review).
            let columns = [
                crate::input::SheetKind::Users,
                crate::input::SheetKind::Itsm,
            ]
            .into_iter()
            .flat_map(|kind| crate::template::columns(kind).iter().map(|c| c.name));
            let meant = match crate::check::did_you_mean(&to, columns) {
                Some(name) => format!("did you mean `{name}`? Or "),
                None => String::new(),
            };
            return Err(invalid(format!(
                "`{from}`{at} is mapped to `{to}`, which is no column muster knows (see SPEC §2); {meant}write `custom.{to}` for a custom attribute"
            )));
        }
        // `row_version` is the export's own: a vendor's column mapped to it vanished from
        // the records, and made every row S004 in an import (review).
        if fold(&to) == "rowversion" {
            return Err(invalid(format!(
                "`{from}`{at} is mapped to `row_version`, which only `muster export` writes; write `custom.{from_name}` to keep its values",
                from_name = from.trim()
            )));
        }
        renames.insert(fold(&from), to);
    }
    Ok(renames)
}

/// Whether `name` is a column of a user sheet or an ID sheet (a map's target).
fn is_known_column(name: &str) -> bool {
    use crate::input::headers::{map_header, Field};
    use crate::input::SheetKind;
    let none = Renames::new();
    let custom = name
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("custom."));
    custom
        || !matches!(map_header(name, SheetKind::Users, &none), Field::Custom(_))
        || !matches!(map_header(name, SheetKind::Itsm, &none), Field::Ignored)
}

/// The `--map` entries no header of `batch` matched, each as the file writes it with its line
/// (`"SNOW ID" = "itsm.servicenow.user_id" (line 3)`): a rename that matched nothing leaves the
/// column it meant under another name (a custom attribute). The map file is read again for the
/// headers as written, which [`Renames`] keeps folded.
pub fn unused_renames(map: &Path, batch: &crate::input::Batch, renames: &Renames) -> Vec<String> {
    use crate::input::headers::map_sheet;
    let mut used = std::collections::HashSet::new();
    for sheet in &batch.sheets {
        let mapping = map_sheet(sheet, renames);
        if let Some(header) = sheet.rows.get(mapping.header_at) {
            for cell in &header.cells {
                used.insert(fold(cell.text.trim()));
            }
        }
    }
    let text = std::fs::read_to_string(map).unwrap_or_default();
    let written: BTreeMap<String, String> = toml::from_str::<MapFile>(&text)
        .map(|file| file.columns)
        .unwrap_or_default();
    let mut unused: Vec<String> = (renames.iter())
        .filter(|(from, _)| !used.contains(*from))
        .map(
            |(folded, to)| match written.iter().find(|(from, _)| fold(from) == *folded) {
                Some((from, given)) => format!("{from:?} = {given:?}{}", map_line(&text, from)),
                None => format!("`{to}`"),
            },
        )
        .collect();
    unused.sort();
    unused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_table_replaces_defaults() {
        let text = "[connectors.jira_prod]\nsystem = \"jira\"\nkind = \"itsm\"\n[rules]\ndeny = [\"unknown-manager\"]\n";
        let c = Config::parse(text, Path::new("muster.toml")).unwrap();
        assert!(c.declared);
        assert_eq!(c.connectors.len(), 1);
        assert_eq!(
            c.rules.severity(crate::rules::Rule::UnknownManager),
            Some(Severity::Error)
        );
        let c = Config::parse("[rules]\nallow = [\"N001\"]\n", Path::new("m.toml")).unwrap();
        assert!(!c.declared);
        assert_eq!(c.connectors.len(), 9);
        assert!(Config::parse("[rules]\ndeny = [\"Z1\"]", Path::new("m.toml")).is_err());
    }

    /// What a config file gets wrong is named with its line (review): a known system under
    /// another kind, two ids one case apart, a rule in two lists, an unknown rule, an unknown
    /// key in a connector. A known system in other case is that system; one spelt nearly so is
    /// a warning (SPEC §3 accepts any other name, with generic checks).
    #[test]
    fn config_mistakes_are_named_with_their_line() {
        let err = |text: &str| {
            Config::parse(text, Path::new("m.toml"))
                .unwrap_err()
                .to_string()
        };
        let c = |id: &str, system: &str, kind: &str| {
            format!("[connectors.{id}]\nsystem = \"{system}\"\nkind = \"{kind}\"\n")
        };
        assert_eq!(
            err(&c("servicenow", "slack", "itsm")),
            "m.toml: connector `servicenow` (line 1): system `slack` is a chat system, not itsm"
        );
        assert!(err(
            &(c("servicenow", "servicenow", "itsm") + &c("ServiceNow", "servicenow", "itsm"))
        )
        .starts_with(
            "m.toml: connectors `ServiceNow` (line 4) and `servicenow` (line 1) differ only in case"
        ));
        assert_eq!(
            err("[rules]\ndeny = [\"R001\"]\nallow = [\"unknown-manager\"]\n"),
            "m.toml: R001 is in both `deny` and `allow` (line 3); list it once"
        );
        // The line of the list that repeats it, and of the table itself (not one whose name
        // starts alike), comments aside.
        assert_eq!(
            err("[rules]\n# allow = [\"R001\"] once\ndeny = [\"R001\"]\nallow = [\"R001\"]\n"),
            "m.toml: R001 is in both `deny` and `allow` (line 4); list it once"
        );
        assert_eq!(
            err(&(c("slack_eu", "slack", "chat") + &c("slack", "jira", "chat"))),
            "m.toml: connector `slack` (line 4): system `jira` is an itsm system, not chat"
        );
        assert_eq!(
            err("[rules]\nwarn = [\"V999\"]\n"),
            "m.toml: unknown rule `V999` (see `muster rules`) (line 2)"
        );
        assert!(
            err("[connectors.x]\nsystem = \"jira\"\nkind = \"itsm\"\nsystm = \"y\"\n")
                .contains("unknown field `systm`")
        );
        let ok = Config::parse(&c("snow", "ServiceNow", "itsm"), Path::new("m.toml")).unwrap();
        assert_eq!(ok.connectors["snow"].system, "servicenow");
        assert!(ok.warnings.is_empty());
        let near = Config::parse(&c("snow", "servicenw", "itsm"), Path::new("m.toml")).unwrap();
        assert_eq!(near.connectors["snow"].system, "servicenw");
        assert_eq!(
            near.warnings,
            ["m.toml: connector `snow` (line 1): system `servicenw` is not one muster knows, so its ids get generic checks only; did you mean `servicenow`?"]
        );
        assert!(
            err("[connectors.jira.prod]\nsystem = \"jira\"\nkind = \"itsm\"\n").ends_with(
                "(a connector id with a dot is written in quotes: `[connectors.\"jira.prod\"]`)"
            )
        );
        // A kind in capitals is that kind.
        let ok = Config::parse(&c("snow", "servicenow", "ITSM"), Path::new("m.toml")).unwrap();
        assert_eq!(ok.connectors["snow"].kind, ConnectorKind::Itsm);
        // Another name of a known system is that system.
        for (written, known) in [
            ("jira_service_desk", "jira"),
            ("Jira Cloud", "jira"),
            ("Entra ID", "azure_ad"),
            ("aad", "azure_ad"),
            ("MS-Teams", "msteams"),
        ] {
            let kind = if known == "msteams" {
                "chat"
            } else if known == "jira" {
                "itsm"
            } else {
                "idm"
            };
            let ok = Config::parse(&c("x", written, kind), Path::new("m.toml")).unwrap();
            assert_eq!(ok.connectors["x"].system, known, "{written}");
            assert!(ok.warnings.is_empty(), "{written}");
        }
        assert_eq!(
            err(&c("x", " ", "itsm")),
            "m.toml: connector `x` (line 1): `system` is empty: name the system it is (servicenow, jira, salesforce, freshservice, manageengine, slack, msteams, okta, azure_ad)"
        );
        // A connector id no batch's cell could name.
        assert_eq!(
            err(&c("\"servicenow \"", "servicenow", "itsm")),
            "m.toml: connector `servicenow ` (line 1): the id has a space at its start or end, which a batch's cells never keep: write `servicenow`"
        );
        assert_eq!(
            err(&c("\"servicenow\\u200b\"", "servicenow", "itsm")),
            "m.toml: connector `servicenow\u{200b}`: the id holds the invisible character U+200B, which a batch's cells cannot match: write `servicenow`"
        );
        assert!(err(&c("\"\"", "servicenow", "itsm")).contains("the id is empty"));
        assert!(err(&c("\"\\u3164\"", "servicenow", "itsm")).contains("or shows nothing"));
        assert!(err(&c("\"zu\\u0308rich\"", "servicenow", "itsm"))
            .contains("the id is in decomposed Unicode (NFD), and a batch's cells are read in NFC: write it as `zürich`"));
        // A map's mistakes, by line; `custom_attributes.x` is `custom.x`.
        let dir = tempfile::tempdir().unwrap();
        let map = |text: &str| {
            let path = dir.path().join("map.toml");
            std::fs::write(&path, format!("[columns]\n{text}")).unwrap();
            load_renames(&path)
                .map_err(|e| e.to_string().replace(&*path.to_string_lossy(), "map.toml"))
        };
        assert_eq!(
            map("\"Vendor Email\" = \"email_addr\"\n\"vendor email\" = \"record_id\"\n").unwrap_err(),
            "map.toml: `Vendor Email` and `vendor email` (line 3) name the same header (headers are compared without case and spaces); keep one"
        );
        assert_eq!(
            map("\"Badge\" = \"\"\n").unwrap_err(),
            "map.toml: `Badge` (line 2) is mapped to no column"
        );
        assert_eq!(
            map("\"Mail\" = \"emial_addr\"\n").unwrap_err(),
            "map.toml: `Mail` (line 2) is mapped to `emial_addr`, which is no column muster knows (see SPEC §2); did you mean `email_addr`? Or write `custom.emial_addr` for a custom attribute"
        );
        assert_eq!(
            map("\"Badge\" = \"zzqq\"\n").unwrap_err(),
            "map.toml: `Badge` (line 2) is mapped to `zzqq`, which is no column muster knows (see SPEC §2); write `custom.zzqq` for a custom attribute"
        );
        assert_eq!(
            map("\"Dept\" = \"Row Version\"\n").unwrap_err(),
            "map.toml: `Dept` (line 2) is mapped to `row_version`, which only `muster export` writes; write `custom.Dept` to keep its values"
        );
        let ok = map("\"Badge\" = \"custom_attributes.badge\"\n\"SN\" = \"itsm.servicenow.user_id\"\n\"Connector\" = \"integration\"\n\"Mail\" = \"E-mail\"\n").unwrap();
        assert_eq!(ok["badge"], "custom.badge");
        assert_eq!(ok.len(), 4);
        // Near miss: a system of its own, far from every known one.
        let own = Config::parse(&c("hr", "workday", "idm"), Path::new("m.toml")).unwrap();
        assert!(own.warnings.is_empty());
    }
}
