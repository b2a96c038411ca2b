//! Instruments of the benchmark suites (`cargo xtask bench failover|flood|scale`): a capture of
//! what each host puts on the switch, a 5 ms ICMP prober, an ARP prober counting the MACs that
//! answer for an address, a flood generator, the CPU and memory
//! of a process tree, and the writer of `BENCHMARKS.md`'s tables.
//!
//! Timestamps are CLOCK_MONOTONIC nanoseconds ([`crate::dataplane::monotonic_ns`]) throughout,
//! so a failure injected by the bench and a frame seen by the capture are on one clock. Frames
//! and replies are stamped by the kernel when they arrive (SO_TIMESTAMPNS), not when a busy
//! machine gets round to running the thread that reads them.

use std::{
    net::Ipv4Addr,
    os::fd::AsRawFd as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow, bail};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use super::NetNs;
use crate::{
    dataplane::{Generator, monotonic_ns},
    wire::advert::parse_advert_frame,
};

/// Enters `ns` on the calling thread (network namespace only).
pub fn enter(ns: &str) -> Result<()> {
    let file = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("opening namespace {ns}"))?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering namespace {ns}"))
}

/// A background thread in a namespace, stopped and joined on drop.
struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(ns: &NetNs, f: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let name = ns.name.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let entered = enter(&name);
            let ok = entered.is_ok();
            let _ = ready_tx.send(entered);
            if ok {
                f(flag);
            }
        });
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the worker thread died"))??;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Makes the calling thread real-time (SCHED_FIFO, priority 10): a probe's sending thread
/// stands for a client on a host of its own, so that on this shared, busy machine it sends on
/// time instead of when the scheduler gets round to it (its late wake-ups were most of the
/// long gaps between replies; see [`Prober::lost`]). Best effort: the probe still runs without.
fn send_on_time() {
    if let Err(e) = real_time(10) {
        eprintln!("probe: no real-time priority ({e}); its sends may be late on a busy machine");
    }
}

/// What a host put on the wire, as the capture saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A valid VRRP advert.
    Advert {
        /// Its router.
        vrid: u8,
        /// Its priority (0: the master is leaving).
        priority: u8,
    },
    /// A gratuitous ARP (sender address = target address) for `ip`.
    Garp {
        /// The address announced.
        ip: Ipv4Addr,
    },
}

/// One frame seen leaving a host.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    /// When (monotonic ns).
    pub at: u64,
    /// What.
    pub frame: Frame,
}

/// Classic BPF for the capture sockets: frames a host sends (not those the bridge sends it, so
/// a flood towards the host costs the capture nothing), ARP or IPv4 protocol 112 only.
fn capture_filter() -> [SockFilter; 9] {
    const LD_W_ABS: u16 = 0x20;
    const LD_H_ABS: u16 = 0x28;
    const LD_B_ABS: u16 = 0x30;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    // SKF_AD_OFF + SKF_AD_PKTTYPE
    const PKTTYPE: u32 = 0xffff_f000 + 4;
    const PACKET_OUTGOING: u32 = 4;
    [
        SockFilter::new(LD_W_ABS, 0, 0, PKTTYPE),
        SockFilter::new(JEQ_K, 6, 0, PACKET_OUTGOING),
        SockFilter::new(LD_H_ABS, 0, 0, 12),
        SockFilter::new(JEQ_K, 3, 0, 0x0806),
        SockFilter::new(JEQ_K, 0, 3, 0x0800),
        SockFilter::new(LD_B_ABS, 0, 0, 23),
        SockFilter::new(JEQ_K, 0, 1, 112),
        SockFilter::new(RET_K, 0, 0, 0xffff),
        SockFilter::new(RET_K, 0, 0, 0),
    ]
}

fn classify(frame: &[u8]) -> Option<Frame> {
    if frame.get(12..14)? == [0x08, 0x06] {
        let arp = frame.get(14..42)?;
        let (sender, target) = (&arp[14..18], &arp[24..28]);
        return (sender == target).then(|| Frame::Garp {
            ip: Ipv4Addr::new(sender[0], sender[1], sender[2], sender[3]),
        });
    }
    let advert = parse_advert_frame(frame).ok()??;
    Some(Frame::Advert {
        vrid: advert.vrrp.vrid,
        priority: advert.vrrp.priority,
    })
}

/// A packet socket on one switch port, bound in the switch namespace, recording what the host
/// behind the port sends.
pub struct Capture {
    seen: Arc<Mutex<Vec<Seen>>>,
    _worker: Worker,
}

