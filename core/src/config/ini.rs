//! The INI dialect of Python's `RawConfigParser` as Supervisor configures it
//! (inline comment prefixes `;` and `#`, non-strict): sections in file
//! order, duplicate sections merged with later keys winning, option names
//! lower-cased, indented continuation lines, blank lines kept inside values,
//! `[DEFAULT]` values visible in every section, and the reference's syntax
//! errors (`File contains no section headers`, lines without `=`/`:`).
//! This module only splits text into sections and raw values; it knows
//! nothing of Supervisor's options and never expands `%`.
//!
//! Why not rust-ini behind a comment pre-pass (as first planned): the
//! pre-pass had to classify every line the way Python does anyway
//! (comments, continuations by indentation relative to the key's own
//! indentation, blank lines inside values), and rust-ini still cannot give
//! the line of each key (our errors name it), the `[DEFAULT]` fallback,
//! Python's header rule (`[a] junk` is section `a`, `[ a ]` keeps its
//! spaces), nor the error for a line with neither `=` nor `:`. So this
//! module follows `configparser.RawConfigParser._read` line by line
//! instead; the golden tests hold it against the reference.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::ConfigError;

/// One option as read: its value with continuation lines joined by `\n`,
/// and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The lower-cased option name.
    pub key: String,
    /// The raw value (comments removed, not expanded).
    pub value: String,
    /// The file the value came from.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: usize,
}

/// One section: its options in first-seen order (Python's dict keeps the
/// position of a key when a later file sets it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, exactly as written.
    pub name: String,
    /// The file that first defined the section (the reference's
    /// `section_to_file`, used in its error messages).
    pub file: PathBuf,
    /// The 1-based line of that first header.
    pub line: usize,
    /// The options.
    pub entries: Vec<Entry>,
}

impl Section {
    fn set(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(slot) => *slot = entry,
            None => self.entries.push(entry),
        }
    }

    fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// Everything read so far from one or more files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    sections: Vec<Section>,
    /// Section name to its position in `sections` (configs with a
    /// thousand programs look sections up for every option).
    index: HashMap<String, usize>,
    defaults: Vec<Entry>,
}

/// The name Python's configparser gives the section of defaults.
const DEFAULT_SECTION: &str = "DEFAULT";

