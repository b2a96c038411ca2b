//! The driver: reads the kernel and the clock, feeds the [`Controller`], carries out its
//! effects and feeds their failures back.
//!
//! One tokio task. It sleeps until the controller's next wake-up, an event from the ring
//! buffer, a signal, a link change, a script result or a reload asked over the control socket.
//! At a wake-up it reads each router's newest advert stamp (per-CPU, written by XDP) when the
//! controller needs them, and hands them over with the time. Every decision is the
//! controller's; an effect that fails is reported back to it (the instance goes to FAULT and
//! recovers by itself), so after startup only SIGTERM or SIGINT end the loop.
//!
//! The control socket is another task ([`control::serve_all`]): it answers `vrrpd status`
//! from the [`StatusSnapshot`] this loop publishes, never waiting for the loop, and streams
//! the controller's events ([`EventRecord`]) to `vrrpd events` from a broadcast channel this
//! loop sends into without waiting. The metrics (`--metrics-listen`) are served from the same
//! snapshot by a thread of their own ([`metrics::serve`]); the loop only records what it alone
//! knows into [`Metrics`].

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow, bail};
use tokio::{io::unix::AsyncFd, signal::unix::SignalKind};
use vrrp_common::maps::{Family, IFACE_EXCLUSIVE, IfaceConfig};

use crate::{
    config::{Config, Instance as InstanceSpec, Notify, Route, Rule, V3Checksum},
    control,
    control::ReloadAnswer,
    controller::{self, Controller, Effect, Failure, Heard, Host, IfaceInfo, Input, Owner},
    dataplane::{self, Attached, CounterReader, Dataplane, Events, ModeChoice, monotonic_ns},
    fsm::{Advert, Nanos, State},
    metrics::{self, Metrics},
    netlink::{Link, LinkEvents, Netlink},
    status::{EVENTS_BACKLOG, EventRecord, InstanceStatus, StatusSnapshot, wall_time},
    track,
    tx::{McastMembership, PacketTx, UnicastTx},
    units::{Centis, Priority},
};

/// How often the carriers of the interfaces are read besides the kernel's announcements of
/// their changes ([`LinkEvents`]): a safety net for an announcement the socket dropped. A read
/// is a netlink round trip the main loop waits for (up to about 10 ms while another process
/// holds the kernel's rtnetlink lock), so it is rare.
const LINK_CHECK: Nanos = 1_000_000_000;

/// How often the heap's free memory is given back to the kernel ([`release_free_memory`]): what
/// an interface opened again or a reload allocated and freed would otherwise stay resident.
const MEMORY_TRIM: Nanos = 30_000_000_000;

/// How stale the status snapshot ([`StatusSnapshot`]) may get: the main loop publishes the
/// instances' views at once when a state changes or an input other than time arrives, and
/// otherwise at most this often.
const STATUS_REFRESH: Nanos = 100_000_000;

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
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
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
    /// Its counters for `vrrpd status`.
    counters: Arc<CounterReader>,
    events: AsyncFd<Events>,
    tx: PacketTx,
    /// Adverts due on this interface, sent together (one `sendmmsg`) at the end of a batch
    /// or at [`Effect::Flush`]; the frames are `adverts`' own.
    outbox: Vec<Arc<[u8]>>,
    /// Each instance's advert frame as last built, by instance name: an advert changes only
    /// with the priority, the primary address or the instance's configuration (a reload brings
    /// a new spec), so a master builds each of its adverts once, not once an interval.
    adverts: HashMap<String, BuiltAdvert>,
    /// Adverts the kernel dropped (a full queue), and when that was last logged.
    adverts_dropped: u64,
    drops_said_at: Nanos,
    /// The instance of each advert in `outbox` (counted in the metrics once sent).
    outbox_from: Vec<Arc<InstanceSpec>>,
    info: IfaceInfo,
    /// The multicast groups joined on it, each with its membership.
    memberships: Vec<(IpAddr, McastMembership)>,
}

impl Iface {
    /// Joins the adverts' groups `global` names (IPv4 if the interface has an IPv4 address,
    /// IPv6 if it has a link-local one) and leaves groups no longer named, as a reload changes
    /// `vrrp_mcast_group4/6`.
    fn join_groups(&mut self, global: &crate::config::Global) -> Result<()> {
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

/// An advert frame and what it was built from.
struct BuiltAdvert {
    spec: Arc<InstanceSpec>,
    primary: IpAddr,
    priority: Priority,
    frame: Arc<[u8]>,
}

/// Gives the heap's free memory back to the kernel: glibc keeps freed memory mapped, and what
/// startup used (the BPF object parsed, the configuration read), or an interface opened again,
/// would stay resident. Called after startup and every [`MEMORY_TRIM`] (a walk of glibc's
/// arenas, well under a millisecond at vrrpd's heap size).
#[cfg(target_env = "gnu")]
#[expect(
    unsafe_code,
    reason = "malloc_trim(3) takes and returns plain integers"
)]
fn release_free_memory() {
    // SAFETY: malloc_trim only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn release_free_memory() {}

/// The heap threshold above which glibc serves an allocation by mmap (its initial default).
pub const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Fixes glibc's mmap threshold for the process, so that resident memory stays bounded by what
/// vrrpd uses. By default glibc raises the threshold to the size of the largest mmap'd block
/// freed so far (up to 32 MiB): opening an interface parses the kernel's BTF in blocks of
/// several MiB, so the second interface opened (an interface created again, a reload with a
/// new one) took them from the heap, where they stayed resident after being freed: 20 MiB
/// grew to 42 MiB at the second re-creation of eth0 and stayed there (the chaos run's "RSS
/// flat" violation). With the threshold fixed (setting it turns the adjustment off), large
/// blocks always go back to the kernel: about 12 MiB, flat across re-creations.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "mallopt(3) takes two integers; called before the runtime starts its threads"
)]
pub fn bound_heap() {
    // SAFETY: no pointer is passed; glibc validates the parameter.
    if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) } != 1 {
        log::debug!("mallopt(M_MMAP_THRESHOLD) refused; the heap keeps glibc's defaults");
    }
}

