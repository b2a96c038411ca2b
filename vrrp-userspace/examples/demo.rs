//! `cargo xtask demo`: the seed tutorial, narrated, with vrrpd in network namespaces.
//!
//! Builds a switch and three hosts (lb01 192.0.2.4, lb02 192.0.2.5, client 192.0.2.10), runs
//! vrrpd with the tutorial's configs unchanged, and walks through what the tutorial shows:
//! who holds the VIP, the client's ARP entry, a failure of lb01 with the takeover time and the
//! client's longest gap between ping replies, lb01's return (preemption), then the nopreempt
//! pair. Everything is torn down at the end, on error, and on Ctrl-C.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use vrrp_userspace::lab::{
    self, Child, Lab, NetNs,
    daemon::{VIP, Vrrpd, has_vip, neighbour, ping_once, run_dir, wait_for},
    probe,
};

fn say(text: &str) {
    println!("\x1b[1m==>\x1b[0m {text}");
}

fn show(text: &str) {
    for line in text.lines() {
        println!("    {line}");
    }
}

/// Stops at once when Ctrl-C was pressed; the guards then tear the lab down.
fn check(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted; tearing the lab down");
    }
    Ok(())
}

/// The IPv4 addresses on the host's eth0, as `ip addr` lists them.
fn addresses(ns: &NetNs) -> String {
    let out = ns.exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    out.lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect::<Vec<_>>()
        .join(", ")
}

fn holders(lab: &Lab) -> String {
    let mut who = Vec::new();
    for role in ["lb01", "lb02"] {
        if has_vip(lab.host(role)) {
            who.push(role);
        }
    }
    if who.is_empty() {
        "nobody".into()
    } else {
        who.join(" and ")
    }
}

/// The client's probe of the VIP: an echo request every 5 ms (this program again, `demo --probe
/// VIP`, the lab's [`probe`]: iputils' `ping -i 0.005` would spin and take a CPU from the
/// daemons), its replies in a file of the run directory; the longest gap between replies is the
/// outage a user would see.
struct Prober {
    child: Child,
    file: PathBuf,
}

impl Prober {
    fn start(client: &NetNs, dir: &Path) -> Result<Self> {
        let file = dir.join("probe.log");
        let args = probe::args(VIP);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = Child::spawn_in(client, &args, &file).context("starting the probe")?;
        Ok(Prober { child, file })
    }

    /// Stops and returns (replies, longest gap between replies).
    fn stop(self) -> (usize, Duration) {
        drop(self.child);
        let times: Vec<f64> = std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter_map(probe::reply_time)
            .collect();
        let gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
        (times.len(), Duration::from_secs_f64(gap))
    }
}

