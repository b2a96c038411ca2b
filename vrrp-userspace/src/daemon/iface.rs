//! Opening an interface: its XDP program, events and transmit socket; holding the multicast
//! groups the controller names; what the controller is told of the host.

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use anyhow::Result;
use vrrp_common::maps::{IFACE_EXCLUSIVE, IfaceConfig};

use super::{Iface, RunOptions};
use crate::{
    config::Config,
    controller::{self, Host, IfaceInfo, McastGroup},
    dataplane::{Attached, Dataplane, ModeChoice, monotonic_ns},
    netlink::Netlink,
    tx::{McastMembership, PacketTx},
};

impl Iface {
    /// [`controller::Effect::JoinGroups`]: holds exactly `groups` on the interface (the
    /// controller's choice), joining those not held yet and leaving the others.
    pub(super) fn join_groups(&mut self, groups: &[McastGroup]) -> Result<()> {
        self.memberships.retain(|(g, _)| groups.contains(g));
        for &group in groups {
            if self.memberships.iter().any(|(g, _)| *g == group) {
                continue;
            }
            let membership = match group {
                McastGroup::V4 { group, local } => McastMembership::join_v4(local, group)?,
                McastGroup::V6 { group } => McastMembership::join_v6(self.link.index, group)?,
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

/// What the controller needs to know of the host for `config`: the addresses of the
/// interfaces (read now: one may have gained or lost an address since it was opened) and the
/// watched links' states.
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
    let mut infos = BTreeMap::new();
    for (name, i) in ifaces {
        infos.insert(name.clone(), iface_info(netlink, name, i.link.index).await);
    }
    Host {
        ifaces: infos,
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

/// What the controller is told of interface `name` (index `index`): its first IPv4 address,
/// its link-local address (none if they cannot be read) and whether it forwards IPv6.
pub(super) async fn iface_info(netlink: &Netlink, name: &str, index: u32) -> IfaceInfo {
    let addresses = netlink.addresses(index).await.unwrap_or_default();
    IfaceInfo {
        primary4: addresses.iter().find_map(|(a, _)| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        }),
        link_local: addresses.iter().find_map(|(a, _)| match a {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(*v6),
            _ => None,
        }),
        nd_router: forwards_ipv6(name),
    }
}

/// Opens the interfaces `config`'s instances run on that are not in `ifaces` yet, into it;
/// the one that could not be opened, with why ([`Host::unopened`]: the controller refuses
/// the configuration, at start as at a reload). Each is looked up before any is opened, so
/// that a configuration naming an interface this host lacks touches nothing; after the first
/// that fails, the others are not opened.
pub(super) async fn open_missing(
    netlink: &Netlink,
    ifaces: &mut BTreeMap<String, Iface>,
    config: &Config,
    options: &RunOptions,
) -> BTreeMap<String, String> {
    let names: Vec<String> = controller::interfaces(config)
        .into_iter()
        .filter(|n| !ifaces.contains_key(n))
        .collect();
    for name in &names {
        if let Err(e) = netlink.link(name).await {
            return [(name.clone(), format!("{e:#}"))].into();
        }
    }
    for name in names {
        match open_iface(netlink, &name, options).await {
            Ok(iface) => {
                ifaces.insert(name, iface);
            }
            Err(e) => return [(name, format!("{e:#}"))].into(),
        }
    }
    BTreeMap::new()
}

/// Opens interface `name`: its XDP program (attached or taken over), events and transmit
/// socket. Its multicast groups are the controller's ([`Iface::join_groups`]).
pub(super) async fn open_iface(
    netlink: &Netlink,
    name: &str,
    options: &RunOptions,
) -> Result<Iface> {
    let link = netlink.link(name).await?;
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
    Ok(Iface {
        counters: Arc::new(dp.counter_reader()?),
        tx: PacketTx::open(name)?,
        outbox: Default::default(),
        adverts: Default::default(),
        drops: Default::default(),
        memberships: Vec::new(),
        stamps: [None, None],
        link,
        dp,
        events,
    })
}
