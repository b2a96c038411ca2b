//! systemd's service notifications (sd_notify(3)) for `Type=notify` and `WatchdogSec=`:
//! `READY=1` once every instance has started, `STATUS=` with a one-line summary whenever it
//! changes, `WATCHDOG=1` from the main loop, `STOPPING=1` on the way out.
//!
//! A notification is one datagram to the Unix socket named by `$NOTIFY_SOCKET` (a path, or an
//! abstract name when it starts with `@`). Without the variable (not started by systemd) every
//! call does nothing. Sending is best effort: a lost notification never stops the daemon.

use std::{
    os::unix::net::{SocketAddr, UnixDatagram},
    time::{Duration, Instant},
};

use crate::{fsm::State, units::Centis};

/// The notification socket and the watchdog interval the service manager asked for.
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    /// `WATCHDOG_USEC`, when the watchdog is meant for this process.
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    status: String,
    /// The counts `status` was written from (comparing them costs no string a wake-up).
    counts: Option<[usize; 4]>,
}

impl Notifier {
    /// From the environment systemd gives a service: `NOTIFY_SOCKET`, `WATCHDOG_USEC` and
    /// `WATCHDOG_PID`.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok();
        Self::new(
            var("NOTIFY_SOCKET").as_deref(),
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
        )
    }

    /// From the values of those variables. The watchdog is ignored when `WATCHDOG_PID` names
    /// another process (as sd_watchdog_enabled(3) does), and so is a socket that cannot be
    /// reached (logged once).
    pub fn new(
        notify_socket: Option<&str>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
    ) -> Self {
        let socket = notify_socket
            .filter(|s| !s.is_empty())
            .and_then(|name| match open(name) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::warn!("NOTIFY_SOCKET={name}: {e}; systemd will not hear from vrrpd");
                    None
                }
            });
        let ours = watchdog_pid.is_none_or(|p| p.parse() == Ok(std::process::id()));
        let watchdog = watchdog_usec
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && ours && socket.is_some())
            .map(Duration::from_micros);
        Notifier {
            socket,
            watchdog,
            last_ping: None,
            status: String::new(),
            counts: None,
        }
    }

    /// The watchdog interval, if systemd set one for this process.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// At most half the watchdog interval: the longest the main loop may sleep and still ping
    /// in time (an advert interval may be up to 255 s).
    pub fn cap(&self, sleep: Duration) -> Duration {
        self.watchdog.map_or(sleep, |w| sleep.min(w / 2))
    }

    /// Every instance has started: `READY=1` with the first status line.
    pub fn ready(&mut self, states: impl IntoIterator<Item = State>) {
        let counts = counts(states);
        self.counts = Some(counts);
        self.status = summary_of(counts);
        let msg = format!("READY=1\nSTATUS={}", self.status);
        self.send(&msg);
        self.last_ping = Some(Instant::now());
    }

    /// One turn of the main loop: `STATUS=` if the summary changed, and `WATCHDOG=1` when a
    /// quarter of the watchdog interval has passed since the last one (not a datagram for
    /// every advert at 10 ms intervals).
    /// Without a socket (not started by systemd) it does nothing: it runs at every wake-up.
    pub fn alive(&mut self, states: impl IntoIterator<Item = State>) {
        if self.socket.is_none() {
            return;
        }
        let counts = counts(states);
        let mut msg = String::new();
        if self.counts != Some(counts) {
            let status = summary_of(counts);
            msg = format!("STATUS={status}");
            self.counts = Some(counts);
            self.status = status;
        }
        if let Some(w) = self.watchdog {
            let now = Instant::now();
            if self
                .last_ping
                .is_none_or(|t| now.duration_since(t) >= w / 4)
            {
                self.last_ping = Some(now);
                if !msg.is_empty() {
                    msg.push('\n');
                }
                msg.push_str("WATCHDOG=1");
            }
        }
        if !msg.is_empty() {
            self.send(&msg);
        }
    }

    /// The daemon is shutting down: it answers for the VIPs until a new master advertises, at
    /// most a Master_Down_Interval (under four advert intervals) of the slowest instance, which
    /// may be longer than `TimeoutStopSec=` (intervals go up to 255 s): `EXTEND_TIMEOUT_USEC=`
    /// asks for that long and 5 s more, so the handover is not cut short by SIGKILL.
    pub fn stopping(&mut self, advert_intervals: impl IntoIterator<Item = Centis>) {
        let longest = advert_intervals
            .into_iter()
            .map(|c| u64::from(c.get()))
            .max()
            .unwrap_or(0);
        let usec = longest * 4 * 10_000 + 5_000_000;
        self.send(&format!(
            "STOPPING=1\nEXTEND_TIMEOUT_USEC={usec}\nSTATUS=stopping: handing over and removing VIPs"
        ));
    }

    fn send(&self, msg: &str) {
        if let Some((socket, addr)) = &self.socket
            && let Err(e) = socket.send_to_addr(msg.as_bytes(), addr)
        {
            log::debug!("notifying systemd: {e}");
        }
    }
}

