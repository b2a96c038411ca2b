//! Effects on the kernel's network configuration, by rtnetlink: the interface's index, MAC and
//! kind; VIPs added and removed; the VMAC in the interface's unicast filter; routes and rules
//! (`virtual_routes`, `virtual_rules`, the static ones) added and removed.
//!
//! The only module that imports `rtnetlink`.

use std::net::IpAddr;

use anyhow::{Context as _, Result, anyhow};

use crate::config::{Family, Route, RouteType, Rule, RuleAction, Scope, Vip};
use futures_util::TryStreamExt as _;
use rtnetlink::{
    Handle,
    packet_route::{
        AddressFamily,
        address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage},
        link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage},
        neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState},
        route::{
            RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
            RouteType as Rtn,
        },
        rule::{RuleAction as FrAction, RuleAttribute, RuleFlags, RuleMessage},
    },
};

/// The addresses of an interface as read at one moment ([`Netlink::address_list`]).
#[derive(Debug, Default)]
pub struct AddressList(Vec<AddressMessage>);

/// What the daemon needs to know of its interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Whether it is a veth (XDP_TX then needs generic mode, see `dataplane::ModeChoice`).
    pub is_veth: bool,
    /// Whether it is up with a carrier (IFF_UP and IFF_LOWER_UP).
    pub up: bool,
}

/// The kernel's announcements of link changes (the RTNLGRP_LINK multicast group): carrier and
/// administrative state as they happen, without a request the daemon must wait for.
pub struct LinkEvents {
    messages: futures_util::stream::BoxStream<
        'static,
        (
            rtnetlink::packet_core::NetlinkMessage<rtnetlink::packet_route::RouteNetlinkMessage>,
            rtnetlink::sys::SocketAddr,
        ),
    >,
}

impl LinkEvents {
    /// Joins the link group on a connection of its own; its driver runs on the current tokio
    /// runtime.
    pub fn open() -> Result<Self> {
        use rtnetlink::sys::AsyncSocket as _;
        let (mut connection, _, messages) =
            rtnetlink::new_connection().context("opening an rtnetlink socket for link events")?;
        connection
            .socket_mut()
            .socket_mut()
            .bind(&rtnetlink::sys::SocketAddr::new(
                0,
                rtnetlink::constants::RTMGRP_LINK,
            ))
            .context("joining the rtnetlink link group")?;
        tokio::spawn(connection);
        Ok(LinkEvents {
            messages: futures_util::StreamExt::boxed(messages),
        })
    }

    /// The next link change: the interface's name and whether it is now up with a carrier (a
    /// deleted one is down). None when the connection is gone.
    pub async fn next(&mut self) -> Option<(String, bool)> {
        use futures_util::StreamExt as _;
        use rtnetlink::{packet_core::NetlinkPayload, packet_route::RouteNetlinkMessage};
        loop {
            let (message, _) = self.messages.next().await?;
            let (link, exists) = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => (l, true),
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => (l, false),
                _ => continue,
            };
            let Some(name) = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            }) else {
                continue;
            };
            return Some((name, exists && carrier(&link)));
        }
    }
}

/// Up with a carrier: IFF_UP and IFF_LOWER_UP.
fn carrier(msg: &LinkMessage) -> bool {
    let flags = msg.header.flags;
    flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp)
}

