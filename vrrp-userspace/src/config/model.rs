//! The one configuration model both front ends (keepalived.conf and TOML) produce.
//!
//! Values here are *resolved*: defaults applied, keepalived's fix-ups done (a VIP without a prefix
//! is /32, `state MASTER` without a priority is 255, a v2 interval is whole seconds …), so the
//! daemon reads them as they are. Serde derives give the native TOML format; field names carry
//! their unit where it is not obvious (`advert_interval_cs`).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
};

use serde::{Deserialize, Serialize};

use crate::units::{Centis, Priority, Vrid};

/// A whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `global_defs`.
    #[serde(default)]
    pub global: Global,
    /// `vrrp_instance` blocks, in file order.
    #[serde(default, rename = "instance")]
    pub instances: Vec<Instance>,
    /// `vrrp_script` blocks, in file order.
    #[serde(default, rename = "script", skip_serializing_if = "Vec::is_empty")]
    pub scripts: Vec<Script>,
    /// `vrrp_sync_group` blocks, in file order.
    #[serde(default, rename = "sync_group", skip_serializing_if = "Vec::is_empty")]
    pub sync_groups: Vec<SyncGroup>,
    /// `static_ipaddress`: added at start, kept whatever the instances do, removed at exit.
    #[serde(
        default,
        rename = "static_address",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub static_addresses: Vec<Vip>,
    /// `static_routes`: added at start (after the static addresses), removed at exit.
    #[serde(
        default,
        rename = "static_route",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub static_routes: Vec<Route>,
    /// `static_rules`: added at start (after the static routes), removed at exit.
    #[serde(default, rename = "static_rule", skip_serializing_if = "Vec::is_empty")]
    pub static_rules: Vec<Rule>,
    /// `track_file` (`vrrp_track_file`) blocks, in file order.
    #[serde(default, rename = "track_file", skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackFile>,
    /// `vrrp_track_process` blocks, in file order.
    #[serde(
        default,
        rename = "track_process",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_processes: Vec<TrackProcess>,
}

impl Config {
    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&Script> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The `track_file` called `name`.
    pub fn track_file(&self, name: &str) -> Option<&TrackFile> {
        self.track_files.iter().find(|s| s.name == name)
    }

    /// The `vrrp_track_process` called `name`.
    pub fn track_process(&self, name: &str) -> Option<&TrackProcess> {
        self.track_processes.iter().find(|s| s.name == name)
    }
}

/// Where something was written: a file and a 1-based line.
///
/// Locations are metadata for diagnostics, not configuration: two values that say the same thing
/// compare equal wherever they were written (so a TOML conversion equals its keepalived.conf
/// source, and a reload can tell an instance that merely moved from one that changed).
#[derive(Clone, Debug, Default, Eq, Serialize, Deserialize)]
pub struct SourceLoc {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line.
    pub line: u32,
}

impl PartialEq for SourceLoc {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// VRRP protocol version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Version {
    /// RFC 3768 (keepalived's default).
    #[default]
    V2,
    /// RFC 5798 / RFC 9568.
    V3,
}

impl TryFrom<u8> for Version {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        match n {
            2 => Ok(Self::V2),
            3 => Ok(Self::V3),
            n => Err(format!("the VRRP version must be 2 or 3, found {n}")),
        }
    }
}

impl From<Version> for u8 {
    fn from(v: Version) -> u8 {
        match v {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", u8::from(*self))
    }
}

/// Address family of an instance (all its VIPs share one), or of a route or rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6 (always VRRPv3).
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::Ipv4,
            IpAddr::V6(_) => Self::Ipv6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        })
    }
}

/// keepalived's `state`: the state an instance prefers at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    /// `state MASTER`.
    Master,
    /// `state BACKUP` (the default).
    #[default]
    Backup,
}

impl fmt::Display for InitialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Master => "MASTER",
            Self::Backup => "BACKUP",
        })
    }
}

/// VRRPv2 authentication (RFC 2338 §5.3.6; keepalived's `authentication` block).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// Simple text password: exactly 8 bytes on the wire, zero-padded.
    Pass {
        /// The password, zero-padded to 8 bytes.
        #[serde(with = "pass_bytes")]
        password: [u8; 8],
    },
    /// IPsec AH (keepalived's `auth_type AH`).
    Ah,
}