/// Other C libraries: nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn bound_heap() {}

/// A send the kernel refused for now: its queue is full (ENOBUFS, EAGAIN), not the socket or
/// the interface broken.
fn refused_for_now(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let errno = c
            .downcast_ref::<nix::errno::Errno>()
            .map(|e| *e as i32)
            .or_else(|| c.downcast_ref::<std::io::Error>()?.raw_os_error());
        matches!(errno, Some(libc::ENOBUFS | libc::EAGAIN))
    })
}

/// Whether `interface` forwards IPv6: its neighbour advertisements then carry the Router flag,
/// as the kernel's and keepalived's do.
fn forwards_ipv6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

/// The sender address of an advert stamp of a router of `family`.
fn stamp_src(family: Family, src: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*src)),
    }
}

/// The daemon: the controller and what carries out its effects.
pub struct Daemon<F: Frames> {
    ctl: Controller,
    ifaces: BTreeMap<String, Iface>,
    netlink: Netlink,
    options: RunOptions,
    script_tasks: Vec<tokio::task::JoinHandle<()>>,
    script_results: tokio::sync::mpsc::Receiver<(String, bool)>,
    script_sender: tokio::sync::mpsc::Sender<(String, bool)>,
    /// The watches of the `track_file`s and `vrrp_track_process`es.
    tracked: crate::track_file::Watch,
    /// Something that status shows may have changed since the snapshot was published.
    status_dirty: bool,
    /// The loop ran since the snapshot was published (views may differ in what is not marked
    /// dirty: a backup's master, a fault's reason).
    snapshot_behind: bool,
    /// When the carriers were last read ([`LINK_CHECK`]).
    links_checked: Nanos,
    /// When the heap was last trimmed ([`MEMORY_TRIM`]).
    trimmed: Nanos,
    /// Interfaces created again that cannot run their instances yet (no address): they count
    /// as down, and are opened again at the next link event or read.
    recreating: BTreeSet<String>,
    /// The kernel's announcements of link changes.
    link_events: LinkEvents,
    /// keepalived's `unicast_peer`: a socket per instance and the source it was opened with.
    unicast: BTreeMap<String, (UnicastTx, Ipv4Addr)>,
    /// The configuration the controller runs (the last one its check let through), for an
    /// interface that is created again.
    config: Config,
    /// What the loop and the script tasks record for the metrics.
    metrics: Arc<Metrics>,
    /// `--metrics-listen`, bound at start and served once the loop runs.
    metrics_listener: Option<metrics::Listener>,
    /// `vrrpd events`: every subscriber's receiver; sending never waits.
    events: tokio::sync::broadcast::Sender<EventRecord>,
    _frames: std::marker::PhantomData<F>,
}

impl<F: Frames> Daemon<F> {
    /// Sets up every interface and instance: XDP attached (or taken over), stale VIPs removed,
    /// routers configured in the maps, state machines started.
    pub async fn start(mut config: Config, options: RunOptions) -> Result<Self> {
        // Before anything is touched: an address that cannot be bound is a startup error.
        let metrics_listener = options
            .metrics_listen
            .map(metrics::Listener::bind)
            .transpose()?;
        if let Some(l) = &metrics_listener {
            match l.local_addr() {
                Ok(a) => log::info!("metrics on http://{a}/metrics"),
                Err(e) => log::info!("metrics listener bound ({e})"),
            }
        }
        crate::scripts::configure(&config);
        crate::fifo::configure(&config.global).await;
        usable_scripts(&mut config);
        crate::track_file::init_files(&config, false);
        if config.instances.is_empty() {
            // keepalived runs such a file too, doing nothing until a reload brings instances.
            log::warn!(
                "{}: no vrrp_instance; waiting for a reload (SIGHUP) that brings one",
                options.config.display()
            );
        }
        let netlink = Netlink::new()?;
        // Listening before the first read of the carriers, so no change falls between.
        let link_events = LinkEvents::open()?;
        let mut ifaces = BTreeMap::new();
        for name in controller::interfaces(&config) {
            let iface = open_iface(&netlink, &name, &options, &config.global).await?;
            ifaces.insert(name, iface);
        }
        let host = host(&netlink, &ifaces, &config).await;
        let (ctl, effects) =
            Controller::start(&config, &host, monotonic_ns()).map_err(|e| anyhow!(e))?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut daemon = Daemon {
            ctl,
            ifaces,
            netlink,
            options,
            script_tasks: Vec::new(),
            script_results: rx,
            script_sender: tx,
            tracked: Default::default(),
            links_checked: 0,
            trimmed: 0,
            recreating: BTreeSet::new(),
            status_dirty: true,
            snapshot_behind: false,
            link_events,
            unicast: BTreeMap::new(),
            config,
            metrics: Arc::new(Metrics::default()),
            metrics_listener,
            events: tokio::sync::broadcast::channel(EVENTS_BACKLOG).0,
            _frames: std::marker::PhantomData,
        };
        daemon.carry_out(effects).await;
        release_free_memory();
        daemon.trimmed = monotonic_ns();
        Ok(daemon)
    }

