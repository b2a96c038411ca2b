//! Configuration changes: a reload's file read (SIGHUP, `vrrpd reload`) and an interface
//! created again.

use std::collections::BTreeMap;

use super::{Daemon, Frames, host, open_iface};
use crate::{
    config::ConfigError,
    controller::{self, Input},
};

impl<F: Frames> Daemon<F> {
    /// [`controller::Effect::LoadConfig`]: reads the configuration file again and opens the
    /// interfaces it names that are not open yet; what was found, for the controller, which
    /// applies it or refuses it and answers.
    pub(super) async fn load(&mut self) -> Input {
        let path = self.options.config.display().to_string();
        self.trim_due = true;
        let diagnostics =
            |d: &[crate::config::Diagnostic]| d.iter().map(|d| d.to_string()).collect();
        let (loaded, warnings) = match crate::config::load(&self.options.config) {
            Ok(l) => (l.config, diagnostics(&l.warnings)),
            Err(e @ ConfigError::Io { .. }) => {
                let loaded = Err(vec![e.to_string()]);
                return Input::Loaded {
                    path,
                    warnings: Vec::new(),
                    loaded,
                };
            }
            Err(e) => {
                let (loaded, warnings) = (Err(diagnostics(e.errors())), diagnostics(e.warnings()));
                return Input::Loaded {
                    path,
                    warnings,
                    loaded,
                };
            }
        };
        let config = loaded;
        crate::scripts::configure(&config);
        crate::fifo::configure(&config.global).await;
        crate::track_file::init_files(&config, true);
        let mut unopened = BTreeMap::new();
        for name in controller::interfaces(&config) {
            if self.ifaces.contains_key(&name) {
                continue;
            }
            match open_iface(&self.netlink, &name, &self.options, &config.global).await {
                Ok(iface) => {
                    self.ifaces.insert(name, iface);
                }
                Err(e) => {
                    // The reload is refused: the others need not be opened.
                    unopened.insert(name, format!("{e:#}"));
                    break;
                }
            }
        }
        let mut host = host(&self.netlink, &self.ifaces, &config).await;
        host.unopened = unopened;
        Input::Loaded {
            path,
            warnings,
            loaded: Ok(Box::new((config, host))),
        }
    }

    /// An interface deleted and created again under its name has a new index: the sockets,
    /// the XDP program and the maps of the old one are gone with it. It is opened anew (a
    /// severed pin replaced) and the controller restarts its instances, but only once it has
    /// the addresses they need (the controller's decision): created by hand or by a script, an
    /// interface exists, unaddressed and down, for a moment. Until then its instances stay in
    /// FAULT (it counts as down) and this is tried again at the next link event or read. (Restarted on an interface without
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
                    let why = format!(
                        "{name}: created again (index {old} -> {new}), but not opened yet ({e:#})"
                    );
                    self.feed(Input::NotReopened { iface: name, why }).await;
                    continue;
                }
            };
            let mut host = host(&self.netlink, &self.ifaces, self.ctl.config()).await;
            host.ifaces.insert(name.clone(), iface.info.clone());
            // Adopted if the controller says so (`Effect::AdoptIface`); dropped otherwise, the
            // old one kept, so that the next link event or read tries again.
            self.reopened = Some(iface);
            self.feed(Input::Recreated { iface: name, host }).await;
            self.reopened = None;
        }
    }
}