fn main() -> Result<()> {
    // `demo --probe VIP`: the client's probe (see Prober).
    probe::run_if_asked();
    let seed = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| lab::tutorial(""));
    let bin = std::env::args()
        .nth(2)
        .map(PathBuf::from)
        .context("usage: demo SEED_DIR VRRPD_BINARY")?;
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    if !lab::privileged("cargo xtask demo") {
        bail!("the demo builds network namespaces and loads XDP: run it as root");
    }
    let started = Instant::now();

    say(
        "Building the lab: a switch (bridge) and hosts lb01 192.0.2.4, lb02 192.0.2.5, client 192.0.2.10",
    );
    let lab = Lab::new(&[
        ("lb01", "192.0.2.4/24"),
        ("lb02", "192.0.2.5/24"),
        ("client", "192.0.2.10/24"),
    ]);
    // Kept after the demo: its last line points at the daemons' logs there.
    let dir = run_dir().keep();
    check(&stop)?;

    say(
        "Starting vrrpd on lb01 (lb01.conf: state MASTER, priority 100) and lb02 (lb02.conf: BACKUP, 90); \
         as keepalived, both wait a Master_Down_Interval for a master, lb01's the shorter (3.61 s)",
    );
    let lb01 = Vrrpd::start(
        &bin,
        lab.host("lb01"),
        &seed.join("lb01.conf"),
        &dir,
        "lb01",
    );
    let lb02 = Vrrpd::start(
        &bin,
        lab.host("lb02"),
        &seed.join("lb02.conf"),
        &dir,
        "lb02",
    );
    wait_for(Duration::from_secs(9), || {
        lb01.state().as_deref() == Some("MASTER") && lb02.state().as_deref() == Some("BACKUP")
    })
    .with_context(|| format!("no election; lb01 log:\n{}", lb01.log_text()))?;
    check(&stop)?;

    say("1. Who is master? Only the master holds the VIP 192.0.2.3 (ip addr):");
    show(&format!("lb01 eth0: {}", addresses(lab.host("lb01"))));
    show(&format!("lb02 eth0: {}", addresses(lab.host("lb02"))));
    let client = lab.host("client");
    ping_once(client);
    let (mac, state) = neighbour(client).context("the client has no ARP entry for the VIP")?;
    say("The client's ARP cache holds the VIP with the virtual MAC, not lb01's own:");
    show(&format!("{VIP} lladdr {mac} {state}"));

    say(
        "2. lb01 fails (its switch port goes down). The client pings the VIP every 5 ms meanwhile.",
    );
    let prober = Prober::start(client, &dir)?;
    std::thread::sleep(Duration::from_millis(500));
    lab.link_down("lb01");
    let took = wait_for(Duration::from_secs(8), || has_vip(lab.host("lb02")))
        .context("lb02 never took over")?;
    check(&stop)?;
    wait_for(Duration::from_secs(3), || ping_once(client));
    std::thread::sleep(Duration::from_millis(300));
    let (replies, gap) = prober.stop();
    show(&format!(
        "lb02 holds the VIP {took:.2?} after the failure (RFC window: Master_Down_Interval 3.64 s)"
    ));
    show(&format!(
        "client: {replies} replies, longest gap between replies {gap:.2?}"
    ));
    let (mac_after, _) = neighbour(client).context("no ARP entry")?;
    show(&format!(
        "client's ARP entry for {VIP}: {mac_after} (unchanged: the VMAC moved)"
    ));

    say("3. lb01 comes back: its priority is higher, so it takes the VIP back (preemption)");
    lab.link_up("lb01");
    let back = wait_for(Duration::from_secs(6), || {
        has_vip(lab.host("lb01")) && !has_vip(lab.host("lb02"))
    })
    .context("lb01 did not preempt")?;
    show(&format!(
        "after {back:.2?}: the VIP is on {}",
        holders(&lab)
    ));
    check(&stop)?;
    drop(lb01);
    drop(lb02);

    say("4. Non-preemptive pair (both state BACKUP with nopreempt, priorities 100 and 90)");
    // Both start as BACKUP, so the first to reach its Master_Down_Interval wins: lb01 starts
    // first here (started together, a busy machine may start lb02 40 ms sooner, and nopreempt
    // then rightly keeps lb02).
    let lb01 = Vrrpd::start(
        &bin,
        lab.host("lb01"),
        &seed.join("lb01-nopreempt.conf"),
        &dir,
        "np1",
    );
    wait_for(Duration::from_secs(8), || {
        lb01.state().as_deref() == Some("MASTER")
    })
    .context("lb01 alone did not become master")?;
    let lb02 = Vrrpd::start(
        &bin,
        lab.host("lb02"),
        &seed.join("lb02-nopreempt.conf"),
        &dir,
        "np2",
    );
    wait_for(Duration::from_secs(5), || {
        lb02.state().as_deref() == Some("BACKUP")
    })
    .context("lb02 did not settle as backup")?;
    show(&format!("elected: the VIP is on {}", holders(&lab)));
    check(&stop)?;
    say("   lb01 stops (SIGTERM: it sends priority 0, so lb02 takes over after Skew_Time)");
    lb01.child.signal(nix::sys::signal::Signal::SIGTERM);
    let took = wait_for(Duration::from_secs(5), || has_vip(lab.host("lb02")))
        .context("lb02 never took over")?;
    show(&format!("lb02 holds the VIP after {took:.2?}"));
    drop(lb01);
    say("   lb01 starts again: with nopreempt it stays backup, one interruption fewer");
    let lb01 = Vrrpd::start(
        &bin,
        lab.host("lb01"),
        &seed.join("lb01-nopreempt.conf"),
        &dir,
        "np1b",
    );
    std::thread::sleep(Duration::from_secs(5));
    check(&stop)?;
    show(&format!(
        "lb01 is {}, lb02 is {}; the VIP is on {}",
        lb01.state().unwrap_or_default(),
        lb02.state().unwrap_or_default(),
        holders(&lab)
    ));

    say(&format!(
        "Done in {:.1?}; tearing the lab down (logs were in {})",
        started.elapsed(),
        dir.display()
    ));
    Ok(())
}
