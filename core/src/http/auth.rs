//! HTTP Basic authentication as the reference's medusa `auth_handler` does
//! it: realm `default`, a plain or `{SHA}` (lowercase hex SHA-1) password,
//! and every route behind it when a user name is configured; besides that
//! user (the admin), the `[http_user:NAME]` users a server accepts, each
//! with the [`Access`] of its role. Comparisons
//! take the same time whatever the input, so timing reveals nothing.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;

use super::password::{Busy, Stored, Verifier, constant_time_eq, sha1};
use crate::rpc::Access;

/// The configured credentials, prepared once: the server's own user (the
/// admin, as in the reference) and the `[http_user:NAME]` users its
/// `users` key accepts.
#[derive(Clone)]
pub struct Credentials {
    users: Vec<User>,
    verifier: Arc<Verifier>,
}

#[derive(Clone)]
struct User {
    name_digest: [u8; 20],
    password: Stored,
    /// What a request with this user's credentials may call.
    access: Access,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// What a request's `Authorization` header earns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Good credentials, and what their user may call.
    Allowed(Access),
    /// Missing, wrong, or not Basic: 401 with the challenge.
    Unauthorized,
    /// Basic with a value that is not base64: 400, as the reference.
    Malformed,
    /// Too many slow (argon2) verifications waiting: 503.
    Busy,
}

/// A header judged as far as it can be without the slow hash.
enum Judged {
    Done(Verdict),
    /// The user's password is argon2 and this header was not verified
    /// before.
    Slow {
        phc: Arc<str>,
        password: Vec<u8>,
        access: Access,
        tag: [u8; 32],
    },
}

impl Credentials {
    /// Credentials for the server's own `username` with `password` (plain,
    /// or `{SHA}` and the hex digest): the admin.
    pub fn new(username: &str, password: &str) -> Self {
        Credentials {
            users: vec![User {
                name_digest: sha1(username.as_bytes()),
                password: Stored::new(password),
                access: Access::Full,
            }],
            verifier: Arc::new(Verifier::new()),
        }
    }

    /// Accept `username` too, with everything (admin) or read-only access.
    pub fn with_user(mut self, username: &str, password: &str, read_only: bool) -> Self {
        self.users.push(User {
            name_digest: sha1(username.as_bytes()),
            password: Stored::new(password),
            access: if read_only {
                Access::ReadOnly(Arc::from(username))
            } else {
                Access::Full
            },
        });
        self
    }

    /// Judge the value of an `Authorization` header (`None` if absent),
    /// running a slow verification on this thread: for callers off the
    /// runtime (and tests). The router uses [`Credentials::verify`].
    pub fn check(&self, authorization: Option<&[u8]>) -> Verdict {
        match self.judge(authorization) {
            Judged::Done(verdict) => verdict,
            Judged::Slow {
                phc,
                password,
                access,
                tag,
            } => {
                if self.verifier.verify_here(&phc, &password, tag) {
                    Verdict::Allowed(access)
                } else {
                    Verdict::Unauthorized
                }
            }
        }
    }

    /// Judge the value of an `Authorization` header, a slow verification
    /// on the blocking pool, a few at once.
    pub async fn verify(&self, authorization: Option<&[u8]>) -> Verdict {
        match self.judge(authorization) {
            Judged::Done(verdict) => verdict,
            Judged::Slow {
                phc,
                password,
                access,
                tag,
            } => match self.verifier.verify(phc, password, tag).await {
                Ok(true) => Verdict::Allowed(access),
                Ok(false) => Verdict::Unauthorized,
                Err(Busy) => Verdict::Busy,
            },
        }
    }

    fn judge(&self, authorization: Option<&[u8]>) -> Judged {
        let unauthorized = Judged::Done(Verdict::Unauthorized);
        let Some(header) = authorization else {
            return unauthorized;
        };
        // medusa: `([^ ]+) (.*)`, scheme compared case-insensitively.
        let Some(space) = header.iter().position(|&b| b == b' ') else {
            return unauthorized;
        };
        let (scheme, cookie) = (&header[..space], &header[space + 1..]);
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return unauthorized;
        }
        let Some(decoded) = decode_like_python(cookie) else {
            return Judged::Done(Verdict::Malformed);
        };
        // The reference fails with a 500 when there is no colon; refusing
        // the credentials is the answer a client can act on.
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return unauthorized;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_digest = sha1(user);
        // Every user is compared, so the time does not say which name
        // exists; names are distinct (the config refuses duplicates).
        let mut granted = None;
        let mut slow = None;
        for candidate in &self.users {
            let user_ok = constant_time_eq(&user_digest, &candidate.name_digest);
            if user_ok && let Stored::Argon2(phc) = &candidate.password {
                slow = Some((Arc::clone(phc), candidate.access.clone()));
            }
            let password_ok = candidate.password.matches_fast(password);
            if user_ok & password_ok {
                granted = Some(candidate.access.clone());
            }
        }
        if let Some(access) = granted {
            return Judged::Done(Verdict::Allowed(access));
        }
        let Some((phc, access)) = slow else {
            return unauthorized;
        };
        let tag = self.verifier.tag(header);
        if self.verifier.remembers(&tag) {
            return Judged::Done(Verdict::Allowed(access));
        }
        Judged::Slow {
            phc,
            password: password.to_vec(),
            access,
            tag,
        }
    }
}

