//! Carrying out the controller's effects against the kernel (netlink, the XDP maps, the
//! sockets), and reporting the failures back to it.

use std::{net::IpAddr, sync::Arc};

use anyhow::{Context as _, Result, anyhow};
use vrrp_common::maps::IFACE_NO_ACCEPT;

use super::{Daemon, Frames, Iface, memory::release_free_memory, notify};
use crate::{
    config::{Instance as InstanceSpec, Route, Rule},
    control::ReloadAnswer,
    controller::{Effect, Failure, Input, Owner, kernel::failure},
    dataplane::monotonic_ns,
    frames::AdvertCache,
    status::{EventRecord, wall_time},
    track,
    tx::UnicastTx,
    units::Priority,
};

impl<F: Frames> Daemon<F> {
    /// Carries out a batch of effects, sends the adverts queued, and reports the failures to
    /// the controller; again with what it answers, until it has nothing more to do.
    pub(super) async fn carry_out(&mut self, mut effects: Vec<Effect>) {
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
                    match owner {
                        Some(owner) => failures.push(failure(owner, sends, &e, format!("{e:#}"))),
                        None => log::warn!("{e:#}"),
                    }
                }
            }
            failures.extend(self.flush());
            // What the next batch finds stale is read again.
            self.stale.clear();
            effects = self.ctl.handle(monotonic_ns(), Input::Results(failures));
        }
    }

    /// Sends the adverts queued, one `sendmmsg` an interface, the interfaces' batches at
    /// once (each on a thread of its own but the first): a batch's system call carries what
    /// the kernel does with its frames on the way out (on a veth, the peer's receive path too),
    /// and one interface's batch need not wait for another's.
    fn flush(&mut self) -> Vec<Failure> {
        let busy: Vec<(&crate::tx::PacketTx, Vec<&[u8]>)> = self
            .ifaces
            .values()
            .filter(|i| !i.outbox.is_empty())
            .map(|i| (&i.tx, i.outbox.frames()))
            .collect();
        let results: Vec<Result<usize>> = match busy.split_first() {
            None => Vec::new(),
            Some(((tx, frames), [])) => vec![tx.send_batch(frames)],
            Some(((tx, frames), rest)) => std::thread::scope(|s| {
                // A thread that cannot be made (a limit on threads) leaves its batch to this
                // one, after the first.
                let others: Vec<_> = rest
                    .iter()
                    .map(|(tx, frames)| {
                        let (tx, frames) = (*tx, frames.as_slice());
                        std::thread::Builder::new()
                            .name("vrrpd-tx".into())
                            .spawn_scoped(s, move || tx.send_batch(frames))
                            .map_err(|_| (tx, frames))
                    })
                    .collect();
                let mut all = vec![tx.send_batch(frames)];
                all.extend(others.into_iter().map(|other| {
                    match other {
                        Ok(thread) => thread
                            .join()
                            .unwrap_or_else(|_| Err(anyhow!("the sending thread panicked"))),
                        Err((tx, frames)) => tx.send_batch(frames),
                    }
                }));
                all
            }),
        };
        let mut failures = Vec::new();
        // The same interfaces in the same order as `busy`.
        let busy = self.ifaces.iter_mut().filter(|(_, i)| !i.outbox.is_empty());
        for ((name, iface), sent) in busy.zip(results) {
            let count = iface.outbox.len();
            match sent {
                Ok(dropped) => {
                    let now = monotonic_ns();
                    for &key in iface.outbox.keys() {
                        iface.adverts.sent(key, now);
                    }
                    if let Some(total) = iface.drops.count(dropped, now) {
                        log::warn!(
                            "{name}: the kernel dropped {total} advert(s) since vrrpd started \
                             (a queue on the way was full: ENOBUFS)"
                        );
                    }
                }
                Err(e) => {
                    let owner = Owner::Iface(name.clone());
                    let error = format!("{name}: {count} advert(s) not sent: {e:#}");
                    failures.push(failure(owner, true, &e, error));
                }
            }
            iface.outbox.clear();
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
        // The fields apart: the counter is looked up only when the frame is built.
        let iface = self
            .ifaces
            .get_mut(&spec.interface)
            .ok_or_else(|| anyhow!("no interface {}", spec.interface))?;
        let metrics = &self.metrics;
        let frame = iface.adverts.frame(
            spec,
            primary,
            priority,
            || F::advert(spec, primary, priority),
            || metrics.sent_counter(&spec.name),
        );
        iface.outbox.push(AdvertCache::key(spec), frame);
        Ok(())
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
                // Stale: there before this batch (what it added is an instance's own). The
                // interface's addresses are read once a batch, not once a VIP.
                let index = self.index(&iface)?;
                let list = match self.stale.entry(index) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(self.netlink.address_list(index).await?)
                    }
                };
                for vip in vips {
                    if self.netlink.del_listed(list, vip.address).await? {
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
                    match address {
                        IpAddr::V4(a) => dp.add_vip(a, vrid)?,
                        IpAddr::V6(a) => dp.add_vip6(a, family, vrid)?,
                    }
                }
            }
            Effect::UnmapVips { iface, vips, .. } => {
                let dp = &mut self.iface_mut(&iface)?.dp;
                for address in vips {
                    match address {
                        IpAddr::V4(a) => dp.remove_vip(a)?,
                        IpAddr::V6(a) => dp.remove_vip6(a)?,
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
                // As they were added: one request each, no dump of the interface.
                let index = self.index(&iface)?;
                for vip in &vips {
                    self.netlink.del_own_vip(index, vip).await?;
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
                    // Opened again for a new source or interface (one created again).
                    let index = self.index(&spec.interface)?;
                    if self
                        .unicast
                        .get(&spec.name)
                        .is_none_or(|u| (u.1, u.2) != (src, index))
                    {
                        let tx = UnicastTx::open(src, index)?;
                        self.unicast.insert(spec.name.clone(), (tx, src, index));
                    }
                    let (tx, ..) = &self.unicast[&spec.name];
                    for &peer in &spec.unicast_peers {
                        let msg = F::advert_message(&spec, src, peer, priority);
                        tx.send_to(&msg, peer)
                            .with_context(|| format!("advert to {peer} not sent"))?;
                        self.metrics.advert_sent(&spec.name, monotonic_ns());
                    }
                }
                None => self.queue_advert(&spec, primary, priority)?,
            },
            // Carried out by `carry_out`, which reports its failures by interface.
            Effect::Flush => {}
            // A failure is the FAULT of the interface's instances (the controller retries it).
            Effect::JoinGroups { iface, groups } => {
                let i = self.ifaces.get_mut(&iface).context("no such interface")?;
                i.join_groups(&groups).with_context(|| {
                    format!(
                        "{iface}: multicast group not joined (the peers' adverts would not arrive)"
                    )
                })?;
            }
            Effect::SendGarps {
                iface,
                vrid,
                vmac,
                nd_router,
                vips,
                repeat,
                instance,
                ..
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
                        let frame = match *vip {
                            IpAddr::V4(v4) => F::garp(vrid, v4),
                            IpAddr::V6(v6) => F::unsolicited_na(vmac, v6, nd_router),
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
                self.metrics.transition(&instance, from, to, &reason);
                log::info!("{instance}: {from} -> {to} ({detail})")
            }
            Effect::Event { at, event } => {
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
            Effect::NotifyEvent {
                command,
                instance,
                event,
                priority,
            } => {
                if let Some(c) = &command {
                    crate::scripts::notify_event(c, &instance);
                }
                crate::fifo::write_event("INSTANCE", &instance, event, priority);
            }
            Effect::NotifySplitBrain {
                command,
                instance,
                args,
            } => crate::scripts::notify_split_brain(&command, &instance, args),
            Effect::Heartbeat {
                iface,
                stale_after_ns,
                hold_ns,
                no_accept,
                ..
            } => {
                // The XDP program compares with its own clock, so the stamp is read here.
                let dp = &mut self.iface_mut(&iface)?.dp;
                let mut cfg = dp.iface()?;
                cfg.heartbeat_ns = monotonic_ns();
                cfg.stale_after_ns = stale_after_ns;
                cfg.hold_ns = hold_ns;
                cfg.flags = (cfg.flags & !IFACE_NO_ACCEPT) | (no_accept as u32 * IFACE_NO_ACCEPT);
                dp.set_iface(&cfg)?;
            }
            Effect::RunScripts(scripts) => {
                for task in self.script_tasks.drain(..) {
                    task.abort();
                }
                for script in scripts {
                    // Prepared under the policy of `scripts::configure`; the controller only
                    // has the scripts the host did not refuse (`Host::refused_scripts`).
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
            Effect::AdoptIface { iface } => {
                let opened = self
                    .reopened
                    .remove(&iface)
                    .context("no interface opened anew")?;
                self.ifaces.insert(iface, opened);
            }
            Effect::ReadLinks(names) => {
                let inputs = self.read_links(names).await;
                self.inputs.extend(inputs);
            }
            Effect::ReadAddressDrops(pairs) => {
                let counts = pairs
                    .into_iter()
                    .filter_map(|(iface, vrid)| {
                        let d = self.ifaces.get(&iface)?.dp.drops(vrid).ok()?;
                        Some((
                            iface,
                            vrid,
                            d.by_reason[vrrp_common::DropReason::AddressList as usize],
                        ))
                    })
                    .collect();
                self.inputs.push_back(Input::AddressDrops(counts));
            }
            Effect::TrimHeap => release_free_memory(),
            // Published once the turn of the loop is over (`Daemon::publish`): a burst of
            // inputs (a takeover storm's address conflicts, one input each) built every view
            // once an input.
            Effect::PublishStatus => self.publish = Some(true),
            Effect::LoadConfig => {
                let loaded = self.load().await;
                self.inputs.push_back(loaded);
            }
            Effect::AnswerReload { applied, lines } => {
                self.answer = Some(ReloadAnswer { applied, lines })
            }
            Effect::Log { level, line } => log::log!(level, "{line}"),
        }
        Ok(())
    }
}
