//! The loop's alarm: a timerfd set to the next wake-up's CLOCK_MONOTONIC instant.
//!
//! A tokio `sleep` made at each turn of the loop cost a master a second turn per interval:
//! registering a timer earlier than the time driver's next wake-up unparks the driver (a write
//! to its eventfd), so that the next `epoll_wait` returned at once with nothing to do (`strace`
//! of a master of 200 routers at 10 ms: per interval one `write`, two `epoll_wait`s). A timerfd
//! is set with one `timerfd_settime` (none when the instant is the one already set) and wakes
//! the loop through the same `epoll_wait` as its other events, at the nanosecond (tokio's
//! timers round up to the millisecond).

use std::{
    io,
    os::fd::{AsFd, AsRawFd, RawFd},
};

use nix::{
    errno::Errno,
    sys::{
        time::TimeSpec,
        timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags},
    },
};
use tokio::io::unix::AsyncFd;

use crate::fsm::Nanos;

/// A timerfd (CLOCK_MONOTONIC, non-blocking) for tokio's reactor.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Makes the timerfd pollable by tokio.
#[expect(
    unsafe_code,
    reason = "tokio's AsyncFd registration asks the caller to vouch for the fd"
)]
fn register(fd: TimerFd) -> io::Result<AsyncFd<Fd>> {
    // SAFETY: the fd is the timerfd's, owned by the AsyncFd from here on; it stays open and
    // the same until the AsyncFd is dropped.
    unsafe { AsyncFd::register(Fd(fd)) }.map_err(|e| e.into())
}

/// One instant at a time; see the module.
pub(super) struct Alarm {
    fd: AsyncFd<Fd>,
    /// The instant set and not yet rung, if any.
    set: Option<Nanos>,
}

impl Alarm {
    /// A new alarm, not set (within a tokio runtime).
    pub(super) fn new() -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Alarm {
            fd: register(fd)?,
            set: None,
        })
    }

    /// Rings at `at` (CLOCK_MONOTONIC ns; at once if past), instead of the instant set before.
    pub(super) fn set(&mut self, at: Nanos) -> io::Result<()> {
        if self.set == Some(at) {
            return Ok(());
        }
        // 0 would disarm it: the earliest instant there is rings as well.
        let instant = TimeSpec::from_duration(std::time::Duration::from_nanos(at.max(1)));
        self.fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(instant),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )
            .map_err(io::Error::from)?;
        self.set = Some(at);
        Ok(())
    }

    /// Until the instant set rings (forever if none is set).
    pub(super) async fn rung(&mut self) -> io::Result<()> {
        loop {
            let mut ready = self.fd.readable().await?;
            let mut count = [0u8; 8];
            match nix::unistd::read(ready.get_inner().0.as_fd(), &mut count) {
                Ok(_) => {
                    // Read: silent until set again (else the next wait would read in vain).
                    ready.clear_ready();
                    self.set = None;
                    return Ok(());
                }
                Err(Errno::EAGAIN) => ready.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::monotonic_ns;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn it_rings_at_the_instant_set_not_before_and_only_once() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap();
            let at = monotonic_ns() + 20_000_000;
            alarm.set(at).unwrap();
            alarm.rung().await.unwrap();
            assert!(monotonic_ns() >= at);
            // Rung: it stays silent until set again (here, for a past instant: at once).
            let silent =
                tokio::time::timeout(std::time::Duration::from_millis(50), alarm.rung()).await;
            assert!(silent.is_err());
            alarm.set(1).unwrap();
            alarm.rung().await.unwrap();
        });
    }

    #[test]
    fn a_later_instant_replaces_the_earlier_one() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap();
            let now = monotonic_ns();
            alarm.set(now + 10_000_000).unwrap();
            alarm.set(now + 60_000_000).unwrap();
            alarm.rung().await.unwrap();
            assert!(monotonic_ns() >= now + 60_000_000);
        });
    }
}
