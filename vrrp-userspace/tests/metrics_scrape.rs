//! Issue 14's metrics: `vrrpd run --metrics-listen ADDR:PORT` in the lab, scraped as Prometheus
//! scrapes it. The series agree with `vrrpd status --json`, the counters move (adverts sent and
//! received, ARP replies, script runs, the loop's lag), a failover shows in the transitions
//! with its reasons, `promtool check metrics` finds nothing to say about a scrape, and a real
//! Prometheus server scrapes the endpoint and answers queries about it. An address that cannot
//! be bound stops vrrpd at startup, before it touches anything.
//!
//! promtool and prometheus come from Debian's `prometheus` package (`cargo xtask setup`);
//! without them the tests that need them are skipped, and fail when `CI` is set.
use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Child, Lab, NetNs,
    daemon::{Vrrpd, http_get, installed, promtool, run_dir, wait_for, wait_master_first},
};

/// One scenario at a time: they share the machine's cores with the daemons they run.
static SERIAL: Mutex<()> = Mutex::new(());

/// Where each vrrpd serves its metrics, inside its own namespace.
const METRICS: &str = "127.0.0.1:9650";

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// An instance with a `vrrp_script` that always succeeds, so that script metrics move.
fn config(dir: &Path, name: &str, state: &str, priority: u8) -> PathBuf {
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(
        &path,
        format!(
            "global_defs {{\n    router_id {name}\n}}\n\
             vrrp_script chk {{\n    script \"/bin/true\"\n    interval 1\n}}\n\
             vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    \
             virtual_router_id 50\n    priority {priority}\n    advert_int 1\n    \
             track_script {{\n        chk\n    }}\n    \
             virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n"
        ),
    )
    .unwrap();
    path
}

/// A scrape of vrrpd's metrics in `ns` (panics unless answered 200).
fn scrape(ns: &NetNs) -> String {
    let (code, body) = http_get(ns, METRICS, "/metrics").expect("the metrics answer");
    assert_eq!(code, 200, "{body}");
    body
}

/// The value of the sample of `name` whose labels include all of `labels` (label values
/// without escapes, as vrrpd's are here).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            let pairs: Vec<(&str, &str)> = rest
                .trim_end_matches('}')
                .split("\",")
                .filter_map(|p| p.split_once("=\""))
                .map(|(k, v)| (k, v.trim_end_matches('"')))
                .collect();
            n == name && labels.iter().all(|l| pairs.contains(l))
        })
        .and_then(|(_, v)| v.parse().ok())
}

fn must(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
}

/// Every instance of `status` has exactly its state's series at 1, and its priority.
fn agrees_with_status(text: &str, status: &serde_json::Value) {
    for inst in status.as_array().unwrap() {
        let name = inst["name"].as_str().unwrap();
        let state = inst["state"].as_str().unwrap().to_lowercase();
        for s in ["init", "backup", "master", "fault"] {
            assert_eq!(
                must(
                    text,
                    "vrrpd_instance_state",
                    &[("vrrp_instance", name), ("state", s)]
                ),
                if s == state { 1.0 } else { 0.0 },
                "{name} {s} (status says {state})\n{text}"
            );
        }
        let vrid = inst["vrid"].to_string();
        let l = [
            ("vrrp_instance", name),
            ("vrid", vrid.as_str()),
            ("interface", inst["interface"].as_str().unwrap()),
            ("family", "ipv4"),
        ];
        assert_eq!(
            must(text, "vrrpd_instance_effective_priority", &l),
            inst["priority"].as_f64().unwrap()
        );
    }
}

fn start(lab: &Lab, dir: &Path, host: &str, conf: &Path) -> Vrrpd {
    Vrrpd::start_with_args(
        &vrrpd(),
        lab.host(host),
        conf,
        dir,
        host,
        &["--metrics-listen", METRICS],
    )
}