impl Auth {
    /// A PASS password from the configured bytes: the first 8, zero-padded. The second value is
    /// whether it was truncated.
    pub fn pass(bytes: &[u8]) -> (Self, bool) {
        let mut password = [0u8; 8];
        let n = bytes.len().min(8);
        password[..n].copy_from_slice(&bytes[..n]);
        (Self::Pass { password }, bytes.len() > 8)
    }

    /// Whether this is [`Auth::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Pass { .. } => f.write_str("PASS"),
            Self::Ah => f.write_str("AH"),
        }
    }
}

/// Serde for an 8-byte zero-padded password: a string when it is UTF-8 (the usual case), else
/// a list of byte values.
mod pass_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(pw: &[u8; 8], s: S) -> Result<S::Ok, S::Error> {
        let end = pw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        match std::str::from_utf8(&pw[..end]) {
            Ok(t) if !t.contains('\0') => Repr::Text(t.to_string()),
            _ => Repr::Bytes(pw.to_vec()),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 8], D::Error> {
        let bytes = match Repr::deserialize(d)? {
            Repr::Text(t) => t.into_bytes(),
            Repr::Bytes(b) => b,
        };
        if bytes.len() > 8 {
            return Err(D::Error::custom(format!(
                "a PASS password is at most 8 bytes, found {}",
                bytes.len()
            )));
        }
        let mut pw = [0u8; 8];
        pw[..bytes.len()].copy_from_slice(&bytes);
        Ok(pw)
    }
}

/// Which v3 IPv4 checksum to send (RFC 5798 §5.2.8 left it ambiguous).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum V3Checksum {
    /// Include an IPv4 pseudo-header: keepalived's default, FRR, Wireshark.
    #[default]
    PseudoHeader,
    /// Over the VRRP message only: RFC 9568, Cisco/Juniper; keepalived ≥ 2.2.8
    /// `v3_checksum_as_v2`.
    MessageOnly,
}

/// `ip addr` scope of a VIP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `scope global` (the default).
    #[default]
    Global,
    /// `scope site`.
    Site,
    /// `scope link`.
    Link,
    /// `scope host`.
    Host,
    /// `scope nowhere`.
    Nowhere,
}

impl Scope {
    /// Parse an `ip`-style scope name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "global" => Self::Global,
            "site" => Self::Site,
            "link" => Self::Link,
            "host" => Self::Host,
            "nowhere" => Self::Nowhere,
            _ => return None,
        })
    }
}

/// One virtual address: `ADDR[/LEN] [brd X] [dev IF] [label L] [scope S]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    /// The address.
    pub address: IpAddr,
    /// Prefix length: /32 (IPv4) or /128 (IPv6) when none is written.
    pub prefix_len: u8,
    /// Interface to add it on: the instance's interface unless `dev` says otherwise.
    pub dev: String,
    /// `label` (IPv4 alias label, shorter than 16 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `scope`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scope: Scope,
    /// `brd` (IPv4; `brd +` is resolved to the subnet's broadcast address, `brd -` to none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Ipv4Addr>,
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} dev {}", self.address, self.prefix_len, self.dev)?;
        if let Some(b) = self.broadcast {
            write!(f, " brd {b}")?;
        }
        if let Some(l) = &self.label {
            write!(f, " label {l}")?;
        }
        if self.scope != Scope::Global {
            write!(f, " scope {:?}", self.scope)?;
        }
        Ok(())
    }
}

/// `track_interface` entry: the interface's link state moves the priority (or FAULT, weight 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackInterface {
    /// Interface name.
    pub interface: String,
    /// Weight, −253..=253; 0 means link down ⇒ FAULT.
    #[serde(default)]
    pub weight: i16,
    /// `reverse`: the weight applies while the link is up rather than down.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reverse: bool,
}

/// `track_script` entry of an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScript {
    /// Name of a `vrrp_script`.
    pub script: String,
    /// Weight override (else the script's own), −253..=253.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i16>,
    /// `reverse`/`noreverse` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
}

/// An instance's `track_file` entry (a sync group's are given to each member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedFile {
    /// Name of a `track_file`.
    pub file: String,
    /// Weight override (else the `track_file`'s own), −254..=254.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i16>,
    /// `reverse`/`noreverse` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
}

/// An instance's `track_process` entry (a sync group's are given to each member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedProcess {
    /// Name of a `vrrp_track_process`.
    pub process: String,
    /// Weight override (else the `vrrp_track_process`'s own), −254..=254.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i16>,
    /// `reverse`/`noreverse` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
}

