//! keepalived's notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`): one line per state change,
//! `INSTANCE "VI_1" MASTER 100` or `GROUP "VG_1" BACKUP 0`, in the order of the changes.
//!
//! As keepalived does: the FIFO is created (mode 0644, owned by the given user) if missing and
//! removed at exit only then; the `notify_fifo_script` is started with the path as its last
//! argument before the FIFO is opened; the FIFO is opened read-write and non-blocking, so a
//! FIFO without a reader never blocks and a full one drops the line. The writes happen on a
//! thread of their own behind a bounded queue, so the daemon's loop never waits on the file.

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    sync::{Mutex, mpsc},
    time::Duration,
};

use crate::{
    config::model::{Global, NotifyFifo},
    fsm::State,
};

/// Lines queued for a writer before further ones are dropped.
const QUEUE: usize = 1024;
/// How long a reader may take to end after its FIFO is closed before it is killed.
const READER_WAIT: Duration = Duration::from_secs(1);

/// keepalived's line for an instance (`kind` INSTANCE) or group (GROUP) entering `to`.
pub fn line(kind: &str, name: &str, to: State, priority: u8) -> String {
    let state = match to {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "STOP",
    };
    event_line(kind, name, state, priority)
}

/// keepalived's line for an event (`MASTER_RX_LOWER_PRI`, `MASTER_PRIORITY`, …) or state.
pub fn event_line(kind: &str, name: &str, event: &str, priority: u8) -> String {
    format!("{kind} \"{name}\" {event} {priority}\n")
}

/// An open FIFO.
struct Open {
    config: NotifyFifo,
    created: bool,
    tx: Option<mpsc::SyncSender<String>>,
    writer: Option<std::thread::JoinHandle<()>>,
    reader: Option<tokio::task::JoinHandle<()>>,
    /// The reader's process group, once started.
    reader_pgid: std::sync::Arc<std::sync::atomic::AtomicI32>,
}

impl Open {
    /// Creates (if missing) and opens `config`'s FIFO, starting its script first. Must be
    /// called within a tokio runtime.
    fn start(config: &NotifyFifo, what: &str) -> Option<Open> {
        let path = std::path::Path::new(&config.path);
        let created =
            match nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)) {
                Ok(()) => {
                    if config.user.is_some()
                        && let Ok(c) = crate::scripts::lookup(
                            config.user.as_deref().unwrap_or_default(),
                            config.group.as_deref(),
                        )
                        && std::os::unix::fs::chown(path, Some(c.uid), Some(c.gid)).is_err()
                    {
                        log::info!("Failed to set uid:gid for fifo {}", config.path);
                    }
                    true
                }
                Err(nix::errno::Errno::EEXIST) => false,
                Err(_) => {
                    log::info!("Unable to create {what}notify fifo {}", config.path);
                    return None;
                }
            };
        let reader_pgid = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
        let pgid = reader_pgid.clone();
        let reader = config.script.as_ref().and_then(|s| {
            let policy = crate::scripts::policy();
            match crate::scripts::prepare(
                &s.command,
                s.user.as_deref(),
                s.group.as_deref(),
                &policy,
            )
            .0
            {
                Ok(cmd) => {
                    let (label, fifo) = (
                        format!("{what}notify_fifo_script {:?}", s.command),
                        config.path.clone(),
                    );
                    Some(tokio::spawn(async move {
                        let exit = crate::scripts::run_started(&cmd, &[fifo.as_str()], None, |p| {
                            pgid.store(p as i32, std::sync::atomic::Ordering::SeqCst)
                        })
                        .await;
                        pgid.store(0, std::sync::atomic::Ordering::SeqCst);
                        log::info!("{label} ended: {exit:?}");
                    }))
                }
                Err(e) => {
                    log::warn!("{what}notify_fifo_script {:?} not run: {e}", s.command);
                    None
                }
            }
        });
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) => {
                log::info!(
                    "Unable to open {what}notify fifo {} - errno {}",
                    config.path,
                    e.raw_os_error().unwrap_or(0)
                );
                if created {
                    let _ = std::fs::remove_file(path);
                }
                if let Some(r) = reader {
                    r.abort();
                }
                return None;
            }
        };
        let (tx, rx) = mpsc::sync_channel::<String>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("notify-fifo".into())
            .spawn(move || {
                for line in rx {
                    // Non-blocking: a full FIFO drops the line, as keepalived's write does.
                    let _ = file.write(line.as_bytes());
                }
            })
            .ok()?;
        Some(Open {
            config: config.clone(),
            created,
            tx: Some(tx),
            writer: Some(writer),
            reader,
            reader_pgid,
        })
    }

    /// SIGTERM to the reader's process group (keepalived ends its scripts first when it
    /// stops, so the reader it started does not see the STOP lines; one started otherwise
    /// does).
    fn end_reader(&self) {
        let pgid = self.reader_pgid.load(std::sync::atomic::Ordering::SeqCst);
        if pgid > 0 {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    fn send(&self, line: &str) {
        if let Some(tx) = &self.tx
            && tx.try_send(line.to_string()).is_err()
        {
            log::debug!("notify fifo {}: queue full, line dropped", self.config.path);
        }
    }

    /// Writes what is queued, closes and (if vrrpd created it) removes the FIFO; the reader
    /// then sees the end of the file, and is killed if it has not ended within [`READER_WAIT`].
    async fn close(mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        // Removed first, so that a reader that reopens the path cannot find it (keepalived's
        // order too).
        if self.created {
            let _ = std::fs::remove_file(&self.config.path);
        }
        if let Some(mut r) = self.reader.take()
            && tokio::time::timeout(READER_WAIT, &mut r).await.is_err()
        {
            // Dropping the run kills the script's process group; tokio reaps it.
            r.abort();
            let _ = r.await;
        }
    }
}

/// The daemon's FIFOs.
static FIFOS: Mutex<Vec<Open>> = Mutex::new(Vec::new());

/// Opens the FIFOs of `global` (on start, and on a reload where they changed; unchanged ones
/// stay open, their readers running).
pub async fn configure(global: &Global) {
    let wanted: Vec<(&NotifyFifo, &str)> = [
        (global.notify_fifo.as_ref(), ""),
        (global.vrrp_notify_fifo.as_ref(), "vrrp_"),
    ]
    .into_iter()
    .filter_map(|(f, what)| f.map(|f| (f, what)))
    .collect();
    let mut old = std::mem::take(&mut *FIFOS.lock().unwrap_or_else(|e| e.into_inner()));
    let mut kept = Vec::new();
    for (f, what) in wanted {
        match old.iter().position(|o| o.config == *f) {
            Some(i) => kept.push(old.remove(i)),
            None => {
                if let Some(o) = Open::start(f, what) {
                    kept.push(o);
                }
            }
        }
    }
    for o in old {
        o.close().await;
    }
    *FIFOS.lock().unwrap_or_else(|e| e.into_inner()) = kept;
}

/// Queues keepalived's line for a state change on every FIFO; returns at once.
pub fn write(kind: &str, name: &str, to: State, priority: u8) {
    let fifos = FIFOS.lock().unwrap_or_else(|e| e.into_inner());
    if fifos.is_empty() {
        return;
    }
    let line = line(kind, name, to, priority);
    for f in fifos.iter() {
        f.send(&line);
    }
}

/// Queues keepalived's line for an event of an instance (`kind` INSTANCE) on every FIFO;
/// returns at once.
pub fn write_event(kind: &str, name: &str, event: &str, priority: u8) {
    let fifos = FIFOS.lock().unwrap_or_else(|e| e.into_inner());
    if fifos.is_empty() {
        return;
    }
    let line = event_line(kind, name, event, priority);
    for f in fifos.iter() {
        f.send(&line);
    }
}

/// Ends the readers the FIFOs' scripts started (when the daemon begins to stop, before the
/// STOP lines, as keepalived does).
pub fn end_readers() {
    for f in FIFOS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        f.end_reader();
    }
}

