//! Configuration changes: a reload's file read (SIGHUP, `vrrpd reload`) and an interface
//! created again.

use super::{Daemon, Frames, host, iface_info, open_iface, open_missing};
use crate::{config::ConfigError, controller::Input};

impl<F: Frames> Daemon<F> {
    /// [`crate::controller::Effect::LoadConfig`]: reads the configuration file again and opens the
    /// interfaces it names that are not open yet; what was found, for the controller, which
    /// applies it or refuses it and answers.
    pub(super) async fn load(&mut self) -> Input {
        let path = self.options.config.display().to_string();
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
        let unopened = open_missing(&self.netlink, &mut self.ifaces, &config, &self.options).await;
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
    /// severed pin replaced) and offered to the controller ([`Input::Recreated`]), which
    /// adopts it once its instances can run on it (it has their addresses) and restarts them;
    /// or, if it cannot be opened yet, reported ([`Input::NotReopened`]). Either way tried
    /// again at the next link event or read until adopted.
    pub(super) async fn recreated(&mut self) -> Vec<Input> {
        let mut found = Vec::new();
        for (name, iface) in &self.ifaces {
            if let Ok(link) = self.netlink.link(name).await
                && link.index != iface.link.index
            {
                found.push((name.clone(), iface.link.index, link.index));
            }
        }
        let mut inputs = Vec::new();
        for (name, old, new) in found {
            match open_iface(&self.netlink, &name, &self.options).await {
                Ok(iface) => {
                    let mut host = host(&self.netlink, &self.ifaces, &self.ctl.config()).await;
                    let info = iface_info(&self.netlink, &name, iface.link.index).await;
                    host.ifaces.insert(name.clone(), info);
                    self.reopened.insert(name.clone(), iface);
                    inputs.push(Input::Recreated { iface: name, host });
                }
                Err(e) => {
                    let why = format!(
                        "{name}: created again (index {old} -> {new}), but not opened yet ({e:#})"
                    );
                    inputs.push(Input::NotReopened { iface: name, why });
                }
            }
        }
        inputs
    }
}
