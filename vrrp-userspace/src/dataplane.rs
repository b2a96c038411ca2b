//! The XDP program: embedded at build time (see `build.rs`), loaded and attached with aya, and
//! its maps read and written for the controller.
//!
//! This is the only module that talks to aya. Map layouts are in [`vrrp_common::maps`];
//! `docs/maps.md` describes them for operators.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
    os::fd::AsFd as _,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context as _, Result, anyhow};
use aya::{
    Ebpf,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
    programs::{
        SchedClassifier, TcAttachType, TestRun as _, TestRunOptions, Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        tc::SchedClassifierLink,
        xdp::XdpLink,
    },
};
use vrrp_common::maps::{
    AdvertStamp, Counter, DropCounts, Event, Family, IfaceConfig, ROUTER_SLOTS, RouterConfig,
    SLOT_WAYS4, SLOT_WAYS6, Vip6Entry, VipEntry, VipSlot, router_index,
};

/// The BPF object built from `vrrp-ebpf` (ELF, little-endian BPF, with BTF).
pub static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp"));

/// Whether [`BPF_OBJECT`] has CO-RE relocations, which need the kernel's BTF to be resolved.
/// It has none (its programs read only packet data and their own maps;
/// `tests/dataplane_object.rs` holds this), so it is loaded without the kernel's BTF:
/// `Ebpf::load` reads and parses /sys/kernel/btf/vmlinux (an 8 MiB buffer and some 2 MiB of
/// small allocations) for nothing, at every interface opened. Should a relocation appear, the
/// object is loaded with it again. Decided once per process.
pub fn needs_kernel_btf() -> bool {
    static NEEDS: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        aya_obj::Object::parse(BPF_OBJECT).map_or(true, |o| o.has_btf_relocations())
    });
    *NEEDS
}

/// Loads [`BPF_OBJECT`] into the kernel (maps created, programs not yet), with the kernel's
/// BTF only if its relocations need it ([`needs_kernel_btf`]).
/// `VRRP_ADVERTS` is sized to the host's possible CPUs, a block of stamps a CPU.
fn load_object(cpus: usize) -> Result<Ebpf> {
    let stamps = u32::try_from(cpus)
        .ok()
        .and_then(|cpus| cpus.checked_mul(ROUTER_SLOTS))
        .ok_or_else(|| anyhow!("too many possible CPUs for {}", map_names::ADVERTS))?;
    let mut loader = aya::EbpfLoader::new();
    if !needs_kernel_btf() {
        loader.btf(None);
    }
    Ok(loader
        .map_max_entries(map_names::ADVERTS, stamps)
        .load(BPF_OBJECT)?)
}

/// The host's possible CPUs (what per-CPU maps and `VRRP_ADVERTS` are sized by).
fn possible_cpus() -> Result<usize> {
    aya::util::nr_cpus().map_err(|(what, e)| anyhow!("{what}: {e}"))
}

/// The name of the XDP program inside [`BPF_OBJECT`].
pub const PROGRAM_NAME: &str = "vrrp";

/// The tc egress program in the same object: the kernel's neighbour discovery sent from an
/// active IPv6 VIP leaves with the VMAC.
pub const EGRESS_PROGRAM_NAME: &str = "vrrp_egress";

/// The benchmarks' object (`vrrp-ebpf/src/bench.rs`): the empty program and the flood
/// generator. Only with the `lab` feature: a release `vrrpd` neither carries nor loads it.
#[cfg(feature = "lab")]
pub static BENCH_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-bench"));

/// An empty XDP program in [`BENCH_OBJECT`], loaded by the benchmarks as their baseline.
#[cfg(feature = "lab")]
pub const NOOP_PROGRAM_NAME: &str = "vrrp_noop";

/// The floors in [`BENCH_OBJECT`]: one clock read, map lookup, counter or run of arithmetic
/// each, timed by the XDP benchmark beside the program's paths.
#[cfg(feature = "lab")]
pub const FLOOR_PROGRAM_NAMES: [&str; 5] = [
    "floor_ktime",
    "floor_coarse",
    "floor_array",
    "floor_percpu",
    "floor_alu",
];

/// The maps of the program, by the names `bpftool map dump name …` finds them under.
pub mod map_names {
    pub const ROUTERS: &str = "VRRP_ROUTERS";
    pub const ADVERTS: &str = "VRRP_ADVERTS";
    pub const VIPS: &str = "VRRP_VIPS";
    pub const IFACE: &str = "VRRP_IFACE";
    pub const DROPS: &str = "VRRP_DROPS";
    pub const COUNTERS: &str = "VRRP_COUNTERS";
    pub const EVENTS: &str = "VRRP_EVENTS";
    pub const SCRATCH: &str = "VRRP_SCRATCH";
    pub const VIPSLOTS: &str = "VRRP_VIPSLOTS";
    pub const VIPS6: &str = "VRRP_VIPS6";
    /// The benchmarks' flood generator's frame (in the benchmarks' object, used by `vrrp_tx`).
    #[cfg(feature = "lab")]
    pub const TX_FRAME: &str = "VRRP_TX_FRAME";
    pub const CLOCK: &str = "VRRP_CLOCK";
    /// The liveness gate's record of another router's advert after the last heartbeat.
    pub const TAKEOVER: &str = "VRRP_TAKEOVER";
    /// Every map the program declares.
    pub const ALL: [&str; 12] = [
        ROUTERS, ADVERTS, VIPS, IFACE, DROPS, COUNTERS, EVENTS, SCRATCH, VIPSLOTS, VIPS6, CLOCK,
        TAKEOVER,
    ];
}

/// What one kernel test run of the program returned.
#[derive(Debug)]
pub struct TestRunOutcome {
    /// The XDP verdict (see [`verdict`]).
    pub verdict: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// The kernel's measured time per repetition.
    pub duration: std::time::Duration,
}

/// XDP verdicts, as the kernel numbers them.
pub mod verdict {
    pub const ABORTED: u32 = 0;
    pub const DROP: u32 = 1;
    pub const PASS: u32 = 2;
    pub const TX: u32 = 3;
}

/// How the program is attached to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver, before any skb exists.
    Native,
    /// In the generic (skb) path, for drivers without native XDP.
    Generic,
}

/// Where `vrrpd` pins the XDP links it creates, so that the program outlives the daemon.
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf/vrrpd";

/// The magic number of a bpffs superblock (`statfs` f_type).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Which XDP mode to attach in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeChoice {
    /// Native, falling back to generic (logged) when the driver has none.
    Auto,
    /// Native only.
    Native,
    /// Generic (skb) only. On a veth, native XDP_TX frames were seen to vanish on this kernel
    /// even with GRO on at the peer, while generic-mode XDP_TX reaches it: the controller uses
    /// this mode on veth.
    Generic,
}

/// Whether an existing pinned link was taken over, or a new one made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// A new link was created and pinned.
    New(AttachMode),
    /// A link left by an earlier vrrpd was found and now runs this program (atomic replace).
    TakenOver,
}

/// The pin of `interface`'s link: one per network namespace and interface, so several vrrpd in
/// different namespaces of one host never collide. Under the host's bpffs even when this
/// process runs in a private mount namespace (see [`resolve_pin_root`]).
pub fn pin_path(pin_root: &Path, interface: &str) -> Result<PathBuf> {
    let netns = std::fs::metadata("/proc/self/ns/net")
        .context("reading /proc/self/ns/net")?
        .ino();
    Ok(resolve_pin_root(pin_root).join(format!("netns{netns}-{interface}")))
}

