//! `cargo xtask bench scale`: 200 routers on one interface at VRRPv3 10 ms intervals, vrrpd
//! and keepalived in turn on the same lab with the same keepalived.conf.
//!
//! One host is master of all 200 (priority 150), the other backup (100). Measured per daemon:
//! the CPU of each (share of one CPU over the window), its wake-ups a second (voluntary context
//! switches of all its threads), its resident memory, how the master's adverts leave (bursts
//! on the wire: adverts closer than 0.5 ms to the previous one join its burst), and, after the
//! master's daemon is killed (SIGKILL), the time until the backup has advertised all 200.

mod common;

use std::{collections::HashMap, net::Ipv4Addr, path::Path, time::Duration};

use anyhow::{Result, bail};
use common::{Kind, Node, ms, plot_path};
use vrrp_userspace::{
    dataplane::monotonic_ns,
    lab::{
        Lab,
        bench::{
            Capture, Frame, cpu_seconds, keepalived_version, machine_line, quantile, rss_kib,
            write_section,
        },
        daemon::{logged_states, run_dir},
    },
};

const ROUTERS: u8 = 200;

fn config(router_id: &str, state: &str, priority: u8) -> String {
    let mut text = format!("global_defs {{\n    router_id {router_id}\n}}\n");
    for vrid in 1..=ROUTERS {
        text.push_str(&format!(
            "vrrp_instance VI_{vrid} {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    version 3\n    advert_int 0.01\n    virtual_ipaddress {{\n        {}/32\n    }}\n}}\n",
            Ipv4Addr::new(198, 51, 100, vrid)
        ));
    }
    text
}