/// Closes every FIFO (when the daemon stops, after the STOP lines).
pub async fn close() {
    let fifos = std::mem::take(&mut *FIFOS.lock().unwrap_or_else(|e| e.into_inner()));
    for f in fifos {
        f.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_keepalived_s() {
        assert_eq!(
            line("INSTANCE", "VI_1", State::Master, 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            line("GROUP", "VG_1", State::Backup, 0),
            "GROUP \"VG_1\" BACKUP 0\n"
        );
        assert_eq!(
            line("INSTANCE", "x", State::Fault, 7),
            "INSTANCE \"x\" FAULT 7\n"
        );
        assert_eq!(
            line("INSTANCE", "x", State::Initialize, 9),
            "INSTANCE \"x\" STOP 9\n"
        );
    }

    /// A FIFO vrrpd creates is a FIFO, gets the lines in order without a reader having been
    /// there when they were written, and is removed at close; one that existed stays.
    #[tokio::test]
    async fn created_written_in_order_and_removed() {
        let dir = std::env::temp_dir().join(format!("vrrpd-fifo-test-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("notify");
        let cfg = NotifyFifo {
            path: path.display().to_string(),
            ..Default::default()
        };
        let open = Open::start(&cfg, "").expect("opened");
        assert!(open.created);
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&path).unwrap().file_type().is_fifo());
        // A reader opened now sees what is written from here on.
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        open.send(&line("INSTANCE", "VI_1", State::Backup, 100));
        open.send(&line("INSTANCE", "VI_1", State::Master, 100));
        open.send(&line("GROUP", "VG_1", State::Master, 0));
        open.close().await;
        assert!(!path.exists(), "a created FIFO is removed");
        let mut got = String::new();
        std::io::Read::read_to_string(&mut reader, &mut got).unwrap();
        assert_eq!(
            got,
            "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\nGROUP \"VG_1\" MASTER 0\n"
        );
        // An existing one is used and kept.
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let open = Open::start(&cfg, "").expect("opened");
        assert!(!open.created);
        open.close().await;
        assert!(path.exists(), "an existing FIFO stays");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