/// What the request's user may call: set by the router once the request
/// passed authentication ([`Access::Full`] on a server without auth). The
/// web UI asks it to hide the actions a read-only user may not take.
pub fn access_of(request: &Request) -> Access {
    request
        .extensions()
        .get::<Access>()
        .cloned()
        .unwrap_or_default()
}

/// The TCP peer of a request (in its extensions; absent on a unix
/// socket), for slowing down repeated failures.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::IpAddr);

/// Failed logins per peer address: the count in a row and the last one.
static FAILURES: std::sync::Mutex<
    Option<std::collections::HashMap<std::net::IpAddr, (u32, Instant)>>,
> = std::sync::Mutex::new(None);

/// Peers remembered at most (a flood from many addresses must not grow
/// the map without bound; it is emptied when full).
const FAILING_PEERS: usize = 4096;
/// A peer's count is forgotten after this long without a failure.
const FAILURE_MEMORY: Duration = Duration::from_secs(60);
/// The pause before answering a peer's first failure, doubled per failure
/// in a row, up to the ceiling.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// How long to hold the 401 of a peer that failed again: a guesser gets
/// slower and slower, a mistyped password costs nothing noticeable.
pub(super) fn failure_pause(peer: Option<&PeerAddr>) -> Duration {
    let Some(PeerAddr(ip)) = peer else {
        return Duration::ZERO;
    };
    let mut failures = FAILURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let map = failures.get_or_insert_with(Default::default);
    if map.len() >= FAILING_PEERS {
        map.clear();
    }
    let now = Instant::now();
    let entry = map.entry(*ip).or_insert((0, now));
    if now.duration_since(entry.1) > FAILURE_MEMORY {
        entry.0 = 0;
    }
    entry.0 = entry.0.saturating_add(1);
    entry.1 = now;
    FIRST_PAUSE
        .saturating_mul(1 << (entry.0 - 1).min(10))
        .min(MAX_PAUSE)
}

/// A peer that authenticated starts over.
pub(super) fn forgive(peer: Option<&PeerAddr>) {
    if let Some(PeerAddr(ip)) = peer {
        let mut failures = FAILURES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(map) = failures.as_mut() {
            map.remove(ip);
        }
    }
}

