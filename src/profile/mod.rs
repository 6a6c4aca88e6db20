//! Profiles: the TOML description of an experiment (build flags, data size, server settings, the matrix of
//! modes x workloads x client counts, timings). Read in two stages: a [`PartialProfile`] whose fields are all
//! optional (a file, or command-line overrides), merged over the defaults into a complete, validated
//! [`Profile`].

pub mod host;
pub mod mode;
pub mod scenario;
pub mod value;

use crate::error::ProfileError;
use crate::workload::{Distribution, Workload};
use host::{parse_size, HostSettings, PartialHost, MIN_MEMORY_LIMIT};
use mode::{builtin_modes, Mode, ModeBuild, BASELINE_MODE, DOUBLE_WRITE_SETTING};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use value::{is_setting_name, SettingValue};

/// Profiles shipped inside the binary, so `--profile quick` works from any directory.
const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("article", include_str!("../../profiles/article.toml")),
    ("quick", include_str!("../../profiles/quick.toml")),
    ("smoke", include_str!("../../profiles/smoke.toml")),
    ("extended", include_str!("../../profiles/extended.toml")),
    ("area-size", include_str!("../../profiles/area-size.toml")),
    ("batch-size", include_str!("../../profiles/batch-size.toml")),
    ("off-cost", include_str!("../../profiles/off-cost.toml")),
    ("io-bound", include_str!("../../profiles/io-bound.toml")),
];

/// The configure flags used when neither profile nor command line names any.
pub const DEFAULT_CONFIGURE_FLAGS: &[&str] =
    &["--without-icu", "--without-readline", "--without-zlib"];

/// A complete, validated profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The profile's name (file stem or built-in name).
    pub name: String,
    /// Where it was read from: a path, or `built-in NAME`.
    pub origin: String,
    /// One paragraph saying what the profile is for.
    pub description: String,
    /// How PostgreSQL is built.
    pub build: BuildSettings,
    /// The sysbench data set.
    pub data: DataSettings,
    /// Settings rendered into `postgresql.conf` for every mode.
    pub server: BTreeMap<String, SettingValue>,
    /// Limits around each measured server (absent from profiles stored before the table existed).
    #[serde(default, skip_serializing_if = "HostSettings::is_default")]
    pub host: HostSettings,
    /// The matrix and its timings.
    pub run: RunSettings,
    /// Every mode this profile knows: the built-in three plus the profile's `[modes.NAME]` tables.
    pub modes: BTreeMap<String, Mode>,
}

/// `[build]`: how PostgreSQL is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildSettings {
    /// Flags passed to `configure` (besides `--prefix`).
    pub configure_flags: Vec<String>,
}

/// `[data]`: the sysbench data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSettings {
    /// Number of tables `sbtest1..N`.
    pub tables: u32,
    /// Rows per table.
    pub table_size: u64,
}

/// How every scenario gets its fresh database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebuildStrategy {
    /// Load once into a golden data directory; every scenario starts from a copy of it.
    Golden,
    /// initdb and load again for every scenario (the most literal reading of the article).
    Reload,
}

/// In which order scenarios run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Modes side by side for each workload and client count, so slow drift of the machine favours none;
    /// their order rotates from cell to cell and repeat to repeat, so no mode always runs first.
    Interleaved,
    /// All scenarios of one mode, then the next mode.
    Grouped,
}

/// `[run]`: the matrix and its timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Modes to run, by name.
    pub modes: Vec<String>,
    /// Transaction mixes to run.
    pub workloads: Vec<Workload>,
    /// Client counts to run.
    pub clients: Vec<u32>,
    /// How many times each scenario runs.
    pub repeats: u32,
    /// Seconds of unmeasured load before each measured run.
    pub warmup_secs: u64,
    /// Seconds of the measured run.
    pub duration_secs: u64,
    /// How scenarios are ordered.
    pub order: Order,
    /// How each scenario's database is rebuilt.
    pub rebuild: RebuildStrategy,
    /// How row ids are drawn.
    pub distribution: Distribution,
    /// Seed of the load's random numbers, so a run can be repeated.
    pub seed: u64,
}

