//! The control socket: `vrrpd status` connects, the daemon answers with the status of every
//! instance as JSON and closes. Only root and the daemon's own user are answered.
//!
//! Also what keeps one vrrpd per network namespace ([`NamespaceLock`]) and its pid file
//! ([`PidFile`]).

use std::{
    io::Write as _,
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{UnixListener, UnixStream},
};

use crate::daemon::InstanceStatus;

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

/// Answers one client with `status`.
pub async fn serve(mut stream: UnixStream, status: Vec<InstanceStatus>) {
    if let Ok(json) = serde_json::to_vec(&status) {
        let _ = stream.write_all(&json).await;
    }
    let _ = stream.shutdown().await;
}

/// Asks the daemon at `path` for its status.
pub async fn query(path: &Path) -> Result<Vec<InstanceStatus>> {
    let mut stream = UnixStream::connect(path)
        .await
        .with_context(|| format!("connecting to {} (is vrrpd running?)", path.display()))?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    serde_json::from_slice(&buf).context("reading the daemon's answer")
}