impl Capture {
    /// Starts capturing on `port` of the switch `sw`.
    pub fn start(sw: &NetNs, port: &str) -> Result<Self> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (sock_tx, sock_rx) = std::sync::mpsc::channel();
        let port_name = port.to_string();
        let record = seen.clone();
        let worker = Worker::spawn(sw, move |stop| {
            let socket = match open_capture(&port_name) {
                Ok(s) => {
                    let _ = sock_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = sock_tx.send(Err(e));
                    return;
                }
            };
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let Some((n, at)) = recv_stamped(&socket, &mut buf) else {
                    continue;
                };
                if let Some(frame) = classify(&buf[..n]) {
                    record
                        .lock()
                        .expect("capture lock")
                        .push(Seen { at, frame });
                }
            }
        })?;
        sock_rx
            .recv()
            .map_err(|_| anyhow!("the capture thread died"))??;
        Ok(Capture {
            seen,
            _worker: worker,
        })
    }

    /// Everything seen since `since`.
    pub fn since(&self, since: u64) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("capture lock")
            .iter()
            .filter(|s| s.at >= since)
            .copied()
            .collect()
    }

    /// Forgets what was seen before `before` (long runs).
    pub fn forget(&self, before: u64) {
        self.seen
            .lock()
            .expect("capture lock")
            .retain(|s| s.at >= before);
    }

    /// The newest advert with a non-zero priority for `vrid`, if any.
    pub fn last_advert(&self, vrid: u8) -> Option<u64> {
        self.seen
            .lock()
            .expect("capture lock")
            .iter()
            .rev()
            .find(|s| matches!(s.frame, Frame::Advert { vrid: v, priority } if v == vrid && priority > 0))
            .map(|s| s.at)
    }

    /// The first advert (non-zero priority) for `vrid` or GARP for `vip` after `since`.
    pub fn first_claim(&self, since: u64, vrid: u8, vip: Ipv4Addr) -> Option<u64> {
        self.since(since)
            .into_iter()
            .find(|s| match s.frame {
                Frame::Advert { vrid: v, priority } => v == vrid && priority > 0,
                Frame::Garp { ip } => ip == vip,
            })
            .map(|s| s.at)
    }

    /// The first priority-0 advert (a master leaving) for `vrid` in `[from, to)`, its time.
    pub fn priority_zero(&self, vrid: u8, from: u64, to: u64) -> Option<u64> {
        self.since(from)
            .into_iter()
            .filter(|s| s.at < to)
            .find(|s| matches!(s.frame, Frame::Advert { vrid: v, priority: 0 } if v == vrid))
            .map(|s| s.at)
    }

    /// Adverts with a non-zero priority for `vrid` in `[from, to)`, their times.
    pub fn adverts(&self, vrid: u8, from: u64, to: u64) -> Vec<u64> {
        self.since(from)
            .into_iter()
            .filter(|s| s.at < to)
            .filter(|s| matches!(s.frame, Frame::Advert { vrid: v, priority } if v == vrid && priority > 0))
            .map(|s| s.at)
            .collect()
    }
}

fn open_capture(port: &str) -> Result<Socket> {
    const ETH_P_ALL: u16 = 0x0003;
    let socket = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(ETH_P_ALL.to_be()))),
    )
    .context("opening a capture socket")?;
    socket
        .attach_filter(&capture_filter())
        .context("attaching the capture filter")?;
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .context("SO_RCVTIMEO")?;
    stamp_arrivals(&socket).context("SO_TIMESTAMPNS")?;
    bind_to(&socket, port).context("binding the capture")?;
    Ok(socket)
}

/// Binds a packet socket to interface `iface` (of the calling thread's namespace).
fn bind_to(socket: &Socket, iface: &str) -> Result<()> {
    let link = nix::ifaddrs::getifaddrs()
        .context("listing interfaces")?
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .ok_or_else(|| anyhow!("no link-layer address for {iface}"))?;
    nix::sys::socket::bind(socket.as_raw_fd(), &link).with_context(|| format!("to {iface}"))?;
    Ok(())
}

/// Asks the kernel to stamp each arrival on `socket` (read by [`recv_stamped`]).
fn stamp_arrivals(socket: &Socket) -> std::io::Result<()> {
    nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
        .map_err(std::io::Error::from)
}

/// Receives one frame or datagram into `buf`: its length and when the kernel received it, on
/// CLOCK_MONOTONIC (the kernel stamps on CLOCK_REALTIME; the stamp's age is taken from that
/// clock and subtracted from the monotonic now). None on timeout or error.
fn recv_stamped(socket: &Socket, buf: &mut [u8]) -> Option<(usize, u64)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .ok()?;
    let n = msg.bytes;
    let stamp = msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(t) => Some(t),
        _ => None,
    });
    let mono = monotonic_ns();
    let Some(t) = stamp else {
        return Some((n, mono));
    };
    let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME).ok()?;
    let ns = |sec: i64, nsec: i64| sec as i128 * 1_000_000_000 + nsec as i128;
    let age = (ns(real.tv_sec(), real.tv_nsec()) - ns(t.tv_sec(), t.tv_nsec())).max(0) as u64;
    Some((n, mono.saturating_sub(age)))
}

/// ICMP echo requests to one address every `every`, from a host; the replies' arrival times,
/// and each request's send time and whether it was answered, so that a gap between replies
/// the probe made itself (its sending thread woke late on a busy machine: no request was on
/// the wire) is told apart from requests that went unanswered ([`Prober::lost`]).
pub struct Prober {
    log: Mutex<EchoLog>,
    sent: Arc<AtomicU64>,
    _sender: Worker,
    _receiver: Worker,
}

/// What a [`Prober`]'s threads recorded. They hand it over through channels, never through
/// a lock a reader holds: the bench reading a trial's figures under such a lock (while the
/// next cell's probes ran on the busy machine) stalled the real-time sender behind it, and
/// its replies 66 ms apart with no request lost read as an outage.
struct EchoLog {
    /// Each request's send time, in sequence order.
    sends: std::sync::mpsc::Receiver<u64>,
    /// Each reply: the sequence number it answers and when it came.
    answers: std::sync::mpsc::Receiver<(u16, u64)>,
    /// Per request (by sequence, from 0): when it was handed to the kernel, and whether a
    /// reply came.
    requests: Vec<(u64, bool)>,
    /// The replies' arrivals, in the order they were read.
    replies: Vec<u64>,
}