/// Whether `p` is on a bpffs.
fn on_bpffs(p: &Path) -> bool {
    nix::sys::statfs::statfs(p).is_ok_and(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
}

/// Where the pins under `pin_root` really go. `ip netns exec` runs vrrpd in a private mount
/// namespace whose /sys is remounted, without the host's bpffs: pins made in a bpffs mounted
/// there would vanish with the process (after kill -9, XDP detached and the kernel answering
/// ARP for the VIPs beside the new master). When /sys/fs/bpf here is no bpffs, pins under it
/// go to the bpffs of the mount namespace vrrpd was started from (see `outer_bpffs`), where
/// they outlive this process as under `nsenter --net=`.
pub fn resolve_pin_root(pin_root: &Path) -> PathBuf {
    let bpffs = Path::new("/sys/fs/bpf");
    let Ok(rel) = pin_root.strip_prefix(bpffs) else {
        return pin_root.to_path_buf();
    };
    if on_bpffs(bpffs) {
        return pin_root.to_path_buf();
    }
    match outer_bpffs() {
        Some(outer) => outer.path.join(rel),
        None => pin_root.to_path_buf(),
    }
}

/// The /sys/fs/bpf of another mount namespace, held open for the life of the process.
struct OuterBpffs {
    /// The open directory: `path` walks through it whatever becomes of `pid`.
    _dir: std::fs::File,
    /// `/proc/self/fd/N`, N the directory's descriptor.
    path: PathBuf,
    /// The process whose mount namespace it was found in.
    pid: u32,
}

/// The bpffs at /sys/fs/bpf of the nearest ancestor process in another mount namespace (the
/// shell that ran `ip netns exec`, say), or of init: found through `/proc/PID/root`, which
/// walks into that process's mount namespace, and kept open so that later paths go through
/// `/proc/self/fd/N` even after that process is gone. None when no ancestor's can be reached.
fn outer_bpffs() -> Option<&'static OuterBpffs> {
    static OUTER: std::sync::OnceLock<Option<OuterBpffs>> = std::sync::OnceLock::new();
    OUTER
        .get_or_init(|| {
            let ours = std::fs::read_link("/proc/self/ns/mnt").ok()?;
            let mut pid = std::os::unix::process::parent_id();
            for _ in 0..64 {
                let root = PathBuf::from(format!("/proc/{pid}/root/sys/fs/bpf"));
                if std::fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|m| m != ours)
                    && on_bpffs(&root)
                    && let Ok(dir) = std::fs::File::open(&root)
                {
                    use std::os::fd::AsRawFd as _;
                    let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
                    return Some(OuterBpffs {
                        _dir: dir,
                        path,
                        pid,
                    });
                }
                if pid <= 1 {
                    break;
                }
                pid = parent_of(pid)?;
            }
            None
        })
        .as_ref()
}

/// The parent of process `pid` (field 4 of /proc/PID/stat).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether pins under `pin_root` outlive this process: false only where /sys/fs/bpf here is
/// no bpffs and none of another mount namespace can be reached (see [`resolve_pin_root`]).
/// There XDP is attached through netlink instead ([`xdp_netlink`]), which needs no pin.
fn pins_outlive_us(pin_root: &Path) -> bool {
    let bpffs = Path::new("/sys/fs/bpf");
    !(pin_root.starts_with(bpffs) && !on_bpffs(bpffs) && outer_bpffs().is_none())
}

/// Makes sure `pin_root` is a directory on a bpffs that outlives this process: the host's,
/// through `/proc/PID/root` from a private mount namespace (see [`resolve_pin_root`]).
fn ensure_bpffs(pin_root: &Path) -> Result<()> {
    let resolved = resolve_pin_root(pin_root);
    if resolved != pin_root {
        log::info!(
            "no bpffs at /sys/fs/bpf in this mount namespace (as under `ip netns exec`); pinning \
             in the host's, that of the mount namespace of pid {} (the process that started \
             vrrpd or an ancestor), so that the XDP program outlives vrrpd",
            outer_bpffs().map_or(0, |o| o.pid)
        );
    }
    std::fs::create_dir_all(&resolved)
        .with_context(|| format!("creating the pin directory {}", resolved.display()))?;
    if !on_bpffs(&resolved) {
        anyhow::bail!("{} is not on a bpffs", resolved.display());
    }
    Ok(())
}

/// The name of the XDP program with id `id`, if it is loaded.
fn program_name(id: u32) -> Option<String> {
    aya::programs::loaded_programs()
        .filter_map(|p| p.ok())
        .find(|p| p.id() == id)
        .map(|p| p.name_as_str().unwrap_or("").to_string())
}

/// Detaches the program that an earlier vrrpd pinned on `interface` (or, where no pin can
/// outlive vrrpd, attached through netlink), if any.
pub fn detach_pinned(pin_root: &Path, interface: &str) -> Result<bool> {
    if pins_outlive_us(pin_root) {
        return unpin(&pin_path(pin_root, interface)?);
    }
    let ifindex = nix::net::if_::if_nametoindex(interface)
        .with_context(|| format!("no interface {interface}"))?;
    match xdp_netlink::current(ifindex)? {
        Some(cur) if program_name(cur.prog_id).as_deref() == Some(PROGRAM_NAME) => {
            xdp_netlink::set(ifindex, -1, cur.mode)
                .with_context(|| format!("detaching XDP from {interface}"))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// The pin of `interface`'s tc egress link, beside the XDP one.
pub fn egress_pin_path(pin_root: &Path, interface: &str) -> Result<PathBuf> {
    let xdp = pin_path(pin_root, interface)?;
    let mut name = xdp.into_os_string();
    name.push("-egress");
    Ok(PathBuf::from(name))
}

/// Detaches the tc egress program an earlier vrrpd pinned on `interface`, if any.
pub fn detach_egress_pinned(pin_root: &Path, interface: &str) -> Result<bool> {
    unpin(&egress_pin_path(pin_root, interface)?)
}

/// The link pinned at `path`, if there is one.
fn pinned_link(path: &Path) -> Result<Option<FdLink>> {
    if !path.exists() {
        return Ok(None);
    }
    let pinned = PinnedLink::from_pin(path)
        .with_context(|| format!("opening the pinned link {}", path.display()))?;
    Ok(Some(FdLink::from(pinned)))
}

/// `BPF_LINK_TYPE_XDP`.
const LINK_TYPE_XDP: u32 = 6;
/// `BPF_LINK_TYPE_TCX`.
const LINK_TYPE_TCX: u32 = 11;

/// What the kernel says the link pinned at `path` is attached to: its type and the interface
/// (0 once the interface it was attached to is gone: a severed link). XDP and TCX links both
/// report the ifindex first in their part of `struct bpf_link_info`.
#[expect(
    unsafe_code,
    reason = "the bpf(2) system call with pointers into buffers that outlive it, and the fd it returns"
)]
fn link_target(path: &Path) -> Result<(u32, u32)> {
    use std::os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::ffi::OsStrExt as _,
    };
    const BPF_OBJ_GET: libc::c_long = 7;
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    let bpf = |cmd: libc::c_long, attr: *mut u8, size: usize| {
        // SAFETY: `attr` points at a live `size`-byte bpf_attr member whose pointers are
        // alive and unaliased for the call.
        let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr, size) };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    };
    // union bpf_attr, the `pathname` member (BPF_OBJ_GET).
    #[repr(C)]
    struct GetAttr {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut get = GetAttr {
        pathname: name.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: 0,
    };
    let fd = bpf(
        BPF_OBJ_GET,
        &mut get as *mut GetAttr as *mut u8,
        core::mem::size_of::<GetAttr>(),
    )
    .context("BPF_OBJ_GET")?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // union bpf_attr, the `info` member.
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    // struct bpf_link_info: type, id, prog_id, then the 8-byte aligned union.
    let mut info = [0u64; 12];
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: core::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    bpf(
        BPF_OBJ_GET_INFO_BY_FD,
        &mut attr as *mut InfoAttr as *mut u8,
        core::mem::size_of::<InfoAttr>(),
    )
    .context("BPF_OBJ_GET_INFO_BY_FD")?;
    Ok((info[0] as u32, info[2] as u32))
}

/// Whether the link at `path` (of kind `want`, XDP or TCX) can be taken over for
/// `interface`: it must be attached to that very interface. A link whose interface was
/// deleted (a crash, then the interface re-created under the same name) is severed, and one
/// attached elsewhere (an interface renamed, or a dead namespace's pin under a reused inode
/// number) is not ours to update: both are unpinned, with a log line, so that a new link is
/// made. None: nothing usable is pinned there.
fn usable_pin(path: &Path, interface: &str, want: u32) -> Result<Option<FdLink>> {
    if !path.exists() {
        return Ok(None);
    }
    let ifindex = nix::net::if_::if_nametoindex(interface)
        .with_context(|| format!("no interface {interface}"))?;
    let why = match link_target(path) {
        Ok((kind, _)) if kind != want => format!("is not a link of the expected kind ({kind})"),
        Ok((_, 0)) => "is severed (its interface was deleted)".to_string(),
        Ok((_, at)) if at != ifindex => {
            format!("is attached to another interface (index {at}, not {ifindex})")
        }
        Ok(_) => return pinned_link(path),
        Err(e) => format!("cannot be read as a link ({e:#})"),
    };
    log::warn!(
        "{interface}: the pinned link {} {why}; unpinning it and attaching anew",
        path.display()
    );
    std::fs::remove_file(path).with_context(|| format!("unpinning {}", path.display()))?;
    Ok(None)
}