/// One `track_file` block: a file holding a number, read whenever it is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFile {
    /// Name used by `track_file { … }` in instances and sync groups.
    pub name: String,
    /// `file`: the path.
    pub path: String,
    /// `weight`: the value read is multiplied by it; 0 means non-zero ⇒ FAULT (default 1).
    #[serde(default = "one_i16")]
    pub weight: i16,
    /// `weight N reverse`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: write VALUE at start if the file does not exist (or
    /// always, with `overwrite`; never over an existing file on reload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<FileInit>,
    /// Where the block starts.
    #[serde(skip)]
    pub source: SourceLoc,
}

/// `init_file`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileInit {
    /// The value written (default 0).
    #[serde(default)]
    pub value: i64,
    /// `overwrite`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub overwrite: bool,
}

/// `param_match` of a `vrrp_track_process`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// No parameters compared.
    #[default]
    None,
    /// The parameters are exactly those given (none, if none were given).
    Exact,
    /// The process's first parameters are those given.
    Partial,
    /// As partial, and the last given may be the start of the process's parameter.
    Initial,
}

/// One `vrrp_track_process` block: how many processes of a name run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackProcess {
    /// Name used by `track_process { … }`.
    pub name: String,
    /// `process`: matched exactly against /proc/PID/comm, or against the command line's first
    /// word with `full_command` or parameters.
    pub process: String,
    /// `process NAME PARAM…`: the parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    /// `param_match`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub param_match: ParamMatch,
    /// `full_command` (implied by parameters or `param_match`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub full_command: bool,
    /// `weight`, −254..=254: keepalived's default is 0 (quorum lost ⇒ FAULT).
    #[serde(default)]
    pub weight: i16,
    /// `weight N reverse`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reverse: bool,
    /// `quorum` (default 1).
    #[serde(default = "one")]
    pub quorum: u32,
    /// `quorum_max` (default unbounded).
    #[serde(default = "u32_max")]
    pub quorum_max: u32,
    /// `fork_delay` (or `delay`), microseconds.
    #[serde(default, skip_serializing_if = "is_default")]
    pub fork_delay_us: u64,
    /// `terminate_delay` (or `delay`), microseconds.
    #[serde(default, skip_serializing_if = "is_default")]
    pub terminate_delay_us: u64,
    /// Where the block starts.
    #[serde(skip)]
    pub source: SourceLoc,
}

impl TrackProcess {
    /// `vrrp_track_process NAME` counting processes called `process`, with keepalived's
    /// defaults: no parameters, weight 0, quorum 1 and no maximum, no delays.
    pub fn new(name: impl Into<String>, process: impl Into<String>) -> Self {
        TrackProcess {
            name: name.into(),
            process: process.into(),
            params: Vec::new(),
            param_match: ParamMatch::None,
            full_command: false,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay_us: 0,
            terminate_delay_us: 0,
            source: SourceLoc::default(),
        }
    }
}

/// A notify command: `notify_master "/path/script arg" [user [group]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyCommand {
    /// The command line, as written inside the quotes.
    pub command: String,
    /// Run as this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// And this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The notify commands of an instance or sync group. Each is boxed: most instances have none
/// or one, and seven commands inline were half of every instance's spec (500 of 944 bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// `notify_master`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<Box<NotifyCommand>>,
    /// `notify_backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Box<NotifyCommand>>,
    /// `notify_fault`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Box<NotifyCommand>>,
    /// `notify_stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Box<NotifyCommand>>,
    /// `notify`: run on every change with `INSTANCE|GROUP <name> <STATE> <priority>` appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Box<NotifyCommand>>,
    /// `notify_split_brain` (ours, not keepalived's; instances only): run once per split brain
    /// episode with `<instance> <peer address> <peer MAC>` appended ("unknown" for what was
    /// not heard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_brain: Option<Box<NotifyCommand>>,
    /// `notify_master_rx_lower_pri` (instances only): run, without arguments, each time the
    /// instance as master hears a lower priority advert (keepalived's FIFO line
    /// `INSTANCE "NAME" MASTER_RX_LOWER_PRI <priority>` goes out then with or without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_rx_lower_pri: Option<Box<NotifyCommand>>,
    /// `notify_priority_changes [BOOL]`: the FIFOs get `INSTANCE "NAME" MASTER_PRIORITY <new>`
    /// (or `BACKUP_PRIORITY`) when the effective priority changes. Unset in an instance: its
    /// sync group's, else `global_defs`' `vrrp_notify_priority_changes` (validation copies it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_changes: Option<bool>,
}

