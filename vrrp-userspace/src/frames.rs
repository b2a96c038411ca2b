//! The frames the daemon sends, built with `wire`: adverts, gratuitous ARPs and unsolicited
//! neighbour advertisements from the VMAC.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
};

use crate::{
    config::{Auth, Instance, Instance as InstanceSpec, V3Checksum, Version},
    fsm::Nanos,
    metrics::SentCounter,
    units::Priority,
    wire::{self, vrrp},
};

/// Frame builders the daemon needs from `wire`.
pub trait Frames {
    /// A complete advert frame from the VMAC, from `primary` (IPv4, or the IPv6 link-local).
    fn advert(spec: &InstanceSpec, primary: impl Into<IpAddr>, priority: Priority) -> Vec<u8>;
    /// A gratuitous ARP for `vip` from the VMAC.
    fn garp(vrid: u8, vip: Ipv4Addr) -> Vec<u8>;
    /// An unsolicited neighbour advertisement for `vip` from `vmac`, with the Router flag as
    /// `router`.
    fn unsolicited_na(vmac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8>;
    /// The VRRP message alone (for unicast over a raw IP socket), its checksum for `src` → `dst`
    /// (one family).
    fn advert_message(spec: &InstanceSpec, src: IpAddr, dst: IpAddr, priority: Priority)
    -> Vec<u8>;
}

/// Each instance's advert frame as last built, with its counter of sent adverts: an advert
/// changes only with the priority, the primary address or the instance's configuration (a
/// reload brings a new spec), so a master builds each of its adverts once, not once an
/// interval.
#[derive(Default)]
pub struct AdvertCache {
    /// By the spec's address ([`AdvertCache::key`]; an `Arc` each entry holds, so the
    /// address is not reused while the entry is there): a master looks one up per advert,
    /// and hashing a name was part of its cost in `perf`.
    built: HashMap<usize, Built>,
}

/// An advert frame and what it was built from.
struct Built {
    spec: Arc<InstanceSpec>,
    primary: IpAddr,
    priority: Priority,
    frame: Box<[u8]>,
    sent: Arc<SentCounter>,
}

impl AdvertCache {
    /// The key of `spec`'s entry, for [`AdvertCache::sent`].
    pub fn key(spec: &Arc<InstanceSpec>) -> usize {
        Arc::as_ptr(spec) as usize
    }

    /// The advert of `spec` from `primary` at `priority`: the frame built last if built from
    /// the same, else `build`'s (with `counter`'s counter of sent adverts the first time).
    /// Building, it forgets the frames of instances no longer run (a reload's: their spec is
    /// held by nothing else).
    pub fn frame(
        &mut self,
        spec: &Arc<InstanceSpec>,
        primary: IpAddr,
        priority: Priority,
        build: impl FnOnce() -> Vec<u8>,
        counter: impl FnOnce() -> Arc<SentCounter>,
    ) -> &[u8] {
        let key = Self::key(spec);
        // Looked up twice when it is there: the borrow checker does not let the first
        // lookup's borrow end on the path that builds.
        if self
            .built
            .get(&key)
            .is_some_and(|b| (b.primary, b.priority) == (primary, priority))
        {
            return &self.built[&key].frame;
        }
        let sent = match self.built.remove(&key) {
            Some(b) => b.sent,
            None => counter(),
        };
        self.built.retain(|_, b| Arc::strong_count(&b.spec) > 1);
        let built = Built {
            spec: spec.clone(),
            primary,
            priority,
            frame: build().into_boxed_slice(),
            sent,
        };
        &self.built.entry(key).insert_entry(built).into_mut().frame
    }

    /// Counts an advert of the instance of `key` sent at `at` (none if it is gone).
    pub fn sent(&self, key: usize, at: Nanos) {
        if let Some(b) = self.built.get(&key) {
            b.sent.sent(at);
        }
    }
}

/// The adverts queued on an interface until they are sent together: copies of their frames
/// in one buffer (no reference count touched per advert, and the kernel copies them from
/// memory just written), and the key of each one's instance in the [`AdvertCache`], to count
/// it once sent.
#[derive(Default)]
pub struct Outbox {
    bytes: Vec<u8>,
    /// Each frame's end in `bytes` (it starts where the one before ends).
    ends: Vec<usize>,
    keys: Vec<usize>,
}

impl Outbox {
    /// Queues a copy of `frame`, an advert of the instance of `key`.
    pub fn push(&mut self, key: usize, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.ends.push(self.bytes.len());
        self.keys.push(key);
    }

    /// How many frames are queued.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The frames queued, in order.
    pub fn frames(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let frame = &self.bytes[start..end];
                start = end;
                frame
            })
            .collect()
    }

    /// The instance of each frame queued, in order ([`AdvertCache::key`]).
    pub fn keys(&self) -> &[usize] {
        &self.keys
    }

    /// Forgets what was queued (keeping the memory for the next interval's).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.keys.clear();
    }
}

/// [`Frames`] built with `wire`.
pub struct WireFrames;

