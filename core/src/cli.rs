//! Command lines parsed the way Python's `getopt.getopt` does it, because
//! the reference parses its command lines with it and scripts rely on the
//! quirks: long options accept any unique prefix (`--config=x` for
//! `--configuration`), an exact name wins over longer ones, option values may
//! be glued (`-cFILE`, `--logfile=F`) or separate, and parsing stops at the
//! first non-option argument (`supervisorctl tail -f x`: `-f` belongs to
//! `tail`). `--` ends the options; a lone `-` is an argument.
//!
//! Adding a long option must not make an existing prefix ambiguous; the
//! tests of each command line pin the prefixes users have.

use std::fmt;

/// One option a command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptSpec {
    /// The short letter, if any (`'c'` for `-c`).
    pub short: Option<char>,
    /// The long name without dashes, if any (`"configuration"`).
    pub long: Option<&'static str>,
    /// Whether the option takes a value.
    pub takes_value: bool,
    /// Whether only the whole long name is recognised: an option added
    /// to a reference command line must not make a prefix users type
    /// ambiguous.
    pub exact_only: bool,
}

impl OptSpec {
    pub const fn flag(short: Option<char>, long: Option<&'static str>) -> Self {
        OptSpec {
            short,
            long,
            takes_value: false,
            exact_only: false,
        }
    }

    /// A flag known only by its whole long name (an extension).
    pub const fn exact_flag(long: &'static str) -> Self {
        OptSpec {
            short: None,
            long: Some(long),
            takes_value: false,
            exact_only: true,
        }
    }

    pub const fn value(short: Option<char>, long: Option<&'static str>) -> Self {
        OptSpec {
            short,
            long,
            takes_value: true,
            exact_only: false,
        }
    }
}

/// One option found on the command line, as the user spelled it (`-c` or
/// `--configuration`: the reference's messages quote that spelling) and
/// which spec it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Index into the spec table.
    pub spec: usize,
    /// `-c` or `--configuration` (the full long name, not the prefix typed).
    pub spelled: String,
    /// The value, for options that take one.
    pub value: Option<String>,
}

/// A command line that getopt rejects. `Display` gives Python's wording
/// (`option -Z not recognized`), which the reference prints after `Error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetoptError {
    NotRecognized(String),
    NotUniquePrefix(String),
    RequiresArgument(String),
    MustNotHaveArgument(String),
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetoptError::NotRecognized(o) => write!(f, "option {o} not recognized"),
            GetoptError::NotUniquePrefix(o) => write!(f, "option {o} not a unique prefix"),
            GetoptError::RequiresArgument(o) => write!(f, "option {o} requires argument"),
            GetoptError::MustNotHaveArgument(o) => {
                write!(f, "option {o} must not have an argument")
            }
        }
    }
}

impl std::error::Error for GetoptError {}

/// Parse `args` (without the program name) against `specs`. Returns the
/// options in command-line order and the remaining arguments.
pub fn getopt(
    specs: &[OptSpec],
    args: &[String],
) -> Result<(Vec<Found>, Vec<String>), GetoptError> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, glued) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let index = match_long(specs, name)?;
            let spec = &specs[index];
            let full = format!("--{}", spec.long.expect("matched specs have a long name"));
            let value = if spec.takes_value {
                match glued {
                    Some(v) => Some(v),
                    None => {
                        i += 1;
                        Some(
                            args.get(i)
                                .cloned()
                                .ok_or_else(|| GetoptError::RequiresArgument(full.clone()))?,
                        )
                    }
                }
            } else if glued.is_some() {
                return Err(GetoptError::MustNotHaveArgument(full));
            } else {
                None
            };
            found.push(Found {
                spec: index,
                spelled: full,
                value,
            });
            i += 1;
            continue;
        }
        if arg.starts_with('-') && arg != "-" {
            let letters: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < letters.len() {
                let letter = letters[j];
                let spelled = format!("-{letter}");
                let index = specs
                    .iter()
                    .position(|s| s.short == Some(letter))
                    .ok_or_else(|| GetoptError::NotRecognized(spelled.clone()))?;
                if specs[index].takes_value {
                    let rest: String = letters[j + 1..].iter().collect();
                    let value = if !rest.is_empty() {
                        rest
                    } else {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| GetoptError::RequiresArgument(spelled.clone()))?
                    };
                    found.push(Found {
                        spec: index,
                        spelled,
                        value: Some(value),
                    });
                    break;
                }
                found.push(Found {
                    spec: index,
                    spelled,
                    value: None,
                });
                j += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    Ok((found, args[i..].to_vec()))
}