impl Notify {
    /// Whether nothing is set: no command and no `notify_priority_changes`.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Gratuitous ARP / unsolicited NA settings on becoming master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Garp {
    /// Seconds after becoming master until the second burst (0: none). keepalived default 5.
    pub master_delay_s: u32,
    /// GARPs per burst. keepalived default 5.
    pub master_repeat: u32,
    /// Seconds between periodic refresh bursts while master (0: none).
    pub master_refresh_s: u32,
    /// GARPs per refresh burst (`garp_master_refresh_repeat`). keepalived default 1.
    #[serde(default = "one")]
    pub master_refresh_repeat: u32,
    /// A master that hears a lower priority advert sends a burst at once and another this many
    /// seconds later (`garp_lower_prio_delay`, 0: none); keepalived's default is the global
    /// `vrrp_garp_master_delay`.
    #[serde(default = "five")]
    pub lower_prio_delay_s: u32,
    /// GARPs per burst after a lower priority advert (`garp_lower_prio_repeat`, 0: none);
    /// keepalived's default is the global `vrrp_garp_master_repeat` (0 with `strict_mode`).
    #[serde(default = "five")]
    pub lower_prio_repeat: u32,
}

fn five() -> u32 {
    5
}

impl Default for Garp {
    fn default() -> Self {
        Self {
            master_delay_s: 5,
            master_repeat: 5,
            master_refresh_s: 0,
            master_refresh_repeat: 1,
            lower_prio_delay_s: 5,
            lower_prio_repeat: 5,
        }
    }
}

/// One `vrrp_instance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Instance name (`VI_1`).
    pub name: String,
    /// Initial state.
    #[serde(default)]
    pub state: InitialState,
    /// Interface it runs on.
    pub interface: String,
    /// Virtual router id.
    pub vrid: Vrid,
    /// Configured (base) priority; 255 is the address owner.
    #[serde(default)]
    pub priority: Priority,
    /// Advertisement interval; v2 whole seconds 1..=255 s, v3 1..=4095 cs.
    #[serde(rename = "advert_interval_cs", default = "one_second")]
    pub advert_interval: Centis,
    /// Protocol version.
    #[serde(default)]
    pub version: Version,
    /// Preempt mode (keepalived `nopreempt` clears it).
    #[serde(default = "yes")]
    pub preempt: bool,
    /// keepalived `preempt_delay`.
    #[serde(
        rename = "preempt_delay_cs",
        default,
        skip_serializing_if = "is_default"
    )]
    pub preempt_delay: Centis,
    /// v2 authentication.
    #[serde(default, skip_serializing_if = "Auth::is_none")]
    pub auth: Auth,
    /// `virtual_ipaddress`: advertised and added on becoming master.
    #[serde(default, rename = "vip")]
    pub vips: Vec<Vip>,
    /// `virtual_ipaddress_excluded`: added on becoming master, not advertised.
    #[serde(
        default,
        rename = "excluded_vip",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub excluded_vips: Vec<Vip>,
    /// `unicast_src_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peer { … }`: adverts go to these instead of the multicast group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unicast_peers: Vec<IpAddr>,
    /// `mcast_src_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_src: Option<IpAddr>,
    /// `track_interface { … }`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_script { … }`, each naming a defined `vrrp_script`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_scripts: Vec<TrackScript>,
    /// `track_file { … }`, each naming a `track_file`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackedFile>,
    /// `track_process { … }`, each naming a `vrrp_track_process`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackedProcess>,
    /// `dont_track_primary`: ignore the link state of `interface` itself.
    #[serde(default, skip_serializing_if = "is_default")]
    pub dont_track_primary: bool,
    /// `skip_check_adv_addr` (or global_defs' `vrrp_skip_check_adv_addr`): while backup, the
    /// adverts of the master already followed are not compared with our addresses (a new
    /// sender's are, and every advert while master).
    #[serde(default, skip_serializing_if = "is_default")]
    pub skip_check_adv_addr: bool,
    /// Notify commands.
    #[serde(default, skip_serializing_if = "Notify::is_empty")]
    pub notify: Notify,
    /// Gratuitous ARP settings (instance values, else `global_defs`, else keepalived's defaults).
    #[serde(default)]
    pub garp: Garp,
    /// Accept mode (RFC 5798 §6.1): keepalived defaults to on, off under `vrrp_strict` unless
    /// owner.
    #[serde(default = "yes")]
    pub accept: bool,
    /// `use_vmac [name]`: `Some("")` when used without a name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_vmac: Option<String>,
    /// Checksum variant sent for v3 over IPv4 (`v3_checksum_as_v2`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub v3_checksum: V3Checksum,
    /// `lower_prio_no_advert`: a master does not answer lower-priority adverts (RFC 9568 has it
    /// answer them).
    #[serde(default, skip_serializing_if = "is_default")]
    pub lower_prio_no_advert: bool,
    /// `vrrp_strict` / `strict_mode` was in force for this instance.
    #[serde(default, skip_serializing_if = "is_default")]
    pub strict: bool,
    /// `virtual_routes`: added after the VIPs on becoming master, removed before them.
    #[serde(default, rename = "route", skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// `virtual_rules`: added after the routes on becoming master, removed before them.
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// The multicast groups its adverts go to: `global_defs`' `vrrp_mcast_group4/6`, copied
    /// here when the file is validated (so an advert built from the instance has them).
    #[serde(skip, default = "mcast4")]
    pub mcast_group4: Ipv4Addr,
    /// See [`Instance::mcast_group4`].
    #[serde(skip, default = "mcast6")]
    pub mcast_group6: std::net::Ipv6Addr,
    /// Where the `vrrp_instance` block starts.
    #[serde(skip)]
    pub source: SourceLoc,
}

