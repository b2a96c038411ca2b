//! Several state machines on a simulated LAN with a virtual clock: elections, preemption,
//! loss, crashes and restarts, and the invariant "exactly one master once converged", checked
//! over randomized runs.
use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    net::{IpAddr, Ipv4Addr},
};

use proptest::prelude::*;
use vrrp_userspace::{
    fsm::{Action, Advert, Input, Nanos, Params, Router, State, Version},
    units::{Centis, Priority},
};

const MS: Nanos = 1_000_000;

#[derive(Clone, Debug)]
struct Node {
    priority: u8,
    start_as_master: bool,
    start_at_ms: u64,
    /// (when, how): the node dies (true: silently, as kill -9 or link down; false: SIGTERM).
    crash: Option<(u64, bool)>,
    /// When it comes back after a crash.
    restart_after_ms: Option<u64>,
}

struct Lan {
    routers: Vec<Router>,
    alive: Vec<bool>,
    /// Adverts in flight: (arrival, seq, to, advert).
    wire: BinaryHeap<Reverse<(Nanos, u64, usize, AdvertKey)>>,
    seq: u64,
    latency: Nanos,
    /// Drop one advert in `loss_every` (0: none).
    loss_every: u64,
    sent: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct AdvertKey {
    from: usize,
    priority: Priority,
}

fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4 + i as u8))
}

impl Lan {
    fn new(nodes: &[Node], preempt: bool, interval_cs: u32, loss_every: u64) -> Self {
        let routers = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Router::new(Params {
                    version: Version::V3,
                    priority: Priority(n.priority),
                    advert_interval: Centis(interval_cs),
                    preempt,
                    preempt_delay: Centis(0),
                    start_as_master: n.start_as_master,
                    primary: addr(i),
                    lower_prio_no_advert: false,
                })
            })
            .collect();
        Lan {
            routers,
            alive: vec![false; nodes.len()],
            wire: BinaryHeap::new(),
            seq: 0,
            latency: MS,
            loss_every,
            sent: 0,
        }
    }

    fn apply(&mut self, now: Nanos, i: usize, actions: Vec<Action>) {
        for a in actions {
            if let Action::SendAdvert { priority } = a {
                for to in 0..self.routers.len() {
                    if to == i {
                        continue;
                    }
                    self.sent += 1;
                    if self.loss_every > 0 && self.sent.is_multiple_of(self.loss_every) {
                        continue;
                    }
                    self.seq += 1;
                    self.wire.push(Reverse((
                        now + self.latency,
                        self.seq,
                        to,
                        AdvertKey { from: i, priority },
                    )));
                }
            }
        }
    }

    fn input(&mut self, now: Nanos, i: usize, input: Input) {
        let actions = self.routers[i].handle(now, input);
        self.apply(now, i, actions);
    }

    /// Runs until `until`, with scheduled starts, crashes and restarts.
    fn run(&mut self, nodes: &[Node], until: Nanos) {
        let mut schedule: Vec<(Nanos, usize, u8)> = Vec::new(); // 0 start, 1 crash, 2 silent crash
        for (i, n) in nodes.iter().enumerate() {
            schedule.push((n.start_at_ms * MS, i, 0));
            if let Some((at, silent)) = n.crash {
                let at = (n.start_at_ms + at) * MS;
                schedule.push((at, i, if silent { 2 } else { 1 }));
                if let Some(back) = n.restart_after_ms {
                    schedule.push((at + back * MS, i, 0));
                }
            }
        }
        schedule.sort();
        let mut next_event = 0;
        let mut now = 0;
        while now <= until {
            // The earliest of: a scheduled event, a delivery, a router deadline.
            let sched = schedule.get(next_event).map(|e| e.0);
            let wire = self.wire.peek().map(|Reverse(w)| w.0);
            let deadline = (0..self.routers.len())
                .filter(|&i| self.alive[i])
                .filter_map(|i| self.routers[i].next_deadline())
                .min();
            let Some(t) = [sched, wire, deadline].into_iter().flatten().min() else {
                break;
            };
            if t > until {
                break;
            }
            now = t;
            if sched == Some(t) {
                let (_, i, what) = schedule[next_event];
                next_event += 1;
                match what {
                    0 => {
                        self.alive[i] = true;
                        self.input(now, i, Input::Startup);
                    }
                    1 => {
                        self.input(now, i, Input::Shutdown);
                        self.alive[i] = false;
                    }
                    _ => {
                        // Silent death: the router is gone; it sends nothing more.
                        self.alive[i] = false;
                        self.routers[i].handle(now, Input::Shutdown);
                    }
                }
            } else if wire == Some(t) {
                let Reverse((_, _, to, key)) = self.wire.pop().unwrap();
                if self.alive[to] {
                    let advert = Advert {
                        src: addr(key.from),
                        priority: key.priority,
                        interval: self.routers[key.from].params().advert_interval,
                        received_at: now,
                    };
                    self.input(now, to, Input::Advert(advert));
                }
            } else {
                for i in 0..self.routers.len() {
                    if self.alive[i] && self.routers[i].next_deadline() == Some(t) {
                        self.input(now, i, Input::Timer);
                    }
                }
            }
        }
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.alive[i] && self.routers[i].state() == State::Master)
            .collect()
    }
}

