//! Frames the daemon originates: adverts, gratuitous ARPs and unsolicited neighbour
//! advertisements, sent from the VMAC over a transmit-only AF_PACKET socket; and the multicast
//! membership that keeps a NIC's filter open for the adverts XDP must see.
//!
//! The socket is opened with protocol 0, so the kernel delivers nothing to it: no copy of
//! every received frame, as a listening packet socket would cost a load balancer.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket},
    os::fd::OwnedFd,
};

use anyhow::{Context as _, Result, anyhow};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, SockaddrLike as _, bind, send, socket,
};

/// A transmit-only packet socket bound to one interface.
pub struct PacketTx {
    fd: OwnedFd,
    interface: String,
    dropped: std::sync::atomic::AtomicU64,
}

impl PacketTx {
    /// Opens and binds the socket to `interface`.
    pub fn open(interface: &str) -> Result<Self> {
        // The kernel's own link-layer address of the interface, as getifaddrs reports it,
        // carries the interface index the socket is bound to.
        let link = nix::ifaddrs::getifaddrs()
            .context("listing interfaces")?
            .filter(|a| a.interface_name == interface)
            .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
            .ok_or_else(|| anyhow!("no link-layer address for {interface}"))?;
        debug_assert_eq!(link.family(), Some(AddressFamily::Packet));
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .context("opening an AF_PACKET socket (needs CAP_NET_RAW)")?;
        bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &link)
            .with_context(|| format!("binding the packet socket to {interface}"))?;
        Ok(PacketTx {
            fd,
            interface: interface.to_string(),
            dropped: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Sends one complete Ethernet frame as it is. A frame the kernel dropped because a queue
    /// on the way was full (`ENOBUFS`) is counted ([`PacketTx::dropped`]), not an error: it is
    /// lost as on a busy wire (a GARP is repeated, an advert is sent again next interval).
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        let n = match send(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd),
            frame,
            MsgFlags::empty(),
        ) {
            Err(nix::errno::Errno::ENOBUFS) => {
                self.dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            sent => sent.with_context(|| format!("sending on {}", self.interface))?,
        };
        if n != frame.len() {
            return Err(anyhow!(
                "short send on {}: {n} of {}",
                self.interface,
                frame.len()
            ));
        }
        Ok(())
    }

    /// Sends complete Ethernet frames with as few system calls as the kernel allows
    /// (`sendmmsg`): a master of many routers sends all its due adverts at once. Returns how
    /// many frames the kernel dropped because a queue on the way was full (`ENOBUFS`: the
    /// interface's, or a veth's peer's): lost like a frame on a busy wire, which VRRP bears
    /// (a backup waits three intervals), so not an error; any other failure is.
    pub fn send_batch(&self, frames: &[impl AsRef<[u8]>]) -> Result<usize> {
        let before = self.dropped();
        self.send_frames(frames)?;
        Ok((self.dropped() - before) as usize)
    }

    /// Frames the kernel dropped so far (a full queue: `ENOBUFS`).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn send_frames(&self, frames: &[impl AsRef<[u8]>]) -> Result<()> {
        use nix::sys::socket::{ControlMessage, LinkAddr, MultiHeaders, sendmmsg};
        // The kernel takes at most UIO_MAXIOV messages a call.
        for chunk in frames.chunks(1024) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let iovs: Vec<[std::io::IoSlice<'_>; 1]> = rest
                    .iter()
                    .map(|f| [std::io::IoSlice::new(f.as_ref())])
                    .collect();
                let addrs: Vec<Option<LinkAddr>> = vec![None; rest.len()];
                let mut headers = MultiHeaders::<LinkAddr>::preallocate(rest.len(), None);
                let cmsgs: [ControlMessage<'_>; 0] = [];
                match sendmmsg(
                    std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                    &mut headers,
                    &iovs,
                    &addrs,
                    cmsgs,
                    MsgFlags::empty(),
                ) {
                    // sendmmsg stops at the first frame that fails and reports those before
                    // it; the next call reports that frame's error.
                    Ok(sent) => match sent.count() {
                        0 => return Err(anyhow!("sendmmsg sent nothing on {}", self.interface)),
                        sent => rest = &rest[sent.min(rest.len())..],
                    },
                    Err(nix::errno::Errno::ENOBUFS) => {
                        self.dropped
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        rest = &rest[1..];
                    }
                    Err(e) => {
                        return Err(anyhow::Error::from(e)).with_context(|| {
                            format!("sending {} frames on {}", rest.len(), self.interface)
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Membership of the adverts' multicast group (`vrrp_mcast_group4/6`, by default 224.0.0.18
/// or ff02::12) on one interface, held while this lives: a real NIC filters multicast before
/// XDP runs.
pub struct McastMembership {
    _socket: UdpSocket,
}

impl McastMembership {
    /// Joins `group` on the interface with address `local`.
    pub fn join_v4(local: Ipv4Addr, group: Ipv4Addr) -> Result<Self> {
        let socket = UdpSocket::bind((local, 0)).context("opening a socket for the membership")?;
        socket
            .join_multicast_v4(&group, &local)
            .with_context(|| format!("joining {group}"))?;
        Ok(McastMembership { _socket: socket })
    }

    /// Joins `group` on the interface with index `ifindex`.
    pub fn join_v6(ifindex: u32, group: Ipv6Addr) -> Result<Self> {
        let socket = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))
            .context("opening a socket for the membership")?;
        socket
            .join_multicast_v6(&group, ifindex)
            .with_context(|| format!("joining {group}"))?;
        Ok(McastMembership { _socket: socket })
    }
}

/// A raw IP socket for protocol 112, for keepalived's `unicast_peer`: the kernel builds the IP
/// header (TTL or hop limit 255; IPv4 ToS CS6) and routes to each peer; the Ethernet source is
/// the NIC's, as in keepalived's unicast mode. An IPv6 socket is bound to the instance's
/// interface, so that link-local sources and peers are its. (socket2, because nix has no
/// constructor for protocol 112.)
pub struct UnicastTx {
    socket: socket2::Socket,
    /// The interface, the scope of link-local peers.
    ifindex: u32,
}

impl UnicastTx {
    /// Opens the socket, bound to `src` (on interface `ifindex`) so that the adverts carry it.
    pub fn open(src: IpAddr, ifindex: u32) -> Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let domain = if src.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(
            domain,
            Type::RAW,
            Some(Protocol::from(i32::from(vrrp_common::proto::IPPROTO_VRRP))),
        )
        .context("opening a raw socket for protocol 112 (needs CAP_NET_RAW)")?;
        let bound = match src {
            IpAddr::V4(a) => {
                socket.set_ttl_v4(255).context("setting TTL 255")?;
                socket.set_tos_v4(0xc0).context("setting ToS CS6")?;
                std::net::SocketAddr::from((a, 0))
            }
            IpAddr::V6(a) => {
                socket
                    .set_unicast_hops_v6(255)
                    .context("setting hop limit 255")?;
                socket
                    .bind_device_by_index_v6(std::num::NonZeroU32::new(ifindex))
                    .context("binding to the interface")?;
                std::net::SocketAddrV6::new(a, 0, 0, scope(a, ifindex)).into()
            }
        };
        socket
            .bind(&bound.into())
            .with_context(|| format!("binding to {src}"))?;
        Ok(UnicastTx { socket, ifindex })
    }

    /// Sends one VRRP message to `peer`.
    pub fn send_to(&self, message: &[u8], peer: IpAddr) -> Result<()> {
        let to = match peer {
            IpAddr::V4(a) => std::net::SocketAddr::from((a, 0)),
            IpAddr::V6(a) => std::net::SocketAddrV6::new(a, 0, 0, scope(a, self.ifindex)).into(),
        };
        self.socket
            .send_to(message, &to.into())
            .with_context(|| format!("sending to {peer}"))?;
        Ok(())
    }
}

/// The scope id of an IPv6 address on interface `ifindex`: the interface for a link-local one.
fn scope(a: Ipv6Addr, ifindex: u32) -> u32 {
    if a.is_unicast_link_local() {
        ifindex
    } else {
        0
    }
}
