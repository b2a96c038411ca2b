//! Checks and fix-ups shared by both front ends, run on the model.
//!
//! Where keepalived warns and fixes a value up, this warns and fixes it the same way (the messages
//! quote keepalived's so that operators recognise them); where keepalived refuses an instance or
//! the whole configuration, this reports an error at the instance's `file:line`. The keepalived
//! front end has already done the fix-ups that need the raw text (state/priority defaults, the
//! decimal `advert_int`); for it most of these checks find nothing to do, while a hand-written
//! TOML file gets the same treatment.

use std::collections::{HashMap, HashSet};

use super::{
    diagnostics::{Category, Location, Sink},
    model::{
        Auth, Config, Family, InitialState, TrackScript, TrackedFile, TrackedProcess, Version,
    },
};
use crate::units::Centis;

/// Longest interface/label name the kernel takes (IFNAMSIZ − 1).
pub const MAX_IFNAME: usize = 15;

/// Valid weight range for tracked scripts and interfaces.
pub const WEIGHT_RANGE: std::ops::RangeInclusive<i16> = -253..=253;

/// The MTU of an interface of this host, if it has one by that name (keepalived sizes adverts
/// by it).
fn interface_mtu(name: &str) -> Option<usize> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Keywords vrrpd accepts (and records in the model) without acting on them, and why.
/// `vrrpd check` lists each one a configuration uses.
pub const NO_EFFECT: &[(&str, &str)] = &[
    (
        "check_unicast_src",
        "vrrpd takes a unicast instance's adverts from any source, as keepalived without it \
         (it does not yet drop those from an address not in unicast_peer)",
    ),
    (
        "dynamic_interfaces",
        "vrrpd needs each instance's interface when it starts or reloads (a configuration with \
         an instance on a missing interface is refused); an interface deleted and created \
         again while vrrpd runs is taken up again anyway",
    ),
    (
        "max_auto_priority",
        "vrrpd does not change its scheduling priority",
    ),
    (
        "mcast_src_ip",
        "vrrpd sends multicast adverts from the interface's primary address (not yet from this one)",
    ),
    (
        "no_track",
        "vrrpd does not watch its VIPs: one deleted by someone else stays deleted and the \
         master stays master (keepalived makes a master BACKUP when one of its VIPs without \
         no_track is deleted), as if every VIP were no_track",
    ),
    (
        "notification_email",
        "vrrpd sends no e-mail; use notify scripts",
    ),
    ("notification_email_from", "vrrpd sends no e-mail"),
    (
        "nftables",
        "vrrpd adds no firewall rules: its XDP program drops what keepalived's nftables rules \
         drop for a master without accept (no_accept), whichever firewall keywords are set",
    ),
    (
        "route and rule tracking",
        "vrrpd adds and removes virtual and static routes and rules, but does not watch them: \
         one deleted by someone else stays deleted (keepalived makes its instance BACKUP, or \
         adds a static one again), as if every one were no_track",
    ),
    ("smtp_alert", "vrrpd sends no e-mail"),
    ("smtp_connect_timeout", "vrrpd sends no e-mail"),
    ("smtp_server", "vrrpd sends no e-mail"),
    (
        "use_vmac",
        "vrrpd creates no macvlan interface: its XDP program answers for the VIPs from the VMAC on the interface itself, and adverts are sent from the VMAC anyway",
    ),
    (
        "vmac_xmit_base",
        "vrrpd sends adverts with the VMAC as source from the base interface anyway",
    ),
    ("vrrp_no_swap", "vrrpd does not lock its memory"),
    (
        "vrrp_priority",
        "vrrpd does not change its scheduling priority",
    ),
    (
        "vrrp_rt_priority",
        "vrrpd does not change its scheduling priority",
    ),
];

/// Why `keyword` has no effect (see [`NO_EFFECT`]).
pub fn no_effect_why(keyword: &str) -> &'static str {
    NO_EFFECT
        .iter()
        .find(|(k, _)| *k == keyword)
        .map_or("vrrpd does not act on it", |(_, why)| why)
}