fn states(lb01: &Vrrpd, lb02: &Vrrpd, want: (&str, &str), within: Duration) {
    wait_for(within, || {
        lb01.state().as_deref() == Some(want.0) && lb02.state().as_deref() == Some(want.1)
    })
    .unwrap_or_else(|| {
        panic!(
            "want {want:?}: lb01 {:?} / lb02 {:?}\n{}\n{}",
            lb01.state(),
            lb02.state(),
            lb01.log_text(),
            lb02.log_text()
        )
    });
}

const I: (&str, &str) = ("vrrp_instance", "VI_1");

#[test]
fn metrics_agree_with_status_move_and_follow_a_failover() {
    if !lab::privileged("metrics_agree_with_status_move_and_follow_a_failover")
        || !installed("metrics_agree_with_status", "promtool")
    {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let lb01 = start(&lab, &dir, "lb01", &config(&dir, "lb01", "MASTER", 100));
    wait_master_first(&lb01, Duration::from_secs(6));
    let lb02 = start(&lab, &dir, "lb02", &config(&dir, "lb02", "BACKUP", 90));
    states(&lb01, &lb02, ("MASTER", "BACKUP"), Duration::from_secs(8));
    // lb02 has heard lb01 (the first adverts may predate its program).
    wait_for(Duration::from_secs(5), || {
        value(
            &scrape(lab.host("lb02")),
            "vrrpd_instance_adverts_received_total",
            &[I],
        )
        .is_some_and(|n| n >= 1.0)
    })
    .expect("lb02 counts lb01's adverts");

    let (a1, b1) = (scrape(lab.host("lb01")), scrape(lab.host("lb02")));
    promtool(&a1);
    promtool(&b1);
    agrees_with_status(&a1, &lb01.status_json());
    agrees_with_status(&b1, &lb02.status_json());
    assert_eq!(must(&a1, "vrrpd_instance_configured_priority", &[I]), 100.0);
    assert_eq!(must(&b1, "vrrpd_instance_configured_priority", &[I]), 90.0);
    assert_eq!(
        must(
            &a1,
            "vrrpd_instance_transitions_total",
            &[I, ("to", "master"), ("reason", "master_down")]
        ),
        1.0,
        "{a1}"
    );
    // lb02 backs lb01 up: its master advertised within Master_Down_Interval (3.64 s) and the
    // deadline lies ahead of it.
    let age = must(&b1, "vrrpd_instance_master_advert_age_seconds", &[I]);
    let slack = must(&b1, "vrrpd_instance_master_down_slack_seconds", &[I]);
    assert!((0.0..3.64).contains(&age), "age {age}\n{b1}");
    assert!(slack > 0.0 && slack <= 3.65, "slack {slack}\n{b1}");
    assert!(
        value(&a1, "vrrpd_instance_master_down_slack_seconds", &[I]).is_none(),
        "a master has no Master_Down deadline"
    );
    assert_eq!(
        must(&a1, "vrrpd_liveness_gate_open", &[("interface", "eth0")]),
        1.0
    );
    // The new master announced the VIP (garp_master_repeat, 5 by default).
    assert!(must(&a1, "vrrpd_instance_announcements_sent_total", &[I]) >= 1.0);
    assert_eq!(
        must(&b1, "vrrpd_instance_announcements_sent_total", &[I]),
        0.0
    );

    // The client asks for the VIP: lb01's XDP answers, and the counter says so.
    let arp_before = must(
        &a1,
        "vrrpd_arp_replies_sent_total",
        &[("interface", "eth0")],
    );
    lab.host("client")
        .exec(&["arping", "-c", "2", "-w", "3", "-i", "eth0", "192.0.2.3"]);
    std::thread::sleep(Duration::from_millis(2500));
    let (a2, b2) = (scrape(lab.host("lb01")), scrape(lab.host("lb02")));
    promtool(&a2);
    let moved = |before: &str, after: &str, name: &str, labels: &[(&str, &str)]| {
        let (x, y) = (must(before, name, labels), must(after, name, labels));
        assert!(y > x, "{name} {labels:?} did not move: {x} -> {y}");
    };
    moved(&a1, &a2, "vrrpd_instance_adverts_sent_total", &[I]);
    moved(&b1, &b2, "vrrpd_instance_adverts_received_total", &[I]);
    moved(
        &a1,
        &a2,
        "vrrpd_xdp_packets_total",
        &[("interface", "eth0"), ("reason", "arp_replied")],
    );
    assert!(
        must(
            &a2,
            "vrrpd_arp_replies_sent_total",
            &[("interface", "eth0")]
        ) >= arp_before + 1.0
    );
    moved(
        &a1,
        &a2,
        "vrrpd_script_runs_total",
        &[("script", "chk"), ("result", "success")],
    );
    assert_eq!(
        must(
            &a2,
            "vrrpd_script_runs_total",
            &[("script", "chk"), ("result", "failure")]
        ),
        0.0
    );
    assert!(
        must(
            &a2,
            "vrrpd_script_duration_seconds_count",
            &[("script", "chk")]
        ) >= 1.0
    );
    assert!(must(&a2, "vrrpd_main_loop_lag_seconds_count", &[]) >= 1.0);
    // A backup sends nothing.
    assert_eq!(must(&b2, "vrrpd_instance_adverts_sent_total", &[I]), 0.0);

    // Failover: lb01's cable is pulled. lb01 goes to FAULT, lb02 takes over when its
    // Master_Down timer runs out; both say so, with the reasons.
    lab.link_down("lb01");
    states(&lb01, &lb02, ("FAULT", "MASTER"), Duration::from_secs(8));
    std::thread::sleep(Duration::from_millis(1500));
    let (a3, b3) = (scrape(lab.host("lb01")), scrape(lab.host("lb02")));
    promtool(&b3);
    agrees_with_status(&a3, &lb01.status_json());
    agrees_with_status(&b3, &lb02.status_json());
    assert_eq!(
        must(
            &a3,
            "vrrpd_instance_transitions_total",
            &[I, ("from", "master"), ("to", "fault"), ("reason", "fault")]
        ),
        1.0,
        "{a3}"
    );
    assert_eq!(
        must(
            &b3,
            "vrrpd_instance_transitions_total",
            &[
                I,
                ("from", "backup"),
                ("to", "master"),
                ("reason", "master_down")
            ]
        ),
        1.0,
        "{b3}"
    );
    assert!(must(&b3, "vrrpd_instance_adverts_sent_total", &[I]) >= 1.0);
    assert!(value(&b3, "vrrpd_instance_master_down_slack_seconds", &[I]).is_none());

    // The cable back: lb01 (priority 100) preempts; lb02 steps down for its advert.
    lab.link_up("lb01");
    states(&lb01, &lb02, ("MASTER", "BACKUP"), Duration::from_secs(10));
    let b4 = scrape(lab.host("lb02"));
    promtool(&b4);
    assert_eq!(
        must(
            &b4,
            "vrrpd_instance_transitions_total",
            &[
                I,
                ("from", "master"),
                ("to", "backup"),
                ("reason", "higher_priority")
            ]
        ),
        1.0,
        "{b4}"
    );
    agrees_with_status(&b4, &lb02.status_json());
}

/// `q` percent-encoded for a URL's query.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus query's first result's value, if it has one.
fn query(ns: &NetNs, web: &str, q: &str) -> Option<String> {
    let q = encode(q);
    let (code, body) = http_get(ns, web, &format!("/api/v1/query?query={q}")).ok()?;
    if code != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_string)
}

