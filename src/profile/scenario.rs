//! Scenarios: one cell of the matrix (mode x workload x clients x repeat), their order, and the `--only`
//! filter that picks some of them.

use super::{Order, Profile};
use crate::error::FilterError;
use crate::workload::Workload;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One measured run of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scenario {
    /// The torn-page mode's name.
    pub mode: String,
    /// The transaction mix.
    pub workload: Workload,
    /// Concurrent clients.
    pub clients: u32,
    /// 1-based repeat number.
    pub repeat: u32,
}

impl Scenario {
    /// A stable name, used for result and log files: `write_only-c128-dwb_on-r1`.
    pub fn id(&self) -> String {
        format!(
            "{}-c{}-{}-r{}",
            self.workload, self.clients, self.mode, self.repeat
        )
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mode={} workload={} clients={} repeat={}",
            self.mode, self.workload, self.clients, self.repeat
        )
    }
}

/// Expands a profile's matrix into scenarios in the profile's order.
pub fn expand(profile: &Profile) -> Vec<Scenario> {
    let r = &profile.run;
    let mut out = Vec::new();
    let mut push = |mode: &String, workload: Workload, clients: u32, repeat: u32| {
        out.push(Scenario {
            mode: mode.clone(),
            workload,
            clients,
            repeat,
        })
    };
    match r.order {
        Order::Interleaved => {
            let n = r.modes.len();
            for repeat in 1..=r.repeats {
                let mut cell = repeat as usize - 1;
                for &workload in &r.workloads {
                    for &clients in &r.clients {
                        // Rotate the modes by one place per cell and per repeat: over n repeats every mode
                        // runs first, second, ... once in every cell, so whatever the position costs (what
                        // the previous scenario left behind, the host's state) is shared evenly.
                        for i in 0..n {
                            push(&r.modes[(cell + i) % n], workload, clients, repeat);
                        }
                        cell += 1;
                    }
                }
            }
        }
        Order::Grouped => {
            for mode in &r.modes {
                for &workload in &r.workloads {
                    for &clients in &r.clients {
                        for repeat in 1..=r.repeats {
                            push(mode, workload, clients, repeat);
                        }
                    }
                }
            }
        }
    }
    out
}

/// A `--only` selection: for each key, the values allowed (an empty list allows every value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScenarioFilter {
    modes: Vec<String>,
    workloads: Vec<Workload>,
    clients: Vec<u32>,
    repeats: Vec<u32>,
}

