//! Standard base64 (RFC 4648, `+/`, `=` padding), both ways: HTTP basic
//! auth (supervisorctl encodes its credentials, the HTTP server decodes
//! them) and XML-RPC `<base64>` values in responses. It is this small, so
//! it is not worth a dependency. It must not grow other alphabets or
//! streaming.

/// Standard base64 with padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::new();
    encode_into(&mut out, input);
    out
}

/// Append standard, padded base64 of `input` to `out`.
pub fn encode_into(out: &mut String, input: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Standard base64. Like Python's `decodebytes` it skips characters
/// outside the alphabet; a truncated quantum is an error.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let data = text.split(|&c| c == b'=').next().unwrap_or_default();
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut accumulator = 0u32;
    let mut bits = 0;
    let mut count = 0usize;
    for value in data.iter().filter_map(|&c| sextet(c)) {
        count += 1;
        accumulator = (accumulator << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((accumulator >> bits) as u8);
            accumulator &= (1 << bits) - 1;
        }
    }
    let padding = text.iter().filter(|&&c| c == b'=').count();
    match count % 4 {
        0 => Some(out),
        1 => None,
        rest if padding >= 4 - rest => Some(out),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_the_rfc_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn decoding_skips_foreign_characters_like_python() {
        assert_eq!(decode(b"dXNlcjoxMjM=").unwrap(), b"user:123");
        assert_eq!(decode(b"dXNl\ncjox MjM=").unwrap(), b"user:123");
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(decode(b"YQ==").unwrap(), b"a");
        assert!(decode(b"YQ").is_none());
        assert!(decode(b"Y").is_none());
        assert_eq!(decode(encode(b"foobar").as_bytes()).unwrap(), b"foobar");
    }
}
