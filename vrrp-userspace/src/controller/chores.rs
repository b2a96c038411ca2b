//! The driver's chores and when they are due: the status snapshot after a change, the read of
//! the links (a safety net for a link announcement the kernel's socket dropped) and the heap
//! trim. Pure:
//! the controller asks for them as effects and counts their deadlines in its wake-up.

use crate::fsm::Nanos;

/// How often the carriers of the interfaces are read besides the kernel's announcements of
/// their changes: a safety net for an announcement the socket dropped. A read is a netlink
/// round trip the main loop waits for (up to about 10 ms while another process holds the
/// kernel's rtnetlink lock), so it is rare.
pub const LINK_CHECK: Nanos = 1_000_000_000;

/// How often the heap's free memory is given back to the kernel: what an interface opened
/// again or a reload allocated and freed would otherwise stay resident.
pub const MEMORY_TRIM: Nanos = 30_000_000_000;

/// A chore due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chore {
    /// Publish the status snapshot: every instance's view built again.
    Publish,
    /// Read the links.
    ReadLinks,
    /// Read XDP's counts of adverts dropped for their addresses (with the links).
    ReadAddressDrops,
    /// Give the heap's free memory back.
    TrimHeap,
}

/// When each chore is due. The status snapshot is published at once when something status
/// shows changed; what changes with time alone ([`crate::controller::InstanceLive`]: a
/// backup's newest advert, a master's adverts sent) is refreshed when a reader asks for it
/// (`vrrpd status`, a scrape of the metrics), by the driver, not on a clock: refreshing it
/// ten times a second was a sixth of a backup's samples at 510 routers, and ten of its
/// wake-ups a second, for readers that mostly never come.
#[derive(Clone, Debug)]
pub struct Chores {
    links_at: Nanos,
    trim_at: Nanos,
    /// Something status shows changed since the snapshot was published.
    dirty: bool,
}

impl Chores {
    /// At start (`now`): the links are read at the first wake-up, the heap was just trimmed
    /// (after the start's effects) and the snapshot is published when the loop starts.
    pub fn new(now: Nanos) -> Self {
        Chores {
            links_at: now,
            trim_at: now + MEMORY_TRIM,
            dirty: false,
        }
    }

    /// Something status shows changed.
    pub fn dirty(&mut self) {
        self.dirty = true;
    }

    /// The heap is trimmed at the next [`Chores::due`]: a reload or an interface opened
    /// allocated and freed memory that would otherwise stay resident until the next trim (the
    /// chaos suite's "RSS flat" caught it).
    pub fn trim_soon(&mut self) {
        self.trim_at = 0;
    }

    /// The chores due at `now`, once handled; each is then due again after its period.
    pub fn due(&mut self, now: Nanos) -> Vec<Chore> {
        let mut due = Vec::new();
        if now >= self.links_at {
            self.links_at = now + LINK_CHECK;
            due.push(Chore::ReadLinks);
            due.push(Chore::ReadAddressDrops);
        }
        if now >= self.trim_at {
            self.trim_at = now + MEMORY_TRIM;
            due.push(Chore::TrimHeap);
        }
        if std::mem::take(&mut self.dirty) {
            due.push(Chore::Publish);
        }
        due
    }

    /// The next deadline: the link read or the trim.
    pub fn next(&self) -> Nanos {
        self.links_at.min(self.trim_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Nanos = 1_000_000;
    const SEC: Nanos = 1_000_000_000;

    #[test]
    fn the_heap_is_trimmed_at_once_when_asked_then_every_30_s_again() {
        let mut c = Chores::new(0);
        assert!(!c.due(SEC).contains(&Chore::TrimHeap));
        c.trim_soon();
        assert_eq!(c.next(), 0);
        assert!(c.due(2 * SEC).contains(&Chore::TrimHeap));
        assert!(!c.due(3 * SEC).contains(&Chore::TrimHeap));
        assert!(c.due(32 * SEC).contains(&Chore::TrimHeap));
    }

    #[test]
    fn links_are_read_every_second_and_the_heap_trimmed_every_30() {
        let mut c = Chores::new(5 * SEC);
        assert_eq!(
            c.due(5 * SEC),
            vec![Chore::ReadLinks, Chore::ReadAddressDrops]
        );
        assert_eq!(c.next(), 6 * SEC);
        assert_eq!(c.due(5 * SEC + 500 * MS), vec![]);
        assert!(c.due(6 * SEC).contains(&Chore::ReadLinks));
        let mut trims = 0;
        for t in 7..=65 {
            let due = c.due(t * SEC);
            assert!(due.contains(&Chore::ReadLinks), "{t}: {due:?}");
            trims += due.contains(&Chore::TrimHeap) as u32;
        }
        assert_eq!(trims, 2);
    }

    #[test]
    fn the_snapshot_is_published_at_once_when_dirty_and_time_alone_wakes_nobody() {
        let mut c = Chores::new(0);
        c.due(0);
        assert_eq!(c.due(10 * MS), vec![]);
        assert_eq!(c.next(), SEC);
        c.dirty();
        assert_eq!(c.due(20 * MS), vec![Chore::Publish]);
        assert_eq!(c.due(21 * MS), vec![]);
        assert_eq!(c.next(), SEC);
    }
}