/// Removes the pin at `path`; the link goes (its program detached) with the last reference.
fn unpin(path: &Path) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let link = PinnedLink::from_pin(path)
        .with_context(|| format!("opening the pinned link {}", path.display()))?;
    // Unpinning drops the last reference but ours; dropping ours detaches the program.
    drop(link.unpin().context("unpinning")?);
    Ok(true)
}

/// BPF_PROG_TEST_RUN of `program` on `frame`, `repeat` times.
fn run_xdp(program: &Xdp, frame: &[u8], repeat: u32) -> Result<TestRunOutcome> {
    let mut out = vec![0u8; frame.len() + 256];
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat,
            ..Default::default()
        })
        .context("BPF_PROG_TEST_RUN")?;
    out.truncate(result.data_size_out as usize);
    Ok(TestRunOutcome {
        verdict: result.return_value,
        frame: out,
        duration: result.duration,
    })
}

/// Turns on the kernel's per-program run statistics (BPF_ENABLE_STATS) until dropped.
pub fn enable_run_stats() -> Result<std::os::fd::OwnedFd> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime).context("BPF_ENABLE_STATS")
}

/// The loaded program and its maps.
pub struct Dataplane {
    ebpf: Ebpf,
    /// `VRRP_ADVERTS`, mapped.
    stamps: Arc<StampMap>,
    /// The benchmarks' object, loaded on first use of the empty program.
    #[cfg(feature = "lab")]
    bench: Option<Ebpf>,
    /// The VIPs of `VRRP_VIPS` and `VRRP_VIPS6` by last byte, as they stand in the maps: read
    /// from the maps once, at the first change, then kept in step by the add and remove
    /// methods, so that rebuilding a slot costs its own VIPs, not a walk over every VIP (which
    /// made adding N VIPs O(N²) system calls).
    vip_index: Option<VipIndex>,
    /// `VRRP_IFACE` as last written here (the program only reads it): the heartbeat, written
    /// at every advert interval of a master, changes its stamp without reading it back first.
    iface_written: Option<IfaceConfig>,
}

/// The VIPs of each family in the hash maps, by last byte, each with its router.
#[derive(Default)]
struct VipIndex {
    v4: BTreeMap<u8, BTreeMap<[u8; 4], u32>>,
    v6: BTreeMap<u8, BTreeMap<[u8; 16], u32>>,
}

impl Dataplane {
    /// Loads the embedded object and the XDP program into the kernel (verifier included).
    pub fn load() -> Result<Self> {
        let cpus = possible_cpus()?;
        let mut ebpf = load_object(cpus).context("loading the embedded BPF object")?;
        let program: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME} in the BPF object"))?
            .try_into()
            .context("program is not XDP")?;
        program
            .load()
            .context("the kernel refused the XDP program")?;
        let egress: &mut SchedClassifier = ebpf
            .program_mut(EGRESS_PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {EGRESS_PROGRAM_NAME} in the BPF object"))?
            .try_into()
            .context("program is not a tc classifier")?;
        egress
            .load()
            .context("the kernel refused the tc egress program")?;
        let stamps = match ebpf.map(map_names::ADVERTS) {
            Some(aya::maps::Map::Array(data)) => StampMap::new(data.fd().as_fd(), cpus)?,
            _ => return Err(anyhow!("{} is not an array", map_names::ADVERTS)),
        };
        Ok(Self {
            ebpf,
            stamps: Arc::new(stamps),
            #[cfg(feature = "lab")]
            bench: None,
            vip_index: None,
            iface_written: None,
        })
    }