/// A profile as written: every field optional. Files and command-line overrides both produce one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialProfile {
    /// See [`Profile::description`].
    pub description: Option<String>,
    /// See [`BuildSettings`].
    pub build: Option<PartialBuild>,
    /// See [`DataSettings`].
    pub data: Option<PartialData>,
    /// See [`Profile::server`]; merged key by key.
    pub server: Option<BTreeMap<String, SettingValue>>,
    /// See [`HostSettings`].
    pub host: Option<PartialHost>,
    /// See [`RunSettings`].
    pub run: Option<PartialRun>,
    /// Extra modes; merged key by key over the built-in ones.
    pub modes: Option<BTreeMap<String, Mode>>,
}

/// `[build]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialBuild {
    /// See [`BuildSettings::configure_flags`].
    pub configure_flags: Option<Vec<String>>,
}

/// `[data]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialData {
    /// See [`DataSettings::tables`].
    pub tables: Option<u32>,
    /// See [`DataSettings::table_size`].
    pub table_size: Option<u64>,
}

/// `[run]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialRun {
    /// See [`RunSettings::modes`].
    pub modes: Option<Vec<String>>,
    /// See [`RunSettings::workloads`].
    pub workloads: Option<Vec<Workload>>,
    /// See [`RunSettings::clients`].
    pub clients: Option<Vec<u32>>,
    /// See [`RunSettings::repeats`].
    pub repeats: Option<u32>,
    /// See [`RunSettings::warmup_secs`].
    pub warmup_secs: Option<u64>,
    /// See [`RunSettings::duration_secs`].
    pub duration_secs: Option<u64>,
    /// See [`RunSettings::order`].
    pub order: Option<Order>,
    /// See [`RunSettings::rebuild`].
    pub rebuild: Option<RebuildStrategy>,
    /// See [`RunSettings::distribution`].
    pub distribution: Option<Distribution>,
    /// See [`RunSettings::seed`].
    pub seed: Option<u64>,
}

macro_rules! take_over {
    ($base:expr, $over:expr, $($field:ident),+) => {
        $( if $over.$field.is_some() { $base.$field = $over.$field; } )+
    };
}

impl PartialProfile {
    /// Parses TOML text; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<PartialProfile, ProfileError> {
        toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Lays `over` on top of `self`: its set fields win; the `server` and `modes` tables merge key by key.
    pub fn merged_with(mut self, over: PartialProfile) -> PartialProfile {
        if over.description.is_some() {
            self.description = over.description;
        }
        if let Some(b) = over.build {
            let base = self.build.get_or_insert_with(Default::default);
            take_over!(base, b, configure_flags);
        }
        if let Some(d) = over.data {
            let base = self.data.get_or_insert_with(Default::default);
            take_over!(base, d, tables, table_size);
        }
        if let Some(h) = over.host {
            let base = self.host.get_or_insert_with(Default::default);
            take_over!(base, h, memory_limit);
        }
        if let Some(r) = over.run {
            let base = self.run.get_or_insert_with(Default::default);
            take_over!(
                base,
                r,
                modes,
                workloads,
                clients,
                repeats,
                warmup_secs,
                duration_secs,
                order,
                rebuild,
                distribution,
                seed
            );
        }
        if let Some(s) = over.server {
            self.server.get_or_insert_with(Default::default).extend(s);
        }
        if let Some(m) = over.modes {
            self.modes.get_or_insert_with(Default::default).extend(m);
        }
        self
    }

