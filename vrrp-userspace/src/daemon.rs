//! The daemon: joins the XDP program's maps and events, the state machines and the effects.
//!
//! One tokio task. It sleeps until the earliest deadline of any router, an event from the ring
//! buffer, a signal or a control-socket client. At every wake-up it reads each router's newest
//! advert stamp (per-CPU, written by XDP), feeds the state machine what is new, then fires the
//! timers that are due. A healthy backup therefore wakes about once per Master_Down_Interval,
//! not once per advert.

use std::{
    collections::{BTreeMap, VecDeque},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Result, anyhow, bail};
use tokio::{io::unix::AsyncFd, signal::unix::SignalKind};
use vrrp_common::{
    maps::{
        AdvertStamp, Family, IFACE_EXCLUSIVE, IfaceConfig, ROUTER_CONFIGURED, ROUTER_MASTER,
        ROUTER_ND_ROUTER, ROUTER_OWNER, RouterConfig,
    },
    proto::{vmac_v4, vmac_v6},
};

use crate::{
    config::{
        self, Auth, Config, InitialState, Instance as InstanceSpec, Notify, Script,
        SyncGroup as SyncGroupSpec, Vip,
    },
    control,
    dataplane::{self, Attached, Dataplane, Events, ModeChoice, monotonic_ns},
    fsm::{self, Action, Advert, Input, Nanos, Params, Router, State},
    netlink::{Link, LinkEvents, Netlink},
    sync::{Group, Order, Outcome},
    track::{self, ScriptState, Tracked, Verdict},
    tx::{McastMembership, PacketTx, UnicastTx},
    units::{Centis, Priority},
};

/// The most a timer may wait for others that fall due just after it ([`Daemon::next_wake`]).
const COALESCE: Nanos = 1_000_000;

/// How often the carriers of the interfaces are read besides the kernel's announcements of
/// their changes ([`LinkEvents`]): a safety net for an announcement the socket dropped. A read
/// is a netlink round trip the main loop waits for (up to about 10 ms while another process
/// holds the kernel's rtnetlink lock), so it is rare.
const LINK_CHECK: Nanos = 1_000_000_000;

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The configuration file, read again on SIGHUP.
    pub config: PathBuf,
    /// The control socket.
    pub control_socket: PathBuf,
    /// Where the XDP links are pinned.
    pub pin_root: PathBuf,
    /// global_defs `vrrpd_exclusive`: vrrpd is the host's only VRRP speaker, so XDP drops
    /// adverts for VRIDs it does not run instead of passing them on (to keepalived).
    pub exclusive: bool,
}

/// Frame builders the daemon needs from `wire`.
pub trait Frames {
    /// A complete advert frame from the VMAC, from `primary` (IPv4, or the IPv6 link-local).
    fn advert(spec: &InstanceSpec, primary: impl Into<IpAddr>, priority: Priority) -> Vec<u8>;
    /// A gratuitous ARP for `vip` from the VMAC.
    fn garp(vrid: u8, vip: Ipv4Addr) -> Vec<u8>;
    /// An unsolicited neighbour advertisement for `vip` from `vmac`, with the Router flag as
    /// `router`.
    fn unsolicited_na(vmac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8>;
    /// The VRRP message alone (for unicast over a raw IP socket), its checksum for `src` → `dst`.
    fn advert_message(
        spec: &InstanceSpec,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        priority: Priority,
    ) -> Vec<u8>;
}

/// One interface: its XDP program, its events, its transmit socket.
struct Iface {
    link: Link,
    dp: Dataplane,
    events: AsyncFd<Events>,
    tx: PacketTx,
    /// Adverts due on this interface, sent together by [`Daemon::flush`].
    outbox: Vec<Vec<u8>>,
    /// The first IPv4 address: IPv4 instances advertise from it.
    primary4: Option<Ipv4Addr>,
    /// The link-local address: IPv6 instances advertise from it (RFC 5798 §5.1.2.1).
    link_local: Option<Ipv6Addr>,
    _memberships: Vec<McastMembership>,
}

/// One running instance.
struct Instance {
    spec: InstanceSpec,
    router: Router,
    iface: String,
    /// The router's family in the maps: that of its VIPs.
    family: Family,
    /// The address it advertises from and breaks priority ties with.
    primary: IpAddr,
    /// Its neighbour advertisements carry the Router flag (the interface forwards IPv6).
    nd_router: bool,
    /// The newest advert stamp already fed to the state machine.
    fed_ns: u64,
    /// Pending gratuitous ARP bursts.
    garp_at: Vec<Nanos>,
    /// Its own tracking says FAULT: its interface has no carrier, or a weight-0 tracked
    /// interface or script is down.
    fault: bool,
    /// keepalived's `unicast_peer`: the socket and the source to send from.
    unicast: Option<(UnicastTx, Ipv4Addr)>,
}

/// The public view of an instance, for `vrrpd status`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// MASTER, BACKUP, FAULT or INIT.
    pub state: String,
    /// Effective priority.
    pub priority: u8,
    /// The current master's address, if known.
    pub master: Option<IpAddr>,
    /// The VIPs.
    pub vips: Vec<String>,
    /// Master_Adver_Interval in centiseconds.
    pub master_adver_interval_cs: u32,
    /// XDP's drop counters for this VRID, by reason.
    pub drops: BTreeMap<String, u64>,
    /// Valid adverts XDP recorded for this router.
    pub adverts_seen: u64,
    /// XDP's drop counters on the instance's interface, every VRID and the frames without
    /// one (wrong VRID, truncated …), by reason.
    #[serde(default)]
    pub interface_drops: BTreeMap<String, u64>,
}