#[test]
fn a_real_prometheus_scrapes_vrrpd() {
    if !lab::privileged("a_real_prometheus_scrapes_vrrpd")
        || !installed("a_real_prometheus_scrapes_vrrpd", "prometheus")
    {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new(&[("lb01", "192.0.2.4/24")]);
    let dir = run_dir();
    let lb01 = start(&lab, &dir, "lb01", &config(&dir, "lb01", "MASTER", 100));
    wait_for(Duration::from_secs(5), || {
        lb01.state().as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("{}", lb01.log_text()));

    // Prometheus in the same namespace, on a random loopback port, its data in the run's
    // directory.
    let web = format!("127.0.0.1:{}", 20_000 + fastrand::u16(..40_000));
    let prom_conf = dir.join("prometheus.yml");
    std::fs::write(
        &prom_conf,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: vrrpd\n    static_configs:\n      \
             - targets: ['{METRICS}']\n"
        ),
    )
    .unwrap();
    let tsdb = dir.join("tsdb");
    let log = dir.join("prometheus.log");
    let mut prometheus = Child::spawn_in(
        lab.host("lb01"),
        &[
            "prometheus",
            &format!("--config.file={}", prom_conf.display()),
            &format!("--storage.tsdb.path={}", tsdb.display()),
            &format!("--web.listen-address={web}"),
        ],
        &log,
    )
    .expect("start prometheus");
    let prom_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let ns = lab.host("lb01");
    wait_for(Duration::from_secs(60), || {
        query(ns, &web, "up{job=\"vrrpd\"}").as_deref() == Some("1")
    })
    .unwrap_or_else(|| panic!("Prometheus never saw vrrpd up\n{}", prom_log()));
    // The target scraped without an error (a malformed exposition is one).
    let (_, targets) = http_get(ns, &web, "/api/v1/targets").unwrap();
    let targets: serde_json::Value = serde_json::from_str(&targets).unwrap();
    let target = &targets["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{targets}");
    assert_eq!(target["lastError"], "", "{targets}");
    // Our labels arrive as they are: none is renamed for clashing with the target's own.
    assert_eq!(target["labels"]["instance"], METRICS, "{targets}");
    let (code, renamed) = http_get(
        ns,
        &web,
        &format!(
            "/api/v1/query?query={}",
            encode("{__name__=~\"vrrpd_.+\",exported_instance!=\"\"}")
        ),
    )
    .unwrap();
    assert_eq!(code, 200, "{renamed}");
    let renamed: serde_json::Value = serde_json::from_str(&renamed).unwrap();
    assert_eq!(
        renamed["data"]["result"],
        serde_json::json!([]),
        "{renamed}"
    );
    wait_for(Duration::from_secs(10), || {
        query(
            ns,
            &web,
            "vrrpd_instance_state{vrrp_instance=\"VI_1\",state=\"master\"}",
        )
        .as_deref()
            == Some("1")
    })
    .unwrap_or_else(|| panic!("no master state in Prometheus\n{}", prom_log()));
    let sent = query(
        ns,
        &web,
        "vrrpd_instance_adverts_sent_total{vrrp_instance=\"VI_1\"}",
    )
    .and_then(|v| v.parse::<f64>().ok());
    assert!(sent.is_some_and(|n| n >= 1.0), "adverts sent {sent:?}");

    prometheus.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        prometheus.wait_timeout(Duration::from_secs(20)).is_some(),
        "prometheus did not stop"
    );
    let _ = std::fs::remove_dir_all(&tsdb);
}