    /// Fills every missing field from the defaults (the article's values) and validates the result.
    pub fn to_complete(self, name: &str, origin: &str) -> Result<Profile, ProfileError> {
        let build = self.build.unwrap_or_default();
        let data = self.data.unwrap_or_default();
        let run = self.run.unwrap_or_default();
        let mut modes = builtin_modes();
        for (mode_name, mut mode) in self.modes.unwrap_or_default() {
            mode.name = mode_name.clone();
            modes.insert(mode_name, mode);
        }
        let profile = Profile {
            name: name.to_string(),
            origin: origin.to_string(),
            description: self.description.unwrap_or_default(),
            build: BuildSettings {
                configure_flags: build.configure_flags.unwrap_or_else(|| {
                    DEFAULT_CONFIGURE_FLAGS
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                }),
            },
            data: DataSettings {
                tables: data.tables.unwrap_or(10),
                table_size: data.table_size.unwrap_or(10_000_000),
            },
            server: self.server.unwrap_or_default(),
            host: HostSettings {
                memory_limit: self.host.unwrap_or_default().memory_limit,
            },
            run: RunSettings {
                modes: run
                    .modes
                    .unwrap_or_else(|| ["fpw_off", "fpw_on", "dwb_on"].map(String::from).to_vec()),
                workloads: run.workloads.unwrap_or_else(|| Workload::ALL.to_vec()),
                clients: run.clients.unwrap_or_else(|| vec![32, 64, 128]),
                repeats: run.repeats.unwrap_or(1),
                warmup_secs: run.warmup_secs.unwrap_or(60),
                duration_secs: run.duration_secs.unwrap_or(300),
                order: run.order.unwrap_or(Order::Interleaved),
                rebuild: run.rebuild.unwrap_or(RebuildStrategy::Golden),
                distribution: run.distribution.unwrap_or_default(),
                seed: run.seed.unwrap_or(1),
            },
            modes,
        };
        profile.validate()?;
        Ok(profile)
    }
}

#[cfg(test)]
impl Profile {
    /// A complete profile from TOML text over the built-in defaults, for unit tests.
    pub(crate) fn from_test_toml(text: &str) -> Profile {
        PartialProfile::from_toml(text, "t")
            .unwrap()
            .to_complete("t", "t")
            .unwrap()
    }
}

impl Profile {
    /// Loads `name_or_path` (a file path, `profiles/NAME.toml` in the current directory, or a built-in
    /// profile), lays `overrides` over it, and validates.
    pub fn load(name_or_path: &str, overrides: PartialProfile) -> Result<Profile, ProfileError> {
        let (name, origin, text) = read_profile_text(name_or_path)?;
        let partial = PartialProfile::from_toml(&text, &origin)?.merged_with(overrides);
        partial.to_complete(&name, &origin)
    }

    /// The largest client count of the matrix.
    pub fn max_clients(&self) -> u32 {
        self.run.clients.iter().copied().max().unwrap_or(1)
    }

    /// The modes of the matrix that run on the stock build, in the profile's order.
    pub fn stock_modes(&self) -> Vec<String> {
        self.selected_modes()
            .filter(|m| m.build == ModeBuild::Stock)
            .map(|m| m.name.clone())
            .collect()
    }

    /// The modes the matrix runs, in the profile's order.
    pub fn selected_modes(&self) -> impl Iterator<Item = &Mode> {
        self.run.modes.iter().map(|m| &self.modes[m])
    }

