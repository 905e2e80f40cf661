//! Errors and parse messages of the configuration layer. Every error names
//! where it came from (file, line, section, option) and quotes the value
//! that was refused, so a user with a 500-line config finds it at once.
//! The wording is ours; the decision to refuse matches the reference.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in, when known.
    pub file: Option<PathBuf>,
    /// The 1-based line of the option (or of the bad line), when known.
    pub line: Option<usize>,
    /// The section name without brackets (`program:web`).
    pub section: Option<String>,
    /// The option name (`startsecs`).
    pub option: Option<String>,
    /// The refused value, exactly as written (after expansion where the
    /// reference expands before checking).
    pub value: Option<String>,
    /// What is wrong, in words.
    pub problem: String,
}

impl ConfigError {
    /// An error with only a description; add the location with the
    /// builder methods.
    pub fn new(problem: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            section: None,
            option: None,
            value: None,
            problem: problem.into(),
        }
    }

    /// Set the file.
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Set the line.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Set the section.
    pub fn in_section(mut self, section: impl Into<String>) -> Self {
        self.section = Some(section.into());
        self
    }

    /// Set the option.
    pub fn for_option(mut self, option: impl Into<String>) -> Self {
        self.option = Some(option.into());
        self
    }

    /// Set the refused value.
    pub fn with_value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }
}

impl fmt::Display for ConfigError {
    /// `file:line: [section] option = 'value': problem`, leaving out the
    /// parts that are not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut located = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            located = true;
        }
        if let Some(section) = &self.section {
            if located {
                f.write_str(": ")?;
            }
            write!(f, "[{section}]")?;
            located = true;
        }
        if let Some(option) = &self.option {
            if located {
                f.write_str(" ")?;
            }
            f.write_str(option)?;
            if let Some(value) = &self.value {
                write!(f, " = {}", py_repr(value))?;
            }
            located = true;
        } else if let Some(value) = &self.value {
            if located {
                f.write_str(" ")?;
            }
            write!(f, "value {}", py_repr(value))?;
            located = true;
        }
        if located {
            f.write_str(": ")?;
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem of one load, in the order found. A load fails when this
/// is non-empty; all of them are shown at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The first error (loads never fail with an empty list).
    pub fn first(&self) -> Option<&ConfigError> {
        self.0.first()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

/// How loud a parse message is; the daemon logs it at that level once its
/// logger exists (the reference keeps them until then too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageLevel {
    /// Logged at `info` (`Included extra file ...`).
    Info,
    /// Logged at `warn` (`No file matches via include ...`).
    Warn,
    /// Logged at `critical`.
    Critical,
}

/// A message produced while loading that is not an error: the daemon logs
/// it after its logger is set up. The text is the reference's, because log
/// watchers match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMessage {
    /// The level to log it at.
    pub level: MessageLevel,
    /// The text.
    pub text: String,
}

// Kept under this path because the daemon's argument parser imports it
// from here; the one definition is in `crate::pyrepr`.
pub use crate::pyrepr::py_repr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_known_part() {
        let e = ConfigError::new("not an integer")
            .in_file("/etc/s.conf")
            .at_line(7)
            .in_section("program:web")
            .for_option("startsecs")
            .with_value("abc");
        assert_eq!(
            e.to_string(),
            "/etc/s.conf:7: [program:web] startsecs = 'abc': not an integer"
        );
        assert_eq!(ConfigError::new("plain").to_string(), "plain");
    }
}
