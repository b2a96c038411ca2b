//! keepalived's `vrrp_sync_group`: instances that change state together, as keepalived 2.2.7
//! does it (vrrp_sync.c, `down_instance` and `try_up_instance`):
//!
//! * a member with a fault of its own (a tracked interface or script) takes every other member
//!   to FAULT with it (a master among them sends priority 0 and releases its addresses), and
//!   the group stays in FAULT until the last member's own fault clears; then all go to BACKUP;
//! * a member becoming MASTER takes the others with it at once;
//! * a backup whose Master_Down_Timer runs out becomes MASTER only if every other member wants
//!   to as well (each has timed out, or is master); otherwise it is held in BACKUP and its timer
//!   restarts, so that a half-failed peer does not make the group thrash. A backup that accepts
//!   a master's advert no longer wants to be master;
//! * a master member stepping down to BACKUP takes the other masters to BACKUP (they release
//!   their addresses without a priority-0 advert);
//! * the group has its own state and notify scripts, run once per group transition.
//!
//! Pure: the daemon tells a [`Group`] what its members did and carries out the [`Order`]s it
//! returns by feeding them to the members' state machines; it never touches `fsm` itself.

use crate::fsm::{Input, State};

/// An input for one member's state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The member's instance name.
    pub member: String,
    /// What to feed it.
    pub input: Input,
}

/// A change of the group's own state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Old state.
    pub from: State,
    /// New state.
    pub to: State,
    /// Why, for the log line.
    pub reason: String,
}

/// What the daemon must do after telling the group something: feed the orders, in order, and
/// log and notify the transition, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Inputs for members.
    pub orders: Vec<Order>,
    /// The group's own transition.
    pub transition: Option<Transition>,
}

#[derive(Clone, Debug)]
struct Member {
    name: String,
    /// The member's state, as its state machine last reported it.
    state: State,
    /// A tracked object of its own is down (weight 0).
    faulty: bool,
    /// keepalived's `wantstate == MASTER`: its Master_Down_Timer ran out (or the group starts
    /// master and it has not heard a master since).
    wants_master: bool,
}

/// One sync group.
#[derive(Clone, Debug)]
pub struct Group {
    name: String,
    state: State,
    /// Every member is an address owner with `state MASTER`.
    starts_master: bool,
    members: Vec<Member>,
}

impl Group {
    /// A group of `members` (instance name, whether it is the address owner with `state
    /// MASTER`), not yet started. Its members start wanting MASTER only if all of them are
    /// such owners: keepalived (vrrp_complete_init) starts every member of any other group
    /// wanting BACKUP, whatever their `state`.
    pub fn new(name: &str, members: impl IntoIterator<Item = (String, bool)>) -> Self {
        let members: Vec<(String, bool)> = members.into_iter().collect();
        let starts_master = members.iter().all(|(_, owner_master)| *owner_master);
        Group {
            name: name.to_string(),
            state: State::Initialize,
            starts_master,
            members: members
                .into_iter()
                .map(|(name, _)| Member {
                    name,
                    state: State::Initialize,
                    faulty: false,
                    wants_master: starts_master,
                })
                .collect(),
        }
    }

    /// A group that a reload makes anew (its members changed, or one of them starts afresh),
    /// as keepalived 2.2.7 restores it (vrrp_complete_init): each member (instance name,
    /// whether it is the address owner with `state MASTER`, its state after the reload:
    /// `Initialize` for one that starts afresh) keeps its state, and the group is MASTER if
    /// every member is a kept master (or, in a group of such owners, starts afresh), BACKUP
    /// otherwise; the caller takes the masters of a BACKUP group to BACKUP. `was` is the state
    /// of the group of this name before the reload (`Initialize` if there was none). The
    /// transition is only to BACKUP from another state: keepalived (vrrp_init_state) notifies
    /// a BACKUP group whose state the reload changed, never a MASTER one, whose masters it
    /// keeps.
    pub fn reloaded(
        name: &str,
        members: impl IntoIterator<Item = (String, bool, State)>,
        was: State,
    ) -> (Self, Option<Transition>) {
        let members: Vec<(String, bool, State)> = members.into_iter().collect();
        let starts_master = members.iter().all(|(_, owner_master, _)| *owner_master);
        let master = members.iter().all(|(_, _, state)| {
            *state == State::Master || (starts_master && *state == State::Initialize)
        });
        let state = if master { State::Master } else { State::Backup };
        let group = Group {
            name: name.to_string(),
            state,
            starts_master,
            members: members
                .into_iter()
                .map(|(name, _, state)| Member {
                    name,
                    state,
                    faulty: false,
                    wants_master: state == State::Master || (master && starts_master),
                })
                .collect(),
        };
        let transition = (state == State::Backup && was != State::Backup).then(|| Transition {
            from: was,
            to: state,
            reason: "configuration reloaded".into(),
        });
        (group, transition)
    }

    /// Whether its members take over at startup: all are address owners with `state MASTER`.
    pub fn starts_master(&self) -> bool {
        self.starts_master
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether `member` belongs to the group.
    pub fn has(&self, member: &str) -> bool {
        self.members.iter().any(|m| m.name == member)
    }

    fn member_mut(&mut self, member: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.name == member)
    }

