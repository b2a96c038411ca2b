//! The control socket: `vrrpd status` and `vrrpd reload` connect, send their request and read
//! the daemon's answer until it closes. The request is one line (`reload`, `events`, `status`,
//! `status text` or `status json`); nothing at all (an end of file, or silence for half a
//! second, as clients from before `reload` send) asks for the status. `status` is answered with
//! compact JSON for programs ([`query`]); `status text` and `status json` with what `vrrpd
//! status` and `vrrpd status --json` print ([`Format`]), so that the command only copies it.
//! Only root and the daemon's own user are answered.
//!
//! `events` is answered with a stream, one JSON object a line ([`EventRecord`]), until the
//! client closes: every subscriber has its own place in a bounded backlog
//! ([`crate::status::EVENTS_BACKLOG`]), so a reader that falls behind loses the oldest events
//! and is told how many (`{"kind":"dropped","count":N,…}`), and the daemon never waits for it.
//!
//! The socket is served by a task of its own ([`serve_all`]): the status comes from the
//! snapshot the main loop publishes ([`StatusSnapshot`], its live part refreshed at the ask:
//! [`StatusFeed`]); once the request is read, the client's socket goes to the status thread,
//! which reads the XDP counters, writes the answer and closes it, so that a status never
//! delays an advert; a reload is handed to the main loop, which answers once the controller
//! has applied or refused it.
//!
//! The client side ([`query`], [`query_written`], [`reload`], [`follow_events`]) is plain
//! blocking I/O: a `vrrpd status` starts no runtime.
//!
//! Also what keeps one vrrpd per network namespace ([`NamespaceLock`]) and its pid file
//! ([`PidFile`]).

use std::{
    io::Write as _,
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{UnixListener, UnixStream},
};

use crate::status::{EventRecord, Format, InstanceStatus, StatusFeed, StatusSnapshot};

/// The answer to `reload`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReloadAnswer {
    /// Whether the new configuration runs now; if not, the old one keeps serving.
    pub applied: bool,
    /// What changed, or why it was refused (each diagnostic with its file:line), and the
    /// file's warnings.
    pub lines: Vec<String>,
}

/// A reload asked over the socket: the main loop answers on the channel when done.
pub type ReloadRequest = tokio::sync::oneshot::Sender<ReloadAnswer>;

/// How long a client has to send its request; one that sends nothing gets the status.
const REQUEST_WAIT: Duration = Duration::from_millis(500);

/// How long the status thread waits for a client to take a piece of its answer: one that
/// stops reading cannot hold the thread, and the other clients' answers, for longer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// The default control socket: one per network namespace, so that several vrrpd on one host
/// (one per namespace) never collide.
pub fn default_path() -> PathBuf {
    use std::os::unix::fs::MetadataExt as _;
    let ns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    PathBuf::from(format!("{RUNTIME_DIR}/netns{ns}.sock"))
}

/// vrrpd's runtime directory, which holds the default control sockets (0700).
pub const RUNTIME_DIR: &str = "/run/vrrpd";

/// The listening end.
pub struct Server {
    listener: UnixListener,
}

impl Server {
    /// Binds the socket (mode 0600), replacing a stale one left by a dead daemon (the caller
    /// holds the [`NamespaceLock`], so no live daemon owns it). A directory it has to create
    /// is made 0700.
    pub fn bind(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        // vrrpd's own runtime directory is 0700 even when an older vrrpd made it otherwise.
        if let Some(dir) = path.parent()
            && dir == Path::new(RUNTIME_DIR)
        {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} 0700", dir.display()))?;
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .with_context(|| format!("binding the control socket {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} 0600", path.display()))?;
        Ok(Server { listener })
    }