impl ScenarioFilter {
    /// Parses `mode=dwb_on,fpw_on,workload=write_only,clients=128`: `key=value` starts a key, a bare value
    /// after a comma adds to the previous key. Keys: mode, workload, clients, repeat.
    pub fn parse(spec: &str) -> Result<ScenarioFilter, FilterError> {
        let err = |message: String| FilterError {
            spec: spec.to_string(),
            message,
        };
        let mut filter = ScenarioFilter::default();
        let mut key: Option<String> = None;
        for token in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let value = match token.split_once('=') {
                Some((k, v)) => {
                    key = Some(k.trim().to_string());
                    v.trim()
                }
                None => token,
            };
            let k = key
                .as_deref()
                .ok_or_else(|| err(format!("`{token}` comes before any key (write key=value)")))?;
            match k {
                "mode" | "modes" => filter.modes.push(value.to_string()),
                "workload" | "workloads" => filter.workloads.push(value.parse().map_err(err)?),
                "clients" => filter.clients.push(
                    value
                        .parse()
                        .map_err(|_| err(format!("clients `{value}` is not a number")))?,
                ),
                "repeat" | "repeats" => filter.repeats.push(
                    value
                        .parse()
                        .map_err(|_| err(format!("repeat `{value}` is not a number")))?,
                ),
                other => {
                    return Err(err(format!(
                        "unknown key `{other}` (allowed: mode, workload, clients, repeat)"
                    )))
                }
            }
        }
        if filter == ScenarioFilter::default() {
            return Err(err(
                "selects nothing (write e.g. mode=dwb_on,clients=128)".to_string()
            ));
        }
        Ok(filter)
    }

    /// Whether the scenario passes the filter.
    pub fn matches(&self, s: &Scenario) -> bool {
        (self.modes.is_empty() || self.modes.contains(&s.mode))
            && (self.workloads.is_empty() || self.workloads.contains(&s.workload))
            && (self.clients.is_empty() || self.clients.contains(&s.clients))
            && (self.repeats.is_empty() || self.repeats.contains(&s.repeat))
    }

    /// Checks that every value names something in the profile's matrix, so a typo does not silently
    /// select nothing.
    pub fn check_against(&self, profile: &Profile) -> Result<(), FilterError> {
        let err = |message: String| FilterError {
            spec: self.describe(),
            message,
        };
        let r = &profile.run;
        if let Some(m) = self.modes.iter().find(|m| !r.modes.contains(m)) {
            return Err(err(format!(
                "mode `{m}` is not in the profile's run.modes ({})",
                r.modes.join(", ")
            )));
        }
        if let Some(w) = self.workloads.iter().find(|w| !r.workloads.contains(w)) {
            return Err(err(format!(
                "workload `{w}` is not in the profile's run.workloads"
            )));
        }
        if let Some(c) = self.clients.iter().find(|c| !r.clients.contains(c)) {
            return Err(err(format!(
                "clients `{c}` is not in the profile's run.clients {:?}",
                r.clients
            )));
        }
        if let Some(n) = self.repeats.iter().find(|n| **n == 0 || **n > r.repeats) {
            return Err(err(format!("repeat `{n}` is outside 1..={}", r.repeats)));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        parts.extend(self.modes.iter().map(|m| format!("mode={m}")));
        parts.extend(self.workloads.iter().map(|w| format!("workload={w}")));
        parts.extend(self.clients.iter().map(|c| format!("clients={c}")));
        parts.extend(self.repeats.iter().map(|r| format!("repeat={r}")));
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> Profile {
        Profile::from_test_toml(extra)
    }

    #[test]
    fn article_shape_expands_to_eighteen_interleaved_scenarios() {
        let s = expand(&profile(""));
        assert_eq!(s.len(), 18);
        let first: Vec<&str> = s[..3].iter().map(|s| s.mode.as_str()).collect();
        assert_eq!(first, ["fpw_off", "fpw_on", "dwb_on"]);
        assert!(s[..3]
            .iter()
            .all(|x| x.clients == 32 && x.workload == Workload::ReadWrite));
        let ids: std::collections::HashSet<String> = s.iter().map(Scenario::id).collect();
        assert_eq!(ids.len(), 18, "ids are unique");
    }

    #[test]
    fn interleaved_order_puts_every_mode_in_every_position_over_repeats() {
        let s = expand(&profile("[run]\nrepeats = 3\n"));
        assert_eq!(s.len(), 54);
        for cell in s.chunks(3) {
            let modes: std::collections::HashSet<&str> =
                cell.iter().map(|x| x.mode.as_str()).collect();
            assert_eq!(modes.len(), 3, "each cell runs every mode once: {cell:?}");
        }
        let firsts = |workload: Workload, clients: u32| -> Vec<String> {
            s.chunks(3)
                .filter(|c| c[0].workload == workload && c[0].clients == clients)
                .map(|c| c[0].mode.clone())
                .collect()
        };
        let mut seen = firsts(Workload::WriteOnly, 128);
        seen.sort();
        assert_eq!(seen, ["dwb_on", "fpw_off", "fpw_on"]);
        let second_cell: Vec<&str> = s[3..6].iter().map(|x| x.mode.as_str()).collect();
        assert_eq!(second_cell, ["fpw_on", "dwb_on", "fpw_off"]);
    }

    #[test]
    fn grouped_order_keeps_a_mode_together() {
        let s = expand(&profile("[run]\norder = \"grouped\"\nrepeats = 2\n"));
        assert_eq!(s.len(), 36);
        assert!(s[..12].iter().all(|x| x.mode == "fpw_off"));
    }

    #[test]
    fn filter_accepts_lists_and_subsets() {
        let f =
            ScenarioFilter::parse("mode=dwb_on,fpw_on,workload=write_only,clients=128").unwrap();
        let p = profile("");
        f.check_against(&p).unwrap();
        let picked: Vec<Scenario> = expand(&p).into_iter().filter(|s| f.matches(s)).collect();
        assert_eq!(picked.len(), 2);
        assert!(picked
            .iter()
            .all(|s| s.clients == 128 && s.workload == Workload::WriteOnly));
    }

    #[test]
    fn filter_rejects_unknown_keys_and_values() {
        assert!(ScenarioFilter::parse("colour=red")
            .unwrap_err()
            .to_string()
            .contains("colour"));
        assert!(ScenarioFilter::parse("dwb_on").is_err());
        assert!(ScenarioFilter::parse("clients=many").is_err());
        let f = ScenarioFilter::parse("mode=dwb").unwrap();
        assert!(f
            .check_against(&profile(""))
            .unwrap_err()
            .to_string()
            .contains("dwb"));
    }
}