    fn go(&mut self, to: State, reason: String) -> Option<Transition> {
        if self.state == to {
            return None;
        }
        let from = std::mem::replace(&mut self.state, to);
        Some(Transition { from, to, reason })
    }

    /// The group starts: BACKUP, as keepalived starts every group that is not all address
    /// owners (and runs its BACKUP notifies then).
    pub fn start(&mut self) -> Option<Transition> {
        self.go(State::Backup, "startup".into())
    }

    /// The daemon stops: the group's STOP notifies.
    pub fn stop(&mut self) -> Option<Transition> {
        self.go(State::Initialize, "shutdown".into())
    }

    /// Whether `member`, whose Master_Down_Timer ran out (or which starts as MASTER), may become
    /// master now; it wants to from now on. If not, the daemon holds it in BACKUP.
    pub fn may_become_master(&mut self, member: &str) -> bool {
        if let Some(m) = self.member_mut(member) {
            m.wants_master = true;
        }
        self.state == State::Master
            || self
                .members
                .iter()
                .filter(|m| m.name != member)
                .all(|m| m.state == State::Master || (m.wants_master && m.state != State::Fault))
    }

    /// `member`, a backup, accepted a master's advert: it no longer wants to be master.
    pub fn heard_master(&mut self, member: &str) {
        if let Some(m) = self.member_mut(member) {
            m.wants_master = false;
        }
    }

    /// `member`'s state machine changed state.
    pub fn member_changed(&mut self, member: &str, from: State, to: State) -> Outcome {
        let Some(m) = self.member_mut(member) else {
            return Outcome::default();
        };
        m.state = to;
        // A master wants to stay one; entering BACKUP or FAULT, a member wants BACKUP (or
        // FAULT) until its Master_Down_Timer runs out again, as keepalived sets its wantstate.
        m.wants_master = to == State::Master;
        match (from, to) {
            (_, State::Master) => {
                self.follow(member, State::Master, Input::SyncMaster, "became MASTER")
            }
            (State::Master, State::Backup) => {
                self.follow(member, State::Backup, Input::SyncBackup, "left MASTER")
            }
            _ => Outcome::default(),
        }
    }

    /// The group goes to `to` because of `member`, and every other member not yet there gets
    /// `input`.
    fn follow(&mut self, member: &str, to: State, input: Input, why: &str) -> Outcome {
        let Some(transition) = self.go(to, format!("{member} {why}")) else {
            return Outcome::default();
        };
        let orders = self
            .members
            .iter()
            .filter(|m| m.name != member && m.state != to)
            .map(|m| Order {
                member: m.name.clone(),
                input,
            })
            .collect();
        Outcome {
            orders,
            transition: Some(transition),
        }
    }

