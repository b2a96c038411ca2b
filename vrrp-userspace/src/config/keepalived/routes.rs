//! `virtual_routes`, `virtual_rules`, `static_ipaddress`, `static_routes` and `static_rules`,
//! read as keepalived 2.2.7 reads them (`vrrp_iproute.c` `alloc_route`, `vrrp_iprule.c`
//! `alloc_rule`): the same keywords, defaults, warnings and refusals. Where keepalived logs an
//! invalid item and drops it, we refuse the configuration at the item (as for a bad VIP).
//!
//! Options keepalived passes to the kernel that vrrpd does not (route metrics such as `mtu`,
//! `tos`, `realms`, encapsulation, multipath `nexthop`) are reported: the metrics with a
//! warning (`--strict` refuses), multipath and encapsulation as errors, since a route without
//! them goes elsewhere.

use std::net::IpAddr;

use super::{Category, Interp, Node, Token};
use crate::config::model::{
    Family, Prefix, RT_TABLE_MAIN, RTPROT_KEEPALIVED, Route, RouteType, Rule, RuleAction, Scope,
};

/// keepalived numbers rules without a preference from here down, per family.
pub(super) const RULE_START_PRIORITY: u32 = 16384;

/// Route options that take a value (some an optional `lock` first) which vrrpd does not set.
const ROUTE_METRICS: &[&str] = &[
    "tos",
    "dsfield",
    "mtu",
    "hoplimit",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "realms",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "congctl",
    "pref",
    "ttl-propagate",
    "fastopen_no_cookie",
    "expires",
    "track_group",
];

/// Rule options that take a value which vrrpd does not set.
const RULE_OPTIONS: &[&str] = &[
    "tos",
    "dsfield",
    "realms",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "tunnel-id",
    "uidrange",
    "ipproto",
    "sport",
    "dport",
    "track_group",
];

/// `table`: a number or one of keepalived's built-in names.
fn table_id(s: &str) -> Option<u32> {
    match s {
        "default" => Some(253),
        "main" => Some(RT_TABLE_MAIN),
        "local" => Some(255),
        _ => parse_u32(s),
    }
}

/// `protocol`: a number 0..255 or a name from keepalived's built-in list (and `keepalived`).
fn protocol_id(s: &str) -> Option<u8> {
    Some(match s {
        "none" => 0,
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "gated" => 8,
        "ra" => 9,
        "mrt" => 10,
        "zebra" => 11,
        "bird" => 12,
        "dnrouted" => 13,
        "xorp" => 14,
        "ntk" => 15,
        "dhcp" => 16,
        "keepalived" => RTPROT_KEEPALIVED,
        "babel" => 42,
        _ => return parse_u32(s).and_then(|n| u8::try_from(n).ok()),
    })
}

/// `scope`: a name or its number.
fn scope_of(s: &str) -> Option<Scope> {
    Scope::from_name(s).or_else(|| match parse_u32(s)? {
        0 => Some(Scope::Global),
        200 => Some(Scope::Site),
        253 => Some(Scope::Link),
        254 => Some(Scope::Host),
        255 => Some(Scope::Nowhere),
        _ => None,
    })
}

/// strtoul(…, 0) for a whole word: decimal, `0x` hex or leading-`0` octal, no sign.
fn parse_u32(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).ok();
    }
    if s.len() > 1
        && let Some(o) = s.strip_prefix('0')
    {
        return u32::from_str_radix(o, 8).ok();
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// keepalived's `parse_route`: `default`/`any`/`all` (family not yet known), or ADDR[/LEN].
enum Dest {
    Default(Option<Family>),
    Prefix(Prefix),
}

fn parse_dest(s: &str) -> Option<Dest> {
    match s {
        "default" | "any" | "all" => return Some(Dest::Default(None)),
        "default6" => return Some(Dest::Default(Some(Family::Ipv6))),
        _ => {}
    }
    parse_prefix(s).map(Dest::Prefix)
}

fn parse_prefix(s: &str) -> Option<Prefix> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let address: IpAddr = a.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let len = match l {
        None => max,
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
            l.parse::<u8>().ok().filter(|n| *n <= max)?
        }
        Some(_) => return None,
    };
    Some(Prefix { address, len })
}