    fn invalid(&self, key: &str, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            origin: self.origin.clone(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Checks every value that the types alone do not rule out.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.data.tables == 0 {
            return Err(self.invalid("data.tables", "must be at least 1"));
        }
        if self.data.table_size == 0 {
            return Err(self.invalid("data.table_size", "must be at least 1"));
        }
        for flag in &self.build.configure_flags {
            if !flag.starts_with("--") || flag.starts_with("--prefix") {
                return Err(self.invalid(
                    "build.configure_flags",
                    format!("has `{flag}`: flags must start with `--`, and `--prefix` is chosen by the build cache"),
                ));
            }
        }
        if let Some(limit) = &self.host.memory_limit {
            match parse_size(limit) {
                Err(message) => return Err(self.invalid("host.memory_limit", message)),
                Ok(bytes) if bytes < MIN_MEMORY_LIMIT => {
                    return Err(self.invalid("host.memory_limit", "must be at least 128MB"))
                }
                Ok(_) => {}
            }
        }
        for key in self.server.keys() {
            if !is_setting_name(key) {
                return Err(
                    self.invalid(&format!("server.{key}"), "is not a PostgreSQL setting name")
                );
            }
        }
        for (name, mode) in &self.modes {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(self.invalid(
                    &format!("modes.{name}"),
                    "is not a valid mode name (letters, digits and `_` only)",
                ));
            }
            for key in mode.settings.keys() {
                if !is_setting_name(key) {
                    return Err(self.invalid(
                        &format!("modes.{name}.settings.{key}"),
                        "is not a PostgreSQL setting name",
                    ));
                }
            }
            if mode.build == ModeBuild::Stock {
                if let Some(key) = mode
                    .settings
                    .keys()
                    .find(|k| k.starts_with(DOUBLE_WRITE_SETTING))
                {
                    return Err(self.invalid(
                        &format!("modes.{name}.settings.{key}"),
                        "is a setting of the double-write patch, but the mode runs on the stock build",
                    ));
                }
            }
        }
        let r = &self.run;
        if r.modes.is_empty() {
            return Err(self.invalid("run.modes", "must name at least one mode"));
        }
        for m in &r.modes {
            if !self.modes.contains_key(m) {
                let known: Vec<&str> = self.modes.keys().map(String::as_str).collect();
                return Err(self.invalid(
                    "run.modes",
                    format!(
                        "names unknown mode `{m}` (defined: {}; define more under [modes.NAME])",
                        known.join(", ")
                    ),
                ));
            }
        }
        if let Some(dup) = first_duplicate(&r.modes) {
            return Err(self.invalid("run.modes", format!("lists `{dup}` twice")));
        }
        if r.workloads.is_empty() {
            return Err(self.invalid(
                "run.workloads",
                "must name at least one of read_write, write_only",
            ));
        }
        if let Some(dup) = first_duplicate(&r.workloads) {
            return Err(self.invalid("run.workloads", format!("lists `{dup}` twice")));
        }
        if r.clients.is_empty() || r.clients.contains(&0) {
            return Err(self.invalid("run.clients", "must list client counts of at least 1"));
        }
        if let Some(dup) = first_duplicate(&r.clients) {
            return Err(self.invalid("run.clients", format!("lists `{dup}` twice")));
        }
        if r.repeats == 0 {
            return Err(self.invalid("run.repeats", "must be at least 1"));
        }
        if r.duration_secs == 0 {
            return Err(self.invalid("run.duration_secs", "must be at least 1"));
        }
        if let Some(SettingValue::Integer(n)) = self.server.get("max_connections") {
            let needed = i64::from(self.max_clients()) + RESERVED_CONNECTIONS;
            if *n < needed {
                return Err(self.invalid(
                    "server.max_connections",
                    format!("is {n}, but the matrix needs {needed} ({} clients + {RESERVED_CONNECTIONS} for the tool)", self.max_clients()),
                ));
            }
        }
        Ok(())
    }

    /// Whether `mode` is the baseline every ratio is relative to.
    pub fn is_baseline(mode: &str) -> bool {
        mode == BASELINE_MODE
    }
}

/// Connections the tool needs besides the clients (statistics, checks, superuser reserve).
pub const RESERVED_CONNECTIONS: i64 = 10;

fn first_duplicate<T: PartialEq + std::fmt::Display>(items: &[T]) -> Option<String> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| x.to_string())
}

/// Names of the profiles built into the binary.
pub fn builtin_profile_names() -> Vec<&'static str> {
    BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect()
}

