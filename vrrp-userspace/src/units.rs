//! Types for the units of VRRP: router ids, priorities, intervals in centiseconds, the timers
//! derived from them in microseconds.
//!
//! Both Rust VRRP crates we studied had interval bugs that came from passing seconds where
//! centiseconds were meant; here each quantity has its own type, and the RFC timer formulas are
//! computed in integers as written (RFC 3768 §6.1 for v2, RFC 5798 / RFC 9568 §6.1 for v3), to
//! the microsecond as keepalived does, with tests against numbers worked by hand.

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

/// A duration in microseconds: the resolution of the protocol's timers, as keepalived's
/// (`TIMER_HZ`). Skew_Time is a fraction of a centisecond at short intervals (priority 100 at
/// 10 ms: 6.09 ms), so Skew_Time and Master_Down_Interval are computed in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub u64);

impl Micros {
    /// The number of microseconds.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// As nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0.saturating_mul(1_000)
    }
}

impl fmt::Display for Micros {
    /// Seconds with the trailing zeros of six decimals trimmed: `3.609375s`, `0.036093s`,
    /// `3s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, us) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if us == 0 {
            return write!(f, "{s}s");
        }
        let digits = format!("{us:06}");
        write!(f, "{s}.{}s", digits.trim_end_matches('0'))
    }
}

/// VRRPv3 Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256 centiseconds (RFC 5798
/// §6.1; RFC 9568 §6.1), to the microsecond as keepalived computes it, rounded up (never
/// shorter than the RFC's). Not truncated to whole centiseconds: at 10 ms that made it 0 for
/// every priority, a Master_Down_Interval of 30 ms where keepalived waits 36.09 ms (priority
/// 100), and every backup's the same whatever its priority.
///
/// Pass the *learned* Master_Adver_Interval on a backup, not the local advert interval.
pub const fn skew_time_v3(priority: Priority, master_adver_interval: Centis) -> Micros {
    let num = (256 - priority.0 as u64) * master_adver_interval.0 as u64 * 10_000;
    Micros(num.div_ceil(256))
}

/// VRRPv3 Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
pub const fn master_down_interval_v3(priority: Priority, master_adver_interval: Centis) -> Micros {
    Micros(
        (master_adver_interval.0 as u64 * 3 * 10_000)
            .saturating_add(skew_time_v3(priority, master_adver_interval).0),
    )
}

/// VRRPv2 Skew_Time = (256 − Priority) / 256 **seconds** (RFC 3768 §6.1), to the microsecond
/// (keepalived's resolution), rounded up.
///
/// Not in whole seconds, where it is 0 (FRR had that bug), nor in centiseconds: truncated to
/// 60 cs at priority 100 it made takeovers up to 9 ms early, which the failover benchmark
/// caught; rounded up to 61 cs, 0.6 ms late.
pub const fn skew_time_v2(priority: Priority) -> Micros {
    Micros(((256 - priority.0 as u64) * 1_000_000).div_ceil(256))
}

/// VRRPv2 Master_Down_Interval = 3 × Advertisement_Interval + Skew_Time (RFC 3768 §6.1).
pub const fn master_down_interval_v2(priority: Priority, advertisement_interval: Centis) -> Micros {
    Micros((advertisement_interval.0 as u64 * 3 * 10_000).saturating_add(skew_time_v2(priority).0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_timers_worked_by_hand() {
        // (256 − 100) × 100 cs / 256 = 60.9375 cs = 609,375 µs; 3 s + that.
        assert_eq!(skew_time_v3(Priority(100), Centis(100)), Micros(609_375));
        assert_eq!(
            master_down_interval_v3(Priority(100), Centis(100)),
            Micros(3_609_375)
        );
        // At 10 ms: 156 / 256 cs = 6,093.75 µs, rounded up; not 0 as in whole centiseconds.
        assert_eq!(skew_time_v3(Priority(100), Centis(1)), Micros(6_094));
        assert_eq!(
            master_down_interval_v3(Priority(100), Centis(1)),
            Micros(36_094)
        );
        // Priority 150 and 100 at 10 ms differ, as the RFC means them to.
        assert_eq!(skew_time_v3(Priority(150), Centis(1)), Micros(4_141));
        // Owner: 1 × 100 / 256 cs = 3,906.25 µs → 3,907; 3.003907 s.
        assert_eq!(skew_time_v3(Priority::OWNER, Centis(100)), Micros(3_907));
        assert_eq!(
            master_down_interval_v3(Priority::OWNER, Centis(100)),
            Micros(3_003_907)
        );
        // Priority 1 at the longest interval: 255 × 4095 / 256 cs = 40,790,039.06 µs.
        assert_eq!(skew_time_v3(Priority(1), Centis(4095)), Micros(40_790_040));
        assert_eq!(
            master_down_interval_v3(Priority(1), Centis(4095)),
            Micros(122_850_000 + 40_790_040)
        );
    }

    #[test]
    fn v2_timers_worked_by_hand() {
        // (256 − 100) / 256 s = 0.609375 s exactly, not 0.
        assert_eq!(skew_time_v2(Priority(100)), Micros(609_375));
        assert_eq!(
            master_down_interval_v2(Priority(100), Centis(100)),
            Micros(3_609_375)
        );
        // Priority 90: 166 / 256 s = 0.6484375 s → 648,438 µs (rounded up); 3 s + that.
        assert_eq!(skew_time_v2(Priority(90)), Micros(648_438));
        assert_eq!(
            master_down_interval_v2(Priority(90), Centis(300)),
            Micros(9_648_438)
        );
        // Priority 254: 2 / 256 s = 7,812.5 µs → 7,813.
        assert_eq!(skew_time_v2(Priority(254)), Micros(7_813));
        // Priority 1: 255 / 256 s = 996,093.75 µs → 996,094.
        assert_eq!(skew_time_v2(Priority(1)), Micros(996_094));
    }

    #[test]
    fn micros_display() {
        assert_eq!(Micros(3_609_375).to_string(), "3.609375s");
        assert_eq!(Micros(36_094).to_string(), "0.036094s");
        assert_eq!(Micros(3_000_000).to_string(), "3s");
        assert_eq!(Micros(500_000).to_string(), "0.5s");
        assert_eq!(Micros(1).to_string(), "0.000001s");
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