fn open(name: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match name.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(abstract_name.as_bytes())?
        }
        None if name.starts_with('/') => SocketAddr::from_pathname(name)?,
        None => {
            return Err(std::io::Error::other(
                "neither a path nor an abstract name (@…)",
            ));
        }
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// One line for `systemctl status`: how many instances are in each state, e.g.
/// `2 instances: 1 MASTER, 1 BACKUP`.
pub fn summary(states: impl IntoIterator<Item = State>) -> String {
    summary_of(counts(states))
}

/// The order of the summary's counts.
const ORDER: [State; 4] = [
    State::Master,
    State::Backup,
    State::Fault,
    State::Initialize,
];

/// How many instances are in each state of [`ORDER`].
fn counts(states: impl IntoIterator<Item = State>) -> [usize; 4] {
    let mut counts = [0usize; 4];
    for s in states {
        if let Some(k) = ORDER.iter().position(|o| *o == s) {
            counts[k] += 1;
        }
    }
    counts
}

fn summary_of(counts: [usize; 4]) -> String {
    let order = ORDER;
    let total: usize = counts.iter().sum();
    let parts: Vec<String> = order
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    match total {
        0 => "no instances configured".to_string(),
        1 => format!("1 instance: {}", parts.join(", ")),
        n => format!("{n} instances: {}", parts.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UnixDatagram) -> Vec<String> {
        socket.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn summary_counts_states_in_a_fixed_order() {
        assert_eq!(summary([]), "no instances configured");
        assert_eq!(summary([State::Backup]), "1 instance: 1 BACKUP");
        assert_eq!(
            summary([State::Backup, State::Master, State::Fault, State::Master]),
            "4 instances: 2 MASTER, 1 BACKUP, 1 FAULT"
        );
    }

    #[test]
    fn ready_status_and_watchdog_reach_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("vrrpd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).unwrap();
        let pid = std::process::id().to_string();
        let mut n = Notifier::new(path.to_str(), Some("4000000"), Some(&pid));
        assert_eq!(n.watchdog(), Some(Duration::from_secs(4)));
        assert_eq!(n.cap(Duration::from_secs(255)), Duration::from_secs(2));
        n.ready([State::Backup, State::Backup]);
        // Same summary, ping just sent: nothing to say.
        n.alive([State::Backup, State::Backup]);
        n.alive([State::Master, State::Backup]);
        n.stopping([Centis(100), Centis(4000)]);
        assert_eq!(
            received(&systemd),
            [
                "READY=1\nSTATUS=2 instances: 2 BACKUP",
                "STATUS=2 instances: 1 MASTER, 1 BACKUP",
                "STOPPING=1\nEXTEND_TIMEOUT_USEC=165000000\nSTATUS=stopping: handing over and removing VIPs",
            ]
        );
        // Once a quarter of the interval has passed, the loop's next turn pings.
        n.last_ping = Some(Instant::now() - Duration::from_secs(1));
        n.alive([State::Master, State::Backup]);
        assert_eq!(received(&systemd), ["WATCHDOG=1"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn abstract_socket_names_start_with_at() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("vrrpd-notify-test-{}", std::process::id());
        let systemd =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let mut n = Notifier::new(Some(&format!("@{name}")), None, None);
        assert_eq!(n.watchdog(), None);
        n.ready([State::Master]);
        assert_eq!(received(&systemd), ["READY=1\nSTATUS=1 instance: 1 MASTER"]);
    }

    #[test]
    fn without_notify_socket_nothing_is_sent_and_no_watchdog() {
        let n = Notifier::new(None, Some("1000000"), None);
        assert_eq!(n.watchdog(), None);
        assert_eq!(
            n.cap(Duration::from_secs(3)),
            Duration::from_secs(3),
            "no watchdog, no cap"
        );
    }

    #[test]
    fn a_watchdog_meant_for_another_process_is_ignored() {
        let name = format!("vrrpd-notify-pid-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt as _;
        let _systemd =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let n = Notifier::new(Some(&format!("@{name}")), Some("1000000"), Some("1"));
        assert_eq!(n.watchdog(), None);
    }
}