fn read_profile_text(name_or_path: &str) -> Result<(String, String, String), ProfileError> {
    let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
    let candidates: Vec<PathBuf> = if looks_like_path {
        vec![PathBuf::from(name_or_path)]
    } else {
        vec![Path::new("profiles").join(format!("{name_or_path}.toml"))]
    };
    for path in &candidates {
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| name_or_path.to_string());
            return Ok((name, path.display().to_string(), text));
        }
    }
    if !looks_like_path {
        if let Some((name, text)) = BUILTIN_PROFILES.iter().find(|(n, _)| *n == name_or_path) {
            return Ok((
                name.to_string(),
                format!("built-in {name}"),
                text.to_string(),
            ));
        }
    }
    Err(ProfileError::NotFound {
        name: name_or_path.to_string(),
        searched: candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        available: builtin_profile_names().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, ProfileError> {
        PartialProfile::from_toml(text, "test.toml")?.to_complete("test", "test.toml")
    }

    #[test]
    fn builtin_profiles_parse_and_validate() {
        for name in builtin_profile_names() {
            let (_, origin, text) = read_profile_text(name).unwrap();
            PartialProfile::from_toml(&text, &origin)
                .unwrap()
                .to_complete(name, &origin)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn article_profile_is_the_published_experiment() {
        let (_, origin, text) = read_profile_text("article").unwrap();
        let p = PartialProfile::from_toml(&text, &origin)
            .unwrap()
            .to_complete("article", &origin)
            .unwrap();
        assert_eq!((p.data.tables, p.data.table_size), (10, 10_000_000));
        assert_eq!(p.run.clients, vec![32, 64, 128]);
        assert_eq!((p.run.warmup_secs, p.run.duration_secs), (60, 300));
        assert_eq!(p.run.workloads, Workload::ALL.to_vec());
        assert_eq!(p.run.modes, vec!["fpw_off", "fpw_on", "dwb_on"]);
        for (k, v) in [
            ("shared_buffers", "4GB"),
            ("wal_buffers", "64MB"),
            ("maintenance_work_mem", "2GB"),
            ("checkpoint_timeout", "30s"),
        ] {
            assert_eq!(p.server[k], SettingValue::Text(v.into()), "{k}");
        }
        assert_eq!(p.server["synchronous_commit"], SettingValue::Bool(true));
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let err = parse("[data]\ntabels = 3\n").unwrap_err().to_string();
        assert!(err.contains("test.toml"), "{err}");
        assert!(err.contains("tabels"), "{err}");
        assert!(
            err.contains("table_size"),
            "{err}: should list what is allowed"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let err = parse("[run]\nclients = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("clients"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key() {
        let cases = [
            ("[data]\ntables = 0\n", "data.tables"),
            ("[run]\nclients = []\n", "run.clients"),
            ("[run]\nmodes = [\"fpw_of\"]\n", "run.modes"),
            (
                "[run]\nworkloads = [\"write_only\", \"write_only\"]\n",
                "run.workloads",
            ),
            ("[run]\nrepeats = 0\n", "run.repeats"),
            ("[server]\nmax_connections = 20\n", "server.max_connections"),
            ("[host]\nmemory_limit = \"2GiB\"\n", "host.memory_limit"),
            ("[host]\nmemory_limit = \"64MB\"\n", "host.memory_limit"),
            (
                "[build]\nconfigure_flags = [\"--prefix=/x\"]\n",
                "build.configure_flags",
            ),
            (
                "[modes.dwb_stock]\nbuild = \"stock\"\nsettings = { double_write = true }\n",
                "modes.dwb_stock.settings.double_write",
            ),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
    }

    #[test]
    fn stock_modes_are_listed_in_matrix_order() {
        let p = parse(
            "[modes.on_stock]\nbuild = \"stock\"\nsettings = { full_page_writes = true }\n\
             [modes.off_stock]\nbuild = \"stock\"\nsettings = { full_page_writes = false }\n\
             [run]\nmodes = [\"off_stock\", \"fpw_off\", \"on_stock\"]\n",
        )
        .unwrap();
        assert_eq!(p.stock_modes(), vec!["off_stock", "on_stock"]);
        assert!(parse("").unwrap().stock_modes().is_empty());
    }

    #[test]
    fn overrides_win_and_tables_merge() {
        let base = PartialProfile::from_toml(
            "[server]\nshared_buffers = \"1GB\"\nwal_buffers = \"64MB\"\n[run]\nclients = [32]\n",
            "base",
        )
        .unwrap();
        let over = PartialProfile {
            server: Some([("shared_buffers".to_string(), SettingValue::from("2GB"))].into()),
            run: Some(PartialRun {
                duration_secs: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = base.merged_with(over).to_complete("t", "t").unwrap();
        assert_eq!(p.server["shared_buffers"], SettingValue::from("2GB"));
        assert_eq!(p.server["wal_buffers"], SettingValue::from("64MB"));
        assert_eq!(p.run.clients, vec![32]);
        assert_eq!(p.run.duration_secs, 5);
    }

    #[test]
    fn a_complete_profile_survives_a_json_round_trip() {
        // run.json stores the profile; a resumed run reads it back.
        let p = parse("[modes.fpw_lz4]\nsettings = { wal_compression = \"lz4\" }\n").unwrap();
        let back: Profile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn profile_defined_modes_join_the_builtin_ones() {
        let p = parse(
            "[modes.fpw_lz4]\ndescription = \"x\"\nsettings = { full_page_writes = true, wal_compression = \"lz4\" }\n\
             [run]\nmodes = [\"fpw_off\", \"fpw_lz4\"]\n",
        )
        .unwrap();
        assert_eq!(p.modes.len(), 4);
        assert_eq!(p.modes["fpw_lz4"].name, "fpw_lz4");
        assert_eq!(p.selected_modes().count(), 2);
    }
}
