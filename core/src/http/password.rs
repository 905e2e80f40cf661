//! Stored passwords: the reference's plain and `{SHA}` forms, and argon2id
//! (any argon2 variant) in the standard PHC string form
//! (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`, as other tools write it),
//! with `supervisord --hash-password` to make one. Basic auth sends the
//! password with every request, so a good argon2 verification is
//! remembered, keyed by a keyed BLAKE2 hash of the whole `Authorization`
//! header (the key is random per daemon; entries are compared in constant
//! time), and the slow hash runs once per credential rather than per call.
//! Slow verifications run on the blocking pool, a few at once; past a
//! bounded queue the request is answered 503. It owns no HTTP parsing
//! (that is `auth`'s).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use sha1::{Digest, Sha1};
use tokio::sync::Semaphore;

/// Slow verifications running at once (each takes one blocking thread and
/// the hash's memory).
const SLOW_AT_ONCE: usize = 2;
/// Slow verifications waiting for a slot; past them: 503.
const SLOW_QUEUE: usize = 32;
/// Verified credentials remembered; the oldest goes first.
const REMEMBERED: usize = 256;

/// A password as configured, prepared once.
#[derive(Clone)]
pub(super) enum Stored {
    /// SHA-1 of the plain password: comparing digests makes the time
    /// independent of both lengths.
    PlainDigest([u8; 20]),
    /// The hex text after `{SHA}`, compared with the hex of the supplied
    /// password's SHA-1, as the reference compares them (case matters).
    ShaHex(Vec<u8>),
    /// An argon2 PHC string (checked when the config loaded).
    Argon2(Arc<str>),
}

impl Stored {
    /// Read a configured password.
    pub(super) fn new(password: &str) -> Stored {
        if password.starts_with("$argon2") {
            return Stored::Argon2(Arc::from(password));
        }
        match password.strip_prefix("{SHA}") {
            Some(hex) => Stored::ShaHex(hex.as_bytes().to_vec()),
            None => Stored::PlainDigest(sha1(password.as_bytes())),
        }
    }

    /// Whether `password` matches a fast form (never true for argon2).
    pub(super) fn matches_fast(&self, password: &[u8]) -> bool {
        match self {
            Stored::PlainDigest(digest) => constant_time_eq(&sha1(password), digest),
            Stored::ShaHex(hex) => constant_time_eq(&hex_lower(&sha1(password)), hex),
            Stored::Argon2(_) => false,
        }
    }
}

/// Whether `password` matches the argon2 PHC string `phc` (slow: call it
/// off the runtime's threads).
pub(super) fn argon2_matches(phc: &str, password: &[u8]) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|hash| Argon2::default().verify_password(password, &hash).is_ok())
}

/// An argon2id PHC string for `password`, with a random salt and the
/// crate's default parameters (the OWASP minimum: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

fn getrandom(buffer: &mut [u8]) -> Result<(), String> {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(buffer))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))
}

/// What a server remembers of good slow verifications, and the slots
/// slow verifications run in.
pub(super) struct Verifier {
    key: [u8; 32],
    remembered: Mutex<Vec<[u8; 32]>>,
    slots: Semaphore,
    waiting: AtomicUsize,
}

/// A slow verification could not even be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Busy;

impl Verifier {
    pub(super) fn new() -> Verifier {
        let mut key = [0u8; 32];
        // Without randomness the key is still secret enough to this
        // process's memory; the cache only saves work.
        let _ = getrandom(&mut key);
        Verifier {
            key,
            remembered: Mutex::new(Vec::new()),
            slots: Semaphore::new(SLOW_AT_ONCE),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The keyed hash of an `Authorization` header.
    pub(super) fn tag(&self, header: &[u8]) -> [u8; 32] {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(&self.key)
            .expect("32 bytes is a valid BLAKE2b key length");
        mac.update(header);
        mac.finalize().into_bytes().into()
    }

    /// Whether the header with this tag verified before. Every entry is
    /// compared, in constant time.
    pub(super) fn remembers(&self, tag: &[u8; 32]) -> bool {
        let remembered = self.lock();
        remembered
            .iter()
            .fold(false, |found, entry| found | constant_time_eq(entry, tag))
    }

    fn remember(&self, tag: [u8; 32]) {
        let mut remembered = self.lock();
        if remembered.len() >= REMEMBERED {
            remembered.remove(0);
        }
        remembered.push(tag);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<[u8; 32]>> {
        // A list of tags: a panic cannot leave it half-changed.
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Verify `password` against `phc` on the blocking pool, remembering
    /// success under `tag`.
    pub(super) async fn verify(
        &self,
        phc: Arc<str>,
        password: Vec<u8>,
        tag: [u8; 32],
    ) -> Result<bool, Busy> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= SLOW_QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let permit = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let Ok(_permit) = permit else {
            return Err(Busy);
        };
        let good = tokio::task::spawn_blocking(move || argon2_matches(&phc, &password))
            .await
            .unwrap_or(false);
        if good {
            self.remember(tag);
        }
        Ok(good)
    }

    /// The same, on this thread (for callers off the runtime).
    pub(super) fn verify_here(&self, phc: &str, password: &[u8], tag: [u8; 32]) -> bool {
        let good = argon2_matches(phc, password);
        if good {
            self.remember(tag);
        }
        good
    }
}

pub(super) fn sha1(data: &[u8]) -> [u8; 20] {
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
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Cheap parameters: tests must not spend seconds per hash.
    pub(crate) fn cheap_hash(password: &str) -> String {
        let params = argon2::Params::new(64, 1, 1, None).expect("valid params");
        let argon2 = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        argon2
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    }

    #[test]
    fn argon2id_phc_strings_verify_and_bad_ones_are_named() {
        let phc = cheap_hash("s3cret");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(argon2_matches(&phc, b"s3cret"));
        assert!(!argon2_matches(&phc, b"s3cre"));
        assert!(matches!(Stored::new(&phc), Stored::Argon2(_)));
    }

    #[test]
    fn the_hash_command_makes_a_salted_argon2id_string() {
        let one = hash_password("pw").expect("hash");
        let two = hash_password("pw").expect("hash");
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "a random salt each time");
        assert!(argon2_matches(&one, b"pw"));
    }

    #[test]
    fn tags_are_keyed_and_remembered() {
        let verifier = Verifier::new();
        let other = Verifier::new();
        let tag = verifier.tag(b"Basic dXNlcjpwdw==");
        assert_ne!(tag, other.tag(b"Basic dXNlcjpwdw=="), "a key per daemon");
        assert!(!verifier.remembers(&tag));
        let phc = cheap_hash("pw");
        assert!(verifier.verify_here(&phc, b"pw", tag));
        assert!(verifier.remembers(&tag));
        let wrong = verifier.tag(b"Basic other");
        assert!(!verifier.verify_here(&phc, b"nope", wrong));
        assert!(!verifier.remembers(&wrong));
    }
}