    /// Runs the tc egress program once on `frame` (BPF_PROG_TEST_RUN); the verdict is the tc
    /// action (-1 pass on, 2 drop).
    pub fn test_run_egress(&self, frame: &[u8]) -> Result<TestRunOutcome> {
        let program: &SchedClassifier = self
            .ebpf
            .program(EGRESS_PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {EGRESS_PROGRAM_NAME}"))?
            .try_into()?;
        let mut out = vec![0u8; frame.len() + 256];
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .context("BPF_PROG_TEST_RUN of the egress program")?;
        out.truncate(result.data_size_out as usize);
        Ok(TestRunOutcome {
            verdict: result.return_value,
            frame: out,
            duration: result.duration,
        })
    }

    /// Attaches the tc egress program to `interface` (TCX), through a link pinned beside the
    /// XDP one; a link pinned by an earlier vrrpd is taken over in place.
    pub fn attach_egress_pinned(&mut self, interface: &str, pin_root: &Path) -> Result<Attached> {
        let path = egress_pin_path(pin_root, interface)?;
        let program: &mut SchedClassifier = self
            .ebpf
            .program_mut(EGRESS_PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {EGRESS_PROGRAM_NAME}"))?
            .try_into()?;
        if !pins_outlive_us(pin_root) {
            // No pin would outlive us: the link stays with the program, for our life only.
            program
                .attach(interface, TcAttachType::Egress)
                .with_context(|| format!("attaching the tc egress program to {interface}"))?;
            return Ok(Attached::New(AttachMode::Native));
        }
        if let Some(pinned) = usable_pin(&path, interface, LINK_TYPE_TCX)? {
            let link = SchedClassifierLink::try_from(pinned)
                .context("the pinned link is not a tc link")?;
            let id = program
                .attach_to_link(link)
                .context("replacing the program of the pinned egress link")?;
            drop(program.take_link(id)?);
            return Ok(Attached::TakenOver);
        }
        let id = program
            .attach(interface, TcAttachType::Egress)
            .with_context(|| format!("attaching the tc egress program to {interface}"))?;
        let link = FdLink::try_from(program.take_link(id)?)
            .context("the kernel gave no bpf_link for the egress program (TCX needs Linux 6.6)")?;
        link.pin(&path)
            .with_context(|| format!("pinning the link at {}", path.display()))?;
        Ok(Attached::New(AttachMode::Native))
    }

    /// The empty program (for benchmarks), loaded on first use.
    #[cfg(feature = "lab")]
    fn noop(&mut self) -> Result<&mut Xdp> {
        self.bench_program(NOOP_PROGRAM_NAME)
    }

    /// A program of the benchmarks' object, loaded on first use.
    #[cfg(feature = "lab")]
    fn bench_program(&mut self, name: &str) -> Result<&mut Xdp> {
        if self.bench.is_none() {
            self.bench =
                Some(Ebpf::load(BENCH_OBJECT).context("loading the benchmarks' BPF object")?);
        }
        let bench = self
            .bench
            .as_mut()
            .ok_or_else(|| anyhow!("no benchmarks' object"))?;
        let program: &mut Xdp = bench
            .program_mut(name)
            .ok_or_else(|| anyhow!("no program {name} in the benchmarks' object"))?
            .try_into()?;
        if program.fd().is_err() {
            program
                .load()
                .with_context(|| format!("loading the benchmarks' program {name}"))?;
        }
        Ok(program)
    }

    #[cfg(feature = "lab")]
    /// Test-runs the benchmarks' program `name` (loaded on first use) `repeat` times on `frame`:
    /// the floors (`floor_*` in `vrrp-ebpf/src/bench.rs`).
    pub fn test_run_bench(
        &mut self,
        name: &str,
        frame: &[u8],
        repeat: u32,
    ) -> Result<TestRunOutcome> {
        run_xdp(self.bench_program(name)?, frame, repeat)
    }

    #[cfg(feature = "lab")]
    /// Loads the empty program too (for benchmarks) and test-runs it `repeat` times on `frame`.
    pub fn test_run_noop(&mut self, frame: &[u8], repeat: u32) -> Result<TestRunOutcome> {
        run_xdp(self.noop()?, frame, repeat)
    }

    #[cfg(feature = "lab")]
    /// Attaches the empty program natively to `interface` (for benchmarks: the baseline of a
    /// flood through an attached program); it stays attached while `self` lives.
    pub fn attach_noop(&mut self, interface: &str) -> Result<()> {
        self.noop()?
            .attach(interface, XdpMode::Driver)
            .with_context(|| format!("attaching the empty program natively to {interface}"))?;
        Ok(())
    }

    /// The kernel's accumulated run time and run count of the program and of the empty one,
    /// kept while a guard from [`enable_run_stats`] lives: the cost of the program alone, per
    /// run, whatever the caller's overhead around each run.
    #[cfg(feature = "lab")]
    pub fn run_stats(&self) -> Result<[(std::time::Duration, u64); 2]> {
        let bench = self
            .bench
            .as_ref()
            .ok_or_else(|| anyhow!("the empty program was never loaded"))?;
        let noop: &Xdp = bench
            .program(NOOP_PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {NOOP_PROGRAM_NAME}"))?
            .try_into()?;
        let (ours, empty) = (self.program()?.info()?, noop.info()?);
        Ok([
            (ours.run_time(), ours.run_count()),
            (empty.run_time(), empty.run_count()),
        ])
    }

    /// How many instructions the verifier processed to accept the program.
    pub fn verified_instructions(&self) -> Result<u32> {
        self.program()?
            .info()?
            .verified_instruction_count()
            .ok_or_else(|| anyhow!("the kernel does not report verified instruction counts"))
    }

    fn program(&self) -> Result<&Xdp> {
        self.ebpf
            .program(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME}"))?
            .try_into()
            .context("program is not XDP")
    }

    /// Runs the program `repeat` times on `frame` in the kernel (BPF_PROG_TEST_RUN).
    pub fn test_run_repeat(&self, frame: &[u8], repeat: u32) -> Result<TestRunOutcome> {
        run_xdp(self.program()?, frame, repeat)
    }

    /// Runs the program once on `frame` in the kernel (BPF_PROG_TEST_RUN).
    pub fn test_run(&self, frame: &[u8]) -> Result<TestRunOutcome> {
        self.test_run_repeat(frame, 1)
    }

    /// Attaches the program to `interface`, natively, or in generic (skb) mode when the driver
    /// has no native XDP (logged with the reason); returns the mode used.
    pub fn attach(&mut self, interface: &str) -> Result<AttachMode> {
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME}"))?
            .try_into()?;
        match program.attach(interface, XdpMode::Driver) {
            Ok(_) => Ok(AttachMode::Native),
            Err(native) => {
                log::warn!(
                    "{interface}: native XDP refused ({native}); falling back to generic mode"
                );
                program
                    .attach(interface, XdpMode::Skb)
                    .with_context(|| format!("attaching XDP to {interface}"))?;
                Ok(AttachMode::Generic)
            }
        }
    }

    /// Attaches the program to `interface` through a link pinned under `pin_root`, so that it
    /// stays attached if this process dies (the liveness gate then stops it claiming the VIP).
    /// A link pinned by an earlier vrrpd is taken over: the kernel swaps the program
    /// atomically, with no moment where the interface runs none.
    pub fn attach_pinned(
        &mut self,
        interface: &str,
        pin_root: &Path,
        want: ModeChoice,
    ) -> Result<Attached> {
        if !pins_outlive_us(pin_root) {
            return self.attach_by_netlink(interface, want);
        }
        ensure_bpffs(pin_root)?;
        let path = pin_path(pin_root, interface)?;
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME}"))?
            .try_into()?;
        if let Some(pinned) = usable_pin(&path, interface, LINK_TYPE_XDP)? {
            let link = XdpLink::try_from(pinned).context("the pinned link is not an XDP link")?;
            let id = program
                .attach_to_link(link)
                .context("replacing the program of the pinned link")?;
            // The pin keeps the link; our handle can go without detaching anything.
            drop(program.take_link(id)?);
            return Ok(Attached::TakenOver);
        }
        let (id, mode) = match want {
            ModeChoice::Generic => (
                program
                    .attach(interface, XdpMode::Skb)
                    .with_context(|| format!("attaching XDP to {interface} in generic mode"))?,
                AttachMode::Generic,
            ),
            ModeChoice::Native => (
                program
                    .attach(interface, XdpMode::Driver)
                    .with_context(|| format!("attaching XDP to {interface} in native mode"))?,
                AttachMode::Native,
            ),
            ModeChoice::Auto => match program.attach(interface, XdpMode::Driver) {
                Ok(id) => (id, AttachMode::Native),
                Err(native) => {
                    log::warn!(
                        "{interface}: native XDP refused ({native}); falling back to generic mode"
                    );
                    let id = program
                        .attach(interface, XdpMode::Skb)
                        .with_context(|| format!("attaching XDP to {interface}"))?;
                    (id, AttachMode::Generic)
                }
            },
        };
        let link = FdLink::try_from(program.take_link(id)?)
            .context("the kernel gave no bpf_link for the attachment")?;
        link.pin(&path)
            .with_context(|| format!("pinning the link at {}", path.display()))?;
        Ok(Attached::New(mode))
    }

    /// Where no pin outlives this process (no bpffs here, none reachable elsewhere): XDP
    /// attached through netlink, which keeps it attached after the process dies, as a pinned
    /// link would; a program an earlier vrrpd attached so is replaced atomically.
    fn attach_by_netlink(&mut self, interface: &str, want: ModeChoice) -> Result<Attached> {
        use std::os::fd::AsRawFd as _;
        log::warn!(
            "{interface}: no bpffs here and none reachable in another mount namespace: XDP \
             attached through netlink instead of a pinned link, so that it outlives vrrpd (the \
             tc egress program will not)"
        );
        let ifindex = nix::net::if_::if_nametoindex(interface)
            .with_context(|| format!("no interface {interface}"))?;
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME}"))?
            .try_into()?;
        let fd = program.fd()?.as_fd().as_raw_fd();
        let existing = xdp_netlink::current(ifindex)?;
        if let Some(cur) = &existing {
            let name = program_name(cur.prog_id).unwrap_or_default();
            if name != PROGRAM_NAME {
                anyhow::bail!(
                    "{interface} runs another XDP program (id {}, {name:?}); not replacing it",
                    cur.prog_id
                );
            }
        }
        let modes: &[(u32, AttachMode)] = match want {
            ModeChoice::Generic => &[(xdp_netlink::SKB_MODE, AttachMode::Generic)],
            ModeChoice::Native => &[(xdp_netlink::DRV_MODE, AttachMode::Native)],
            ModeChoice::Auto => &[
                (xdp_netlink::DRV_MODE, AttachMode::Native),
                (xdp_netlink::SKB_MODE, AttachMode::Generic),
            ],
        };
        let mut last = None;
        for &(flags, mode) in modes {
            if let Some(cur) = &existing
                && cur.mode != flags
            {
                // Another mode: the old program must go first (not atomic).
                xdp_netlink::set(ifindex, -1, cur.mode)?;
            }
            match xdp_netlink::set(ifindex, fd, flags) {
                Ok(()) if existing.is_some() => return Ok(Attached::TakenOver),
                Ok(()) => return Ok(Attached::New(mode)),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| anyhow!("no mode to attach in"))
            .context(format!("attaching XDP to {interface} through netlink")))
    }

    fn map(&self, name: &str) -> Result<&aya::maps::Map> {
        self.ebpf
            .map(name)
            .ok_or_else(|| anyhow!("the program has no map {name}"))
    }

    fn map_mut(&mut self, name: &str) -> Result<&mut aya::maps::Map> {
        self.ebpf
            .map_mut(name)
            .ok_or_else(|| anyhow!("the program has no map {name}"))
    }

    /// Writes one router's settings (`VRRP_ROUTERS`).
    pub fn set_router(&mut self, family: Family, vrid: u8, config: &RouterConfig) -> Result<()> {
        let mut routers = Array::<_, RouterConfig>::try_from(self.map_mut(map_names::ROUTERS)?)?;
        routers.set(router_index(family, vrid), config, 0)?;
        Ok(())
    }

    /// Adds a VIP of router `vrid` (`VRRP_VIPS`): ARP for it is answered while master.
    pub fn add_vip(&mut self, vip: Ipv4Addr, vrid: u8) -> Result<()> {
        let mut vips = HashMap::<_, [u8; 4], VipEntry>::try_from(self.map_mut(map_names::VIPS)?)?;
        vips.insert(vip.octets(), VipEntry { vrid: vrid.into() }, 0)?;
        let [.., last] = vip.octets();
        self.vip_index()?
            .v4
            .entry(last)
            .or_default()
            .insert(vip.octets(), vrid.into());
        self.rebuild_slot(last)
    }

    /// Adds an IPv6 VIP (`VRRP_VIPS6`) of the router (`family`, `vrid`): neighbour
    /// solicitations for it are answered from that router's VMAC while master.
    pub fn add_vip6(&mut self, vip: Ipv6Addr, family: Family, vrid: u8) -> Result<()> {
        let mut vips =
            HashMap::<_, [u8; 16], Vip6Entry>::try_from(self.map_mut(map_names::VIPS6)?)?;
        let entry = Vip6Entry {
            router: router_index(family, vrid),
        };
        vips.insert(vip.octets(), entry, 0)?;
        let last = vip.octets()[15];
        self.vip_index()?
            .v6
            .entry(last)
            .or_default()
            .insert(vip.octets(), entry.router);
        self.rebuild_slot(last)
    }