/// An rtnetlink connection in the current network namespace.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens the connection; its driver runs on the current tokio runtime.
    pub fn new() -> Result<Self> {
        let (connection, handle, _) =
            rtnetlink::new_connection().context("opening an rtnetlink socket")?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// Looks up an interface by name.
    pub async fn link(&self, name: &str) -> Result<Link> {
        let msg: LinkMessage = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_next()
            .await
            .with_context(|| format!("no interface {name}"))?
            .ok_or_else(|| anyhow!("no interface {name}"))?;
        let mut mac = [0u8; 6];
        let mut is_veth = false;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::Address(a) if a.len() == 6 => mac.copy_from_slice(a),
                LinkAttribute::LinkInfo(infos) => {
                    is_veth |= infos
                        .iter()
                        .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
                }
                _ => {}
            }
        }
        Ok(Link {
            index: msg.header.index,
            name: name.to_string(),
            mac,
            is_veth,
            up: carrier(&msg),
        })
    }

    /// The addresses on an interface, with their prefix lengths.
    pub async fn addresses(&self, index: u32) -> Result<Vec<(IpAddr, u8)>> {
        let mut out = Vec::new();
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        while let Some(msg) = stream.try_next().await? {
            if let Some(addr) = local_address(&msg) {
                out.push((addr, msg.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Adds a VIP (`ip addr add VIP/LEN dev IF [label L]`, and `nodad` for IPv6 as keepalived
    /// does: duplicate address detection would hold the address tentative and solicit for it
    /// from ::); an address already there is fine.
    pub async fn add_vip(&self, index: u32, vip: &Vip) -> Result<()> {
        let mut req = self
            .handle
            .address()
            .add(index, vip.address, vip.prefix_len)
            .replace();
        match (&vip.label, vip.address) {
            (Some(label), IpAddr::V4(_)) => req
                .message_mut()
                .attributes
                .push(AddressAttribute::Label(label.clone())),
            (_, IpAddr::V6(_)) => {
                let msg = req.message_mut();
                msg.header.flags |= AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            _ => {}
        }
        req.execute()
            .await
            .with_context(|| format!("adding {}/{}", vip.address, vip.prefix_len))
    }

    /// Every address of interface `index`, read with one dump, for [`Netlink::del_listed`]:
    /// [`Netlink::del_vip`] dumps the interface's addresses for each one it removes, which
    /// made the start of N instances (each removing its stale VIPs while the others added
    /// theirs) O(N²) in netlink messages.
    pub async fn address_list(&self, index: u32) -> Result<AddressList> {
        let all: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .context("reading the interface's addresses")?;
        Ok(AddressList(
            all.into_iter()
                .filter(|m| m.header.index == index && local_address(m).is_some())
                .collect(),
        ))
    }

    /// Removes `addr` if `list` has it (and from `list`); returns whether it was there.
    pub async fn del_listed(&self, list: &mut AddressList, addr: IpAddr) -> Result<bool> {
        let mut removed = false;
        while let Some(at) = list.0.iter().position(|m| local_address(m) == Some(addr)) {
            let msg = list.0.swap_remove(at);
            self.handle
                .address()
                .del(msg)
                .execute()
                .await
                .with_context(|| format!("removing {addr}"))?;
            removed = true;
        }
        Ok(removed)
    }

    /// Removes a VIP we added (the address with its prefix length, as [`Netlink::add_vip`]
    /// added it) with one request, no dump; returns whether it was there.
    pub async fn del_own_vip(&self, index: u32, vip: &Vip) -> Result<bool> {
        let mut msg = AddressMessage::default();
        msg.header.index = index;
        msg.header.prefix_len = vip.prefix_len;
        msg.header.family = match vip.address {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        msg.attributes.push(AddressAttribute::Local(vip.address));
        if vip.address.is_ipv6() {
            msg.attributes.push(AddressAttribute::Address(vip.address));
        }
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(true),
            Err(rtnetlink::Error::NetlinkError(e))
                if matches!(
                    -e.raw_code(),
                    libc::EADDRNOTAVAIL | libc::ENOENT | libc::ENODEV
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e).with_context(|| format!("removing {}", vip.address)),
        }
    }

    /// Removes a VIP if present; returns whether it was there.
    pub async fn del_vip(&self, index: u32, addr: IpAddr) -> Result<bool> {
        let mut list = self.address_list(index).await?;
        self.del_listed(&mut list, addr).await
    }

    /// Puts `mac` into the interface's unicast filter (`bridge fdb add MAC dev IF self`), so a
    /// real NIC delivers frames to the VMAC to XDP without promiscuous mode.
    pub async fn add_unicast_mac(&self, index: u32, mac: [u8; 6]) -> Result<()> {
        self.handle
            .neighbours()
            .add_bridge(index, &mac)
            .flags(NeighbourFlags::Own)
            .replace()
            .execute()
            .await
            .context("adding the VMAC to the unicast filter")
    }

    /// Removes `mac` from the interface's unicast filter.
    pub async fn del_unicast_mac(&self, index: u32, mac: [u8; 6]) -> Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Bridge;
        msg.header.ifindex = index;
        msg.header.flags = NeighbourFlags::Own;
        // The kernel's default FDB only holds static entries, and refuses others (EINVAL).
        msg.header.state = NeighbourState::Permanent;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        match self.handle.neighbours().del(msg).execute().await {
            Ok(()) => Ok(()),
            // Not there: nothing to remove.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENOENT => Ok(()),
            Err(e) => Err(e).context("removing the VMAC from the unicast filter"),
        }
    }
}

impl Netlink {
    /// Adds a route (`ip route replace …`: one with the same destination, table, TOS and
    /// metric is replaced, so adding twice is fine). `oif` is the index of its `dev`.
    pub async fn add_route(&self, route: &Route, oif: Option<u32>) -> Result<()> {
        self.handle
            .route()
            .add(route_message(route, oif, false))
            .replace()
            .execute()
            .await
            .with_context(|| format!("adding route {route}"))
    }

    /// Removes a route; one not there is fine.
    pub async fn del_route(&self, route: &Route, oif: Option<u32>) -> Result<()> {
        match self
            .handle
            .route()
            .del(route_message(route, oif, true))
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e))
                if matches!(-e.raw_code(), libc::ESRCH | libc::ENOENT) =>
            {
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("removing route {route}")),
        }
    }

    /// Adds a rule (`ip rule add …`); the same rule already there is fine.
    pub async fn add_rule(&self, rule: &Rule) -> Result<()> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = rule_message(rule);
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if -e.raw_code() == libc::EEXIST => Ok(()),
            Err(e) => Err(e).with_context(|| format!("adding rule {rule}")),
        }
    }

    /// Removes a rule; one not there is fine.
    pub async fn del_rule(&self, rule: &Rule) -> Result<()> {
        match self.handle.rule().del(rule_message(rule)).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e))
                if matches!(-e.raw_code(), libc::ENOENT | libc::ESRCH) =>
            {
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("removing rule {rule}")),
        }
    }
}