impl Instance {
    /// The instance's address family: that of its VIPs, else of its unicast addresses, else IPv4.
    pub fn family(&self) -> Family {
        self.vips
            .first()
            .map(|v| Family::of(&v.address))
            .or_else(|| self.unicast_src.as_ref().map(Family::of))
            .or_else(|| self.unicast_peers.first().map(Family::of))
            .unwrap_or(Family::Ipv4)
    }

    /// A new instance with keepalived's defaults (what an empty block means).
    pub fn new(name: &str, interface: &str, vrid: Vrid) -> Self {
        Self {
            name: name.to_string(),
            state: InitialState::Backup,
            interface: interface.to_string(),
            vrid,
            priority: Priority::DEFAULT,
            advert_interval: Centis::SECOND,
            version: Version::V2,
            preempt: true,
            preempt_delay: Centis(0),
            auth: Auth::None,
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            unicast_src: None,
            unicast_peers: Vec::new(),
            mcast_src: None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            dont_track_primary: false,
            skip_check_adv_addr: false,
            notify: Notify::default(),
            garp: Garp::default(),
            accept: true,
            use_vmac: None,
            v3_checksum: V3Checksum::PseudoHeader,
            lower_prio_no_advert: false,
            strict: false,
            routes: Vec::new(),
            rules: Vec::new(),
            mcast_group4: mcast4(),
            mcast_group6: mcast6(),
            source: SourceLoc::default(),
        }
    }

    /// The multicast group of its adverts sent from `src`'s family.
    pub fn mcast_group(&self, src: IpAddr) -> IpAddr {
        match src {
            IpAddr::V4(_) => IpAddr::V4(self.mcast_group4),
            IpAddr::V6(_) => IpAddr::V6(self.mcast_group6),
        }
    }

    /// Whether `other` is this instance but for its `virtual_routes` and `virtual_rules` (a
    /// reload then updates those and keeps the instance, VIPs and state).
    pub fn same_but_routes(&self, other: &Instance) -> bool {
        let strip = |i: &Instance| Instance {
            routes: Vec::new(),
            rules: Vec::new(),
            ..i.clone()
        };
        strip(self) == strip(other)
    }
}

