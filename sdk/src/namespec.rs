//! Process names as the API spells them (`options.py`'s `split_namespec`
//! and `make_namespec`): `group:name`, `group:*` or `group:` for a whole
//! group, and a bare `name` meaning `name:name`.
//!
//! Pure string handling: whether the names exist is the caller's question.

/// A parsed namespec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespec<'a> {
    /// The group part.
    pub group: &'a str,
    /// The process part; `None` for a whole-group spec (`group:*`, `group:`).
    pub process: Option<&'a str>,
}

/// Split a namespec on its first `:`. Without a `:` the whole string names
/// both the group and the process.
pub fn split_namespec(spec: &str) -> Namespec<'_> {
    match spec.split_once(':') {
        Some((group, "" | "*")) => Namespec {
            group,
            process: None,
        },
        Some((group, process)) => Namespec {
            group,
            process: Some(process),
        },
        None => Namespec {
            group: spec,
            process: Some(spec),
        },
    }
}

/// The name a process is shown under: its own name when it is alone in a
/// group of the same name, else `group:process`.
pub fn make_namespec(group: &str, process: &str) -> String {
    if group == process {
        process.to_string()
    } else {
        format!("{group}:{process}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_reference() {
        let cases = [
            ("sleeper", "sleeper", Some("sleeper")),
            ("grp:ga", "grp", Some("ga")),
            ("grp:*", "grp", None),
            ("grp:", "grp", None),
            ("a:b:c", "a", Some("b:c")),
            (":x", "", Some("x")),
        ];
        for (spec, group, process) in cases {
            assert_eq!(split_namespec(spec), Namespec { group, process }, "{spec}");
        }
    }

    #[test]
    fn makes_short_names_for_singletons() {
        assert_eq!(make_namespec("cat", "cat"), "cat");
        assert_eq!(make_namespec("multi", "multi_00"), "multi:multi_00");
    }
}
