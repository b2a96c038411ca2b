//! Logs for people: one line per state change, to stderr (env_logger) or to syslog with a
//! facility, as keepalived's `-S` does (`vrrpd run --syslog local0`).

use std::{os::unix::net::UnixDatagram, sync::Mutex};

use anyhow::{Context as _, Result, bail};

/// A logger writing RFC 3164 lines to /dev/log.
struct Syslog {
    socket: Mutex<UnixDatagram>,
    facility: u8,
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
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let severity = match record.level() {
            log::Level::Error => 3,
            log::Level::Warn => 4,
            log::Level::Info => 6,
            log::Level::Debug | log::Level::Trace => 7,
        };
        let line = format!(
            "<{}>vrrpd[{}]: {}",
            self.facility * 8 + severity,
            std::process::id(),
            record.args()
        );
        if let Ok(socket) = self.socket.lock() {
            let _ = socket.send(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// Sends the log to syslog with the named facility.
pub fn init_syslog(facility_name: &str) -> Result<()> {
    let Some(facility) = facility(facility_name) else {
        bail!(
            "unknown syslog facility {facility_name:?} (expected daemon, user or local0..local7)"
        );
    };
    let socket = UnixDatagram::unbound().context("opening a datagram socket")?;
    socket
        .connect("/dev/log")
        .context("connecting to /dev/log (is a syslog daemon running?)")?;
    log::set_boxed_logger(Box::new(Syslog {
        socket: Mutex::new(socket),
        facility,
    }))
    .context("a logger is already set")?;
    log::set_max_level(log::LevelFilter::Info);
    Ok(())
}