    /// Feeds the controller one input at the present time and carries out what it answers.
    async fn feed(&mut self, input: Input) {
        if !matches!(input, Input::Tick { .. }) {
            self.status_dirty = true;
        }
        let effects = self.ctl.handle(monotonic_ns(), input);
        self.carry_out(effects).await;
    }

    /// Carries out a batch of effects, sends the adverts queued, and reports the failures to
    /// the controller; again with what it answers, until it has nothing more to do.
    async fn carry_out(&mut self, mut effects: Vec<Effect>) {
        while !effects.is_empty() {
            let mut failures = Vec::new();
            for effect in effects {
                if matches!(effect, Effect::Flush) {
                    failures.extend(self.flush());
                    continue;
                }
                // The path of every advert a master sends: no allocation unless it fails.
                if let Effect::SendAdvert {
                    spec,
                    primary,
                    unicast_src: None,
                    priority,
                } = &effect
                {
                    if let Err(e) = self.queue_advert(spec, *primary, *priority) {
                        failures.push(Failure::new(
                            Owner::Instance(spec.name.clone()),
                            format!("{e:#}"),
                        ));
                    }
                    continue;
                }
                let owner = effect.owner();
                let sends = matches!(effect, Effect::SendAdvert { .. } | Effect::SendGarps { .. });
                if let Err(e) = self.effect(effect).await {
                    let error = format!("{e:#}");
                    match owner {
                        Some(owner) if sends && refused_for_now(&e) => {
                            failures.push(Failure::transient(owner, error))
                        }
                        Some(owner) => failures.push(Failure::new(owner, error)),
                        None => log::warn!("{error}"),
                    }
                }
            }
            failures.extend(self.flush());
            effects = self.ctl.handle(monotonic_ns(), Input::Results(failures));
        }
    }

    /// Sends the adverts queued, one `sendmmsg` an interface.
    fn flush(&mut self) -> Vec<Failure> {
        let mut failures = Vec::new();
        for (name, iface) in &mut self.ifaces {
            if iface.outbox.is_empty() {
                continue;
            }
            let sent = iface.tx.send_batch(&iface.outbox);
            let count = iface.outbox.len();
            iface.outbox.clear();
            let from = std::mem::take(&mut iface.outbox_from);
            match sent {
                Ok(dropped) => {
                    let now = monotonic_ns();
                    for spec in &from {
                        self.metrics.advert_sent(&spec.name, now);
                    }
                    if dropped > 0 {
                        // A full queue dropped some: lost as on a busy wire, counted, and said
                        // at most every 10 s.
                        iface.adverts_dropped += dropped as u64;
                        if now >= iface.drops_said_at + 10_000_000_000 {
                            log::warn!(
                                "{name}: the kernel dropped {} advert(s) since vrrpd started \
                                 (a queue on the way was full: ENOBUFS)",
                                iface.adverts_dropped
                            );
                            iface.drops_said_at = now;
                        }
                    }
                }
                Err(e) => {
                    let owner = Owner::Iface(name.clone());
                    let error = format!("{name}: {count} advert(s) not sent: {e:#}");
                    failures.push(if refused_for_now(&e) {
                        Failure::transient(owner, error)
                    } else {
                        Failure::new(owner, error)
                    });
                }
            }
        }
        failures
    }

    /// Queues an instance's multicast advert on its interface, built only if what it is
    /// built from changed since the last one.
    fn queue_advert(
        &mut self,
        spec: &Arc<InstanceSpec>,
        primary: IpAddr,
        priority: Priority,
    ) -> Result<()> {
        let iface = self.iface_mut(&spec.interface)?;
        let frame = match iface.adverts.get(spec.name.as_str()) {
            Some(b)
                if Arc::ptr_eq(&b.spec, spec) && b.primary == primary && b.priority == priority =>
            {
                b.frame.clone()
            }
            _ => {
                let frame: Arc<[u8]> = F::advert(spec, primary, priority).into();
                iface.adverts.insert(
                    spec.name.clone(),
                    BuiltAdvert {
                        spec: spec.clone(),
                        primary,
                        priority,
                        frame: frame.clone(),
                    },
                );
                frame
            }
        };
        iface.outbox.push(frame);
        iface.outbox_from.push(spec.clone());
        Ok(())
    }

