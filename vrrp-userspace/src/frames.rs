//! The frames the daemon sends, built with `wire`: adverts, gratuitous ARPs and unsolicited
//! neighbour advertisements from the VMAC.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
};

use crate::{
    config::{Auth, Instance, Instance as InstanceSpec, V3Checksum, Version},
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
    /// By the spec's address (an `Arc` each entry holds, so the address is not reused while
    /// the entry is there): a master looks one up per advert, and hashing a name was part of
    /// its cost in `perf`.
    built: HashMap<usize, Built>,
}

/// An advert frame and what it was built from.
struct Built {
    spec: Arc<InstanceSpec>,
    primary: IpAddr,
    priority: Priority,
    frame: Arc<[u8]>,
    sent: Arc<SentCounter>,
}

impl AdvertCache {
    /// The advert of `spec` from `primary` at `priority`, with the instance's counter of sent
    /// adverts: the frame built last if built from the same, else `build`'s (and `counter`'s
    /// counter). Building, it forgets the frames of instances no longer run (a reload's:
    /// their spec is held by nothing else).
    pub fn frame(
        &mut self,
        spec: &Arc<InstanceSpec>,
        primary: IpAddr,
        priority: Priority,
        build: impl FnOnce() -> Vec<u8>,
        counter: impl FnOnce() -> Arc<SentCounter>,
    ) -> (Arc<[u8]>, Arc<SentCounter>) {
        let key = Arc::as_ptr(spec) as usize;
        if let Some(b) = self.built.get(&key)
            && (b.primary, b.priority) == (primary, priority)
        {
            return (b.frame.clone(), b.sent.clone());
        }
        let sent = match self.built.remove(&key) {
            Some(b) => b.sent,
            None => counter(),
        };
        self.built.retain(|_, b| Arc::strong_count(&b.spec) > 1);
        let frame: Arc<[u8]> = build().into();
        let built = Built {
            spec: spec.clone(),
            primary,
            priority,
            frame: frame.clone(),
            sent: sent.clone(),
        };
        self.built.insert(key, built);
        (frame, sent)
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
            .0
        };
        let first = frame(&mut cache, &spec, me, 100);
        assert!(Arc::ptr_eq(&first, &frame(&mut cache, &spec, me, 100)));
        assert_eq!(&*frame(&mut cache, &spec, me, 90), &[90]);
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
}
