//! `vrrp_track_process`: counting the running processes that match, by reading /proc.
//!
//! keepalived learns of forks, execs, renames and exits from the kernel's process events
//! connector (netlink, CAP_NET_ADMIN, one message per event on the whole host). vrrpd reads
//! /proc every [`POLL`] instead: the same count of the same processes (matched on
//! /proc/PID/comm, or the command line with `full_command` or parameters; zombies not
//! counted), without a multicast subscription to every fork of the host, at the price of up
//! to [`POLL`] of delay. The quorum, with its `fork_delay` and `terminate_delay`, is
//! [`crate::track::Quorum`]; the delay of a gain applies to every gain (keepalived applies it
//! to a fork, not to an exec).

use std::time::Duration;

use crate::{
    config::{ParamMatch, TrackProcess},
    controller::Input,
    track::Quorum,
};

/// How often /proc is read.
pub const POLL: Duration = Duration::from_millis(200);

/// Whether process `comm` (/proc/PID/comm) with command line `cmdline` (/proc/PID/cmdline,
/// NUL-separated) is one `p` counts (keepalived's `check_process` and `check_params`).
pub fn matches(p: &TrackProcess, comm: &str, cmdline: &[u8]) -> bool {
    if !p.full_command {
        return comm == p.process;
    }
    let (name, params) = match cmdline.iter().position(|&b| b == 0) {
        Some(i) => (&cmdline[..i], &cmdline[i + 1..]),
        None => (cmdline, &cmdline[cmdline.len()..]),
    };
    if name != p.process.as_bytes() {
        return false;
    }
    let wanted: Vec<u8> = p
        .params
        .iter()
        .flat_map(|a| a.bytes().chain(std::iter::once(0)))
        .collect();
    match p.param_match {
        ParamMatch::None => true,
        ParamMatch::Exact => params == wanted.as_slice(),
        ParamMatch::Partial => params.starts_with(&wanted),
        ParamMatch::Initial => wanted.is_empty() || params.starts_with(&wanted[..wanted.len() - 1]),
    }
}

/// How many running processes each of `procs` counts now (in their order).
pub fn count(procs: &[TrackProcess]) -> Vec<usize> {
    let mut counts = vec![0; procs.len()];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return counts;
    };
    let need_cmdline = procs.iter().any(|p| p.full_command);
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // "PID (comm) S ...": the name between the first '(' and the last ')', then the state.
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (
            stat.iter().position(|&b| b == b'('),
            stat.iter().rposition(|&b| b == b')'),
        ) else {
            continue;
        };
        if open >= close || stat.get(close + 2) == Some(&b'Z') {
            continue;
        }
        let comm = String::from_utf8_lossy(&stat[open + 1..close]);
        let cmdline = if need_cmdline {
            std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
        } else {
            Vec::new()
        };
        for (n, p) in procs.iter().enumerate() {
            if matches(p, &comm, &cmdline) {
                counts[n] += 1;
            }
        }
    }
    counts
}

/// Whether each of `procs` has its quorum now (at start and on reload, without delays).
pub fn initial(procs: &[TrackProcess]) -> Vec<(String, bool)> {
    let counts = count(procs);
    procs
        .iter()
        .zip(counts)
        .map(|(p, c)| (p.name.clone(), Quorum::in_quorum(c, p.quorum, p.quorum_max)))
        .collect()
}

/// Reads /proc every [`POLL`] and sends each quorum gained or lost (after its delays) to
/// `tx`, until the receiver is gone.
pub async fn run(procs: Vec<TrackProcess>, tx: tokio::sync::mpsc::Sender<Input>) {
    if procs.is_empty() {
        return;
    }
    let first = {
        let p = procs.clone();
        tokio::task::spawn_blocking(move || count(&p))
            .await
            .unwrap_or_default()
    };
    let mut states: Vec<Quorum> = procs
        .iter()
        .zip(first.iter().chain(std::iter::repeat(&0)))
        .map(|(p, &c)| Quorum::new(Quorum::in_quorum(c, p.quorum, p.quorum_max)))
        .collect();
    // The controller's view starts from `initial`, read just before: say where this one
    // starts so that the two agree.
    for (p, q) in procs.iter().zip(&states) {
        let input = Input::Process {
            name: p.name.clone(),
            up: q.up,
        };
        if tx.send(input).await.is_err() {
            return;
        }
    }
    let start = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let p = procs.clone();
        let Ok(counts) = tokio::task::spawn_blocking(move || count(&p)).await else {
            continue;
        };
        let now = start.elapsed().as_nanos() as u64;
        for ((p, q), c) in procs.iter().zip(states.iter_mut()).zip(counts) {
            let in_quorum = Quorum::in_quorum(c, p.quorum, p.quorum_max);
            let changed = q.observe(
                now,
                in_quorum,
                p.fork_delay_us * 1000,
                p.terminate_delay_us * 1000,
            );
            if let Some(up) = changed {
                let input = Input::Process {
                    name: p.name.clone(),
                    up,
                };
                if tx.send(input).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_(process: &str, params: &[&str], m: ParamMatch, full: bool) -> TrackProcess {
        TrackProcess {
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: m,
            full_command: full,
            ..TrackProcess::new("p", process)
        }
    }

    #[test]
    fn matching_as_keepalived_does() {
        // By comm, exactly (not pgrep's regular expression).
        let p = proc_("sshd", &[], ParamMatch::None, false);
        assert!(matches(&p, "sshd", b""));
        assert!(!matches(&p, "sshd2", b""));
        assert!(!matches(
            &proc_("ssh", &[], ParamMatch::None, false),
            "sshd",
            b""
        ));
        // full_command: the command line's first word.
        let p = proc_("/usr/sbin/haproxy", &[], ParamMatch::None, true);
        assert!(matches(&p, "haproxy", b"/usr/sbin/haproxy\0-f\0x.cfg\0"));
        assert!(!matches(&p, "haproxy", b"haproxy\0-f\0x.cfg\0"));
        // Exact parameters, and exactly none.
        let p = proc_("sleep", &["100"], ParamMatch::Exact, true);
        assert!(matches(&p, "sleep", b"sleep\x00100\0"));
        assert!(!matches(&p, "sleep", b"sleep\x00100\0x\0"));
        assert!(!matches(&p, "sleep", b"sleep\x001000\0"));
        let none = proc_("sleep", &[], ParamMatch::Exact, true);
        assert!(matches(&none, "sleep", b"sleep\0"));
        assert!(!matches(&none, "sleep", b"sleep\x00100\0"));
        // Partial: the first parameters, whole.
        let p = proc_("sleep", &["100"], ParamMatch::Partial, true);
        assert!(matches(&p, "sleep", b"sleep\x00100\0x\0"));
        assert!(!matches(&p, "sleep", b"sleep\x001000\0"));
        // Initial: the last may be the start of the process's.
        let p = proc_("sleep", &["10"], ParamMatch::Initial, true);
        assert!(matches(&p, "sleep", b"sleep\x001000\0"));
        assert!(!matches(&p, "sleep", b"sleep\x00200\0"));
    }
}
