//! Issue 11, item 9: one vrrpd per network namespace. A second one exits at once with an error
//! naming the first one's pid, without touching its control socket or pinned links; the
//! control socket is 0600 (in a 0700 directory when vrrpd creates it) and answers only root
//! and the daemon's own user; the pid file is never written through a symlink.
use std::{
    os::unix::fs::{FileTypeExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Child, NetNs, PinDir,
    daemon::{run_dir, wait_for},
};

fn vrrpd() -> &'static str {
    env!("CARGO_BIN_EXE_vrrpd")
}

/// A namespace with eth0 (a veth whose peer stays in the same namespace), up and addressed.
fn host() -> NetNs {
    let ns = NetNs::new("s");
    ns.exec(&[
        "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
    ]);
    ns.exec(&["ip", "addr", "add", "192.0.2.4/24", "dev", "eth0"]);
    ns.exec(&["ip", "link", "set", "eth0", "up"]);
    ns.exec(&["ip", "link", "set", "eth1", "up"]);
    ns
}

/// The owner with `state MASTER`: master at once, the only instance keepalived 2.2.7 (and
/// vrrpd) starts as master.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("vrrpd.conf");
    std::fs::write(
        &path,
        "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 50\n    \
         priority 255\n    advert_int 1\n    virtual_ipaddress {\n        192.0.2.3\n    }\n}\n",
    )
    .unwrap();
    path
}

fn start(ns: &NetNs, conf: &Path, socket: &Path, pid: &Path, pins: &Path, log: &Path) -> Child {
    Child::spawn_in(
        ns,
        &[
            vrrpd(),
            "run",
            "--config",
            conf.to_str().unwrap(),
            "--control-socket",
            socket.to_str().unwrap(),
            "--pid-file",
            pid.to_str().unwrap(),
            "--pin-root",
            pins.to_str().unwrap(),
        ],
        log,
    )
    .expect("start vrrpd")
}

fn status(socket: &Path, uid: Option<u32>) -> (bool, String) {
    let mut c = Command::new(vrrpd());
    c.args(["status", "--control-socket", socket.to_str().unwrap()]);
    if let Some(uid) = uid {
        std::os::unix::process::CommandExt::uid(&mut c, uid);
    }
    let out = c.output().expect("vrrpd status runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_second_vrrpd_in_a_namespace_exits_naming_the_first() {
    if !lab::privileged("a_second_vrrpd_in_a_namespace_exits_naming_the_first") {
        return;
    }
    let ns = host();
    let dir = run_dir();
    let conf = config(&dir);
    let pins = PinDir::new();
    // A runtime directory vrrpd creates: 0700.
    let socket = dir.join("run").join("first.sock");
    let pid_file = dir.join("first.pid");
    let mut first = start(
        &ns,
        &conf,
        &socket,
        &pid_file,
        &pins.path,
        &dir.join("first.log"),
    );
    wait_for(Duration::from_secs(5), || status(&socket, None).0).unwrap_or_else(|| {
        panic!(
            "{}",
            std::fs::read_to_string(dir.join("first.log")).unwrap_or_default()
        )
    });
    let first_pid = first.child.id();
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        first_pid.to_string()
    );
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "control socket mode"
    );
    let run = std::fs::metadata(socket.parent().unwrap()).unwrap();
    assert_eq!(
        run.permissions().mode() & 0o777,
        0o700,
        "runtime directory mode"
    );
    let pinned: Vec<_> = std::fs::read_dir(&pins.path).unwrap().collect();

    // The second, with the same socket and pid file (the defaults would be the same too).
    let log2 = dir.join("second.log");
    let mut second = start(&ns, &conf, &socket, &pid_file, &pins.path, &log2);
    let exit = second
        .wait_timeout(Duration::from_secs(5))
        .expect("the second vrrpd exits");
    let text = std::fs::read_to_string(&log2).unwrap();
    assert!(!exit.success(), "{text}");
    assert!(
        text.contains(&format!(
            "another vrrpd (pid {first_pid}) runs in this network namespace"
        )),
        "{text}"
    );
    // The first is untouched: its socket answers, its pid file and pins are there.
    assert!(status(&socket, None).0, "the first one's control socket");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        first_pid.to_string()
    );
    assert_eq!(std::fs::read_dir(&pins.path).unwrap().count(), pinned.len());

    // Another namespace has its own lock: a vrrpd there starts.
    let other = host();
    let pins2 = PinDir::new();
    let socket2 = dir.join("other.sock");
    let other_vrrpd = start(
        &other,
        &conf,
        &socket2,
        &dir.join("other.pid"),
        &pins2.path,
        &dir.join("other.log"),
    );
    wait_for(Duration::from_secs(5), || status(&socket2, None).0).unwrap_or_else(|| {
        panic!(
            "{}",
            std::fs::read_to_string(dir.join("other.log")).unwrap_or_default()
        )
    });
    drop(other_vrrpd);

    // Only root and the daemon's user are answered: with the file mode opened up, another
    // user reaches the socket but gets no answer.
    std::fs::set_permissions(
        socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (ok, text) = status(&socket, Some(65534));
    assert!(!ok, "uid 65534 was answered: {text}");
    assert!(status(&socket, None).0, "root still is");
    let log = std::fs::read_to_string(dir.join("first.log")).unwrap();
    assert!(log.contains("refused a client of uid 65534"), "{log}");

    // SIGTERM: the pid file goes with the daemon, and the lock with it: a new one starts.
    first.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        first
            .wait_timeout(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert!(!pid_file.exists());
    let third = start(
        &ns,
        &conf,
        &socket,
        &pid_file,
        &pins.path,
        &dir.join("third.log"),
    );
    wait_for(Duration::from_secs(5), || status(&socket, None).0).unwrap_or_else(|| {
        panic!(
            "{}",
            std::fs::read_to_string(dir.join("third.log")).unwrap_or_default()
        )
    });
    drop(third);
}

#[test]
fn the_pid_file_is_never_written_through_a_symlink() {
    if !lab::privileged("the_pid_file_is_never_written_through_a_symlink") {
        return;
    }
    let ns = host();
    let dir = run_dir();
    let conf = config(&dir);
    let pins = PinDir::new();
    let socket = dir.join("s.sock");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let pid_file = dir.join("vrrpd.pid");
    std::os::unix::fs::symlink(&victim, &pid_file).unwrap();
    let log = dir.join("s.log");
    let mut d = start(&ns, &conf, &socket, &pid_file, &pins.path, &log);
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log).unwrap_or_default()));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(&pid_file).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the symlink was replaced by a file"
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        d.child.id().to_string()
    );
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_timeout(Duration::from_secs(10)).is_some());
    // A stale pid file (a pid that is no vrrpd) is replaced.
    std::fs::write(&pid_file, "1\n").unwrap();
    let d = start(&ns, &conf, &socket, &pid_file, &pins.path, &log);
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log).unwrap_or_default()));
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        d.child.id().to_string()
    );
    drop(d);
}