    /// Removes an IPv6 VIP.
    pub fn remove_vip6(&mut self, vip: Ipv6Addr) -> Result<()> {
        let mut vips =
            HashMap::<_, [u8; 16], Vip6Entry>::try_from(self.map_mut(map_names::VIPS6)?)?;
        vips.remove(&vip.octets())?;
        let last = vip.octets()[15];
        if let Some(set) = self.vip_index()?.v6.get_mut(&last) {
            set.remove(&vip.octets());
        }
        self.rebuild_slot(last)
    }

    /// Rebuilds the `VRRP_VIPSLOTS` entry for VIPs ending in `last` from the hash maps, which
    /// stay the record: the lowest addresses of each family fill the ways, the rest are
    /// counted so that the program looks them up in the hash maps.
    fn rebuild_slot(&mut self, last: u8) -> Result<()> {
        let index = self.vip_index()?;
        let (v4, v6) = (index.v4.get(&last), index.v6.get(&last));
        let mut slot = VipSlot::default();
        for (w, (addr, router)) in v4.into_iter().flatten().take(SLOT_WAYS4).enumerate() {
            slot.addr4[w] = *addr;
            slot.router4[w] = *router;
        }
        for (w, (addr, router)) in v6.into_iter().flatten().take(SLOT_WAYS6).enumerate() {
            slot.addr6[w] = *addr;
            slot.router6[w] = *router;
        }
        slot.more4 = v4.map_or(0, |s| s.len().saturating_sub(SLOT_WAYS4)) as u32;
        slot.more6 = v6.map_or(0, |s| s.len().saturating_sub(SLOT_WAYS6)) as u32;
        self.set_vip_slot(last, &slot)
    }

    /// The index of the VIPs in the hash maps, read from them the first time.
    fn vip_index(&mut self) -> Result<&mut VipIndex> {
        if self.vip_index.is_none() {
            let mut index = VipIndex::default();
            for (addr, router) in all_vips(self.map(map_names::VIPS)?, |e: VipEntry| e.vrid)? {
                index.v4.entry(addr[3]).or_default().insert(addr, router);
            }
            for (addr, router) in all_vips(self.map(map_names::VIPS6)?, |e: Vip6Entry| e.router)? {
                index.v6.entry(addr[15]).or_default().insert(addr, router);
            }
            self.vip_index = Some(index);
        }
        Ok(self.vip_index.get_or_insert_default())
    }

    /// The `VRRP_VIPSLOTS` entry for VIPs ending in `last`.
    pub fn vip_slot(&self, last: u8) -> Result<VipSlot> {
        let slots = Array::<_, VipSlot>::try_from(self.map(map_names::VIPSLOTS)?)?;
        Ok(slots.get(&u32::from(last), 0)?)
    }

    /// Overwrites the `VRRP_VIPSLOTS` entry for VIPs ending in `last`. The add and remove
    /// methods keep the slots in step with the hash maps; tests use this to build states the
    /// documentation address ranges cannot reach (more than four IPv4 VIPs ending in one byte).
    pub fn set_vip_slot(&mut self, last: u8, slot: &VipSlot) -> Result<()> {
        let mut slots = Array::<_, VipSlot>::try_from(self.map_mut(map_names::VIPSLOTS)?)?;
        slots.set(u32::from(last), slot, 0)?;
        Ok(())
    }

    /// Removes a VIP.
    pub fn remove_vip(&mut self, vip: Ipv4Addr) -> Result<()> {
        let mut vips = HashMap::<_, [u8; 4], VipEntry>::try_from(self.map_mut(map_names::VIPS)?)?;
        vips.remove(&vip.octets())?;
        let [.., last] = vip.octets();
        if let Some(set) = self.vip_index()?.v4.get_mut(&last) {
            set.remove(&vip.octets());
        }
        self.rebuild_slot(last)
    }

    /// Writes the interface settings and heartbeat (`VRRP_IFACE`).
    pub fn set_iface(&mut self, config: &IfaceConfig) -> Result<()> {
        // Unknown until written again, should the write fail.
        self.iface_written = None;
        let mut iface = Array::<_, IfaceConfig>::try_from(self.map_mut(map_names::IFACE)?)?;
        iface.set(0, config, 0)?;
        self.iface_written = Some(*config);
        Ok(())
    }

    /// Reads the interface settings (as last written here, without a system call, if they
    /// were).
    pub fn iface(&self) -> Result<IfaceConfig> {
        if let Some(config) = self.iface_written {
            return Ok(config);
        }
        let iface = Array::<_, IfaceConfig>::try_from(self.map(map_names::IFACE)?)?;
        Ok(iface.get(&0, 0)?)
    }

    /// Stamps the controller's heartbeat with the current CLOCK_MONOTONIC time.
    pub fn heartbeat(&mut self) -> Result<()> {
        let mut config = self.iface()?;
        config.heartbeat_ns = monotonic_ns();
        self.set_iface(&config)
    }

    /// Every CPU's stamp of router (`family`, `vrid`) (`VRRP_ADVERTS`), by CPU.
    pub fn advert_stamps(&self, family: Family, vrid: u8) -> Vec<AdvertStamp> {
        self.stamps.of_router(router_index(family, vrid)).collect()
    }

    /// The newest stamp of router (`family`, `vrid`) over all CPUs, if it ever saw an advert,
    /// with `time_ns` the newest advert's arrival (see [`AdvertStamp::arrival_ns`]).
    pub fn newest_advert(&self, family: Family, vrid: u8) -> Option<AdvertStamp> {
        newest(self.stamps.of_router(router_index(family, vrid)))
    }

    /// The newest stamp of every router of `family` over all CPUs, indexed by VRID (`None`:
    /// never saw an advert; `time_ns` as in [`Self::newest_advert`]), read from the mapping
    /// without a system call: a backup of 510 routers reads them all at each wake-up, and
    /// BPF_MAP_LOOKUP_BATCH of a per-CPU array (one copy to user space a value) was a third
    /// of its samples in `perf`. Read as iterated, into no buffer of its own.
    pub fn newest_adverts(
        &self,
        family: Family,
    ) -> impl ExactSizeIterator<Item = Option<AdvertStamp>> + '_ {
        (0..vrrp_common::maps::ROUTERS_PER_FAMILY)
            .map(move |vrid| newest(self.stamps.of_router(router_index(family, 0) + vrid)))
    }

    /// A reader of the drop and event counters, advert stamps and the interface's heartbeat
    /// with its own descriptors of the maps, for a thread other than the one that owns this
    /// [`Dataplane`] (`vrrpd status`, the metrics).
    pub fn counter_reader(&self) -> Result<CounterReader> {
        let fd = |name: &str| -> Result<std::os::fd::OwnedFd> {
            let data = match self.map(name)? {
                aya::maps::Map::PerCpuArray(data) | aya::maps::Map::Array(data) => data,
                _ => return Err(anyhow!("{name} is not an array")),
            };
            Ok(data.fd().as_fd().try_clone_to_owned()?)
        };
        Ok(CounterReader {
            drops: fd(map_names::DROPS)?,
            stamps: self.stamps.clone(),
            counters: fd(map_names::COUNTERS)?,
            iface: fd(map_names::IFACE)?,
        })
    }

    /// Drops by reason for `vrid` (0: drops before the VRID was known), summed over CPUs.
    pub fn drops(&self, vrid: u8) -> Result<DropCounts> {
        let drops = PerCpuArray::<_, DropCounts>::try_from(self.map(map_names::DROPS)?)?;
        let mut total = DropCounts::default();
        for cpu in drops.get(&u32::from(vrid), 0)?.iter() {
            for (t, c) in total.by_reason.iter_mut().zip(cpu.by_reason.iter()) {
                *t += c;
            }
        }
        Ok(total)
    }

    /// Drops by reason over every VRID, summed over CPUs.
    pub fn drops_total(&self) -> Result<DropCounts> {
        let mut total = DropCounts::default();
        for vrid in 0..=255u8 {
            let d = self.drops(vrid)?;
            for (t, c) in total.by_reason.iter_mut().zip(d.by_reason.iter()) {
                *t += c;
            }
        }
        Ok(total)
    }

    /// The event counters (`VRRP_COUNTERS`), summed over CPUs, indexed by [`Counter`].
    pub fn counters(&self) -> Result<[u64; Counter::COUNT]> {
        let counters = PerCpuArray::<_, u64>::try_from(self.map(map_names::COUNTERS)?)?;
        let mut out = [0u64; Counter::COUNT];
        for (i, c) in out.iter_mut().enumerate() {
            *c = counters.get(&(i as u32), 0)?.iter().sum();
        }
        Ok(out)
    }

    /// One event counter, summed over CPUs (one lookup).
    pub fn counter(&self, counter: Counter) -> Result<u64> {
        let counters = PerCpuArray::<_, u64>::try_from(self.map(map_names::COUNTERS)?)?;
        Ok(counters.get(&(counter as u32), 0)?.iter().sum())
    }

    /// Takes the event ring buffer out of the program, for the controller's reader.
    pub fn take_events(&mut self) -> Result<Events> {
        let map = self
            .ebpf
            .take_map(map_names::EVENTS)
            .ok_or_else(|| anyhow!("the program has no map {}", map_names::EVENTS))?;
        Ok(Events {
            ring: RingBuf::try_from(map)?,
        })
    }
}

