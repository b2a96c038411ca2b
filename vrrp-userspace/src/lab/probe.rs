//! The client's probe of a VIP, as the demo and the chaos harness run it: an ICMP (or ICMPv6)
//! echo request every [`PERIOD`], and a line in `ping -D`'s form for each reply
//! (`[SECONDS] 64 bytes from VIP: icmp_seq=N`, CLOCK_REALTIME), so that the longest gap
//! between replies is the outage a user would see.
//!
//! Why not iputils' `ping -i 0.005`: whenever its interval is under its 10 ms tick it spins (a
//! non-blocking `recvmsg` and `sched_yield` in a loop while no reply is due) and takes a whole
//! CPU from the daemons under test. The probe here sleeps: a thread sends on an absolute
//! schedule, the main thread blocks in `read` on a raw socket connected to the VIP.
//!
//! The probe runs in the client's namespace as the calling program itself, started again with
//! `--probe VIP` ([`args`]); that program calls [`run_if_asked`] first thing in `main`.

use std::{
    io::{Read as _, Write},
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::wire::checksum;

/// The time between two echo requests.
pub const PERIOD: Duration = Duration::from_millis(5);

/// The command line that runs the probe of `vip`: this program with `--probe VIP` (to run
/// inside the client's namespace, e.g. with [`super::Child::spawn_in`]).
pub fn args(vip: &str) -> Vec<String> {
    let exe = std::env::current_exe().expect("the running program's path");
    vec![
        exe.to_str().expect("a UTF-8 path").to_string(),
        "--probe".to_string(),
        vip.to_string(),
    ]
}

/// When this program was started as a probe (`PROGRAM --probe VIP`, see [`args`]): runs it,
/// its lines on stdout, and exits (only on an error: it runs until killed). Otherwise returns.
pub fn run_if_asked() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) != Some("--probe") {
        return;
    }
    let vip = argv.get(2).map(String::as_str).unwrap_or("");
    let Err(e) = run(vip, &mut std::io::stdout().lock());
    eprintln!("--probe {vip}: {e}");
    std::process::exit(1);
}

/// Probes `vip` until an error: an echo request every [`PERIOD`] on an absolute schedule (a
/// late wake-up does not stretch the next interval), and for each reply a line
/// `[SECONDS] 64 bytes from VIP: icmp_seq=N` written to `out` and flushed. Needs `CAP_NET_RAW`.
pub fn run(vip: &str, out: &mut impl Write) -> std::io::Result<std::convert::Infallible> {
    let addr: IpAddr = vip.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not an address: {vip}"),
        )
    })?;
    let v6 = addr.is_ipv6();
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol))?;
    // Connected: the kernel hands over only what comes from the VIP.
    socket.connect(&SocketAddr::new(addr, 0).into())?;
    let id = (std::process::id() & 0xffff) as u16;
    let sender = socket.try_clone()?;
    // Set when the probe returns (its `out` failed), to stop the sender too.
    let done = Arc::new(AtomicBool::new(false));
    let _stop = StopOnDrop(Arc::clone(&done));
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut sent: u32 = 0;
        while !done.load(Ordering::Relaxed) {
            // A refused send (no route or neighbour yet, during a failover) is a lost probe,
            // as ping's.
            let _ = sender.send(&echo_request(v6, id, sent as u16));
            sent = sent.wrapping_add(1);
            if let Some(wait) = (start + PERIOD * sent).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    });
    let mut buf = [0u8; 1500];
    loop {
        let Ok(n) = (&socket).read(&mut buf) else {
            continue;
        };
        if let Some(seq) = echo_reply(v6, id, &buf[..n]) {
            writeln!(out, "{}", reply_line(realtime(), vip, seq))?;
            out.flush()?;
        }
    }
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The line for a reply at `time` (realtime seconds), in `ping -D`'s form.
fn reply_line(time: f64, vip: &str, seq: u16) -> String {
    format!("[{time:.6}] 64 bytes from {vip}: icmp_seq={seq}")
}

