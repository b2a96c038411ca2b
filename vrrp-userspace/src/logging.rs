//! Logs for people: one line per state change, to stderr (env_logger) or to syslog with a
//! facility, as keepalived's `-S` does (`vrrpd run -S 0`, or `--syslog local0`). `-D`
//! (`--log-detail`, keepalived's flag) adds the debug lines and names the module of each line.
//!
//! Under systemd, stderr goes to the journal, which stamps every line itself: there the lines
//! carry their syslog severity (`<6>`) instead of a timestamp, so `journalctl -p warning` works.

use std::{os::unix::net::UnixDatagram, sync::Mutex};

use anyhow::{Context as _, Result, bail};

/// Where syslog listens unless told otherwise.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// A logger writing RFC 3164 lines to the syslog socket.
struct Syslog {
    socket: Mutex<UnixDatagram>,
    facility: u8,
    level: log::Level,
    detail: bool,
}

/// The syslog facility number of a name (`daemon`, `local0` … `local7`, `user`).
pub fn facility(name: &str) -> Option<u8> {
    Some(match name {
        "user" => 1,
        "daemon" => 3,
        "local0" | "0" => 16,
        "local1" | "1" => 17,
        "local2" | "2" => 18,
        "local3" | "3" => 19,
        "local4" | "4" => 20,
        "local5" | "5" => 21,
        "local6" | "6" => 22,
        "local7" | "7" => 23,
        _ => return None,
    })
}

impl log::Log for Syslog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        enabled(self.level, metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "<{}>vrrpd[{}]: {}{}",
            self.facility * 8 + severity(record.level()),
            std::process::id(),
            detail(self.detail, record),
            record.args()
        );
        if let Ok(socket) = self.socket.lock() {
            let _ = socket.send(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// The syslog severity of a log level.
fn severity(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Info and above from anyone; debug (with `-D`) only from vrrpd itself, not from the
/// libraries (aya's relocation details are not for operators).
fn enabled(level: log::Level, metadata: &log::Metadata<'_>) -> bool {
    metadata.level() <= log::Level::Info.min(level)
        || (metadata.level() <= level && ours(metadata.target()))
}

fn ours(target: &str) -> bool {
    target == "vrrpd" || target.starts_with("vrrpd::") || target.starts_with("vrrp_userspace")
}

/// With `-D`, the module a line comes from (`daemon: `), as keepalived's detailed log names
/// the part of the daemon speaking.
fn detail(detail: bool, record: &log::Record<'_>) -> String {
    if !detail {
        return String::new();
    }
    let part = match record.target() {
        // The binary's own lines (startup, the configuration dump).
        "vrrpd" => "main",
        t => t.strip_prefix("vrrp_userspace::").unwrap_or(t),
    };
    format!("{part}: ")
}

fn level(detail: bool) -> log::Level {
    if detail {
        log::Level::Debug
    } else {
        log::Level::Info
    }
}

/// Sends the log to syslog with the named facility (a name, or keepalived's `-S` number 0..7
/// for local0..local7) through `socket` ([`DEFAULT_SYSLOG_SOCKET`] normally).
pub fn init_syslog(facility_name: &str, socket_path: &std::path::Path, detail: bool) -> Result<()> {
    let Some(facility) = facility(facility_name) else {
        bail!(
            "unknown syslog facility {facility_name:?} (expected daemon, user, local0..local7 or \
             0..7 for local0..local7)"
        );
    };
    let socket = UnixDatagram::unbound().context("opening a datagram socket")?;
    socket.connect(socket_path).with_context(|| {
        format!(
            "connecting to {} (is a syslog daemon running?)",
            socket_path.display()
        )
    })?;
    let level = level(detail);
    log::set_boxed_logger(Box::new(Syslog {
        socket: Mutex::new(socket),
        facility,
        level,
        detail,
    }))
    .context("a logger is already set")?;
    log::set_max_level(level.to_level_filter());
    Ok(())
}

/// Sends the log to stderr: `RUST_LOG` if set, else info (and vrrpd's own debug lines with
/// `detail`). Under systemd
/// (`JOURNAL_STREAM` set) each line starts with its severity as `<N>` for the journal, which
/// adds the time itself; elsewhere with a timestamp in milliseconds (a failover at a 10 ms
/// interval is over within one second).
pub fn init_stderr(detail: bool) {
    let default = if detail {
        "info,vrrpd=debug,vrrp_userspace=debug"
    } else {
        "info"
    };
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default));
    builder.target(env_logger::Target::Stderr);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.format(move |f, record| {
            use std::io::Write as _;
            writeln!(
                f,
                "<{}>{}{}",
                severity(record.level()),
                self::detail(detail, record),
                record.args()
            )
        });
    } else {
        builder.format_timestamp_millis();
    }
    builder.init();
}
