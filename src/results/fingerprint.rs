//! The parts of a run's setup that change its results. A resumed run must match them; a differing profile
//! is refused with a list of what differs. The matrix lists (modes, workloads, clients, repeats, order) are
//! not part of it: changing them only adds or leaves out scenarios.

use crate::profile::host::HostSettings;
use crate::profile::mode::{Mode, ModeBuild};
use crate::profile::value::SettingValue;
use crate::profile::{DataSettings, Profile, RebuildStrategy};
use crate::workload::Distribution;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What makes two scenario results comparable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Data set.
    pub data: DataSettings,
    /// Server settings of every mode.
    pub server: BTreeMap<String, SettingValue>,
    /// Limits around each server (a memory cap); absent when none is set.
    #[serde(default, skip_serializing_if = "HostSettings::is_default")]
    pub host: HostSettings,
    /// The settings of each mode the profile knows.
    pub modes: BTreeMap<String, BTreeMap<String, SettingValue>>,
    /// Warm-up seconds.
    pub warmup_secs: u64,
    /// Measured seconds.
    pub duration_secs: u64,
    /// Id distribution.
    pub distribution: Distribution,
    /// Random seed.
    pub seed: u64,
    /// How databases are rebuilt.
    pub rebuild: RebuildStrategy,
    /// PostgreSQL version.
    pub postgres_version: String,
    /// The build: its patch hash and flags, or the `--pg-bin` directory.
    pub build: String,
    /// Version of the per-scenario procedure ([`PROCEDURE`]); absent in results made before version 2.
    #[serde(default)]
    pub procedure: Option<u32>,
    /// The profile's modes that run on the stock build (`build = "stock"`); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stock_modes: Vec<String>,
    /// The stock build those modes ran on, when the run needed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_build: Option<String>,
}

/// Fields compared only when both fingerprints have them: a run may gain its first stock mode later, and a
/// resumed run that selects no stock mode does not build the stock server.
const COMPARED_WHERE_BOTH_HAVE: &[&str] = &["stock_modes", "stock_build"];

/// The per-scenario procedure results are made with. 2: a CHECKPOINT and a file-system sync between the
/// fresh database and the warm-up, so no mode pays for writing back the copy of the previous one. 3: the
/// warm-up draws from a seed of its own, so the measured run no longer begins by replaying it.
pub const PROCEDURE: u32 = 3;

impl Fingerprint {
    /// The fingerprint of `profile` run on the build described by `build`.
    pub fn of(profile: &Profile, postgres_version: &str, build: &str) -> Fingerprint {
        Fingerprint {
            data: profile.data.clone(),
            server: profile.server.clone(),
            host: profile.host.clone(),
            modes: profile
                .modes
                .iter()
                .map(|(k, m): (&String, &Mode)| (k.clone(), m.settings.clone()))
                .collect(),
            warmup_secs: profile.run.warmup_secs,
            duration_secs: profile.run.duration_secs,
            distribution: profile.run.distribution,
            seed: profile.run.seed,
            rebuild: profile.run.rebuild,
            postgres_version: postgres_version.to_string(),
            build: build.to_string(),
            procedure: Some(PROCEDURE),
            stock_modes: profile
                .modes
                .values()
                .filter(|m| m.build == ModeBuild::Stock)
                .map(|m| m.name.clone())
                .collect(),
            stock_build: None,
        }
    }

    /// The same fingerprint, recording the stock build that the run's stock modes use.
    pub fn with_stock_build(mut self, stock_build: Option<String>) -> Fingerprint {
        self.stock_build = stock_build;
        self
    }

    /// What differs between a stored fingerprint (`self`) and `now`, one line per difference; modes are
    /// compared only where both know them.
    pub fn differences(&self, now: &Fingerprint) -> Vec<String> {
        let a = serde_json::to_value(self).unwrap_or_default();
        let b = serde_json::to_value(now).unwrap_or_default();
        let mut out = Vec::new();
        diff_values("", &a, &b, &mut out);
        out
    }
}

fn diff_values(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let only_common = path == "modes";
            let top = path.is_empty();
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => diff_values(&sub, va, vb, out),
                    _ if only_common => {}
                    _ if top && COMPARED_WHERE_BOTH_HAVE.contains(&k.as_str()) => {}
                    (va, vb) => out.push(format!("{sub}: was {}, now {}", show(va), show(vb))),
                }
            }
        }
        _ if a != b => out.push(format!("{path}: was {a}, now {b}")),
        _ => {}
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "unset".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile::from_test_toml(text)
    }

    #[test]
    fn matrix_changes_are_not_differences() {
        let a = Fingerprint::of(&profile("[run]\nclients = [32]\n"), "18.6", "b");
        let b = Fingerprint::of(
            &profile("[run]\nclients = [32, 64]\nmodes = [\"fpw_on\"]\n"),
            "18.6",
            "b",
        );
        assert!(a.differences(&b).is_empty());
    }

    #[test]
    fn a_stock_build_is_compared_only_when_both_runs_used_one() {
        let stock =
            "[modes.off_stock]\nbuild = \"stock\"\nsettings = { full_page_writes = false }\n";
        let plain = Fingerprint::of(&profile(""), "18.6", "b");
        let first =
            Fingerprint::of(&profile(stock), "18.6", "b").with_stock_build(Some("s1".into()));
        assert_eq!(first.stock_modes, vec!["off_stock"]);
        assert!(plain.differences(&first).is_empty());
        let resumed = Fingerprint::of(&profile(stock), "18.6", "b");
        assert!(first.differences(&resumed).is_empty());
        let rebuilt = resumed.with_stock_build(Some("s2".into()));
        let d = first.differences(&rebuilt);
        assert!(d.iter().any(|l| l.starts_with("stock_build")), "{d:?}");
    }

    #[test]
    fn result_changing_edits_are_named() {
        let a = Fingerprint::of(
            &profile("[server]\nshared_buffers = \"1GB\"\n"),
            "18.6",
            "b",
        );
        let b = Fingerprint::of(
            &profile("[server]\nshared_buffers = \"2GB\"\n[run]\nduration_secs = 5\n"),
            "18.6",
            "c",
        );
        let d = a.differences(&b);
        assert!(
            d.iter().any(|l| l.starts_with("server.shared_buffers")),
            "{d:?}"
        );
        assert!(d.iter().any(|l| l.starts_with("duration_secs")), "{d:?}");
        assert!(d.iter().any(|l| l.starts_with("build")), "{d:?}");
    }

    #[test]
    fn a_memory_cap_changes_results() {
        let plain = Fingerprint::of(&profile(""), "18.6", "b");
        let capped = Fingerprint::of(&profile("[host]\nmemory_limit = \"1GB\"\n"), "18.6", "b");
        let d = plain.differences(&capped);
        assert!(d.iter().any(|l| l.starts_with("host")), "{d:?}");
        assert!(plain
            .differences(&Fingerprint::of(&profile(""), "18.6", "b"))
            .is_empty());
    }

    #[test]
    fn results_of_an_older_procedure_do_not_match() {
        let now = Fingerprint::of(&profile(""), "18.6", "b");
        let mut stored = serde_json::to_value(&now).unwrap();
        stored.as_object_mut().unwrap().remove("procedure");
        let stored: Fingerprint = serde_json::from_value(stored).unwrap();
        let d = stored.differences(&now);
        assert_eq!(d, vec![format!("procedure: was null, now {PROCEDURE}")]);
    }
}
