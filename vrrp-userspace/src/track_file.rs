//! `track_file`: reading the tracked files, `init_file`, and watching them with inotify (as
//! keepalived does: the directory is watched for a file closed after writing, moved in or out,
//! or deleted, so that a file replaced by a rename is seen too). nix's inotify, already a
//! dependency of ours, rather than another crate.
//!
//! [`Watch`] also runs [`crate::track_process::run`]: the daemon keeps one of these, restarts
//! it on [`crate::controller::Effect::WatchTracked`] and feeds what it receives to the
//! controller.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::{
    config::{Config, TrackFile, TrackProcess},
    controller::Input,
    track,
};

/// Writes the `init_file` values (at start, `reload` false; on reload an existing file is
/// never overwritten), as keepalived does while it reads its configuration.
pub fn init_files(config: &Config, reload: bool) {
    for f in &config.track_files {
        let Some(init) = f.init else { continue };
        match std::fs::metadata(&f.path) {
            Ok(_) if !init.overwrite || reload => continue,
            Ok(m) if !m.is_file() => {
                log::warn!(
                    "Cannot initialise track file {} - it is not a regular file",
                    f.name
                );
                continue;
            }
            _ => {}
        }
        if let Err(e) = std::fs::write(&f.path, format!("{}\n", init.value)) {
            log::warn!("Unable to initialise track file {}: {e}", f.name);
        }
    }
}

/// The value of `path` now: 0 if it cannot be read; `None` for a number keepalived ignores
/// (logged).
pub fn read(path: &Path) -> Option<i64> {
    use std::io::Read;
    let mut buf = [0u8; 127];
    let contents = std::fs::File::open(path).ok().map(|mut f| {
        let n = f.read(&mut buf).unwrap_or(0);
        buf[..n].to_vec()
    });
    match track::file_value(contents.as_deref()) {
        Ok(v) => Some(v),
        Err(n) => {
            log::info!("Invalid number {n} read from {} - ignoring", path.display());
            None
        }
    }
}

/// The value of every file of `config` at start or reload.
pub fn initial(config: &Config) -> BTreeMap<String, i64> {
    config
        .track_files
        .iter()
        .map(|f| (f.name.clone(), read(Path::new(&f.path)).unwrap_or(0)))
        .collect()
}

/// `path` with its directory resolved (keepalived's `init_track_files`): the directory and
/// the file name, or `None` when the directory does not exist.
fn resolve(path: &str) -> Option<(PathBuf, String)> {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(dir).ok().filter(|d| d.is_dir())?;
    let name = p.file_name()?.to_string_lossy().into_owned();
    Some((dir, name))
}

/// Watches `files` and sends each new value to `tx` until the receiver is gone.
pub async fn run(files: Vec<TrackFile>, tx: tokio::sync::mpsc::Sender<Input>) {
    if files.is_empty() {
        return;
    }
    let inotify = match Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK) {
        Ok(i) => i,
        Err(e) => {
            log::warn!("Unable to monitor track files: {e}");
            return;
        }
    };
    // (watch descriptor, file name) -> the track_files on it.
    let mut watched: Vec<(nix::sys::inotify::WatchDescriptor, String, TrackFile)> = Vec::new();
    for f in files {
        let Some((dir, name)) = resolve(&f.path) else {
            log::warn!(
                "Track file directory for {} does not exist - removing",
                f.name
            );
            continue;
        };
        let flags = AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO;
        match inotify.add_watch(&dir, flags) {
            Ok(wd) => {
                // A value written between the controller's read and this watch.
                if let Some(v) = read(&dir.join(&name)) {
                    let input = Input::File {
                        name: f.name.clone(),
                        value: v,
                    };
                    if tx.send(input).await.is_err() {
                        return;
                    }
                }
                watched.push((wd, name, f));
            }
            Err(e) => log::warn!("track file {}: cannot watch {}: {e}", f.name, dir.display()),
        }
    }
    let Ok(afd) = register(inotify) else {
        log::warn!("Unable to monitor track files");
        return;
    };
    let inotify = &afd.get_ref().0;
    loop {
        let Ok(mut guard) = afd.readable().await else {
            return;
        };
        let events = match inotify.read_events() {
            Ok(ev) => ev,
            Err(nix::errno::Errno::EAGAIN) => {
                guard.clear_ready();
                continue;
            }
            Err(e) => {
                log::warn!("inotify read() returned error {e}");
                guard.clear_ready();
                continue;
            }
        };
        for ev in events {
            if ev.mask.contains(AddWatchFlags::IN_ISDIR) {
                continue;
            }
            let Some(name) = ev.name.as_ref().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            for (wd, fname, f) in &watched {
                if *wd != ev.wd || *fname != name {
                    continue;
                }
                let gone = ev
                    .mask
                    .intersects(AddWatchFlags::IN_MOVED_FROM | AddWatchFlags::IN_DELETE);
                let value = if gone {
                    Some(0)
                } else {
                    read(Path::new(&f.path))
                };
                if let Some(value) = value {
                    let input = Input::File {
                        name: f.name.clone(),
                        value,
                    };
                    if tx.send(input).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Makes the inotify descriptor pollable by tokio.
#[expect(
    unsafe_code,
    reason = "tokio's AsyncFd registration asks the caller to vouch for the fd"
)]
fn register(inotify: Inotify) -> std::io::Result<tokio::io::unix::AsyncFd<Fd>> {
    // SAFETY: the fd is the inotify instance's, owned by the AsyncFd from here on; it stays
    // open and the same until the AsyncFd is dropped.
    unsafe { tokio::io::unix::AsyncFd::register(Fd(inotify)) }.map_err(|e| e.into())
}

/// The inotify instance, as tokio wants it.
struct Fd(Inotify);

impl std::os::fd::AsRawFd for Fd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// The daemon's watches of the tracked files and processes.
pub struct Watch {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    tx: tokio::sync::mpsc::Sender<Input>,
    rx: tokio::sync::mpsc::Receiver<Input>,
}

impl Default for Watch {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        Watch {
            tasks: Vec::new(),
            tx,
            rx,
        }
    }
}

impl Watch {
    /// Stops the earlier watches and watches these.
    pub fn restart(&mut self, files: Vec<TrackFile>, processes: Vec<TrackProcess>) {
        self.stop();
        self.tasks.push(tokio::spawn(run(files, self.tx.clone())));
        self.tasks.push(tokio::spawn(crate::track_process::run(
            processes,
            self.tx.clone(),
        )));
    }

    /// The next change.
    pub async fn recv(&mut self) -> Option<Input> {
        self.rx.recv().await
    }

    /// Stops watching.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}