/// The base64 engine behind [`decode_like_python`]: the checks it would
/// make (padding, trailing bits) are made there, as Python makes them.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 as the reference decodes the cookie (`decodebytes`,
/// binascii's non-strict mode): characters outside the alphabet are
/// skipped, the data ends at the first `=`, and a truncated quantum is an
/// error unless enough `=` follow. The crate is strict about all three, so
/// the text is brought to its canonical form first.
fn decode_like_python(text: &[u8]) -> Option<Vec<u8>> {
    let data = text.split(|&c| c == b'=').next().unwrap_or_default();
    let sextets: Vec<u8> = data
        .iter()
        .copied()
        .filter(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        .collect();
    let padding = text.iter().filter(|&&c| c == b'=').count();
    match sextets.len() % 4 {
        0 => {}
        1 => return None,
        rest if padding >= 4 - rest => {}
        _ => return None,
    }
    LENIENT.decode(sextets).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_password: &str) -> Vec<u8> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_password);
        format!("Basic {encoded}").into_bytes()
    }

    #[test]
    fn decoding_skips_foreign_characters_like_python() {
        let decode = |text: &[u8]| decode_like_python(text);
        assert_eq!(decode(b"dXNlcjoxMjM=").unwrap(), b"user:123");
        assert_eq!(decode(b"dXNl\ncjox MjM=").unwrap(), b"user:123");
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(decode(b"YQ==").unwrap(), b"a");
        assert_eq!(decode(b"YR==").unwrap(), b"a", "trailing bits are ignored");
        assert_eq!(decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(decode(b"YQ==junk").unwrap(), b"a");
        assert!(decode(b"YQ").is_none());
        assert!(decode(b"YQ=").is_none());
        assert!(decode(b"Y").is_none());
        assert!(decode(b"Y===").is_none());
    }

    #[test]
    fn plain_password() {
        let creds = Credentials::new("user", "123");
        assert_eq!(
            creds.check(Some(&basic("user:123"))),
            Verdict::Allowed(Access::Full)
        );
        assert_eq!(
            creds.check(Some(&basic("user:1234"))),
            Verdict::Unauthorized
        );
        assert_eq!(creds.check(Some(&basic("usr:123"))), Verdict::Unauthorized);
        assert_eq!(creds.check(Some(&basic("user:"))), Verdict::Unauthorized);
        assert_eq!(creds.check(None), Verdict::Unauthorized);
    }

    #[test]
    fn sha_password_is_the_lowercase_hex_digest() {
        // The reference's documented example: this digest accepts "123".
        let creds = Credentials::new("user", "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef");
        assert_eq!(
            creds.check(Some(&basic("user:123"))),
            Verdict::Allowed(Access::Full)
        );
        assert_eq!(
            creds.check(Some(&basic(
                "user:{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef"
            ))),
            Verdict::Unauthorized
        );
        let upper = Credentials::new("user", "{SHA}40BD001563085FC35165329EA1FF5C5ECBDBBEEF");
        assert_eq!(upper.check(Some(&basic("user:123"))), Verdict::Unauthorized);
    }

    #[test]
    fn passwords_may_contain_colons_and_the_scheme_any_case() {
        let creds = Credentials::new("u", "a:b");
        let mut header = basic("u:a:b");
        header[..5].copy_from_slice(b"bAsIc");
        assert_eq!(creds.check(Some(&header)), Verdict::Allowed(Access::Full));
    }

    #[test]
    fn extra_users_get_their_role_and_their_own_password_only() {
        let creds = Credentials::new("admin", "a")
            .with_user(
                "viewer",
                "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef",
                true,
            )
            .with_user("ops", "o", false);
        assert_eq!(
            creds.check(Some(&basic("admin:a"))),
            Verdict::Allowed(Access::Full)
        );
        assert_eq!(
            creds.check(Some(&basic("viewer:123"))),
            Verdict::Allowed(Access::ReadOnly(Arc::from("viewer")))
        );
        assert_eq!(
            creds.check(Some(&basic("ops:o"))),
            Verdict::Allowed(Access::Full)
        );
        assert_eq!(creds.check(Some(&basic("viewer:a"))), Verdict::Unauthorized);
        assert_eq!(creds.check(Some(&basic("admin:o"))), Verdict::Unauthorized);
    }

    #[test]
    fn argon2_passwords_verify_once_per_header() {
        let phc = super::super::password::tests::cheap_hash("s3cret");
        let creds = Credentials::new("admin", &phc).with_user("viewer", &phc, true);
        let good = basic("admin:s3cret");
        assert_eq!(creds.check(Some(&good)), Verdict::Allowed(Access::Full));
        // Remembered: judged without the slow hash now.
        assert!(matches!(
            creds.judge(Some(&good)),
            Judged::Done(Verdict::Allowed(Access::Full))
        ));
        assert!(matches!(
            creds.judge(Some(&basic("admin:wrong"))),
            Judged::Slow { .. }
        ));
        assert_eq!(
            creds.check(Some(&basic("admin:wrong"))),
            Verdict::Unauthorized
        );
        assert_eq!(
            creds.check(Some(&basic("viewer:s3cret"))),
            Verdict::Allowed(Access::ReadOnly(Arc::from("viewer")))
        );
        assert_eq!(
            creds.check(Some(&basic("nobody:s3cret"))),
            Verdict::Unauthorized
        );
    }

    #[tokio::test]
    async fn argon2_verification_runs_on_the_blocking_pool() {
        let phc = super::super::password::tests::cheap_hash("pw");
        let creds = Credentials::new("u", &phc);
        assert_eq!(
            creds.verify(Some(&basic("u:pw"))).await,
            Verdict::Allowed(Access::Full)
        );
        assert_eq!(
            creds.verify(Some(&basic("u:no"))).await,
            Verdict::Unauthorized
        );
    }

    #[test]
    fn other_schemes_and_garbage() {
        let creds = Credentials::new("user", "123");
        assert_eq!(creds.check(Some(b"Bearer abc")), Verdict::Unauthorized);
        assert_eq!(creds.check(Some(b"Basic")), Verdict::Unauthorized);
        assert_eq!(creds.check(Some(b"Basic dXNlcjoxMjM")), Verdict::Malformed);
        assert_eq!(creds.check(Some(b"Basic dXNlcg==")), Verdict::Unauthorized);
    }
}