impl std::os::fd::AsRawFd for Events {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.ring.as_raw_fd()
    }
}

/// The controller's end of `VRRP_EVENTS`.
pub struct Events {
    ring: RingBuf<aya::maps::MapData>,
}

impl Events {
    /// The next pending event, if any (never blocks).
    pub fn next_event(&mut self) -> Option<Event> {
        let item = self.ring.next()?;
        if item.len() < std::mem::size_of::<Event>() {
            return None;
        }
        let mut event = Event::default();
        // Copy field by field from the bytes: the record is repr(C) and padding-free.
        let b: &[u8] = &item;
        event.kind = u32::from_ne_bytes(b[0..4].try_into().ok()?);
        event.router = u32::from_ne_bytes(b[4..8].try_into().ok()?);
        event.priority = u32::from_ne_bytes(b[8..12].try_into().ok()?);
        event.interval_cs = u32::from_ne_bytes(b[12..16].try_into().ok()?);
        event.time_ns = u64::from_ne_bytes(b[16..24].try_into().ok()?);
        event.src.copy_from_slice(&b[24..40]);
        event.mac.copy_from_slice(&b[40..46]);
        Some(event)
    }

    /// Makes the ring buffer pollable by tokio: readable when the program wrote an event.
    #[expect(
        unsafe_code,
        reason = "tokio's AsyncFd registration asks the caller to vouch for the fd"
    )]
    pub fn into_async(self) -> Result<tokio::io::unix::AsyncFd<Events>> {
        // SAFETY: the fd is the ring buffer map's, owned by `self.ring`, which the AsyncFd owns
        // from here on; it stays open and the same until the AsyncFd is dropped.
        unsafe { tokio::io::unix::AsyncFd::register(self) }
            .map_err(|e| anyhow!("registering the event ring with tokio: {e}"))
    }

    /// Drains every pending event.
    pub fn drain(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.next_event()).collect()
    }
}

/// The program the benchmarks' flood generator runs (see [`Generator`]).
#[cfg(feature = "lab")]
pub const TX_PROGRAM_NAME: &str = "vrrp_tx";

/// A packet generator for the benchmarks: BPF_PROG_TEST_RUN in live-frames mode, with a program
/// that returns `XDP_TX`, sends a frame out of an interface in batches straight from the kernel
/// (no socket, no copy per frame), at several million frames a second over veth.
#[cfg(feature = "lab")]
pub struct Generator {
    ebpf: Ebpf,
    ifindex: u32,
}

#[cfg(feature = "lab")]
use vrrp_common::maps::{TX_TEMPLATE_MAX, TxTemplate};

#[cfg(feature = "lab")]
impl Generator {
    /// Loads the generator's program for the interface with index `ifindex` (in the calling
    /// thread's network namespace).
    pub fn new(ifindex: u32) -> Result<Self> {
        let mut ebpf = Ebpf::load(BENCH_OBJECT).context("loading the benchmarks' BPF object")?;
        let program: &mut Xdp = ebpf
            .program_mut(TX_PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {TX_PROGRAM_NAME}"))?
            .try_into()?;
        program.load().context("loading the generator's program")?;
        Ok(Generator { ebpf, ifindex })
    }

    /// Sends `frame` `count` times (at least once). Every copy leaves as `frame` (up to
    /// [`TX_TEMPLATE_MAX`] bytes), even if a receiver rewrote its recycled page in place.
    pub fn send(&mut self, frame: &[u8], count: u32) -> Result<()> {
        let mut template = TxTemplate {
            len: 0,
            _pad: 0,
            frame: [0; TX_TEMPLATE_MAX],
        };
        if frame.len() <= TX_TEMPLATE_MAX {
            template.len = frame.len() as u32;
            template.frame[..frame.len()].copy_from_slice(frame);
        }
        let mut map: Array<_, TxTemplate> = Array::try_from(
            self.ebpf
                .map_mut(map_names::TX_FRAME)
                .ok_or_else(|| anyhow!("no map {}", map_names::TX_FRAME))?,
        )?;
        map.set(0, template, 0)
            .context("writing the generator's frame")?;
        let program: &Xdp = self
            .ebpf
            .program(TX_PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {TX_PROGRAM_NAME}"))?
            .try_into()?;
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex; the kernel wants data_end equal to the frame's length.
        let mut ctx = [0u8; 24];
        ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&self.ifindex.to_ne_bytes());
        program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                ctx_in: Some(&ctx),
                repeat: count.max(1),
                attrs: aya::programs::TestRunAttrs::new().xdp_live_frames(64),
                ..Default::default()
            })
            .context("BPF_PROG_TEST_RUN in live-frames mode")?;
        Ok(())
    }
}

const _: () = assert!(core::mem::size_of::<AdvertStamp>() == 64);

/// An [`IfaceConfig`] from the bytes the kernel copied out (the layout of the `repr(C)` struct).
fn iface_from_bytes(b: &[u8; 48]) -> IfaceConfig {
    let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().expect("4 bytes"));
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&b[32..38]);
    IfaceConfig {
        heartbeat_ns: u64_at(0),
        stale_after_ns: u64_at(8),
        hold_ns: u64_at(16),
        pass_gap_ns: u64_at(24),
        mac,
        _pad: [0; 2],
        flags: u32_at(40),
        vlan: u32_at(44),
    }
}

const _: () = assert!(core::mem::size_of::<IfaceConfig>() == 48);

/// The kernel's tick length (the resolution of CLOCK_MONOTONIC_COARSE), nanoseconds: how much
/// later than its stamp an advert that shared a tick with an earlier one may have arrived.
pub fn tick_ns() -> u64 {
    static TICK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICK.get_or_init(|| {
        nix::time::clock_getres(nix::time::ClockId::CLOCK_MONOTONIC_COARSE)
            .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
            // HZ=100, the longest tick Linux has.
            .unwrap_or(10_000_000)
    })
}

/// A stamp as the controller uses it: `time_ns` is the newest advert's arrival, never early.
fn as_arrival(mut s: AdvertStamp) -> AdvertStamp {
    s.time_ns = s.arrival_ns(tick_ns());
    s
}

/// `VRRP_ADVERTS` mapped read-only into our memory ([`vrrp_common::maps::stamp_index`]): XDP
/// writes each CPU's stamps in place, we read them without a system call.
pub struct StampMap {
    base: std::ptr::NonNull<u8>,
    len: usize,
    cpus: u32,
}

// SAFETY: a read-only shared mapping, read through volatile loads and atomics only.
#[expect(unsafe_code, reason = "the mapping is plain memory the kernel writes")]
unsafe impl Send for StampMap {}
// SAFETY: as above.
#[expect(unsafe_code, reason = "the mapping is plain memory the kernel writes")]
unsafe impl Sync for StampMap {}