    /// The next client that may ask: root, or the daemon's own user (SO_PEERCRED). Others are
    /// refused (closed unanswered, with a log line).
    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        loop {
            let (stream, _) = self.listener.accept().await?;
            match stream.peer_cred() {
                Ok(c) if allowed(c.uid()) => return Ok(stream),
                Ok(c) => log::warn!(
                    "control socket: refused a client of uid {} (pid {:?}): only root and uid {} \
                     may ask",
                    c.uid(),
                    c.pid(),
                    nix::unistd::geteuid()
                ),
                Err(e) => log::warn!("control socket: refused a client without credentials ({e})"),
            }
        }
    }
}

/// Whether a control client of user `uid` is answered: root, or the daemon's own user.
pub fn allowed(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// The abstract Unix socket that makes vrrpd one per network namespace. Abstract names belong
/// to the network namespace and vanish with the process that bound them (even after kill -9),
/// so there is nothing stale to clean up and no file whose inode could be reused.
const LOCK_NAME: &[u8] = b"vrrpd/netns-lock";

/// Held while vrrpd runs: a second vrrpd in the same network namespace would silently take
/// over the first one's control socket and pinned links.
pub struct NamespaceLock {
    _accepter: std::thread::JoinHandle<()>,
}

impl NamespaceLock {
    /// Takes the lock of the calling thread's network namespace, or says which process holds
    /// it.
    pub fn acquire() -> Result<Self> {
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(LOCK_NAME)?;
        match std::os::unix::net::UnixListener::bind_addr(&addr) {
            Ok(listener) => {
                // Whoever connects learns our pid from SO_PEERCRED; connections are closed at
                // once so that the backlog never fills.
                let accepter = std::thread::Builder::new()
                    .name("netns-lock".into())
                    .spawn(move || {
                        for conn in listener.incoming() {
                            drop(conn);
                        }
                    })
                    .context("starting the lock's thread")?;
                Ok(NamespaceLock {
                    _accepter: accepter,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                let holder = std::os::unix::net::UnixStream::connect_addr(&addr)
                    .ok()
                    .and_then(|s| {
                        nix::sys::socket::getsockopt(&s, nix::sys::socket::sockopt::PeerCredentials)
                            .ok()
                    })
                    .map_or("pid unknown".to_string(), |c| format!("pid {}", c.pid()));
                anyhow::bail!(
                    "another vrrpd ({holder}) runs in this network namespace; one vrrpd per \
                     network namespace (stop it first, or start this one in another namespace)"
                )
            }
            Err(e) => Err(e).context("binding the network namespace's lock socket"),
        }
    }
}

/// The pid file, written without following a symlink and removed on drop.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Creates `path` (O_CREAT | O_EXCL | O_NOFOLLOW, mode 0644) holding our pid. Something
    /// already there is replaced only if it is not a live vrrpd's pid file: a symlink or other
    /// non-file is removed (never followed), a file whose pid is not a running vrrpd is stale.
    pub fn create(path: &Path) -> Result<Self> {
        for _ in 0..2 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path);
            match created {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())
                        .with_context(|| format!("writing {}", path.display()))?;
                    return Ok(PidFile {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let meta = std::fs::symlink_metadata(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    if meta.file_type().is_file() {
                        let text = std::fs::read_to_string(path).unwrap_or_default();
                        if let Ok(pid) = text.trim().parse::<i32>()
                            && pid as u32 != std::process::id()
                            && is_vrrpd(pid)
                        {
                            anyhow::bail!(
                                "pid file {} belongs to vrrpd pid {pid}, which is running",
                                path.display()
                            );
                        }
                        log::info!("replacing the stale pid file {}", path.display());
                    } else {
                        log::warn!(
                            "{} is not a regular file (a symlink?); removing it, not following it",
                            path.display()
                        );
                    }
                    std::fs::remove_file(path)
                        .with_context(|| format!("removing {}", path.display()))?;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", path.display()));
                }
            }
        }
        anyhow::bail!("{} keeps reappearing; not writing it", path.display())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` runs and is a vrrpd.
fn is_vrrpd(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "vrrpd")
}

/// A status to answer: the snapshot, the client (blocking, with a write timeout), and how to
/// write it (`None`: compact JSON).
type StatusJob = (
    StatusSnapshot,
    std::os::unix::net::UnixStream,
    Option<Format>,
);

/// The largest answer buffer the status thread keeps between answers. A larger one is given
/// back once sent: the status of 1,020 routers is a megabyte, which one `vrrpd status` would
/// otherwise have kept resident for the daemon's lifetime (an eighth of its heap); written
/// again, it costs a fresh mapping (above the heap's mmap threshold) beside a megabyte of JSON.
const ANSWER_KEPT: usize = 64 * 1024;

/// The thread that reads the counters, writes the status and sends it to the client, at nice
/// 19 ([`lower_priority`]): the main loop always comes first. (As a batch thread at nice 0 it
/// answered faster on a busy host, but took a fair share of a CPU from the loop: with 200
/// routers at 10 ms, a debug build's status calls every half second then made the backup take
/// over hundreds of times, `daemon_control`'s test, in CI.)
fn status_worker() -> Result<std::sync::mpsc::Sender<StatusJob>> {
    let (tx, rx) = std::sync::mpsc::channel::<StatusJob>();
    std::thread::Builder::new()
        .name("status".into())
        .spawn(move || {
            if let Err(e) = lower_priority() {
                log::debug!("status thread: priority not lowered ({e})");
            }
            // One buffer for every answer: after the first, writing one allocates nothing,
            // up to ANSWER_KEPT.
            let mut out = Vec::new();
            // Ends when the socket's task ends (the sender is dropped).
            for (snapshot, mut stream, format) in rx {
                out.clear();
                // Written straight from the snapshot: no status of an instance is made.
                if snapshot.write(&mut out, format).is_ok() {
                    // A client that left, or stopped reading for ANSWER_WAIT, is let go.
                    let _ = stream.write_all(&out);
                }
                if out.capacity() > ANSWER_KEPT {
                    out = Vec::new();
                }
                // Dropped: closed, which ends the client's read.
            }
        })
        .context("starting the status thread")?;
    Ok(tx)
}

/// Makes the calling thread nice 19 (setpriority on a thread id is per-thread on Linux): the
/// status and metrics threads.
#[expect(
    unsafe_code,
    reason = "gettid(2) and setpriority(2): plain integers, no memory-safety preconditions"
)]
pub(crate) fn lower_priority() -> nix::Result<()> {
    // SAFETY: neither call takes a pointer; the kernel checks the values.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19)
    };
    nix::errno::Errno::result(rc).map(drop)
}

/// Serves the control socket until aborted: every client in a task of its own.
pub async fn serve_all(
    server: Server,
    snapshot: StatusFeed,
    reloads: tokio::sync::mpsc::Sender<ReloadRequest>,
    events: tokio::sync::broadcast::Sender<EventRecord>,
) {
    let worker = match status_worker() {
        Ok(w) => w,
        Err(e) => {
            log::error!("control socket not served: {e:#}");
            return;
        }
    };
    loop {
        match server.accept().await {
            Ok(stream) => {
                tokio::spawn(serve(
                    stream,
                    snapshot.clone(),
                    reloads.clone(),
                    worker.clone(),
                    events.clone(),
                ));
            }
            Err(e) => {
                log::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the client's request: its first line, or nothing if it sends none in time.
async fn request(stream: &mut UnixStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64];
    let read = async {
        while !buf.contains(&b'\n') && buf.len() < 256 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(REQUEST_WAIT, read).await;
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim().to_string()
}

/// Answers one client.
async fn serve(
    mut stream: UnixStream,
    snapshot: StatusFeed,
    reloads: tokio::sync::mpsc::Sender<ReloadRequest>,
    worker: std::sync::mpsc::Sender<StatusJob>,
    events: tokio::sync::broadcast::Sender<EventRecord>,
) {
    let format = match request(&mut stream).await.as_str() {
        "events" => {
            // Subscribed before anything is written, so nothing falls between.
            stream_events(stream, events.subscribe()).await;
            return;
        }
        "" | "status" => None,
        "reload" => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let answer = if reloads.send(tx).await.is_ok() {
                rx.await.ok()
            } else {
                None
            };
            let answer = answer.unwrap_or_else(|| ReloadAnswer {
                applied: false,
                lines: vec!["vrrpd is stopping".into()],
            });
            if let Ok(json) = serde_json::to_vec(&answer) {
                let _ = stream.write_all(&json).await;
                let _ = stream.shutdown().await;
            }
            return;
        }
        other => match Format::of_request(other) {
            Some(f) => Some(f),
            None => {
                log::warn!("control socket: unknown request {other:?}");
                return;
            }
        },
    };
    // The counters are read with bpf() calls, the answer written and sent on the status
    // thread, not the runtime's only one: the client's socket goes there, blocking.
    let stream = stream.into_std().and_then(|s| {
        s.set_nonblocking(false)?;
        s.set_write_timeout(Some(ANSWER_WAIT))?;
        Ok(s)
    });
    match stream {
        Ok(s) => {
            let _ = worker.send((snapshot.fresh().await, s, format));
        }
        Err(e) => log::debug!("control socket: a status client's socket: {e}"),
    }
}

/// Writes every event to the subscriber until it closes (or the daemon stops). A subscriber
/// that falls more than the backlog behind loses the oldest events and gets a line saying how
/// many.
async fn stream_events(
    stream: UnixStream,
    mut events: tokio::sync::broadcast::Receiver<EventRecord>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let (mut reader, mut writer) = stream.into_split();
    // The client closing its end (or sending anything more) ends the stream.
    let closed = async move {
        let mut buf = [0u8; 64];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let write = async move {
        loop {
            let line = match events.recv().await {
                Ok(record) => serde_json::to_vec(&record).ok(),
                Err(RecvError::Lagged(n)) => serde_json::to_vec(&serde_json::json!({
                    "time": crate::status::rfc3339(std::time::SystemTime::now()),
                    "kind": "dropped",
                    "count": n,
                    "message": format!("dropped {n} events (this reader fell behind)"),
                }))
                .ok(),
                Err(RecvError::Closed) => break,
            };
            let Some(mut line) = line else { continue };
            line.push(b'\n');
            if writer.write_all(&line).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = closed => {}
        _ = write => {}
    }
}

/// Follows the daemon's events at `path`: calls `each` with every line (one JSON object) as
/// it comes, until the daemon closes the stream or `each` says stop.
pub fn follow_events(path: &Path, mut each: impl FnMut(&str) -> Result<bool>) -> Result<()> {
    use std::io::{BufRead as _, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .with_context(|| format!("connecting to {} (is vrrpd running?)", path.display()))?;
    // Not shut down after the request: closing our end is how the daemon learns we left.
    stream.write_all(b"events\n")?;
    for line in std::io::BufReader::new(stream).lines() {
        let line = line.with_context(|| format!("reading events from {}", path.display()))?;
        if !each(&line)? {
            break;
        }
    }
    Ok(())
}

/// Sends `request` to the daemon at `path` and reads its whole answer, empty if it closed
/// without one. Nothing sent (an end of file at once) asks for the status as JSON: a vrrpd from
/// before `reload` never reads the socket, and a request left unread there would reset the
/// connection.
fn exchange(path: &Path, request: Option<&str>) -> Result<Vec<u8>> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .with_context(|| format!("connecting to {} (is vrrpd running?)", path.display()))?;
    if let Some(r) = request {
        stream.write_all(format!("{r}\n").as_bytes())?;
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    // A status of many routers is hundreds of kilobytes: read in large pieces from the start.
    let mut buf = Vec::with_capacity(64 * 1024);
    stream
        .read_to_end(&mut buf)
        .with_context(|| format!("reading the answer from {}", path.display()))?;
    Ok(buf)
}

/// [`exchange`], where no answer is an error.
fn ask(path: &Path, request: Option<&str>) -> Result<Vec<u8>> {
    let buf = exchange(path, request)?;
    if buf.is_empty() {
        anyhow::bail!("the daemon closed {} without an answer", path.display());
    }
    Ok(buf)
}

/// Asks the daemon at `path` for its status.
pub fn query(path: &Path) -> Result<Vec<InstanceStatus>> {
    let buf = ask(path, None)?;
    serde_json::from_slice(&buf).context("reading the daemon's answer")
}

/// The status of the daemon at `path` as `vrrpd status` prints it in `format`, written by the
/// daemon. A vrrpd from before `status text` closes such a request unanswered (or resets it):
/// its status is then asked as JSON and written here, alike.
pub fn query_written(path: &Path, format: Format) -> Result<Vec<u8>> {
    match exchange(path, Some(format.request())) {
        Ok(buf) if !buf.is_empty() => Ok(buf),
        _ => {
            let status = query(path)?;
            let mut buf = Vec::new();
            format.write(&mut buf, &status)?;
            Ok(buf)
        }
    }
}

/// Asks the daemon at `path` to read its configuration again; its answer once done.
pub fn reload(path: &Path) -> Result<ReloadAnswer> {
    let buf = ask(path, Some("reload"))?;
    serde_json::from_slice(&buf).context(
        "reading the daemon's answer (a vrrpd older than `vrrpd reload` answers only with its \
         status: send it SIGHUP, or restart it)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::Event;

    fn record(n: usize) -> EventRecord {
        let event = Event::Script {
            script: format!("chk{n}"),
            success: true,
            verdict: "succeeding".into(),
            changed: false,
        };
        EventRecord {
            time: "2026-11-30T00:00:00.000Z".into(),
            message: event.message(),
            event,
        }
    }

    /// Reads `stream` until `lines` lines came or it ends.
    async fn lines(stream: UnixStream, lines: usize) -> Vec<serde_json::Value> {
        use tokio::io::AsyncBufReadExt as _;
        let mut reader = tokio::io::BufReader::new(stream).lines();
        let mut out = Vec::new();
        while out.len() < lines {
            match reader.next_line().await {
                Ok(Some(l)) => out.push(serde_json::from_str(&l).unwrap()),
                _ => break,
            }
        }
        out
    }

    #[test]
    fn a_slow_subscriber_loses_the_oldest_events_with_a_count_and_others_get_all() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, _) = tokio::sync::broadcast::channel(crate::status::EVENTS_BACKLOG);
            // Two subscribers over real socket pairs: one reads as events come, the other
            // not at all until the daemon sent more than the backlog.
            let (fast_daemon, fast_client) = UnixStream::pair().unwrap();
            let (slow_daemon, slow_client) = UnixStream::pair().unwrap();
            tokio::spawn(stream_events(fast_daemon, tx.subscribe()));
            let slow_rx = tx.subscribe();
            let fast = tokio::spawn(lines(fast_client, 100));
            for n in 0..100 {
                // Sending never waits, whoever reads.
                tx.send(record(n)).unwrap();
                tokio::task::yield_now().await;
            }
            let fast = fast.await.unwrap();
            assert_eq!(fast.len(), 100);
            assert_eq!(fast[99]["script"], "chk99");
            assert_eq!(fast[0]["kind"], "script");
            let total = crate::status::EVENTS_BACKLOG + 500;
            for n in 100..total {
                tx.send(record(n)).unwrap();
            }
            tokio::spawn(stream_events(slow_daemon, slow_rx));
            let slow = lines(slow_client, crate::status::EVENTS_BACKLOG + 1).await;
            // It lost the oldest: counted in one line, then the newest backlog's worth.
            assert_eq!(slow[0]["kind"], "dropped");
            assert_eq!(
                slow[0]["count"],
                (total - crate::status::EVENTS_BACKLOG) as u64
            );
            assert!(
                slow[0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("dropped 500 events")
            );
            assert_eq!(slow[1]["script"], "chk500");
            assert_eq!(
                slow.last().unwrap()["script"],
                format!("chk{}", total - 1).as_str()
            );
        });
    }
}
