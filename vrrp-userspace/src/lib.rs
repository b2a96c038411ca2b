//! vrrpd: keepalived's VRRP, with the advert receive path and the ARP responder in XDP.
//!
//! Modules follow `docs/architecture.md`: `wire` (packet views and representations), `config`
//! (one model, keepalived.conf and TOML front ends) and `dataplane` (the embedded XDP program).

pub mod config;
pub mod control;
pub mod controller;
pub mod daemon;
pub mod dataplane;
pub mod fifo;
pub mod frames;
pub mod fsm;
#[cfg(feature = "lab")]
pub mod lab;
pub mod logging;
pub mod metrics;
pub mod netlink;
pub mod scripts;
pub mod status;
pub mod sync;
pub mod systemd;
pub mod track;
pub mod track_file;
pub mod track_process;
pub mod tx;
pub mod units;
pub mod wire;