    /// `member`'s own tracking says FAULT (`faulty`) or no longer.
    pub fn set_fault(&mut self, member: &str, faulty: bool) -> Outcome {
        let Some(m) = self.member_mut(member) else {
            return Outcome::default();
        };
        if m.faulty == faulty {
            return Outcome::default();
        }
        m.faulty = faulty;
        if faulty {
            let mut orders = Vec::new();
            if m.state != State::Fault {
                orders.push(Order {
                    member: member.to_string(),
                    input: Input::Fault,
                });
            }
            let mut out = self.follow(member, State::Fault, Input::Fault, "has a fault");
            orders.append(&mut out.orders);
            out.orders = orders;
            return out;
        }
        if self.members.iter().any(|m| m.faulty) {
            // Another member's fault holds the whole group in FAULT.
            return Outcome::default();
        }
        let orders = self
            .members
            .iter()
            .filter(|m| m.state == State::Fault)
            .map(|m| Order {
                member: m.name.clone(),
                input: Input::FaultCleared,
            })
            .collect();
        Outcome {
            orders,
            transition: self.go(State::Backup, format!("{member}'s fault cleared")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Group {
        let mut g = Group::new(
            "VG_1",
            [("VI_1".to_string(), false), ("VI_2".to_string(), false)],
        );
        assert_eq!(g.start().map(|t| t.to), Some(State::Backup));
        g.member_changed("VI_1", State::Initialize, State::Backup);
        g.member_changed("VI_2", State::Initialize, State::Backup);
        g
    }

    fn order(member: &str, input: Input) -> Order {
        Order {
            member: member.into(),
            input,
        }
    }

    /// Applies the orders' state changes as the members' state machines would report them.
    fn obey(g: &mut Group, out: &Outcome) {
        for o in &out.orders {
            let from = g.members.iter().find(|m| m.name == o.member).unwrap().state;
            let to = match (from, o.input) {
                (State::Backup | State::Master, Input::Fault) => State::Fault,
                (State::Fault, Input::FaultCleared) => State::Backup,
                (State::Backup, Input::SyncMaster) => State::Master,
                (State::Master, Input::SyncBackup) => State::Backup,
                _ => from,
            };
            if to != from {
                let more = g.member_changed(&o.member, from, to);
                assert!(more.orders.is_empty(), "a follower set off more: {more:?}");
            }
        }
    }

    fn masters(g: &mut Group) {
        assert!(g.may_become_master("VI_1") || g.may_become_master("VI_2"));
        let out = g.member_changed("VI_2", State::Backup, State::Master);
        obey(g, &out);
        assert_eq!(g.state(), State::Master);
    }

    #[test]
    fn a_member_fault_takes_the_group_to_fault_and_back_to_backup() {
        let mut g = group();
        masters(&mut g);
        let out = g.set_fault("VI_1", true);
        assert_eq!(
            out.orders,
            vec![order("VI_1", Input::Fault), order("VI_2", Input::Fault)]
        );
        let t = out.transition.clone().unwrap();
        assert_eq!((t.from, t.to), (State::Master, State::Fault));
        assert_eq!(t.reason, "VI_1 has a fault");
        obey(&mut g, &out);
        // The follower's FAULT does not set anything off; neither does a second fault.
        assert_eq!(g.set_fault("VI_2", true).orders, vec![]);
        // VI_1 recovers, but VI_2's own fault holds the group in FAULT.
        assert_eq!(g.set_fault("VI_1", false), Outcome::default());
        assert_eq!(g.state(), State::Fault);
        // The last fault clears: every member back to BACKUP.
        let out = g.set_fault("VI_2", false);
        assert_eq!(
            out.orders,
            vec![
                order("VI_1", Input::FaultCleared),
                order("VI_2", Input::FaultCleared)
            ]
        );
        assert_eq!(out.transition.clone().unwrap().to, State::Backup);
        obey(&mut g, &out);
        // Back in BACKUP, no member wants MASTER until its own timer runs out: the first one
        // due is held, the second one takes both.
        assert!(!g.may_become_master("VI_2"));
        assert!(g.may_become_master("VI_1"));
        // Recording the same verdict twice changes nothing.
        assert_eq!(g.set_fault("VI_2", false), Outcome::default());
    }

    #[test]
    fn a_backup_member_fault_faults_the_others_too() {
        let mut g = group();
        let out = g.set_fault("VI_2", true);
        assert_eq!(
            out.orders,
            vec![order("VI_2", Input::Fault), order("VI_1", Input::Fault)]
        );
        assert_eq!(out.transition.unwrap().from, State::Backup);
    }

    #[test]
    fn a_member_becoming_master_takes_the_others_along() {
        let mut g = group();
        let out = g.member_changed("VI_1", State::Backup, State::Master);
        assert_eq!(out.orders, vec![order("VI_2", Input::SyncMaster)]);
        let t = out.transition.clone().unwrap();
        assert_eq!((t.from, t.to), (State::Backup, State::Master));
        assert_eq!(t.reason, "VI_1 became MASTER");
        obey(&mut g, &out);
        // Stepping down takes the other master down with it, once.
        let out = g.member_changed("VI_2", State::Master, State::Backup);
        assert_eq!(out.orders, vec![order("VI_1", Input::SyncBackup)]);
        assert_eq!(out.transition.clone().unwrap().to, State::Backup);
        obey(&mut g, &out);
        assert_eq!(g.state(), State::Backup);
    }

    #[test]
    fn a_backup_is_held_until_every_member_wants_master() {
        let mut g = group();
        // VI_1 timed out, VI_2 still hears a master: VI_1 is held.
        assert!(!g.may_become_master("VI_1"));
        // VI_2 times out too: now it may, and takes VI_1 along.
        assert!(g.may_become_master("VI_2"));
        // VI_1 heard a master meanwhile: VI_2 is held after all.
        g.heard_master("VI_1");
        assert!(!g.may_become_master("VI_2"));
        // A member in FAULT never wants master.
        let mut g = group();
        assert!(!g.may_become_master("VI_1"));
        let out = g.set_fault("VI_1", true);
        obey(&mut g, &out);
        assert!(!g.may_become_master("VI_2"));
        // Once the group is master, anyone may.
        let mut g = group();
        masters(&mut g);
        assert!(g.may_become_master("VI_1"));
    }

    #[test]
    fn owner_master_members_want_master_from_the_start_only_all_together() {
        let mut g = Group::new(
            "VG_1",
            [("VI_1".to_string(), true), ("VI_2".to_string(), true)],
        );
        g.start();
        assert!(g.starts_master());
        assert!(g.may_become_master("VI_1"));
        // One member that is not an owner with `state MASTER`: nobody wants master at first,
        // the owner's timer running out does not count for the other's.
        let mut g = Group::new(
            "VG_1",
            [("VI_1".to_string(), true), ("VI_2".to_string(), false)],
        );
        g.start();
        assert!(!g.starts_master());
        assert!(!g.may_become_master("VI_2"));
        assert!(g.may_become_master("VI_1"), "VI_2 now wants master");
    }

    #[test]
    fn strangers_are_ignored() {
        let mut g = group();
        assert!(!g.has("VI_9"));
        assert_eq!(g.set_fault("VI_9", true), Outcome::default());
        assert_eq!(
            g.member_changed("VI_9", State::Backup, State::Master),
            Outcome::default()
        );
        assert_eq!(g.state(), State::Backup);
    }
}