fn node(priority: u8) -> Node {
    Node {
        priority,
        start_as_master: false,
        start_at_ms: 0,
        crash: None,
        restart_after_ms: None,
    }
}

#[test]
fn seed_tutorial_preemptive_pair_elects_lb01_fails_over_and_preempts_back() {
    // lb01: state MASTER priority 100; lb02: state BACKUP priority 90; advert_int 1.
    let nodes = [
        Node {
            start_as_master: true,
            crash: Some((5_000, true)),
            restart_after_ms: Some(5_000),
            ..node(100)
        },
        node(90),
    ];
    let mut lan = Lan::new(&nodes, true, 100, 0);
    lan.run(&nodes, 4_000 * MS);
    assert_eq!(lan.masters(), vec![0], "lb01 master at first");
    lan.run(&nodes, 9_000 * MS);
    assert_eq!(lan.masters(), vec![1], "lb02 took over after lb01 died");
    lan.run(&nodes, 20_000 * MS);
    assert_eq!(lan.masters(), vec![0], "lb01 came back and preempted");
}

#[test]
fn seed_tutorial_nopreempt_pair_stays_on_lb02_after_lb01_returns() {
    // Both state BACKUP with nopreempt; lb01 priority 100, lb02 90.
    let nodes = [
        Node {
            crash: Some((8_000, false)),
            restart_after_ms: Some(2_000),
            ..node(100)
        },
        node(90),
    ];
    let mut lan = Lan::new(&nodes, false, 100, 0);
    lan.run(&nodes, 7_000 * MS);
    assert_eq!(
        lan.masters(),
        vec![0],
        "the higher priority wins the first election"
    );
    lan.run(&nodes, 9_000 * MS);
    assert_eq!(
        lan.masters(),
        vec![1],
        "lb02 takes over within Skew_Time of the priority 0"
    );
    lan.run(&nodes, 30_000 * MS);
    assert_eq!(lan.masters(), vec![1], "nopreempt: lb01 stays backup");
}

fn arb_node() -> impl Strategy<Value = Node> {
    (
        1u8..=255,
        any::<bool>(),
        0u64..3_000,
        proptest::option::of((1_000u64..10_000, any::<bool>())),
        proptest::option::of(0u64..5_000),
    )
        .prop_map(
            |(priority, start_as_master, start_at_ms, crash, restart)| Node {
                priority,
                start_as_master,
                start_at_ms,
                crash,
                restart_after_ms: crash.and(restart),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the priorities, start times, crashes and a 1-in-7 advert loss, once things
    /// settle exactly one live router is master; with preemption it is the best one.
    #[test]
    fn one_master_once_converged(
        nodes in proptest::collection::vec(arb_node(), 2..5),
        preempt in any::<bool>(),
        interval_cs in prop_oneof![Just(1u32), Just(10), Just(100)],
        lossy in any::<bool>(),
    ) {
        // At most one address owner, as in any sane configuration.
        let mut nodes = nodes;
        let mut owner_seen = false;
        for n in nodes.iter_mut() {
            if n.priority == 255 {
                if owner_seen { n.priority = 254; }
                owner_seen = true;
            }
        }
        let mut lan = Lan::new(&nodes, preempt, interval_cs, if lossy { 7 } else { 0 });
        // Last disturbance at most 3 s + 10 s + 5 s; then 20 Master_Down_Intervals of calm.
        let calm = 20 * 4 * interval_cs as u64 * 10 * MS;
        let until = 18_000 * MS + calm.max(1_000 * MS);
        lan.run(&nodes, until);
        let alive: Vec<usize> = (0..nodes.len()).filter(|&i| lan.alive[i]).collect();
        let masters = lan.masters();
        if alive.is_empty() {
            prop_assert!(masters.is_empty());
        } else {
            prop_assert_eq!(masters.len(), 1, "masters {:?} among {:?}", masters, nodes);
            if preempt {
                // The master has the highest live priority. Among equals the incumbent keeps
                // it: a backup resets its timer on an advert of equal priority (RFC 5798
                // §6.4.2), whatever the addresses.
                let best = alive.iter().map(|&i| lan.routers[i].priority()).max().unwrap();
                prop_assert_eq!(
                    lan.routers[masters[0]].priority(), best,
                    "preempt: the highest priority must win: {:?}", nodes
                );
            }
        }
    }
}