/// Issue 11, item 5: under `ip netns exec` (a private mount namespace whose /sys hides the
/// host's bpffs) the pins must still land in the host's bpffs, so that after kill -9 the XDP
/// program stays attached (its liveness gate then stops it claiming the VIP) and a restarted
/// vrrpd takes it over.
#[test]
fn kill9_under_ip_netns_exec_leaves_the_program_pinned_on_the_host() {
    if !lab::privileged("kill9_under_ip_netns_exec_leaves_the_program_pinned_on_the_host") {
        return;
    }
    let ns = host();
    let dir = run_dir();
    let conf = config(&dir);
    let pins = PinDir::new();
    let socket = dir.join("x.sock");
    let spawn = |log: &Path| {
        let log = std::fs::File::create(log).unwrap();
        Child {
            child: Command::new("ip")
                .args(["netns", "exec", &ns.name, vrrpd(), "run", "--config"])
                .arg(&conf)
                .arg("--control-socket")
                .arg(&socket)
                .arg("--pin-root")
                .arg(&pins.path)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("ip netns exec vrrpd"),
        }
    };
    let log1 = dir.join("x1.log");
    let mut first = spawn(&log1);
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log1).unwrap_or_default()));
    let text = std::fs::read_to_string(&log1).unwrap();
    assert!(text.contains("pinning in the host's"), "{text}");
    // The pins are in the host's bpffs, seen from here (the test runs in the host's mount
    // namespace).
    let pinned = || {
        std::fs::read_dir(&pins.path)
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(pinned(), 2, "XDP and tc egress pins on the host");
    let attached = || {
        ns.exec(&["ip", "-details", "link", "show", "eth0"])
            .contains("prog/xdp")
    };
    assert!(attached());

    // kill -9: the program stays attached through the host's pins.
    first.signal(nix::sys::signal::Signal::SIGKILL);
    assert!(first.wait_timeout(Duration::from_secs(5)).is_some());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pinned(), 2, "the pins outlived the process");
    assert!(attached(), "XDP still attached after kill -9");

    // A restarted vrrpd (under ip netns exec again) takes the program over, and its SIGTERM
    // detaches it and removes the pins.
    let log2 = dir.join("x2.log");
    let mut second = spawn(&log2);
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log2).unwrap_or_default()));
    let text = std::fs::read_to_string(&log2).unwrap();
    assert!(
        text.contains("took over the XDP program left by an earlier vrrpd"),
        "{text}"
    );
    second.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        second
            .wait_timeout(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        std::fs::read_to_string(&log2).unwrap_or_default()
    );
    assert_eq!(pinned(), 0, "SIGTERM removed the pins");
    assert!(!attached(), "and detached XDP");
}