impl Instance {
    /// The router's VMAC: 00-00-5E-00-01-{VRID} (IPv4) or 00-00-5E-00-02-{VRID} (IPv6).
    fn vmac(&self) -> [u8; 6] {
        match self.family {
            Family::Ipv4 => vmac_v4(self.spec.vrid.get()),
            Family::Ipv6 => vmac_v6(self.spec.vrid.get()),
        }
    }

    /// Every address it holds while master: the advertised VIPs and the excluded ones.
    fn all_vips(&self) -> impl Iterator<Item = &Vip> {
        self.spec.vips.iter().chain(&self.spec.excluded_vips)
    }
}

/// The maps' family of an instance.
fn map_family(spec: &InstanceSpec) -> Family {
    match spec.family() {
        config::Family::Ipv4 => Family::Ipv4,
        config::Family::Ipv6 => Family::Ipv6,
    }
}

/// Whether `interface` forwards IPv6: its neighbour advertisements then carry the Router flag,
/// as the kernel's and keepalived's do.
fn forwards_ipv6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

/// The newest advert stamps of every router, by interface and family, indexed by VRID.
type Stamps = BTreeMap<(String, Family), Vec<Option<AdvertStamp>>>;

/// The sender address of an advert stamp of a router of `family`.
fn stamp_src(family: Family, src: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*src)),
    }
}

