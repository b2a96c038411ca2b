//! Opening an interface: its XDP program, events, transmit socket and multicast groups; what
//! the controller is told of the host.

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use anyhow::Result;
use vrrp_common::maps::{IFACE_EXCLUSIVE, IfaceConfig};

use super::{Iface, RunOptions};
use crate::{
    config::Config,
    controller::{self, Host, IfaceInfo},
    dataplane::{Attached, Dataplane, ModeChoice, monotonic_ns},
    netlink::Netlink,
    tx::{McastMembership, PacketTx},
};

impl Iface {
    /// Joins the adverts' groups `global` names (IPv4 if the interface has an IPv4 address,
    /// IPv6 if it has a link-local one) and leaves groups no longer named, as a reload changes
    /// `vrrp_mcast_group4/6`.
    pub(super) fn join_groups(&mut self, global: &crate::config::Global) -> Result<()> {
        let mut wanted = Vec::new();
        if self.info.primary4.is_some() {
            wanted.push(IpAddr::V4(global.mcast_group4));
        }
        if self.info.link_local.is_some() {
            wanted.push(IpAddr::V6(global.mcast_group6));
        }
        self.memberships.retain(|(g, _)| wanted.contains(g));
        for group in wanted {
            if self.memberships.iter().any(|(g, _)| *g == group) {
                continue;
            }
            let membership = match (group, self.info.primary4) {
                (IpAddr::V4(g), Some(local)) => McastMembership::join_v4(local, g)?,
                (IpAddr::V6(g), _) => McastMembership::join_v6(self.link.index, g)?,
                (IpAddr::V4(_), None) => continue,
            };
            self.memberships.push((group, membership));
        }
        Ok(())
    }
}

/// Whether `interface` forwards IPv6: its neighbour advertisements then carry the Router flag,
/// as the kernel's and keepalived's do.
fn forwards_ipv6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

/// Whether interface `name` is up with a carrier (one that does not exist is down).
pub(super) async fn link_up(netlink: &Netlink, name: &str) -> bool {
    netlink.link(name).await.is_ok_and(|l| l.up)
}

/// What the controller needs to know of the host for `config`: the interfaces' addresses and
/// the watched links' states.
pub(super) async fn host(
    netlink: &Netlink,
    ifaces: &BTreeMap<String, Iface>,
    config: &Config,
) -> Host {
    let mut links = BTreeMap::new();
    for name in controller::watched(config) {
        let up = link_up(netlink, &name).await;
        links.insert(name, up);
    }
    Host {
        ifaces: ifaces
            .iter()
            .map(|(name, i)| (name.clone(), i.info.clone()))
            .collect(),
        links,
        files: crate::track_file::initial(config),
        processes: crate::track_process::initial(&config.track_processes)
            .into_iter()
            .collect(),
        // Under the policy of `scripts::configure`.
        refused_scripts: config
            .scripts
            .iter()
            .filter_map(|s| Some((s.name.clone(), crate::scripts::track_command(s).err()?)))
            .collect(),
        unopened: BTreeMap::new(),
    }
}

pub(super) async fn open_iface(
    netlink: &Netlink,
    name: &str,
    options: &RunOptions,
    global: &crate::config::Global,
) -> Result<Iface> {
    let link = netlink.link(name).await?;
    let addresses = netlink.addresses(link.index).await?;
    let primary4 = addresses.iter().find_map(|(a, _)| match a {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    });
    let link_local = addresses.iter().find_map(|(a, _)| match a {
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(*v6),
        _ => None,
    });
    let mut dp = Dataplane::load()?;
    let mode = if link.is_veth {
        log::info!("{name}: veth, attaching XDP in generic mode so that XDP_TX reaches the peer");
        ModeChoice::Generic
    } else {
        ModeChoice::Auto
    };
    match dp.attach_pinned(name, &options.pin_root, mode)? {
        Attached::New(m) => log::info!("{name}: XDP attached ({m:?})"),
        Attached::TakenOver => {
            log::info!("{name}: took over the XDP program left by an earlier vrrpd")
        }
    }
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: 3 * 1_000_000_000,
        pass_gap_ns: 10_000_000,
        mac: link.mac,
        flags: if options.exclusive {
            IFACE_EXCLUSIVE
        } else {
            0
        },
        ..IfaceConfig::default()
    })?;
    // The kernel's own neighbour discovery from an active IPv6 VIP must carry the VMAC.
    match dp.attach_egress_pinned(name, &options.pin_root) {
        Ok(Attached::New(_)) => log::info!("{name}: tc egress program attached"),
        Ok(Attached::TakenOver) => {
            log::info!("{name}: took over the tc egress program left by an earlier vrrpd")
        }
        Err(e) => log::warn!(
            "{name}: no tc egress program ({e:#}): the kernel's neighbour discovery from an \
             IPv6 VIP will carry the interface's MAC"
        ),
    }
    let events = dp.take_events()?.into_async()?;
    // The kernel must not answer ARP requests with the NIC MAC for addresses it sources
    // from the VIP: use the primary address in its own ARP requests.
    let sysctl = format!("/proc/sys/net/ipv4/conf/{name}/arp_announce");
    if let Err(e) = std::fs::write(&sysctl, "2") {
        log::warn!("{name}: could not set arp_announce=2 ({e})");
    }
    let mut iface = Iface {
        counters: Arc::new(dp.counter_reader()?),
        tx: PacketTx::open(name)?,
        outbox: Vec::new(),
        adverts: Default::default(),
        drops: Default::default(),
        outbox_from: Vec::new(),
        memberships: Vec::new(),
        info: IfaceInfo {
            primary4,
            link_local,
            nd_router: forwards_ipv6(name),
        },
        link,
        dp,
        events,
    };
    iface.join_groups(global)?;
    Ok(iface)
}
