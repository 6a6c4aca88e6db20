//! Torn-page modes: a name plus the server settings that select the protection. Three are built in
//! (`fpw_off`, `fpw_on`, `dwb_on`); a profile may define more under `[modes.NAME]`.

use super::value::SettingValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The mode every ratio is relative to: no torn-page protection, the throughput ceiling.
pub const BASELINE_MODE: &str = "fpw_off";

/// The setting only a build carrying our double-write patch knows.
pub const DOUBLE_WRITE_SETTING: &str = "double_write";

/// A torn-page mode: the settings rendered into `postgresql.conf` on top of the profile's server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mode {
    /// The mode's name, as profiles, `--only` and result files spell it (in a profile, the table's key).
    #[serde(default)]
    pub name: String,
    /// One line saying what the mode protects with.
    #[serde(default)]
    pub description: String,
    /// Server settings that define the mode; they win over the profile's `[server]` table.
    #[serde(default)]
    pub settings: BTreeMap<String, SettingValue>,
    /// Which build runs the mode's servers (`build = "stock"` in a profile: the release without patches).
    #[serde(default, skip_serializing_if = "ModeBuild::is_run")]
    pub build: ModeBuild,
}

/// The build a mode's servers run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeBuild {
    /// The run's build: the patches of `patches/pg18` applied (or the `--pg-bin` installation).
    #[default]
    Run,
    /// The same release and configure flags with no patches applied, so a mode can measure what the
    /// patch costs against unpatched PostgreSQL on the same data, in the same run.
    Stock,
}

impl ModeBuild {
    /// Whether this is the run's own build (the default, left out when serialized).
    pub fn is_run(&self) -> bool {
        *self == ModeBuild::Run
    }
}

impl Mode {
    fn new(name: &str, description: &str, settings: &[(&str, bool)]) -> Mode {
        Mode {
            name: name.to_string(),
            description: description.to_string(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), SettingValue::Bool(*v)))
                .collect(),
            build: ModeBuild::Run,
        }
    }

    /// Whether the mode turns the double-write buffer on (and so needs the patched build).
    pub fn uses_double_write(&self) -> bool {
        matches!(
            self.settings.get(DOUBLE_WRITE_SETTING),
            Some(SettingValue::Bool(true))
        ) || matches!(self.settings.get(DOUBLE_WRITE_SETTING), Some(SettingValue::Text(t)) if t == "on" || t == "true")
    }
}

/// The three modes of the published experiment, all run from one build.
pub fn builtin_modes() -> BTreeMap<String, Mode> {
    [
        Mode::new(
            "fpw_off",
            "no torn-page protection (the throughput ceiling)",
            &[("full_page_writes", false)],
        ),
        Mode::new(
            "fpw_on",
            "PostgreSQL's default: full-page images in WAL",
            &[("full_page_writes", true)],
        ),
        Mode::new(
            "dwb_on",
            "full_page_writes off, double-write buffer on",
            &[("full_page_writes", false), (DOUBLE_WRITE_SETTING, true)],
        ),
    ]
    .into_iter()
    .map(|m| (m.name.clone(), m))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_modes_match_the_design_table() {
        let modes = builtin_modes();
        assert_eq!(modes.len(), 3);
        assert_eq!(
            modes["fpw_off"].settings["full_page_writes"],
            SettingValue::Bool(false)
        );
        assert_eq!(
            modes["fpw_on"].settings["full_page_writes"],
            SettingValue::Bool(true)
        );
        assert_eq!(
            modes["dwb_on"].settings["full_page_writes"],
            SettingValue::Bool(false)
        );
        assert!(modes["dwb_on"].uses_double_write());
        assert!(!modes["fpw_on"].uses_double_write());
        assert!(!modes["fpw_off"].uses_double_write());
        assert!(modes.values().all(|m| m.build == ModeBuild::Run));
    }

    #[test]
    fn a_stock_mode_reads_from_toml_and_the_default_is_not_written_back() {
        let stock: Mode =
            toml::from_str("settings = { full_page_writes = false }\nbuild = \"stock\"\n").unwrap();
        assert_eq!(stock.build, ModeBuild::Stock);
        assert!(toml::to_string(&stock)
            .unwrap()
            .contains("build = \"stock\""));
        let plain = &builtin_modes()["fpw_on"];
        assert!(!serde_json::to_string(plain).unwrap().contains("build"));
        assert!(toml::from_str::<Mode>("build = \"patched\"\n").is_err());
    }
}