impl EchoLog {
    /// What the threads recorded since the last call, taken in.
    fn drain(&mut self) -> &mut Self {
        // Requests first: every reply's request is then in.
        self.requests
            .extend(self.sends.try_iter().map(|t| (t, false)));
        for (seq, at) in self.answers.try_iter() {
            self.replies.push(at);
            // The newest request with this (16-bit) sequence number.
            if let Some(last) = self.requests.len().checked_sub(1) {
                let back = usize::from((last as u16).wrapping_sub(seq));
                if let Some(r) = last
                    .checked_sub(back)
                    .and_then(|i| self.requests.get_mut(i))
                {
                    r.1 = true;
                }
            }
        }
        self
    }
}

impl Prober {
    /// Starts probing `target` from `host` every `every`; `id` tells this prober's echoes apart.
    pub fn start(host: &NetNs, target: Ipv4Addr, every: Duration, id: u16) -> Result<Self> {
        let sent = Arc::new(AtomicU64::new(0));
        let (sends_tx, sends) = std::sync::mpsc::channel();
        let (answers_tx, answers) = std::sync::mpsc::channel();
        let (sock_tx, sock_rx) = std::sync::mpsc::channel();
        let receiver = {
            Worker::spawn(host, move |stop| {
                let socket = match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
                    .and_then(|s| {
                        s.set_read_timeout(Some(Duration::from_millis(50)))?;
                        stamp_arrivals(&s)?;
                        Ok(s)
                    }) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = sock_tx.send(Err(anyhow!("raw ICMP socket: {e}")));
                        return;
                    }
                };
                let _ = sock_tx.send(socket.try_clone().map_err(anyhow::Error::from));
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    let Some((n, at)) = recv_stamped(&socket, &mut buf) else {
                        continue;
                    };
                    let ihl = usize::from(buf[0] & 0x0f) * 4;
                    let reply = n >= ihl + 8
                        && buf[12..16] == target.octets()
                        && buf[ihl] == 0
                        && buf[ihl + 4..ihl + 6] == id.to_be_bytes();
                    if reply {
                        let seq = u16::from_be_bytes([buf[ihl + 6], buf[ihl + 7]]);
                        let _ = answers_tx.send((seq, at));
                    }
                }
            })?
        };
        let socket: Socket = sock_rx
            .recv()
            .map_err(|_| anyhow!("the prober thread died"))??;
        let sender = {
            let sent = sent.clone();
            Worker::spawn(host, move |stop| {
                send_on_time();
                let dest = std::net::SocketAddr::from((target, 0)).into();
                let start = monotonic_ns();
                let step = every.as_nanos() as u64;
                let mut count: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let echo = super::probe::echo_request(false, id, count as u16);
                    // Recorded before the send, so that a reply never comes before its request.
                    let _ = sends_tx.send(monotonic_ns());
                    if socket.send_to(&echo, &dest).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    count += 1;
                    // An absolute schedule: late wake-ups do not stretch the interval (and the
                    // count, unlike the 16-bit sequence number, never wraps back to the start).
                    let next = start + step * count;
                    let now = monotonic_ns();
                    if next > now {
                        std::thread::sleep(Duration::from_nanos(next - now));
                    }
                }
            })?
        };
        Ok(Prober {
            log: Mutex::new(EchoLog {
                sends,
                answers,
                requests: Vec::new(),
                replies: Vec::new(),
            }),
            sent,
            _sender: sender,
            _receiver: receiver,
        })
    }

    /// Requests sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Replies received so far.
    pub fn received(&self) -> u64 {
        self.log.lock().expect("prober lock").drain().replies.len() as u64
    }

    /// The requests sent in `[from, to]` and how many went unanswered (replies that came in
    /// until now count, whenever they arrived).
    pub fn lost(&self, from: u64, to: u64) -> EchoTally {
        let mut log = self.log.lock().expect("prober lock");
        let requests = &log.drain().requests;
        let mut tally = EchoTally::default();
        let mut run = 0;
        for &(_, answered) in requests.iter().filter(|&&(at, _)| at >= from && at <= to) {
            tally.sent += 1;
            if answered {
                run = 0;
            } else {
                tally.unanswered += 1;
                run += 1;
                tally.longest_run = tally.longest_run.max(run);
            }
        }
        tally
    }

    /// The longest a request sent in `[from, to]` waited for the service to answer: from its
    /// send to the first reply that came after it (to it or to a later request), or to `to`
    /// if none did. This is the client's outage as its requests see it: a run of unanswered
    /// requests waits from the first of them to the reply that ends the run, while a pause of
    /// the probe's own sender (its thread woke late on a busy machine: no request was on the
    /// wire) costs no request anything. [`Prober::longest_gap`], between replies, counts such
    /// a pause as an outage; each misses the truth by at most one probe period, in opposite
    /// directions when nothing pauses.
    pub fn longest_wait(&self, from: u64, to: u64) -> u64 {
        let mut log = self.log.lock().expect("prober lock");
        let log = log.drain();
        longest_wait(
            log.requests.iter().map(|&(sent, _)| sent),
            &log.replies,
            from,
            to,
        )
    }

    /// The longest time without a reply that overlaps `[from, to]`: from the last reply before
    /// `from` (or `from`) to the first reply after it, and so on up to `to`.
    pub fn longest_gap(&self, from: u64, to: u64) -> u64 {
        let (start, end) = self.longest_gap_span(from, to);
        end - start
    }

    /// Where [`Prober::longest_gap`] is: the reply before it (or `from`) and the one that ended
    /// it (or `to`).
    pub fn longest_gap_span(&self, from: u64, to: u64) -> (u64, u64) {
        let mut log = self.log.lock().expect("prober lock");
        let replies = &log.drain().replies;
        let mut last = replies
            .iter()
            .rev()
            .find(|&&t| t <= from)
            .copied()
            .unwrap_or(from);
        let mut longest = (last, last);
        // Stamps are taken from the kernel's CLOCK_REALTIME onto CLOCK_MONOTONIC, so two close
        // replies may come out a few µs out of order: never a negative gap.
        for &t in replies.iter().filter(|&&t| t > from && t <= to) {
            if t.saturating_sub(last) > longest.1 - longest.0 {
                longest = (last, t);
            }
            last = last.max(t);
        }
        if to.saturating_sub(last) > longest.1 - longest.0 {
            longest = (last, to);
        }
        longest
    }
}

