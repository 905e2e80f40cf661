//! HTTP Basic authentication as the reference's medusa `auth_handler` does
//! it: realm `default`, a plain or `{SHA}` (lowercase hex SHA-1) password,
//! and every route behind it when a user name is configured. Comparisons
//! take the same time whatever the input, so timing reveals nothing.

use sha1::{Digest, Sha1};

use crate::base64;

/// The configured credentials, prepared once.
#[derive(Clone)]
pub struct Credentials {
    username_digest: [u8; 20],
    password: StoredPassword,
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

/// What a request's `Authorization` header earns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Good credentials.
    Allowed,
    /// Missing, wrong, or not Basic: 401 with the challenge.
    Unauthorized,
    /// Basic with a value that is not base64: 400, as the reference.
    Malformed,
}

impl Credentials {
    /// Credentials for `username` with `password` (plain, or `{SHA}` and
    /// the hex digest).
    pub fn new(username: &str, password: &str) -> Self {
        let password = match password.strip_prefix("{SHA}") {
            Some(hex) => StoredPassword::ShaHex(hex.as_bytes().to_vec()),
            None => StoredPassword::PlainDigest(sha1(password.as_bytes())),
        };
        Credentials {
            username_digest: sha1(username.as_bytes()),
            password,
        }
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
        let Some(decoded) = base64::decode(cookie) else {
            return Verdict::Malformed;
        };
        // The reference fails with a 500 when there is no colon; refusing
        // the credentials is the answer a client can act on.
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return Verdict::Unauthorized;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_ok = constant_time_eq(&sha1(user), &self.username_digest);
        let password_ok = match &self.password {
            StoredPassword::PlainDigest(digest) => constant_time_eq(&sha1(password), digest),
            StoredPassword::ShaHex(hex) => constant_time_eq(&hex_lower(&sha1(password)), hex),
        };
        if user_ok & password_ok {
            Verdict::Allowed
        } else {
            Verdict::Unauthorized
        }
    }
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
        format!("Basic {}", base64::encode(user_password.as_bytes())).into_bytes()
    }

    #[test]
    fn plain_password() {
        let creds = Credentials::new("user", "123");
        assert_eq!(creds.check(Some(&basic("user:123"))), Verdict::Allowed);
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
        assert_eq!(creds.check(Some(&basic("user:123"))), Verdict::Allowed);
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
        assert_eq!(creds.check(Some(&header)), Verdict::Allowed);
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