    /// Forgets the adverts of instances the controller no longer runs (after a reload).
    fn prune_adverts(&mut self) {
        for iface in self.ifaces.values_mut() {
            iface.adverts.retain(|_, b| Arc::strong_count(&b.spec) > 1);
        }
    }

    fn iface_mut(&mut self, name: &str) -> Result<&mut Iface> {
        self.ifaces
            .get_mut(name)
            .ok_or_else(|| anyhow!("no interface {name}"))
    }

    fn index(&self, name: &str) -> Result<u32> {
        self.ifaces
            .get(name)
            .map(|i| i.link.index)
            .ok_or_else(|| anyhow!("no interface {name}"))
    }

    /// The index of a route's `dev`, looked up now (it need not be an instance's interface).
    async fn dev_index(&self, dev: Option<&str>) -> Result<Option<u32>> {
        match dev {
            Some(name) => Ok(Some(self.netlink.link(name).await?.index)),
            None => Ok(None),
        }
    }

    /// Removes rules, then routes; with the interface of a route gone, so is the route.
    async fn remove_routes(&self, routes: &[Route], rules: &[Rule]) -> Result<()> {
        for rule in rules {
            self.netlink.del_rule(rule).await?;
        }
        for route in routes {
            let oif = match route.dev.as_deref() {
                Some(name) => match self.netlink.link(name).await {
                    Ok(l) => Some(l.index),
                    Err(_) => continue,
                },
                None => None,
            };
            self.netlink.del_route(route, oif).await?;
        }
        Ok(())
    }

