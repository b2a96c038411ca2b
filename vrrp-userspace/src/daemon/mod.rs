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
    collections::{BTreeMap, VecDeque},
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::{Result, bail};
use tokio::{io::unix::AsyncFd, signal::unix::SignalKind};

use crate::{
    config::{Config, Notify},
    control,
    control::ReloadAnswer,
    controller::{self, Controller, Input, McastGroup},
    dataplane::{self, CounterReader, Dataplane, Events, monotonic_ns},
    frames::{AdvertCache, Outbox},
    fsm::{Nanos, State},
    metrics::{self, Metrics},
    netlink::{Link, LinkEvents, Netlink},
    status::{EVENTS_BACKLOG, EventRecord, InstanceStatus, StatusFeed, StatusSnapshot},
    tx::{McastMembership, PacketTx, UnicastTx},
};

mod alarm;
mod effects;
mod events;
mod iface;
mod memory;
mod reload;

use iface::{host, iface_info, link_up, open_iface, open_missing};
pub use memory::{MMAP_THRESHOLD, bound_heap};

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

pub use crate::frames::Frames;

/// One interface: its XDP program, its events, its transmit socket.
struct Iface {
    link: Link,
    dp: Dataplane,
    /// Its counters for `vrrpd status`.
    counters: Arc<CounterReader>,
    events: AsyncFd<Events>,
    tx: PacketTx,
    /// Adverts due on this interface, sent together (one `sendmmsg`) at the end of a batch
    /// or at [`controller::Effect::Flush`].
    outbox: Outbox,
    /// Each instance's advert frame as last built.
    adverts: AdvertCache,
    /// Adverts the kernel dropped (a full queue), and when that was last logged.
    drops: controller::kernel::Drops,
    /// The multicast groups joined on it, each with its membership.
    memberships: Vec<(McastGroup, McastMembership)>,
    /// Each family's stamps as last read, with XDP's count of valid adverts before that read
    /// (see [`Daemon::adverts`]); by `Family as usize`.
    stamps: [Option<(u64, Vec<controller::Heard>)>; 2],
}

/// The configuration vrrpd starts with does not run on this host ([`controller::admit`], the
/// rule of a reload): why, with its file:line. `vrrpd run` exits with it as with an error in
/// the file; nothing was touched but the XDP programs of the interfaces opened, detached again.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

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
    /// Where the status snapshot is published, once the loop runs.
    snapshot: Option<tokio::sync::watch::Sender<StatusSnapshot>>,
    /// The kernel's announcements of link changes.
    link_events: LinkEvents,
    /// keepalived's `unicast_peer`: a socket per instance, and the source and interface index
    /// it was opened with.
    unicast: BTreeMap<String, (UnicastTx, IpAddr, u32)>,
    /// Interfaces opened anew, until the controller adopts them
    /// ([`controller::Effect::AdoptIface`]) or the inputs are all fed.
    reopened: BTreeMap<String, Iface>,
    /// How many stamps the last read of them handed over ([`Self::adverts`]).
    heard_last: usize,
    /// What the loop and the script tasks record for the metrics.
    metrics: Arc<Metrics>,
    /// `--metrics-listen`, bound at start and served once the loop runs.
    metrics_listener: Option<metrics::Listener>,
    /// `vrrpd events`: every subscriber's receiver; sending never waits.
    events: tokio::sync::broadcast::Sender<EventRecord>,
    /// Inputs an effect produced (a reload's file read), fed after its batch.
    inputs: VecDeque<Input>,
    /// The controller's answer to the reload asked ([`controller::Effect::AnswerReload`]).
    answer: Option<ReloadAnswer>,
    /// A snapshot to publish at the end of the loop's turn: every view built again (`true`,
    /// [`controller::Effect::PublishStatus`]) or only what changed with time alone (a reader
    /// of the status asked).
    publish: Option<bool>,
    /// The addresses of each interface (by index) as the batch of effects being carried out
    /// first read them, for [`controller::Effect::RemoveStaleVips`].
    stale: BTreeMap<u32, crate::netlink::AddressList>,
    /// Registered when [`Daemon::start`] begins, so that no signal of the start is lost.
    signals: Signals,
    _frames: std::marker::PhantomData<F>,
}

/// The signals the loop answers; registered once, a signal received before the loop waits on
/// them is kept until it does.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> Result<Self> {
        use tokio::signal::unix::signal;
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

