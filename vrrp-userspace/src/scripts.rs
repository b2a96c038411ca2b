//! Running scripts (`vrrp_script` checks and `notify*` commands) as keepalived 2.2.7 does
//! (lib/notify.c, lib/parser.c), without a shell:
//!
//! * **argv**: the command line (the text inside the config's quotes) is split into words by
//!   keepalived's `alloc_strvec_quoted_escaped` rules ([`split`]): blanks separate words, `'…'`
//!   and `"…"` quote (and may join with unquoted text into one word), `\` escapes everywhere
//!   (`\n`, `\t`, `\xHH`, `\cX`, `\NNN` octal …). `notify` gets its four arguments appended as
//!   separate words, so an instance name is never re-parsed by anything.
//! * **who**: the command's own `user [group]`, else `script_user [group]` of `global_defs`,
//!   else `keepalived_script` when that user exists, else the daemon's own user (root), with
//!   keepalived's messages ([`Policy`]).
//! * **which file, and whether it is safe** ([`prepare`]): a bare name is searched in `PATH`
//!   with keepalived's warning; the file must be executable by the user; when root (or a
//!   root-owned set-id file) runs it, the file and every directory of its path (and of the path
//!   it resolves to) must not be writable by anyone but root: with `enable_script_security` an
//!   unsafe script is disabled, without it keepalived's warnings are logged and it runs.
//! * **how** ([`run`]): its own process group, stdin/stdout/stderr on /dev/null, SIGTERM when
//!   the daemon dies (`PR_SET_PDEATHSIG`, as keepalived), the user's uid, gid and no other
//!   groups; a timeout SIGKILLs the whole group; every child is reaped, also when the task that
//!   waits for it is dropped (the group is killed and tokio reaps the leader).
//! * **notify order** ([`Notifier`]): keepalived forks notify scripts and forgets them, so two
//!   quick state changes may run their scripts in either order. Here the scripts of one
//!   instance (or sync group) run one after the other, in the order of the changes, in tasks
//!   that never block the main loop; `notify_stop` has keepalived's one second before its group
//!   is killed, and [`finish`] waits for the queued scripts when the daemon stops.

use std::{
    collections::HashMap,
    ffi::{OsStr, OsString},
    os::unix::{
        ffi::{OsStrExt, OsStringExt},
        fs::MetadataExt,
        process::ExitStatusExt,
    },
    path::{Path, PathBuf},
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::{
    config::{Config, Global, Notify, NotifyCommand, Script},
    fsm::State,
};

/// The user keepalived runs scripts as when it exists and no other is configured.
pub const DEFAULT_USER: &str = "keepalived_script";

/// How long keepalived lets a `notify_stop` script run before it kills its process group.
const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a stopping daemon waits for its queued notify scripts.
pub const FINISH_WAIT: Duration = Duration::from_secs(5);

// --- argv ---------------------------------------------------------------------------------------

/// Splits a command line into words by keepalived's `alloc_strvec_quoted_escaped` rules.
///
/// An unterminated quote or a `\` at the end is an error, as in keepalived (which then does not
/// run the script). A word is cut at a NUL produced by an escape (`\0`), as keepalived's C
/// strings cut it.
pub fn split(line: &str) -> Result<Vec<OsString>, String> {
    const BLANK: &[u8] = b" \t\x0c\n\r\x0b";
    let s = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < s.len() && BLANK.contains(&s[i]) {
            i += 1;
        }
        if i == s.len() {
            break;
        }
        let mut word = Vec::new();
        let mut quote = None;
        while i < s.len() {
            let c = s[i];
            if c == b'\\' {
                i += 1;
                let Some(&e) = s.get(i) else {
                    return Err(format!("Missing escape char at end: '{line}'"));
                };
                let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
                let byte = if e == b'x' && s.get(i + 1).and_then(|&b| hex(b)).is_some() {
                    i += 1;
                    let mut v = 0u8;
                    while let Some(d) = s.get(i).and_then(|&b| hex(b)) {
                        v = (v << 4) | d;
                        i += 1;
                    }
                    v
                } else if e == b'c' && i + 1 < s.len() {
                    i += 2;
                    s[i - 1] & 0x1f
                } else if (b'0'..=b'7').contains(&e) {
                    let mut v = e - b'0';
                    i += 1;
                    for _ in 0..2 {
                        match s.get(i) {
                            Some(&d @ b'0'..=b'7') => {
                                v = (v << 3).wrapping_add(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    v
                } else {
                    i += 1;
                    match e {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'E' => 0x1b,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        other => other,
                    }
                };
                word.push(byte);
                continue;
            }
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    i += 1;
                }
                Some(_) => {
                    word.push(c);
                    i += 1;
                }
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    i += 1;
                }
                None if BLANK.contains(&c) => break,
                None => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        if let Some(q) = quote {
            return Err(format!(
                "String '{line}': missing terminating {}",
                q as char
            ));
        }
        if let Some(nul) = word.iter().position(|&b| b == 0) {
            word.truncate(nul);
        }
        words.push(OsString::from_vec(word));
    }
    Ok(words)
}

// --- who runs it --------------------------------------------------------------------------------

/// The user and group a script runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// User id.
    pub uid: u32,
    /// Group id (the only group: supplementary groups are cleared, as keepalived does).
    pub gid: u32,
}

impl Credentials {
    /// The daemon's own effective user and group.
    pub fn ours() -> Self {
        Credentials {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }
}

/// `user [group]` as keepalived resolves it (`set_uid_gid`): the user's primary group unless a
/// group is named. Errors are keepalived's messages.
pub fn lookup(user: &str, group: Option<&str>) -> Result<Credentials, String> {
    let pw = match nix::unistd::User::from_name(user) {
        Ok(Some(pw)) => pw,
        Ok(None) => return Err(format!("Script user '{user}' does not exist")),
        Err(_) => {
            return Err(format!(
                "Unable to resolve script username '{user}' - ignoring"
            ));
        }
    };
    let mut gid = pw.gid.as_raw();
    if let Some(group) = group {
        gid = match nix::unistd::Group::from_name(group) {
            Ok(Some(g)) => g.gid.as_raw(),
            Ok(None) => return Err(format!("Script group '{group}' does not exist")),
            Err(_) => {
                return Err(format!(
                    "Unable to resolve script group name '{group}' - ignoring"
                ));
            }
        };
    }
    Ok(Credentials {
        uid: pw.uid.as_raw(),
        gid,
    })
}

/// What `global_defs` says about running scripts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `enable_script_security`.
    pub security: bool,
    /// Who runs a script that names no user; an error (keepalived's message) when keepalived
    /// would refuse to run such scripts.
    pub default: Result<Credentials, String>,
    /// The daemon's own user.
    pub ours: Credentials,
}

impl Policy {
    /// The policy of `global` and what keepalived logs about it.
    pub fn new(global: &Global) -> (Policy, Vec<String>) {
        Self::with_default_user(global, DEFAULT_USER)
    }

    /// As [`Policy::new`], with another name in place of `keepalived_script` (for tests, which
    /// must not create a user every keepalived on the host would then run its scripts as).
    pub fn with_default_user(global: &Global, default_user: &str) -> (Policy, Vec<String>) {
        let ours = Credentials::ours();
        let mut notes = Vec::new();
        let default = match &global.script_user {
            Some(user) => lookup(user, global.script_group.as_deref()).map_err(|e| {
                notes.push(e);
                "Error setting global script uid/gid".to_string()
            }),
            None => match lookup(default_user, None) {
                Ok(c) => Ok(c),
                Err(e) => {
                    notes.push(e);
                    if global.enable_script_security {
                        Err(format!(
                            "Unable to set default user {default_user} for script"
                        ))
                    } else {
                        Ok(ours)
                    }
                }
            },
        };
        if let Err(e) = &default {
            notes.push(e.clone());
        }
        (
            Policy {
                security: global.enable_script_security,
                default,
                ours,
            },
            notes,
        )
    }

    /// Who runs a command that names `user [group]` (or none).
    pub fn credentials(
        &self,
        user: Option<&str>,
        group: Option<&str>,
    ) -> Result<Credentials, String> {
        match user {
            Some(u) => lookup(u, group),
            None => self.default.clone(),
        }
    }
}

// --- which file, and whether it is safe ---------------------------------------------------------

/// A command ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The file executed.
    pub path: PathBuf,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<OsString>,
    /// Who runs it.
    pub credentials: Credentials,
}

/// What [`prepare`] found besides the command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// A script file was found (keepalived's `SC_ISSCRIPT`).
    pub script: bool,
    /// Its path is writable by someone other than root (`SC_INSECURE`).
    pub insecure: bool,
    /// keepalived's log lines.
    pub notes: Vec<String>,
}