/// [`Prober::longest_wait`] from the requests' send times and the replies' arrivals.
fn longest_wait(sent: impl Iterator<Item = u64>, replies: &[u64], from: u64, to: u64) -> u64 {
    // Only the replies from `from` on are copied (the probe's whole history was, each trial).
    let mut replies: Vec<u64> = replies.iter().copied().filter(|&t| t >= from).collect();
    replies.sort_unstable();
    sent.filter(|&s| s >= from && s <= to)
        .map(|s| {
            let next = replies.partition_point(|&t| t < s);
            replies
                .get(next)
                .map_or(to, |&t| t.min(to))
                .saturating_sub(s)
        })
        .max()
        .unwrap_or(0)
}

/// Echo requests of a [`Prober`] over a span of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoTally {
    /// Requests sent.
    pub sent: usize,
    /// Requests never answered.
    pub unanswered: usize,
    /// The most unanswered requests in a row.
    pub longest_run: usize,
}

/// One ARP reply the [`ArpProber`] received.
#[derive(Clone, Copy, Debug)]
pub struct ArpAnswer {
    /// The request it answers (its sequence number).
    pub seq: u32,
    /// The sender hardware address: the MAC the client would send to.
    pub mac: [u8; 6],
    /// Arrival, monotonic ns.
    pub at: u64,
}

/// ARP requests for one address every `every`, broadcast from a host's `eth0`, and every reply:
/// whether, at any moment, more than one MAC answers for the address. Each request comes from
/// its own locally administered MAC (`02:5e:ID:SEQ`), so a reply names the request it answers
/// (its target hardware address), and from `sender`, an address no host uses: a kernel that
/// learns the requester from the request learns nothing the client's own traffic depends on.
pub struct ArpProber {
    sent: Arc<Mutex<Vec<u64>>>,
    answers: Arc<Mutex<Vec<ArpAnswer>>>,
    _sender: Worker,
    _receiver: Worker,
}

/// Requests and answers of an [`ArpProber`] over a span of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArpTally {
    /// Requests sent.
    pub requests: usize,
    /// Requests answered at all.
    pub answered: usize,
    /// Requests answered by more than one MAC.
    pub two_macs: usize,
    /// Requests answered more than once (from the same MAC: two hosts answering from a VMAC).
    pub duplicates: usize,
    /// Distinct MACs that answered over the span.
    pub macs: usize,
}

