//! Accept_Mode (RFC 5798 §6.1, keepalived's `accept`/`no_accept`) on the wire: a master that
//! does not own its addresses (priority below 255) with `no_accept` drops IP traffic to its VIP
//! (a ping, a TCP connect) while ARP and VRRP still work, and with `accept` passes it. keepalived
//! (Debian's, built with nftables) as the master with `no_accept` drops the same traffic.
use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{Keepalived, VIP, VMAC_50, Vrrpd, holds, neighbour, ping_once, run_dir, wait_for},
};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// A keepalived.conf of VRID 50 (v2, VIP 192.0.2.3) with `accept_line` in the instance.
fn config(dir: &Path, name: &str, state: &str, priority: u8, accept_line: &str) -> PathBuf {
    let text = format!(
        "global_defs {{\n    router_id {name}\n}}\nvrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 50\n    priority {priority}\n    advert_int 1\n    {accept_line}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Whether a TCP connect from `client` to the VIP's port 8080 completes within a second.
fn connects(client: &lab::NetNs) -> bool {
    let addr: SocketAddr = format!("{VIP}:8080").parse().unwrap();
    client.run(|| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok())
}

#[test]
fn lab_no_accept_master_drops_vip_traffic_arp_and_vrrp_work_accept_passes() {
    if !lab::privileged("lab_no_accept_master_drops_vip_traffic_arp_and_vrrp_work_accept_passes") {
        return;
    }
    let lab = Lab::seed();
    let dir = run_dir();
    let client = lab.host("client");
    // Listeners on every address of both routers: the kernel completes the handshake.
    let _listeners: Vec<TcpListener> = ["lb01", "lb02"]
        .iter()
        .map(|h| {
            lab.host(h)
                .run(|| TcpListener::bind("0.0.0.0:8080").expect("listen"))
        })
        .collect();

    // vrrpd master (priority 100, not the owner) with no_accept, keepalived backup.
    let ours_conf = config(&dir, "lb01", "MASTER", 100, "no_accept");
    let theirs_conf = config(&dir, "lb02", "BACKUP", 90, "no_accept");
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours_conf, &dir, "lb01");
    let theirs = Keepalived::start(lab.host("lb02"), &theirs_conf, &dir, "lb02");
    wait_for(Duration::from_secs(6), || holds(lab.host("lb01"), VIP))
        .unwrap_or_else(|| panic!("vrrpd not master: {}", ours.log_text()));
    // The primary address is reachable, the VIP is not (ping nor TCP) …
    assert!(lab::daemon::ping(client, "192.0.2.4"));
    assert!(
        !ping_once(client),
        "no_accept: a ping to the VIP was answered"
    );
    assert!(
        !connects(client),
        "no_accept: a TCP connect to the VIP went through"
    );
    // … while ARP for it is answered from the VMAC, and VRRP works: keepalived hears the
    // adverts and stays backup.
    assert_eq!(
        neighbour(client).map(|(mac, _)| mac).as_deref(),
        Some(VMAC_50)
    );
    assert!(
        !holds(lab.host("lb02"), VIP),
        "keepalived took over: {}",
        theirs.log_text()
    );
    assert_eq!(ours.state().as_deref(), Some("MASTER"));

    // `accept`, reloaded: the instance changed, restarts, and is master again; its VIP answers.
    config(&dir, "lb01", "MASTER", 100, "accept");
    ours.child.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(8), || {
        holds(lab.host("lb01"), VIP) && ping_once(client)
    })
    .unwrap_or_else(|| panic!("accept: the VIP is not answered: {}", ours.log_text()));
    assert!(connects(client), "accept: a TCP connect to the VIP failed");
    assert!(!holds(lab.host("lb02"), VIP));

    // keepalived as the master with no_accept does the same (its nftables rule): vrrpd stops,
    // keepalived takes over, and the VIP answers ARP but not a ping or a connect.
    drop(ours);
    wait_for(Duration::from_secs(5), || holds(lab.host("lb02"), VIP))
        .unwrap_or_else(|| panic!("keepalived did not take over: {}", theirs.log_text()));
    client.exec(&["ip", "neigh", "flush", "dev", "eth0"]);
    assert!(lab::daemon::ping(client, "192.0.2.5"));
    assert!(
        !ping_once(client),
        "keepalived no_accept: a ping was answered"
    );
    assert!(
        !connects(client),
        "keepalived no_accept: a connect went through"
    );
    assert!(
        neighbour(client).is_some(),
        "keepalived answers ARP for its VIP"
    );
}