/// The same list for a TOML file: the model's fields that vrrpd records without acting on,
/// when set to anything but their default (the keepalived front end reports them at their
/// lines instead).
pub(crate) fn no_effect_in_model(config: &Config, file: &str, sink: &mut Sink) {
    let g = &config.global;
    let global = Location {
        file: file.to_string(),
        line: 1,
        column: None,
    };
    let mut say = |loc: &Location, kw: &str, field: &str| {
        sink.warn(
            Some(loc.clone()),
            Category::NoEffect,
            format!("'{field}' accepted, no effect: {}", no_effect_why(kw)),
        );
    };
    for (set, kw, field) in [
        (
            !g.notification_email.is_empty(),
            "notification_email",
            "global.notification_email",
        ),
        (
            g.notification_email_from.is_some(),
            "notification_email_from",
            "global.notification_email_from",
        ),
        (g.smtp_server.is_some(), "smtp_server", "global.smtp_server"),
    ] {
        if set {
            say(&global, kw, field);
        }
    }
    for inst in &config.instances {
        let loc = Location::from(&inst.source);
        if inst.mcast_src.is_some() {
            say(&loc, "mcast_src_ip", "mcast_src");
        }
        if inst.use_vmac.is_some() {
            say(&loc, "use_vmac", "use_vmac");
        }
        if inst.routes.iter().any(|r| !r.no_track) || inst.rules.iter().any(|r| !r.no_track) {
            say(&loc, "route and rule tracking", "route/rule (tracked)");
        }
    }
    if config.static_routes.iter().any(|r| !r.no_track)
        || config.static_rules.iter().any(|r| !r.no_track)
    {
        say(
            &global,
            "route and rule tracking",
            "static_route/static_rule (tracked)",
        );
    }
}

