//! The native format: TOML, serde-derived from the [model](super::model) itself.
//!
//! `vrrpd convert` writes it from a keepalived.conf; loading that output gives an equal model.
//! Tables: `[global]`, `[[instance]]` (with `[[instance.vip]]`, `[instance.garp]` …),
//! `[[script]]`, `[[sync_group]]`. Units are in the key names (`advert_interval_cs`,
//! `interval_ms`). Unlike keepalived.conf, a missing `priority` is 100 whatever the `state`;
//! `convert` always writes it. The same checks and fix-ups as for keepalived.conf run on the
//! result ([`super::validate`]).

use super::{
    diagnostics::{ConfigError, Loaded, Location, Sink},
    model::{Config, SourceLoc},
    validate,
};

/// Parse our TOML format. Errors carry file:line:column.
pub fn parse_str(file_name: &str, text: &str) -> Result<Loaded, ConfigError> {
    let mut sink = Sink::default();
    let mut config: Config = match ::toml::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            let loc = e.span().map(|span| {
                let (line, column) = line_col(text, span.start);
                Location {
                    file: file_name.to_string(),
                    line,
                    column: Some(column),
                }
            });
            sink.error(loc, e.message().trim().to_string());
            return sink.finish(Config::default());
        }
    };
    // Source lines: the n-th `[[instance]]` header belongs to the n-th instance, and so on.
    let headers = |name: &str| -> Vec<u32> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| {
                let l = l.split('#').next().unwrap_or("");
                l.split_whitespace().collect::<String>() == format!("[[{name}]]")
            })
            .map(|(i, _)| i as u32 + 1)
            .collect()
    };
    let at = |line: Option<&u32>| SourceLoc {
        file: file_name.to_string(),
        line: line.copied().unwrap_or(0),
    };
    let lines = headers("instance");
    for (i, inst) in config.instances.iter_mut().enumerate() {
        inst.source = at(lines.get(i));
    }
    let lines = headers("script");
    for (i, s) in config.scripts.iter_mut().enumerate() {
        s.source = at(lines.get(i));
    }
    let lines = headers("sync_group");
    for (i, g) in config.sync_groups.iter_mut().enumerate() {
        g.source = at(lines.get(i));
    }
    validate::validate(&mut config, &mut sink);
    validate::no_effect_in_model(&config, file_name, &mut sink);
    sink.finish(config)
}

/// Our TOML for a model.
pub fn to_string(config: &Config) -> String {
    match ::toml::to_string(config) {
        Ok(s) => s,
        // Every model serializes (no maps with non-string keys, no values after tables that
        // the serializer cannot reorder); keep the signature total anyway.
        Err(e) => format!("# vrrpd could not write this configuration as TOML: {e}\n"),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    (line, col)
}
