//! Configuration: one model, two front ends (keepalived.conf and TOML).
//!
//! * [`model`]: what the daemon runs, resolved (defaults applied, keepalived's fix-ups done).
//! * [`keepalived`]: the keepalived.conf subset users run, with its lexical quirks.
//! * [`toml`]: our native format, serde on the same model (`vrrpd convert` writes it).
//! * [`validate`]: checks shared by both (duplicate VRIDs, families, ranges, keepalived's
//!   warn-and-fix-up rules).
//! * [`diagnostics`]: warnings and errors with file:line:column.
//!
//! [`load`] picks the front end from the file's content.

pub mod diagnostics;
pub mod keepalived;
pub mod model;
pub mod toml;
pub mod validate;

use std::path::Path;

pub use diagnostics::{Category, ConfigError, Diagnostic, Loaded, Location, Severity};
pub use model::{
    Auth, Config, Family, FileInit, Garp, Global, InitialState, Instance, Notify, NotifyCommand,
    ParamMatch, Prefix, Route, RouteType, Rule, RuleAction, Scope, Script, SourceLoc, SyncGroup,
    TrackFile, TrackInterface, TrackProcess, TrackScript, TrackedFile, TrackedProcess, V3Checksum,
    Version, Vip,
};

/// The two configuration formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// keepalived.conf.
    Keepalived,
    /// Our TOML.
    Toml,
}

/// Guess the format from the content: TOML has `[table]` headers or `key = value` lines before
/// anything else; keepalived.conf has `keyword … {` blocks and never a bare `=` after the first
/// word (its `$NAME=value` definitions start with `$`).
pub fn detect(text: &str) -> Format {
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('!') {
            continue;
        }
        if l.starts_with('[') {
            return Format::Toml;
        }
        if let Some((key, _)) = l.split_once('=') {
            let key = key.trim().trim_matches('"');
            if !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Format::Toml;
            }
        }
        return Format::Keepalived;
    }
    Format::Keepalived
}

/// How a configuration is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// keepalived's config id (`-i`/`--config-id`): lines `@ID …` are kept when ID is this,
    /// `@^ID …` when it is not. Default: [`config_id`].
    pub config_id: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            config_id: Some(config_id()),
        }
    }
}

static CONFIG_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the process's config id once (`vrrpd run -i ID`), so that every later [`load`] (a
/// SIGHUP reload too) reads `@ID` lines as the first one did. Returns false if already set.
pub fn set_config_id(id: String) -> bool {
    CONFIG_ID.set(id).is_ok()
}

/// The config id: as set by [`set_config_id`], else as keepalived defaults it, the host name up
/// to its first dot.
pub fn config_id() -> String {
    if let Some(id) = CONFIG_ID.get() {
        return id.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    host.split('.').next().unwrap_or(host).to_string()
}

/// Load a configuration file in either format (detected from its content), following
/// keepalived `include`s relative to the file, with the default [`LoadOptions`].
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with options.
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match detect(&text) {
        Format::Toml => toml::parse_str(&path.display().to_string(), &text),
        Format::Keepalived => keepalived::parse_text_at(path, &text, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect("! comment\nglobal_defs {\n}"), Format::Keepalived);
        assert_eq!(detect("vrrp_instance VI_1 {"), Format::Keepalived);
        assert_eq!(detect("# c\n[global]\n"), Format::Toml);
        assert_eq!(detect("[[instance]]\nname = \"x\""), Format::Toml);
        assert_eq!(detect("version = 1\n"), Format::Toml);
        assert_eq!(detect("$IF=eth0\n"), Format::Keepalived);
        assert_eq!(detect(""), Format::Keepalived);
    }
}