    async fn effect(&mut self, effect: Effect) -> Result<()> {
        match effect {
            Effect::RemoveStaleVips {
                instance,
                iface,
                vips,
            } => {
                let index = self.index(&iface)?;
                for vip in vips {
                    if self.netlink.del_vip(index, vip.address).await? {
                        log::info!("{instance}: removed stale VIP {} from {iface}", vip.address);
                    }
                }
            }
            Effect::SetRouter {
                iface,
                family,
                vrid,
                config,
                ..
            } => self
                .iface_mut(&iface)?
                .dp
                .set_router(family, vrid, &config)?,
            Effect::MapVips {
                iface,
                family,
                vrid,
                vips,
                ..
            } => {
                let dp = &mut self.iface_mut(&iface)?.dp;
                for address in vips {
                    match (address, family) {
                        (IpAddr::V4(a), Family::Ipv4) => dp.add_vip(a, vrid)?,
                        (IpAddr::V6(a), _) => dp.add_vip6(a, family, vrid)?,
                        // IPv4 excluded from an IPv6 instance: XDP does not answer for it.
                        (IpAddr::V4(_), Family::Ipv6) => {}
                    }
                }
            }
            Effect::UnmapVips {
                iface,
                family,
                vips,
                ..
            } => {
                let dp = &mut self.iface_mut(&iface)?.dp;
                for address in vips {
                    match (address, family) {
                        (IpAddr::V4(a), Family::Ipv4) => dp.remove_vip(a)?,
                        (IpAddr::V6(a), _) => dp.remove_vip6(a)?,
                        (IpAddr::V4(_), Family::Ipv6) => {}
                    }
                }
            }
            Effect::AddVips { iface, vips, .. } => {
                let index = self.index(&iface)?;
                for vip in &vips {
                    self.netlink.add_vip(index, vip).await?;
                }
            }
            Effect::RemoveVips { iface, vips, .. } => {
                let index = self.index(&iface)?;
                for vip in vips {
                    self.netlink.del_vip(index, vip.address).await?;
                }
            }
            Effect::AddRoutes { routes, rules, .. } => {
                for route in &routes {
                    let oif = self.dev_index(route.dev.as_deref()).await?;
                    self.netlink.add_route(route, oif).await?;
                }
                for rule in &rules {
                    self.netlink.add_rule(rule).await?;
                }
            }
            Effect::RemoveRoutes { routes, rules, .. } => {
                self.remove_routes(&routes, &rules).await?
            }
            Effect::AddStatic {
                addresses,
                routes,
                rules,
            } => {
                for vip in &addresses {
                    let index = self.netlink.link(&vip.dev).await?.index;
                    self.netlink.add_vip(index, vip).await?;
                }
                for route in &routes {
                    let oif = self.dev_index(route.dev.as_deref()).await?;
                    self.netlink.add_route(route, oif).await?;
                }
                for rule in &rules {
                    self.netlink.add_rule(rule).await?;
                }
            }
            Effect::RemoveStatic {
                addresses,
                routes,
                rules,
            } => {
                self.remove_routes(&routes, &rules).await?;
                for vip in &addresses {
                    // An interface gone took its addresses with it.
                    if let Ok(link) = self.netlink.link(&vip.dev).await {
                        self.netlink.del_vip(link.index, vip.address).await?;
                    }
                }
            }
            Effect::JoinVmac { iface, vmac, .. } => {
                let index = self.index(&iface)?;
                self.netlink.add_unicast_mac(index, vmac).await?;
            }
            Effect::LeaveVmac { iface, vmac, .. } => {
                let index = self.index(&iface)?;
                self.netlink.del_unicast_mac(index, vmac).await?;
            }
            Effect::SendAdvert {
                spec,
                primary,
                unicast_src,
                priority,
            } => match unicast_src {
                Some(src) => {
                    if self.unicast.get(&spec.name).is_none_or(|(_, s)| *s != src) {
                        let tx = UnicastTx::open(src)?;
                        self.unicast.insert(spec.name.clone(), (tx, src));
                    }
                    let (tx, _) = &self.unicast[&spec.name];
                    for peer in &spec.unicast_peers {
                        if let IpAddr::V4(peer) = *peer {
                            let msg = F::advert_message(&spec, src, peer, priority);
                            tx.send_to(&msg, peer)
                                .with_context(|| format!("advert to {peer} not sent"))?;
                            self.metrics.advert_sent(&spec.name, monotonic_ns());
                        }
                    }
                }
                None => self.queue_advert(&spec, primary, priority)?,
            },
            // Carried out by `carry_out`, which reports its failures by interface.
            Effect::Flush => {}
            Effect::SendGarps {
                iface,
                vrid,
                family,
                vmac,
                nd_router,
                vips,
                repeat,
                instance,
            } => {
                let tx = &self
                    .ifaces
                    .get(&iface)
                    .ok_or_else(|| anyhow!("no interface {iface}"))?
                    .tx;
                // Gratuitous ARPs for IPv4 VIPs, unsolicited neighbour advertisements for
                // IPv6 ones (RFC 5798 §6.4.1), from the VMAC.
                for _ in 0..repeat {
                    for vip in &vips {
                        let frame = match (*vip, family) {
                            (IpAddr::V4(v4), Family::Ipv4) => F::garp(vrid, v4),
                            (IpAddr::V6(v6), _) => F::unsolicited_na(vmac, v6, nd_router),
                            (IpAddr::V4(_), Family::Ipv6) => continue,
                        };
                        tx.send(&frame)?;
                        self.metrics.announcement_sent(&instance);
                    }
                }
            }
            Effect::StateChanged {
                instance,
                from,
                to,
                reason,
                detail,
                ..
            } => {
                self.status_dirty = true;
                self.metrics.transition(&instance, from, to, &reason);
                log::info!("{instance}: {from} -> {to} ({detail})")
            }
            Effect::Event { at, event } => {
                self.status_dirty = true;
                // Nobody listening is fine.
                let _ = self.events.send(EventRecord {
                    time: wall_time(at, monotonic_ns()),
                    message: event.message(),
                    event,
                });
            }
            Effect::RunNotify {
                notify: n,
                kind,
                name,
                state,
                priority,
            } => notify(&n, kind, &name, state, priority),
            Effect::Heartbeat {
                iface,
                stale_after_ns,
                hold_ns,
                ..
            } => {
                // The XDP program compares with its own clock, so the stamp is read here.
                let dp = &mut self.iface_mut(&iface)?.dp;
                let mut cfg = dp.iface()?;
                cfg.heartbeat_ns = monotonic_ns();
                cfg.stale_after_ns = stale_after_ns;
                cfg.hold_ns = hold_ns;
                dp.set_iface(&cfg)?;
            }
            Effect::RunScripts(scripts) => {
                for task in self.script_tasks.drain(..) {
                    task.abort();
                }
                for script in scripts {
                    // Prepared under the policy of `scripts::configure`; the controller only
                    // has the scripts `usable_scripts` kept.
                    match crate::scripts::track_command(&script) {
                        Ok(cmd) => self.script_tasks.push(tokio::spawn(track::run(
                            script,
                            cmd,
                            self.script_sender.clone(),
                            self.metrics.clone(),
                        ))),
                        Err(e) => log::warn!("Disabling track script {}: {e}", script.name),
                    }
                }
            }
            Effect::WatchTracked { files, processes } => self.tracked.restart(files, processes),
            Effect::Log { level, line } => log::log!(level, "{line}"),
        }
        Ok(())
    }

    /// The newest advert stamp of every router the controller watches; an interface whose
    /// stamps cannot be read is a failure of its instances.
    fn adverts(&self) -> (Vec<Heard>, Vec<Failure>) {
        let (mut heard, mut failures) = (Vec::new(), Vec::new());
        for (iface, family) in self.ctl.advert_sources() {
            let Some(i) = self.ifaces.get(&iface) else {
                continue;
            };
            match i.dp.newest_adverts(family) {
                Ok(stamps) => {
                    for (vrid, stamp) in stamps.into_iter().enumerate() {
                        let Some(s) = stamp else { continue };
                        heard.push(Heard {
                            iface: iface.clone(),
                            family,
                            vrid: vrid as u8,
                            advert: Advert {
                                src: stamp_src(family, &s.src),
                                priority: Priority(s.priority as u8),
                                interval: Centis(s.interval_cs),
                                received_at: s.time_ns,
                            },
                            checksum: if s.csum_variant == 0 {
                                V3Checksum::PseudoHeader
                            } else {
                                V3Checksum::MessageOnly
                            },
                        });
                    }
                }
                Err(e) => failures.push(Failure::new(
                    Owner::Iface(iface.clone()),
                    format!("{iface}: advert stamps not read: {e:#}"),
                )),
            }
        }
        (heard, failures)
    }

