//! Diagnostics for people: every warning and error carries file, line and (where the front end
//! knows it) column, says what was found and what was expected, and prints cargo-style:
//! `error: lb01.conf:7:23: expected a number 1..255 after 'virtual_router_id', found 'abc'`.

use std::{fmt, path::PathBuf};

use super::model::{Config, SourceLoc};

/// A place in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// File name as given to the loader (or to `parse_str`).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters), when known.
    pub column: Option<u32>,
}

impl Location {
    /// A location with a column.
    pub fn new(file: &str, line: u32, column: u32) -> Self {
        Self {
            file: file.to_string(),
            line,
            column: Some(column),
        }
    }
}

impl From<&SourceLoc> for Location {
    fn from(s: &SourceLoc) -> Self {
        Self {
            file: s.file.clone(),
            line: s.line,
            column: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        Ok(())
    }
}

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The configuration loads; something was fixed up or ignored.
    Warning,
    /// The configuration is refused.
    Error,
}

/// What kind of warning (errors are all alike: refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// A keyword or block vrrpd does not know or does not implement, skipped. `--strict` makes
    /// these errors.
    Unsupported,
    /// Accepted and recorded, but vrrpd does not act on it (e-mail, process scheduling …).
    NoEffect,
    /// keepalived's own warn-and-fix-up behaviour, reproduced (truncated password, rounded
    /// interval, cleared `nopreempt` …), or a hint about keepalived compatibility.
    Fixup,
    /// A hard error.
    Invalid,
}

/// One message about a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// Kind of message.
    pub category: Category,
    /// Where, when it is about a place.
    pub location: Option<Location>,
    /// What was found and what was expected.
    pub message: String,
}

impl Diagnostic {
    /// The line, if any (for tests and tools).
    pub fn line(&self) -> Option<u32> {
        self.location.as_ref().map(|l| l.line)
    }

    /// The column, if any.
    pub fn column(&self) -> Option<u32> {
        self.location.as_ref().and_then(|l| l.column)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.severity {
            Severity::Warning => "warning: ",
            Severity::Error => "error: ",
        })?;
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A successfully loaded configuration and what was said about it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The model.
    pub config: Config,
    /// Warnings, in file order.
    pub warnings: Vec<Diagnostic>,
}

impl Loaded {
    /// `--strict`: unsupported or unknown keywords become errors.
    pub fn strict(self) -> Result<Loaded, ConfigError> {
        let (mut errors, warnings): (Vec<_>, Vec<_>) = self
            .warnings
            .into_iter()
            .partition(|w| w.category == Category::Unsupported);
        if errors.is_empty() {
            return Ok(Loaded {
                config: self.config,
                warnings,
            });
        }
        for e in &mut errors {
            e.severity = Severity::Error;
            e.message.push_str(" (--strict)");
        }
        Err(ConfigError::Invalid { errors, warnings })
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("error: cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration is wrong; every error found is listed.
    #[error("{}", list(errors))]
    Invalid {
        /// The errors (at least one).
        errors: Vec<Diagnostic>,
        /// Warnings found along the way.
        warnings: Vec<Diagnostic>,
    },
}

impl ConfigError {
    /// The errors (empty for I/O errors).
    pub fn errors(&self) -> &[Diagnostic] {
        match self {
            Self::Io { .. } => &[],
            Self::Invalid { errors, .. } => errors,
        }
    }

    /// The warnings found before the configuration was refused.
    pub fn warnings(&self) -> &[Diagnostic] {
        match self {
            Self::Io { .. } => &[],
            Self::Invalid { warnings, .. } => warnings,
        }
    }
}

fn list(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects diagnostics while a front end works.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) warnings: Vec<Diagnostic>,
    pub(crate) errors: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn warn(&mut self, loc: Option<Location>, category: Category, message: String) {
        self.warnings.push(Diagnostic {
            severity: Severity::Warning,
            category,
            location: loc,
            message,
        });
    }

    pub(crate) fn error(&mut self, loc: Option<Location>, message: String) {
        self.errors.push(Diagnostic {
            severity: Severity::Error,
            category: Category::Invalid,
            location: loc,
            message,
        });
    }

    pub(crate) fn finish(self, config: Config) -> Result<Loaded, ConfigError> {
        if self.errors.is_empty() {
            Ok(Loaded {
                config,
                warnings: self.warnings,
            })
        } else {
            Err(ConfigError::Invalid {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }
}
