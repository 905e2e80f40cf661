//! HTTP Basic authentication as the reference's medusa `auth_handler` does
//! it: realm `default`, a plain or `{SHA}` (lowercase hex SHA-1) password,
//! and every route behind it when a user name is configured; besides that
//! user (the admin), the `[http_user:NAME]` users a server accepts, each
//! with the [`Access`] of its role. Comparisons
//! take the same time whatever the input, so timing reveals nothing.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};
use std::sync::Arc;

use axum::extract::Request;

use crate::rpc::Access;

/// The configured credentials, prepared once: the server's own user (the
/// admin, as in the reference) and the `[http_user:NAME]` users its
/// `users` key accepts.
#[derive(Clone)]
pub struct Credentials {
    users: Vec<User>,
}

#[derive(Clone)]
struct User {
    name_digest: [u8; 20],
    password: StoredPassword,
    /// What a request with this user's credentials may call.
    access: Access,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

#[derive(Clone)]
enum StoredPassword {
    /// SHA-1 of the plain password: comparing digests makes the time
    /// independent of both lengths.
    PlainDigest([u8; 20]),
    /// The hex text after `{SHA}`, compared with the hex of the supplied
    /// password's SHA-1, as the reference compares them (case matters).
    ShaHex(Vec<u8>),
}

impl StoredPassword {
    fn new(password: &str) -> StoredPassword {
        match password.strip_prefix("{SHA}") {
            Some(hex) => StoredPassword::ShaHex(hex.as_bytes().to_vec()),
            None => StoredPassword::PlainDigest(sha1(password.as_bytes())),
        }
    }

    fn matches(&self, password: &[u8]) -> bool {
        match self {
            StoredPassword::PlainDigest(digest) => constant_time_eq(&sha1(password), digest),
            StoredPassword::ShaHex(hex) => constant_time_eq(&hex_lower(&sha1(password)), hex),
        }
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
}

impl Credentials {
    /// Credentials for the server's own `username` with `password` (plain,
    /// or `{SHA}` and the hex digest): the admin.
    pub fn new(username: &str, password: &str) -> Self {
        Credentials {
            users: vec![User {
                name_digest: sha1(username.as_bytes()),
                password: StoredPassword::new(password),
                access: Access::Full,
            }],
        }
    }

    /// Accept `username` too, with everything (admin) or read-only access.
    pub fn with_user(mut self, username: &str, password: &str, read_only: bool) -> Self {
        self.users.push(User {
            name_digest: sha1(username.as_bytes()),
            password: StoredPassword::new(password),
            access: if read_only {
                Access::ReadOnly(Arc::from(username))
            } else {
                Access::Full
            },
        });
        self
    }

    /// Judge the value of an `Authorization` header (`None` if absent).
    pub fn check(&self, authorization: Option<&[u8]>) -> Verdict {
        let Some(header) = authorization else {
            return Verdict::Unauthorized;
        };
        // medusa: `([^ ]+) (.*)`, scheme compared case-insensitively.
        let Some(space) = header.iter().position(|&b| b == b' ') else {
            return Verdict::Unauthorized;
        };
        let (scheme, cookie) = (&header[..space], &header[space + 1..]);
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return Verdict::Unauthorized;
        }
        let Some(decoded) = decode_like_python(cookie) else {
            return Verdict::Malformed;
        };
        // The reference fails with a 500 when there is no colon; refusing
        // the credentials is the answer a client can act on.
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return Verdict::Unauthorized;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_digest = sha1(user);
        // Every user is compared, so the time does not say which name
        // exists; names are distinct (the config refuses duplicates).
        let mut granted = None;
        for candidate in &self.users {
            let user_ok = constant_time_eq(&user_digest, &candidate.name_digest);
            let password_ok = candidate.password.matches(password);
            if user_ok & password_ok {
                granted = Some(candidate.access.clone());
            }
        }
        match granted {
            Some(access) => Verdict::Allowed(access),
            None => Verdict::Unauthorized,
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

fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

fn hex_lower(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect()
}

/// Equality whose time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
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
    fn other_schemes_and_garbage() {
        let creds = Credentials::new("user", "123");
        assert_eq!(creds.check(Some(b"Bearer abc")), Verdict::Unauthorized);
        assert_eq!(creds.check(Some(b"Basic")), Verdict::Unauthorized);
        assert_eq!(creds.check(Some(b"Basic dXNlcjoxMjM")), Verdict::Malformed);
        assert_eq!(creds.check(Some(b"Basic dXNlcg==")), Verdict::Unauthorized);
    }
}