/// Whether `meta` is executable by `c` (keepalived's `is_executable`).
fn executable_by(meta: &std::fs::Metadata, c: Credentials) -> bool {
    let mode = meta.mode();
    (c.uid == 0 && mode & 0o111 != 0)
        || (c.uid == meta.uid() && mode & 0o100 != 0)
        || (c.uid != meta.uid()
            && ((c.gid == meta.gid() && mode & 0o010 != 0)
                || (c.gid != meta.gid() && mode & 0o001 != 0)))
}

/// keepalived's `check_security`: `path` and every directory on the way to it must be owned
/// by root and not writable by a group other than root's or by others (a directory with the
/// sticky bit excepted). Returns the note when it is not.
fn check_path(path: &Path, security: bool) -> Result<(), String> {
    let shown = path.display();
    let bytes = path.as_os_str().as_bytes();
    let mut prefixes: Vec<&[u8]> = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'/' {
            prefixes.push(if i == 0 { &bytes[..1] } else { &bytes[..i] });
        }
    }
    let dirs = prefixes.len();
    prefixes.push(bytes);
    for (n, p) in prefixes.into_iter().enumerate() {
        let last = n == dirs;
        let meta = std::fs::symlink_metadata(OsStr::from_bytes(p)).map_err(|_| {
            format!("check_script_secure could not find script '{shown}' - disabling")
        })?;
        let ft = meta.file_type();
        if (!last && !ft.is_dir()) || (last && !ft.is_file() && !ft.is_symlink()) {
            return Err(format!("Wrong file type found in script path '{shown}'."));
        }
        let mode = meta.mode();
        let guarded = (ft.is_dir() && mode & 0o1000 == 0) || ft.is_file();
        let writable = (meta.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0;
        if meta.uid() != 0 || (guarded && writable) {
            return Err(format!(
                "Unsafe permissions found for script '{shown}'{}.",
                if security { " - disabling" } else { "" }
            ));
        }
    }
    Ok(())
}

/// Finds a bare command name in `PATH` as keepalived's `find_path` does.
fn search_path(name: &OsStr, c: Credentials) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    let mut denied = false;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && executable_by(&meta, c) {
                return Ok(candidate);
            }
            denied = true;
        }
    }
    let name = name.to_string_lossy();
    Err(if denied {
        format!("Permissions failure for script {name} in path - disabling")
    } else {
        format!("Cannot find script {name} in path - disabling")
    })
}

