//! The XDP program: embedded at build time (see `build.rs`), loaded and attached with aya.
//!
//! This is the only module (with the loader's tests) that talks to aya. It grows with the data
//! plane: today it loads the program, runs it on crafted frames in the kernel
//! (BPF_PROG_TEST_RUN), attaches it to an interface and reads its per-CPU counters.

use anyhow::{Context as _, Result, anyhow};
use aya::{
    Ebpf,
    maps::PerCpuArray,
    programs::{TestRun as _, TestRunOptions, Xdp, XdpMode},
};

/// The BPF object built from `vrrp-ebpf` (ELF, little-endian BPF, with BTF).
pub static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp"));

/// The name of the XDP program inside [`BPF_OBJECT`].
pub const PROGRAM_NAME: &str = "vrrp";

/// The name of the per-CPU frame-class counter array (`bpftool map dump name VRRP_CLASSES`).
pub const CLASSES_MAP: &str = "VRRP_CLASSES";

/// The frame classes the program counts, in counter order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameClass {
    /// Anything that is not ARP or VRRP (or too short to tell).
    Other = 0,
    /// ARP.
    Arp = 1,
    /// IPv4 protocol 112.
    VrrpV4 = 2,
    /// IPv6 next header 112.
    VrrpV6 = 3,
}

/// Frames counted per class, summed over all CPUs, indexed by [`FrameClass`].
pub type ClassCounts = [u64; 4];

/// What one kernel test run of the program returned.
#[derive(Debug)]
pub struct TestRunOutcome {
    /// The XDP verdict (`XDP_PASS` = 2, `XDP_DROP` = 1, `XDP_TX` = 3, ...).
    pub verdict: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
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

/// The loaded program and its maps.
pub struct Dataplane {
    ebpf: Ebpf,
}

impl Dataplane {
    /// Loads the embedded object and the XDP program into the kernel (verifier included).
    pub fn load() -> Result<Self> {
        let mut ebpf = Ebpf::load(BPF_OBJECT).context("loading the embedded BPF object")?;
        let program: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME} in the BPF object"))?
            .try_into()
            .context("program is not XDP")?;
        program
            .load()
            .context("the kernel refused the XDP program")?;
        Ok(Self { ebpf })
    }

    fn program(&self) -> Result<&Xdp> {
        self.ebpf
            .program(PROGRAM_NAME)
            .ok_or_else(|| anyhow!("no program {PROGRAM_NAME}"))?
            .try_into()
            .context("program is not XDP")
    }

    /// Runs the program once on `frame` in the kernel (BPF_PROG_TEST_RUN).
    pub fn test_run(&self, frame: &[u8]) -> Result<TestRunOutcome> {
        let mut out = vec![0u8; frame.len() + 256];
        let result = self
            .program()?
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .context("BPF_PROG_TEST_RUN")?;
        out.truncate(result.data_size_out as usize);
        Ok(TestRunOutcome {
            verdict: result.return_value,
            frame: out,
        })
    }

    /// Attaches the program to `interface`, natively, or in generic (skb) mode when the driver
    /// has no native XDP; returns the mode used.
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

    /// The frame-class counters, summed over CPUs.
    pub fn class_counts(&self) -> Result<ClassCounts> {
        let map = self
            .ebpf
            .map(CLASSES_MAP)
            .ok_or_else(|| anyhow!("no map {CLASSES_MAP}"))?;
        let array = PerCpuArray::<_, u64>::try_from(map)?;
        let mut counts = [0u64; 4];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = array.get(&(i as u32), 0)?.iter().sum();
        }
        Ok(counts)
    }
}