/// The default control socket: /run/vrrpd/netns<inode>.sock, 0600, in /run/vrrpd made 0700
/// even if it was left otherwise.
#[test]
fn the_default_control_socket_is_0600_in_a_0700_runtime_directory() {
    if !lab::privileged("the_default_control_socket_is_0600_in_a_0700_runtime_directory") {
        return;
    }
    let ns = host();
    let dir = run_dir();
    let conf = config(&dir);
    let pins = PinDir::new();
    let run = Path::new(vrrp_userspace::control::RUNTIME_DIR);
    std::fs::create_dir_all(run).unwrap();
    std::fs::set_permissions(run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.join("d.log");
    let d = Child::spawn_in(
        &ns,
        &[
            vrrpd(),
            "run",
            "--config",
            conf.to_str().unwrap(),
            "--pin-root",
            pins.path.to_str().unwrap(),
        ],
        &log,
    )
    .unwrap();
    // The namespace's inode names the socket (its file under /run/netns is that inode).
    let inode = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(format!("/run/netns/{}", ns.name)).unwrap(),
    );
    let socket = run.join(format!("netns{inode}.sock"));
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log).unwrap_or_default()));
    assert_eq!(
        std::fs::metadata(run).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // `vrrpd status` in the namespace finds it without being told.
    let out = ns.exec(&[vrrpd(), "status"]);
    assert!(out.contains("VI_1: MASTER"), "{out}");
    drop(d);
    let _ = std::fs::remove_file(&socket);
}

/// Item 5, where no bpffs outlives vrrpd: run in its own mount namespace with /sys/fs/bpf
/// unmounted, as pid 1 of its own pid namespace (so no ancestor's bpffs can be reached). XDP
/// is then attached through netlink, which needs no pin: after kill -9 it stays attached, a
/// restarted vrrpd replaces it, and SIGTERM detaches it.
#[test]
fn kill9_without_any_bpffs_leaves_xdp_attached_through_netlink() {
    if !lab::privileged("kill9_without_any_bpffs_leaves_xdp_attached_through_netlink") {
        return;
    }
    let ns = host();
    let dir = run_dir();
    let conf = config(&dir);
    let socket = dir.join("n.sock");
    let script = format!(
        "umount -l /sys/fs/bpf 2>/dev/null; exec {} run --config {} --control-socket {}",
        vrrpd(),
        conf.display(),
        socket.display()
    );
    let spawn = |log: &Path| {
        Child::spawn_in(
            &ns,
            &[
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
                "sh",
                "-c",
                &script,
            ],
            log,
        )
        .unwrap()
    };
    // The vrrpd process (the deepest of the tree), in our pid namespace.
    let vrrpd_pid = |c: &Child| {
        *lab::bench::process_tree(c.child.id())
            .last()
            .expect("a process")
    };
    let attached = || {
        ns.exec(&["ip", "-details", "link", "show", "eth0"])
            .contains("prog/xdp")
    };
    let log1 = dir.join("n1.log");
    let first = spawn(&log1);
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log1).unwrap_or_default()));
    let text = std::fs::read_to_string(&log1).unwrap();
    assert!(text.contains("XDP attached through netlink"), "{text}");
    assert!(attached());

    let pid = nix::unistd::Pid::from_raw(vrrpd_pid(&first) as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let mut first = first;
    assert!(first.wait_timeout(Duration::from_secs(5)).is_some());
    std::thread::sleep(Duration::from_millis(300));
    assert!(attached(), "XDP still attached after kill -9");

    let log2 = dir.join("n2.log");
    let second = spawn(&log2);
    wait_for(Duration::from_secs(5), || status(&socket, None).0)
        .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log2).unwrap_or_default()));
    let text = std::fs::read_to_string(&log2).unwrap();
    assert!(
        text.contains("took over the XDP program left by an earlier vrrpd"),
        "{text}"
    );
    let pid = nix::unistd::Pid::from_raw(vrrpd_pid(&second) as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut second = second;
    assert!(
        second
            .wait_timeout(Duration::from_secs(10))
            .is_some_and(|s| s.success()),
        "{}",
        std::fs::read_to_string(&log2).unwrap_or_default()
    );
    assert!(!attached(), "SIGTERM detached XDP");
}