/// Makes `line`, run as `user [group]` (or the policy's default), a [`Command`], with
/// keepalived's checks (`check_script_secure`). `Err` means keepalived would not run it; the
/// findings say why, and what it warns about a script it runs.
pub fn prepare(
    line: &str,
    user: Option<&str>,
    group: Option<&str>,
    policy: &Policy,
) -> (Result<Command, String>, Findings) {
    let mut found = Findings::default();
    let result = prepare_inner(line, user, group, policy, &mut found);
    (result, found)
}

fn prepare_inner(
    line: &str,
    user: Option<&str>,
    group: Option<&str>,
    policy: &Policy,
    found: &mut Findings,
) -> Result<Command, String> {
    let mut argv = split(line)?;
    if argv.is_empty() {
        return Err(format!("Unable to parse script '{line}' - ignoring"));
    }
    let credentials = policy.credentials(user, group)?;
    let first = argv[0].as_bytes();
    // `</dev/tcp/host/port`: a test that a file opens, which keepalived hands to the shell
    // unchecked (`SC_SYSTEM`).
    if first.first() == Some(&b'<')
        && first[1..].iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b'/')
    {
        let quoted: Vec<String> = argv
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let a = a.to_string_lossy();
                if i == 0 {
                    a.into_owned()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect();
        return Ok(Command {
            path: "/bin/sh".into(),
            argv: vec!["sh".into(), "-c".into(), quoted.join(" ").into()],
            credentials,
        });
    }
    if !first.contains(&b'/') {
        let found_at = search_path(&argv[0], credentials)?;
        found.notes.push(format!(
            "WARNING - script `{}` resolved by path search to `{}`. Please specify full path.",
            argv[0].to_string_lossy(),
            found_at.display()
        ));
        argv[0] = found_at.into_os_string();
    }
    let given = PathBuf::from(&argv[0]);
    let real = std::fs::canonicalize(&given).map_err(|e| {
        format!(
            "Script {} cannot be accessed - {}",
            given.display(),
            e.kind()
        )
    })?;
    // Keep the name it was called by (some programs act on it) when the resolved directory
    // holds it as the same file, as keepalived does.
    let mut path = real.clone();
    let mut real_other = None;
    if path != given
        && given.file_name() != real.file_name()
        && let (Some(dir), Some(name)) = (real.parent(), given.file_name())
    {
        let named = dir.join(name);
        let same = match (std::fs::metadata(&named), std::fs::metadata(&real)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        if same {
            path = named;
            real_other = Some(real.clone());
        }
    }
    argv[0] = path.clone().into_os_string();
    let meta = std::fs::metadata(real_other.as_ref().unwrap_or(&path))
        .map_err(|_| format!("Unable to access script `{}` - disabling", path.display()))?;
    found.script = true;
    if !executable_by(&meta, credentials) {
        return Err(format!(
            "WARNING - script '{}' is not executable for uid:gid {}:{} - disabling.",
            path.display(),
            credentials.uid,
            credentials.gid
        ));
    }
    let setid_root = (meta.uid() == 0 && meta.mode() & 0o4100 == 0o4100)
        || (meta.gid() == 0 && meta.mode() & 0o2010 == 0o2010);
    if credentials.uid == 0 || credentials.gid == 0 || setid_root {
        for p in std::iter::once(&path).chain(real_other.as_ref()) {
            if let Err(note) = check_path(p, policy.security) {
                if note.starts_with("Unsafe") {
                    found.insecure = true;
                    if !policy.security {
                        found.notes.push(note);
                        continue;
                    }
                }
                return Err(note);
            }
        }
    }
    Ok(Command {
        path,
        argv,
        credentials,
    })
}

/// keepalived's summary after checking every script of a configuration.
fn violation(found: &Findings, security: bool) -> Option<String> {
    (!security && found.script).then(|| {
        format!(
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.{}",
            if found.insecure {
                " There are insecure scripts."
            } else {
                ""
            }
        )
    })
}

/// Every command of `config` (vrrp_scripts, the instances' and sync groups' notify commands).
fn commands(config: &Config) -> Vec<(String, &str, Option<&str>, Option<&str>)> {
    let mut out = Vec::new();
    for s in &config.scripts {
        out.push((
            format!("vrrp_script {}", s.name),
            s.command.as_str(),
            s.user.as_deref(),
            s.group.as_deref(),
        ));
    }
    let notifies = config
        .instances
        .iter()
        .map(|i| (&i.name, &i.notify))
        .chain(config.sync_groups.iter().map(|g| (&g.name, &g.notify)));
    for (name, n) in notifies {
        for (kind, c) in notify_commands(n) {
            out.push((
                format!("{name}: {kind}"),
                c.command.as_str(),
                c.user.as_deref(),
                c.group.as_deref(),
            ));
        }
    }
    let fifos = [
        ("notify_fifo_script", &config.global.notify_fifo),
        ("vrrp_notify_fifo_script", &config.global.vrrp_notify_fifo),
    ];
    for (kind, fifo) in fifos {
        if let Some(c) = fifo.as_ref().and_then(|f| f.script.as_ref()) {
            out.push((
                kind.to_string(),
                c.command.as_str(),
                c.user.as_deref(),
                c.group.as_deref(),
            ));
        }
    }
    out
}

fn notify_commands(n: &Notify) -> impl Iterator<Item = (&'static str, &NotifyCommand)> {
    [
        ("notify_master", &n.master),
        ("notify_backup", &n.backup),
        ("notify_fault", &n.fault),
        ("notify_stop", &n.stop),
        ("notify", &n.any),
        ("notify_split_brain", &n.split_brain),
        ("notify_master_rx_lower_pri", &n.master_rx_lower_pri),
    ]
    .into_iter()
    .filter_map(|(k, c)| c.as_deref().map(|c| (k, c)))
}

/// What keepalived says about the scripts of `config` when it loads it, in its words: users
/// that do not exist, unsafe paths, scripts it disables, and its SECURITY VIOLATION summary.
pub fn check(config: &Config) -> Vec<String> {
    if commands(config).is_empty() {
        return Vec::new();
    }
    let (policy, mut notes) = Policy::new(&config.global);
    check_with(config, &policy, &mut notes, true);
    notes
}

/// Adds to `notes` what keepalived says about each command of `config`; a `vrrp_script` it
/// disables is said only with `disabled_scripts` (the controller says it
/// when it leaves out a script the host refused: [`crate::controller::Host::refused_scripts`]).
fn check_with(config: &Config, policy: &Policy, notes: &mut Vec<String>, disabled_scripts: bool) {
    let mut all = Findings::default();
    for (what, line, user, group) in commands(config) {
        let (result, found) = prepare(line, user, group, policy);
        all.script |= found.script;
        all.insecure |= found.insecure;
        notes.extend(found.notes.into_iter().map(|n| format!("{what}: {n}")));
        match (result, what.strip_prefix("vrrp_script ")) {
            (Ok(_), _) => {}
            (Err(e), Some(name)) => {
                if disabled_scripts {
                    notes.push(format!("Disabling track script {name}: {e}"));
                }
            }
            (Err(e), None) => notes.push(format!("{what} will not run: {e}")),
        }
    }
    notes.extend(violation(&all, policy.security));
}

// --- how ----------------------------------------------------------------------------------------

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Status(i32),
    /// A signal ended it.
    Signal(i32),
    /// It ran past its timeout; its process group was killed.
    TimedOut,
    /// It could not be started.
    NotStarted(String),
}

