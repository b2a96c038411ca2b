//! The control socket: `vrrpd status` connects, the daemon answers with the status of every
//! instance as JSON and closes.

use std::path::{Path, PathBuf};

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
    PathBuf::from(format!("/run/vrrpd/netns{ns}.sock"))
}

/// The listening end.
pub struct Server {
    listener: UnixListener,
}

impl Server {
    /// Binds the socket, replacing a stale one left by a dead daemon.
    pub fn bind(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .with_context(|| format!("binding the control socket {}", path.display()))?;
        Ok(Server { listener })
    }

    /// The next client.
    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        self.listener.accept().await.map(|(s, _)| s)
    }
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
