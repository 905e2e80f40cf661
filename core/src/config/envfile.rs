//! `environment_file`: reading dotenv files into an [`Environment`]. The
//! grammar is the common dotenv one (docker's `--env-file`, systemd's
//! `EnvironmentFile=`, python-dotenv): `KEY=VALUE` a line, an optional
//! `export ` before the key, `#` comments (a whole line, or after a blank
//! in an unquoted value), single quotes taken literally, double quotes
//! with the escapes `\n \t \r \" \\ \$`. It is hand-written because the
//! crates that parse it (dotenvy) report neither the line of a bad entry
//! nor leave the environment alone; a bad line must be a config error
//! naming the file and the line. No I/O beyond reading the one file; no
//! `$VAR` interpolation (`%(ENV_X)s` is the config's expansion).

use std::path::Path;

use super::model::Environment;

/// Why an environment file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFileError {
    /// The file could not be read (it does not exist, is a directory...).
    Unreadable(String),
    /// A line is not `KEY=VALUE`; the 1-based line number and why.
    BadLine(usize, String),
}

impl std::fmt::Display for EnvFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvFileError::Unreadable(why) => write!(f, "{why}"),
            EnvFileError::BadLine(line, why) => write!(f, "line {line}: {why}"),
        }
    }
}

/// One path of an `environment_file` value: a leading `-` makes a missing
/// file fine (systemd's spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFilePath {
    /// The path as written, without the `-`.
    pub path: String,
    /// Whether a missing file is fine.
    pub optional: bool,
}

/// Split an `environment_file` value into its paths: separated by commas
/// and/or blanks, as the reference's other list options are.
pub fn paths(value: &str) -> Vec<EnvFilePath> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| match p.strip_prefix('-') {
            Some(rest) => EnvFilePath {
                path: rest.to_string(),
                optional: true,
            },
            None => EnvFilePath {
                path: p.to_string(),
                optional: false,
            },
        })
        .collect()
}

/// Read one environment file. `Ok(None)` when the file is optional and
/// missing.
pub fn read(path: &Path, optional: bool) -> Result<Option<Environment>, EnvFileError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            EnvFileError::Unreadable(format!(
                "not UTF-8 text (byte {} is invalid)",
                e.utf8_error().valid_up_to()
            ))
        })?,
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "no such file (write -PATH to make a missing file fine)".to_string()
                }
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
                _ => e.to_string(),
            };
            return Err(EnvFileError::Unreadable(why));
        }
    };
    parse(&text).map(Some)
}

/// Parse the text of an environment file; later lines win.
pub fn parse(text: &str) -> Result<Environment, EnvFileError> {
    let mut env = Environment::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let entry = trimmed
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(trimmed, str::trim_start);
        let Some((key, rest)) = entry.split_once('=') else {
            return Err(EnvFileError::BadLine(
                number,
                format!("expected KEY=VALUE, found {line:?}"),
            ));
        };
        let key = key.trim_end();
        if !valid_key(key) {
            return Err(EnvFileError::BadLine(
                number,
                format!(
                    "{key:?} is not a variable name (letters, digits and _, not starting with a digit)"
                ),
            ));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                // A quoted value may span lines, as in python-dotenv.
                let mut body = rest[1..].to_string();
                loop {
                    match quoted(&body, quote) {
                        Some((value, after)) => {
                            let after = after.trim_start();
                            if !after.is_empty() && !after.starts_with('#') {
                                return Err(EnvFileError::BadLine(
                                    number,
                                    format!("unexpected {after:?} after the closing quote"),
                                ));
                            }
                            break value;
                        }
                        None => match lines.next() {
                            Some((_, next)) => {
                                body.push('\n');
                                body.push_str(next);
                            }
                            None => {
                                return Err(EnvFileError::BadLine(
                                    number,
                                    format!("the {quote} quote of {key} is never closed"),
                                ));
                            }
                        },
                    }
                }
            }
            _ => unquoted(rest),
        };
        env.insert(key.to_string(), value);
    }
    Ok(env)
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// An unquoted value: up to a `#` that follows a blank, trailing blanks
/// dropped.
fn unquoted(rest: &str) -> String {
    let mut end = rest.len();
    let bytes = rest.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    rest[..end].trim_end().to_string()
}

/// The value inside quotes (`body` starts after the opening quote) and
/// what follows the closing one; None when it does not close.
fn quoted(body: &str, quote: char) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((value, &body[i + 1..]));
        }
        if c == '\\' && quote == '"' {
            match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, e @ ('"' | '\\' | '$' | '\''))) => value.push(e),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            }
            continue;
        }
        value.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().into_iter().collect()
    }

    #[test]
    fn the_usual_dotenv_forms() {
        let got = env("# comment\n\nA=1\nexport B = two words  # note\n\
             C='single # kept \\n'\nD=\"tab\\there \\\"q\\\" \\\\ \\$x\"\nE=\nF=a#b\n\
             G=\"multi\nline\"\nexport_H=x\n");
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "single # kept \\n"),
            ("D", "tab\there \"q\" \\ $x"),
            ("E", ""),
            ("F", "a#b"),
            ("G", "multi\nline"),
            ("export_H", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn later_lines_win() {
        assert_eq!(env("A=1\nA=2\n"), vec![("A".into(), "2".into())]);
    }

    #[test]
    fn bad_lines_name_their_number() {
        let cases = [
            ("A=1\njust words\n", 2),
            ("A=1\n\n1X=2\n", 3),
            ("A=\"open\nstill\n", 1),
            ("A='x' y\n", 1),
            ("export\n", 1),
        ];
        for (text, line) in cases {
            match parse(text) {
                Err(EnvFileError::BadLine(n, _)) => assert_eq!(n, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn paths_split_on_commas_and_blanks_with_optional_marks() {
        assert_eq!(
            paths("/a, -/b  c"),
            vec![
                EnvFilePath {
                    path: "/a".into(),
                    optional: false
                },
                EnvFilePath {
                    path: "/b".into(),
                    optional: true
                },
                EnvFilePath {
                    path: "c".into(),
                    optional: false
                },
            ]
        );
    }

    #[test]
    fn a_missing_file_is_an_error_unless_optional() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.env");
        assert_eq!(read(&missing, true), Ok(None));
        assert!(matches!(
            read(&missing, false),
            Err(EnvFileError::Unreadable(why)) if why.contains("no such file")
        ));
    }
}