    /// Time passed (or XDP raised an `event`): the stamps when the controller needs them.
    async fn tick(&mut self, event: bool) {
        let now = monotonic_ns();
        let (adverts, failures) = if self.ctl.needs_adverts(now, event) {
            let (heard, failures) = self.adverts();
            (Some(heard), failures)
        } else {
            (None, Vec::new())
        };
        if !failures.is_empty() {
            self.feed(Input::Results(failures)).await;
        }
        self.feed(Input::Tick { adverts }).await;
    }

    /// SIGHUP or `vrrpd reload`: reads the configuration again. A bad file, or one whose
    /// instances cannot run here, is refused with its diagnostics (logged, and in the answer)
    /// and the running configuration keeps serving.
    async fn reload(&mut self) -> ReloadAnswer {
        let path = self.options.config.display().to_string();
        let refused = |mut lines: Vec<String>| {
            lines.push(format!(
                "reload of {path} refused; the running configuration stays"
            ));
            for l in &lines {
                log::error!("{l}");
            }
            ReloadAnswer {
                applied: false,
                lines,
            }
        };
        let loaded = match crate::config::load(&self.options.config) {
            Ok(l) => l,
            Err(e @ crate::config::ConfigError::Io { .. }) => return refused(vec![e.to_string()]),
            Err(e) => {
                for w in e.warnings() {
                    log::warn!("{w}");
                }
                return refused(e.errors().iter().map(|d| d.to_string()).collect());
            }
        };
        let mut lines: Vec<String> = Vec::new();
        for w in &loaded.warnings {
            log::warn!("{w}");
            lines.push(w.to_string());
        }
        let mut config = loaded.config;
        crate::scripts::configure(&config);
        crate::fifo::configure(&config.global).await;
        usable_scripts(&mut config);
        crate::track_file::init_files(&config, true);
        for name in controller::interfaces(&config) {
            if self.ifaces.contains_key(&name) {
                continue;
            }
            match open_iface(&self.netlink, &name, &self.options, &config.global).await {
                Ok(iface) => {
                    self.ifaces.insert(name, iface);
                    self.status_dirty = true;
                }
                Err(e) => {
                    // The first instance on it, where the file names it.
                    let at = config
                        .instances
                        .iter()
                        .find(|i| i.interface == name)
                        .map_or(path.clone(), |i| i.source.to_string());
                    lines.push(format!("{at}: interface {name}: {e:#}"));
                    return refused(lines);
                }
            }
        }
        let host = host(&self.netlink, &self.ifaces, &config).await;
        if controller::check(&config, &host).is_ok() {
            // What the controller will run (it refuses only what fails this check).
            self.config = config.clone();
            for (name, iface) in &mut self.ifaces {
                if let Err(e) = iface.join_groups(&config.global) {
                    log::warn!("{name}: {e:#}: adverts to that group may not reach vrrpd");
                }
            }
        }
        self.feed(Input::Reload {
            config: Box::new(config),
            host,
        })
        .await;
        self.prune_adverts();
        match self.ctl.take_reload_outcome() {
            Some(Ok(done)) => {
                lines.push(done);
                ReloadAnswer {
                    applied: true,
                    lines,
                }
            }
            // The controller logged it already.
            Some(Err(e)) => {
                lines.push(e);
                lines.push(format!(
                    "reload of {path} refused; the running configuration stays"
                ));
                ReloadAnswer {
                    applied: false,
                    lines,
                }
            }
            None => refused(lines),
        }
    }

    /// An interface deleted and created again under its name has a new index: the sockets,
    /// the XDP program and the maps of the old one are gone with it. It is opened anew (a
    /// severed pin replaced) and the controller restarts its instances, but only once it has
    /// the addresses they need: created by hand or by a script, an interface exists, unaddressed
    /// and down, for a moment. Until then its instances stay in FAULT (it counts as down) and
    /// this is tried again at the next link event or read. (Restarted on an interface without
    /// its address, they were refused and ran on against the new program's empty maps: the
    /// backups heard nothing and took over.)
    async fn reopen_recreated(&mut self) {
        let mut recreated = Vec::new();
        for (name, iface) in &self.ifaces {
            if let Ok(link) = self.netlink.link(name).await
                && link.index != iface.link.index
            {
                recreated.push((name.clone(), iface.link.index, link.index));
            }
        }
        for (name, old, new) in recreated {
            let iface =
                match open_iface(&self.netlink, &name, &self.options, &self.config.global).await {
                    Ok(iface) => iface,
                    Err(e) => {
                        if self.recreating.insert(name.clone()) {
                            log::warn!("{name}: created again, but not opened yet ({e:#})");
                        }
                        continue;
                    }
                };
            let previous = self.ifaces.insert(name.clone(), iface);
            let host = host(&self.netlink, &self.ifaces, &self.config).await;
            if let Err(e) = controller::check(&self.config, &host) {
                if let Some(previous) = previous {
                    self.ifaces.insert(name.clone(), previous);
                }
                if self.recreating.insert(name.clone()) {
                    log::warn!("{name}: created again (index {old} -> {new}); waiting: {e}");
                }
                continue;
            }
            self.recreating.remove(&name);
            log::warn!("{name}: created again (index {old} -> {new}), opened anew");
            let config = &self.config;
            self.unicast.retain(|instance, _| {
                !config
                    .instances
                    .iter()
                    .any(|i| i.name == *instance && i.interface == name)
            });
            self.feed(Input::Recreated {
                iface: name,
                config: Box::new(self.config.clone()),
                host,
            })
            .await;
        }
    }

