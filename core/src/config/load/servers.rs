//! The control plane's sections: `[inet_http_server]`,
//! `[unix_http_server]` and every `[rpcinterface:x]`. Builds on
//! [`super::reader`] only.

use std::collections::BTreeMap;

use super::reader::{Loader, s, section_suffix};
use crate::config::expand::Expansions;
use crate::config::model::*;
use crate::config::plugin_spec::BUILTIN_RPCINTERFACE;
use crate::config::types::{self};

impl Loader {
    pub(super) fn rpcinterfaces(&mut self) -> Vec<RpcInterfaceConfig> {
        const KEY: &str = "supervisor.rpcinterface_factory";
        let none = Expansions::new();
        let mut out = Vec::new();
        for section in self.sections_with_prefix("rpcinterface:") {
            let name = section_suffix(&section).to_string();
            let Some(factory) = self.get(&section, KEY, &none) else {
                if self.raw(&section, KEY).is_none() {
                    self.section_error(
                        &section,
                        format!("the section does not name its factory ({KEY} = LIBRARY:FACTORY)"),
                    );
                }
                continue;
            };
            let spec = self.check_factory(&section, KEY, &factory, BUILTIN_RPCINTERFACE);
            let keys: Vec<String> = self
                .ini
                .options(&section)
                .into_iter()
                .map(|e| e.key.clone())
                .filter(|k| k != KEY)
                .collect();
            let mut extras = BTreeMap::new();
            for key in keys {
                if let Some(v) = self.get(&section, &key, &none) {
                    extras.insert(key, v.text);
                }
            }
            let dir = self.section_dir(&section);
            out.push(RpcInterfaceConfig {
                name,
                factory: spec,
                extras,
                dir,
            });
        }
        out
    }

    pub(super) fn servers(&mut self) -> (Vec<InetHttpServerConfig>, Vec<UnixHttpServerConfig>) {
        let none = Expansions::new();
        let mut inet = Vec::new();
        for section in self.sections_with_prefix("inet_http_server") {
            let credentials = self.credentials(&section);
            let limits = self.server_limits(&section);
            let Some(port) = self.get(&section, "port", &none) else {
                if self.raw(&section, "port").is_none() {
                    self.section_error(
                        &section,
                        "the section has no port option ([host:]port to listen on)".to_string(),
                    );
                }
                continue;
            };
            match types::inet_address(&port.text) {
                Ok((host, number)) => inet.push(InetHttpServerConfig {
                    section: section.clone(),
                    host,
                    port: number,
                    credentials,
                    limits,
                }),
                Err(e) => self.error_at(&section, "port", Some(&port), e.ours),
            }
        }
        let mut unix = Vec::new();
        let mut here = Expansions::new();
        here.insert("here".into(), s(self.here_str()));
        for section in self.sections_with_prefix("unix_http_server") {
            let Some(file) = self.get(&section, "file", &here) else {
                if self.raw(&section, "file").is_none() {
                    self.section_error(
                        &section,
                        "the section has no file option (the socket path)".to_string(),
                    );
                }
                continue;
            };
            let path = types::normalize_path(&types::expand_user(
                file.text.trim_matches(char::is_whitespace),
            ));
            let credentials = self.credentials(&section);
            let limits = self.server_limits(&section);
            let chown = self.typed_opt(&section, "chown", &none, types::owner);
            let chmod = self.typed(&section, "chmod", &none, 0o700, types::octal);
            unix.push(UnixHttpServerConfig {
                section: section.clone(),
                file: path,
                chmod,
                chown,
                credentials,
                limits,
            });
        }
        (inet, unix)
    }

    /// Our limit keys of a server section; each a positive whole number
    /// (`max_request_bytes` also takes KB, MB or GB).
    fn server_limits(&mut self, section: &str) -> ServerLimits {
        let none = Expansions::new();
        let positive = |value: &str| {
            types::integer(value).and_then(|n| {
                u64::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| types::BadValue {
                        ours: "must be a whole number greater than 0".into(),
                        python: format!("{value} is not greater than 0"),
                    })
            })
        };
        let size = |value: &str| {
            types::byte_size(value).and_then(|n| {
                if n > 0 {
                    Ok(n)
                } else {
                    Err(types::BadValue {
                        ours: "must be a byte size greater than 0".into(),
                        python: format!("{value} is not greater than 0"),
                    })
                }
            })
        };
        ServerLimits {
            max_connections: self
                .typed_opt(section, "max_connections", &none, positive)
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            max_request_bytes: self.typed_opt(section, "max_request_bytes", &none, size),
            header_timeout: self.typed_opt(section, "header_timeout", &none, positive),
            idle_timeout: self.typed_opt(section, "idle_timeout", &none, positive),
        }
    }
}