/// Run every check, fixing up what keepalived fixes up.
pub(crate) fn validate(config: &mut Config, sink: &mut Sink) {
    let script_names: HashSet<String> = config.scripts.iter().map(|s| s.name.clone()).collect();
    let mut names: HashMap<String, Location> = HashMap::new();

    for script in &config.scripts {
        let loc = Some(Location::from(&script.source));
        if !WEIGHT_RANGE.contains(&script.weight) {
            sink.error(
                loc.clone(),
                format!(
                    "vrrp_script {}: weight must be in -253..253, found {}",
                    script.name, script.weight
                ),
            );
        }
        if script.command.trim().is_empty() {
            sink.error(loc, format!("vrrp_script {} has no 'script'", script.name));
        }
    }

    if config.global.skip_check_adv_addr {
        for inst in &mut config.instances {
            inst.skip_check_adv_addr = true;
        }
    }
    let (group4, group6) = (config.global.mcast_group4, config.global.mcast_group6);
    // keepalived: an instance's notify_priority_changes defaults to its sync group's, else to
    // global_defs' vrrp_notify_priority_changes.
    let priority_changes: Vec<bool> = config
        .instances
        .iter()
        .map(|inst| {
            inst.notify.priority_changes.unwrap_or_else(|| {
                config
                    .sync_groups
                    .iter()
                    .find(|g| g.instances.contains(&inst.name))
                    .and_then(|g| g.notify.priority_changes)
                    .unwrap_or(config.global.vrrp_notify_priority_changes)
            })
        })
        .collect();
    for (inst, priority_changes) in config.instances.iter_mut().zip(priority_changes) {
        // Resolved here (as keepalived does at startup); an unset false stays unset.
        if priority_changes {
            inst.notify.priority_changes = Some(true);
        }
        // keepalived sends every instance's multicast adverts to the global groups.
        inst.mcast_group4 = group4;
        inst.mcast_group6 = group6;
        let loc = Some(Location::from(&inst.source));
        let name = inst.name.clone();
        if let Some(first) = names.get(&name) {
            sink.error(
                loc.clone(),
                format!("duplicate vrrp_instance name '{name}' (first defined at {first})"),
            );
        } else if let Some(l) = &loc {
            names.insert(name.clone(), l.clone());
        }

        // Priority 0 is what a master sends when it resigns (the keepalived.conf parser only
        // takes 1..255; this catches TOML).
        if inst.priority == crate::units::Priority::SHUTDOWN {
            sink.error(
                loc.clone(),
                format!(
                    "({name}) priority 0 is reserved for a master that resigns: expected \
                     1..255"
                ),
            );
        }

        if inst.interface.is_empty() {
            sink.error(
                loc.clone(),
                format!("({name}) no 'interface' given; vrrpd needs the interface to run on"),
            );
        } else if inst.interface.len() > MAX_IFNAME {
            sink.error(
                loc.clone(),
                format!(
                    "({name}) interface name '{}' is longer than {MAX_IFNAME} bytes",
                    inst.interface
                ),
            );
        }

        // One family per instance (keepalived skips the odd ones out; we refuse).
        let family = inst.family();
        for vip in &inst.vips {
            if Family::of(&vip.address) != family {
                sink.error(
                    loc.clone(),
                    format!(
                        "({name}) virtual_ipaddress mixes IPv4 and IPv6 ({} is not {family}); \
                         put the other family in virtual_ipaddress_excluded or another instance",
                        vip.address
                    ),
                );
            }
        }
        for (what, addr) in inst
            .unicast_src
            .iter()
            .map(|a| ("unicast_src_ip", a))
            .chain(inst.unicast_peers.iter().map(|a| ("unicast_peer", a)))
            .chain(inst.mcast_src.iter().map(|a| ("mcast_src_ip", a)))
        {
            if Family::of(addr) != family {
                sink.error(
                    loc.clone(),
                    format!("({name}) {what} {addr} is not {family} like the instance's VIPs"),
                );
            }
        }
        for vip in inst.vips.iter().chain(&inst.excluded_vips) {
            let max = if vip.address.is_ipv4() { 32 } else { 128 };
            if vip.prefix_len > max {
                sink.error(
                    loc.clone(),
                    format!(
                        "({name}) prefix length /{} of {} is more than {max}",
                        vip.prefix_len, vip.address
                    ),
                );
            }
            if let Some(l) = &vip.label
                && l.len() > MAX_IFNAME
            {
                sink.error(
                    loc.clone(),
                    format!("({name}) label '{l}' is longer than {MAX_IFNAME} bytes"),
                );
            }
        }

        // IPv6 ⇒ VRRPv3.
        if family == Family::Ipv6 && inst.version == Version::V2 {
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!("({name}) cannot use IPv6 with VRRP version 2; setting version 3"),
            );
            inst.version = Version::V3;
        }
        if family == Family::Ipv6
            && inst.unicast_peers.is_empty()
            && let Some(std::net::IpAddr::V6(a)) = inst.vips.first().map(|v| v.address)
            && (a.segments()[0] & 0xffc0) != 0xfe80
        {
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!("({name}) the first IPv6 VIP address should be link local"),
            );
        }

        if inst.vips.is_empty() {
            if inst.version == Version::V3 || inst.strict {
                sink.error(
                    loc.clone(),
                    format!("({name}) No VIP specified; at least one is required"),
                );
            } else {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) No VIP specified; at least one is sensible"),
                );
            }
        }

        // Authentication: not in v3, not in strict mode.
        if !inst.auth.is_none() {
            if inst.strict {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) Strict mode does not support authentication. Ignoring."),
                );
                inst.auth = Auth::None;
            } else if inst.version == Version::V3 {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) VRRP version 3 does not support authentication. Ignoring."),
                );
                inst.auth = Auth::None;
            } else if matches!(inst.auth, Auth::Pass { password } if password[0] == 0) {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) Authentication specified but no password given. Ignoring"),
                );
                inst.auth = Auth::None;
            }
        }

        // keepalived: a master must have heard an advert (for AH's sequence number) before it
        // takes over, so an AH instance that is not the address owner starts as BACKUP.
        if inst.auth == Auth::Ah && inst.state == InitialState::Master && !inst.priority.is_owner()
        {
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) Initial state master is incompatible with AH authentication - \
                     clearing"
                ),
            );
            inst.state = InitialState::Backup;
        }

        // An advert lists at most 255 addresses, and no more than fit in a frame on the
        // interface's MTU (at most 1500, 89 IPv6 addresses): keepalived moves the rest to the
        // excluded VIPs, managed with mastership but not listed; so do we, with its warning.
        let mtu = interface_mtu(&inst.interface)
            .unwrap_or(crate::wire::vrrp::ADVERT_MTU)
            .min(crate::wire::vrrp::ADVERT_MTU);
        let max = crate::wire::vrrp::max_addresses(inst.version, family == Family::Ipv6, mtu);
        if inst.vips.len() > max {
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) Number of VIPs ({}) exceeds maximum/space available in packet \
                     (max {max} addresses) - excess moved to eVIPs",
                    inst.vips.len()
                ),
            );
            let excess = inst.vips.split_off(max);
            inst.excluded_vips.extend(excess);
        }

        // Interval ranges and units (a no-op on what the keepalived front end already fixed).
        let us = u64::from(inst.advert_interval.get()) * 10_000;
        let (interval, warning) = advert_interval_of(inst.version, us, &name);
        if let Some(w) = warning {
            sink.warn(loc.clone(), Category::Fixup, w);
        }
        inst.advert_interval = interval;

        // Preemption (keepalived's vrrp_complete_instance, same order).
        if inst.priority.is_owner() && !inst.preempt {
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) nopreempt is incompatible with priority 255. resetting nopreempt"
                ),
            );
            inst.preempt = true;
        }
        if inst.state == InitialState::Master {
            if !inst.preempt {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({name}) Warning - nopreempt will not work with initial state MASTER - \
                         clearing"
                    ),
                );
                inst.preempt = true;
            }
            if inst.preempt_delay.get() != 0 {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({name}) Warning - preempt delay will not work with initial state \
                         MASTER - clearing"
                    ),
                );
                inst.preempt_delay = Centis(0);
            }
        }
        if inst.preempt_delay.get() != 0 {
            if inst.strict {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) preempt_delay is incompatible with strict mode - resetting"),
                );
                inst.preempt_delay = Centis(0);
            } else if !inst.preempt {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({name}) preempt_delay is incompatible with nopreempt mode - resetting"
                    ),
                );
                inst.preempt_delay = Centis(0);
            }
        }
        if inst.strict && inst.accept && !inst.priority.is_owner() && inst.version == Version::V2 {
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) warning - accept mode for VRRP version 2 does not comply with \
                     RFC3768 - resetting"
                ),
            );
            inst.accept = false;
        }
        if inst.strict && !inst.lower_prio_no_advert {
            inst.lower_prio_no_advert = true;
        }

        // Tracking. An instance tracks its own interface anyway (weight 0, unless
        // dont_track_primary): keepalived drops an entry naming it.
        inst.track_interfaces.retain(|t| {
            if t.interface != inst.interface {
                return true;
            }
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) Ignoring track_interface {} since own interface",
                    t.interface
                ),
            );
            false
        });
        for t in &inst.track_interfaces {
            if !WEIGHT_RANGE.contains(&t.weight) {
                sink.error(
                    loc.clone(),
                    format!(
                        "({name}) track_interface {}: weight must be in -253..253, found {}",
                        t.interface, t.weight
                    ),
                );
            }
        }
        inst.track_scripts.retain(|t| {
            if let Some(w) = t.weight
                && !WEIGHT_RANGE.contains(&w)
            {
                sink.error(
                    loc.clone(),
                    format!(
                        "({name}) track_script {}: weight must be in -253..253, found {w}",
                        t.script
                    ),
                );
            }
            if script_names.contains(&t.script) {
                true
            } else {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) track script {} not found, ignoring...", t.script),
                );
                false
            }
        });
    }

    // Duplicate VRIDs on one interface and family. keepalived refuses two multicast instances
    // ("… both use VRID …") but tells unicast instances apart by their peers (and unicast from
    // multicast); vrrpd keys its advert maps by interface, family and VRID alone, so any two
    // instances there would read each other's adverts: refused, naming both.
    let mut seen: HashMap<(String, Family, u8), (String, bool, Location)> = HashMap::new();
    for inst in &config.instances {
        let key = (inst.interface.clone(), inst.family(), inst.vrid.get());
        let unicast = !inst.unicast_peers.is_empty();
        let here = Location::from(&inst.source);
        if let Some((first, first_unicast, at)) = seen.get(&key) {
            let message = if unicast || *first_unicast {
                format!(
                    "{first} ({at}) and {} both use VRID {} with {} on interface {}: keepalived \
                     tells unicast instances apart by their peers, vrrpd does not; give each \
                     instance on an interface its own VRID",
                    inst.name, key.2, key.1, key.0
                )
            } else {
                format!(
                    "{first} and {} both use VRID {} with {} on interface {}",
                    inst.name, key.2, key.1, key.0
                )
            };
            sink.error(Some(here), message);
        } else {
            seen.insert(key, (inst.name.clone(), unicast, here));
        }
    }

    // One VIP, one instance: the XDP responder and the address itself belong to one master.
    // keepalived 2.2.7 accepts a VIP in two instances silently, and each instance then adds
    // and removes the address with its own state; refused.
    let mut owners: HashMap<std::net::IpAddr, (String, Location)> = HashMap::new();
    for inst in &config.instances {
        let mut mine: HashSet<std::net::IpAddr> = HashSet::new();
        for vip in inst.vips.iter().chain(&inst.excluded_vips) {
            if !mine.insert(vip.address) {
                continue;
            }
            let here = Location::from(&inst.source);
            match owners.get(&vip.address) {
                Some((first, at)) => sink.error(
                    Some(here),
                    format!(
                        "({}) VIP {} is also a VIP of {first} ({at}): an address belongs to one \
                         instance (keepalived accepts this, and the two instances then add and \
                         remove it against each other)",
                        inst.name, vip.address
                    ),
                ),
                None => {
                    owners.insert(vip.address, (inst.name.clone(), here));
                }
            }
        }
    }

    // The XDP program of an interface holds at most MAX_VIPS VIPs of each family (its hash
    // maps' size; listed and excluded VIPs alike): more would fail at run time, so refused
    // here, at the instance that goes beyond.
    let mut per_iface: HashMap<(String, bool), usize> = HashMap::new();
    let max_vips = vrrp_common::maps::MAX_VIPS as usize;
    for inst in &config.instances {
        for v6 in [false, true] {
            let count = inst
                .vips
                .iter()
                .chain(&inst.excluded_vips)
                .filter(|v| v.address.is_ipv6() == v6)
                .count();
            if count == 0 {
                continue;
            }
            let total = per_iface.entry((inst.interface.clone(), v6)).or_default();
            let before = *total;
            *total += count;
            if before <= max_vips && *total > max_vips {
                sink.error(
                    Some(Location::from(&inst.source)),
                    format!(
                        "({}) interface {} would have {} {} VIPs with this instance's: vrrpd \
                         answers for at most {max_vips} of each family on an interface",
                        inst.name,
                        inst.interface,
                        *total,
                        if v6 { "IPv6" } else { "IPv4" }
                    ),
                );
            }
        }
    }

    // Sync groups name existing instances, each in at most one group.
    let instance_names: HashSet<String> = config.instances.iter().map(|i| i.name.clone()).collect();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for group in &mut config.sync_groups {
        let loc = Some(Location::from(&group.source));
        let gname = group.name.clone();
        group.instances.retain(|i| {
            if !instance_names.contains(i) {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "Virtual router {i} specified in sync group {gname} doesn't exist - \
                         ignoring"
                    ),
                );
                return false;
            }
            if let Some(other) = member_of.insert(i.clone(), gname.clone()) {
                sink.error(
                    loc.clone(),
                    format!("VRRP instance {i} is already in sync group {other}"),
                );
            }
            true
        });
        if group.instances.len() < 2 {
            sink.warn(
                loc,
                Category::Fixup,
                format!(
                    "Sync group {gname} has only {} virtual router(s)",
                    group.instances.len()
                ),
            );
        }
    }

    // keepalived (vrrp_complete_instance): the members of a sync group track with weight 0, so
    // that they fail together, unless the group has sync_group_tracking_weight; an address
    // owner's priority never moves, so its weighted tracking goes.
    let keeps_weights: HashMap<&str, bool> = config
        .sync_groups
        .iter()
        .flat_map(|g| g.instances.iter().map(|i| (i.as_str(), g.tracking_weight)))
        .collect();
    let script_weight: HashMap<&str, i16> = config
        .scripts
        .iter()
        .map(|s| (s.name.as_str(), s.weight))
        .collect();
    for inst in &mut config.instances {
        let sync = keeps_weights.get(inst.name.as_str()) == Some(&false);
        if !sync && !inst.priority.is_owner() {
            continue;
        }
        let loc = Some(Location::from(&inst.source));
        let (name, why) = (
            inst.name.clone(),
            if sync { "SYNC group" } else { "address owner" },
        );
        inst.track_interfaces.retain_mut(|t| {
            if t.weight == 0 {
                return true;
            }
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) ignoring {} tracked interface {}due to {why}",
                    t.interface,
                    if sync { "weight " } else { "" }
                ),
            );
            t.weight = 0;
            sync
        });
        inst.track_scripts.retain(|t| {
            let weight = t
                .weight
                .or_else(|| script_weight.get(t.script.as_str()).copied())
                .unwrap_or(0);
            if weight == 0 {
                return true;
            }
            sink.warn(
                loc.clone(),
                Category::Fixup,
                format!(
                    "({name}) ignoring tracked script {} with weights due to {}",
                    t.script,
                    if sync { "SYNC group" } else { "address_owner" }
                ),
            );
            false
        });
        // track_file: the default weight (1) becomes 0, another weight drops the entry.
        let file_default: HashMap<&str, (i16, bool)> = config
            .track_files
            .iter()
            .map(|f| (f.name.as_str(), (f.weight, f.reverse)))
            .collect();
        inst.track_files.retain_mut(|t| {
            let weight = t
                .weight
                .or_else(|| file_default.get(t.file.as_str()).map(|d| d.0))
                .unwrap_or(1);
            let why = if sync { "SYNC group" } else { "address_owner" };
            match weight {
                0 => true,
                1 => {
                    sink.warn(
                        loc.clone(),
                        Category::Fixup,
                        format!(
                            "({name}) ignoring weight from tracked file {} due to {why}. \
                             specify weight 0",
                            t.file
                        ),
                    );
                    t.weight = Some(0);
                    true
                }
                w => {
                    sink.warn(
                        loc.clone(),
                        Category::Fixup,
                        format!(
                            "({name}) ignoring tracked file {} with weight {w} due to {why}",
                            t.file
                        ),
                    );
                    false
                }
            }
        });
    }

    // keepalived (vrrp_complete_init): a sync group's track_file and track_process apply to
    // each member, with the group's weight (0 if a member is an address owner); one the member
    // tracks itself keeps the member's entry, with the group's weight unless the member's is 0.
    for g in 0..config.sync_groups.len() {
        let files = std::mem::take(&mut config.sync_groups[g].track_files);
        let procs = std::mem::take(&mut config.sync_groups[g].track_processes);
        let ifaces = std::mem::take(&mut config.sync_groups[g].track_interfaces);
        let scripts = std::mem::take(&mut config.sync_groups[g].track_scripts);
        if files.is_empty() && procs.is_empty() && ifaces.is_empty() && scripts.is_empty() {
            continue;
        }
        let group = config.sync_groups[g].clone();
        let loc = Some(Location::from(&group.source));
        let members: Vec<usize> = config
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| group.instances.contains(&i.name))
            .map(|(n, _)| n)
            .collect();
        let has_owner = members
            .iter()
            .any(|&n| config.instances[n].priority.is_owner());
        let file_weight = |c: &Config, t: &TrackedFile| {
            t.weight
                .or_else(|| c.track_file(&t.file).map(|f| f.weight))
                .unwrap_or(1)
        };
        let proc_weight = |c: &Config, t: &TrackedProcess| {
            t.weight
                .or_else(|| c.track_process(&t.process).map(|p| p.weight))
                .unwrap_or(0)
        };
        for mut t in files {
            if has_owner && file_weight(config, &t) != 0 {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({}) Cannot have weighted track file '{}' with member having priority \
                         255 - setting weight 0",
                        group.name, t.file
                    ),
                );
                t.weight = Some(0);
            }
            for &m in &members {
                let own = config.instances[m]
                    .track_files
                    .iter()
                    .position(|x| x.file == t.file);
                match own {
                    Some(k) => {
                        sink.warn(
                            loc.clone(),
                            Category::Fixup,
                            format!(
                                "({}) track_file {} is configured on VRRP instance and sync \
                                 group. Remove vrrp instance config",
                                config.instances[m].name, t.file
                            ),
                        );
                        let w = file_weight(config, &config.instances[m].track_files[k]);
                        if w != 0 {
                            let reverse = t.reverse.unwrap_or_else(|| {
                                config.track_file(&t.file).is_some_and(|f| f.reverse)
                            });
                            let gw = file_weight(config, &t);
                            let entry = &mut config.instances[m].track_files[k];
                            entry.weight = Some(gw);
                            entry.reverse = Some(reverse);
                        }
                    }
                    None => config.instances[m].track_files.push(t.clone()),
                }
            }
        }
        // Interfaces and scripts as keepalived's sync_group_tracking_init adds them
        // (add_vrrp_to_interface, add_vrrp_to_track_script): after the members' own entries
        // lost their weights above, so a group's weight stays (but with an owner among the
        // members); one a member tracks itself keeps the member's entry, with the group's
        // weight unless the member's is 0. A member's own interface is tracked with weight 0
        // (FAULT) unless `dont_track_primary`.
        for mut t in ifaces {
            if has_owner && t.weight != 0 {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({}) Cannot have weighted track interface '{}' with member having \
                         priority 255 - clearing weight",
                        group.name, t.interface
                    ),
                );
                t.weight = 0;
            }
            for &m in &members {
                let inst = &mut config.instances[m];
                let own = inst.interface == t.interface && !inst.dont_track_primary;
                let tracked = inst
                    .track_interfaces
                    .iter()
                    .position(|x| x.interface == t.interface);
                if own || tracked.is_some() {
                    sink.warn(
                        loc.clone(),
                        Category::Fixup,
                        format!(
                            "({}) track_interface {} is configured on VRRP instance and sync \
                             group. Remove vrrp instance or sync group config",
                            inst.name, t.interface
                        ),
                    );
                }
                match tracked {
                    Some(k) => {
                        let entry = &mut inst.track_interfaces[k];
                        if entry.weight != 0 && !own {
                            entry.weight = t.weight;
                            entry.reverse = t.reverse;
                        }
                    }
                    // Its own interface already means FAULT when it goes down.
                    None if own => {}
                    None => inst.track_interfaces.push(t.clone()),
                }
            }
        }
        let script_weight = |c: &Config, t: &TrackScript| {
            t.weight
                .or_else(|| {
                    c.scripts
                        .iter()
                        .find(|s| s.name == t.script)
                        .map(|s| s.weight)
                })
                .unwrap_or(0)
        };
        for mut t in scripts {
            if !config.scripts.iter().any(|s| s.name == t.script) {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({}) track script {} not found, ignoring...",
                        group.name, t.script
                    ),
                );
                continue;
            }
            if has_owner && script_weight(config, &t) != 0 {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({}) Cannot have weighted track script '{}' with member having \
                         priority 255 - clearing weight",
                        group.name, t.script
                    ),
                );
                t.weight = Some(0);
            }
            for &m in &members {
                let own = config.instances[m]
                    .track_scripts
                    .iter()
                    .position(|x| x.script == t.script);
                match own {
                    Some(k) => {
                        sink.warn(
                            loc.clone(),
                            Category::Fixup,
                            format!(
                                "({}) track_script {} is configured on VRRP instance and sync \
                                 group. Remove vrrp instance config",
                                config.instances[m].name, t.script
                            ),
                        );
                        if script_weight(config, &config.instances[m].track_scripts[k]) != 0 {
                            let (w, reverse) = (
                                script_weight(config, &t),
                                t.reverse.unwrap_or_else(|| {
                                    config
                                        .scripts
                                        .iter()
                                        .find(|s| s.name == t.script)
                                        .is_some_and(|s| s.reverse)
                                }),
                            );
                            let entry = &mut config.instances[m].track_scripts[k];
                            entry.weight = Some(w);
                            entry.reverse = Some(reverse);
                        }
                    }
                    None => config.instances[m].track_scripts.push(t.clone()),
                }
            }
        }
        for mut t in procs {
            if has_owner && proc_weight(config, &t) != 0 {
                sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!(
                        "({}) Cannot have weighted track process '{}' with member having \
                         priority 255 - setting weight 0",
                        group.name, t.process
                    ),
                );
                t.weight = Some(0);
            }
            for &m in &members {
                let own = config.instances[m]
                    .track_processes
                    .iter()
                    .position(|x| x.process == t.process);
                match own {
                    Some(k) => {
                        sink.warn(
                            loc.clone(),
                            Category::Fixup,
                            format!(
                                "({}) track_process {} is configured on VRRP instance and sync \
                                 group. Remove vrrp instance config",
                                config.instances[m].name, t.process
                            ),
                        );
                        // keepalived takes the group's weight, not its reverse, here.
                        if proc_weight(config, &config.instances[m].track_processes[k]) != 0 {
                            let w = proc_weight(config, &t);
                            config.instances[m].track_processes[k].weight = Some(w);
                        }
                    }
                    None => config.instances[m].track_processes.push(t.clone()),
                }
            }
        }
    }
}

