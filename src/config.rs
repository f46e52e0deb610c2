//! `muster.toml`: the organization's connectors and rule severities, and `--map` header renames.

use crate::input::headers::{fold, Renames};
use crate::rules::{RuleSet, Severity, UnknownRule};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The kind of a connector: which ID-info list it belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    Itsm,
    Chat,
    Idm,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
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
        }
    }

    /// `--config FILE`, else `$MUSTER_CONFIG`, else `./muster.toml`, else the built-in default.
    pub fn find(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("MUSTER_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("muster.toml")).filter(|p| p.is_file()));
        match path {
            Some(path) => Config::load(&path),
            None => Ok(Config::builtin()),
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut config = Config::builtin();
        config.source = path.display().to_string();
        if let Some(connectors) = file.connectors {
            config.connectors = connectors;
            config.declared = true;
        }
        let rule_err = |source| ConfigError::Rule {
            path: path.to_path_buf(),
            source,
        };
        for (keys, severity) in [
            (&file.rules.deny, Some(Severity::Error)),
            (&file.rules.warn, Some(Severity::Warning)),
            (&file.rules.allow, None),
        ] {
            for key in keys {
                config.rules.set(key, severity).map_err(rule_err)?;
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

/// Reads `--map mapping.toml`: a `[columns]` table of vendor header → muster column.
pub fn load_renames(path: &Path) -> Result<Renames, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: MapFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(file
        .columns
        .into_iter()
        .map(|(from, to)| (fold(&from), to))
        .collect())
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
}
