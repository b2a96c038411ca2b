//! `cargo xtask`: every developer task of the project, as one Rust program.
//!
//! Each subcommand says what it is doing before it does it. `setup` owns the toolchain
//! bootstrap (rust-src, bpf-linker built against the nightly's own LLVM, the Debian packages
//! the tests use); `build`, `test` and `demo` run it first when something is missing, so a fresh
//! clone on a fresh machine needs nothing but `cargo xtask test` or `cargo xtask demo`.

mod cmd;
mod package;
mod setup;
mod standalone;

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use crate::cmd::{cargo, run, say};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for vrrp")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what builds and tests need: rust-src, bpf-linker, Debian packages (idempotent).
    Setup {
        /// Only the Rust toolchain parts (rust-src, bpf-linker); no Debian packages.
        #[arg(long)]
        toolchain_only: bool,
    },
    /// Build vrrpd with its embedded XDP program.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Build vrrpd and run it with the given arguments, e.g. `cargo xtask run -- check --config F`.
    Run {
        #[arg(long)]
        release: bool,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Every check and test: fmt, clippy (host and BPF target), unit, kernel and namespace tests.
    Test {
        /// Skip the 2-minute `chaos` run that follows the tests (it is skipped too when a
        /// filter is given).
        #[arg(long)]
        no_chaos: bool,
        /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The tutorial's lab, narrated, in network namespaces.
    Demo,
    /// Benchmarks (see BENCHMARKS.md).
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The Debian package: vrrpd (release), its systemd unit, default config, man pages and
    /// shell completions, in target/package/vrrpd_VERSION_ARCH.deb.
    Package {
        /// Then prove it: systemd-analyze verify, install into a clean root without Rust,
        /// vrrpd --version, check and run there, purge.
        #[arg(long)]
        check: bool,
    },
    /// The controller's deterministic simulator (several hosts on one virtual LAN): replay one
    /// seed, or run many. `cargo xtask test` runs its 10,000 seeds as a unit test.
    Sim {
        /// Replay this seed (and say whether it keeps every invariant).
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// With --seed: print the seed's trace (configurations, faults, transitions, logs).
        #[arg(long, requires = "seed")]
        trace: bool,
        /// Run this many seeds (from --first); the first violation prints its trace.
        #[arg(long, default_value_t = 10_000)]
        seeds: u64,
        /// The first seed of --seeds.
        #[arg(long, default_value_t = 0)]
        first: u64,
    },
    /// Faults from a seeded schedule on a three-host lab while invariants are checked
    /// (RELIABILITY.md).
    Chaos {
        /// How long to inject faults.
        #[arg(long, default_value_t = 2.0)]
        minutes: f64,
        /// The schedule's seed (default: one picked and printed, to replay a failing run).
        #[arg(long)]
        seed: Option<u64>,
        /// Run Debian's keepalived instead of vrrpd, under the same schedule.
        #[arg(long)]
        keepalived: bool,
        /// Write the tables into RELIABILITY.md.
        #[arg(long)]
        record: bool,
    },
    /// Run every fuzz target for a bounded time (cargo-fuzz, libFuzzer).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Only this target (default: all of them).
        target: Option<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    std::env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    match cli.command {
        Command::Setup { toolchain_only } => setup::setup(&root, !toolchain_only),
        Command::Build { release } => build(&root, release).map(|_| ()),
        Command::Run { release, args } => {
            let bin = build(&root, release)?;
            say(&format!("running {} {}", bin.display(), args.join(" ")));
            run(std::process::Command::new(bin).args(args))
        }
        Command::Test { no_chaos, args } => {
            test(&root, &args)?;
            if !no_chaos && args.is_empty() {
                // A fixed seed, so that a CI failure replays with the command it prints;
                // `cargo xtask chaos` alone draws a fresh one.
                say(&format!(
                    "chaos: a 2-minute run of vrrpd, seed {CI_CHAOS_SEED} (skip: --no-chaos)"
                ));
                chaos(&root, 2.0, Some(CI_CHAOS_SEED), false, false)?;
            }
            Ok(())
        }
        Command::Demo => demo(&root),
        Command::Bench { args } => bench(&root, &args),
        Command::Package { check } => {
            setup::ensure(&root, check)?;
            let bin = build(&root, true)?;
            let deb = package::package(&root, &bin)?;
            if check {
                package::check(&root, &deb)?;
            }
            Ok(())
        }
        Command::Sim {
            seed,
            trace,
            seeds,
            first,
        } => sim(&root, seed, trace, seeds, first),
        Command::Fuzz { seconds, target } => fuzz(&root, seconds, target.as_deref()),
        Command::Chaos {
            minutes,
            seed,
            keepalived,
            record,
        } => chaos(&root, minutes, seed, keepalived, record),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(PathBuf::from)
        .context("xtask has no parent directory")
}

/// Builds vrrpd (and so the XDP program) and returns the binary's path.
fn build(root: &std::path::Path, release: bool) -> Result<PathBuf> {
    setup::ensure(root, false)?;
    say(&format!(
        "building vrrpd ({}) with the XDP program embedded",
        if release { "release" } else { "debug" }
    ));
    let mut c = cargo();
    c.args(["build", "--package", "vrrp-userspace", "--bin", "vrrpd"]);
    if release {
        c.arg("--release");
    }
    run(&mut c)?;
    Ok(root
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("vrrpd"))
}

fn test(root: &std::path::Path, extra: &[String]) -> Result<()> {
    let started = std::time::Instant::now();
    setup::ensure(root, true)?;
    let ci = std::env::var_os("CI").is_some();
    if !setup::is_root() {
        if ci {
            bail!(
                "CI is set but this is not root: the privileged tests (namespaces, XDP) must run in CI"
            );
        }
        say(
            "not root: the privileged tests (kernel test runs, namespaces) will report themselves skipped",
        );
    }

    say("cargo fmt --check");
    run(cargo().args(["fmt", "--all", "--check"]))?;

    say("clippy, host crates, warnings are errors");
    // The default members are the host crates; vrrp-ebpf builds only for the BPF target.
    run(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;

    say("clippy, the XDP program for bpfel-unknown-none (nightly), warnings are errors");
    run(setup::nightly_cargo()
        .current_dir(root.join("vrrp-ebpf"))
        .args([
            "clippy",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
            "--release",
            "--target-dir",
        ])
        .arg(root.join("target").join("ebpf-clippy"))
        .args(["--", "-D", "warnings"]))?;

    say("tests: unit, BPF object, kernel test runs, namespaces");
    let mut c = cargo();
    c.arg("test");
    if !extra.is_empty() {
        c.arg("--").args(extra);
    }
    let totals = cmd::run_counting_tests(&mut c)?;
    say(&format!(
        "{} tests passed, {} ignored, in {:.1} min (cargo xtask test, from the start)",
        totals.passed,
        totals.ignored,
        started.elapsed().as_secs_f64() / 60.0
    ));
    Ok(())
}

/// The simulator lives in vrrp-userspace's unit tests (`controller::sim`); the seeds and the
/// trace switch reach it through the environment.
fn sim(
    root: &std::path::Path,
    seed: Option<u64>,
    trace: bool,
    seeds: u64,
    first: u64,
) -> Result<()> {
    setup::ensure(root, false)?;
    let mut c = cargo();
    c.args(["test", "--package", "vrrp-userspace", "--lib", "--"]);
    match seed {
        Some(seed) => {
            say(&format!("simulator: replaying seed {seed}"));
            c.args([
                "controller::sim::tests::replay",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env("SIM_SEED", seed.to_string());
            if trace {
                c.env("SIM_TRACE", "1");
            }
        }
        None => {
            say(&format!("simulator: seeds {first}..{}", first + seeds));
            c.args([
                "controller::sim::tests::seeds_keep_every_invariant",
                "--exact",
                "--nocapture",
            ])
            .env("SIM_SEEDS", seeds.to_string())
            .env("SIM_FIRST", first.to_string());
        }
    }
    run(&mut c)
}

fn demo(root: &std::path::Path) -> Result<()> {
    // The lab runs ip, ethtool, arping and tcpdump: the Debian packages, not only the toolchain.
    setup::ensure(root, true)?;
    let bin = build(root, false)?;
    say("building the demo (the lab helpers of vrrp-userspace)");
    run(cargo().args(["build", "--package", "vrrp-userspace", "--example", "demo"]))?;
    let seed = root.join(TUTORIAL);
    if !seed.is_dir() {
        bail!("the tutorial's configs are missing from {}", seed.display());
    }
    say("running the tutorial's lab; Ctrl-C tears it down");
    run(
        std::process::Command::new(root.join("target/debug/examples/demo"))
            .arg(&seed)
            .arg(&bin),
    )
}

/// The seed of the chaos run in `cargo xtask test` (RELIABILITY.md's recorded runs use it too).
const CI_CHAOS_SEED: u64 = 2026;

/// The tutorial's keepalived.conf files, in the repository (lb01, lb02, their nopreempt
/// variants, the annotated one).
const TUTORIAL: &str = "examples/tutorial";

/// The benchmark suites, in the order `bench all` runs them, with what each measures.
const SUITES: [(&str, &str); 4] = [
    (
        "xdp",
        "each XDP path in the kernel (BPF_PROG_TEST_RUN) against an empty program",
    ),
    (
        "failover",
        "takeover and client outage after SIGTERM, SIGKILL, link down and silent loss, beside keepalived",
    ),
    (
        "flood",
        "invalid and forged adverts from an attacker at rising rates, beside keepalived",
    ),
    (
        "scale",
        "200 routers at 10 ms beside keepalived, the master's floor, 510 and 1,020 routers",
    ),
];

fn bench(root: &std::path::Path, args: &[String]) -> Result<()> {
    let suite = args.first().map(String::as_str).unwrap_or("all");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let chosen: Vec<(&str, &str)> = match suite {
        "all" => SUITES.to_vec(),
        name => match SUITES.iter().find(|(n, _)| *n == name) {
            Some(s) => vec![*s],
            None => bail!("unknown suite {name:?}: xdp, failover, flood, scale or all"),
        },
    };
    setup::ensure(root, true)?;
    let started = std::time::Instant::now();
    for (name, what) in chosen {
        say(&format!("bench {name}: {what}"));
        let t = std::time::Instant::now();
        let mut c = cargo();
        c.args([
            "bench",
            "--package",
            "vrrp-userspace",
            "--bench",
            name,
            "--",
        ]);
        c.args(&rest);
        run(&mut c)?;
        say(&format!(
            "bench {name} took {:.1} min",
            t.elapsed().as_secs_f64() / 60.0
        ));
    }
    say(&format!(
        "benchmarks done in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    ));
    Ok(())
}

/// `cargo xtask chaos`: builds vrrpd and the chaos harness (`vrrp-userspace/examples/chaos.rs`)
/// and runs it; it fails if an invariant was violated.
fn chaos(
    root: &std::path::Path,
    minutes: f64,
    seed: Option<u64>,
    keepalived: bool,
    record: bool,
) -> Result<()> {
    // The lab runs ip, ethtool, arping, ndisc6, nft and keepalived: the Debian packages too.
    setup::ensure(root, true)?;
    // vrrpd as it is deployed: a debug build reacts some 20 ms slower on this machine, which
    // alone can exceed the outage bound (Master_Down_Interval + 10 ms).
    let bin = build(root, true)?;
    say("building the chaos harness");
    // In the test profile and for the whole workspace, as `cargo test` builds the examples:
    // after `cargo xtask test`'s tests this finds the harness built (the dev profile would
    // build vrrp-userspace and its XDP object once more, a minute of CI).
    run(cargo().args(["build", "--profile", "test", "--example", "chaos"]))?;
    let mut c = std::process::Command::new(root.join("target/debug/examples/chaos"));
    c.arg(&bin).args(["--minutes", &minutes.to_string()]);
    if let Some(s) = seed {
        c.args(["--seed", &s.to_string()]);
    }
    if keepalived {
        c.arg("--keepalived");
    }
    if record {
        c.arg("--record");
    }
    say(&format!(
        "chaos: {} for {minutes} min",
        if keepalived { "keepalived" } else { "vrrpd" }
    ));
    run(&mut c)
}

fn fuzz(root: &std::path::Path, seconds: u64, only: Option<&str>) -> Result<()> {
    setup::ensure_cargo_fuzz()?;
    let fuzz_dir = root.join("fuzz");
    let targets: Vec<String> = match only {
        Some(t) => vec![t.to_string()],
        None => {
            let out = setup::nightly_cargo()
                .current_dir(&fuzz_dir)
                .args(["fuzz", "list"])
                .output()
                .context("cargo fuzz list")?;
            if !out.status.success() {
                bail!(
                    "cargo fuzz list failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            String::from_utf8(out.stdout)?
                .lines()
                .map(str::to_string)
                .collect()
        }
    };
    say("building the fuzz targets (nightly, sanitizers)");
    run(setup::nightly_cargo()
        .current_dir(&fuzz_dir)
        .args(["fuzz", "build"]))?;
    for t in &targets {
        say(&format!("fuzzing {t} for {seconds} s"));
        // libFuzzer reports every new input; keep its output unless the run fails, and then
        // show all of it.
        let out = setup::nightly_cargo()
            .current_dir(&fuzz_dir)
            .args([
                "fuzz",
                "run",
                t,
                "--",
                &format!("-max_total_time={seconds}"),
            ])
            .output()
            .with_context(|| format!("cargo fuzz run {t}"))?;
        let text = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{text}{}", String::from_utf8_lossy(&out.stdout));
            bail!("fuzz target {t} failed: {}", out.status);
        }
        for line in text.lines().filter(|l| l.starts_with("Done ")) {
            say(&format!("{t}: {line}"));
        }
    }
    say(&format!(
        "{} fuzz targets ran {seconds} s each without a crash",
        targets.len()
    ));
    Ok(())
}