impl Ini {
    /// Section names in the order first seen (without `DEFAULT`).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// Whether the section exists.
    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// The section named `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.index.get(name).map(|&i| &self.sections[i])
    }

    /// An option of a section, falling back to `[DEFAULT]` as Python does.
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        let found = self.section(section)?;
        found
            .get(key)
            .or_else(|| self.defaults.iter().find(|e| e.key == key))
    }

    /// The option names of a section: its own, then those only in
    /// `[DEFAULT]` (Python's `options()`).
    pub fn options(&self, section: &str) -> Vec<&Entry> {
        let Some(found) = self.section(section) else {
            return Vec::new();
        };
        let mut all: Vec<&Entry> = found.entries.iter().collect();
        for default in &self.defaults {
            if found.get(&default.key).is_none() {
                all.push(default);
            }
        }
        all
    }

    /// Set `key` of `section` (made if missing) to `value` as given,
    /// unparsed: Python's `RawConfigParser.set`, with which
    /// supervisor_twiddler builds a program section out of an RPC's
    /// options. Line 0: the value was written in no file.
    pub fn set_option(&mut self, section: &str, key: &str, value: &str, file: &Path) {
        let target = self.open_section(section, file, 0);
        let entry = Entry {
            key: key.to_lowercase(),
            value: value.to_string(),
            file: file.to_path_buf(),
            line: 0,
        };
        self.set(&target, entry);
    }

    /// Supervisor's `expand_here`: replace the literal text `%(here)s` in
    /// every value (defaults included, copied into each section as Python's
    /// `items()` + `set()` do) by `here`. The reference does this after
    /// reading the main file and after each included file when the main
    /// file has an `[include]` section.
    pub fn expand_here(&mut self, here: &Path) {
        const HERE: &str = "%(here)s";
        let here = here.to_string_lossy();
        let defaults = self.defaults.clone();
        for section in &mut self.sections {
            for default in &defaults {
                if section.get(&default.key).is_none() && default.value.contains(HERE) {
                    let mut copied = default.clone();
                    copied.value = copied.value.replace(HERE, &here);
                    section.entries.push(copied);
                }
            }
            for entry in &mut section.entries {
                if entry.value.contains(HERE) {
                    entry.value = entry.value.replace(HERE, &here);
                }
            }
        }
    }

    /// Read `text` (the contents of `file`) into this parser, merging with
    /// what was read before. Returns the syntax errors; like Python, a
    /// missing section header stops the file there, other bad lines are
    /// collected and the rest of the file is still read.
    pub fn read(&mut self, text: &str, file: &Path) -> Vec<ConfigError> {
        // Python reads text files with universal newlines: `\r\n` and a
        // lone `\r` both end a line.
        let normalized;
        let text = if text.contains('\r') {
            normalized = text.replace("\r\n", "\n").replace('\r', "\n");
            normalized.as_str()
        } else {
            text
        };
        let mut errors = Vec::new();
        // Where the option being continued lives: None = no option yet.
        let mut current: Option<Target> = None;
        // Python's `cursect`: None before the first header.
        let mut section: Option<SectionRef> = None;
        let mut indent_level = usize::MAX;
        // Lines of the value being built (joined at the end of the value).
        for (index, raw_line) in text.split_inclusive('\n').enumerate() {
            let lineno = index + 1;
            let line = raw_line.strip_suffix('\n').unwrap_or(raw_line);
            let comment_start = comment_start(line);
            let value = match comment_start {
                Some(at) => py_strip(&line[..at]),
                None => py_strip(line),
            };
            if value.is_empty() {
                // A blank line belongs to the value being read, but a
                // comment-only line does not.
                if let (None, Some(target)) = (comment_start, &current) {
                    self.append(target, "");
                }
                continue;
            }
            let indent = line
                .char_indices()
                .find(|(_, c)| !c.is_whitespace())
                .map_or(0, |(i, _)| line[..i].chars().count());
            if let (Some(target), true) = (&current, indent > indent_level) {
                self.append(target, value);
                continue;
            }
            indent_level = indent;
            if let Some(name) = section_header(value) {
                section = Some(self.open_section(name, file, lineno));
                current = None;
                continue;
            }
            let Some(section_ref) = &section else {
                errors.push(
                    ConfigError::new(format!(
                        "the file has no section header before this line: {}",
                        crate::pyrepr::py_repr(&format!("{line}\n"))
                    ))
                    .in_file(file)
                    .at_line(lineno),
                );
                return errors;
            };
            match split_option(value) {
                Some((key, val)) if !key.is_empty() => {
                    let entry = Entry {
                        key: key.to_lowercase(),
                        value: val.to_string(),
                        file: file.to_path_buf(),
                        line: lineno,
                    };
                    let key = entry.key.clone();
                    self.set(section_ref, entry);
                    current = Some(Target {
                        section: *section_ref,
                        key,
                    });
                }
                _ => {
                    errors.push(
                        ConfigError::new(format!(
                            "this line is neither a [section] header nor an option \
                             (name = value): {}",
                            crate::pyrepr::py_repr(&format!("{line}\n"))
                        ))
                        .in_file(file)
                        .at_line(lineno),
                    );
                    // Python keeps `optname` of the previous option here,
                    // so later indented lines still continue it.
                }
            }
        }
        // Python strips the end of every joined value.
        for s in &mut self.sections {
            for e in &mut s.entries {
                trim_end_in_place(&mut e.value);
            }
        }
        for e in &mut self.defaults {
            trim_end_in_place(&mut e.value);
        }
        errors
    }

    fn open_section(&mut self, name: &str, file: &Path, line: usize) -> SectionRef {
        if name == DEFAULT_SECTION {
            return SectionRef::Defaults;
        }
        if let Some(&i) = self.index.get(name) {
            return SectionRef::Index(i);
        }
        self.index.insert(name.to_string(), self.sections.len());
        self.sections.push(Section {
            name: name.to_string(),
            file: file.to_path_buf(),
            line,
            entries: Vec::new(),
        });
        SectionRef::Index(self.sections.len() - 1)
    }

    fn entries_mut(&mut self, section: SectionRef) -> &mut Vec<Entry> {
        match section {
            SectionRef::Defaults => &mut self.defaults,
            SectionRef::Index(i) => &mut self.sections[i].entries,
        }
    }

    fn set(&mut self, section: &SectionRef, entry: Entry) {
        match section {
            SectionRef::Defaults => match self.defaults.iter_mut().find(|e| e.key == entry.key) {
                Some(slot) => *slot = entry,
                None => self.defaults.push(entry),
            },
            SectionRef::Index(i) => self.sections[*i].set(entry),
        }
    }

    fn append(&mut self, target: &Target, line: &str) {
        if let Some(entry) = self
            .entries_mut(target.section)
            .iter_mut()
            .find(|e| e.key == target.key)
        {
            entry.value.push('\n');
            entry.value.push_str(line);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SectionRef {
    Defaults,
    Index(usize),
}

#[derive(Debug)]
struct Target {
    section: SectionRef,
    key: String,
}

/// Where a comment starts: a `;`/`#` at the start of the line or after
/// whitespace, or the whole line when its first non-blank is `;`/`#`.
fn comment_start(line: &str) -> Option<usize> {
    let trimmed = py_strip(line);
    if trimmed.starts_with(';') || trimmed.starts_with('#') {
        return Some(0);
    }
    let mut previous: Option<char> = None;
    for (i, c) in line.char_indices() {
        if (c == ';' || c == '#') && previous.is_none_or(char::is_whitespace) {
            return Some(i);
        }
        previous = Some(c);
    }
    None
}

/// Python's `SECTCRE` (`\[(?P<header>.+)\]` matched at the start): the
/// name runs to the last `]` of the line.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

/// Python's `OPTCRE`: the name is everything before the first `=` or `:`
/// (trailing blanks removed), the value everything after it, stripped.
fn split_option(value: &str) -> Option<(&str, &str)> {
    let at = value.find(['=', ':'])?;
    let key = value[..at].trim_end_matches([' ', '\t']);
    let key = py_strip_end(key);
    Some((key, py_strip(&value[at + 1..])))
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

fn py_strip_end(s: &str) -> &str {
    s.trim_end_matches(char::is_whitespace)
}

fn trim_end_in_place(s: &mut String) {
    let len = py_strip_end(s).len();
    s.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Ini, Vec<ConfigError>) {
        let mut ini = Ini::default();
        let errors = ini.read(text, Path::new("/t.conf"));
        (ini, errors)
    }

    fn value(ini: &Ini, section: &str, key: &str) -> Option<String> {
        ini.get(section, key).map(|e| e.value.clone())
    }

    #[test]
    fn comments_inline_and_full_line() {
        let (ini, errors) = read(
            "; top\n[a]\n# c\n  ; indented comment\nx = 1 ; gone\ny=a;b\nz=bash -c 'a ; b'\nw=#x\n",
        );
        assert!(errors.is_empty());
        assert_eq!(value(&ini, "a", "x").as_deref(), Some("1"));
        assert_eq!(value(&ini, "a", "y").as_deref(), Some("a;b"));
        assert_eq!(value(&ini, "a", "z").as_deref(), Some("bash -c 'a"));
        assert_eq!(value(&ini, "a", "w").as_deref(), Some("#x"));
        assert_eq!(ini.get("a", "x").map(|e| e.line), Some(5));
    }

    #[test]
    fn continuations_blank_lines_and_comment_lines_inside_values() {
        let (ini, _) = read("[a]\nenv=A=1,\n  B=2\n\n  ; note\n  C=3\n\nnext=1\n");
        assert_eq!(value(&ini, "a", "env").as_deref(), Some("A=1,\nB=2\n\nC=3"));
        assert_eq!(value(&ini, "a", "next").as_deref(), Some("1"));
    }

    #[test]
    fn keys_are_lowercased_sections_are_not_and_duplicates_merge() {
        let (ini, _) = read("[Prog]\nKey=1\nother=x\n[Prog]\nkey : 2\n");
        assert_eq!(value(&ini, "Prog", "key").as_deref(), Some("2"));
        assert_eq!(value(&ini, "Prog", "other").as_deref(), Some("x"));
        assert!(!ini.has_section("prog"));
        assert_eq!(ini.section_names().count(), 1);
    }

    #[test]
    fn header_rules_follow_sectcre() {
        let (ini, _) = read("[a] junk\nx=1\n[ b ]\ny=2\n[c]d]\nz=3\n");
        let names: Vec<_> = ini.section_names().collect();
        assert_eq!(names, vec!["a", " b ", "c]d"]);
    }

    #[test]
    fn defaults_section_is_a_fallback() {
        let (ini, _) = read("[DEFAULT]\nautostart=false\n[a]\nx=1\n");
        assert_eq!(value(&ini, "a", "autostart").as_deref(), Some("false"));
        assert_eq!(ini.options("a").len(), 2);
        assert!(!ini.has_section("DEFAULT"));
    }

    #[test]
    fn missing_header_and_bad_lines_are_errors_with_lines() {
        let (_, errors) = read("x=1\n[a]\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(1));
        let (ini, errors) = read("[a]\ngarbage\n=v\nok=1\n");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, Some(2));
        assert_eq!(errors[1].line, Some(3));
        assert_eq!(value(&ini, "a", "ok").as_deref(), Some("1"));
    }

    #[test]
    fn indented_key_needs_deeper_continuation() {
        let (ini, _) = read("[a]\n  x=1\n  y=2\n    more\n");
        assert_eq!(value(&ini, "a", "x").as_deref(), Some("1"));
        assert_eq!(value(&ini, "a", "y").as_deref(), Some("2\nmore"));
    }

    #[test]
    fn expand_here_replaces_literal_text() {
        let (mut ini, _) = read("[DEFAULT]\nd=%(here)s/d\n[a]\nx=%(here)s/x %%(here)s\n");
        ini.expand_here(Path::new("/h"));
        assert_eq!(value(&ini, "a", "x").as_deref(), Some("/h/x %/h"));
        assert_eq!(value(&ini, "a", "d").as_deref(), Some("/h/d"));
    }
}