impl Exit {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        *self == Exit::Status(0)
    }
}

/// Kills a script's process group if the run is dropped before its leader was reaped (the
/// group id cannot have been reused while the leader is unreaped).
struct Group {
    pgid: Option<i32>,
}

impl Group {
    fn kill(&self) {
        if let Some(pgid) = self.pgid {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cmd` with `extra` arguments appended; past `timeout` its whole process group is
/// killed. The child is always reaped (if this future is dropped early, the group is killed and
/// tokio reaps the leader).
pub async fn run(cmd: &Command, extra: &[&str], timeout: Option<Duration>) -> Exit {
    run_started(cmd, extra, timeout, |_| {}).await
}

/// [`run`], telling `started` the process (and process group) id once it runs.
#[expect(
    unsafe_code,
    reason = "pre_exec: the user, groups and parent-death signal are set between fork and exec"
)]
pub async fn run_started(
    cmd: &Command,
    extra: &[&str],
    timeout: Option<Duration>,
    started: impl FnOnce(u32),
) -> Exit {
    let mut c = tokio::process::Command::new(&cmd.path);
    c.arg0(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let Credentials { uid, gid } = cmd.credentials;
    let ours = Credentials::ours();
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if ours.uid == 0 {
                if gid != ours.gid && libc::setgid(gid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::setgroups(1, &gid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if uid != ours.uid && libc::setuid(uid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // If the daemon dies, the script is told (keepalived does the same).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => return Exit::NotStarted(e.to_string()),
    };
    let mut group = Group {
        pgid: child.id().map(|p| p as i32),
    };
    if let Some(pid) = child.id() {
        started(pid);
    }
    let waited = match timeout {
        Some(t) => tokio::time::timeout(t, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let exit = match waited {
        Some(Ok(status)) => {
            group.pgid = None;
            match status.code() {
                Some(code) => Exit::Status(code),
                None => Exit::Signal(status.signal().unwrap_or(0)),
            }
        }
        Some(Err(e)) => Exit::NotStarted(e.to_string()),
        None => {
            group.kill();
            let _ = child.wait().await;
            group.pgid = None;
            Exit::TimedOut
        }
    };
    drop(group);
    exit
}

// --- notify order -------------------------------------------------------------------------------

/// A notify command to run.
struct Job {
    label: String,
    command: NotifyCommand,
    policy: Policy,
    extra: Vec<String>,
    timeout: Option<Duration>,
}

/// Runs notify commands one queue per instance or group, each queue in order, none blocking the
/// caller.
#[derive(Default)]
pub struct Notifier {
    queues: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<Job>>>,
    pending: Arc<Pending>,
}

#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Notifier {
    /// Queues `command` (with `extra` arguments) behind the earlier commands of `key`; it is
    /// [prepared](prepare) under `policy` when its turn comes (off the caller's thread: a user
    /// lookup may wait on a directory service). Must be called within a tokio runtime.
    pub fn submit(
        &self,
        key: &str,
        command: NotifyCommand,
        policy: Policy,
        extra: Vec<String>,
        timeout: Option<Duration>,
    ) {
        let mut job = Job {
            label: format!("{}: notify script {:?}", key, command.command),
            command,
            policy,
            extra,
            timeout,
        };
        self.pending.count.fetch_add(1, Ordering::SeqCst);
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = queues.get(key) {
            match tx.send(job) {
                Ok(()) => return,
                // Its worker is gone (it ran on a runtime that has ended): start another.
                Err(e) => job = e.0,
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let _ = tx.send(job);
        queues.insert(key.to_string(), tx);
        let pending = self.pending.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let (c, policy) = (job.command.clone(), job.policy.clone());
                let prepared = tokio::task::spawn_blocking(move || {
                    prepare(&c.command, c.user.as_deref(), c.group.as_deref(), &policy).0
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                let extra: Vec<&str> = job.extra.iter().map(String::as_str).collect();
                let exit = match prepared {
                    Ok(cmd) => run(&cmd, &extra, job.timeout).await,
                    Err(e) => Exit::NotStarted(e),
                };
                match exit {
                    Exit::Status(0) => {}
                    Exit::Status(code) => log::debug!("{}: exited with status {code}", job.label),
                    Exit::Signal(sig) => log::warn!("{}: ended by signal {sig}", job.label),
                    Exit::TimedOut => log::warn!(
                        "{}: still running after {:?}, killed",
                        job.label,
                        job.timeout.unwrap_or_default()
                    ),
                    Exit::NotStarted(e) => log::warn!("{}: not run: {e}", job.label),
                }
                if pending.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                    pending.idle.notify_waiters();
                }
            }
        });
    }

    /// Waits until every queued command has finished.
    pub async fn idle(&self) {
        loop {
            let notified = self.pending.idle.notified();
            if self.pending.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

// --- the daemon's entry points ------------------------------------------------------------------

static POLICY: LazyLock<Mutex<Option<Policy>>> = LazyLock::new(|| Mutex::new(None));
static NOTIFIER: LazyLock<Notifier> = LazyLock::new(Notifier::default);

/// The policy the daemon's scripts run under (that of the last [`configure`], else the
/// defaults of an empty `global_defs`).
pub fn policy() -> Policy {
    let mut p = POLICY.lock().unwrap_or_else(|e| e.into_inner());
    p.get_or_insert_with(|| Policy::new(&Global::default()).0)
        .clone()
}

/// Takes `config`'s script policy for the daemon's scripts from now on, logging what keepalived
/// logs when it loads the configuration (on start and on each reload).
///
/// A configuration without commands looks no user up (the user database may be a service:
/// glibc's NSS loads its modules into the daemon for good), as keepalived 2.2 resolves its
/// default script user only when the configuration names a script; the policy is then worked
/// out when a command first needs it (a reload that adds one).
pub fn configure(config: &Config) {
    if commands(config).is_empty() {
        *POLICY.lock().unwrap_or_else(|e| e.into_inner()) = None;
        return;
    }
    let (policy, mut notes) = Policy::new(&config.global);
    check_with(config, &policy, &mut notes, false);
    for n in notes {
        log::warn!("{n}");
    }
    *POLICY.lock().unwrap_or_else(|e| e.into_inner()) = Some(policy);
}

/// A `vrrp_script` as a [`Command`] under the daemon's policy, or why keepalived would disable
/// it.
pub fn track_command(script: &Script) -> Result<Command, String> {
    prepare(
        &script.command,
        script.user.as_deref(),
        script.group.as_deref(),
        &policy(),
    )
    .0
}

/// Runs the notify commands of an instance or a sync group (`kind` INSTANCE or GROUP) entering
/// `to`: the state's own command, then `notify` with keepalived's four arguments (a group's
/// priority is 0, as keepalived passes it), behind the earlier ones of the same instance or
/// group. Returns at once.
pub fn notify(n: &Notify, kind: &str, name: &str, to: State, priority: u8) {
    // No command to run (whatever else the block sets, `notify_priority_changes`): nothing to
    // look the policy up for, as `configure` counts commands.
    if notify_commands(n).next().is_none() {
        return;
    }
    notify_with(&NOTIFIER, &policy(), n, kind, name, to, priority);
}

/// Runs instance `instance`'s `notify_split_brain` command with `args` appended (the instance,
/// the other master's address and MAC), behind the instance's earlier notify commands. Returns
/// at once.
pub fn notify_split_brain(command: &NotifyCommand, instance: &str, args: Vec<String>) {
    NOTIFIER.submit(
        &format!("INSTANCE {instance}"),
        command.clone(),
        policy(),
        args,
        None,
    );
}

/// Runs instance `instance`'s `notify_master_rx_lower_pri` command (no arguments, as
/// keepalived runs it), behind the instance's earlier notify commands. Returns at once.
pub fn notify_event(command: &NotifyCommand, instance: &str) {
    NOTIFIER.submit(
        &format!("INSTANCE {instance}"),
        command.clone(),
        policy(),
        Vec::new(),
        None,
    );
}

/// [`notify`] on a given notifier and policy.
pub fn notify_with(
    notifier: &Notifier,
    policy: &Policy,
    n: &Notify,
    kind: &str,
    name: &str,
    to: State,
    priority: u8,
) {
    let (own, state) = match to {
        State::Master => (&n.master, "MASTER"),
        State::Backup => (&n.backup, "BACKUP"),
        State::Fault => (&n.fault, "FAULT"),
        State::Initialize => (&n.stop, "STOP"),
    };
    let timeout = (to == State::Initialize).then_some(STOP_TIMEOUT);
    let appended = vec![
        kind.to_string(),
        name.to_string(),
        state.to_string(),
        priority.to_string(),
    ];
    let key = format!("{kind} {name}");
    for (c, extra) in own
        .iter()
        .map(|c| (c, Vec::new()))
        .chain(n.any.iter().map(|c| (c, appended.clone())))
    {
        notifier.submit(&key, (**c).clone(), policy.clone(), extra, timeout);
    }
}

/// Waits for the queued notify commands, at most [`FINISH_WAIT`] (the daemon calls this when
/// it stops, so that `notify_stop` runs to its end or its timeout; a script still running
/// after that gets SIGTERM when the daemon exits, as keepalived's do).
pub async fn finish() {
    if tokio::time::timeout(FINISH_WAIT, NOTIFIER.idle())
        .await
        .is_err()
    {
        log::warn!("notify scripts still running at exit");
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn words(line: &str) -> Vec<String> {
        split(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .into_iter()
            .map(|w| String::from_utf8(w.into_vec()).unwrap())
            .collect()
    }

    #[test]
    fn split_follows_keepalived_quoting_rules() {
        assert_eq!(
            words("/usr/bin/killall -0 haproxy"),
            ["/usr/bin/killall", "-0", "haproxy"]
        );
        assert_eq!(words(" \t a \x0b\x0c  b\r\n"), ["a", "b"]);
        assert_eq!(
            words(r#"/bin/echo 'a b' "c d""#),
            ["/bin/echo", "a b", "c d"]
        );
        // Quotes join with the text around them into one word.
        assert_eq!(words(r#"a"b c"d'e f'"#), ["ab cde f"]);
        // Each quote protects the other kind.
        assert_eq!(words(r#""it's" 'say "hi"'"#), ["it's", r#"say "hi""#]);
        // Unlike a shell, `\` escapes inside single quotes too.
        assert_eq!(words(r"'a\'b'"), ["a'b"]);
        assert_eq!(words(r"a\ b"), ["a b"]);
        // keepalived's escapes: C's, \E, \cX, \xH…, octal; any other character stands for
        // itself.
        assert_eq!(
            words(r"\a\b\E\f\n\r\t\v\q\\"),
            ["\x07\x08\x1b\x0c\n\r\t\x0bq\\"]
        );
        assert_eq!(words(r"\x41\x4g\xg\102\cA\101x\7"), ["A\x04gxgB\x01Ax\x07"]);
        // Empty quotes are an empty word.
        assert_eq!(words(r#"a "" ''"#), ["a", "", ""]);
        // A NUL from an escape ends the word (C strings).
        assert_eq!(words(r"ab\0cd e"), ["ab", "e"]);
        // Nothing a shell would do: no variables, globs, separators or redirections.
        assert_eq!(
            words("/bin/echo $HOME *; rm -rf / > x"),
            ["/bin/echo", "$HOME", "*;", "rm", "-rf", "/", ">", "x"]
        );
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(
            split(r#"/bin/echo "abc"#).unwrap_err(),
            r#"String '/bin/echo "abc': missing terminating ""#
        );
        assert_eq!(
            split("/bin/echo 'abc").unwrap_err(),
            "String '/bin/echo 'abc': missing terminating '"
        );
        assert_eq!(
            split(r"/bin/echo abc\").unwrap_err(),
            r"Missing escape char at end: '/bin/echo abc\'"
        );
    }

    /// A directory removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("vrrpd-scripts-{tag}-{}", crate::lab::unique("")));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            TempDir(dir)
        }

        fn script(&self, name: &str, body: &str, mode: u32) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn root_policy(security: bool) -> Policy {
        Policy {
            security,
            default: Ok(Credentials::ours()),
            ours: Credentials::ours(),
        }
    }

    /// This process's children in state `Z` whose command name is `comm`.
    fn zombies(comm: &str) -> Vec<i32> {
        let me = std::process::id().to_string();
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = &stat[open + 1..close];
            let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            if name == comm && rest.first() == Some(&"Z") && rest.get(1) == Some(&me.as_str()) {
                out.push(stat[..open].trim().parse().unwrap());
            }
        }
        out
    }

    #[tokio::test]
    async fn notifies_leave_no_zombie_and_run_in_order_with_their_arguments() {
        if !crate::lab::privileged("notifies_leave_no_zombie") {
            return;
        }
        let dir = TempDir::new("notify");
        let log = dir.0.join("log");
        // The command name of a script is its file name: the zombie scan looks for it.
        let comm = format!("n{}.sh", std::process::id() % 100_000);
        let script = dir.script(
            &comm,
            &format!(
                "#!/bin/sh\n[ \"$4\" = MASTER ] && sleep 0.1\nprintf '%s|' \"$@\" >> {}\necho >> {}\n",
                log.display(),
                log.display()
            ),
            0o755,
        );
        // The scan sees a zombie where there is one.
        let mut unreaped = std::process::Command::new(&script).spawn().unwrap();
        let pid = unreaped.id() as i32;
        let mut seen = false;
        for _ in 0..200 {
            if zombies(&comm).contains(&pid) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        unreaped.wait().unwrap();
        assert!(seen, "the scan did not see an unreaped child as a zombie");
        std::fs::remove_file(&log).unwrap();

        let notifier = Notifier::default();
        let policy = root_policy(false);
        let cmd = |extra: &str| NotifyCommand {
            command: format!("{} \"{extra}\"", script.display()),
            user: None,
            group: None,
        };
        let n = Notify {
            master: Some(Box::new(cmd("own master"))),
            any: Some(Box::new(cmd("any"))),
            ..Default::default()
        };
        // A name a shell would act on.
        let name = "VI 1;touch pwned";
        let n_changes = 10;
        for k in 0..n_changes {
            let to = if k % 2 == 0 {
                State::Master
            } else {
                State::Backup
            };
            notify_with(&notifier, &policy, &n, "INSTANCE", name, to, 100);
        }
        tokio::time::timeout(Duration::from_secs(60), notifier.idle())
            .await
            .expect("the notify scripts finish");
        assert_eq!(zombies(&comm), Vec::<i32>::new(), "zombies left");
        let lines = std::fs::read_to_string(&log).unwrap();
        let mut expected = String::new();
        for k in 0..n_changes {
            if k % 2 == 0 {
                expected.push_str("own master|\n");
                expected.push_str("any|INSTANCE|VI 1;touch pwned|MASTER|100|\n");
            } else {
                expected.push_str("any|INSTANCE|VI 1;touch pwned|BACKUP|100|\n");
            }
        }
        // In the order of the changes, though each MASTER script sleeps first.
        assert_eq!(lines, expected);
        assert!(!std::path::Path::new("pwned").exists());
    }

    fn gone(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // A zombie waiting for its new parent (init) counts as dead.
            Ok(stat) => stat[stat.rfind(')').unwrap() + 1..]
                .trim_start()
                .starts_with('Z'),
        }
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_group() {
        if !crate::lab::privileged("a_timeout_kills_the_whole_process_group") {
            return;
        }
        let dir = TempDir::new("timeout");
        let pids = dir.0.join("pids");
        // The script starts a grandchild that sleeps, then sleeps itself; both ignore SIGTERM
        // so that only the group's SIGKILL ends them.
        let script = dir.script(
            "hang.sh",
            &format!(
                "#!/bin/sh\ntrap '' TERM\nsleep 1000 &\necho $! $$ > {p}.tmp\nmv {p}.tmp {p}\nwait\n",
                p = pids.display()
            ),
            0o755,
        );
        let (cmd, _) = prepare(
            &script.display().to_string(),
            None,
            None,
            &root_policy(false),
        );
        let cmd = cmd.unwrap();
        // Generous: the script must have written its pids before the timeout.
        let exit = run(&cmd, &[], Some(Duration::from_secs(3))).await;
        assert_eq!(exit, Exit::TimedOut);
        let text = std::fs::read_to_string(&pids).expect("the script wrote its pids");
        let pids: Vec<i32> = text
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2);
        for _ in 0..500 {
            if pids.iter().all(|&p| gone(p)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for p in pids {
            assert!(gone(p), "process {p} of the timed-out script still runs");
        }
        assert_eq!(zombies("hang.sh"), Vec::<i32>::new());
    }

    #[tokio::test]
    async fn a_run_dropped_midway_kills_its_group_and_reaps_it() {
        if !crate::lab::privileged("a_run_dropped_midway") {
            return;
        }
        let dir = TempDir::new("drop");
        let pids = dir.0.join("pids");
        let comm = format!("d{}.sh", std::process::id() % 100_000);
        let script = dir.script(
            &comm,
            &format!(
                "#!/bin/sh\nsleep 1000 &\necho $! $$ > {p}.tmp\nmv {p}.tmp {p}\nwait\n",
                p = pids.display()
            ),
            0o755,
        );
        let (cmd, _) = prepare(
            &script.display().to_string(),
            None,
            None,
            &root_policy(false),
        );
        let cmd = cmd.unwrap();
        // A reload aborts the task of a check that is running.
        let task = tokio::spawn(async move { run(&cmd, &[], None).await });
        for _ in 0..500 {
            if pids.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        let text = std::fs::read_to_string(&pids).expect("the script wrote its pids");
        let pids: Vec<i32> = text
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        // tokio reaps the leader when the next SIGCHLD comes.
        for _ in 0..500 {
            if pids
                .iter()
                .all(|&p| std::fs::metadata(format!("/proc/{p}")).is_err())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for p in pids {
            assert!(
                std::fs::metadata(format!("/proc/{p}")).is_err(),
                "process {p} of the dropped run is still there (running or a zombie)"
            );
        }
    }

    #[tokio::test]
    async fn a_script_that_prints_a_lot_is_not_blocked() {
        if !crate::lab::privileged("a_script_that_prints_a_lot") {
            return;
        }
        let dir = TempDir::new("loud");
        // 16 MiB to stdout and stderr: far beyond a pipe's buffer, were they pipes.
        let script = dir.script(
            "loud.sh",
            "#!/bin/sh\nhead -c 16777216 /dev/zero\nhead -c 16777216 /dev/zero >&2\n",
            0o755,
        );
        let (cmd, _) = prepare(
            &script.display().to_string(),
            None,
            None,
            &root_policy(false),
        );
        let exit = run(&cmd.unwrap(), &[], Some(Duration::from_secs(60))).await;
        assert_eq!(exit, Exit::Status(0));
    }

    /// A system user created for a test, removed on drop.
    struct TestUser(String);

    impl TestUser {
        fn new() -> Self {
            let name = format!("vrrpd-t{}", crate::lab::unique(""));
            crate::lab::sh(&[
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ]);
            TestUser(name)
        }
    }

    impl Drop for TestUser {
        fn drop(&mut self) {
            let _ = std::process::Command::new("userdel").arg(&self.0).status();
        }
    }

    #[tokio::test]
    async fn scripts_run_as_script_user_or_their_own_user() {
        if !crate::lab::privileged("scripts_run_as_script_user") {
            return;
        }
        let user = TestUser::new();
        let creds = lookup(&user.0, None).unwrap();
        assert_ne!(creds.uid, 0);
        let dir = TempDir::new("user");
        let out = dir.0.join("out");
        nix::unistd::chown(&dir.0, Some(nix::unistd::Uid::from_raw(creds.uid)), None).unwrap();
        let script = dir.script(
            "id.sh",
            &format!(
                "#!/bin/sh\necho $(id -u) $(id -g) $(id -G) > {}\n",
                out.display()
            ),
            0o755,
        );
        let line = script.display().to_string();
        let expected = format!("{} {} {}\n", creds.uid, creds.gid, creds.gid);

        // script_user in global_defs.
        let global = Global {
            script_user: Some(user.0.clone()),
            ..Global::default()
        };
        let (policy, notes) = Policy::new(&global);
        assert_eq!(notes, Vec::<String>::new());
        assert_eq!(policy.default, Ok(creds));
        let (cmd, _) = prepare(&line, None, None, &policy);
        assert_eq!(run(&cmd.unwrap(), &[], None).await, Exit::Status(0));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
        std::fs::remove_file(&out).unwrap();

        // A script's own `user` (vrrp_script `user`, a notify command's user) wins.
        let (cmd, _) = prepare(&line, Some(&user.0), Some("root"), &root_policy(false));
        let cmd = cmd.unwrap();
        assert_eq!(
            cmd.credentials,
            Credentials {
                uid: creds.uid,
                gid: 0
            }
        );
        assert_eq!(run(&cmd, &[], None).await, Exit::Status(0));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("{} 0 0\n", creds.uid)
        );

        // keepalived_script when it exists (here under another name: creating the real one
        // would change every keepalived on this host).
        let (policy, notes) = Policy::with_default_user(&Global::default(), &user.0);
        assert_eq!((policy.default, notes), (Ok(creds), vec![]));
        // Else root, with keepalived's message; with enable_script_security, nobody.
        let missing = format!("{}x", user.0);
        let (policy, notes) = Policy::with_default_user(&Global::default(), &missing);
        assert_eq!(policy.default, Ok(Credentials::ours()));
        assert_eq!(notes, [format!("Script user '{missing}' does not exist")]);
        let secure = Global {
            enable_script_security: true,
            ..Global::default()
        };
        let (policy, _) = Policy::with_default_user(&secure, &missing);
        assert_eq!(
            policy.default,
            Err(format!("Unable to set default user {missing} for script"))
        );
        assert!(prepare(&line, None, None, &policy).0.is_err());
        // A script_user that does not exist.
        let global = Global {
            script_user: Some(missing.clone()),
            ..Global::default()
        };
        let (policy, notes) = Policy::new(&global);
        assert_eq!(
            policy.default,
            Err("Error setting global script uid/gid".into())
        );
        assert_eq!(notes[0], format!("Script user '{missing}' does not exist"));
    }

    #[test]
    fn script_security_refuses_scripts_others_may_write() {
        if !crate::lab::privileged("script_security_refuses") {
            return;
        }
        let dir = TempDir::new("security");
        let safe = dir.script("safe.sh", "#!/bin/sh\n", 0o755);
        let open = dir.script("open.sh", "#!/bin/sh\n", 0o777);
        let line = |p: &Path| p.display().to_string();
        let (secure, lax) = (root_policy(true), root_policy(false));

        let (r, found) = prepare(&line(&safe), None, None, &secure);
        assert!(r.is_ok(), "{r:?}");
        assert!(found.script && !found.insecure);

        // A world-writable file: disabled with enable_script_security, else run with
        // keepalived's warning.
        let (r, found) = prepare(&line(&open), None, None, &secure);
        assert_eq!(
            r.unwrap_err(),
            format!(
                "Unsafe permissions found for script '{}' - disabling.",
                open.display()
            )
        );
        assert!(found.insecure);
        let (r, found) = prepare(&line(&open), None, None, &lax);
        assert!(r.is_ok());
        assert_eq!(
            found.notes,
            [format!(
                "Unsafe permissions found for script '{}'.",
                open.display()
            )]
        );
        // Group-writable by a group other than root's, or owned by another user.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o775)).unwrap();
        nix::unistd::chown(&open, None, Some(nix::unistd::Gid::from_raw(1))).unwrap();
        assert!(prepare(&line(&open), None, None, &secure).0.is_err());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(prepare(&line(&open), None, None, &secure).0.is_ok());
        nix::unistd::chown(&open, Some(nix::unistd::Uid::from_raw(1)), None).unwrap();
        assert!(prepare(&line(&open), None, None, &secure).0.is_err());

        // Every directory of the path: a world-writable one without the sticky bit makes a
        // safe file unsafe; with the sticky bit (as /tmp) it does not.
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            prepare(&line(&safe), None, None, &secure).0.unwrap_err(),
            format!(
                "Unsafe permissions found for script '{}' - disabling.",
                safe.display()
            )
        );
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(prepare(&line(&safe), None, None, &secure).0.is_ok());

        // keepalived's summary for the configuration.
        let mut config = Config::default();
        config.global.enable_script_security = false;
        config.scripts.push(Script {
            group: Some("root".into()),
            ..Script::new("chk", line(&open))
        });
        let mut notes = Vec::new();
        check_with(&config, &lax, &mut notes, true);
        assert_eq!(
            notes.last().unwrap(),
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled. \
             There are insecure scripts."
        );

        // Not executable for the user, missing, and found by a path search.
        let noexec = dir.script("noexec.sh", "#!/bin/sh\n", 0o644);
        assert!(
            prepare(&line(&noexec), None, None, &secure)
                .0
                .unwrap_err()
                .contains("is not executable for uid:gid 0:0 - disabling.")
        );
        assert!(
            prepare(&line(&dir.0.join("none")), None, None, &secure)
                .0
                .is_err()
        );
        let (r, found) = prepare("true", None, None, &secure);
        assert!(r.unwrap().path.is_absolute());
        assert!(found.notes[0].contains("resolved by path search to"));
    }
}