impl ArpProber {
    /// Starts asking for `target` from `host` (as `sender`) every `every`; `id` tells this
    /// prober's requests apart from another's on the same host.
    pub fn start(
        host: &NetNs,
        target: Ipv4Addr,
        sender: Ipv4Addr,
        every: Duration,
        id: u8,
    ) -> Result<Self> {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (sock_tx, sock_rx) = std::sync::mpsc::channel();
        let receiver = {
            let answers = answers.clone();
            Worker::spawn(host, move |stop| {
                let socket = match open_arp("eth0") {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = sock_tx.send(Err(e));
                        return;
                    }
                };
                let _ = sock_tx.send(socket.try_clone().map_err(anyhow::Error::from));
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Some((n, at)) = recv_stamped(&socket, &mut buf) else {
                        continue;
                    };
                    let Some(arp) = buf[..n].get(14..42) else {
                        continue;
                    };
                    // A reply (op 2) from `target` to one of our requesters.
                    if buf[12..14] != [0x08, 0x06]
                        || arp[6..8] != [0, 2]
                        || arp[14..18] != target.octets()
                        || arp[18..21] != [0x02, 0x5e, id]
                    {
                        continue;
                    }
                    let seq = u32::from_be_bytes([0, arp[21], arp[22], arp[23]]);
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&arp[8..14]);
                    answers
                        .lock()
                        .expect("arp prober lock")
                        .push(ArpAnswer { seq, mac, at });
                }
            })?
        };
        let socket: Socket = sock_rx
            .recv()
            .map_err(|_| anyhow!("the ARP prober thread died"))??;
        let sender_worker = {
            let sent = sent.clone();
            Worker::spawn(host, move |stop| {
                send_on_time();
                let start = monotonic_ns();
                let step = every.as_nanos() as u64;
                let mut seq: u32 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let [_, a, b, c] = (seq & 0x00ff_ffff).to_be_bytes();
                    let mac = [0x02, 0x5e, id, a, b, c];
                    let request = crate::wire::arp::Repr {
                        op: crate::wire::arp::Operation::Request,
                        sha: mac,
                        spa: sender,
                        tha: [0; 6],
                        tpa: target,
                    }
                    .frame([0xff; 6], mac);
                    let at = monotonic_ns();
                    if socket.send(&request).is_ok() {
                        sent.lock().expect("arp prober lock").push(at);
                    } else {
                        // Keep sequence numbers and send times in step.
                        sent.lock().expect("arp prober lock").push(u64::MAX);
                    }
                    seq += 1;
                    let next = start + step * u64::from(seq);
                    let now = monotonic_ns();
                    if next > now {
                        std::thread::sleep(Duration::from_nanos(next - now));
                    }
                }
            })?
        };
        Ok(ArpProber {
            sent,
            answers,
            _sender: sender_worker,
            _receiver: receiver,
        })
    }

    /// The requests sent in `[from, to]` and how they were answered (answers that came in
    /// until now count, whenever they arrived).
    pub fn tally(&self, from: u64, to: u64) -> ArpTally {
        let sent = self.sent.lock().expect("arp prober lock");
        let answers = self.answers.lock().expect("arp prober lock");
        let in_span: Vec<u32> = sent
            .iter()
            .enumerate()
            .filter(|&(_, &t)| t >= from && t <= to)
            .map(|(i, _)| (i as u32) & 0x00ff_ffff)
            .collect();
        let mut tally = ArpTally {
            requests: in_span.len(),
            ..ArpTally::default()
        };
        let mut by_seq: std::collections::HashMap<u32, Vec<[u8; 6]>> =
            in_span.iter().map(|&seq| (seq, Vec::new())).collect();
        for a in answers.iter() {
            if let Some(macs) = by_seq.get_mut(&a.seq) {
                macs.push(a.mac);
            }
        }
        let mut all_macs: Vec<[u8; 6]> = Vec::new();
        for mut macs in by_seq.into_values() {
            let replies = macs.len();
            macs.sort();
            macs.dedup();
            tally.answered += usize::from(replies > 0);
            tally.two_macs += usize::from(macs.len() > 1);
            tally.duplicates += usize::from(replies > macs.len());
            all_macs.extend(macs);
        }
        all_macs.sort();
        all_macs.dedup();
        tally.macs = all_macs.len();
        tally
    }
}

/// A packet socket for ARP on `iface` of the calling thread's namespace.
fn open_arp(iface: &str) -> Result<Socket> {
    const ETH_P_ARP: u16 = 0x0806;
    let socket = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
    )
    .context("opening an ARP socket")?;
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .context("SO_RCVTIMEO")?;
    stamp_arrivals(&socket).context("SO_TIMESTAMPNS")?;
    bind_to(&socket, iface).context("binding the ARP socket")?;
    Ok(socket)
}

/// Pins the calling thread to CPU `cpu`.
pub fn pin_to(cpu: usize) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).with_context(|| format!("no CPU {cpu}"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("pinning a thread to CPU {cpu}"))
}

/// A flood: frames sent round-robin out of a host's interface at a set rate, by the kernel
/// ([`Generator`]), until dropped.
pub struct Flood {
    sent: Arc<AtomicU64>,
    started: u64,
    _workers: Vec<Worker>,
}

impl Flood {
    /// Starts sending `frames` (in turn) from `host`'s `eth0` at `rate` frames a second, or as
    /// fast as the machine can with `rate` 0: then one sender per CPU, since the kernel does
    /// the receivers' work (bridge, veth, XDP) on the sending CPU.
    pub fn start(host: &NetNs, frames: Vec<Vec<u8>>, rate: u64) -> Result<Self> {
        let senders = if rate == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        };
        Self::spawn(host, frames, rate, vec![None; senders])
    }

    /// Starts sending `frames` (in turn) from `host`'s `eth0` as fast as one sender can, that
    /// sender pinned to CPU `cpu`: every packet is then received (bridge, veth, XDP) on that
    /// CPU, whatever the scheduler would have done with the sender.
    pub fn start_on(host: &NetNs, frames: Vec<Vec<u8>>, cpu: usize) -> Result<Self> {
        Self::spawn(host, frames, 0, vec![Some(cpu)])
    }

    /// One sender per entry of `cpus`, pinned to that CPU if it names one.
    fn spawn(
        host: &NetNs,
        frames: Vec<Vec<u8>>,
        rate: u64,
        cpus: Vec<Option<usize>>,
    ) -> Result<Self> {
        if frames.is_empty() {
            bail!("a flood needs at least one frame");
        }
        let sent = Arc::new(AtomicU64::new(0));
        let started = monotonic_ns();
        let mut workers = Vec::new();
        for cpu in cpus {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let count = sent.clone();
            let frames = frames.clone();
            workers.push(Worker::spawn(host, move |stop| {
                if let Some(cpu) = cpu
                    && let Err(e) = pin_to(cpu)
                {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                let generator = nix::net::if_::if_nametoindex("eth0")
                    .map_err(anyhow::Error::from)
                    .and_then(Generator::new);
                let mut generator = match generator {
                    Ok(g) => {
                        let _ = ready_tx.send(Ok(()));
                        g
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    // Each call sends a batch of one frame: what is due by now (at least
                    // one), or 4096 when unlimited.
                    let batch = if rate == 0 {
                        4096
                    } else {
                        let due =
                            u128::from(monotonic_ns() - started) * u128::from(rate) / 1_000_000_000;
                        let behind = due.saturating_sub(u128::from(count.load(Ordering::Relaxed)));
                        if behind == 0 {
                            let wait = 1_000_000_000 / rate.max(1);
                            std::thread::sleep(Duration::from_nanos(wait.min(1_000_000)));
                            continue;
                        }
                        (behind.min(4096) as u32).div_ceil(frames.len() as u32)
                    };
                    for frame in &frames {
                        if generator.send(frame, batch).is_ok() {
                            count.fetch_add(u64::from(batch), Ordering::Relaxed);
                        }
                    }
                }
            })?);
            ready_rx
                .recv()
                .map_err(|_| anyhow!("the generator thread died"))??;
        }
        Ok(Flood {
            sent,
            started,
            _workers: workers,
        })
    }

    /// Frames sent so far, and the rate since the start (frames a second).
    pub fn sent(&self) -> (u64, f64) {
        let n = self.sent.load(Ordering::Relaxed);
        let secs = (monotonic_ns() - self.started) as f64 / 1e9;
        (n, n as f64 / secs)
    }
}

/// The processes of a tree: `root` and its descendants.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// Fields of /proc/PID/stat after the command name: state, ppid, … (field 3 onwards).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// CPU time (user + system) of the processes `pids`, in seconds.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    pids.iter()
        .filter_map(|&p| stat_fields(p))
        .map(|f| {
            // utime and stime are fields 14 and 15, 12 and 13 after the name.
            let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            t(11) + t(12)
        })
        .sum::<f64>()
        / hz
}

