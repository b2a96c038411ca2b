//! vrrpd: the daemon and its command line.
//!
//! One small function per subcommand; add a variant to [`Command`] and a function to add one.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use vrrp_userspace::config::{self, Auth, Config, ConfigError, Diagnostic, Loaded};

/// keepalived's VRRP with the receive path and the ARP responder in XDP.
#[derive(Debug, Parser)]
#[command(name = "vrrpd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a configuration (keepalived.conf or vrrpd TOML) and summarise what would run.
    Check {
        /// The configuration file.
        #[arg(short, long)]
        config: PathBuf,
        /// Treat unknown or unsupported keywords as errors.
        #[arg(long)]
        strict: bool,
        /// keepalived's config id: keep lines `@ID …`, drop `@^ID …` (default: the host name
        /// up to its first dot, as keepalived).
        #[arg(short = 'i', long)]
        config_id: Option<String>,
    },
    /// Run the daemon in the foreground (logs to stderr, or syslog with --syslog).
    #[command(after_long_help = RUN_HELP)]
    Run {
        /// The configuration file (keepalived.conf or vrrpd TOML, detected from the content).
        #[arg(short, long)]
        config: PathBuf,
        /// The control socket (default: one per network namespace under /run/vrrpd).
        #[arg(long)]
        control_socket: Option<PathBuf>,
        /// Write the process id here.
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Where XDP links are pinned, so the program outlives the daemon.
        #[arg(long, default_value = vrrp_userspace::dataplane::DEFAULT_PIN_ROOT)]
        pin_root: PathBuf,
        /// Log to syslog with this facility: local0..local7, daemon or user, or keepalived's
        /// -S number 0..7 for local0..local7.
        #[arg(
            short = 'S',
            long,
            visible_alias = "log-facility",
            value_name = "FACILITY"
        )]
        syslog: Option<String>,
        /// The syslog socket (with -S).
        #[arg(long, value_name = "PATH", default_value = vrrp_userspace::logging::DEFAULT_SYSLOG_SOCKET)]
        syslog_socket: PathBuf,
        /// Detailed log (keepalived's -D): debug lines, each naming the part of vrrpd that
        /// speaks.
        #[arg(short = 'D', long)]
        log_detail: bool,
        /// Dump the configuration as read (after keepalived's fix-ups) to the log at start
        /// (keepalived's -d).
        #[arg(short = 'd', long)]
        dump_conf: bool,
        /// keepalived's config id: keep lines `@ID …`, drop `@^ID …` (default: the host name
        /// up to its first dot, as keepalived); reloads use it too.
        #[arg(short = 'i', long)]
        config_id: Option<String>,
        /// Serve Prometheus metrics (GET /metrics) on this address, e.g. 127.0.0.1:9650 or
        /// [::]:9650 (off by default).
        #[expect(
            rustdoc::broken_intra_doc_links,
            reason = "[::] in the help is an address"
        )]
        #[arg(long, value_name = "ADDR:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
    /// Show each instance: its state since when and why, its transitions of the last hour, the
    /// master, adverts, XDP counters, split brains and conflicts, sync group and tracking.
    Status {
        /// The control socket of the daemon to ask.
        #[arg(long)]
        control_socket: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Ask again and redraw the screen every --interval seconds, until Ctrl-C.
        #[arg(short, long)]
        watch: bool,
        /// Seconds between two redraws with --watch.
        #[arg(long, default_value_t = 1.0, value_name = "S", requires = "watch")]
        interval: f64,
    },
    /// Follow the daemon's events as they happen, one a line, until Ctrl-C: transitions with
    /// their reasons, sync groups, split brains, interval mismatches, address conflicts and
    /// script results.
    ///
    /// A reader that falls far behind loses the oldest events and is told how many ("dropped N
    /// events"); the daemon never waits for it.
    Events {
        /// The control socket of the daemon to ask.
        #[arg(long)]
        control_socket: Option<PathBuf>,
        /// Print each event as one JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Make the running daemon read its configuration again and print what changed.
    ///
    /// As SIGHUP, but answered once the daemon has applied the file (what changed) or refused
    /// it (each error with file:line, exit status 2; the running configuration keeps serving).
    Reload {
        /// The control socket of the daemon to ask.
        #[arg(long)]
        control_socket: Option<PathBuf>,
    },
    /// Convert a configuration (usually a keepalived.conf) to vrrpd's TOML.
    Convert {
        /// The configuration file.
        #[arg(short, long)]
        config: PathBuf,
        /// Where to write the TOML (standard output if absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write the man pages and shell completions into a directory (for packaging).
    #[command(hide = true)]
    GenerateDocs {
        /// The directory: man8/*.8 and completions/{vrrpd.bash,_vrrpd,vrrpd.fish} go in it.
        out: PathBuf,
    },
}

/// The signals and files of `vrrpd run`, for `--help` and the man page.
const RUN_HELP: &str = "\
Signals:
  SIGHUP   reload (as `vrrpd reload`, which also prints the outcome);
           a bad file is refused, the old one keeps serving
  SIGTERM  priority 0, hand over, remove the VIPs, exit 0 (or SIGINT)

Under systemd (Type=notify): READY=1 after startup, STATUS= with
the instances' states, WATCHDOG=1 from the main loop.

Files:
  /etc/vrrpd/vrrpd.conf         the packaged configuration
  /etc/default/vrrpd            VRRPD_CONFIG, VRRPD_OPTIONS
  /run/vrrpd/netns<inode>.sock  the control socket (vrrpd status, events, reload)
  /sys/fs/bpf/vrrpd/            the pinned XDP and tc links";

/// Exit status for a configuration that is refused.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Run {
            syslog: Some(_), ..
        } => {}
        Command::Run { log_detail, .. } => vrrp_userspace::logging::init_stderr(*log_detail),
        // Nothing `vrrpd status` does logs (its errors are printed): run in a tight loop, it
        // starts without setting up a logger.
        Command::Status { .. } => {}
        _ => vrrp_userspace::logging::init_stderr(false),
    }
    let result = match cli.command {
        Command::Check {
            config,
            strict,
            config_id,
        } => {
            if let Some(id) = config_id {
                config::set_config_id(id);
            }
            check(&config, strict)
        }
        Command::Convert { config, output } => convert(&config, output.as_deref()),
        Command::Run {
            config,
            control_socket,
            pid_file,
            pin_root,
            syslog,
            config_id,
            syslog_socket,
            log_detail,
            dump_conf,
            metrics_listen,
        } => {
            // Set once for the process, so that a SIGHUP reload reads `@ID` lines alike.
            if let Some(id) = config_id {
                config::set_config_id(id);
            }
            let log = LogOptions {
                syslog,
                syslog_socket,
                detail: log_detail,
                dump_conf,
            };
            run(
                &config,
                control_socket,
                pid_file,
                pin_root,
                metrics_listen,
                log,
            )
        }
        Command::GenerateDocs { out } => generate_docs(&out),
        Command::Status {
            control_socket,
            json,
            watch,
            interval,
        } => status(control_socket, json, watch.then_some(interval)),
        Command::Events {
            control_socket,
            json,
        } => events(control_socket, json),
        Command::Reload { control_socket } => reload(control_socket),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Load a configuration, printing warnings; `Err` holds the exit code after printing errors.
fn load(path: &Path, strict: bool) -> Result<Loaded, ExitCode> {
    let loaded = config::load(path).and_then(|l| if strict { l.strict() } else { Ok(l) });
    match loaded {
        Ok(l) => {
            print_diagnostics(&l.warnings);
            Ok(l)
        }
        Err(e @ ConfigError::Io { .. }) => {
            eprintln!("{e}");
            Err(ExitCode::from(EXIT_CONFIG))
        }
        Err(e) => {
            print_diagnostics(e.warnings());
            print_diagnostics(e.errors());
            let n = e.errors().len();
            eprintln!(
                "error: {} refused ({n} error{})",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

fn print_diagnostics(ds: &[Diagnostic]) {
    for d in ds {
        eprintln!("{d}");
    }
}

fn check(path: &Path, strict: bool) -> anyhow::Result<ExitCode> {
    let loaded = match load(path, strict) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    // What keepalived says about the scripts when it loads the file (users, unsafe paths).
    for note in vrrp_userspace::scripts::check(&loaded.config) {
        eprintln!("{}: scripts: {note}", path.display());
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{}", summary(&loaded.config))?;
    // Every keyword accepted without effect, and why (also among the warnings above).
    let no_effect: Vec<&Diagnostic> = loaded
        .warnings
        .iter()
        .filter(|w| w.category == config::Category::NoEffect)
        .collect();
    if !no_effect.is_empty() {
        writeln!(out, "accepted without effect ({}):", no_effect.len())?;
        for w in no_effect {
            let at = w
                .location
                .as_ref()
                .map_or(String::new(), |l| format!("{l}: "));
            writeln!(out, "  {at}{}", w.message)?;
        }
    }
    writeln!(
        out,
        "{}: OK, {} instance(s), {} warning(s)",
        path.display(),
        loaded.config.instances.len(),
        loaded.warnings.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn convert(path: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match load(path, false) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let text = format!(
        "# vrrpd configuration converted from {}\n{}",
        path.display(),
        config::toml::to_string(&loaded.config)
    );
    match output {
        Some(o) => std::fs::write(o, text).with_context(|| format!("writing {}", o.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What `check` prints: one paragraph per instance.
fn summary(config: &Config) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if let Some(id) = &config.global.router_id {
        let _ = writeln!(s, "router_id {id}");
    }
    let _ = writeln!(
        s,
        "{}",
        if config.global.vrrpd_exclusive {
            "vrrpd_exclusive: adverts for VRIDs not configured here are dropped (unknown_vrid)"
        } else {
            "adverts for VRIDs not configured here are passed on for other VRRP speakers \
             (keepalived); say vrrpd_exclusive in global_defs if vrrpd is the only one"
        }
    );
    for i in &config.instances {
        let _ = writeln!(
            s,
            "instance {} ({}): interface {}, VRID {}, VRRPv{} {}",
            i.name,
            i.source,
            i.interface,
            i.vrid,
            i.version,
            i.family()
        );
        let _ = writeln!(
            s,
            "  state {}, priority {}{}, advert interval {}, preempt {}{}",
            i.state,
            i.priority,
            if i.priority.is_owner() {
                " (address owner)"
            } else {
                ""
            },
            i.advert_interval,
            if i.preempt { "yes" } else { "no" },
            if i.preempt_delay.get() > 0 {
                format!(" after {}", i.preempt_delay)
            } else {
                String::new()
            }
        );
        let auth = match i.auth {
            Auth::Pass { .. } => "PASS (8 bytes)".to_string(),
            a => a.to_string(),
        };
        let _ = writeln!(
            s,
            "  auth {auth}, accept {}, v3 IPv4 checksum {:?}",
            if i.accept { "yes" } else { "no" },
            i.v3_checksum
        );
        for v in &i.vips {
            let _ = writeln!(s, "  VIP {v}");
        }
        for v in &i.excluded_vips {
            let _ = writeln!(s, "  excluded VIP {v}");
        }
        for r in &i.routes {
            let _ = writeln!(s, "  virtual route {r}");
        }
        for r in &i.rules {
            let _ = writeln!(s, "  virtual rule {r}");
        }
        if !i.unicast_peers.is_empty() {
            let peers: Vec<String> = i.unicast_peers.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(s, "  unicast peers {}", peers.join(", "));
        }
        for t in &i.track_interfaces {
            let _ = writeln!(s, "  track interface {} weight {}", t.interface, t.weight);
        }
        if let Some(c) = &i.notify.split_brain {
            let _ = writeln!(
                s,
                "  notify_split_brain {:?} (ours, not keepalived's, which logs \"Unknown \
                 keyword\" and ignores it): run once per split brain with <instance> <peer \
                 address> <peer MAC>",
                c.command
            );
        }
        for t in &i.track_scripts {
            let script = config.script(&t.script);
            let weight = t.weight.or(script.map(|s| s.weight)).unwrap_or(0);
            let _ = writeln!(
                s,
                "  track script {} weight {weight}{}",
                t.script,
                script.map_or(String::new(), |s| format!(" ({})", s.command))
            );
        }
        for t in &i.track_files {
            let file = config.track_file(&t.file);
            let weight = t.weight.or(file.map(|f| f.weight)).unwrap_or(1);
            let reverse = t.reverse.or(file.map(|f| f.reverse)).unwrap_or(false);
            let _ = writeln!(
                s,
                "  track file {} weight {weight}{}{}",
                t.file,
                if reverse { " reverse" } else { "" },
                file.map_or(String::new(), |f| format!(" ({})", f.path))
            );
        }
        for t in &i.track_processes {
            let p = config.track_process(&t.process);
            let weight = t.weight.or(p.map(|p| p.weight)).unwrap_or(0);
            let reverse = t.reverse.or(p.map(|p| p.reverse)).unwrap_or(false);
            let _ = writeln!(
                s,
                "  track process {} weight {weight}{}{}",
                t.process,
                if reverse { " reverse" } else { "" },
                p.map_or(String::new(), |p| format!(
                    " ({}, quorum {}..{})",
                    std::iter::once(p.process.as_str())
                        .chain(p.params.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" "),
                    p.quorum,
                    p.quorum_max
                ))
            );
        }
    }
    for g in &config.sync_groups {
        let _ = writeln!(s, "sync group {}: {}", g.name, g.instances.join(", "));
    }
    for v in &config.static_addresses {
        let _ = writeln!(s, "static address {v}");
    }
    for r in &config.static_routes {
        let _ = writeln!(s, "static route {r}");
    }
    for r in &config.static_rules {
        let _ = writeln!(s, "static rule {r}");
    }
    s
}

/// `vrrpd run`'s logging flags (keepalived's -S, -D, -d).
struct LogOptions {
    syslog: Option<String>,
    syslog_socket: PathBuf,
    detail: bool,
    dump_conf: bool,
}

fn run(
    path: &Path,
    control_socket: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    pin_root: PathBuf,
    metrics_listen: Option<std::net::SocketAddr>,
    log: LogOptions,
) -> anyhow::Result<ExitCode> {
    vrrp_userspace::daemon::bound_heap();
    if let Some(facility) = &log.syslog {
        vrrp_userspace::logging::init_syslog(facility, &log.syslog_socket, log.detail)?;
    }
    // The warnings, printed, are dropped here: they would have lived as long as the daemon
    // (200 KB for the 510 of a configuration of 1,020 routers).
    let config = match load(path, false) {
        Ok(l) => l.config,
        Err(code) => return Ok(code),
    };
    // One vrrpd per network namespace: before anything of the running one's is touched.
    let _lock = vrrp_userspace::control::NamespaceLock::acquire()?;
    let _pid_file = pid_file
        .as_deref()
        .map(vrrp_userspace::control::PidFile::create)
        .transpose()?;
    if log.dump_conf {
        dump_conf(path, &config);
    }
    let options = vrrp_userspace::daemon::RunOptions {
        config: path.to_path_buf(),
        control_socket: control_socket.unwrap_or_else(vrrp_userspace::control::default_path),
        pin_root,
        exclusive: config.global.vrrpd_exclusive,
        metrics_listen,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let started = vrrp_userspace::daemon::Daemon::<vrrp_userspace::frames::WireFrames>::start(
            config, options,
        )
        .await;
        let daemon = match started {
            Ok(daemon) => daemon,
            // What a reload of this file would be refused for (an interface that cannot be
            // opened, an instance without its address): before startup completes, an error in
            // the file, as keepalived exits with one.
            Err(e) => match e.downcast_ref::<vrrp_userspace::daemon::Refused>() {
                Some(refused) => {
                    log::error!("{refused}");
                    log::error!("{} refused; vrrpd does not start", path.display());
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
                None => return Err(e),
            },
        };
        daemon.run().await.map(|()| ExitCode::SUCCESS)
    })
}

/// keepalived's -d: the configuration as read, one log line per line of its TOML form (every
/// setting after keepalived's fix-ups, in the form `vrrpd convert` writes).
fn dump_conf(path: &Path, config: &Config) {
    log::info!("configuration read from {}:", path.display());
    for line in config::toml::to_string(config).lines() {
        if !line.is_empty() {
            log::info!("  {line}");
        }
    }
}

/// The man pages (vrrpd(8) and one per subcommand) and the bash, zsh and fish completions,
/// from the command line's own definition.
fn generate_docs(out: &Path) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory as _;
    let man = out.join("man8");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let cmd = Cli::command().disable_help_subcommand(true);
    let write_page = |name: &str, cmd: clap::Command| -> anyhow::Result<()> {
        let path = man.join(format!("{name}.8"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).section("8").render(&mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))
    };
    write_page("vrrpd", cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = format!("vrrpd-{}", sub.get_name());
        write_page(
            &name,
            sub.clone()
                .display_name(name.clone())
                .bin_name(name.replace('-', " "))
                // The page's footer: vrrpd's version, not the subcommand's name.
                .version(env!("CARGO_PKG_VERSION")),
        )?;
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "vrrpd"),
        (clap_complete::Shell::Zsh, "_vrrpd"),
        (clap_complete::Shell::Fish, "vrrpd.fish"),
    ] {
        let path = completions.join(file);
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "vrrpd", &mut buf);
        std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn status(
    control_socket: Option<PathBuf>,
    json: bool,
    watch: Option<f64>,
) -> anyhow::Result<ExitCode> {
    use vrrp_userspace::{control, status::Format};
    let path = control_socket.unwrap_or_else(control::default_path);
    let format = if json { Format::Json } else { Format::Text };
    let Some(interval) = watch else {
        // Written as the daemon wrote it: the command parses nothing.
        let answer = control::query_written(&path, format)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&answer)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    if !interval.is_finite() || interval < 0.1 {
        anyhow::bail!("--interval must be at least 0.1 s");
    }
    loop {
        // Written whole, then shown: the screen never shows half a status.
        let mut buf = Vec::new();
        write!(
            buf,
            "\x1b[H\x1b[2Jvrrpd status every {interval} s ({}), Ctrl-C to stop\n\n",
            vrrp_userspace::status::rfc3339(std::time::SystemTime::now())
        )?;
        match control::query_written(&path, format) {
            Ok(answer) => buf.extend_from_slice(&answer),
            Err(e) => writeln!(buf, "{e:#}; asking again")?,
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&buf)?;
        out.flush()?;
        drop(out);
        std::thread::sleep(std::time::Duration::from_secs_f64(interval));
    }
}

fn events(control_socket: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let path = control_socket.unwrap_or_else(vrrp_userspace::control::default_path);
    let followed = vrrp_userspace::control::follow_events(&path, |line| {
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{line}")?;
        } else {
            let v: serde_json::Value =
                serde_json::from_str(line).context("reading an event from the daemon")?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_string();
            writeln!(out, "{} {}", field("time"), field("message"))?;
        }
        out.flush()?;
        Ok(true)
    });
    match followed {
        Ok(()) => {}
        // `vrrpd events | head`: the reader left, which is fine.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e),
    }
    eprintln!("the daemon closed the event stream (stopped?)");
    Ok(ExitCode::SUCCESS)
}

fn reload(control_socket: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = control_socket.unwrap_or_else(vrrp_userspace::control::default_path);
    let answer = vrrp_userspace::control::reload(&path)?;
    if answer.applied {
        let mut out = std::io::stdout().lock();
        for line in &answer.lines {
            writeln!(out, "{line}")?;
        }
        Ok(ExitCode::SUCCESS)
    } else {
        for line in &answer.lines {
            eprintln!("{line}");
        }
        Ok(ExitCode::from(EXIT_CONFIG))
    }
}
