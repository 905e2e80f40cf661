//! `application/x-www-form-urlencoded` fields, from a query string or a
//! posted form, decoded as the reference's `parse_qs` reads them (`+` is a
//! space, `%XX` a byte, the first of duplicate keys kept). A few lines
//! here because axum's `query`/`form` features would pull in crates the
//! lock file does not hold. It knows nothing of pages or actions.

use std::collections::HashMap;

/// Add the fields of `encoded` to `fields`; a key already there (from an
/// earlier source, or earlier in `encoded`) keeps its value when
/// `override_earlier` is false.
pub(super) fn merge(fields: &mut HashMap<String, String>, encoded: &str, override_earlier: bool) {
    let mut seen = std::collections::HashSet::new();
    for pair in encoded.split(['&', ';']).filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(key), decode(value));
        // Duplicates within one source: the first wins, as the
        // reference's "ignore dupes".
        if !seen.insert(key.clone()) {
            continue;
        }
        if override_earlier || !fields.contains_key(&key) {
            fields.insert(key, value);
        }
    }
}

/// `+` and `%XX` decoded; a malformed escape stays as it was; bytes that
/// are not UTF-8 become U+FFFD.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if let Some((high, low)) = bytes
                .get(i + 1)
                .and_then(|&b| hex(b))
                .zip(bytes.get(i + 2).and_then(|&b| hex(b))) =>
            {
                out.push(high * 16 + low);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_the_first_duplicate() {
        let mut fields = HashMap::new();
        merge(
            &mut fields,
            "processname=a%3Ab+c&action=stop&action=start&x",
            false,
        );
        assert_eq!(fields["processname"], "a:b c");
        assert_eq!(fields["action"], "stop");
        assert_eq!(fields["x"], "");
        merge(&mut fields, "action=restart&bad=%zz%4", true);
        assert_eq!(fields["action"], "restart");
        assert_eq!(fields["bad"], "%zz%4");
    }
}
