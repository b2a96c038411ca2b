//! Issue 14's incident view, on the seed tutorial's pair: what an operator runs during an
//! incident says what happened and why.
//!
//! - A failover (lb01's cable pulled, then back): `vrrpd status` of each side gives its state,
//!   since when and why ("no advert from 192.0.2.4 for 3.6x s", "fault: interface eth0
//!   down"), the transitions of the last hour and the master's priority; `vrrpd events --json`
//!   (two subscribers at once, one in JSON, one as lines) delivered the transitions as they
//!   happened; a forged gratuitous ARP for the VIP from the client is reported with the MAC
//!   it claims from.
//! - A split brain: lb01's adverts dropped on the switch (nftables), so lb02 takes over while
//!   lb01 stays master and hears it. Both report it within two advert intervals, once (not
//!   per advert), in their logs, status, events and metrics (promtool-checked), and by
//!   running their `notify_split_brain` hooks: lb01 by lb02's adverts, lb02, which hears no
//!   other master, by lb01's gratuitous ARPs from the VMAC (the answers to its adverts). Then
//!   its end once the switch lets lb01's adverts through again and lb02 yields.
//!
//! One scenario at a time, so that two of them never share the machine's two cores.
use std::{
    io::BufRead as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{
        VMAC_50, Vrrpd, has_vip, http_get, installed, promtool, run_dir, start_pair, wait_for,
        wait_master_first,
    },
};