    /// Link states as the controller should see them: an interface created again but not
    /// reopened yet is down.
    fn as_seen(&self, mut states: Vec<(String, bool)>) -> Vec<(String, bool)> {
        for (name, up) in &mut states {
            if self.recreating.contains(name) {
                *up = false;
            }
        }
        states
    }

    /// Reads the link state of every watched interface; the controller acts on the changes.
    async fn track_links(&mut self) {
        self.reopen_recreated().await;
        let mut states = Vec::new();
        for name in self.ctl.watched_links() {
            let up = link_up(&self.netlink, &name).await;
            states.push((name, up));
        }
        let states = self.as_seen(states);
        self.feed(Input::Links(states)).await;
    }

    /// What `vrrpd status` answers from now.
    fn snapshot(&self) -> StatusSnapshot {
        StatusSnapshot {
            views: Arc::new(self.ctl.instances()),
            counters: Arc::new(
                self.ifaces
                    .iter()
                    .map(|(name, i)| (name.clone(), i.counters.clone()))
                    .collect(),
            ),
            timings: Arc::new(self.ctl.timings()),
        }
    }

    /// Status of every instance (reads the XDP counters).
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.snapshot().statuses()
    }

    /// Runs until SIGTERM or SIGINT; then hands over (priority 0 where master, the VIPs kept
    /// until a new master advertises), removes the VIPs and detaches XDP.
    pub async fn run(mut self) -> Result<()> {
        let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(SignalKind::interrupt())?;
        let mut hup = tokio::signal::unix::signal(SignalKind::hangup())?;
        let control = control::Server::bind(&self.options.control_socket)?;
        // The control socket is served by its own task from the snapshot the loop publishes;
        // only a reload comes back to the loop, which answers it once the controller decided.
        let (snapshot_tx, snapshot_rx) = tokio::sync::watch::channel(self.snapshot());
        let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
        if let Some(listener) = self.metrics_listener.take() {
            // Its own thread, ended when `snapshot_tx` is dropped with this function.
            let _ = metrics::serve(listener, snapshot_rx.clone(), self.metrics.clone());
        }
        let control_task = tokio::spawn(control::serve_all(
            control,
            snapshot_rx,
            reload_tx,
            self.events.clone(),
        ));
        let mut published = monotonic_ns();
        self.status_dirty = false;
        let mut systemd = crate::systemd::Notifier::from_env();
        systemd.ready(self.ctl.instances().iter().map(|i| i.state));
        let mut stopping = false;
        while !self.ctl.finished() {
            let now = monotonic_ns();
            let wake = self.ctl.next_wake(now);
            // A snapshot older than what happened since is published within STATUS_REFRESH.
            let wake = if self.snapshot_behind {
                wake.min(published + STATUS_REFRESH)
            } else {
                wake
            };
            let sleep = systemd.cap(Duration::from_nanos(
                wake.saturating_sub(now).min(3_600_000_000_000),
            ));
            // The metrics' loop lag: how late the timer's wake-up comes.
            let planned = now + sleep.as_nanos() as Nanos;
            let mut timer = false;
            let (mut stop, mut reload, mut event) = (false, false, false);
            let mut reload_reply = None;
            let mut script = None;
            let mut tracked = None;
            let mut link = None;
            // Without instances (a configuration that has none yet, as keepalived allows)
            // there is no interface to wait on: only signals, links, scripts and the socket.
            // (select_all refuses an empty list when it is made, so it is made when polled.)
            let waiting = !self.ifaces.is_empty();
            let ifaces = &self.ifaces;
            let events = async move {
                futures_util::future::select_all(
                    ifaces.values().map(|i| Box::pin(i.events.readable())),
                )
                .await
            };
            // Signals first: a stop that arrives with a due advert sends priority 0 at once,
            // not one more advert before it (select! otherwise picks a ready branch at random).
            tokio::select! {
                biased;
                _ = term.recv() => stop = true,
                _ = int.recv() => stop = true,
                _ = hup.recv() => reload = true,
                _ = tokio::time::sleep(sleep) => timer = true,
                (ready, _, _) = events, if waiting => {
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                    event = true;
                }
                Some(change) = self.link_events.next() => link = Some(change),
                Some((name, ok)) = self.script_results.recv() => script = Some((name, ok)),
                Some(input) = self.tracked.recv() => tracked = Some(input),
                Some(reply) = reload_rx.recv() => reload_reply = Some(reply),
            }
            let woke = monotonic_ns();
            if timer {
                self.metrics
                    .loop_lag(Duration::from_nanos(woke.saturating_sub(planned)));
            }
            if stop {
                if !stopping {
                    stopping = true;
                    crate::fifo::end_readers();
                    systemd.stopping(self.ctl.instances().iter().map(|i| i.master_adver_interval));
                }
                self.feed(Input::Stop).await;
            }
            if reload {
                self.reload().await;
            }
            if let Some(reply) = reload_reply {
                let answer = if stopping {
                    ReloadAnswer {
                        applied: false,
                        lines: vec!["vrrpd is stopping; the reload is not applied".into()],
                    }
                } else {
                    self.reload().await
                };
                // A status asked after the answer shows what the reload did.
                snapshot_tx.send_replace(self.snapshot());
                // The client may have gone; the reload stands.
                let _ = reply.send(answer);
            }
            if let Some((name, success)) = script {
                self.feed(Input::Script { name, success }).await;
            }
            if let Some(input) = tracked {
                self.feed(input).await;
            }
            if let Some(change) = link {
                // An interface that comes back may be a new one under the old name: its
                // instances restart on it before they see it up.
                if self.ifaces.contains_key(&change.0) {
                    self.reopen_recreated().await;
                }
                let states = self.as_seen(vec![change]);
                self.feed(Input::Links(states)).await;
            }
            let mut conflicts = Vec::new();
            for (name, iface) in &mut self.ifaces {
                // Events wake us; the stamps carry the adverts' data. Address conflicts are
                // the controller's to report.
                for e in iface.events.get_mut().drain() {
                    if let Some(c) = address_conflict(name, &e) {
                        conflicts.push(c);
                    }
                }
            }
            for c in conflicts {
                self.feed(c).await;
            }
            let now = monotonic_ns();
            if now >= self.links_checked + LINK_CHECK {
                self.links_checked = now;
                self.track_links().await;
            }
            if now >= self.trimmed + MEMORY_TRIM {
                self.trimmed = now;
                release_free_memory();
            }
            self.tick(event).await;
            if !stopping {
                systemd.alive(self.ctl.states());
            }
            let now = monotonic_ns();
            if self.status_dirty || now >= published + STATUS_REFRESH {
                snapshot_tx.send_replace(self.snapshot());
                published = now;
                self.status_dirty = false;
                self.snapshot_behind = false;
            } else {
                self.snapshot_behind = true;
            }
            self.metrics
                .loop_busy(Duration::from_nanos(monotonic_ns().saturating_sub(woke)));
        }
        control_task.abort();
        self.shutdown().await
    }

    async fn shutdown(mut self) -> Result<()> {
        for task in &self.script_tasks {
            task.abort();
        }
        self.tracked.stop();
        for name in self.ifaces.keys() {
            if !dataplane::detach_pinned(&self.options.pin_root, name)? {
                bail!("{name}: no pinned XDP link to detach");
            }
            dataplane::detach_egress_pinned(&self.options.pin_root, name)?;
        }
        let _ = std::fs::remove_file(&self.options.control_socket);
        crate::fifo::close().await;
        crate::scripts::finish().await;
        log::info!("stopped");
        Ok(())
    }
}