/// Resident memory of the processes `pids`, in KiB.
pub fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

/// The `q` quantile (0..=1) of `values`, nearest rank; `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// The CPU time the machine's hypervisor has taken from this virtual machine since boot (steal,
/// all CPUs together), in ms: `/proc/stat`'s eighth column, in the kernel's clock ticks (10 ms
/// at the usual 100 a second). A stretch in which it grows is one in which every process here,
/// daemons and probes alike, could not run for that long, whatever their priority; 0 on a
/// machine that does not report it.
pub fn steal_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .and_then(|l| l.split_whitespace().nth(8))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    ticks as f64 * 1000.0 / clock_ticks_per_s()
}

/// The kernel's clock ticks a second as `/proc/stat` counts them (`sysconf(_SC_CLK_TCK)`).
#[expect(unsafe_code, reason = "sysconf(3) takes and returns plain integers")]
fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf reads a constant of the C library.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// The host's name, kernel, CPU count and the UTC date, for a table's heading line.
pub fn machine_line() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map_or("?".into(), |s| s.trim().to_string());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map_or("?".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    format!(
        "{} ({} CPUs, kernel {}), {date}",
        read("/proc/sys/kernel/hostname"),
        online_cpus(),
        read("/proc/sys/kernel/osrelease"),
    )
}

/// The machine's online CPUs (not this thread's affinity: a benchmark may be pinned to one).
fn online_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online").map_or(0, |list| {
        list.trim()
            .split(',')
            .map(|range| match range.split_once('-') {
                Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                    (Ok(a), Ok(b)) if b >= a => b - a + 1,
                    _ => 0,
                },
                None => usize::from(range.parse::<usize>().is_ok()),
            })
            .sum()
    })
}

/// The version keepalived reports.
pub fn keepalived_version() -> String {
    std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stderr).into_owned()
                + &String::from_utf8_lossy(&o.stdout);
            text.lines().next().map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "keepalived (version unknown)".into())
}

/// Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in the workspace's
/// BENCHMARKS.md.
pub fn write_section(name: &str, body: &str) -> Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).context("reading BENCHMARKS.md")?;
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let (Some(a), Some(b)) = (text.find(&begin), text.find(&end)) else {
        bail!("BENCHMARKS.md has no {begin} … {end} section");
    };
    let new = format!("{}{begin}\n{body}{}", &text[..a], &text[b..]);
    std::fs::write(&path, new).context("writing BENCHMARKS.md")?;
    println!("wrote the {name} section of {}", path.display());
    Ok(())
}

/// The wall clock (ms since midnight, UTC: the daemons' log stamps) and the monotonic clock
/// (ns), read together.
#[derive(Clone, Copy)]
pub struct Clocks {
    wall_ms: u64,
    mono_ns: u64,
}

impl Clocks {
    /// Both clocks now.
    pub fn now() -> Clocks {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Clocks {
            wall_ms: (wall.as_millis() % 86_400_000) as u64,
            mono_ns: monotonic_ns(),
        }
    }

    /// A log stamp's time of day (ms since midnight) on the monotonic clock.
    pub fn mono_of(self, wall_ms: u64) -> u64 {
        // Within half a day either way (a window that spans midnight).
        let day = 86_400_000i64;
        let delta = (wall_ms as i64 - self.wall_ms as i64 + day + day / 2) % day - day / 2;
        (self.mono_ns as i64 + delta * 1_000_000).max(0) as u64
    }
}