#[expect(
    unsafe_code,
    reason = "mmap(2) of a BPF array, and reads of what XDP writes there"
)]
impl StampMap {
    /// Maps the array `fd` (created with BPF_F_MMAPABLE and `ROUTER_SLOTS` × `cpus` entries).
    fn new(fd: std::os::fd::BorrowedFd<'_>, cpus: usize) -> Result<Self> {
        use std::os::fd::AsRawFd as _;
        // SAFETY: no arguments.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = (ROUTER_SLOTS as usize * cpus * core::mem::size_of::<AdvertStamp>())
            .next_multiple_of(page);
        // SAFETY: a new shared read-only mapping of the map's values; nothing else is touched.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(anyhow!(
                "mapping {}: {}",
                map_names::ADVERTS,
                std::io::Error::last_os_error()
            ));
        }
        Ok(StampMap {
            base: std::ptr::NonNull::new(base.cast()).ok_or_else(|| anyhow!("mmap gave null"))?,
            len,
            cpus: cpus as u32,
        })
    }

    /// CPU `cpu`'s stamp of router `router`, whole: copied between two reads of the same even
    /// sequence count ([`AdvertStamp::seq`]). XDP's write of a stamp is a few stores in
    /// softirq context, which nothing preempts but the hypervisor: a copy that met one is
    /// taken again, yielding the CPU now and then.
    fn get(&self, cpu: u32, router: u32) -> AdvertStamp {
        use std::sync::atomic::{AtomicU16, Ordering, fence};
        let index = vrrp_common::maps::stamp_index(cpu, router) as usize;
        debug_assert!(cpu < self.cpus && router < ROUTER_SLOTS);
        // SAFETY: within the mapping (`cpu` and `router` below the map's dimensions), and
        // aligned: the kernel maps the values from a page boundary, 64 bytes each.
        let p = unsafe {
            self.base
                .as_ptr()
                .add(index * core::mem::size_of::<AdvertStamp>())
                .cast::<AdvertStamp>()
        };
        // SAFETY: as above; `seq` is 2-byte aligned within the value.
        let seq = unsafe { &*(&raw const (*p).seq).cast::<AtomicU16>() };
        let mut tries = 0u32;
        loop {
            let before = seq.load(Ordering::Acquire);
            // SAFETY: as above; a torn copy is thrown away below.
            let copy = unsafe { core::ptr::read_volatile(p) };
            fence(Ordering::Acquire);
            if before.is_multiple_of(2) && seq.load(Ordering::Relaxed) == before {
                return copy;
            }
            tries += 1;
            if tries.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Every CPU's stamp of router `router`, by CPU.
    fn of_router(&self, router: u32) -> impl Iterator<Item = AdvertStamp> + '_ {
        (0..self.cpus).map(move |cpu| self.get(cpu, router))
    }
}

/// The newest of one router's stamps (one a CPU), if any saw an advert, with `time_ns` the
/// newest advert's arrival (see [`AdvertStamp::arrival_ns`]).
fn newest(stamps: impl IntoIterator<Item = AdvertStamp>) -> Option<AdvertStamp> {
    stamps
        .into_iter()
        .filter(|s| s.count > 0)
        .map(as_arrival)
        .max_by_key(|s| s.time_ns)
}

impl Drop for StampMap {
    #[expect(unsafe_code, reason = "munmap(2) of our own mapping")]
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; nothing borrows from it past a
        // call of `get`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Reads XDP's drop counters with one BPF_MAP_LOOKUP_BATCH a map, through descriptors of its
/// own, and the advert stamps through the mapping ([`Dataplane::counter_reader`]), so that
/// `vrrpd status` reads them off the main loop and in a few system calls, not one a VRID.
pub struct CounterReader {
    drops: std::os::fd::OwnedFd,
    stamps: Arc<StampMap>,
    counters: std::os::fd::OwnedFd,
    iface: std::os::fd::OwnedFd,
}

/// What a [`CounterReader`] read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Drops by reason for each VRID (index 0: before the VRID was known), summed over CPUs.
    pub drops: Vec<DropCounts>,
    /// The sum of `drops`: every VRID's and the frames without one.
    pub drops_total: DropCounts,
    /// Valid adverts recorded for each router of IPv4, indexed by VRID, summed over CPUs.
    pub adverts4: Vec<u64>,
    /// The same for IPv6.
    pub adverts6: Vec<u64>,
    /// The newest valid advert of each router of IPv4 over all CPUs, indexed by VRID, its
    /// `time_ns` the arrival as the controller takes it (never early); `None`: none seen.
    pub newest4: Vec<Option<AdvertStamp>>,
    /// The same for IPv6.
    pub newest6: Vec<Option<AdvertStamp>>,
    /// The event counters (`VRRP_COUNTERS`), summed over CPUs, indexed by [`Counter`].
    pub events: [u64; Counter::COUNT],
    /// The interface's settings and the controller's heartbeat (`VRRP_IFACE`).
    pub iface: IfaceConfig,
}

impl Counts {
    /// Valid adverts recorded for router (`family`, `vrid`).
    pub fn adverts_seen(&self, family: Family, vrid: u8) -> u64 {
        let of = match family {
            Family::Ipv4 => &self.adverts4,
            Family::Ipv6 => &self.adverts6,
        };
        of.get(usize::from(vrid)).copied().unwrap_or(0)
    }

    /// The newest valid advert of router (`family`, `vrid`), if XDP recorded one.
    pub fn newest(&self, family: Family, vrid: u8) -> Option<AdvertStamp> {
        let of = match family {
            Family::Ipv4 => &self.newest4,
            Family::Ipv6 => &self.newest6,
        };
        of.get(usize::from(vrid)).copied().flatten()
    }
}

/// Whether XDP's liveness gate is open at CLOCK_MONOTONIC `now_ns` for an interface with
/// `iface` (the program's own test: a heartbeat was written and is at most `stale_after_ns`
/// old; the program compares with the coarse clock, within a kernel tick of this).
pub fn gate_open(iface: &IfaceConfig, now_ns: u64) -> bool {
    iface.heartbeat_ns != 0
        && (now_ns <= iface.heartbeat_ns || now_ns - iface.heartbeat_ns <= iface.stale_after_ns)
}

impl CounterReader {
    /// Every VRID's drops, every router's advert count and newest stamp, the event counters
    /// and the interface's heartbeat: three system calls.
    pub fn read(&self) -> Result<Counts> {
        use std::os::fd::AsFd as _;
        // The possible CPUs, as read when the maps were made (not from sysfs at every read).
        let cpus = self.stamps.cpus as usize;
        let stride = core::mem::size_of::<DropCounts>().next_multiple_of(8);
        let mut values = vec![0u8; 256 * cpus * stride];
        let read = lookup_batch(self.drops.as_fd(), 0, 256, &mut values)?;
        let mut counts = Counts {
            drops: vec![DropCounts::default(); 256],
            ..Counts::default()
        };
        for (vrid, total) in counts.drops.iter_mut().enumerate().take(read) {
            let per_cpu = &values[vrid * cpus * stride..(vrid + 1) * cpus * stride];
            for cpu in per_cpu.chunks_exact(stride) {
                for (r, t) in total.by_reason.iter_mut().enumerate() {
                    *t += u64::from_ne_bytes(cpu[r * 8..r * 8 + 8].try_into().expect("8 bytes"));
                }
            }
            for (s, t) in counts
                .drops_total
                .by_reason
                .iter_mut()
                .zip(total.by_reason.iter())
            {
                *s += t;
            }
        }
        for family in [Family::Ipv4, Family::Ipv6] {
            let (mut seen, mut newest) = (Vec::new(), Vec::new());
            for vrid in 0..vrrp_common::maps::ROUTERS_PER_FAMILY {
                // Each CPU's stamp copied once, for the count and the newest.
                let stamps: Vec<AdvertStamp> = self
                    .stamps
                    .of_router(router_index(family, 0) + vrid)
                    .collect();
                seen.push(stamps.iter().map(|s| s.count).sum());
                newest.push(self::newest(stamps));
            }
            match family {
                Family::Ipv4 => (counts.adverts4, counts.newest4) = (seen, newest),
                Family::Ipv6 => (counts.adverts6, counts.newest6) = (seen, newest),
            }
        }
        let mut values = vec![0u8; Counter::COUNT * cpus * 8];
        let read = lookup_batch(self.counters.as_fd(), 0, Counter::COUNT as u32, &mut values)?;
        for (i, total) in counts.events.iter_mut().enumerate().take(read) {
            *total = values[i * cpus * 8..(i + 1) * cpus * 8]
                .chunks_exact(8)
                .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
                .sum();
        }
        let mut value = [0u8; core::mem::size_of::<IfaceConfig>()];
        if lookup_batch(self.iface.as_fd(), 0, 1, &mut value)? == 1 {
            counts.iface = iface_from_bytes(&value);
        }
        Ok(counts)
    }
}

