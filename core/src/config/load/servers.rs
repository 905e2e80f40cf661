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
        const TIMEOUT: &str = "supervisor.call_timeout";
        let none = Expansions::new();
        let mut out = Vec::new();
        let default_timeout = self
            .typed_opt(
                "supervisord",
                "plugin_call_timeout",
                &none,
                positive_seconds,
            )
            .unwrap_or(DEFAULT_PLUGIN_CALL_TIMEOUT);
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
                .filter(|k| k != KEY && k != TIMEOUT)
                .collect();
            let builtin = spec == BUILTIN_RPCINTERFACE;
            let own_timeout = self.typed_opt(&section, TIMEOUT, &none, positive_seconds);
            if builtin && own_timeout.is_some() {
                let value = self.get(&section, TIMEOUT, &none);
                self.error_at(
                    &section,
                    TIMEOUT,
                    value.as_ref(),
                    "the builtin supervisor namespace takes no call timeout (its waits have their own bounds)"
                        .to_string(),
                );
            }
            let call_timeout = (!builtin)
                .then(|| std::time::Duration::from_secs(own_timeout.unwrap_or(default_timeout)));
            let mut extras = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(v) = self.get(&section, &key, &none) {
                    extras.push((key, v.text));
                }
            }
            let dir = self.section_dir(&section);
            out.push(RpcInterfaceConfig {
                name,
                factory: spec,
                extras,
                dir,
                call_timeout,
            });
        }
        out
    }

    pub(super) fn servers(&mut self) -> (Vec<InetHttpServerConfig>, Vec<UnixHttpServerConfig>) {
        let none = Expansions::new();
        let users = self.http_users();
        let mut inet = Vec::new();
        for section in self.sections_with_prefix("inet_http_server") {
            let credentials = self.credentials(&section);
            self.check_password(&section, credentials.as_ref());
            let limits = self.server_limits(&section);
            let accepted = self.server_users(&section, credentials.as_ref(), &users);
            let tls = self.tls_paths(&section);
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
                    tls,
                    credentials,
                    limits,
                    users: accepted,
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
            self.check_password(&section, credentials.as_ref());
            let limits = self.server_limits(&section);
            let accepted = self.server_users(&section, credentials.as_ref(), &users);
            let chown = self.typed_opt(&section, "chown", &none, types::owner);
            let chmod = self.typed(&section, "chmod", &none, 0o700, types::octal);
            unix.push(UnixHttpServerConfig {
                section: section.clone(),
                file: path,
                chmod,
                chown,
                credentials,
                limits,
                users: accepted,
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

    /// `tls_cert` and `tls_key` (both or neither), `tls_client_ca` (only
    /// with them); paths relative to the config file's directory.
    fn tls_paths(&mut self, section: &str) -> Option<TlsPaths> {
        let mut here = Expansions::new();
        here.insert("here".into(), s(self.here_str()));
        let path = |loader: &mut Loader, key: &str| {
            loader.get(section, key, &here).map(|value| {
                let text = types::expand_user(value.text.trim());
                let absolute = if text.is_absolute() {
                    text
                } else {
                    loader.section_dir(section).join(text)
                };
                (types::normalize_path(&absolute), value)
            })
        };
        let cert = path(self, "tls_cert");
        let key = path(self, "tls_key");
        let client_ca = path(self, "tls_client_ca");
        match (cert, key) {
            (Some((cert, _)), Some((key, _))) => Some(TlsPaths {
                cert,
                key,
                client_ca: client_ca.map(|(path, _)| path),
            }),
            (None, None) => {
                if let Some((_, value)) = client_ca {
                    self.error_at(
                        section,
                        "tls_client_ca",
                        Some(&value),
                        "tls_client_ca needs tls_cert and tls_key".to_string(),
                    );
                }
                None
            }
            (Some((_, value)), None) => {
                self.error_at(
                    section,
                    "tls_cert",
                    Some(&value),
                    "tls_cert needs tls_key".to_string(),
                );
                None
            }
            (None, Some((_, value))) => {
                self.error_at(
                    section,
                    "tls_key",
                    Some(&value),
                    "tls_key needs tls_cert".to_string(),
                );
                None
            }
        }
    }

    /// A server's own password, if argon2, must be a PHC string we can
    /// verify (the reference would take it as a plain password).
    fn check_password(&mut self, section: &str, credentials: Option<&Credentials>) {
        let Some(problem) = credentials.and_then(|c| argon2_problem(&c.password)) else {
            return;
        };
        let none = Expansions::new();
        let value = self.get(section, "password", &none);
        self.error_at(section, "password", value.as_ref(), problem);
    }

    /// Every `[http_user:NAME]` section, checked whether a server uses it
    /// or not.
    fn http_users(&mut self) -> BTreeMap<String, HttpUser> {
        let none = Expansions::new();
        let mut users = BTreeMap::new();
        for section in self.sections_with_prefix("http_user:") {
            let name = section_suffix(&section).to_string();
            if name.is_empty() || name.contains(':') {
                self.section_error(
                    &section,
                    format!(
                        "invalid user name {name:?}: it must be non-empty and without ':' (Basic auth ends the name at the first ':')"
                    ),
                );
                continue;
            }
            let password = self.get(&section, "password", &none);
            let role = self.get(&section, "role", &none);
            let read_only = match role.as_ref().map(|r| r.text.trim()) {
                None | Some("read-only") => true,
                Some("admin") => false,
                Some(_) => {
                    self.error_at(
                        &section,
                        "role",
                        role.as_ref(),
                        "not a role (use admin or read-only)".to_string(),
                    );
                    continue;
                }
            };
            if let Some(problem) = password.as_ref().and_then(|p| argon2_problem(&p.text)) {
                self.error_at(&section, "password", password.as_ref(), problem);
                continue;
            }
            let Some(password) = password.filter(|p| !p.text.is_empty()) else {
                self.section_error(
                    &section,
                    "the user has no password option (plain, {SHA}hex or an argon2id PHC string)"
                        .to_string(),
                );
                continue;
            };
            users.insert(
                name.clone(),
                HttpUser {
                    name,
                    password: password.text,
                    read_only,
                },
            );
        }
        users
    }

    /// The users a server's `users = NAME, NAME` key accepts. It needs the
    /// server's own `username` (the admin, so that the reference, which
    /// ignores `users`, still asks for a password) and names defined
    /// `[http_user:NAME]` sections other than that user name.
    fn server_users(
        &mut self,
        section: &str,
        credentials: Option<&Credentials>,
        defined: &BTreeMap<String, HttpUser>,
    ) -> Vec<HttpUser> {
        let none = Expansions::new();
        let Some(value) = self.get(section, "users", &none) else {
            return Vec::new();
        };
        let Some(admin) = credentials else {
            self.error_at(
                section,
                "users",
                Some(&value),
                "users needs the section's own username and password (the admin)".to_string(),
            );
            return Vec::new();
        };
        let mut accepted = Vec::new();
        for name in types::list_of_strings(&value.text) {
            if name == admin.username {
                self.error_at(
                    section,
                    "users",
                    Some(&value),
                    format!("{name:?} is the section's own username"),
                );
            } else if let Some(user) = defined.get(&name) {
                accepted.push(user.clone());
            } else {
                self.error_at(
                    section,
                    "users",
                    Some(&value),
                    format!("there is no [http_user:{name}] section"),
                );
            }
        }
        accepted
    }
}

/// `[supervisord] plugin_call_timeout` when not set: long enough for a
/// plugin that waits on a slow start or stop, short enough that a reply
/// that never comes frees its request.
const DEFAULT_PLUGIN_CALL_TIMEOUT: u64 = 300;

/// A whole number of seconds greater than 0.
fn positive_seconds(value: &str) -> types::Parsed<u64> {
    types::integer(value).and_then(|n| {
        u64::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| types::BadValue {
                ours: "must be a whole number of seconds greater than 0".into(),
                python: format!("{value} is not greater than 0"),
            })
    })
}

/// Why a password that starts like an argon2 PHC string (`$argon2id$...`)
/// cannot be used; `None` when it can, or is another form.
fn argon2_problem(password: &str) -> Option<String> {
    use argon2::password_hash::PasswordHash;
    if !password.starts_with("$argon2") {
        return None;
    }
    match PasswordHash::new(password) {
        Err(error) => Some(format!(
            "not an argon2 PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash): {error}"
        )),
        Ok(hash) if argon2::Algorithm::try_from(hash.algorithm).is_err() => {
            Some(format!("unknown argon2 variant {}", hash.algorithm))
        }
        Ok(hash) if hash.salt.is_none() || hash.hash.is_none() => {
            Some("an argon2 PHC string needs its salt and hash".to_string())
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::argon2_problem;

    #[test]
    fn argon2_passwords_must_be_phc_strings() {
        let good = "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$J5eT1yyh0Ryl2BfIAq+CY7SFIGWNuRNZqr30n3W3mbM";
        assert_eq!(argon2_problem(good), None);
        assert_eq!(argon2_problem("plain"), None);
        assert_eq!(argon2_problem("{SHA}abc"), None);
        let bad = argon2_problem("$argon2id$v=19$m=64,t=1,p=1$!!!$!!!").expect("refused");
        assert!(bad.contains("not an argon2 PHC string"), "{bad}");
        let bare = argon2_problem("$argon2id$garbage").expect("refused");
        assert!(bare.contains("salt and hash"), "{bare}");
        assert!(argon2_problem("$argon2xx$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA").is_some());
    }
}