fn address_family(f: Family) -> AddressFamily {
    match f {
        Family::Ipv4 => AddressFamily::Inet,
        Family::Ipv6 => AddressFamily::Inet6,
    }
}

/// The RTM_NEWROUTE/RTM_DELROUTE message keepalived's `netlink_route` sends for a route: scope
/// universe unless given (a delete: nowhere, the wildcard, and the type only if not unicast),
/// its protocol, the table in the header below 256 and as RTA_TABLE above.
fn route_message(route: &Route, oif: Option<u32>, delete: bool) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let h = &mut msg.header;
    h.address_family = address_family(route.family());
    h.destination_prefix_length = route.dst.len;
    h.protocol = RouteProtocol::from(route.protocol);
    h.kind = match route.kind {
        RouteType::Unicast if delete => Rtn::Unspec,
        RouteType::Unicast => Rtn::Unicast,
        RouteType::Local => Rtn::Local,
        RouteType::Broadcast => Rtn::Broadcast,
        RouteType::Anycast => Rtn::Anycast,
        RouteType::Multicast => Rtn::Multicast,
        RouteType::Blackhole => Rtn::BlackHole,
        RouteType::Unreachable => Rtn::Unreachable,
        RouteType::Prohibit => Rtn::Prohibit,
        RouteType::Throw => Rtn::Throw,
    };
    h.scope = match (route.scope, delete) {
        (Some(s), _) => RouteScope::from(scope_number(s)),
        (None, true) => RouteScope::NoWhere,
        (None, false) => RouteScope::Universe,
    };
    if route.onlink {
        h.flags |= RouteFlags::Onlink;
    }
    if route.table < 256 {
        h.table = route.table as u8;
    } else {
        h.table = RouteHeader::RT_TABLE_UNSPEC;
        msg.attributes.push(RouteAttribute::Table(route.table));
    }
    let a = &mut msg.attributes;
    if route.dst.len > 0 || !route.dst.address.is_unspecified() {
        a.push(RouteAttribute::Destination(route.dst.address.into()));
    }
    if let Some(from) = route.from {
        msg.header.source_prefix_length = from.len;
        a.push(RouteAttribute::Source(from.address.into()));
    }
    if let Some(src) = route.src {
        a.push(RouteAttribute::PrefSource(src.into()));
    }
    if let Some(via) = route.via {
        a.push(RouteAttribute::Gateway(via.into()));
    }
    if let Some(oif) = oif {
        a.push(RouteAttribute::Oif(oif));
    }
    if let Some(m) = route.metric {
        a.push(RouteAttribute::Priority(m));
    }
    msg
}

/// The kernel's number of a scope.
pub fn scope_number(s: Scope) -> u8 {
    match s {
        Scope::Global => 0,
        Scope::Site => 200,
        Scope::Link => 253,
        Scope::Host => 254,
        Scope::Nowhere => 255,
    }
}

/// The RTM_NEWRULE/RTM_DELRULE message for a rule (keepalived's `netlink_rule`).
fn rule_message(rule: &Rule) -> RuleMessage {
    let mut msg = RuleMessage::default();
    let h = &mut msg.header;
    h.family = address_family(rule.family);
    if rule.not {
        h.flags |= RuleFlags::Invert;
    }
    let a = &mut msg.attributes;
    h.action = match rule.action {
        RuleAction::Table(t) => {
            if t < 256 {
                h.table = t as u8;
            } else {
                a.push(RuleAttribute::Table(t));
            }
            FrAction::ToTable
        }
        RuleAction::Goto(n) => {
            a.push(RuleAttribute::Goto(n));
            FrAction::Goto
        }
        RuleAction::Nop => FrAction::Nop,
        RuleAction::Blackhole => FrAction::Blackhole,
        RuleAction::Unreachable => FrAction::Unreachable,
        RuleAction::Prohibit => FrAction::Prohibit,
    };
    a.push(RuleAttribute::Priority(rule.priority));
    if let Some(p) = rule.from {
        h.src_len = p.len;
        a.push(RuleAttribute::Source(p.address));
    }
    if let Some(p) = rule.to {
        h.dst_len = p.len;
        a.push(RuleAttribute::Destination(p.address));
    }
    if let Some(m) = rule.fwmark {
        a.push(RuleAttribute::FwMark(m));
    }
    if let Some(m) = rule.fwmask {
        a.push(RuleAttribute::FwMask(m));
    }
    if let Some(i) = &rule.iif {
        a.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(i) = &rule.oif {
        a.push(RuleAttribute::Oifname(i.clone()));
    }
    a.push(RuleAttribute::Protocol(RouteProtocol::from(rule.protocol)));
    msg
}

fn local_address(msg: &AddressMessage) -> Option<IpAddr> {
    // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on point-to-point).
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(a) => Some(*a),
        _ => None,
    });
    local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(a) => Some(*a),
            _ => None,
        })
    })
}