impl<F: Frames> Daemon<F> {
    /// Sets up every interface and instance: XDP attached (or taken over), stale VIPs removed,
    /// routers configured in the maps, state machines started.
    pub async fn start(config: Config, options: RunOptions) -> Result<Self> {
        // Before anything is attached: a SIGTERM that arrives while the interfaces are set up
        // waits for the loop (which hands over and cleans up) instead of killing the process
        // with XDP attached and the VIPs on it.
        let signals = Signals::register()?;
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
        // As a reload's file: the interfaces opened, or the one that cannot be, and the
        // controller decides.
        let mut ifaces = BTreeMap::new();
        let unopened = open_missing(&netlink, &mut ifaces, &config, &options).await;
        let mut host = host(&netlink, &ifaces, &config).await;
        host.unopened = unopened;
        let (ctl, effects) = match Controller::start(&config, &host, monotonic_ns()) {
            Ok(started) => started,
            Err(why) => {
                for name in ifaces.keys() {
                    let _ = dataplane::detach_pinned(&options.pin_root, name);
                    let _ = dataplane::detach_egress_pinned(&options.pin_root, name);
                }
                return Err(Refused(why).into());
            }
        };
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
            snapshot: None,
            link_events,
            unicast: BTreeMap::new(),
            reopened: BTreeMap::new(),
            heard_last: 0,
            metrics: Arc::new(Metrics::default()),
            metrics_listener,
            events: tokio::sync::broadcast::channel(EVENTS_BACKLOG).0,
            inputs: VecDeque::new(),
            answer: None,
            stale: BTreeMap::new(),
            publish: None,
            signals,
            _frames: std::marker::PhantomData,
        };
        daemon.carry_out(effects).await;
        // The start's garbage (the kernel's BTF, the objects' ELF, the parsed configuration)
        // given back now: the chores' first trim comes MEMORY_TRIM later.
        memory::release_free_memory();
        Ok(daemon)
    }

    /// Feeds the controller one input at the present time and carries out what it answers,
    /// then the inputs its effects produced.
    async fn feed(&mut self, input: Input) {
        self.inputs.push_back(input);
        while let Some(input) = self.inputs.pop_front() {
            let effects = self.ctl.handle(monotonic_ns(), input);
            self.carry_out(effects).await;
        }
        // Not adopted: the old one stays, so that the next link event or read tries again.
        self.reopened.clear();
    }

    /// Time passed (or XDP raised an `event`): the stamps when the controller needs them.
    async fn tick(&mut self, event: bool) {
        let now = monotonic_ns();
        let adverts = self.ctl.needs_adverts(now, event).then(|| self.adverts());
        self.feed(Input::Tick { adverts }).await;
    }

    /// [`controller::Effect::ReadLinks`]: whether an interface was created again, then the
    /// link state of `names`, as inputs.
    async fn read_links(&mut self, names: Vec<String>) -> Vec<Input> {
        let mut inputs = self.recreated().await;
        let mut states = Vec::new();
        for name in names {
            let up = link_up(&self.netlink, &name).await;
            states.push((name, up));
        }
        inputs.push(Input::Links(states));
        inputs
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
            live: Arc::new(self.ctl.live()),
            live_at: monotonic_ns(),
        }
    }

    /// Publishes the snapshot the effects of this turn of the loop asked for, once: built
    /// again, or the one published last with what changed with time alone written over its
    /// live part in place (no allocation unless a reader still holds that part; building
    /// every view again allocates a dozen strings an instance).
    fn publish(&mut self) {
        let (Some(full), Some(tx)) = (self.publish.take(), &self.snapshot) else {
            return;
        };
        if full {
            tx.send_replace(self.snapshot());
        } else {
            let ctl = &self.ctl;
            tx.send_modify(|s| {
                ctl.live_into(Arc::make_mut(&mut s.live));
                s.live_at = monotonic_ns();
            });
        }
    }

    /// Status of every instance (reads the XDP counters).
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.snapshot().statuses()
    }

    /// Runs until SIGTERM or SIGINT; then hands over (priority 0 where master, the VIPs kept
    /// until a new master advertises), removes the VIPs and detaches XDP.
    pub async fn run(mut self) -> Result<()> {
        let control = control::Server::bind(&self.options.control_socket)?;
        // The control socket is served by its own task from the snapshot the loop publishes;
        // only a reload comes back to the loop, which answers it once the controller decided.
        let (snapshot_tx, snapshot_rx) = tokio::sync::watch::channel(self.snapshot());
        self.snapshot = Some(snapshot_tx);
        let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
        // A reader of the status (a client of the socket, a scrape) asks for the snapshot's
        // live part refreshed; nothing refreshes it on a clock.
        let asked = Arc::new(tokio::sync::Notify::new());
        let feed = StatusFeed::new(snapshot_rx, asked.clone());
        if let Some(listener) = self.metrics_listener.take() {
            // Its own thread, ended when the snapshot's sender is dropped with the daemon.
            let _ = metrics::serve(listener, feed.clone(), self.metrics.clone());
        }
        let control_task = tokio::spawn(control::serve_all(
            control,
            feed,
            reload_tx,
            self.events.clone(),
        ));
        let mut systemd = crate::systemd::Notifier::from_env();
        // The loop's timer. Should the timerfd ever fail (it has no reason to), tokio's timer
        // wakes the loop from then on, said once.
        let mut alarm = alarm::Alarm::new()
            .map_err(|e| log::warn!("the loop's timerfd: {e}; tokio's timer wakes it instead"))
            .ok();
        systemd.ready(self.ctl.instances().iter().map(|i| i.state));
        let mut stopping = false;
        while !self.ctl.finished() {
            let now = monotonic_ns();
            let wake = self.ctl.next_wake(now).min(self.ctl.chores_wake());
            let sleep = systemd.cap(Duration::from_nanos(
                wake.saturating_sub(now).min(3_600_000_000_000),
            ));
            // The metrics' loop lag: how late the timer's wake-up comes.
            let planned = now + sleep.as_nanos() as Nanos;
            if let Some(Err(e)) = alarm.as_mut().map(|a| a.set(planned)) {
                log::warn!("the loop's timerfd: {e}; tokio's timer wakes it instead");
                alarm = None;
            }
            let alarm_set = alarm.is_some();
            let mut alarm_failed = None;
            let mut timer = false;
            let (mut stop, mut reload, mut refresh) = (false, false, false);
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
                _ = self.signals.term.recv() => stop = true,
                _ = self.signals.int.recv() => stop = true,
                _ = self.signals.hup.recv() => reload = true,
                rung = async {
                    match alarm.as_mut() {
                        Some(a) => a.rung().await,
                        None => std::future::pending().await,
                    }
                }, if alarm_set => match rung {
                    Ok(()) => timer = true,
                    Err(e) => alarm_failed = Some(e),
                },
                _ = tokio::time::sleep(sleep), if !alarm_set => timer = true,
                // The records are drained below, whatever woke us.
                (ready, _, _) = events, if waiting => {
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                }
                Some(change) = self.link_events.next() => link = Some(change),
                Some((name, ok)) = self.script_results.recv() => script = Some((name, ok)),
                Some(input) = self.tracked.recv() => tracked = Some(input),
                Some(reply) = reload_rx.recv() => reload_reply = Some(reply),
                _ = asked.notified() => refresh = true,
            }
            let woke = monotonic_ns();
            if let Some(e) = alarm_failed {
                log::warn!("the loop's timerfd: {e}; tokio's timer wakes it instead");
                alarm = None;
            }
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
            if reload || reload_reply.is_some() {
                self.feed(Input::ReloadAsked).await;
            }
            // Nobody waits for a SIGHUP's answer.
            // The controller published the snapshot first: a status asked after the answer
            // shows what the reload did.
            if let (Some(reply), Some(answer)) = (reload_reply, self.answer.take()) {
                self.publish();
                // The client may have gone; the reload stands.
                let _ = reply.send(answer);
            }
            self.answer = None;
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
                    let recreated = self.recreated().await;
                    self.inputs.extend(recreated);
                }
                self.feed(Input::Links(vec![change])).await;
            }
            let mut conflicts = Vec::new();
            let mut event = false;
            for (name, iface) in &mut self.ifaces {
                // Events wake us; the stamps carry the adverts' data. Address conflicts are
                // the controller's to report. Whether XDP asked for the stamps is told by the
                // records drained, not by the wake-up: a record drained here in a turn woken
                // for something else takes its wake-up with it (the kernel polls the ring
                // again before reporting it, finds it empty and reports nothing), and a
                // backup would read its master's first advert, or a priority 0, only at its
                // next deadline.
                for e in iface.events.get_mut().drain() {
                    event = true;
                    if let Some(c) = controller::kernel::address_conflict(name, &e) {
                        conflicts.push(c);
                    }
                }
            }
            for c in conflicts {
                self.feed(c).await;
            }
            self.tick(event).await;
            if refresh {
                self.publish.get_or_insert(false);
            }
            self.publish();
            if !stopping {
                systemd.alive(self.ctl.states());
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

/// Runs the notify scripts of an instance or a sync group ([`crate::scripts::notify`]), then
/// writes its line to the notify FIFOs (keepalived's order).
fn notify(n: &Notify, kind: &str, name: &str, to: State, priority: u8) {
    crate::scripts::notify(n, kind, name, to, priority);
    crate::fifo::write(kind, name, to, priority);
}
