//! Classic pcap files (Ethernet link type): enough to write frames for tshark and to read
//! captures back as test vectors.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;

/// Writes `frames` as a pcap file.
pub fn write(path: &Path, frames: &[Vec<u8>]) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC_US.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Reads the frames of a pcap file (either timestamp resolution, little- or big-endian).
pub fn read(path: &Path) -> Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if data.len() < 24 {
        bail!("{}: too short for a pcap header", path.display());
    }
    let magic_le = u32::from_le_bytes(data[0..4].try_into()?);
    let magic_be = u32::from_be_bytes(data[0..4].try_into()?);
    let le = if magic_le == MAGIC_US || magic_le == MAGIC_NS {
        true
    } else if magic_be == MAGIC_US || magic_be == MAGIC_NS {
        false
    } else {
        bail!("{}: not a pcap file", path.display());
    };
    let u32_at = |o: usize| -> Result<u32> {
        let b: [u8; 4] = data.get(o..o + 4).context("truncated pcap")?.try_into()?;
        Ok(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    if u32_at(20)? != LINKTYPE_ETHERNET {
        bail!("{}: not an Ethernet capture", path.display());
    }
    let mut frames = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32_at(off + 8)? as usize;
        let start = off + 16;
        let frame = data
            .get(start..start + incl)
            .context("truncated pcap record")?;
        frames.push(frame.to_vec());
        off = start + incl;
    }
    Ok(frames)
}
