//! Server setting values as a profile writes them (`shared_buffers = "4GB"`, `max_connections = 200`,
//! `fsync = true`) and their rendering into `postgresql.conf` syntax.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One value of a PostgreSQL setting, as TOML allows it to be written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    /// `on`/`off` settings written as TOML booleans.
    Bool(bool),
    /// Integer settings without a unit.
    Integer(i64),
    /// Real-valued settings.
    Float(f64),
    /// Everything else, including values with units (`"4GB"`, `"30s"`) and enums (`"lz4"`).
    Text(String),
}

impl SettingValue {
    /// The value in `postgresql.conf` syntax: booleans as `on`/`off`, numbers bare, text single-quoted with
    /// embedded quotes doubled.
    pub fn to_conf(&self) -> String {
        match self {
            SettingValue::Bool(true) => "on".to_string(),
            SettingValue::Bool(false) => "off".to_string(),
            SettingValue::Integer(i) => i.to_string(),
            SettingValue::Float(f) => f.to_string(),
            SettingValue::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Text(s) => f.write_str(s),
            other => f.write_str(&other.to_conf()),
        }
    }
}

impl From<&str> for SettingValue {
    fn from(s: &str) -> Self {
        SettingValue::Text(s.to_string())
    }
}

/// Parses a command-line `NAME=VALUE` override; the value is kept as text, which PostgreSQL accepts for
/// every setting type.
pub fn parse_assignment(s: &str) -> Result<(String, SettingValue), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not of the form NAME=VALUE"))?;
    let name = name.trim();
    if !is_setting_name(name) {
        return Err(format!("`{name}` is not a valid PostgreSQL setting name"));
    }
    Ok((
        name.to_string(),
        SettingValue::Text(value.trim().to_string()),
    ))
}

/// Whether `name` looks like a PostgreSQL setting name (letters, digits, `_` and `.` for extension settings).
pub fn is_setting_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_kind_in_conf_syntax() {
        assert_eq!(SettingValue::Bool(true).to_conf(), "on");
        assert_eq!(SettingValue::Bool(false).to_conf(), "off");
        assert_eq!(SettingValue::Integer(200).to_conf(), "200");
        assert_eq!(SettingValue::Text("4GB".into()).to_conf(), "'4GB'");
        assert_eq!(SettingValue::Text("it's".into()).to_conf(), "'it''s'");
    }

    #[test]
    fn parses_assignments_and_rejects_bad_names() {
        assert_eq!(
            parse_assignment("shared_buffers=1GB").unwrap(),
            (
                "shared_buffers".to_string(),
                SettingValue::Text("1GB".into())
            )
        );
        assert!(parse_assignment("shared_buffers").is_err());
        assert!(parse_assignment("1bad=on").is_err());
        assert!(parse_assignment("bad name=on").is_err());
    }
}