/// The time of a probe's reply line (`[SECONDS] … bytes from …`), in realtime seconds; None
/// for any other line.
pub fn reply_time(line: &str) -> Option<f64> {
    if !line.contains(" bytes from ") {
        return None;
    }
    line.strip_prefix('[')?.split(']').next()?.parse().ok()
}

/// Now, in CLOCK_REALTIME seconds (the clock of the probe's lines).
pub fn realtime() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An echo request with identifier `id` and sequence number `seq`: ICMP type 8 with its
/// checksum, or ICMPv6 type 128 (whose checksum the kernel fills in).
pub(crate) fn echo_request(v6: bool, id: u16, seq: u16) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = if v6 { 128 } else { 8 };
    m[4..6].copy_from_slice(&id.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    m[8..16].copy_from_slice(b"vrrplab!");
    if !v6 {
        let sum = checksum::finish(checksum::sum(&m));
        m[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    m
}

/// The sequence number of `packet` if it is an echo reply to our identifier `id`. An IPv4 raw
/// socket hands over the IP header too; an ICMPv6 one only the message.
fn echo_reply(v6: bool, id: u16, packet: &[u8]) -> Option<u16> {
    let icmp = if v6 {
        packet
    } else {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    };
    let reply_type = if v6 { 129 } else { 0 };
    if icmp.len() < 8 || icmp[0] != reply_type || icmp[4..6] != id.to_be_bytes() {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_echo_request_checksums_to_zero() {
        let m = echo_request(false, 0x1234, 7);
        assert!(checksum::verifies(checksum::sum(&m)));
        assert_eq!((m[0], &m[4..8]), (8, &[0x12, 0x34, 0, 7][..]));
    }

    #[test]
    fn only_our_echo_replies_count() {
        // IPv4: a 20-byte header, then the reply.
        let mut v4 = vec![0x45u8; 1];
        v4.resize(20, 0);
        v4.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0, 9]);
        assert_eq!(echo_reply(false, 0x1234, &v4), Some(9));
        assert_eq!(echo_reply(false, 0x4321, &v4), None);
        v4[20] = 8;
        assert_eq!(
            echo_reply(false, 0x1234, &v4),
            None,
            "a request is no reply"
        );
        let v6 = [129u8, 0, 0, 0, 0x12, 0x34, 1, 0];
        assert_eq!(echo_reply(true, 0x1234, &v6), Some(256));
        assert_eq!(echo_reply(true, 0x1234, &v6[..7]), None);
    }

    #[test]
    fn reply_lines_read_back_as_their_times() {
        let line = reply_line(1764517081.123456, "2001:db8::56", 5);
        assert_eq!(
            line,
            "[1764517081.123456] 64 bytes from 2001:db8::56: icmp_seq=5"
        );
        assert_eq!(reply_time(&line), Some(1764517081.123456));
        assert_eq!(
            reply_time("--probe 192.0.2.3: Operation not permitted"),
            None
        );
    }

    /// Takes `lines` lines, then fails (which ends the probe).
    struct Lines {
        text: Vec<u8>,
        lines: usize,
    }

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.text.iter().filter(|&&b| b == b'\n').count() >= self.lines {
                return Err(std::io::Error::other("enough"));
            }
            self.text.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_probe_of_the_loopback_prints_its_replies() {
        if !crate::lab::privileged("the_probe_of_the_loopback_prints_its_replies") {
            return;
        }
        for vip in ["127.0.0.1", "::1"] {
            let mut out = Lines {
                text: Vec::new(),
                lines: 3,
            };
            let Err(e) = run(vip, &mut out);
            assert_eq!(e.to_string(), "enough");
            let text = String::from_utf8(out.text).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{text}");
            for (i, line) in lines.iter().enumerate() {
                assert!(reply_time(line).is_some(), "{line}");
                assert!(
                    line.ends_with(&format!(" 64 bytes from {vip}: icmp_seq={i}")),
                    "{text}"
                );
            }
        }
    }
}