/// One `vrrp_script`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Name used by `track_script`.
    pub name: String,
    /// The command line.
    pub command: String,
    /// Milliseconds between runs (keepalived default 1 s).
    #[serde(default = "one_second_ms")]
    pub interval_ms: u64,
    /// Milliseconds before a run counts as failed (0: keepalived's default, the interval).
    #[serde(default, skip_serializing_if = "is_default")]
    pub timeout_ms: u64,
    /// Weight, −253..=253: positive is added while the script succeeds, negative while it fails,
    /// 0 means failure ⇒ FAULT.
    #[serde(default)]
    pub weight: i16,
    /// `weight N reverse`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reverse: bool,
    /// Successes needed to count as up.
    #[serde(default = "one")]
    pub rise: u32,
    /// Failures needed to count as down.
    #[serde(default = "one")]
    pub fall: u32,
    /// Run as this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// And this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `init_fail`: start in the failed state.
    #[serde(default, skip_serializing_if = "is_default")]
    pub init_fail: bool,
    /// Where the block starts.
    #[serde(skip)]
    pub source: SourceLoc,
}

impl Script {
    /// `vrrp_script NAME` running `command`, with keepalived's defaults for everything else
    /// (interval 1 s, timeout its interval, weight 0, rise 1, fall 1).
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Script {
            name: name.into(),
            command: command.into(),
            interval_ms: 1000,
            timeout_ms: 0,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            group: None,
            init_fail: false,
            source: Default::default(),
        }
    }
}

/// One `vrrp_sync_group`: its instances change state together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    /// Group name.
    pub name: String,
    /// Member instance names.
    pub instances: Vec<String>,
    /// Group notify commands.
    #[serde(default, skip_serializing_if = "Notify::is_empty")]
    pub notify: Notify,
    /// `sync_group_tracking_weight`: members keep the weights of their tracked interfaces and
    /// scripts (without it keepalived sets them to 0, so that all members fail together).
    #[serde(default, skip_serializing_if = "is_default")]
    pub tracking_weight: bool,
    /// `track_file { … }`: tracked by every member (vrrpd's validation moves them onto the
    /// members, as keepalived does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackedFile>,
    /// `track_process { … }`: likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackedProcess>,
    /// `track_interface { … }`: likewise (keepalived's sync_group_tracking_init).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_script { … }`: likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_scripts: Vec<TrackScript>,
    /// Where the block starts.
    #[serde(skip)]
    pub source: SourceLoc,
}

/// `global_defs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Global {
    /// `router_id` (informational: notify and logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// `vrrp_version`: default version of IPv4 instances.
    #[serde(default)]
    pub vrrp_version: Version,
    /// `vrrp_strict`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub vrrp_strict: bool,
    /// `vrrp_skip_check_adv_addr`: every instance's `skip_check_adv_addr`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub skip_check_adv_addr: bool,
    /// `vrrp_mcast_group4`.
    #[serde(default = "mcast4")]
    pub mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (default ff02::12).
    #[serde(default = "mcast6")]
    pub mcast_group6: std::net::Ipv6Addr,
    /// `vrrp_garp_master_delay/repeat/refresh`: defaults of the instances.
    #[serde(default)]
    pub garp: Garp,
    /// `vrrp_garp_lower_prio_delay`: the instances' default (unset: `vrrp_garp_master_delay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_delay_s: Option<u32>,
    /// `vrrp_garp_lower_prio_repeat`: the instances' default (unset: `vrrp_garp_master_repeat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_garp_interval`: microseconds between two gratuitous ARPs on an interface (0: back
    /// to back).
    #[serde(default, skip_serializing_if = "is_default")]
    pub garp_interval_us: u64,
    /// `vrrp_gna_interval`: microseconds between two unsolicited NAs on an interface.
    #[serde(default, skip_serializing_if = "is_default")]
    pub gna_interval_us: u64,
    /// `vrrp_startup_delay` in milliseconds.
    #[serde(default, skip_serializing_if = "is_default")]
    pub startup_delay_ms: u64,
    /// `enable_script_security`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub enable_script_security: bool,
    /// `script_user USER [GROUP]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_user: Option<String>,
    /// Group of `script_user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_group: Option<String>,
    /// `notification_email { … }` (accepted, vrrpd sends no mail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_email: Vec<String>,
    /// `notification_email_from` (accepted, no effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_from: Option<String>,
    /// `smtp_server` (accepted, no effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_server: Option<String>,
    /// `v3_checksum_as_v2` in `global_defs` (keepalived ≥ 2.2.8): the instances' default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub v3_checksum: V3Checksum,
    /// `vrrp_lower_prio_no_advert`: the instances' default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub lower_prio_no_advert: bool,
    /// `vrrpd_exclusive` (ours, not keepalived's): vrrpd is the host's only VRRP speaker, so
    /// XDP drops adverts for VRIDs it does not run (`unknown_vrid`). Without it they are passed
    /// to the stack, for keepalived still running other VRIDs on the host.
    #[serde(default, skip_serializing_if = "is_default")]
    pub vrrpd_exclusive: bool,
    /// `notify_fifo PATH [USER [GROUP]]` with its `notify_fifo_script`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo PATH [USER [GROUP]]` with its `vrrp_notify_fifo_script` (keepalived
    /// ignores it when it names the same file as `notify_fifo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_priority_changes [BOOL]`: the instances' default of
    /// `notify_priority_changes` (after their sync group's).
    #[serde(default, skip_serializing_if = "is_default")]
    pub vrrp_notify_priority_changes: bool,
}