/// The advert an instance sends with `priority`.
pub fn advert_repr(inst: &Instance, priority: Priority) -> vrrp::Repr {
    vrrp::Repr {
        version: inst.version,
        vrid: inst.vrid.get(),
        priority: priority.get(),
        interval_cs: inst.advert_interval.get(),
        addresses: inst.vips.iter().map(|v| v.address).collect(),
        auth: (inst.version == Version::V2).then_some(match inst.auth {
            Auth::Pass { password } => vrrp::Auth {
                kind: 1,
                data: password,
            },
            Auth::None | Auth::Ah => vrrp::Auth {
                kind: 0,
                data: [0; 8],
            },
        }),
    }
}

impl Frames for WireFrames {
    fn advert(inst: &Instance, primary: impl Into<IpAddr>, priority: Priority) -> Vec<u8> {
        let primary = primary.into();
        wire::emit_advert_frame_to(
            &advert_repr(inst, priority),
            primary,
            inst.mcast_group(primary),
            inst.v3_checksum,
        )
    }

    fn advert_message(inst: &Instance, src: IpAddr, dst: IpAddr, priority: Priority) -> Vec<u8> {
        let repr = advert_repr(inst, priority);
        let len = repr.buffer_len();
        let pseudo = match (src, dst, inst.version, inst.v3_checksum) {
            (IpAddr::V6(src), IpAddr::V6(dst), ..) => {
                wire::checksum::pseudo_v6(src, dst, vrrp_common::proto::IPPROTO_VRRP, len as u32)
            }
            (IpAddr::V4(src), IpAddr::V4(dst), Version::V3, V3Checksum::PseudoHeader) => {
                wire::checksum::pseudo_v4(src, dst, vrrp_common::proto::IPPROTO_VRRP, len as u16)
            }
            _ => 0,
        };
        let mut msg = vec![0u8; len];
        repr.emit(&mut msg, pseudo);
        msg
    }

    fn garp(vrid: u8, vip: Ipv4Addr) -> Vec<u8> {
        wire::arp::garp(vrrp_common::proto::vmac_v4(vrid), vip)
    }

    fn unsolicited_na(vmac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8> {
        wire::icmpv6::unsolicited_na(vmac, vip, router)
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::units::Vrid;

    #[test]
    fn an_advert_is_built_again_only_when_what_it_is_built_from_changes() {
        let mut cache = AdvertCache::default();
        let spec = Arc::new(Instance::new("VI_1", "eth0", Vrid::new(1).unwrap()));
        let me: IpAddr = "192.0.2.4".parse().unwrap();
        let builds = std::cell::Cell::new(0);
        let frame = |c: &mut AdvertCache, s: &Arc<Instance>, a, p| {
            c.frame(
                s,
                a,
                Priority(p),
                || {
                    builds.set(builds.get() + 1);
                    vec![p]
                },
                || Arc::new(SentCounter::default()),
            )
            .to_vec()
        };
        assert_eq!(frame(&mut cache, &spec, me, 100), [100]);
        assert_eq!(frame(&mut cache, &spec, me, 100), [100]);
        assert_eq!(builds.get(), 1);
        assert_eq!(frame(&mut cache, &spec, me, 90), [90]);
        frame(&mut cache, &spec, "192.0.2.5".parse().unwrap(), 90);
        // A reload's new spec, equal or not, is built anew.
        let reloaded = Arc::new((*spec).clone());
        frame(&mut cache, &reloaded, me, 90);
        assert_eq!(builds.get(), 4);
        // An instance gone (its spec held by nothing else) is forgotten at the next build.
        let other = Arc::new(Instance::new("VI_2", "eth0", Vrid::new(2).unwrap()));
        frame(&mut cache, &other, me, 100);
        drop(other);
        drop(spec);
        frame(&mut cache, &reloaded, me, 80);
        assert_eq!(cache.built.len(), 1);
    }

    #[test]
    fn an_advert_is_counted_on_its_instances_counter_built_again_or_not() {
        let mut cache = AdvertCache::default();
        let spec = Arc::new(Instance::new("VI_1", "eth0", Vrid::new(1).unwrap()));
        let me: IpAddr = "192.0.2.4".parse().unwrap();
        let counter = Arc::new(SentCounter::default());
        let key = AdvertCache::key(&spec);
        cache.frame(&spec, me, Priority(100), || vec![1], || counter.clone());
        cache.sent(key, 5);
        // A new priority builds the frame again; the counter stays the instance's.
        cache.frame(&spec, me, Priority(90), || vec![2], || unreachable!());
        cache.sent(key, 7);
        assert_eq!(counter.read(), (2, 7));
        // An instance the cache does not know is counted nowhere.
        cache.sent(key + 1, 9);
        assert_eq!(counter.read(), (2, 7));
    }

    #[test]
    fn an_outbox_gives_back_its_frames_and_their_instances_in_order() {
        let mut out = Outbox::default();
        assert!(out.is_empty());
        out.push(10, &[1, 2, 3]);
        out.push(20, &[]);
        out.push(10, &[4]);
        assert_eq!(out.len(), 3);
        assert_eq!(out.frames(), [&[1, 2, 3][..], &[], &[4]]);
        assert_eq!(out.keys(), [10, 20, 10]);
        out.clear();
        assert!(out.is_empty() && out.frames().is_empty() && out.keys().is_empty());
        out.push(30, &[5]);
        assert_eq!(out.frames(), [&[5][..]]);
    }
}