/// An XDP event on interface `iface` as the controller's input, if it reports another MAC
/// claiming one of our VIPs.
fn address_conflict(iface: &str, e: &vrrp_common::maps::Event) -> Option<Input> {
    use vrrp_common::maps::{EventKind, ROUTERS_PER_FAMILY};
    if EventKind::from_u32(e.kind) != Some(EventKind::AddressConflict) {
        return None;
    }
    let family = if e.router >= ROUTERS_PER_FAMILY {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let vrid = (e.router % ROUTERS_PER_FAMILY) as u8;
    // The VIP claimed: IPv4 in the first four bytes (also an IPv4 VIP of an IPv6 router).
    let address = if e.src[4..].iter().all(|b| *b == 0) {
        IpAddr::V4(Ipv4Addr::new(e.src[0], e.src[1], e.src[2], e.src[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(e.src))
    };
    Some(Input::AddressConflict {
        iface: iface.to_string(),
        family,
        vrid,
        address,
        mac: e.mac,
    })
}

/// Whether interface `name` is up with a carrier (one that does not exist is down).
async fn link_up(netlink: &Netlink, name: &str) -> bool {
    netlink.link(name).await.is_ok_and(|l| l.up)
}

/// What the controller needs to know of the host for `config`: the interfaces' addresses and
/// the watched links' states.
async fn host(netlink: &Netlink, ifaces: &BTreeMap<String, Iface>, config: &Config) -> Host {
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
    }
}

async fn open_iface(
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
        adverts: HashMap::new(),
        adverts_dropped: 0,
        drops_said_at: 0,
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

/// Runs the notify scripts of an instance or a sync group ([`crate::scripts::notify`]), then
/// writes its line to the notify FIFOs (keepalived's order).
fn notify(n: &Notify, kind: &str, name: &str, to: State, priority: u8) {
    crate::scripts::notify(n, kind, name, to, priority);
    crate::fifo::write(kind, name, to, priority);
}

/// Drops the `vrrp_script`s that keepalived would disable (a user that does not exist, an
/// insecure path under `enable_script_security`, …) with its message: the instances that
/// track one then ignore it, as keepalived removes it from them.
fn usable_scripts(config: &mut Config) {
    config
        .scripts
        .retain(|script| match crate::scripts::track_command(script) {
            Ok(_) => true,
            Err(e) => {
                log::warn!("Disabling track script {}: {e}", script.name);
                false
            }
        });
}