/// A FIFO that receives a line per state change (`INSTANCE "VI_1" MASTER 100`), created if
/// missing, with a reader started on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyFifo {
    /// The FIFO's path.
    pub path: String,
    /// Owner given to a FIFO vrrpd creates (default: the script user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// And its group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The reader started before the FIFO is opened, with its path as last argument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<NotifyCommand>,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            router_id: None,
            vrrp_version: Version::V2,
            vrrp_strict: false,
            skip_check_adv_addr: false,
            mcast_group4: mcast4(),
            mcast_group6: mcast6(),
            garp: Garp::default(),
            garp_lower_prio_delay_s: None,
            garp_lower_prio_repeat: None,
            garp_interval_us: 0,
            gna_interval_us: 0,
            startup_delay_ms: 0,
            enable_script_security: false,
            script_user: None,
            script_group: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            v3_checksum: V3Checksum::PseudoHeader,
            lower_prio_no_advert: false,
            vrrpd_exclusive: false,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            vrrp_notify_priority_changes: false,
        }
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn yes() -> bool {
    true
}

fn one_i16() -> i16 {
    1
}

fn u32_max() -> u32 {
    u32::MAX
}

fn one() -> u32 {
    1
}

fn one_second() -> Centis {
    Centis::SECOND
}

fn one_second_ms() -> u64 {
    1000
}

fn mcast4() -> Ipv4Addr {
    Ipv4Addr::new(224, 0, 0, 18)
}

fn mcast6() -> std::net::Ipv6Addr {
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)
}

/// The kernel's protocol number for keepalived (`RTPROT_KEEPALIVED`): keepalived marks the
/// routes and rules it tracks with it, and so do we (`ip route` shows `proto keepalived`).
pub const RTPROT_KEEPALIVED: u8 = 18;

/// The main routing table.
pub const RT_TABLE_MAIN: u32 = 254;

/// An address prefix; `default` is the family's /0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefix {
    /// The address.
    pub address: IpAddr,
    /// Its length.
    pub len: u8,
}

impl Prefix {
    /// The family's default prefix (`0.0.0.0/0`, `::/0`).
    pub fn default_of(family: Family) -> Self {
        let address = match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        Prefix { address, len: 0 }
    }

    /// Its family.
    pub fn family(&self) -> Family {
        Family::of(&self.address)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 && self.address.is_unspecified() {
            f.write_str("default")
        } else {
            write!(f, "{}/{}", self.address, self.len)
        }
    }
}

/// A route's type (`ip route`'s TYPE, keepalived's route keywords).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    /// A route to a gateway or a link (the default).
    #[default]
    Unicast,
    /// A local address.
    Local,
    /// A broadcast destination.
    Broadcast,
    /// An anycast destination.
    Anycast,
    /// A multicast destination.
    Multicast,
    /// Packets are dropped silently.
    Blackhole,
    /// Packets are dropped with ICMP unreachable.
    Unreachable,
    /// Packets are dropped with ICMP prohibited.
    Prohibit,
    /// The lookup goes on in the next rule's table.
    Throw,
}

impl RouteType {
    /// From its `ip route` name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "unicast" => Self::Unicast,
            "local" => Self::Local,
            "broadcast" | "brd" => Self::Broadcast,
            "anycast" => Self::Anycast,
            "multicast" => Self::Multicast,
            "blackhole" => Self::Blackhole,
            "unreachable" => Self::Unreachable,
            "prohibit" => Self::Prohibit,
            "throw" => Self::Throw,
            _ => return None,
        })
    }

    /// Whether packets matching it go somewhere (it may have a gateway or a device).
    pub fn forwards(&self) -> bool {
        matches!(
            self,
            Self::Unicast | Self::Local | Self::Broadcast | Self::Anycast | Self::Multicast
        )
    }
}