/// When (monotonic ns) the takeovers a vrrpd log reports after its first `from` bytes
/// happened: its lines begin `[YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn takeovers(log: &str, from: usize, clocks: Clocks) -> Vec<u64> {
    log.get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(": BACKUP -> MASTER ("))
        .filter_map(|l| {
            let t = l.get(12..24)?;
            let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<u64>().ok();
            let ms = ((n(0..2)? * 60 + n(3..5)?) * 60 + n(6..8)?) * 1000 + n(9..12)?;
            Some(clocks.mono_of(ms))
        })
        .collect()
}

/// The first takeover of each episode: takeovers less than 1 s apart are one.
pub fn episodes(takeovers: &[u64]) -> Vec<u64> {
    let mut starts: Vec<u64> = Vec::new();
    let mut last = None;
    for &t in takeovers {
        if last.is_none_or(|l: u64| t > l + 1_000_000_000) {
            starts.push(t);
        }
        last = Some(t);
    }
    starts
}

/// A stretch of monotonic time, ns: its start and its end.
pub type Gap = (u64, u64);

/// Stalls of the whole machine while a window runs. One thread per CPU, pinned and real-time
/// (it preempts every daemon and probe at once), sleeps [`StallWatch::TICK`] at a time and notes
/// each wake-up that comes more than [`StallWatch::LATE_NS`] after the one before. Where every
/// CPU's gaps overlap, nothing here ran: the hypervisor paused the virtual machine (or every
/// CPU was inside the kernel at once, where this kernel does not preempt). A backup whose
/// master shares the machine finds its Master_Down_Timer overdue when it resumes, before the
/// master, resumed with it, has sent again.
pub struct StallWatch {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<(u64, u64)>>>,
}

impl StallWatch {
    /// How long each thread sleeps.
    pub const TICK: Duration = Duration::from_millis(1);
    /// A wake-up this much later than the one before is a gap of its CPU.
    pub const LATE_NS: u64 = 5_000_000;

    /// Starts one thread per online CPU.
    pub fn start() -> StallWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..online_cpus())
            .map(|cpu| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let _ = pin_to(cpu);
                    // Best effort: without it the watch still sees the stalls, and some of
                    // the daemons' own stretches besides.
                    let _ = real_time(20);
                    let mut gaps = Vec::new();
                    let mut last = monotonic_ns();
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Self::TICK);
                        let now = monotonic_ns();
                        if now - last > Self::LATE_NS {
                            gaps.push((last, now));
                        }
                        last = now;
                    }
                    gaps
                })
            })
            .collect();
        StallWatch { stop, threads }
    }

    /// Stops the threads: the stretches (monotonic ns, start and end) in which every CPU was
    /// in a gap at once, the longest first.
    pub fn finish(self) -> Vec<(u64, u64)> {
        self.finish_per_cpu().0
    }

    /// As [`StallWatch::finish`], with each CPU's own gaps besides (in time order). A gap of
    /// one CPU while the others ran is the hypervisor running something else on that CPU
    /// (its steal), or kernel work on it that did not yield (no process of this machine
    /// outranks the watch's real-time thread).
    pub fn finish_per_cpu(self) -> (Vec<Gap>, Vec<Vec<Gap>>) {
        self.stop.store(true, Ordering::Relaxed);
        let per_cpu: Vec<Vec<(u64, u64)>> = self
            .threads
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect();
        let mut whole = overlaps(&per_cpu);
        whole.sort_by_key(|&(a, b)| std::cmp::Reverse(b - a));
        (whole, per_cpu)
    }
}

/// The stretches covered by a gap of every list at once (each list sorted, its gaps apart).
fn overlaps(lists: &[Vec<(u64, u64)>]) -> Vec<(u64, u64)> {
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    rest.iter().fold(first.clone(), |acc, list| {
        let mut out = Vec::new();
        for &(a0, a1) in &acc {
            for &(b0, b1) in list {
                let (s, e) = (a0.max(b0), a1.min(b1));
                if s < e {
                    out.push((s, e));
                }
            }
        }
        out
    })
}

/// Makes the calling thread real-time (SCHED_FIFO at `priority`).
#[expect(
    unsafe_code,
    reason = "sched_setscheduler(2) reads one sched_param we own for the call"
)]
fn real_time(priority: i32) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param for the duration of the call; pid 0 is the
    // calling thread.
    match unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// How steady this machine's CPUs are: one thread per CPU, pinned, repeats a fixed piece of
/// arithmetic (about 0.2 ms on this machine) for `duration` and times each repetition. On a
/// virtual machine whose host takes its CPUs' time now and then, some repetitions take many
/// times the fastest; the benches print this beside figures that such bursts explain.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSteadiness {
    /// The fastest repetition, in ms.
    pub unit_ms: f64,
    /// Repetitions timed, over all CPUs.
    pub units: u64,
    /// Of those, how many took more than 5 times the fastest.
    pub slow: u64,
    /// The slowest, in ms.
    pub worst_ms: f64,
}

