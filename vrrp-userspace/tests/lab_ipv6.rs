//! IPv6 instances end to end with two vrrpd: VRRPv3 over IPv6 (adverts from the link-local
//! address and the VMAC 00:00:5e:00:02:VRID to ff02::12), the VIP 2001:db8::3 on the master
//! only, the client's neighbour entry for it the IPv6 VMAC, failover on link loss with the
//! client's pings resuming; and on the wire, every neighbour discovery frame that announces
//! the VIP (the XDP responder's, the unsolicited ones, and the kernel's own solicitations sent
//! from the VIP) carrying the VMAC, checked in a capture by tshark.
use std::{path::PathBuf, time::Duration};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{VIP6, VMAC6_50, Vrrpd, holds, link_local, neighbour_of, ping, run_dir, wait_for},
};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// A keepalived.conf with one IPv6 instance (VRID 50, so version 3 by keepalived's rule).
pub fn config6(dir: &std::path::Path, name: &str, state: &str, priority: u8) -> PathBuf {
    let text = format!(
        "vrrp_instance VI_6 {{\n    state {state}\n    interface eth0\n    virtual_router_id 50\n    priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP6}\n    }}\n}}\n"
    );
    let path = dir.join(format!("{name}-v6.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// tshark over the capture, one line per frame, `fields` separated by tabs.
fn tshark(file: &std::path::Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut args = vec!["-r", file.to_str().unwrap(), "-Y", filter, "-T", "fields"];
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = std::process::Command::new("tshark")
        .args(&args)
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn ipv6_pair_elects_answers_nd_from_the_vmac_and_fails_over() {
    if !lab::privileged("ipv6_pair") {
        return;
    }
    let lab = Lab::seed6();
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let capture = lab.capture(&pcap);
    std::thread::sleep(Duration::from_millis(300));
    let (lb01, lb02, client) = (lab.host("lb01"), lab.host("lb02"), lab.host("client"));
    let a = Vrrpd::start(
        &vrrpd(),
        lb01,
        &config6(&dir, "lb01", "MASTER", 100),
        &dir,
        "lb01",
    );
    let b = Vrrpd::start(
        &vrrpd(),
        lb02,
        &config6(&dir, "lb02", "BACKUP", 90),
        &dir,
        "lb02",
    );
    wait_for(Duration::from_secs(5), || {
        a.state().as_deref() == Some("MASTER") && b.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("lb01:\n{}\nlb02:\n{}", a.log_text(), b.log_text()));
    assert!(holds(lb01, VIP6) && !holds(lb02, VIP6));
    // Added without duplicate address detection, as keepalived does.
    let addr = lb01.exec(&["ip", "-6", "-o", "addr", "show", "dev", "eth0", "to", VIP6]);
    assert!(addr.contains("nodad"), "{addr}");
    // lb02 follows lb01's v3 adverts, from its link-local address.
    let lb01_ll = link_local(lb01);
    wait_for(Duration::from_secs(3), || {
        b.status()
            .is_some_and(|s| s.master == Some(lb01_ll.parse().unwrap()) && s.adverts_seen >= 2)
    })
    .unwrap_or_else(|| panic!("lb02 does not follow lb01: {:?}", b.status()));

    // The client reaches the VIP, and its neighbour entry is the IPv6 VMAC.
    wait_for(Duration::from_secs(3), || ping(client, VIP6)).expect("ping6 to the VIP");
    let (mac, _) = neighbour_of(client, VIP6).expect("a neighbour entry for the VIP");
    assert_eq!(mac, VMAC6_50);

    // lb01's link goes down: lb02 takes over (Master_Down_Interval 3.64 s), and the client's
    // pings resume with the same neighbour entry.
    lab.link_down("lb01");
    let took = wait_for(Duration::from_secs(6), || holds(lb02, VIP6))
        .unwrap_or_else(|| panic!("lb02 did not take over:\n{}", b.log_text()));
    eprintln!("takeover after link down: {took:?}");
    assert_eq!(b.state().as_deref(), Some("MASTER"));
    wait_for(Duration::from_secs(5), || ping(client, VIP6))
        .expect("ping6 to the VIP resumes on lb02");
    let (mac, _) = neighbour_of(client, VIP6).expect("a neighbour entry for the VIP");
    assert_eq!(mac, VMAC6_50);
    // lb01 back: it preempts, lb02 releases the VIP.
    lab.link_up("lb01");
    wait_for(Duration::from_secs(8), || {
        holds(lb01, VIP6) && !holds(lb02, VIP6)
    })
    .unwrap_or_else(|| panic!("lb01 did not take the VIP back:\n{}", a.log_text()));
    wait_for(Duration::from_secs(5), || ping(client, VIP6)).expect("ping6 after preemption");
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);

    // The wire: no malformed frame; adverts from the VMAC to ff02::12 with hop limit 255;
    // every neighbour discovery frame announcing the VIP (advertisements of it, solicitations
    // from it) from the VMAC, with the VMAC in its link-layer option.
    let bad = tshark(
        &pcap,
        "_ws.malformed || _ws.expert.severity == error",
        &["frame.number"],
    );
    assert!(bad.is_empty(), "tshark finds errors in frames {bad:?}");
    let adverts = tshark(
        &pcap,
        "vrrp",
        &["eth.src", "ipv6.dst", "ipv6.hlim", "vrrp.version"],
    );
    assert!(adverts.len() >= 5, "{adverts:?}");
    for a in &adverts {
        assert_eq!(a, &format!("{VMAC6_50}\tff02::12\t255\t3"));
    }
    let announcing = tshark(
        &pcap,
        &format!(
            "(icmpv6.type == 136 && icmpv6.nd.na.target_address == {VIP6}) || \
             (icmpv6.type == 135 && ipv6.src == {VIP6})"
        ),
        &["icmpv6.type", "eth.src", "icmpv6.opt.linkaddr"],
    );
    let solicited_from_vip = announcing.iter().filter(|l| l.starts_with("135")).count();
    let advertised = announcing.iter().filter(|l| l.starts_with("136")).count();
    assert!(
        advertised >= 2 && solicited_from_vip >= 1,
        "expected the VIP's advertisements and the kernel's solicitations from it: {announcing:?}"
    );
    for l in &announcing {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f[1], VMAC6_50, "announced from another MAC: {l}");
        if f.len() > 2 && !f[2].is_empty() {
            assert_eq!(f[2], VMAC6_50, "another MAC in the option: {l}");
        }
    }
}