/// One route of `virtual_routes` or `static_routes`: keepalived's
/// `[TYPE] DEST [src A] [via|gw A] [from P] [dev IF] [scope S] [table T] [metric N]
/// [protocol P] [onlink] [no_track]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The destination (`default` is /0).
    pub dst: Prefix,
    /// Its type.
    #[serde(default, skip_serializing_if = "is_default")]
    pub kind: RouteType,
    /// `src`: the preferred source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// `via` (or `gw`): the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// `from`: a source prefix (IPv6 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Prefix>,
    /// `dev` (or `oif`): the output interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `scope` (global unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// `table` (main unless given).
    #[serde(default = "main_table")]
    pub table: u32,
    /// `metric` (`priority`, `preference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// `protocol`: keepalived's (18) unless `no_track` and another is given.
    #[serde(default = "keepalived_proto")]
    pub protocol: u8,
    /// `onlink`: the gateway is on the link even if no prefix says so.
    #[serde(default, skip_serializing_if = "is_default")]
    pub onlink: bool,
    /// `no_track` (keepalived then does not watch for the route's deletion; vrrpd never does).
    #[serde(default, skip_serializing_if = "is_default")]
    pub no_track: bool,
}

impl Route {
    /// Its family.
    pub fn family(&self) -> Family {
        self.dst.family()
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != RouteType::Unicast {
            write!(f, "{} ", format!("{:?}", self.kind).to_lowercase())?;
        }
        write!(f, "{}", self.dst)?;
        if let Some(a) = self.from {
            write!(f, " from {a}")?;
        }
        if let Some(a) = self.via {
            write!(f, " via {a}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(a) = self.src {
            write!(f, " src {a}")?;
        }
        if self.table != RT_TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

/// What a rule does with the packets it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// `table T` (`lookup T`).
    Table(u32),
    /// `goto N`: go on at the rule of preference N.
    Goto(u32),
    /// `nop`.
    Nop,
    /// `blackhole`.
    Blackhole,
    /// `unreachable`.
    Unreachable,
    /// `prohibit`.
    Prohibit,
}

/// One rule of `virtual_rules` or `static_rules`: keepalived's `[from P] [to P] [not]
/// [table T|goto N|nop|blackhole|unreachable|prohibit] [priority N] [fwmark M[/MASK]]
/// [iif IF] [oif IF] [protocol P] [no_track]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Its family (IPv4 unless an address or `inet6` says otherwise).
    pub family: Family,
    /// `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Prefix>,
    /// `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Prefix>,
    /// `not`: the selector is inverted.
    #[serde(default, skip_serializing_if = "is_default")]
    pub not: bool,
    /// The action.
    pub action: RuleAction,
    /// `priority` (`preference`, `order`); keepalived numbers rules without one from 16384
    /// down, per family.
    pub priority: u32,
    /// `fwmark`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// `fwmark M/MASK`'s mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwmask: Option<u32>,
    /// `iif` (`dev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    /// `oif`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    /// `protocol`: keepalived's (18) unless `no_track` and another is given.
    #[serde(default = "keepalived_proto")]
    pub protocol: u8,
    /// `no_track`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub no_track: bool,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pref {}", self.family, self.priority)?;
        if self.not {
            f.write_str(" not")?;
        }
        if let Some(p) = self.from {
            write!(f, " from {p}")?;
        }
        if let Some(p) = self.to {
            write!(f, " to {p}")?;
        }
        if let Some(m) = self.fwmark {
            write!(f, " fwmark {m:#x}")?;
            if let Some(k) = self.fwmask {
                write!(f, "/{k:#x}")?;
            }
        }
        if let Some(i) = &self.iif {
            write!(f, " iif {i}")?;
        }
        if let Some(i) = &self.oif {
            write!(f, " oif {i}")?;
        }
        match self.action {
            RuleAction::Table(t) => write!(f, " table {t}"),
            RuleAction::Goto(n) => write!(f, " goto {n}"),
            a => write!(f, " {}", format!("{a:?}").to_lowercase()),
        }
    }
}

fn main_table() -> u32 {
    RT_TABLE_MAIN
}

fn keepalived_proto() -> u8 {
    RTPROT_KEEPALIVED
}