impl Interp<'_> {
    /// A route's or rule's option `option value` that vrrpd does not carry out: warned, the
    /// entry added without it.
    fn added_without(&mut self, option: &Token, value: &Token, what: &str) {
        self.warn(
            option,
            Category::Unsupported,
            format!(
                "{what} option '{} {}' is not supported by vrrpd; the {what} is added without it",
                option.text, value.text
            ),
        );
    }

    /// The word after `words[i]`, or an error naming what was expected.
    fn value_after(&mut self, words: &[Token], i: usize, what: &str) -> Option<Token> {
        match words.get(i + 1) {
            Some(t) => Some(t.clone()),
            None => {
                let l = self.loc_after(words);
                self.sink.error(
                    Some(l),
                    format!(
                        "expected {what} after '{}', found the end of the line",
                        words[i].text
                    ),
                );
                None
            }
        }
    }

    /// Sets a route's or rule's family, or reports the mix (keepalived drops the item).
    fn family_is(&mut self, family: &mut Option<Family>, f: Family, t: &Token, msg: &str) -> bool {
        match family {
            None => {
                *family = Some(f);
                true
            }
            Some(x) if *x == f => true,
            Some(_) => {
                self.err(t, format!("{msg} ('{}')", t.text));
                false
            }
        }
    }

    /// An `inet`/`inet6` word of a route or rule (`what`): the family it names, which must
    /// agree with the family seen so far, with keepalived's message.
    fn family_word(&mut self, family: &mut Option<Family>, t: &Token, what: &str) -> bool {
        let f = if t.text == "inet" {
            Family::Ipv4
        } else {
            Family::Ipv6
        };
        let msg = format!(
            "{} specified for {} {what}",
            t.text,
            if f == Family::Ipv4 { "IPv6" } else { "IPv4" }
        );
        self.family_is(family, f, t, &msg)
    }

    /// One line of `virtual_routes` or `static_routes`.
    pub(super) fn route(&mut self, node: &Node) -> Option<Route> {
        const MIX: &str = "Cannot mix IPv4 and IPv6 addresses for route";
        let w = &node.words;
        let mut family: Option<Family> = None;
        let mut dst: Option<Dest> = None;
        let mut dst_tok: Option<Token> = None;
        let mut kind = RouteType::Unicast;
        let mut src = None;
        let mut via = None;
        let mut from = None;
        let mut dev = None;
        let mut scope = None;
        let mut table = RT_TABLE_MAIN;
        let mut metric = None;
        let mut protocol: Option<(u8, Token)> = None;
        let mut onlink = false;
        let mut no_track = false;
        let mut i = 0;
        while i < w.len() {
            let t = w[i].clone();
            match t.text.as_str() {
                "inet" | "inet6" => {
                    if !self.family_word(&mut family, &t, "route") {
                        return None;
                    }
                }
                "src" => {
                    let v = self.value_after(w, i, "an address")?;
                    i += 1;
                    let Ok(a) = v.text.parse::<IpAddr>() else {
                        self.err(&v, format!("invalid route src address {}", v.text));
                        return None;
                    };
                    if !self.family_is(&mut family, Family::of(&a), &v, MIX) {
                        return None;
                    }
                    src = Some(a);
                }
                "via" | "gw" => {
                    if t.text == "gw" {
                        self.warn(
                            &t,
                            Category::Fixup,
                            "\"gw\" for routes is deprecated. Please use \"via\"".into(),
                        );
                    }
                    let mut v = self.value_after(w, i, "a gateway address")?;
                    i += 1;
                    if v.text == "inet" || v.text == "inet6" {
                        let f = if v.text == "inet" {
                            Family::Ipv4
                        } else {
                            Family::Ipv6
                        };
                        if !self.family_is(&mut family, f, &v, MIX) {
                            return None;
                        }
                        v = self.value_after(w, i, "a gateway address")?;
                        i += 1;
                    }
                    let Ok(a) = v.text.parse::<IpAddr>() else {
                        self.err(&v, format!("invalid route via address {}", v.text));
                        return None;
                    };
                    if !self.family_is(&mut family, Family::of(&a), &v, MIX) {
                        return None;
                    }
                    via = Some(a);
                }
                "from" => {
                    let v = self.value_after(w, i, "a source prefix")?;
                    i += 1;
                    let Some(p) = parse_prefix(&v.text) else {
                        self.err(&v, format!("invalid route from address {}", v.text));
                        return None;
                    };
                    if p.family() != Family::Ipv6 {
                        self.err(
                            &v,
                            format!("route from address only supported with IPv6 ({})", v.text),
                        );
                        return None;
                    }
                    if !self.family_is(&mut family, Family::Ipv6, &v, MIX) {
                        return None;
                    }
                    from = Some(p);
                }
                "table" => {
                    let v = self.value_after(w, i, "a routing table")?;
                    i += 1;
                    match table_id(&v.text) {
                        Some(n) => table = n,
                        None => {
                            self.err(&v, format!("Routing table {} not found for route", v.text));
                            return None;
                        }
                    }
                }
                "protocol" => {
                    let v = self.value_after(w, i, "a protocol")?;
                    i += 1;
                    match protocol_id(&v.text) {
                        Some(n) => protocol = Some((n, v)),
                        None => {
                            self.err(
                                &v,
                                format!("Protocol {} not found or invalid for route", v.text),
                            );
                            return None;
                        }
                    }
                }
                "proto" => {
                    // iproute2's abbreviation; keepalived does not know it ("unknown route
                    // keyword") and drops the route.
                    self.err(
                        &t,
                        "unknown route keyword proto (keepalived spells it 'protocol')".into(),
                    );
                    return None;
                }
                "scope" => {
                    let v = self.value_after(w, i, "a scope")?;
                    i += 1;
                    match scope_of(&v.text) {
                        Some(s) => scope = Some(s),
                        None => {
                            self.err(
                                &v,
                                format!("Scope {} not found or invalid for route", v.text),
                            );
                            return None;
                        }
                    }
                }
                "metric" | "priority" | "preference" => {
                    let v = self.value_after(w, i, "a metric")?;
                    i += 1;
                    match parse_u32(&v.text) {
                        Some(n) => metric = Some(n),
                        None => {
                            self.err(&v, format!("Invalid metric {} specified for route", v.text));
                            return None;
                        }
                    }
                }
                "dev" | "oif" => {
                    let v = self.value_after(w, i, "an interface")?;
                    i += 1;
                    dev = Some(v.text);
                }
                "onlink" => onlink = true,
                "no_track" => no_track = true,
                "add" | "prepend" | "append" => self.warn(
                    &t,
                    Category::Unsupported,
                    format!(
                        "route option '{}' is not supported by vrrpd; the route is added, \
                         replacing one with the same destination, table and metric",
                        t.text
                    ),
                ),
                "nexthop" | "or" | "encap" | "as" | "vrf" => {
                    self.err(
                        &t,
                        format!("route option '{}' is not supported by vrrpd", t.text),
                    );
                    return None;
                }
                m if ROUTE_METRICS.contains(&m) => {
                    let mut v = self.value_after(w, i, "a value")?;
                    i += 1;
                    if v.text == "lock" {
                        v = self.value_after(w, i, "a value")?;
                        i += 1;
                    }
                    self.added_without(&t, &v, "route");
                }
                _ => {
                    let mut d = t.clone();
                    if d.text == "to" {
                        d = self.value_after(w, i, "a destination")?;
                        i += 1;
                    }
                    if let Some(k) = RouteType::from_name(&d.text) {
                        kind = k;
                        d = self.value_after(w, i, "a destination")?;
                        i += 1;
                    } else if matches!(d.text.as_str(), "nat" | "xresolve") {
                        self.err(&d, format!("route type {} is not supported", d.text));
                        return None;
                    }
                    let Some(dest) = parse_dest(&d.text) else {
                        self.err(&d, format!("unknown route keyword {}", d.text));
                        return None;
                    };
                    match &dest {
                        Dest::Prefix(p) => {
                            let msg = format!("{MIX} ({})", d.text);
                            if !self.family_is(&mut family, p.family(), &d, &msg) {
                                return None;
                            }
                        }
                        Dest::Default(Some(f)) => {
                            self.warn(
                                &d,
                                Category::Fixup,
                                "'default6' is deprecated - please replace with 'inet6 default'"
                                    .into(),
                            );
                            if !self.family_is(&mut family, *f, &d, MIX) {
                                return None;
                            }
                        }
                        Dest::Default(None) => {}
                    }
                    dst = Some(dest);
                    dst_tok = Some(d);
                }
            }
            i += 1;
        }
        let (Some(dst), Some(dst_tok)) = (dst, dst_tok) else {
            self.err(&w[0], "Route must have a destination".into());
            return None;
        };
        let family = family.unwrap_or(Family::Ipv4);
        let dst = match dst {
            Dest::Prefix(p) => p,
            Dest::Default(_) => Prefix::default_of(family),
        };
        if !no_track {
            if let Some((p, t)) = &protocol
                && *p != RTPROT_KEEPALIVED
            {
                self.warn(
                    t,
                    Category::Fixup,
                    format!(
                        "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED({}), \
                         resetting protocol",
                        RTPROT_KEEPALIVED
                    ),
                );
            }
            protocol = None;
            if dev.is_none() {
                self.warn(
                    &dst_tok,
                    Category::Fixup,
                    format!(
                        "Warning - cannot track route {} with no interface specified, not \
                         tracking",
                        dst_tok.text
                    ),
                );
                no_track = true;
            }
        }
        Some(Route {
            dst,
            kind,
            src,
            via,
            from,
            dev,
            scope,
            table,
            metric,
            protocol: protocol.map_or(RTPROT_KEEPALIVED, |(p, _)| p),
            onlink,
            no_track,
        })
    }

    /// One line of `virtual_rules` or `static_rules`.
    pub(super) fn rule(&mut self, node: &Node) -> Option<Rule> {
        const MIX: &str = "rule specification has mixed IPv4 and IPv6";
        let w = &node.words;
        let mut family: Option<Family> = None;
        let mut from = None;
        let mut to = None;
        let mut not = false;
        let mut action: Option<RuleAction> = None;
        let mut priority = None;
        let mut fwmark = None;
        let mut fwmask = None;
        let mut iif = None;
        let mut oif = None;
        let mut protocol: Option<(u8, Token)> = None;
        let mut no_track = false;
        let mut i = 0;
        while i < w.len() {
            let t = w[i].clone();
            match t.text.as_str() {
                "inet" | "inet6" => {
                    if !self.family_word(&mut family, &t, "rule") {
                        return None;
                    }
                }
                "from" | "to" => {
                    let v = self.value_after(w, i, "an address prefix")?;
                    i += 1;
                    let p = match parse_dest(&v.text) {
                        Some(Dest::Prefix(p)) => {
                            if !self.family_is(&mut family, p.family(), &v, MIX) {
                                return None;
                            }
                            Some(p)
                        }
                        // `all`: any address of the rule's family, as if not given.
                        Some(Dest::Default(None)) => None,
                        _ => {
                            self.err(&v, format!("Invalid rule {} address {}", t.text, v.text));
                            return None;
                        }
                    };
                    if t.text == "from" {
                        from = p;
                    } else {
                        to = p;
                    }
                }
                "table" | "lookup" => {
                    let v = self.value_after(w, i, "a routing table")?;
                    i += 1;
                    let Some(n) = table_id(&v.text) else {
                        self.err(&v, format!("Routing table {} not found for rule", v.text));
                        return None;
                    };
                    if n == 0 {
                        self.err(&v, "Table 0 is not valid".into());
                        return None;
                    }
                    if !self.one_action(&mut action, RuleAction::Table(n), &t) {
                        return None;
                    }
                }
                "not" => not = true,
                "preference" | "order" | "priority" => {
                    let v = self.value_after(w, i, "a preference")?;
                    i += 1;
                    match parse_u32(&v.text) {
                        Some(n) => priority = Some(n),
                        None => {
                            self.err(&v, format!("Invalid rule preference {}", v.text));
                            return None;
                        }
                    }
                }
                "pref" | "prio" => {
                    // iproute2's abbreviations; keepalived 2.2.7 does not know them ("Unknown
                    // rule option") and drops the rule.
                    self.err(
                        &t,
                        format!(
                            "Unknown rule option {} (keepalived spells it 'preference' or \
                             'priority')",
                            t.text
                        ),
                    );
                    return None;
                }
                "fwmark" => {
                    let v = self.value_after(w, i, "a firewall mark")?;
                    i += 1;
                    let (m, k) = match v.text.split_once('/') {
                        Some((m, k)) => (m, Some(k)),
                        None => (v.text.as_str(), None),
                    };
                    let m = parse_u32(m);
                    let k = k.map(parse_u32);
                    match (m, k) {
                        (Some(m), None) => fwmark = Some(m),
                        (Some(m), Some(Some(k))) => {
                            fwmark = Some(m);
                            fwmask = Some(k);
                        }
                        _ => {
                            self.err(&v, format!("Invalid rule fwmark {} specified", v.text));
                            return None;
                        }
                    }
                }
                "dev" | "iif" => {
                    let v = self.value_after(w, i, "an interface")?;
                    i += 1;
                    iif = Some(v.text);
                }
                "oif" => {
                    let v = self.value_after(w, i, "an interface")?;
                    i += 1;
                    oif = Some(v.text);
                }
                "protocol" => {
                    let v = self.value_after(w, i, "a protocol")?;
                    i += 1;
                    match parse_u32(&v.text).and_then(|n| u8::try_from(n).ok()) {
                        Some(n) => protocol = Some((n, v)),
                        None => {
                            self.warn(&v, Category::Fixup, format!("Invalid protocol {}", v.text));
                        }
                    }
                }
                "no_track" => no_track = true,
                "l3mdev" => {
                    self.err(&t, "rule option 'l3mdev' is not supported by vrrpd".into());
                    return None;
                }
                o if RULE_OPTIONS.contains(&o) => {
                    let v = self.value_after(w, i, "a value")?;
                    i += 1;
                    self.added_without(&t, &v, "rule");
                }
                _ => {
                    let mut a = t.clone();
                    if a.text == "type" {
                        a = self.value_after(w, i, "a rule type")?;
                        i += 1;
                    }
                    let act = match a.text.as_str() {
                        "goto" => {
                            let v = self.value_after(w, i, "a goto target")?;
                            i += 1;
                            match parse_u32(&v.text) {
                                Some(n) => RuleAction::Goto(n),
                                None => {
                                    self.err(&v, format!("Invalid target {} specified", v.text));
                                    return None;
                                }
                            }
                        }
                        "nop" => RuleAction::Nop,
                        "blackhole" => RuleAction::Blackhole,
                        "unreachable" => RuleAction::Unreachable,
                        "prohibit" => RuleAction::Prohibit,
                        s if RouteType::from_name(s).is_some() => {
                            self.err(&a, format!("Invalid rule action {s}"));
                            return None;
                        }
                        s => {
                            self.err(&a, format!("Unknown rule option {s}"));
                            return None;
                        }
                    };
                    if !self.one_action(&mut action, act, &a) {
                        return None;
                    }
                }
            }
            i += 1;
        }
        let Some(action) = action else {
            self.err(&w[0], "No action specified for rule - ignoring".into());
            return None;
        };
        if let RuleAction::Goto(target) = action {
            match priority {
                Some(p) if p >= target => {
                    self.err(
                        &w[0],
                        format!("Invalid rule - preference {p} >= goto target {target}"),
                    );
                    return None;
                }
                None => {
                    self.err(
                        &w[0],
                        format!("Invalid rule - goto target {target} specified without preference"),
                    );
                    return None;
                }
                _ => {}
            }
        }
        if !no_track {
            if let Some((p, t)) = &protocol
                && *p != RTPROT_KEEPALIVED
            {
                self.warn(
                    t,
                    Category::Fixup,
                    format!(
                        "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED({}), \
                         resetting protocol",
                        RTPROT_KEEPALIVED
                    ),
                );
            }
            protocol = None;
        }
        let family = family.unwrap_or(Family::Ipv4);
        let priority = match priority {
            Some(p) => p,
            None => {
                let next = match family {
                    Family::Ipv4 => &mut self.rule_priority[0],
                    Family::Ipv6 => &mut self.rule_priority[1],
                };
                let p = *next;
                *next = next.saturating_sub(1);
                self.warn(
                    &w[0],
                    Category::Fixup,
                    format!(
                        "Rule has no preference specified - setting to {p}. This is probably \
                         not what you want."
                    ),
                );
                p
            }
        };
        Some(Rule {
            family,
            from,
            to,
            not,
            action,
            priority,
            fwmark,
            fwmask,
            iif,
            oif,
            protocol: protocol.map_or(RTPROT_KEEPALIVED, |(p, _)| p),
            no_track,
        })
    }

    fn one_action(&mut self, action: &mut Option<RuleAction>, new: RuleAction, t: &Token) -> bool {
        if action.is_some() {
            self.err(
                t,
                "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable \
                 for rule"
                    .into(),
            );
            return false;
        }
        *action = Some(new);
        true
    }

    /// A `virtual_routes` or `static_routes` block.
    pub(super) fn route_block(&mut self, kw: &Token, nodes: &[Node]) -> Vec<Route> {
        let routes: Vec<Route> = nodes.iter().filter_map(|n| self.route(n)).collect();
        self.untracked(kw, routes.iter().any(|r| !r.no_track));
        routes
    }

    /// A `virtual_rules` or `static_rules` block.
    pub(super) fn rule_block(&mut self, kw: &Token, nodes: &[Node]) -> Vec<Rule> {
        let rules: Vec<Rule> = nodes.iter().filter_map(|n| self.rule(n)).collect();
        self.untracked(kw, rules.iter().any(|r| !r.no_track));
        rules
    }

    /// keepalived watches the routes and rules it tracks (all but `no_track` ones, and routes
    /// without `dev`): one deleted by someone else makes the instance BACKUP, or is added
    /// again if static. vrrpd adds and removes them but does not watch them.
    fn untracked(&mut self, kw: &Token, tracked: bool) {
        if tracked {
            self.warn(
                kw,
                Category::NoEffect,
                format!(
                    "'{}': tracking accepted, no effect: {}",
                    kw.text,
                    super::validate::no_effect_why("route and rule tracking")
                ),
            );
        }
    }

    /// A `static_ipaddress` block: VIP lines, each with its `dev`.
    pub(super) fn static_addresses(&mut self, nodes: &[Node]) {
        for n in nodes {
            let raw = self.vip(n);
            let Some(vip) = raw.vip else { continue };
            if !raw.dev_given {
                self.err(
                    &n.words[0],
                    format!(
                        "static address {} needs 'dev IF' (keepalived would use its \
                         default_interface, eth0 unless set)",
                        n.words[0].text
                    ),
                );
                continue;
            }
            self.config.static_addresses.push(vip);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::super::parse_str;
    use crate::config::{
        Category, ConfigError, Loaded, Prefix, RouteType, RuleAction, Scope,
        model::{Family, RTPROT_KEEPALIVED},
    };

    fn instance(body: &str) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n \
             virtual_ipaddress {{\n 192.0.2.10/24\n }}\n{body}}}\n"
        )
    }

    fn ok(text: &str) -> Loaded {
        parse_str("r.conf", text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The errors, as `line: message`.
    fn errors(text: &str) -> Vec<String> {
        match parse_str("r.conf", text) {
            Ok(l) => panic!("accepted: {:?}", l.config),
            Err(ConfigError::Invalid { errors, .. }) => errors
                .iter()
                .map(|d| format!("{}: {}", d.line().unwrap_or(0), d.message))
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn warned(l: &Loaded, needle: &str) -> Option<u32> {
        l.warnings
            .iter()
            .find(|w| w.message.contains(needle))
            .and_then(|w| w.line())
    }

    fn p(s: &str) -> Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Prefix {
            address: a.parse().unwrap(),
            len: l.parse().unwrap(),
        }
    }

    #[test]
    fn every_route_option() {
        let l = ok(&instance(
            " virtual_routes {\n\
             \x20 default via 192.0.2.1 dev eth0 table 100\n\
             \x20 src 192.0.2.10 to 198.51.100.0/24 via 192.0.2.1 dev eth0 scope global \
             metric 10 onlink\n\
             \x20 blackhole 198.51.100.128/25 table 200\n\
             \x20 unreachable 198.51.100.64/26 no_track protocol static\n\
             \x20 prohibit 198.51.100.32/27 dev eth0\n\
             \x20 throw 198.51.100.16/28 table main\n\
             \x20 198.51.100.8/29 gw 192.0.2.1 dev eth0 preference 7\n\
             \x20 198.51.100.4/30 dev eth0 scope link priority 3\n\
             \x20 inet6 default via 2001:db8::1 dev eth0 table 0x65\n\
             \x20 2001:db8:1::/48 from 2001:db8:2::/48 dev eth0 src 2001:db8::10\n\
             }\n",
        ));
        let r = &l.config.instances[0].routes;
        assert_eq!(r.len(), 10, "{r:?}");
        assert_eq!(r[0].dst, p("0.0.0.0/0"));
        assert_eq!(r[0].via, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(r[0].dev.as_deref(), Some("eth0"));
        assert_eq!(r[0].table, 100);
        assert_eq!(r[0].protocol, RTPROT_KEEPALIVED);
        assert!(!r[0].no_track);
        assert_eq!(r[1].dst, p("198.51.100.0/24"));
        assert_eq!(r[1].src, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(r[1].scope, Some(Scope::Global));
        assert_eq!(r[1].metric, Some(10));
        assert!(r[1].onlink);
        assert_eq!(r[1].table, 254);
        assert_eq!((r[2].kind, r[2].table), (RouteType::Blackhole, 200));
        assert_eq!(r[3].kind, RouteType::Unreachable);
        assert!(r[3].no_track);
        assert_eq!(r[3].protocol, 4, "no_track keeps the given protocol");
        assert_eq!(r[4].kind, RouteType::Prohibit);
        assert_eq!((r[5].kind, r[5].table), (RouteType::Throw, 254));
        assert_eq!(r[6].metric, Some(7));
        assert_eq!(r[6].via, Some("192.0.2.1".parse().unwrap()));
        assert_eq!((r[7].scope, r[7].metric), (Some(Scope::Link), Some(3)));
        assert_eq!(r[8].dst, p("::/0"));
        assert_eq!(r[8].family(), Family::Ipv6);
        assert_eq!(r[8].table, 101);
        assert_eq!(r[9].from, Some(p("2001:db8:2::/48")));
        assert_eq!(r[9].src, Some("2001:db8::10".parse::<IpAddr>().unwrap()));
        // keepalived's warnings, at their lines.
        assert_eq!(warned(&l, "\"gw\" for routes is deprecated"), Some(14));
        assert_eq!(
            warned(&l, "cannot track route 198.51.100.128/25 with no interface"),
            Some(10)
        );
        assert_eq!(warned(&l, "tracking accepted, no effect"), Some(7));
        let untracked = &r[2];
        assert!(untracked.no_track, "a route without dev is not tracked");
    }

    #[test]
    fn every_rule_option() {
        let l = ok(&instance(
            " virtual_rules {\n\
             \x20 from 192.0.2.10 table 100 priority 100\n\
             \x20 to 198.51.100.0/24 lookup 200 preference 101 fwmark 0x10/0xff\n\
             \x20 from 192.0.2.0/24 iif eth0 oif eth1 table main order 102\n\
             \x20 not from all fwmark 5 blackhole priority 103\n\
             \x20 from 192.0.2.11 unreachable priority 104 no_track protocol 4\n\
             \x20 from 192.0.2.12 prohibit priority 105\n\
             \x20 from 192.0.2.13 goto 110 priority 106\n\
             \x20 from 192.0.2.14 type nop priority 107\n\
             \x20 from 2001:db8::10 table 100 priority 100\n\
             \x20 inet6 to 2001:db8:1::/48 table 100\n\
             \x20 dev eth0 table 100 priority 108\n\
             }\n",
        ));
        let r = &l.config.instances[0].rules;
        assert_eq!(r.len(), 11, "{r:?}");
        assert_eq!(r[0].from, Some(p("192.0.2.10/32")));
        assert_eq!((r[0].action, r[0].priority), (RuleAction::Table(100), 100));
        assert_eq!(r[0].protocol, RTPROT_KEEPALIVED);
        assert_eq!(r[1].to, Some(p("198.51.100.0/24")));
        assert_eq!((r[1].fwmark, r[1].fwmask), (Some(16), Some(255)));
        assert_eq!((r[1].action, r[1].priority), (RuleAction::Table(200), 101));
        assert_eq!(r[2].iif.as_deref(), Some("eth0"));
        assert_eq!(r[2].oif.as_deref(), Some("eth1"));
        assert_eq!((r[2].action, r[2].priority), (RuleAction::Table(254), 102));
        assert!(r[3].not);
        assert_eq!(r[3].from, None);
        assert_eq!(r[3].action, RuleAction::Blackhole);
        assert_eq!((r[4].action, r[4].protocol), (RuleAction::Unreachable, 4));
        assert_eq!(r[5].action, RuleAction::Prohibit);
        assert_eq!(r[6].action, RuleAction::Goto(110));
        assert_eq!(r[7].action, RuleAction::Nop);
        assert_eq!(r[8].family, Family::Ipv6);
        assert_eq!(r[9].family, Family::Ipv6);
        // No preference: keepalived's numbering from 16384 down, per family, with its warning.
        assert_eq!(r[9].priority, 16384);
        assert_eq!(r[10].iif.as_deref(), Some("eth0"));
        assert_eq!(
            warned(&l, "Rule has no preference specified - setting to 16384"),
            Some(17)
        );
    }

    #[test]
    fn rule_numbering_is_per_family_across_blocks() {
        let l = ok(&format!(
            "static_rules {{\n from 192.0.2.1 table 10\n from 2001:db8::1 table 10\n}}\n{}",
            instance(" virtual_rules {\n from 192.0.2.2 table 10\n }\n")
        ));
        assert_eq!(l.config.static_rules[0].priority, 16384);
        assert_eq!(l.config.static_rules[1].priority, 16384);
        assert_eq!(l.config.instances[0].rules[0].priority, 16383);
    }

    #[test]
    fn statics_at_the_top_level() {
        let l = ok(&format!(
            "static_ipaddress {{\n 192.0.2.5/24 dev eth1\n 2001:db8::5/64 dev eth1\n}}\n\
             static_routes {{\n 198.51.100.0/24 via 192.0.2.1 dev eth1\n}}\n\
             static_rules {{\n from 192.0.2.5 table 10 priority 10\n}}\n{}",
            instance("")
        ));
        let c = &l.config;
        assert_eq!(c.static_addresses.len(), 2);
        assert_eq!(c.static_addresses[0].dev, "eth1");
        assert_eq!(c.static_addresses[1].prefix_len, 64);
        assert_eq!(c.static_routes[0].dst, p("198.51.100.0/24"));
        assert_eq!(c.static_rules[0].priority, 10);
        assert!(
            !l.warnings
                .iter()
                .any(|w| w.category == Category::Unsupported),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn route_errors_name_their_line() {
        for (line, expected) in [
            (
                " 198.51.100.0/24 via 2001:db8::1\n",
                "Cannot mix IPv4 and IPv6",
            ),
            (" via 192.0.2.1 dev eth0\n", "Route must have a destination"),
            (" 198.51.100.0/24 bogus\n", "unknown route keyword bogus"),
            (
                " 198.51.100.0/24 table nosuch\n",
                "Routing table nosuch not found",
            ),
            (" 198.51.100.0/24 scope far\n", "Scope far not found"),
            (" 198.51.100.0/24 metric x\n", "Invalid metric x"),
            (
                " 198.51.100.0/24 proto static\n",
                "unknown route keyword proto",
            ),
            (
                " 198.51.100.0/24 protocol nosuch\n",
                "Protocol nosuch not found",
            ),
            (
                " 198.51.100.0/33\n",
                "unknown route keyword 198.51.100.0/33",
            ),
            (
                " 198.51.100.0/24 from 192.0.2.0/24\n",
                "only supported with IPv6",
            ),
            (
                " 198.51.100.0/24 from 2001:db8::/32\n",
                "Cannot mix IPv4 and IPv6",
            ),
            (" inet 2001:db8::/32\n", "Cannot mix IPv4 and IPv6"),
            (
                " 198.51.100.0/24 nexthop via 192.0.2.1\n",
                "'nexthop' is not supported",
            ),
            (
                " 198.51.100.0/24 via\n",
                "expected a gateway address after 'via'",
            ),
        ] {
            let text = instance(&format!(" virtual_routes {{\n{line} }}\n"));
            let e = errors(&text);
            assert!(
                e.iter()
                    .any(|m| m.starts_with("8: ") && m.contains(expected)),
                "{line:?}: {e:?}"
            );
        }
    }

    #[test]
    fn rule_errors_name_their_line() {
        for (line, expected) in [
            (
                " from 192.0.2.1 priority 5\n",
                "No action specified for rule",
            ),
            (" from 192.0.2.1 table 0\n", "Table 0 is not valid"),
            (
                " from 192.0.2.1 table 10 blackhole\n",
                "Cannot specify more than one",
            ),
            (
                " from 192.0.2.1 to 2001:db8::/32 table 10\n",
                "mixed IPv4 and IPv6",
            ),
            (
                " from 192.0.2.1 goto 5 priority 9\n",
                "preference 9 >= goto target 5",
            ),
            (" from 192.0.2.1 goto 5\n", "without preference"),
            (
                " from 192.0.2.1 table 10 pref 5\n",
                "Unknown rule option pref",
            ),
            (
                " from 192.0.2.1 table 10 fwmark -1\n",
                "Invalid rule fwmark -1",
            ),
            (" from 192.0.2.1 throw\n", "Invalid rule action throw"),
            (
                " from nowhere table 10\n",
                "Invalid rule from address nowhere",
            ),
        ] {
            let text = instance(&format!(" virtual_rules {{\n{line} }}\n"));
            let e = errors(&text);
            assert!(
                e.iter()
                    .any(|m| m.starts_with("8: ") && m.contains(expected)),
                "{line:?}: {e:?}"
            );
        }
    }

    #[test]
    fn keepalived_fixups_are_warned() {
        let l = ok(&instance(
            " virtual_routes {\n 198.51.100.0/24 dev eth0 protocol static\n \
             198.51.100.0/25 dev eth0 mtu lock 1400\n }\n \
             virtual_rules {\n from 192.0.2.1 table 10 priority 5 protocol 4\n }\n",
        ));
        let i = &l.config.instances[0];
        assert_eq!(i.routes[0].protocol, RTPROT_KEEPALIVED);
        assert_eq!(
            warned(
                &l,
                "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18)"
            ),
            Some(8)
        );
        assert_eq!(i.rules[0].protocol, RTPROT_KEEPALIVED);
        assert_eq!(warned(&l, "Rule cannot be tracked"), Some(12));
        let mtu = l
            .warnings
            .iter()
            .find(|w| w.message.contains("'mtu 1400' is not supported"))
            .expect("mtu reported");
        assert_eq!((mtu.line(), mtu.category), (Some(9), Category::Unsupported));
        assert!(
            l.clone().strict().is_err(),
            "--strict refuses what vrrpd does not set"
        );
    }

    #[test]
    fn a_static_address_needs_its_dev() {
        let e = errors(&format!(
            "static_ipaddress {{\n 192.0.2.5/24\n}}\n{}",
            instance("")
        ));
        assert!(
            e.iter()
                .any(|m| m.starts_with("2: ") && m.contains("needs 'dev IF'")),
            "{e:?}"
        );
    }

    #[test]
    fn routes_survive_toml() {
        let l = ok(&format!(
            "static_routes {{\n 198.51.100.0/24 via 192.0.2.1 dev eth1\n}}\n{}",
            instance(
                " virtual_routes {\n default via 192.0.2.1 dev eth0 table 100\n \
                 blackhole 198.51.100.0/24\n }\n \
                 virtual_rules {\n from 192.0.2.10 table 100 priority 100\n not to 2001:db8::/32 \
                 goto 200 priority 150\n }\n"
            )
        ));
        let text = toml::to_string(&l.config).unwrap();
        let back: crate::config::Config =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, l.config);
        // Read as a TOML file, it says the same about tracking.
        let t = crate::config::toml::parse_str("r.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.config, l.config);
        let said: Vec<&str> = (t.warnings.iter())
            .filter(|w| w.category == Category::NoEffect)
            .map(|w| w.message.as_str())
            .collect();
        assert!(
            said.iter().any(|m| m.starts_with("'route/rule (tracked)'"))
                && said
                    .iter()
                    .any(|m| m.starts_with("'static_route/static_rule (tracked)'")),
            "{said:?}"
        );
    }
}
