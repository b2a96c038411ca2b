//! rtnetlink effects in a namespace: the interface's facts, VIPs added with a label and
//! removed, the VMAC in the unicast filter; the kernel's link announcements.
use std::{net::IpAddr, time::Duration};

use vrrp_userspace::{
    config::{Scope, Vip},
    lab::{self, VethPair},
    netlink::{LinkEvents, Netlink},
};

/// Runs `f` to completion on a current-thread runtime (of the calling thread's namespace).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn vips_and_vmac_filter_come_and_go() {
    if !lab::privileged("vips_and_vmac_filter_come_and_go") {
        return;
    }
    let pair = VethPair::new();
    let b_if = pair.b_if.clone();
    pair.b.run(|| {
        block_on(async {
            let nl = Netlink::new().unwrap();
            let link = nl.link(&b_if).await.unwrap();
            assert!(link.is_veth);
            assert_ne!(link.mac, [0; 6]);
            assert!(nl.link("nonexistent0").await.is_err());

            let vip = Vip {
                address: "192.0.2.3".parse().unwrap(),
                prefix_len: 32,
                dev: b_if.clone(),
                label: Some(format!("{b_if}:1")),
                scope: Scope::Global,
                broadcast: None,
            };
            nl.add_vip(link.index, &vip).await.unwrap();
            nl.add_vip(link.index, &vip)
                .await
                .expect("adding twice is fine");
            let addrs = nl.addresses(link.index).await.unwrap();
            assert!(addrs.contains(&(vip.address, 32)), "{addrs:?}");
            assert!(nl.del_vip(link.index, vip.address).await.unwrap());
            assert!(
                !nl.del_vip(link.index, vip.address).await.unwrap(),
                "already gone"
            );
            let addrs = nl.addresses(link.index).await.unwrap();
            assert!(!addrs.iter().any(|(a, _)| *a == vip.address));
            assert!(addrs.contains(&("192.0.2.2".parse::<IpAddr>().unwrap(), 24)));

            let vmac = [0, 0, 0x5e, 0, 1, 50];
            nl.add_unicast_mac(link.index, vmac).await.unwrap();
        });
    });
    let fdb = pair.b.exec(&["bridge", "fdb", "show", "dev", &pair.b_if]);
    assert!(
        fdb.contains("00:00:5e:00:01:32") && fdb.contains("self"),
        "{fdb}"
    );
    pair.b.run(|| {
        block_on(async {
            let nl = Netlink::new().unwrap();
            let link = nl.link(&b_if).await.unwrap();
            nl.del_unicast_mac(link.index, [0, 0, 0x5e, 0, 1, 50])
                .await
                .unwrap();
            nl.del_unicast_mac(link.index, [0, 0, 0x5e, 0, 1, 50])
                .await
                .expect("removing twice is fine");
        });
    });
    let fdb = pair.b.exec(&["bridge", "fdb", "show", "dev", &pair.b_if]);
    assert!(!fdb.contains("00:00:5e:00:01:32"), "{fdb}");
}

/// The kernel's link announcements reach `LinkEvents`: the carrier goes when the veth's peer
/// goes down, and comes back with it.
#[test]
fn link_events_report_carrier_loss_and_return() {
    if !lab::privileged("link_events_report_carrier_loss_and_return") {
        return;
    }
    let pair = VethPair::new();
    let b_if = pair.b_if.clone();
    let a = &pair.a;
    let a_if = pair.a_if.clone();
    pair.b.run(|| {
        block_on(async {
            let mut events = LinkEvents::open().unwrap();
            // The next state announced for b_if (other links' news is skipped).
            let mut next_of_b = async || loop {
                let (name, up) = tokio::time::timeout(Duration::from_secs(10), events.next())
                    .await
                    .expect("a link announcement within 10 s")
                    .expect("the link group's connection is open");
                if name == b_if {
                    return up;
                }
            };
            a.exec(&["ip", "link", "set", &a_if, "down"]);
            while next_of_b().await {}
            a.exec(&["ip", "link", "set", &a_if, "up"]);
            while !next_of_b().await {}
        });
    });
}

#[test]
fn stale_vips_found_in_one_read_and_own_vips_removed_without_one() {
    if !lab::privileged("stale_vips_found_in_one_read_and_own_vips_removed_without_one") {
        return;
    }
    let pair = VethPair::new();
    let b_if = pair.b_if.clone();
    pair.b.run(|| {
        block_on(async {
            let nl = Netlink::new().unwrap();
            let link = nl.link(&b_if).await.unwrap();
            let vip = |address: &str, prefix_len: u8| Vip {
                address: address.parse().unwrap(),
                prefix_len,
                dev: b_if.clone(),
                label: None,
                scope: Scope::Global,
                broadcast: None,
            };
            let (a, b, c) = (
                vip("198.51.100.7", 32),
                vip("2001:db8::7", 128),
                vip("198.51.100.8", 32),
            );
            for v in [&a, &b, &c] {
                nl.add_vip(link.index, v).await.unwrap();
            }
            // One read; then the listed addresses go one request each, the unlisted stay.
            let mut list = nl.address_list(link.index).await.unwrap();
            let late = vip("198.51.100.9", 32);
            nl.add_vip(link.index, &late).await.unwrap();
            assert!(nl.del_listed(&mut list, a.address).await.unwrap());
            assert!(!nl.del_listed(&mut list, a.address).await.unwrap(), "gone");
            assert!(nl.del_listed(&mut list, b.address).await.unwrap());
            assert!(
                !nl.del_listed(&mut list, late.address).await.unwrap(),
                "added after the read: not stale"
            );
            let addrs = nl.addresses(link.index).await.unwrap();
            assert!(
                !addrs
                    .iter()
                    .any(|(x, _)| *x == a.address || *x == b.address)
            );
            assert!(addrs.iter().any(|(x, _)| *x == late.address), "{addrs:?}");
            // Our own VIPs, by address and prefix, IPv4 and IPv6; absent is not an error.
            nl.add_vip(link.index, &b).await.unwrap();
            for v in [&c, &late, &b] {
                assert!(
                    nl.del_own_vip(link.index, v).await.unwrap(),
                    "{}",
                    v.address
                );
                assert!(
                    !nl.del_own_vip(link.index, v).await.unwrap(),
                    "{}",
                    v.address
                );
            }
            let addrs = nl.addresses(link.index).await.unwrap();
            assert!(
                !addrs
                    .iter()
                    .any(|(x, _)| [a.address, b.address, c.address, late.address].contains(x)),
                "{addrs:?}"
            );
            assert!(addrs.contains(&("192.0.2.2".parse::<IpAddr>().unwrap(), 24)));
        });
    });
}