#[test]
fn an_address_that_cannot_be_bound_stops_vrrpd_at_startup() {
    if !lab::privileged("an_address_that_cannot_be_bound_stops_vrrpd_at_startup") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new(&[("lb01", "192.0.2.4/24")]);
    let dir = run_dir();
    let conf = config(&dir, "lb01", "MASTER", 100);
    // Not an address of the host.
    let mut d = Vrrpd::start_with_args(
        &vrrpd(),
        lab.host("lb01"),
        &conf,
        &dir,
        "lb01",
        &["--metrics-listen", "198.51.100.1:9650"],
    );
    let exit = d
        .child
        .wait_timeout(Duration::from_secs(10))
        .expect("vrrpd exits");
    assert!(!exit.success());
    let log = d.log_text();
    assert!(
        log.contains("binding the metrics listener on 198.51.100.1:9650"),
        "{log}"
    );
    // Before anything was touched: no XDP program, no VIP.
    let links = lab.host("lb01").exec(&["ip", "-d", "link", "show", "eth0"]);
    assert!(!links.contains("xdp"), "{links}");
    assert!(!vrrp_userspace::lab::daemon::has_vip(lab.host("lb01")));
}

/// Scrapers that hold every connection slot, send their request a byte at a time, or scrape
/// as fast as they can never delay the master's adverts: its backup never takes over, and
/// once they stop a scrape is answered at once.
#[test]
fn a_scrape_flood_never_delays_the_adverts() {
    if !lab::privileged("a_scrape_flood_never_delays_the_adverts") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let lb01 = start(&lab, &dir, "lb01", &config(&dir, "lb01", "MASTER", 100));
    wait_master_first(&lb01, Duration::from_secs(6));
    let lb02 = start(&lab, &dir, "lb02", &config(&dir, "lb02", "BACKUP", 90));
    states(&lb01, &lb02, ("MASTER", "BACKUP"), Duration::from_secs(8));
    let before = scrape(lab.host("lb01"));
    // Only takeovers during the flood count (lb01's own at its start is before it).
    let took_over = |text: &str| {
        value(
            text,
            "vrrpd_instance_transitions_total",
            &[I, ("to", "master")],
        )
        .unwrap_or(0.0)
    };
    let lb02_before = took_over(&scrape(lab.host("lb02")));
    let ns = lab.host("lb01");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let scrapes = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        // Every slot held by clients that never finish their request (one byte every 100 ms).
        for _ in 0..20 {
            s.spawn(|| {
                ns.run(|| {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let Ok(mut c) = TcpStream::connect(METRICS) else {
                            continue;
                        };
                        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().cycle() {
                            if stop.load(std::sync::atomic::Ordering::Relaxed)
                                || c.write_all(&[*b]).is_err()
                            {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                })
            });
        }
        // And one scraping as fast as it is let in.
        s.spawn(|| {
            ns.run(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(mut c) = TcpStream::connect(METRICS) {
                        let _ = c.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
                        let mut reply = Vec::new();
                        let _ = c.read_to_end(&mut reply);
                        if reply.starts_with(b"HTTP/1.1 200") {
                            scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            })
        });
        std::thread::sleep(Duration::from_secs(6));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(
        lb02.state().as_deref(),
        Some("BACKUP"),
        "{}",
        lb02.log_text()
    );
    assert_eq!(
        lb01.state().as_deref(),
        Some("MASTER"),
        "{}",
        lb01.log_text()
    );
    // The slow clients ran into the 5 s request timeout or were refused; a scrape now is
    // answered, and the adverts went on meanwhile.
    let after = wait_for(Duration::from_secs(8), || {
        http_get(ns, METRICS, "/metrics").is_ok_and(|(code, _)| code == 200)
    });
    assert!(after.is_some(), "no scrape answered after the flood");
    let after = scrape(ns);
    let (x, y) = (
        must(&before, "vrrpd_instance_adverts_sent_total", &[I]),
        must(&after, "vrrpd_instance_adverts_sent_total", &[I]),
    );
    assert!(y >= x + 5.0, "adverts sent {x} -> {y} over 6 s");
    let b = scrape(lab.host("lb02"));
    assert_eq!(
        took_over(&b),
        lb02_before,
        "lb02 took over during the flood\n{b}"
    );
    eprintln!(
        "{} scrapes answered during the flood",
        scrapes.load(std::sync::atomic::Ordering::Relaxed)
    );
}