/// Python's rule: an exact name wins; otherwise the typed text must be the
/// prefix of exactly one long name.
fn match_long(specs: &[OptSpec], typed: &str) -> Result<usize, GetoptError> {
    let candidates: Vec<usize> = specs
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.long
                .is_some_and(|l| l.starts_with(typed) && (!s.exact_only || l == typed))
        })
        .map(|(i, _)| i)
        .collect();
    if let Some(&exact) = candidates.iter().find(|&&i| specs[i].long == Some(typed)) {
        return Ok(exact);
    }
    match candidates.as_slice() {
        [] => Err(GetoptError::NotRecognized(format!("--{typed}"))),
        [one] => Ok(*one),
        _ => Err(GetoptError::NotUniquePrefix(format!("--{typed}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptSpec] = &[
        OptSpec::value(Some('c'), Some("configuration")),
        OptSpec::flag(Some('n'), Some("nodaemon")),
        OptSpec::flag(Some('h'), Some("help")),
        OptSpec::value(Some('l'), Some("logfile")),
        OptSpec::value(None, Some("logfile_maxbytes")),
        OptSpec::value(None, Some("minprocs")),
        OptSpec::value(Some('a'), Some("minfds")),
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    type Parsed = (Vec<(usize, Option<String>)>, Vec<String>);

    fn parse(list: &[&str]) -> Result<Parsed, GetoptError> {
        getopt(SPECS, &args(list))
            .map(|(f, rest)| (f.into_iter().map(|x| (x.spec, x.value)).collect(), rest))
    }

    #[test]
    fn unique_prefix_of_a_long_option_works_glued_or_separate() {
        assert_eq!(
            parse(&["--config=x.conf"]).unwrap().0,
            vec![(0, Some("x.conf".into()))]
        );
        assert_eq!(
            parse(&["--conf", "x.conf"]).unwrap().0,
            vec![(0, Some("x.conf".into()))]
        );
    }

    #[test]
    fn exact_long_name_wins_over_longer_names_it_prefixes() {
        assert_eq!(
            parse(&["--logfile", "f"]).unwrap().0,
            vec![(3, Some("f".into()))]
        );
        assert_eq!(
            parse(&["--logfile_m=5"]).unwrap().0,
            vec![(4, Some("5".into()))]
        );
    }

    #[test]
    fn ambiguous_prefix_is_an_error_with_pythons_wording() {
        let err = parse(&["--min", "3"]).unwrap_err();
        assert_eq!(err.to_string(), "option --min not a unique prefix");
    }

    #[test]
    fn short_options_cluster_and_take_glued_values() {
        assert_eq!(
            parse(&["-nc/etc/s.conf"]).unwrap().0,
            vec![(1, None), (0, Some("/etc/s.conf".into()))]
        );
        assert_eq!(
            parse(&["-c", "a", "-n"]).unwrap().0,
            vec![(0, Some("a".into())), (1, None)]
        );
    }

    #[test]
    fn parsing_stops_at_the_first_non_option() {
        let (found, rest) = parse(&["-n", "tail", "-f", "x"]).unwrap();
        assert_eq!(found, vec![(1, None)]);
        assert_eq!(rest, args(&["tail", "-f", "x"]));
        let (_, rest) = parse(&["--", "-n"]).unwrap();
        assert_eq!(rest, args(&["-n"]));
        let (_, rest) = parse(&["-", "-n"]).unwrap();
        assert_eq!(rest, args(&["-", "-n"]));
    }

    #[test]
    fn errors_use_pythons_wording() {
        assert_eq!(
            parse(&["-Z"]).unwrap_err().to_string(),
            "option -Z not recognized"
        );
        assert_eq!(
            parse(&["--bogus"]).unwrap_err().to_string(),
            "option --bogus not recognized"
        );
        assert_eq!(
            parse(&["-c"]).unwrap_err().to_string(),
            "option -c requires argument"
        );
        assert_eq!(
            parse(&["--configuration"]).unwrap_err().to_string(),
            "option --configuration requires argument"
        );
        assert_eq!(
            parse(&["--help=yes"]).unwrap_err().to_string(),
            "option --help must not have an argument"
        );
    }
}
