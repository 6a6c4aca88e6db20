//! Renders the server configuration of one mode: the tool's own settings (address, port, logging), then the
//! profile's `[server]` table, then the mode's settings, each layer winning over the one before.

use crate::profile::mode::{Mode, DOUBLE_WRITE_SETTING};
use crate::profile::value::SettingValue;
use crate::profile::RESERVED_CONNECTIONS;
use std::collections::BTreeMap;

/// The file the tool writes into a data directory; `postgresql.conf` includes it.
pub const CONFIG_FILE: &str = "tornbench.conf";

/// What one server start needs to know to render its settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// The profile's `[server]` settings.
    pub server: BTreeMap<String, SettingValue>,
    /// The torn-page mode.
    pub mode: Mode,
    /// Clients the load will open at most (sizes `max_connections` unless the profile sets it).
    pub max_clients: u32,
    /// Whether the build knows `double_write` (then modes that do not set it get an explicit `off`).
    pub build_has_double_write: bool,
    /// Extra settings for this start only (tests, crash tests); they win over everything.
    pub extra: BTreeMap<String, SettingValue>,
}

impl ServerConfig {
    /// The effective settings, in rendering order, with the layer each came from.
    pub fn settings(&self) -> Vec<(String, SettingValue, &'static str)> {
        let mut layered: BTreeMap<String, (SettingValue, &'static str)> = BTreeMap::new();
        let max_connections = (i64::from(self.max_clients) + RESERVED_CONNECTIONS).max(100);
        let tool: [(&str, SettingValue); 8] = [
            ("listen_addresses", "127.0.0.1".into()),
            ("port", SettingValue::Integer(i64::from(self.port))),
            ("unix_socket_directories", "".into()),
            ("max_connections", SettingValue::Integer(max_connections)),
            ("log_checkpoints", SettingValue::Bool(true)),
            ("log_line_prefix", "%m [%p] ".into()),
            ("lc_messages", "C".into()),
            // A crashed backend must end the server so the tool records the crash instead of measuring a
            // server that silently reinitialised.
            ("restart_after_crash", SettingValue::Bool(false)),
        ];
        for (k, v) in tool {
            layered.insert(k.to_string(), (v, "tool"));
        }
        if self.build_has_double_write {
            layered.insert(
                DOUBLE_WRITE_SETTING.to_string(),
                (SettingValue::Bool(false), "tool"),
            );
        }
        for (k, v) in &self.server {
            layered.insert(k.clone(), (v.clone(), "profile"));
        }
        for (k, v) in &self.mode.settings {
            layered.insert(k.clone(), (v.clone(), "mode"));
        }
        for (k, v) in &self.extra {
            layered.insert(k.clone(), (v.clone(), "extra"));
        }
        layered
            .into_iter()
            .map(|(k, (v, layer))| (k, v, layer))
            .collect()
    }

    /// The contents of [`CONFIG_FILE`].
    pub fn render(&self) -> String {
        let mut out = format!(
            "# Written by tornbench for mode {} ({}). Rewritten at every start; edits are lost.\n",
            self.mode.name, self.mode.description
        );
        let settings = self.settings();
        let width = settings.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        for (k, v, layer) in settings {
            out.push_str(&format!("{k:width$} = {:<24} # {layer}\n", v.to_conf()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::mode::builtin_modes;

    fn config(mode: &str, has_dw: bool) -> ServerConfig {
        ServerConfig {
            port: 54321,
            server: [
                ("shared_buffers".to_string(), SettingValue::from("4GB")),
                ("full_page_writes".to_string(), SettingValue::Bool(true)),
            ]
            .into(),
            mode: builtin_modes()[mode].clone(),
            max_clients: 128,
            build_has_double_write: has_dw,
            extra: BTreeMap::new(),
        }
    }

    fn value_of(text: &str, key: &str) -> String {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .filter(|r| r.trim_start().starts_with('='))
            })
            .map(|r| {
                r.trim_start()[1..]
                    .split('#')
                    .next()
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|| panic!("{key} missing in\n{text}"))
    }

    #[test]
    fn mode_settings_win_over_the_profile() {
        let text = config("fpw_off", false).render();
        assert_eq!(value_of(&text, "full_page_writes"), "off");
        assert_eq!(value_of(&text, "shared_buffers"), "'4GB'");
        assert_eq!(value_of(&text, "port"), "54321");
        assert_eq!(value_of(&text, "listen_addresses"), "'127.0.0.1'");
        assert_eq!(value_of(&text, "max_connections"), "138");
    }

    #[test]
    fn double_write_is_rendered_only_for_a_build_that_knows_it() {
        assert!(!config("fpw_on", false).render().contains("double_write"));
        assert_eq!(
            value_of(&config("fpw_on", true).render(), "double_write"),
            "off"
        );
        let dwb = config("dwb_on", true).render();
        assert_eq!(value_of(&dwb, "double_write"), "on");
        assert_eq!(value_of(&dwb, "full_page_writes"), "off");
    }

    #[test]
    fn extra_settings_win_over_everything() {
        let mut c = config("fpw_on", false);
        c.extra
            .insert("full_page_writes".into(), SettingValue::Bool(false));
        assert_eq!(value_of(&c.render(), "full_page_writes"), "off");
    }
}
