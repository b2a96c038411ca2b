//! Configuration changes: a reload (SIGHUP, `vrrpd reload`) and an interface created again.

use super::{Daemon, Frames, host, open_iface, usable_scripts};
use crate::{
    control::ReloadAnswer,
    controller::{self, Input},
};

impl<F: Frames> Daemon<F> {
    /// SIGHUP or `vrrpd reload`: reads the configuration again. A bad file, or one whose
    /// instances cannot run here, is refused with its diagnostics (logged, and in the answer)
    /// and the running configuration keeps serving.
    pub(super) async fn reload(&mut self) -> ReloadAnswer {
        let path = self.options.config.display().to_string();
        self.trim_due = true;
        let refused = |mut lines: Vec<String>| {
            lines.push(format!(
                "reload of {path} refused; the running configuration stays"
            ));
            for l in &lines {
                log::error!("{l}");
            }
            ReloadAnswer {
                applied: false,
                lines,
            }
        };
        let loaded = match crate::config::load(&self.options.config) {
            Ok(l) => l,
            Err(e @ crate::config::ConfigError::Io { .. }) => return refused(vec![e.to_string()]),
            Err(e) => {
                for w in e.warnings() {
                    log::warn!("{w}");
                }
                return refused(e.errors().iter().map(|d| d.to_string()).collect());
            }
        };
        let mut lines: Vec<String> = Vec::new();
        for w in &loaded.warnings {
            log::warn!("{w}");
            lines.push(w.to_string());
        }
        let mut config = loaded.config;
        crate::scripts::configure(&config);
        crate::fifo::configure(&config.global).await;
        usable_scripts(&mut config);
        crate::track_file::init_files(&config, true);
        for name in controller::interfaces(&config) {
            if self.ifaces.contains_key(&name) {
                continue;
            }
            match open_iface(&self.netlink, &name, &self.options, &config.global).await {
                Ok(iface) => {
                    self.ifaces.insert(name, iface);
                    self.status_dirty = true;
                }
                Err(e) => {
                    // The first instance on it, where the file names it.
                    let at = config
                        .instances
                        .iter()
                        .find(|i| i.interface == name)
                        .map_or(path.clone(), |i| i.source.to_string());
                    lines.push(format!("{at}: interface {name}: {e:#}"));
                    return refused(lines);
                }
            }
        }
        let host = host(&self.netlink, &self.ifaces, &config).await;
        self.feed(Input::Reload {
            config: Box::new(config),
            host,
        })
        .await;
        self.prune_adverts();
        match self.ctl.take_reload_outcome() {
            // The interfaces joined its adverts' groups (`Effect::JoinGroups`).
            Some(Ok(done)) => {
                lines.push(done);
                ReloadAnswer {
                    applied: true,
                    lines,
                }
            }
            // The controller logged it already.
            Some(Err(e)) => {
                lines.push(e);
                lines.push(format!(
                    "reload of {path} refused; the running configuration stays"
                ));
                ReloadAnswer {
                    applied: false,
                    lines,
                }
            }
            None => refused(lines),
        }
    }

    /// An interface deleted and created again under its name has a new index: the sockets,
    /// the XDP program and the maps of the old one are gone with it. It is opened anew (a
    /// severed pin replaced) and the controller restarts its instances, but only once it has
    /// the addresses they need: created by hand or by a script, an interface exists, unaddressed
    /// and down, for a moment. Until then its instances stay in FAULT (it counts as down) and
    /// this is tried again at the next link event or read. (Restarted on an interface without
    /// its address, they were refused and ran on against the new program's empty maps: the
    /// backups heard nothing and took over.)
    pub(super) async fn reopen_recreated(&mut self) {
        let mut recreated = Vec::new();
        for (name, iface) in &self.ifaces {
            if let Ok(link) = self.netlink.link(name).await
                && link.index != iface.link.index
            {
                recreated.push((name.clone(), iface.link.index, link.index));
            }
        }
        for (name, old, new) in recreated {
            self.trim_due = true;
            let iface = match open_iface(
                &self.netlink,
                &name,
                &self.options,
                &self.ctl.config().global,
            )
            .await
            {
                Ok(iface) => iface,
                Err(e) => {
                    let why = format!("{name}: created again, but not opened yet ({e:#})");
                    self.feed(Input::NotReopened { iface: name, why }).await;
                    continue;
                }
            };
            let previous = self.ifaces.insert(name.clone(), iface);
            let host = host(&self.netlink, &self.ifaces, self.ctl.config()).await;
            if let Err(e) = self.ctl.can_run_on(&host) {
                if let Some(previous) = previous {
                    self.ifaces.insert(name.clone(), previous);
                }
                let why = format!("{name}: created again (index {old} -> {new}); waiting: {e}");
                self.feed(Input::NotReopened { iface: name, why }).await;
                continue;
            }
            log::warn!("{name}: created again (index {old} -> {new}), opened anew");
            let config = self.ctl.config();
            self.unicast.retain(|instance, _| {
                !config
                    .instances
                    .iter()
                    .any(|i| i.name == *instance && i.interface == name)
            });
            self.feed(Input::Recreated {
                iface: name,
                config: Box::new(self.ctl.config().clone()),
                host,
            })
            .await;
        }
    }
}