/// Voluntary context switches of every thread of `pids`.
fn wakeups(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/task")).ok())
        .flat_map(|d| d.flatten())
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

#[derive(Debug, Default, Clone)]
struct Figures {
    cpu_pct: [f64; 2],
    wakeups_per_s: [f64; 2],
    rss_mib: [f64; 2],
    adverts_per_s: f64,
    burst_mean: f64,
    bursts_per_s: f64,
    /// ms from the kill to each router's first advert from the backup.
    takeovers: Vec<f64>,
    converge_s: f64,
}

fn converged(node: &Node, want: &str) -> bool {
    let states = logged_states(&node.log_text());
    (1..=ROUTERS).all(|v| states.get(&format!("VI_{v}")).is_some_and(|s| s == want))
}

fn run(kind: Kind, lab: &Lab, dir: &Path, hosts: [&str; 2], window: Duration) -> Result<Figures> {
    let mut figures = Figures::default();
    let confs = [("MASTER", 150), ("BACKUP", 100)].map(|(state, prio)| (state, prio));
    let mut nodes: Vec<Option<Node>> = Vec::new();
    let started = monotonic_ns();
    for (i, (state, prio)) in confs.iter().enumerate() {
        let name = format!("{}-{}", kind.name(), hosts[i]);
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, config(&name, state, *prio))?;
        nodes.push(Some(Node::start(
            kind,
            lab.host(hosts[i]),
            &path,
            dir,
            &name,
            None,
        )));
    }
    let node = |i: usize| nodes[i].as_ref().expect("running");
    let deadline = monotonic_ns() + 60_000_000_000;
    while !(converged(node(0), "MASTER") && converged(node(1), "BACKUP")) {
        if monotonic_ns() > deadline {
            bail!(
                "{}: 200 routers did not converge in 60 s\n{}\n{}",
                kind.name(),
                node(0)
                    .log_text()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n"),
                node(1)
                    .log_text()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    figures.converge_s = (monotonic_ns() - started) as f64 / 1e9;
    std::thread::sleep(Duration::from_secs(2));

    // CPU, wake-ups and memory, with nothing else of the bench running.
    let pids = [node(0).pids(), node(1).pids()];
    let cpu0 = pids.clone().map(|p| cpu_seconds(&p));
    let wake0 = pids.clone().map(|p| wakeups(&p));
    let t0 = monotonic_ns();
    std::thread::sleep(window);
    let secs = (monotonic_ns() - t0) as f64 / 1e9;
    for i in 0..2 {
        figures.cpu_pct[i] = 100.0 * (cpu_seconds(&pids[i]) - cpu0[i]) / secs;
        figures.wakeups_per_s[i] = (wakeups(&pids[i]) - wake0[i]) as f64 / secs;
        figures.rss_mib[i] = rss_kib(&pids[i]) as f64 / 1024.0;
    }

    // How the master's adverts leave: one second of its port.
    let capture = Capture::start(&lab.sw, lab.port(hosts[0]))?;
    let from = monotonic_ns();
    std::thread::sleep(Duration::from_secs(1));
    let to = monotonic_ns();
    let times: Vec<u64> = capture
        .since(from)
        .into_iter()
        .filter(|s| s.at < to && matches!(s.frame, Frame::Advert { priority, .. } if priority > 0))
        .map(|s| s.at)
        .collect();
    drop(capture);
    let bursts = 1 + times.windows(2).filter(|w| w[1] - w[0] > 500_000).count();
    let span = (to - from) as f64 / 1e9;
    figures.adverts_per_s = times.len() as f64 / span;
    figures.bursts_per_s = bursts as f64 / span;
    figures.burst_mean = times.len() as f64 / bursts as f64;

    // The master's daemon dies: how long until the backup advertises every router.
    let capture = Capture::start(&lab.sw, lab.port(hosts[1]))?;
    std::thread::sleep(Duration::from_millis(100));
    let t_kill = monotonic_ns();
    let pins = nodes[0].take().expect("running").kill9();
    let give_up = t_kill + 10_000_000_000;
    let mut first: HashMap<u8, u64> = HashMap::new();
    while first.len() < usize::from(ROUTERS) && monotonic_ns() < give_up {
        std::thread::sleep(Duration::from_millis(20));
        for s in capture.since(t_kill) {
            if let Frame::Advert { vrid, priority } = s.frame
                && priority > 0
            {
                first.entry(vrid).or_insert(s.at);
            }
        }
    }
    figures.takeovers = first.values().map(|&t| ms(t - t_kill)).collect();
    if first.len() < usize::from(ROUTERS) {
        eprintln!(
            "{}: only {} of {ROUTERS} routers taken over within 10 s",
            kind.name(),
            first.len()
        );
    }
    drop(capture);
    drop(pins);
    if let Some(n) = nodes[1].take() {
        n.term();
        n.wait_exit();
    }
    Ok(figures)
}

fn report(figures: &[Figures; 2], window: Duration, command: &str) -> String {
    let [v, k] = figures;
    let ratio = |a: f64, b: f64| {
        if a > 0.0 {
            format!("{:.1}x", b / a)
        } else {
            "∞".into()
        }
    };
    let takeover = |t: &[f64]| match (quantile(t, 0.5), quantile(t, 1.0)) {
        (Some(a), Some(b)) => format!("{a:.0} / {b:.0} ({} of {ROUTERS})", t.len()),
        _ => "none".into(),
    };
    let backup_met = v.cpu_pct[1] * 10.0 <= k.cpu_pct[1];
    let batched = v.burst_mean >= 10.0;
    let mut out = format!(
        "Measured by `{command}` on {}, beside {}: {ROUTERS} VRRPv3 routers at 10 ms on one \
         interface, one host master of all (priority 150), the other backup (100); CPU and \
         wake-ups over {:.0} s, as a share of one CPU and per second.\n\n",
        machine_line(),
        keepalived_version(),
        window.as_secs_f64()
    );
    out.push_str("| | vrrpd | keepalived | keepalived / vrrpd |\n|---|---|---|---|\n");
    let mut compare = |what: &str, ours: f64, theirs: f64, digits: usize| {
        out.push_str(&format!(
            "| {what} | {ours:.digits$} | {theirs:.digits$} | {} |\n",
            ratio(ours, theirs)
        ));
    };
    compare("backup CPU %", v.cpu_pct[1], k.cpu_pct[1], 2);
    compare("master CPU %", v.cpu_pct[0], k.cpu_pct[0], 2);
    compare(
        "backup wake-ups/s",
        v.wakeups_per_s[1],
        k.wakeups_per_s[1],
        0,
    );
    compare(
        "master wake-ups/s",
        v.wakeups_per_s[0],
        k.wakeups_per_s[0],
        0,
    );
    out.push_str(&format!(
        "| resident memory, master / backup (MiB) | {:.1} / {:.1} | {:.1} / {:.1} | |\n",
        v.rss_mib[0], v.rss_mib[1], k.rss_mib[0], k.rss_mib[1]
    ));
    out.push_str(&format!(
        "| master adverts/s on the wire | {:.0} | {:.0} | |\n",
        v.adverts_per_s, k.adverts_per_s
    ));
    out.push_str(&format!(
        "| adverts per burst (bursts/s) | {:.1} ({:.0}) | {:.1} ({:.0}) | |\n",
        v.burst_mean, v.bursts_per_s, k.burst_mean, k.bursts_per_s
    ));
    out.push_str(&format!(
        "| takeover after SIGKILL, p50 / max ms (Master_Down_Interval 30 ms) | {} | {} | |\n",
        takeover(&v.takeovers),
        takeover(&k.takeovers)
    ));
    out.push_str(&format!(
        "| start to all 200 converged (s) | {:.1} | {:.1} | |\n",
        v.converge_s, k.converge_s
    ));
    out.push_str(&format!(
        "\nTargets: backup CPU at least 10x lower than keepalived's: **{}** ({}); the master's \
         adverts sent in batches: **{}** ({:.1} adverts per burst).\n",
        if backup_met { "met" } else { "missed" },
        ratio(v.cpu_pct[1], k.cpu_pct[1]),
        if batched { "met" } else { "missed" },
        v.burst_mean
    ));
    out
}

fn plot(figures: &[Figures; 2], path: &Path) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = figures
        .iter()
        .flat_map(|f| f.cpu_pct)
        .fold(1.0f64, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "200 routers at 10 ms: daemon CPU (% of one CPU)",
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((0..4usize).into_segmented(), 0f64..max)?;
    let labels = [
        "vrrpd backup",
        "keepalived backup",
        "vrrpd master",
        "keepalived master",
    ];
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(4)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).map_or(String::new(), |s| s.to_string()),
            _ => String::new(),
        })
        .y_desc("CPU %")
        .draw()?;
    let values = [
        figures[0].cpu_pct[1],
        figures[1].cpu_pct[1],
        figures[0].cpu_pct[0],
        figures[1].cpu_pct[0],
    ];
    chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
        let colour = if i % 2 == 0 { BLUE } else { RED };
        Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), v),
            ],
            colour.filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

fn main() -> Result<()> {
    // A quick or partial run is short (this suite has no parts) and only prints.
    let quick = !common::records();
    let window = Duration::from_secs(if quick { 5 } else { 20 });
    let command = common::command("scale");
    let lab = Lab::new(&[("n1", "192.0.2.4/24"), ("n2", "192.0.2.5/24")]);
    let dir = run_dir();
    let mut figures: [Figures; 2] = Default::default();
    for (i, kind) in Kind::BOTH.iter().enumerate() {
        println!("scale: {} with {ROUTERS} routers", kind.name());
        figures[i] = run(*kind, &lab, &dir, ["n1", "n2"], window)?;
        println!(
            "  {:?}",
            Figures {
                takeovers: vec![],
                ..figures[i].clone()
            }
        );
    }
    let table = report(&figures, window, &command);
    println!("{table}");
    let svg = plot_path("scale.svg");
    plot(&figures, &svg)?;
    println!("wrote {}", svg.display());
    if !quick {
        write_section("scale", &table)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
