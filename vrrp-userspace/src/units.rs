//! Types for the units of VRRP: router ids, priorities, intervals in centiseconds.
//!
//! Both Rust VRRP crates we studied had interval bugs that came from passing seconds where
//! centiseconds were meant; here each quantity has its own type, and the RFC timer formulas are
//! computed in integers exactly as written (RFC 3768 §6.1 for v2, RFC 5798 / RFC 9568 §6.1 for
//! v3), with tests against numbers worked by hand.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Virtual Router Identifier, 1..=255 (RFC 5798 §5.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Vrid(u8);

impl Vrid {
    /// The VRID, if `n` is in 1..=255.
    pub const fn new(n: u8) -> Option<Self> {
        if n == 0 { None } else { Some(Self(n)) }
    }

    /// The number on the wire.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Vrid {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Self::new(n).ok_or_else(|| "a VRID must be in 1..=255, found 0".to_string())
    }
}

impl From<Vrid> for u8 {
    fn from(v: Vrid) -> u8 {
        v.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// VRRP router priority, 0..=255 (RFC 5798 §5.2.4).
///
/// 255 is the address owner, 0 is the "master is leaving" signal, 100 the default for backups.
/// A configured priority is 1..=255; 0 only ever appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Priority(pub u8);

impl Priority {
    /// The address owner: it answers for the VIPs as its own addresses.
    pub const OWNER: Priority = Priority(255);
    /// Sent by a master that stops, so backups take over after only Skew_Time.
    pub const SHUTDOWN: Priority = Priority(0);
    /// The default priority of a backup (RFC 5798 §5.2.4, keepalived's `VRRP_PRIO_DFL`).
    pub const DEFAULT: Priority = Priority(100);

    /// The number on the wire.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether this is the address owner's priority.
    pub const fn is_owner(self) -> bool {
        self.0 == 255
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A duration in centiseconds, the unit of the VRRPv3 Max Adver Int field (RFC 5798 §5.2.7).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Centis(pub u32);

impl Centis {
    /// One second.
    pub const SECOND: Centis = Centis(100);

    /// Whole seconds.
    pub const fn from_secs(s: u32) -> Self {
        Self(s.saturating_mul(100))
    }

    /// The number of centiseconds.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// As milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0 as u64 * 10
    }

    /// As a [`std::time::Duration`].
    pub const fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.as_millis())
    }
}

impl fmt::Display for Centis {
    /// Seconds with two decimals trimmed: `1s`, `0.5s`, `40.95s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, c) = (self.0 / 100, self.0 % 100);
        match c {
            0 => write!(f, "{s}s"),
            c if c % 10 == 0 => write!(f, "{s}.{}s", c / 10),
            c => write!(f, "{s}.{c:02}s"),
        }
    }
}

/// VRRPv3 Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256, in centiseconds,
/// truncated (RFC 5798 §6.1; RFC 9568 §6.1).
///
/// Pass the *learned* Master_Adver_Interval on a backup, not the local advert interval.
pub const fn skew_time_v3(priority: Priority, master_adver_interval: Centis) -> Centis {
    let num = (256 - priority.0 as u64) * master_adver_interval.0 as u64;
    Centis((num / 256) as u32)
}

/// VRRPv3 Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
pub const fn master_down_interval_v3(priority: Priority, master_adver_interval: Centis) -> Centis {
    Centis(
        master_adver_interval
            .0
            .saturating_mul(3)
            .saturating_add(skew_time_v3(priority, master_adver_interval).0),
    )
}

/// VRRPv2 Skew_Time = (256 − Priority) / 256 **seconds** (RFC 3768 §6.1), in centiseconds.
///
/// Computed as (256 − Priority) × 100 / 256 so it is not truncated to 0 the way an
/// integer-seconds implementation would (FRR had that bug), and rounded **up** to the next
/// centisecond, so that a backup never takes over before the RFC's exact Master_Down_Interval
/// (priority 100: 0.609 s, 61 cs; truncating to 60 cs made takeovers up to 9 ms early, which
/// the failover benchmark caught).
pub const fn skew_time_v2(priority: Priority) -> Centis {
    Centis(((256 - priority.0 as u32) * 100).div_ceil(256))
}

/// VRRPv2 Master_Down_Interval = 3 × Advertisement_Interval + Skew_Time (RFC 3768 §6.1).
pub const fn master_down_interval_v2(priority: Priority, advertisement_interval: Centis) -> Centis {
    Centis(
        advertisement_interval
            .0
            .saturating_mul(3)
            .saturating_add(skew_time_v2(priority).0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_timers_worked_by_hand() {
        // (256 − 100) × 100 / 256 = 15600 / 256 = 60.9 → 60 cs; 3 × 100 + 60 = 360 cs.
        assert_eq!(skew_time_v3(Priority(100), Centis(100)), Centis(60));
        assert_eq!(
            master_down_interval_v3(Priority(100), Centis(100)),
            Centis(360)
        );
        // Owner: (1 × 100) / 256 = 0.39 → 0; 300 cs.
        assert_eq!(skew_time_v3(Priority::OWNER, Centis(100)), Centis(0));
        assert_eq!(
            master_down_interval_v3(Priority::OWNER, Centis(100)),
            Centis(300)
        );
        // Priority 1 at the longest interval: 255 × 4095 / 256 = 4079.0 → 4079; 12285 + 4079.
        assert_eq!(skew_time_v3(Priority(1), Centis(4095)), Centis(4079));
        assert_eq!(
            master_down_interval_v3(Priority(1), Centis(4095)),
            Centis(16364)
        );
        // Priority 150 at 1 s: 106 × 100 / 256 = 41.4 → 41 cs.
        assert_eq!(skew_time_v3(Priority(150), Centis(100)), Centis(41));
    }

    #[test]
    fn v2_timers_worked_by_hand() {
        // (256 − 100) / 256 s = 0.609 s → 61 cs (rounded up, never early), not 0.
        assert_eq!(skew_time_v2(Priority(100)), Centis(61));
        assert_eq!(
            master_down_interval_v2(Priority(100), Centis(100)),
            Centis(361)
        );
        // Priority 90: 166 / 256 = 0.648 s → 65 cs; 3 s + 0.65 s.
        assert_eq!(skew_time_v2(Priority(90)), Centis(65));
        assert_eq!(
            master_down_interval_v2(Priority(90), Centis(300)),
            Centis(965)
        );
        // Priority 254: 2 / 256 s = 0.0078 s → 1 cs.
        assert_eq!(skew_time_v2(Priority(254)), Centis(1));
        // Priority 1: 255 / 256 s = 0.996 s → 100 cs.
        assert_eq!(skew_time_v2(Priority(1)), Centis(100));
    }

    #[test]
    fn vrid_range() {
        assert_eq!(Vrid::new(0), None);
        assert_eq!(Vrid::new(1).map(Vrid::get), Some(1));
        assert_eq!(Vrid::new(255).map(Vrid::get), Some(255));
        assert!(Vrid::try_from(0).is_err());
    }

    #[test]
    fn centis_display() {
        assert_eq!(Centis(100).to_string(), "1s");
        assert_eq!(Centis(50).to_string(), "0.5s");
        assert_eq!(Centis(4095).to_string(), "40.95s");
        assert_eq!(Centis(2).to_string(), "0.02s");
        assert_eq!(Centis::from_secs(3).as_millis(), 3000);
    }
}