/// keepalived's rules for `advert_int` (given in microseconds), the one place they live: VRRPv2
/// takes whole seconds below 256 s, VRRPv3 centiseconds below 40.96 s; what breaks a rule is
/// fixed up with keepalived's warning, returned beside the interval.
pub fn advert_interval_of(version: Version, us: u64, name: &str) -> (Centis, Option<String>) {
    let shown = fmt_us;
    match version {
        Version::V2 if us >= 256_000_000 => (
            Centis::from_secs(255),
            Some(format!(
                "({name}) VRRPv2 advertisement interval {}s is out of range. Must be less than \
                 256s. Setting to 255s",
                shown(us)
            )),
        ),
        Version::V2 if !us.is_multiple_of(1_000_000) || us == 0 => {
            let secs = (us + 500_000) / 1_000_000;
            let secs = secs.max(1);
            (
                Centis::from_secs(secs as u32),
                Some(format!(
                    "({name}) VRRPv2 advertisement interval {}s must be an integer. rounding to \
                     {secs}s",
                    shown(us)
                )),
            )
        }
        Version::V2 => (Centis::from_secs((us / 1_000_000) as u32), None),
        Version::V3 if us >= 40_960_000 => (
            Centis(4095),
            Some(format!(
                "({name}) VRRPv3 advertisement interval {}s is out of range. Must be less than \
                 40.96s. Setting to 40.95s",
                shown(us)
            )),
        ),
        Version::V3 if !us.is_multiple_of(10_000) => {
            let cs = ((us + 5_000) / 10_000).max(1);
            (
                Centis(cs as u32),
                Some(format!(
                    "({name}) VRRPv3 advertisement interval {}s must be in units of 10ms - \
                     rounding to {}",
                    shown(us),
                    Centis(cs as u32)
                )),
            )
        }
        Version::V3 => (Centis(((us / 10_000) as u32).max(1)), None),
    }
}

/// Microseconds as keepalived prints decimal seconds: "0.4", "2".
pub(super) fn fmt_us(us: u64) -> String {
    let s = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