/// The VIPs in a VIP hash map (either family) whose last byte is `last`, lowest first, each
/// with its router as `router` reads it from the entry.
fn all_vips<const N: usize, V: aya::Pod>(
    map: &aya::maps::Map,
    router: impl Fn(V) -> u32,
) -> Result<Vec<([u8; N], u32)>> {
    let vips = HashMap::<_, [u8; N], V>::try_from(map)?;
    Ok(vips
        .iter()
        .filter_map(|e| e.ok())
        .map(|(a, e)| (a, router(e)))
        .collect())
}

/// BPF_MAP_LOOKUP_BATCH of `count` array keys from `first` into `values` (aya has no batch
/// operations); how many keys the kernel copied.
#[expect(
    unsafe_code,
    reason = "the bpf(2) system call with pointers into buffers that outlive it"
)]
fn lookup_batch(
    map: std::os::fd::BorrowedFd<'_>,
    first: u32,
    count: u32,
    values: &mut [u8],
) -> Result<usize> {
    use std::os::fd::AsRawFd as _;
    const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
    // union bpf_attr, the `batch` member.
    #[repr(C)]
    struct BatchAttr {
        in_batch: u64,
        out_batch: u64,
        keys: u64,
        values: u64,
        count: u32,
        map_fd: u32,
        elem_flags: u64,
        flags: u64,
    }
    let mut keys = vec![0u32; count as usize];
    // The kernel resumes after the key in `in_batch`; none means from key 0.
    let start = first.wrapping_sub(1);
    let mut next = 0u32;
    let mut attr = BatchAttr {
        in_batch: if first == 0 {
            0
        } else {
            &start as *const u32 as u64
        },
        out_batch: &mut next as *mut u32 as u64,
        keys: keys.as_mut_ptr() as u64,
        values: values.as_mut_ptr() as u64,
        count,
        map_fd: map.as_raw_fd() as u32,
        elem_flags: 0,
        flags: 0,
    };
    // SAFETY: `attr` points at `start`, `next`, `keys` (count u32) and `values` (count
    // values of the map, sized by the caller), all alive and unaliased for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_LOOKUP_BATCH,
            &mut attr as *mut BatchAttr,
            core::mem::size_of::<BatchAttr>(),
        )
    };
    let err = std::io::Error::last_os_error();
    // ENOENT: the map ended within the batch, which is not an error.
    if rc < 0 && err.raw_os_error() != Some(libc::ENOENT) {
        return Err(anyhow!("BPF_MAP_LOOKUP_BATCH: {err}"));
    }
    if keys
        .iter()
        .take(attr.count as usize)
        .enumerate()
        .any(|(i, &k)| k != first + i as u32)
    {
        return Err(anyhow!("BPF_MAP_LOOKUP_BATCH returned keys out of order"));
    }
    Ok(attr.count as usize)
}

/// XDP attached through rtnetlink (`IFLA_XDP`), without a bpf_link: such a program stays
/// attached when the process that attached it dies, with no pin. vrrpd uses it only where no
/// bpffs outlives it (see [`ensure_bpffs`]), so that a crash there still leaves the program
/// and its liveness gate in place.
mod xdp_netlink {
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};

    use anyhow::{Result, anyhow};

    const RTM_GETLINK: u16 = 18;
    const RTM_SETLINK: u16 = 19;
    const NLMSG_ERROR: u16 = 2;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const IFLA_XDP: u16 = 43;
    const NLA_F_NESTED: u16 = 0x8000;
    const IFLA_XDP_FD: u16 = 1;
    const IFLA_XDP_ATTACHED: u16 = 2;
    const IFLA_XDP_FLAGS: u16 = 3;
    const IFLA_XDP_PROG_ID: u16 = 4;
    /// `XDP_FLAGS_SKB_MODE`.
    pub const SKB_MODE: u32 = 1 << 1;
    /// `XDP_FLAGS_DRV_MODE`.
    pub const DRV_MODE: u32 = 1 << 2;
    /// `XDP_ATTACHED_SKB`.
    const ATTACHED_SKB: u8 = 2;

    /// What is attached to an interface: its program's id and the mode flags to address it,
    /// if anything.
    pub struct Current {
        pub prog_id: u32,
        pub mode: u32,
    }

    fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        buf.extend_from_slice(&(len as u16).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(payload);
        buf.resize(buf.len().next_multiple_of(4), 0);
    }

    /// One request and its answer (the first message).
    #[expect(unsafe_code, reason = "netlink over libc sockets")]
    fn request(kind: u16, flags: u16, ifindex: u32, attrs: &[u8]) -> Result<Vec<u8>> {
        // SAFETY: a plain socket(2) call; the fd is owned at once.
        let raw: RawFd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(anyhow!(
                "netlink socket: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: just returned to us, owned by nobody else.
        let sock = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut msg = vec![0u8; 16];
        // struct ifinfomsg: family, pad, type, index, flags, change.
        let mut ifi = [0u8; 16];
        ifi[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
        msg.extend_from_slice(&ifi);
        msg.extend_from_slice(attrs);
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        msg[4..6].copy_from_slice(&kind.to_ne_bytes());
        msg[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
        // SAFETY: sends `msg`'s bytes on our socket to the kernel (the default destination of
        // an unbound netlink socket's send is the kernel).
        let sent = unsafe {
            libc::send(
                sock.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(anyhow!("netlink send: {}", std::io::Error::last_os_error()));
        }
        let mut answer = vec![0u8; 65536];
        // SAFETY: receives into `answer`, which outlives the call.
        let got = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                answer.as_mut_ptr() as *mut libc::c_void,
                answer.len(),
                0,
            )
        };
        if got < 16 {
            return Err(anyhow!("netlink recv: {}", std::io::Error::last_os_error()));
        }
        answer.truncate(got as usize);
        let kind = u16::from_ne_bytes([answer[4], answer[5]]);
        if kind == NLMSG_ERROR {
            let code = i32::from_ne_bytes(answer[16..20].try_into()?);
            if code != 0 {
                return Err(anyhow!(std::io::Error::from_raw_os_error(-code)));
            }
        }
        Ok(answer)
    }

    /// The XDP program attached to interface `ifindex`, if any.
    pub fn current(ifindex: u32) -> Result<Option<Current>> {
        let answer = request(RTM_GETLINK, 0, ifindex, &[])?;
        let len = (u32::from_ne_bytes(answer[0..4].try_into()?) as usize).min(answer.len());
        let mut at = 32;
        while at + 4 <= len {
            let alen = u16::from_ne_bytes([answer[at], answer[at + 1]]) as usize;
            let kind = u16::from_ne_bytes([answer[at + 2], answer[at + 3]]) & !NLA_F_NESTED;
            if alen < 4 || at + alen > len {
                break;
            }
            if kind == IFLA_XDP {
                let (mut attached, mut prog_id) = (0u8, 0u32);
                let mut n = at + 4;
                while n + 4 <= at + alen {
                    let nlen = u16::from_ne_bytes([answer[n], answer[n + 1]]) as usize;
                    let nkind = u16::from_ne_bytes([answer[n + 2], answer[n + 3]]);
                    if nlen < 4 || n + nlen > at + alen {
                        break;
                    }
                    match nkind {
                        IFLA_XDP_ATTACHED if nlen >= 5 => attached = answer[n + 4],
                        IFLA_XDP_PROG_ID if nlen >= 8 => {
                            prog_id = u32::from_ne_bytes(answer[n + 4..n + 8].try_into()?)
                        }
                        _ => {}
                    }
                    n += nlen.next_multiple_of(4);
                }
                if attached == 0 || prog_id == 0 {
                    return Ok(None);
                }
                let mode = if attached == ATTACHED_SKB {
                    SKB_MODE
                } else {
                    DRV_MODE
                };
                return Ok(Some(Current { prog_id, mode }));
            }
            at += alen.next_multiple_of(4);
        }
        Ok(None)
    }

    /// Attaches program `fd` (or detaches, with -1) in `mode` on interface `ifindex`; an
    /// attached program in the same mode is replaced atomically.
    pub fn set(ifindex: u32, fd: i32, mode: u32) -> Result<()> {
        let mut nested = Vec::new();
        attr(&mut nested, IFLA_XDP_FD, &fd.to_ne_bytes());
        attr(&mut nested, IFLA_XDP_FLAGS, &mode.to_ne_bytes());
        let mut attrs = Vec::new();
        attr(&mut attrs, IFLA_XDP | NLA_F_NESTED, &nested);
        request(RTM_SETLINK, NLM_F_ACK, ifindex, &attrs).map(|_| ())
    }
}