impl CpuSteadiness {
    /// Measures every online CPU at once for `duration`.
    pub fn measure(duration: Duration) -> CpuSteadiness {
        let per_cpu: Vec<(f64, u64, Vec<f64>)> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..online_cpus())
                .map(|cpu| {
                    s.spawn(move || {
                        let _ = pin_to(cpu);
                        let mut x: u64 = 1;
                        let mut times = Vec::new();
                        let end = std::time::Instant::now() + duration;
                        while std::time::Instant::now() < end {
                            let t = std::time::Instant::now();
                            for _ in 0..200_000 {
                                x = std::hint::black_box(
                                    x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                                );
                            }
                            times.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
                        (fastest, times.len() as u64, times)
                    })
                })
                .collect();
            threads.into_iter().filter_map(|t| t.join().ok()).collect()
        });
        let unit_ms = per_cpu.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        let all = per_cpu.iter().flat_map(|c| c.2.iter().copied());
        CpuSteadiness {
            unit_ms,
            units: per_cpu.iter().map(|c| c.1).sum(),
            slow: all.clone().filter(|&t| t > 5.0 * unit_ms).count() as u64,
            worst_ms: all.fold(0.0, f64::max),
        }
    }

    /// One sentence for a bench's record.
    pub fn line(&self) -> String {
        format!(
            "The CPUs' steadiness just before (one pinned thread per CPU repeating a fixed \
             {:.2} ms of arithmetic for 5 s): {} of {} repetitions took more than 5 times the \
             fastest, the slowest {:.1} ms.",
            self.unit_ms, self.slow, self.units, self.worst_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn takeovers_are_read_from_the_log_on_the_monotonic_clock_and_gathered_in_episodes() {
        // At 15:58:42.500 the monotonic clock read 1,000 s.
        let clocks = Clocks {
            wall_ms: ((15 * 60 + 58) * 60 + 42) * 1000 + 500,
            mono_ns: 1_000 * 1_000 * MS,
        };
        let log = "[2026-12-01T15:58:40.000Z INFO  vrrp_userspace::daemon::effects] VI_9: BACKUP -> MASTER (before)\n\
            [2026-12-01T15:58:42.534Z INFO  vrrp_userspace::daemon::effects] VJ6_63: BACKUP -> MASTER (no advert from fe80::1 for 0.04 s)\n\
            [2026-12-01T15:58:42.561Z INFO  vrrp_userspace::daemon::effects] VJ6_67: MASTER -> BACKUP (advert from fe80::1 with priority 150, ours 100)\n\
            [2026-12-01T15:58:43.100Z INFO  vrrp_userspace::daemon::effects] VJ6_64: BACKUP -> MASTER (no advert from fe80::1 for 0.04 s)\n\
            [2026-12-01T15:58:45.000Z INFO  vrrp_userspace::daemon::effects] VI_1: BACKUP -> MASTER (no advert from 192.0.2.4 for 0.04 s)\n";
        let from = log.find('\n').unwrap() + 1;
        let t = takeovers(log, from, clocks);
        let at = |ms: u64| 1_000 * 1_000 * MS + ms * MS;
        assert_eq!(t, vec![at(34), at(600), at(2_500)]);
        assert_eq!(episodes(&t), vec![at(34), at(2_500)]);
        // A log stamp just after midnight, read at 23:59:59.900.
        let clocks = Clocks {
            wall_ms: 86_399_900,
            mono_ns: 1_000 * 1_000 * MS,
        };
        assert_eq!(clocks.mono_of(50), at(150));
    }

    #[test]
    fn a_stall_of_the_whole_machine_is_where_every_cpu_was_in_a_gap() {
        let cpu0 = vec![(10, 40), (100, 120), (200, 210)];
        let cpu1 = vec![(30, 60), (105, 115), (300, 310)];
        assert_eq!(
            overlaps(&[cpu0.clone(), cpu1.clone()]),
            vec![(30, 40), (105, 115)]
        );
        // A third CPU that ran through the first stretch leaves only the second.
        let cpu2 = vec![(0, 20), (90, 130)];
        assert_eq!(overlaps(&[cpu0.clone(), cpu1, cpu2]), vec![(105, 115)]);
        // One CPU: its own gaps; none: nothing.
        assert_eq!(overlaps(std::slice::from_ref(&cpu0)), cpu0);
        assert!(overlaps(&[]).is_empty());
    }

    /// A request every 5 ms from `start` to `end` but over `paused`, each answered 0.1 ms
    /// later but those sent in `lost`.
    fn probe(start: u64, end: u64, paused: (u64, u64), lost: (u64, u64)) -> (Vec<u64>, Vec<u64>) {
        let sent: Vec<u64> = (start..end)
            .step_by(5 * MS as usize)
            .filter(|&t| !(paused.0..paused.1).contains(&t))
            .collect();
        let replies = sent
            .iter()
            .filter(|&&t| !(lost.0..lost.1).contains(&t))
            .map(|&t| t + MS / 10)
            .collect();
        (sent, replies)
    }

    #[test]
    fn a_pause_of_the_sender_is_a_gap_between_replies_but_no_wait() {
        let (sent, replies) = probe(0, 200 * MS, (50 * MS, 72 * MS), (0, 0));
        let wait = longest_wait(sent.iter().copied(), &replies, 10 * MS, 190 * MS);
        assert_eq!(wait, MS / 10);
    }

    #[test]
    fn unanswered_requests_wait_from_the_first_of_them_to_the_reply_that_ends_the_run() {
        // Requests of 60, 65 and 70 ms lost: the one of 60 waits for the reply to 75.
        let (sent, replies) = probe(0, 200 * MS, (0, 0), (60 * MS, 72 * MS));
        let wait = longest_wait(sent.iter().copied(), &replies, 10 * MS, 190 * MS);
        assert_eq!(wait, 15 * MS + MS / 10);
        // Nothing answers after them before the span's end: they wait until it.
        let wait = longest_wait(sent.iter().copied(), &replies, 10 * MS, 71 * MS);
        assert_eq!(wait, 11 * MS);
    }
}