static SERIAL: Mutex<()> = Mutex::new(());

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// A `vrrpd events` run, its lines collected as they come; killed and reaped on drop.
struct Follower {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Follower {
    fn start(d: &Vrrpd, json: bool) -> Self {
        let mut cmd = Command::new(vrrpd());
        cmd.arg("events").arg("--control-socket").arg(&d.socket);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vrrpd events");
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Follower { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The JSON events of the given kind.
    fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object a line"))
            .filter(|v| v["kind"] == kind)
            .collect()
    }
}

/// The milliseconds of the day of an event's `time` (`2026-11-30T10:41:27.954Z`).
fn ms_of_day(time: &serde_json::Value) -> i64 {
    let t = time.as_str().expect("a time");
    let clock = t
        .split('T')
        .nth(1)
        .expect("a time of day")
        .trim_end_matches('Z');
    let mut parts = clock.split(':');
    let (h, m, s): (i64, i64, f64) = (
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    );
    (h * 3600 + m * 60) * 1000 + (s * 1000.0).round() as i64
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vrrpd status` as an operator reads it.
fn status_text(d: &Vrrpd) -> String {
    let out = Command::new(vrrpd())
        .args(["status", "--control-socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn transition<'a>(
    events: &'a [serde_json::Value],
    from: &str,
    to: &str,
) -> Option<&'a serde_json::Value> {
    events.iter().find(|e| e["from"] == from && e["to"] == to)
}

#[test]
fn a_failover_is_explained_by_status_and_streamed_by_vrrpd_events() {
    if !lab::privileged("a_failover_is_explained_by_status_and_streamed_by_vrrpd_events") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let (lb01, lb02) = start_pair(
        &vrrpd(),
        &lab,
        &lab::tutorial("lb01.conf"),
        &lab::tutorial("lb02.conf"),
        &dir,
    );
    let s = lb01.status_json()[0].clone();
    // As keepalived 2.2.7, `state MASTER` at priority 100 starts in BACKUP and takes over
    // when no master spoke within its Master_Down_Interval.
    assert_eq!(s["reason"], "no advert for 3.61 s since entering BACKUP");
    assert_eq!(s["master_priority"], 100);
    // Two subscribers on lb02 at once, one of them on lb01.
    let json02 = Follower::start(&lb02, true);
    let text02 = Follower::start(&lb02, false);
    let json01 = Follower::start(&lb01, true);
    std::thread::sleep(Duration::from_millis(500));
    // lb02 hears lb01 and knows its priority.
    wait_for(Duration::from_secs(3), || {
        lb02.status_json()[0].clone()["master_priority"] == 100
    })
    .unwrap_or_else(|| panic!("{}", lb02.status_json()[0].clone()));

    lab.link_down("lb01");
    wait_for(Duration::from_secs(6), || {
        lb02.state().as_deref() == Some("MASTER") && lb01.state().as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.log_text(), lb02.log_text()));
    // Why lb02 is master: lb01's adverts stopped Master_Down_Interval (3.64 s) ago.
    let s = lb02.status_json()[0].clone();
    let reason = s["reason"].as_str().unwrap().to_string();
    let waited: f64 = reason
        .strip_prefix("no advert from 192.0.2.4 for ")
        .and_then(|r| r.strip_suffix(" s"))
        .unwrap_or_else(|| panic!("{reason}"))
        .parse()
        .unwrap();
    assert!((3.64..3.64 + 0.3).contains(&waited), "{reason}");
    assert_eq!(s["master_priority"], 90);
    assert!(s["in_state_s"].as_f64().unwrap() < 5.0, "{s}");
    let t = s["transitions"].as_array().unwrap();
    assert_eq!(t.last().unwrap()["to"], "MASTER");
    assert_eq!(t.last().unwrap()["reason"], reason.as_str());
    assert_eq!(s["last_advert"]["address"], "192.0.2.4");
    assert_eq!(s["last_advert"]["priority"], 100);
    assert!(s["adverts_sent"].as_u64().unwrap() >= 1);
    // lb01: FAULT because of its own interface, and its tracked interface says so.
    let s = lb01.status_json()[0].clone();
    assert_eq!(s["reason"], "fault: interface eth0 down");
    assert_eq!(s["tracked"][0]["name"], "eth0");
    assert_eq!(s["tracked"][0]["verdict"], "down");
    // The person's view says the same.
    let text = status_text(&lb02);
    assert!(text.contains(&format!("why: {reason}")), "{text}");
    assert!(text.contains("transitions in the last hour: 2"), "{text}");
    // The events came as they happened, to every subscriber.
    wait_for(Duration::from_secs(2), || {
        transition(&json02.events("transition"), "BACKUP", "MASTER").is_some()
    })
    .unwrap_or_else(|| panic!("{:?}", json02.lines()));
    let e = json02.events("transition");
    let e = transition(&e, "BACKUP", "MASTER").unwrap();
    assert_eq!(e["instance"], "VI_1");
    assert_eq!(e["vrid"], 50);
    assert_eq!(e["reason"], reason.as_str());
    assert!(e["time"].as_str().unwrap().ends_with('Z'));
    wait_for(Duration::from_secs(2), || {
        text02
            .lines()
            .iter()
            .any(|l| l.ends_with(&format!("VI_1: BACKUP -> MASTER ({reason})")))
    })
    .unwrap_or_else(|| panic!("{:?}", text02.lines()));
    wait_for(Duration::from_secs(2), || {
        transition(&json01.events("transition"), "MASTER", "FAULT").is_some()
    })
    .unwrap_or_else(|| panic!("{:?}", json01.lines()));
    assert_eq!(
        transition(&json01.events("transition"), "MASTER", "FAULT").unwrap()["reason"],
        "fault: interface eth0 down"
    );

    // lb01 comes back and preempts: lb02 steps down for its better advert.
    lab.link_up("lb01");
    wait_for(Duration::from_secs(8), || {
        lb01.state().as_deref() == Some("MASTER")
            && lb02.state().as_deref() == Some("BACKUP")
            && has_vip(lab.host("lb01"))
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.log_text(), lb02.log_text()));
    wait_for(Duration::from_secs(2), || {
        transition(&json02.events("transition"), "MASTER", "BACKUP").is_some()
    })
    .unwrap_or_else(|| panic!("{:?}", json02.lines()));
    assert_eq!(
        transition(&json02.events("transition"), "MASTER", "BACKUP").unwrap()["reason"],
        "advert from 192.0.2.4 with priority 100, ours 90"
    );
    // A forged gratuitous ARP for the VIP from the client: reported with the client's MAC,
    // once however many frames.
    let client = lab.host("client");
    // The claimant's MAC, forged (arping writes it into the frame and the ARP sender).
    let client_mac = "02:00:00:00:00:66";
    // Gratuitous ARP replies from 192.0.2.3 (arping sends them raw: no address needed; it
    // exits 1 since nobody answers them).
    let sent = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", client.name))
        .args(["--", "arping", "-U", "-P", "-c", "3", "-i", "eth0", "-p"])
        .args(["-s", client_mac])
        .args(["-S", "192.0.2.3", "192.0.2.3"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("ARPING 192.0.2.3"),
        "{sent:?}"
    );
    // Only the client's claims count: lb02's own kernel may have claimed the VIP too, in the
    // instant between lb01's takeover and lb02's release (an ARP from the VIP, seen once in CI
    // at the very millisecond of the preemption), a real claim and an episode of its own.
    let from_client = || {
        json01
            .events("address_conflict")
            .into_iter()
            .filter(|e| e["mac"] == client_mac)
            .collect::<Vec<_>>()
    };
    wait_for(Duration::from_secs(2), || !from_client().is_empty()).unwrap_or_else(|| {
        panic!(
            "{:?}\n{}\n{}",
            json01.lines(),
            lb01.status_json()[0].clone(),
            lb01.log_text()
        )
    });
    let e = from_client();
    assert_eq!(e.len(), 1, "{:?}", json01.events("address_conflict"));
    assert_eq!(e[0]["address"], "192.0.2.3");
    assert_eq!(e[0]["mac"], client_mac);
    let s = lb01.status_json()[0].clone();
    assert_eq!(s["address_conflict"]["mac"], client_mac, "{s}");
    assert!(
        s["address_conflict"]["frames"].as_u64().unwrap() >= 1,
        "{s}"
    );
    assert!(
        s["interface_counters"]["arp_conflict"].as_u64().unwrap() >= 3,
        "{s}"
    );
    let claims = lb01
        .log_text()
        .lines()
        .filter(|l| l.contains(&format!("{client_mac} claims 192.0.2.3")))
        .count();
    assert_eq!(claims, 1, "{}", lb01.log_text());

    let s = lb01.status_json()[0].clone();
    let to: Vec<&str> = s["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        ["BACKUP", "MASTER", "FAULT", "INIT", "BACKUP", "MASTER"],
        "{s}"
    );
    assert!(
        s["transitions"][3]["reason"]
            .as_str()
            .unwrap()
            .starts_with("fault cleared: eth0 up"),
        "{s}"
    );
}

/// Where each vrrpd serves its metrics, inside its own namespace.
const METRICS: &str = "127.0.0.1:9650";

/// The seed config `name` with `notify_split_brain` running `hook` with `out` as its first
/// argument.
fn with_hook(dir: &Path, name: &str, hook: &Path, out: &Path) -> PathBuf {
    let seed = std::fs::read_to_string(lab::tutorial(name)).unwrap();
    let line = format!(
        "    advert_int 1\n    notify_split_brain \"{} {}\"\n",
        hook.display(),
        out.display()
    );
    assert!(seed.contains("    advert_int 1\n"), "{seed}");
    let path = dir.join(name);
    std::fs::write(&path, seed.replacen("    advert_int 1\n", &line, 1)).unwrap();
    path
}

/// A scrape of the metrics of the vrrpd in `host`, checked by promtool.
fn scrape(lab: &Lab, host: &str) -> String {
    let (code, body) = http_get(lab.host(host), METRICS, "/metrics").expect("metrics");
    assert_eq!(code, 200, "{body}");
    promtool(&body);
    body
}

/// The value of `vrrpd_instance_split_brain` for VI_1 in a scrape.
fn split_brain_gauge(text: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with("vrrpd_instance_split_brain{vrrp_instance=\"VI_1\""))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

/// The lines a `notify_split_brain` hook wrote: its arguments joined by `|`.
fn hook_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_split_brain_is_reported_once_in_the_log_status_and_events() {
    if !lab::privileged("a_split_brain_is_reported_once_in_the_log_status_and_events")
        || !installed(
            "a_split_brain_is_reported_once_in_the_log_status_and_events",
            "promtool",
        )
    {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let hook = dir.join("split.sh");
    std::fs::write(
        &hook,
        "#!/bin/sh\nout=$1\nshift\nprintf '%s|' \"$@\" >> \"$out\"\necho >> \"$out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (out01, out02) = (dir.join("split.lb01"), dir.join("split.lb02"));
    let start = |host: &str, out: &Path| {
        let conf = with_hook(&dir, &format!("{host}.conf"), &hook, out);
        Vrrpd::start_with_args(
            &vrrpd(),
            lab.host(host),
            &conf,
            &dir,
            host,
            &["--metrics-listen", METRICS],
        )
    };
    let lb01 = start("lb01", &out01);
    wait_master_first(&lb01, Duration::from_secs(6));
    let lb02 = start("lb02", &out02);
    wait_for(Duration::from_secs(5), || {
        lb01.state().as_deref() == Some("MASTER") && lb02.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.log_text(), lb02.log_text()));
    let events01 = Follower::start(&lb01, true);
    let events02 = Follower::start(&lb02, true);
    // lb02 has heard lb01 as master before the switch cuts it off (on a loaded machine its
    // first advert may come after any fixed sleep): lb02's takeover then names lb01.
    wait_for(Duration::from_secs(5), || {
        lb02.status_json()[0].clone()["adverts_seen"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    })
    .unwrap_or_else(|| panic!("lb02 heard no advert of lb01\n{}", lb02.log_text()));
    assert_eq!(split_brain_gauge(&scrape(&lab, "lb01")), Some(0));
    // The switch drops lb01's adverts (one direction only): lb02 no longer hears a master
    // and takes over, while lb01 stays master and hears lb02's adverts of priority 90. Its
    // answers are dropped too, so lb02 never yields: two masters. lb02 hears no other
    // master, but lb01 answers each of its adverts with gratuitous ARPs from the VMAC.
    let table = Table::new(&lab, lab.port("lb01"));
    wait_for(Duration::from_secs(6), || {
        lb02.state().as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("{}", lb02.log_text()));
    // Both sides report it in their events, their metrics, and by running their hooks; within
    // two advert intervals of lb02's takeover by the daemons' own clocks (below): the polls
    // of this test come later on a busy machine.
    let both = wait_for(Duration::from_secs(5), || {
        !events01.events("split_brain").is_empty()
            && !events02.events("split_brain").is_empty()
            && split_brain_gauge(&scrape(&lab, "lb01")) == Some(1)
            && split_brain_gauge(&scrape(&lab, "lb02")) == Some(1)
            && hook_lines(&out01).len() == 1
            && hook_lines(&out02).len() == 1
    });
    both.unwrap_or_else(|| {
        panic!(
            "{:?}\n{:?}\n{:?} {:?}\n{}\n{}",
            events01.lines(),
            events02.lines(),
            hook_lines(&out01),
            hook_lines(&out02),
            lb01.log_text(),
            lb02.log_text()
        )
    });
    // lb01 reports at lb02's first advert; lb02 once lb01's gratuitous ARPs have gone on for
    // half an interval: lb01 answers the advert of lb02 it reads at its next look at the
    // stamps (a master looks once an advert interval), so its second burst comes one to two
    // intervals after the takeover. Two intervals, and 100 ms for the frames and the peer's
    // answer.
    let takeover = events02
        .events("transition")
        .iter()
        .find(|t| t["to"] == "MASTER")
        .map(|t| ms_of_day(&t["time"]))
        .expect("lb02's takeover in its events");
    for (side, events) in [("lb01", &events01), ("lb02", &events02)] {
        let at = ms_of_day(&events.events("split_brain")[0]["time"]);
        // Over midnight, the next day's time.
        let after = match at - takeover {
            d if d < -43_200_000 => d + 86_400_000,
            d => d,
        };
        assert!(
            after <= 2 * 1000 + 100,
            "{side} reported the split brain {after} ms after lb02's takeover"
        );
    }
    let e = &events01.events("split_brain")[0];
    assert_eq!(e["instance"], "VI_1");
    assert_eq!(e["peer"], "192.0.2.5");
    assert_eq!(e["peer_priority"], 90);
    assert_eq!(e["priority"], 100);
    assert_eq!(lb01.state().as_deref(), Some("MASTER"));
    // lb02 knows the other master by what it claims and from which MAC (lb01's adverts do
    // not reach it).
    let e = &events02.events("split_brain")[0];
    assert_eq!(e["instance"], "VI_1");
    assert_eq!(e["peer"], serde_json::Value::Null);
    assert_eq!(e["mac"], VMAC_50);
    assert_eq!(e["claimed"], "192.0.2.3");
    assert_eq!(e["priority"], 90);
    assert_eq!(hook_lines(&out02), [format!("VI_1|unknown|{VMAC_50}|")]);
    let h01 = hook_lines(&out01);
    assert!(h01[0].starts_with("VI_1|192.0.2.5|"), "{h01:?}");
    // It goes on for a few adverts: one report each, counted adverts, shown in status.
    std::thread::sleep(Duration::from_secs(3));
    let s = lb01.status_json()[0].clone();
    assert_eq!(s["split_brain"]["peer"], "192.0.2.5", "{s}");
    assert_eq!(s["split_brain"]["reported"], true);
    assert!(s["split_brain"]["adverts"].as_u64().unwrap() >= 3, "{s}");
    assert_eq!(s["split_brains"], 1);
    let text = status_text(&lb01);
    assert!(
        text.contains("SPLIT BRAIN: 192.0.2.5 priority 90"),
        "{text}"
    );
    let s = lb02.status_json()[0].clone();
    assert_eq!(s["split_brain"]["mac"], VMAC_50, "{s}");
    assert_eq!(s["split_brain"]["reported"], true);
    assert!(s["split_brain"]["claims"].as_u64().unwrap() >= 3, "{s}");
    assert_eq!(s["split_brains"], 1);
    assert_eq!(s["address_conflict"], serde_json::Value::Null, "{s}");
    let text02 = status_text(&lb02);
    assert!(
        text02.contains(&format!(
            "SPLIT BRAIN: another master (its adverts do not reach us), claims 192.0.2.3 \
             from {VMAC_50}"
        )),
        "{text02}"
    );
    // For a person running it with --nocapture.
    println!("lb01's vrrpd status during the split brain:\n{text}");
    println!("lb02's:\n{text02}");
    let reported = |log: &str| {
        log.lines()
            .filter(|l| l.contains("split brain: 192.0.2.5"))
            .count()
    };
    assert_eq!(reported(&lb01.log_text()), 1, "{}", lb01.log_text());
    let reported02 = |log: &str| {
        log.lines()
            .filter(|l| l.contains("split brain: another master of VRID 50"))
            .count()
    };
    assert_eq!(reported02(&lb02.log_text()), 1, "{}", lb02.log_text());
    assert_eq!(events01.events("split_brain").len(), 1);
    assert_eq!(events02.events("split_brain").len(), 1);
    assert_eq!((hook_lines(&out01).len(), hook_lines(&out02).len()), (1, 1));
    let m = scrape(&lab, "lb02");
    assert!(
        m.contains(
            "vrrpd_instance_split_brains_total{vrrp_instance=\"VI_1\",vrid=\"50\",\
             interface=\"eth0\",family=\"ipv4\"} 1"
        ),
        "{m}"
    );

    // The switch lets lb01's adverts through again: lb02 yields (its split brain is over
    // with it), and once lb02 has been quiet for Master_Down_Interval lb01's is over too.
    drop(table);
    wait_for(Duration::from_secs(3), || {
        lb02.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("{}", lb02.log_text()));
    wait_for(Duration::from_secs(6), || {
        !events01.events("split_brain_over").is_empty()
            && !events02.events("split_brain_over").is_empty()
    })
    .unwrap_or_else(|| {
        panic!(
            "{:?}\n{:?}\n{}",
            events01.lines(),
            events02.lines(),
            lb01.log_text()
        )
    });
    let over = &events01.events("split_brain_over")[0];
    assert_eq!(over["peer"], "192.0.2.5");
    assert!(over["adverts"].as_u64().unwrap() >= 3, "{over}");
    assert_eq!(
        lb01.status_json()[0].clone()["split_brain"],
        serde_json::Value::Null
    );
    assert_eq!(split_brain_gauge(&scrape(&lab, "lb01")), Some(0));
    assert_eq!(
        events02.events("split_brain_over")[0]["reason"],
        "we are BACKUP now"
    );
    println!("lb01's vrrpd events --json:");
    for l in events01.lines() {
        println!("{l}");
    }
    println!("lb02's:");
    for l in events02.lines() {
        println!("{l}");
    }
    assert_eq!(reported(&lb01.log_text()), 1);
    // lb02's side: it says why it took over and why it stepped down.
    let t = events02.events("transition");
    assert!(
        transition(&t, "BACKUP", "MASTER").unwrap()["reason"]
            .as_str()
            .unwrap()
            .starts_with("no advert from 192.0.2.4 for "),
        "{t:?}"
    );
    assert_eq!(
        transition(&t, "MASTER", "BACKUP").unwrap()["reason"],
        "advert from 192.0.2.4 with priority 100, ours 90"
    );
}

/// An nftables table on the lab's switch dropping the VRRP frames that come in from `port`,
/// deleted on drop.
struct Table<'a> {
    lab: &'a Lab,
}

impl<'a> Table<'a> {
    fn new(lab: &'a Lab, port: &str) -> Self {
        lab.sw.exec(&["nft", "add table bridge incident"]);
        lab.sw.exec(&[
            "nft",
            "add chain bridge incident drop_vrrp { type filter hook forward priority 0; policy \
             accept; }",
        ]);
        lab.sw.exec(&[
            "nft",
            &format!("add rule bridge incident drop_vrrp iifname \"{port}\" ip protocol 112 drop"),
        ]);
        Table { lab }
    }
}

impl Drop for Table<'_> {
    fn drop(&mut self) {
        // Not `exec`, which panics: a failing test must still get here quietly.
        let _ = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.lab.sw.name))
            .args(["--", "nft", "delete table bridge incident"])
            .status();
    }
}