fn router_config(inst: &Instance) -> RouterConfig {
    let (spec, router) = (&inst.spec, &inst.router);
    let mut flags = ROUTER_CONFIGURED;
    if router.state() == State::Master {
        flags |= ROUTER_MASTER;
    }
    if spec.priority.is_owner() {
        flags |= ROUTER_OWNER;
    }
    if inst.nd_router {
        flags |= ROUTER_ND_ROUTER;
    }
    let mut primary16 = [0u8; 16];
    match inst.primary {
        IpAddr::V4(a) => primary16[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => primary16 = a.octets(),
    }
    RouterConfig {
        flags,
        version: u8::from(spec.version).into(),
        auth_type: match spec.auth {
            Auth::None => 0,
            Auth::Pass { .. } => 1,
            Auth::Ah => 2,
        },
        interval_cs: spec.advert_interval.get(),
        priority: router.priority().get().into(),
        _pad: 0,
        auth_data: match spec.auth {
            Auth::Pass { password } => password,
            Auth::None | Auth::Ah => [0; 8],
        },
        primary: primary16,
    }
}

/// The daemon's state.
pub struct Daemon<F: Frames> {
    ifaces: BTreeMap<String, Iface>,
    instances: Vec<Instance>,
    netlink: Netlink,
    options: RunOptions,
    /// The `vrrp_script`s and their states, by name.
    scripts: BTreeMap<String, (Script, ScriptState)>,
    script_tasks: Vec<tokio::task::JoinHandle<()>>,
    script_results: tokio::sync::mpsc::Receiver<(String, bool)>,
    script_sender: tokio::sync::mpsc::Sender<(String, bool)>,
    /// When the carriers were last read ([`LINK_CHECK`]).
    links_checked: Nanos,
    /// The kernel's announcements of link changes.
    link_events: LinkEvents,
    /// While shutting down: the instances whose VIPs wait for a new master ([`Daemon::hand_over`]).
    handover: Option<Vec<usize>>,
    /// Whether each watched interface (the instances' own and the tracked ones) is up with a
    /// carrier.
    links: BTreeMap<String, bool>,
    /// The `vrrp_sync_group`s, and their configuration (to tell on reload which changed).
    groups: Vec<(SyncGroupSpec, Group)>,
    /// Inputs a sync group ordered for its members, fed after the input that caused them.
    pending: VecDeque<Order>,
    _frames: std::marker::PhantomData<F>,
}

impl<F: Frames> Daemon<F> {
    /// Sets up every interface and instance: XDP attached (or taken over), stale VIPs removed,
    /// routers configured in the maps, state machines started.
    pub async fn start(config: Config, options: RunOptions) -> Result<Self> {
        let specs = config.instances;
        let netlink = Netlink::new()?;
        // Listening before the first read of the carriers, so no change falls between.
        let link_events = LinkEvents::open()?;
        let mut ifaces = BTreeMap::new();
        for spec in &specs {
            if ifaces.contains_key(&spec.interface) {
                continue;
            }
            let iface = Self::open_iface(&netlink, &spec.interface, &options).await?;
            ifaces.insert(spec.interface.clone(), iface);
        }
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut daemon = Daemon {
            ifaces,
            links_checked: 0,
            link_events,
            handover: None,
            instances: Vec::new(),
            netlink,
            options,
            scripts: BTreeMap::new(),
            script_tasks: Vec::new(),
            script_results: rx,
            script_sender: tx,
            links: BTreeMap::new(),
            groups: Vec::new(),
            pending: VecDeque::new(),
            _frames: std::marker::PhantomData,
        };
        daemon.start_scripts(config.scripts);
        for spec in config.sync_groups {
            daemon.add_group(spec, &specs);
        }
        for spec in specs {
            daemon.add_instance(spec).await?;
        }
        Ok(daemon)
    }

    /// Starts one instance: its interface opened if new, stale VIPs removed, the router and its
    /// VIPs in the maps, the state machine started.
    async fn add_instance(&mut self, spec: InstanceSpec) -> Result<()> {
        if !self.ifaces.contains_key(&spec.interface) {
            let iface = Self::open_iface(&self.netlink, &spec.interface, &self.options).await?;
            self.ifaces.insert(spec.interface.clone(), iface);
        }
        self.remove_stale_vips(&spec).await?;
        for name in std::iter::once(&spec.interface)
            .chain(spec.track_interfaces.iter().map(|t| &t.interface))
        {
            let up = self.link_up(name).await;
            self.links.insert(name.clone(), up);
        }
        let verdict = self.verdict(&spec);
        // A member of a sync group starts as master only if the group lets it (keepalived
        // starts it in the group's state); nobody starts as master with a fault.
        let wants_master = spec.state == InitialState::Master;
        let start_as_master = verdict != Verdict::Fault
            && match self.group_of(&spec.name) {
                Some(g) => {
                    let group = &mut self.groups[g].1;
                    (wants_master || group.state() == State::Master)
                        && group.may_become_master(&spec.name)
                }
                None => wants_master,
            };
        let now = monotonic_ns();
        let family = map_family(&spec);
        let iface = &self.ifaces[&spec.interface];
        let primary = match family {
            Family::Ipv4 => IpAddr::V4(iface.primary4.ok_or_else(|| {
                anyhow!(
                    "{}: {} has no IPv4 address to advertise from",
                    spec.name,
                    spec.interface
                )
            })?),
            Family::Ipv6 => IpAddr::V6(iface.link_local.ok_or_else(|| {
                anyhow!(
                    "{}: {} has no IPv6 link-local address to advertise from",
                    spec.name,
                    spec.interface
                )
            })?),
        };
        if family == Family::Ipv6 && !spec.unicast_peers.is_empty() {
            bail!(
                "{}: unicast peers over IPv6 are not supported yet; use multicast",
                spec.name
            );
        }
        for vip in &spec.excluded_vips {
            if family == Family::Ipv6 && vip.address.is_ipv4() {
                log::warn!(
                    "{}: {} is IPv4, excluded from an IPv6 instance: it is added and removed with \
                     the instance, but XDP does not answer ARP for it (the kernel does, from the \
                     interface's MAC)",
                    spec.name,
                    vip.address
                );
            }
        }
        let mut router = Router::new(Params {
            version: spec.version,
            priority: spec.priority,
            advert_interval: spec.advert_interval,
            preempt: spec.preempt,
            preempt_delay: spec.preempt_delay,
            start_as_master,
            primary,
            lower_prio_no_advert: spec.lower_prio_no_advert,
        });
        if let Verdict::Priority(p) = verdict
            && p != spec.priority
        {
            log::info!(
                "{}: priority {} -> {p} (tracking)",
                spec.name,
                spec.priority
            );
            router.handle(now, Input::SetPriority(p));
        }
        let unicast = if spec.unicast_peers.is_empty() {
            None
        } else {
            let src = match (spec.unicast_src, primary) {
                (Some(IpAddr::V4(a)), _) | (None, IpAddr::V4(a)) => a,
                _ => bail!("{}: unicast_src_ip must be IPv4", spec.name),
            };
            Some((UnicastTx::open(src)?, src))
        };
        let vrid = spec.vrid.get();
        let nd_router = forwards_ipv6(&spec.interface);
        let iface = spec.interface.clone();
        self.instances.push(Instance {
            spec,
            router,
            iface: iface.clone(),
            family,
            primary,
            nd_router,
            fed_ns: now,
            garp_at: Vec::new(),
            fault: false,
            unicast,
        });
        let i = self.instances.len() - 1;
        self.heartbeat()?;
        self.sync_router_map(i)?;
        let addresses: Vec<IpAddr> = self.instances[i].all_vips().map(|v| v.address).collect();
        let dp = &mut self.iface_mut(&iface)?.dp;
        for address in addresses {
            match (address, family) {
                (IpAddr::V4(a), Family::Ipv4) => dp.add_vip(a, vrid)?,
                (IpAddr::V6(a), _) => dp.add_vip6(a, family, vrid)?,
                // Warned about above.
                (IpAddr::V4(_), Family::Ipv6) => {}
            }
        }
        self.input(i, now, Input::Startup).await?;
        if verdict == Verdict::Fault {
            self.set_fault(i, now, true).await?;
        }
        Ok(())
    }

    /// Sets up one sync group of `specs`' instances and starts it (BACKUP).
    fn add_group(&mut self, spec: SyncGroupSpec, specs: &[InstanceSpec]) {
        let members = spec.instances.iter().map(|name| {
            let master = specs
                .iter()
                .any(|i| &i.name == name && i.state == InitialState::Master);
            (name.clone(), master)
        });
        let mut group = Group::new(&spec.name, members);
        let out = Outcome {
            orders: Vec::new(),
            transition: group.start(),
        };
        self.groups.push((spec, group));
        self.group_outcome(self.groups.len() - 1, out);
    }

    /// The sync group `instance` belongs to.
    fn group_of(&self, instance: &str) -> Option<usize> {
        self.groups.iter().position(|(_, g)| g.has(instance))
    }

    /// Logs and notifies a sync group's transition, and queues its orders for the members.
    fn group_outcome(&mut self, g: usize, out: Outcome) {
        if let Some(t) = out.transition {
            group_transition(&self.groups[g].0, &t);
        }
        self.pending.extend(out.orders);
    }

    /// Stops instance `i` as SIGTERM would (priority 0 if master, VIPs released) and forgets it.
    async fn remove_instance(&mut self, i: usize) -> Result<()> {
        self.input(i, monotonic_ns(), Input::Shutdown).await?;
        let inst = self.instances.remove(i);
        let mut cleared = router_config(&inst);
        cleared.flags = 0;
        let iface = self.iface_mut(&inst.iface)?;
        iface
            .dp
            .set_router(inst.family, inst.spec.vrid.get(), &cleared)?;
        for vip in inst.all_vips() {
            match (vip.address, inst.family) {
                (IpAddr::V4(a), Family::Ipv4) => iface.dp.remove_vip(a)?,
                (IpAddr::V6(a), _) => iface.dp.remove_vip6(a)?,
                (IpAddr::V4(_), Family::Ipv6) => {}
            }
        }
        Ok(())
    }

    /// SIGHUP: reads the configuration again. A bad file is refused with its diagnostics and
    /// the running configuration keeps serving; otherwise unchanged instances keep their state
    /// (a master stays master), changed ones restart, removed ones stop, new ones start.
    pub async fn reload(&mut self) -> Result<()> {
        let loaded = match crate::config::load(&self.options.config) {
            Ok(l) => l,
            Err(e) => {
                for d in e.errors() {
                    log::error!("{d}");
                }
                log::error!(
                    "reload of {} refused; the running configuration stays",
                    self.options.config.display()
                );
                return Ok(());
            }
        };
        for w in &loaded.warnings {
            log::warn!("{w}");
        }
        let changed = loaded.config.scripts.len() != self.scripts.len()
            || loaded
                .config
                .scripts
                .iter()
                .any(|s| self.scripts.get(&s.name).is_none_or(|(old, _)| old != s));
        if changed {
            self.start_scripts(loaded.config.scripts.clone());
        }
        let new = loaded.config.instances;
        // A changed sync group restarts with all its members, old and new.
        let new_groups = loaded.config.sync_groups;
        let old_groups: Vec<SyncGroupSpec> = self.groups.iter().map(|(s, _)| s.clone()).collect();
        let changed_groups: Vec<&SyncGroupSpec> = old_groups
            .iter()
            .filter(|g| !new_groups.contains(g))
            .chain(new_groups.iter().filter(|g| !old_groups.contains(g)))
            .collect();
        let regrouped = |name: &str| {
            changed_groups
                .iter()
                .any(|g| g.instances.iter().any(|i| i == name))
        };
        let (mut kept, mut stopped, mut started) = (0, 0, 0);
        let mut i = 0;
        while i < self.instances.len() {
            let spec = &self.instances[i].spec;
            if new.contains(spec) && !regrouped(&spec.name) {
                kept += 1;
                i += 1;
            } else {
                self.remove_instance(i).await?;
                stopped += 1;
            }
        }
        let now = monotonic_ns();
        let mut i = 0;
        while i < self.groups.len() {
            if new_groups.contains(&self.groups[i].0) {
                i += 1;
            } else {
                let (spec, mut group) = self.groups.remove(i);
                if let Some(t) = group.stop() {
                    group_transition(&spec, &t);
                }
            }
        }
        for spec in new_groups {
            if !self.groups.iter().any(|(s, _)| *s == spec) {
                self.add_group(spec, &new);
            }
        }
        self.drain(now).await?;
        for spec in new {
            if !self.instances.iter().any(|x| x.spec == spec) {
                self.add_instance(spec).await?;
                started += 1;
            }
        }
        self.retrack(monotonic_ns(), "reload").await?;
        log::info!("reloaded: {kept} instance(s) unchanged, {stopped} stopped, {started} started");
        Ok(())
    }

    async fn open_iface(netlink: &Netlink, name: &str, options: &RunOptions) -> Result<Iface> {
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
            log::info!(
                "{name}: veth, attaching XDP in generic mode so that XDP_TX reaches the peer"
            );
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
        let mut memberships = Vec::new();
        if let Some(a) = primary4 {
            memberships.push(McastMembership::join_v4(a)?);
        }
        if link_local.is_some() {
            memberships.push(McastMembership::join_v6(link.index)?);
        }
        Ok(Iface {
            tx: PacketTx::open(name)?,
            outbox: Vec::new(),
            _memberships: memberships,
            link,
            dp,
            events,
            primary4,
            link_local,
        })
    }

    /// Every router's newest advert stamp, by interface and family (only the families its
    /// instances use), indexed by VRID.
    fn newest_stamps(&self) -> Result<Stamps> {
        let mut stamps = Stamps::new();
        for inst in &self.instances {
            let key = (inst.iface.clone(), inst.family);
            if let std::collections::btree_map::Entry::Vacant(e) = stamps.entry(key) {
                e.insert(self.ifaces[&inst.iface].dp.newest_adverts(inst.family)?);
            }
        }
        Ok(stamps)
    }

    fn iface_mut(&mut self, name: &str) -> Result<&mut Iface> {
        self.ifaces
            .get_mut(name)
            .ok_or_else(|| anyhow!("no interface {name}"))
    }

    /// A vrrpd that died (or keepalived before it) may have left our VIPs behind.
    async fn remove_stale_vips(&self, spec: &InstanceSpec) -> Result<()> {
        let index = self.ifaces[&spec.interface].link.index;
        for vip in spec.vips.iter().chain(&spec.excluded_vips) {
            if self.netlink.del_vip(index, vip.address).await? {
                log::info!(
                    "{}: removed stale VIP {} from {}",
                    spec.name,
                    vip.address,
                    spec.interface
                );
            }
        }
        Ok(())
    }

    fn sync_router_map(&mut self, i: usize) -> Result<()> {
        let inst = &self.instances[i];
        let iface = self
            .ifaces
            .get_mut(&inst.iface)
            .ok_or_else(|| anyhow!("no interface {}", inst.iface))?;
        let config = router_config(inst);
        iface
            .dp
            .set_router(inst.family, inst.spec.vrid.get(), &config)
    }

    /// Stamps the heartbeat of every interface; XDP's liveness gate closes if it goes stale
    /// for longer than the largest Master_Down_Interval of its routers.
    fn heartbeat(&mut self) -> Result<()> {
        let now = monotonic_ns();
        for (name, iface) in &mut self.ifaces {
            let down = self
                .instances
                .iter()
                .filter(|i| &i.iface == name)
                .map(|i| i.router.master_down_interval())
                .max()
                .unwrap_or(Centis(300));
            let mut cfg = iface.dp.iface()?;
            cfg.heartbeat_ns = now;
            cfg.stale_after_ns = u64::from(down.get()) * fsm::NANOS_PER_CENTI;
            iface.dp.set_iface(&cfg)?;
        }
        Ok(())
    }

    /// Feeds one input to instance `i` and carries out its actions, then what its sync group
    /// orders for the other members.
    async fn input(&mut self, i: usize, now: Nanos, input: Input) -> Result<()> {
        self.feed(i, now, input).await?;
        self.drain(now).await
    }

    async fn feed(&mut self, i: usize, now: Nanos, input: Input) -> Result<()> {
        let actions = self.instances[i].router.handle(now, input);
        for action in actions {
            self.act(i, now, action).await?;
        }
        Ok(())
    }

    /// Feeds the sync groups' orders until there are no more.
    async fn drain(&mut self, now: Nanos) -> Result<()> {
        while let Some(order) = self.pending.pop_front() {
            if let Some(j) = self
                .instances
                .iter()
                .position(|x| x.spec.name == order.member)
            {
                self.feed(j, now, order.input).await?;
            }
        }
        Ok(())
    }

    async fn act(&mut self, i: usize, now: Nanos, action: Action) -> Result<()> {
        let spec = self.instances[i].spec.clone();
        match action {
            Action::SendAdvert { priority } => {
                if let Some((tx, src)) = &self.instances[i].unicast {
                    for peer in &spec.unicast_peers {
                        if let IpAddr::V4(peer) = *peer {
                            let msg = F::advert_message(&spec, *src, peer, priority);
                            if let Err(e) = tx.send_to(&msg, peer) {
                                log::warn!("{}: advert to {peer} not sent: {e:#}", spec.name);
                            }
                        }
                    }
                } else {
                    let primary = self.instances[i].primary;
                    let iface = self.iface_mut(&spec.interface)?;
                    let frame = F::advert(&spec, primary, priority);
                    iface.outbox.push(frame);
                }
            }
            Action::TakeOver => {
                // XDP answers ARP from the VMAC first, then the kernel gets the addresses,
                // then the advert announcing us leaves (and moves the switch's entry for the
                // VMAC to us): by then we answer for the VIPs.
                self.sync_router_map_master(i, true)?;
                let index = self.ifaces[&spec.interface].link.index;
                for vip in spec.vips.iter().chain(&spec.excluded_vips) {
                    self.netlink.add_vip(index, vip).await?;
                }
                self.flush();
                self.netlink
                    .add_unicast_mac(index, self.instances[i].vmac())
                    .await?;
                self.instances[i].garp_at = vec![now];
                if spec.garp.master_delay_s > 0 {
                    self.instances[i]
                        .garp_at
                        .push(now + u64::from(spec.garp.master_delay_s) * 1_000_000_000);
                }
                self.send_garps(i)?;
            }
            Action::Release => {
                // Priority 0 leaves first: the backup's Skew_Time runs while we let go.
                self.flush();
                match &mut self.handover {
                    Some(deferred) => deferred.push(i),
                    None => self.release(i).await?,
                }
            }
            Action::StateChanged { from, to, reason } => {
                log::info!("{}: {from} -> {to} ({reason})", spec.name);
                notify(
                    &spec.notify,
                    "INSTANCE",
                    &spec.name,
                    to,
                    self.instances[i].router.priority().get(),
                );
                if let Some(g) = self.group_of(&spec.name) {
                    let out = self.groups[g].1.member_changed(&spec.name, from, to);
                    self.group_outcome(g, out);
                }
            }
        }
        Ok(())
    }

    /// Gives up the VIPs of instance `i`: XDP stops answering first, so there is no moment with
    /// two answers from different MACs.
    async fn release(&mut self, i: usize) -> Result<()> {
        let spec = self.instances[i].spec.clone();
        self.sync_router_map_master(i, false)?;
        let index = self.ifaces[&spec.interface].link.index;
        for vip in spec.vips.iter().chain(&spec.excluded_vips) {
            self.netlink.del_vip(index, vip.address).await?;
        }
        self.netlink
            .del_unicast_mac(index, self.instances[i].vmac())
            .await?;
        self.instances[i].garp_at.clear();
        Ok(())
    }

    /// On shutdown, a master that has sent priority 0 keeps answering for its VIPs until a
    /// new master advertises (make before break: the client's frames reach one of us at every
    /// moment, and both answer from the same VMAC), or for one Master_Down_Interval if none
    /// does; then it lets go.
    async fn hand_over(&mut self, deferred: Vec<usize>, since: Nanos) -> Result<()> {
        let longest = deferred
            .iter()
            .map(|&i| u64::from(self.instances[i].router.master_down_interval().get()))
            .max()
            .unwrap_or(0)
            * fsm::NANOS_PER_CENTI;
        let give_up = since + longest;
        let mut waiting = deferred;
        self.heartbeat()?;
        while !waiting.is_empty() && monotonic_ns() < give_up {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let stamps = self.newest_stamps()?;
            let mut still = Vec::new();
            for i in waiting {
                let inst = &self.instances[i];
                let stamp =
                    stamps[&(inst.iface.clone(), inst.family)][usize::from(inst.spec.vrid.get())];
                match stamp.filter(|s| s.time_ns > since && s.priority > 0) {
                    Some(s) => {
                        let src = stamp_src(inst.family, &s.src);
                        log::info!(
                            "{}: {src} advertises after {} ms; releasing the VIPs",
                            inst.spec.name,
                            (s.time_ns - since) / 1_000_000
                        );
                        self.release(i).await?;
                    }
                    None => still.push(i),
                }
            }
            waiting = still;
        }
        for i in waiting {
            log::info!(
                "{}: no new master within Master_Down_Interval; releasing the VIPs",
                self.instances[i].spec.name
            );
            self.release(i).await?;
        }
        Ok(())
    }

    fn sync_router_map_master(&mut self, i: usize, master: bool) -> Result<()> {
        let inst = &self.instances[i];
        let iface = self
            .ifaces
            .get_mut(&inst.iface)
            .ok_or_else(|| anyhow!("no interface {}", inst.iface))?;
        let mut config = router_config(inst);
        if master {
            config.flags |= ROUTER_MASTER;
        } else {
            config.flags &= !ROUTER_MASTER;
        }
        iface
            .dp
            .set_router(inst.family, inst.spec.vrid.get(), &config)
    }

    fn send_garps(&mut self, i: usize) -> Result<()> {
        let now = monotonic_ns();
        let inst = &mut self.instances[i];
        if inst.garp_at.first().is_none_or(|t| *t > now) {
            return Ok(());
        }
        inst.garp_at.remove(0);
        // garp_master_refresh: while master, another burst every so many seconds.
        let refresh = u64::from(inst.spec.garp.master_refresh_s) * 1_000_000_000;
        if refresh > 0 && inst.router.state() == State::Master && inst.garp_at.is_empty() {
            inst.garp_at.push(now + refresh);
        }
        let inst = &self.instances[i];
        let iface = &self.ifaces[&inst.iface];
        // Gratuitous ARPs for IPv4 VIPs, unsolicited neighbour advertisements for IPv6 ones
        // (RFC 5798 §6.4.1), from the VMAC.
        let vmac = inst.vmac();
        for _ in 0..inst.spec.garp.master_repeat.max(1) {
            for vip in inst.all_vips() {
                let frame = match (vip.address, inst.family) {
                    (IpAddr::V4(v4), Family::Ipv4) => F::garp(inst.spec.vrid.get(), v4),
                    (IpAddr::V6(v6), _) => F::unsolicited_na(vmac, v6, inst.nd_router),
                    (IpAddr::V4(_), Family::Ipv6) => continue,
                };
                iface.tx.send(&frame)?;
            }
        }
        Ok(())
    }

    /// Starts one task per `vrrp_script` (stopping those of an earlier configuration).
    fn start_scripts(&mut self, scripts: Vec<Script>) {
        for task in self.script_tasks.drain(..) {
            task.abort();
        }
        self.scripts.clear();
        for script in scripts {
            let state = ScriptState::new(&script);
            self.script_tasks.push(tokio::spawn(track::run(
                script.clone(),
                self.script_sender.clone(),
            )));
            self.scripts.insert(script.name.clone(), (script, state));
        }
    }

    /// A script ran: update its state and, where it changed, the priority (or FAULT) of every
    /// instance that tracks it.
    async fn script_result(&mut self, name: &str, success: bool) -> Result<()> {
        let Some((script, state)) = self.scripts.get_mut(name) else {
            return Ok(());
        };
        if !state.record(script, success) {
            return Ok(());
        }
        let why = format!(
            "script {name} {}",
            if state.good { "succeeding" } else { "failing" }
        );
        log::info!("{why}");
        self.retrack(monotonic_ns(), &why).await
    }

    /// Whether interface `name` is up with a carrier (one that does not exist is down).
    async fn link_up(&self, name: &str) -> bool {
        self.netlink.link(name).await.is_ok_and(|l| l.up)
    }

    /// Reads the link state of every watched interface (the instances' own and the tracked
    /// ones); where one changed, logs it and tracks again.
    async fn track_links(&mut self) -> Result<()> {
        let names: Vec<String> = self.links.keys().cloned().collect();
        let mut states = Vec::new();
        for name in names {
            let up = self.link_up(&name).await;
            states.push((name, up));
        }
        self.links_now(states).await
    }

    /// Takes the link states given (from a read or the kernel's announcement) for the watched
    /// interfaces among them; where one changed, logs it and tracks again.
    async fn links_now(&mut self, states: Vec<(String, bool)>) -> Result<()> {
        let mut changes = Vec::new();
        for (name, up) in states {
            if !self.links.contains_key(&name) {
                continue;
            }
            if self.links.insert(name.clone(), up) != Some(up) {
                let change = format!("{name} {}", if up { "up" } else { "down" });
                log::info!("interface {change}");
                changes.push(change);
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        self.retrack(monotonic_ns(), &changes.join(", ")).await
    }

    /// What an instance's tracking makes of it: its own interface (weight 0, as keepalived
    /// tracks it unless `dont_track_primary`), its tracked interfaces and its scripts, in
    /// keepalived's one sum.
    fn verdict(&self, spec: &InstanceSpec) -> Verdict {
        let up = |n: &str| self.links.get(n).copied().unwrap_or(false);
        let own = (!spec.dont_track_primary).then(|| Tracked {
            weight: 0,
            reverse: false,
            up: up(&spec.interface),
        });
        let scripts = track::scripts(&spec.track_scripts, |n| {
            self.scripts.get(n).map(|(s, st)| (s, st))
        });
        track::effective(
            spec.priority,
            own.into_iter()
                .chain(track::interfaces(&spec.track_interfaces, up))
                .chain(scripts),
        )
    }

    /// Applies every instance's tracking verdict after `why` changed something: a new
    /// effective priority (which the next advert carries, and XDP's map at once), or FAULT.
    async fn retrack(&mut self, now: Nanos, why: &str) -> Result<()> {
        for i in 0..self.instances.len() {
            match self.verdict(&self.instances[i].spec) {
                Verdict::Fault => self.set_fault(i, now, true).await?,
                Verdict::Priority(p) => {
                    let old = self.instances[i].router.priority();
                    if p != old {
                        log::info!(
                            "{}: priority {old} -> {p} ({why})",
                            self.instances[i].spec.name
                        );
                        self.input(i, now, Input::SetPriority(p)).await?;
                        self.sync_router_map(i)?;
                    }
                    self.set_fault(i, now, false).await?;
                }
            }
        }
        Ok(())
    }

    /// Instance `i`'s own tracking says FAULT, or no longer: FAULT (a master sends priority 0
    /// and releases its VIPs, as keepalived does) or back to BACKUP; in a sync group, the
    /// group decides for all its members.
    async fn set_fault(&mut self, i: usize, now: Nanos, faulty: bool) -> Result<()> {
        if self.instances[i].fault == faulty {
            return Ok(());
        }
        self.instances[i].fault = faulty;
        let name = self.instances[i].spec.name.clone();
        match self.group_of(&name) {
            Some(g) => {
                let out = self.groups[g].1.set_fault(&name, faulty);
                self.group_outcome(g, out);
                self.drain(now).await
            }
            None => {
                let input = if faulty {
                    Input::Fault
                } else {
                    Input::FaultCleared
                };
                self.input(i, now, input).await
            }
        }
    }

    /// When something is due (or XDP raised an event), feeds every router the advert XDP
    /// stamped since the last look, then fires the due timers. The stamps of all the routers of
    /// an interface come in one read, and only when they are needed.
    async fn poll(&mut self, event: bool) -> Result<()> {
        let now = monotonic_ns();
        let due = |inst: &Instance| inst.router.next_deadline().is_some_and(|t| t <= now);
        if !event && !self.instances.iter().any(due) {
            for i in 0..self.instances.len() {
                self.send_garps(i)?;
            }
            return Ok(());
        }
        self.gather_adverts(now);
        let stamps = self.newest_stamps()?;
        for i in 0..self.instances.len() {
            let inst = &self.instances[i];
            let newest =
                stamps[&(inst.iface.clone(), inst.family)][usize::from(inst.spec.vrid.get())];
            let family = inst.family;
            if let Some(stamp) = newest.filter(|s| s.time_ns > self.instances[i].fed_ns) {
                self.instances[i].fed_ns = stamp.time_ns;
                let src = stamp_src(family, &stamp.src);
                let advert = Advert {
                    src,
                    priority: Priority(stamp.priority as u8),
                    interval: Centis(stamp.interval_cs),
                    received_at: stamp.time_ns,
                };
                let router = &self.instances[i].router;
                let (was_backup, before) =
                    (router.state() == State::Backup, router.next_deadline());
                self.input(i, now, Input::Advert(advert)).await?;
                // A backup that took the advert (its timer restarted) no longer wants to be
                // master, as far as its sync group is concerned.
                let router = &self.instances[i].router;
                if was_backup
                    && advert.priority != Priority::SHUTDOWN
                    && router.state() == State::Backup
                    && router.next_deadline() != before
                    && let Some(g) = self.group_of(&self.instances[i].spec.name)
                {
                    let name = self.instances[i].spec.name.clone();
                    self.groups[g].1.heard_master(&name);
                }
            }
            if due(&self.instances[i]) {
                // A backup in a sync group becomes master only when every member wants to.
                let name = self.instances[i].spec.name.clone();
                let held = self.instances[i].router.state() == State::Backup
                    && self
                        .group_of(&name)
                        .is_some_and(|g| !self.groups[g].1.may_become_master(&name));
                let input = if held {
                    Input::HoldBackup
                } else {
                    Input::Timer
                };
                self.input(i, now, input).await?;
            }
            self.send_garps(i)?;
        }
        Ok(())
    }

    /// Where a master's advert is due, brings forward the adverts of the other masters of its
    /// interface and interval that fall due within half an interval, so that they leave in the
    /// same batch (and stay together from then on).
    fn gather_adverts(&mut self, now: Nanos) {
        let due: Vec<(String, Centis, Nanos)> = self
            .instances
            .iter()
            .filter(|i| i.router.state() == State::Master)
            .filter_map(|i| {
                let t = i.router.next_deadline().filter(|&t| t <= now)?;
                Some((i.iface.clone(), i.spec.advert_interval, t))
            })
            .collect();
        for (iface, interval, t) in due {
            let within = u64::from(interval.get()) * fsm::NANOS_PER_CENTI / 2;
            for inst in &mut self.instances {
                if inst.iface == iface && inst.spec.advert_interval == interval {
                    inst.router.advance_advert(t, within);
                }
            }
        }
    }

    /// Sends the adverts the state machines asked for, one `sendmmsg` an interface.
    fn flush(&mut self) {
        for (name, iface) in &mut self.ifaces {
            let frames = std::mem::take(&mut iface.outbox);
            if let Err(e) = iface.tx.send_batch(&frames) {
                log::warn!("{name}: {} advert(s) not sent: {e:#}", frames.len());
            }
        }
    }

    /// When to wake next. A master's advert (and a GARP, and the heartbeat) may wait up to
    /// [`COALESCE`] (at most a tenth of the shortest advert interval) for others that fall due
    /// just after it, so that routers whose timers fall together are served by one wake-up
    /// and their adverts leave in one batch. A backup's Master_Down timer never waits: a late
    /// one would lengthen every failover.
    fn next_wake(&self) -> Nanos {
        let now = monotonic_ns();
        let shortest = self
            .instances
            .iter()
            .map(|i| u64::from(i.spec.advert_interval.get()) * fsm::NANOS_PER_CENTI)
            .min()
            .unwrap_or(1_000_000_000);
        let mut firm = Nanos::MAX;
        let mut soft = vec![now + shortest];
        for i in &self.instances {
            if let Some(t) = i.router.next_deadline() {
                if i.router.state() == State::Master {
                    soft.push(t);
                } else {
                    firm = firm.min(t);
                }
            }
            soft.extend(i.garp_at.first().copied());
        }
        let first = soft.iter().copied().min().unwrap_or(Nanos::MAX);
        let window = first + (shortest / 10).min(COALESCE);
        let gathered = soft
            .into_iter()
            .filter(|&d| d <= window)
            .max()
            .unwrap_or(first);
        gathered.min(firm)
    }

    /// Status of every instance.
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.instances
            .iter()
            .map(|inst| {
                let dp = &self.ifaces[&inst.iface].dp;
                let by_reason = |d: vrrp_common::maps::DropCounts| {
                    vrrp_common::DropReason::ALL
                        .iter()
                        .map(|r| (r.name().to_string(), d.by_reason[*r as usize]))
                        .collect()
                };
                let drops = dp
                    .drops(inst.spec.vrid.get())
                    .map(by_reason)
                    .unwrap_or_default();
                let interface_drops = dp.drops_total().map(by_reason).unwrap_or_default();
                let adverts_seen = dp
                    .advert_stamps(inst.family, inst.spec.vrid.get())
                    .map(|s| s.iter().map(|s| s.count).sum())
                    .unwrap_or(0);
                InstanceStatus {
                    name: inst.spec.name.clone(),
                    interface: inst.iface.clone(),
                    vrid: inst.spec.vrid.get(),
                    state: inst.router.state().to_string(),
                    priority: inst.router.priority().get(),
                    master: inst.router.master(),
                    vips: inst
                        .spec
                        .vips
                        .iter()
                        .map(|v| format!("{}/{}", v.address, v.prefix_len))
                        .collect(),
                    master_adver_interval_cs: inst.router.master_adver_interval().get(),
                    drops,
                    adverts_seen,
                    interface_drops,
                }
            })
            .collect()
    }

    /// Runs until SIGTERM or SIGINT; then sends priority 0 where master, removes the VIPs and
    /// detaches XDP.
    pub async fn run(mut self) -> Result<()> {
        let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(SignalKind::interrupt())?;
        let mut hup = tokio::signal::unix::signal(SignalKind::hangup())?;
        let control = control::Server::bind(&self.options.control_socket)?;
        loop {
            self.flush();
            let wake = self.next_wake();
            let sleep = Duration::from_nanos(wake.saturating_sub(monotonic_ns()));
            let mut reload = false;
            let mut script = None;
            let mut event = false;
            let mut link = None;
            let events = futures_util::future::select_all(
                self.ifaces.values().map(|i| Box::pin(i.events.readable())),
            );
            // Signals first: a stop that arrives with a due advert sends priority 0 at once,
            // not one more advert before it (select! otherwise picks a ready branch at random).
            tokio::select! {
                biased;
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => reload = true,
                _ = tokio::time::sleep(sleep) => {}
                (ready, _, _) = events => { ready?.clear_ready(); event = true; }
                Some(change) = self.link_events.next() => link = Some(change),
                Some((name, ok)) = self.script_results.recv() => script = Some((name, ok)),
                conn = control.accept() => {
                    if let Ok(stream) = conn {
                        let status = self.status();
                        tokio::spawn(control::serve(stream, status));
                    }
                }
            }
            if reload {
                self.reload().await?;
            }
            if let Some((name, ok)) = script {
                self.script_result(&name, ok).await?;
            }
            if let Some(change) = link {
                self.links_now(vec![change]).await?;
            }
            for iface in self.ifaces.values_mut() {
                // Events only wake us; the stamps carry the data.
                let _ = iface.events.get_mut().drain();
            }
            self.heartbeat()?;
            let now = monotonic_ns();
            if now >= self.links_checked + LINK_CHECK {
                self.links_checked = now;
                self.track_links().await?;
            }
            self.poll(event).await?;
        }
        self.shutdown().await
    }

    async fn shutdown(mut self) -> Result<()> {
        let now = monotonic_ns();
        self.handover = Some(Vec::new());
        for i in 0..self.instances.len() {
            self.input(i, now, Input::Shutdown).await?;
        }
        self.flush();
        if let Some(deferred) = self.handover.take() {
            self.hand_over(deferred, now).await?;
        }
        for (spec, group) in &mut self.groups {
            if let Some(t) = group.stop() {
                group_transition(spec, &t);
            }
        }
        for name in self.ifaces.keys() {
            if !dataplane::detach_pinned(&self.options.pin_root, name)? {
                bail!("{name}: no pinned XDP link to detach");
            }
            dataplane::detach_egress_pinned(&self.options.pin_root, name)?;
        }
        let _ = std::fs::remove_file(&self.options.control_socket);
        log::info!("stopped");
        Ok(())
    }
}

/// Logs a sync group's transition and runs its notify scripts.
fn group_transition(spec: &SyncGroupSpec, t: &crate::sync::Transition) {
    log::info!(
        "sync group {}: {} -> {} ({})",
        spec.name,
        t.from,
        t.to,
        t.reason
    );
    notify(&spec.notify, "GROUP", &spec.name, t.to, 0);
}

/// Runs the notify scripts of an instance or a sync group (`kind` INSTANCE or GROUP) entering
/// `to`: the state's own script, then `notify` with keepalived's four arguments (a group's
/// priority is 0, as keepalived passes it).
fn notify(n: &Notify, kind: &str, name: &str, to: State, priority: u8) {
    let specific = match to {
        State::Master => n.master.as_ref(),
        State::Backup => n.backup.as_ref(),
        State::Fault => n.fault.as_ref(),
        State::Initialize => n.stop.as_ref(),
    }
    .map(|c| c.command.clone());
    let state = match to {
        State::Initialize => "STOP".to_string(),
        s => s.to_string(),
    };
    let any = n
        .any
        .as_ref()
        .map(|c| format!("{} {kind} {name} {state} {priority}", c.command));
    for script in specific.into_iter().chain(any) {
        if let Err(e) = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .spawn()
        {
            log::warn!("{name}: notify script {script:?} failed to start: {e}");
        }
    }
}
