//! Names in a config file that nothing reads: sections of no known kind
//! and options their section's kind does not have, each with its file,
//! line and the nearest known name. The reference accepts both without a
//! word (a `progam:web` section simply runs nothing), so this is a list
//! to show, never an error: `--test-config` prints it, `--strict` fails on
//! it, the daemon logs it at start. Pure: it reads the parsed INI only.

use std::fmt;
use std::path::PathBuf;

use super::ini::Ini;
use super::known::{SECTION_NAMES, SectionKind};

/// One unknown section or option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// The file it is written in.
    pub file: PathBuf,
    /// Its 1-based line (the header's, for a section).
    pub line: usize,
    /// The section, as written between the brackets.
    pub section: String,
    /// The option, or None when the whole section is unknown.
    pub option: Option<String>,
    /// The nearest known name, when one is near enough.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        match &self.option {
            None => write!(f, "unknown section [{}], ignored", self.section)?,
            Some(option) => write!(f, "[{}] unknown option {option}, ignored", self.section)?,
        }
        match (&self.suggestion, &self.option) {
            (Some(s), None) => write!(f, " (did you mean [{s}]?)"),
            (Some(s), Some(_)) => write!(f, " (did you mean {s}?)"),
            (None, _) => Ok(()),
        }
    }
}

/// The known name nearest to `name`, if it is close enough to be a typo:
/// at most a third of its letters differ (at least one edit allowed).
fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// A suggestion for an unknown section name: a `type:name` section keeps
/// its name and gets the nearest type; otherwise the nearest exact name.
fn suggest_section(name: &str) -> Option<String> {
    if let Some((kind, rest)) = name.split_once(':') {
        let prefixes = SECTION_NAMES
            .iter()
            .map(|(written, _)| *written)
            .filter(|w| w.ends_with(':'))
            .map(|w| w.trim_end_matches(':'));
        return nearest(kind, prefixes).map(|k| format!("{k}:{rest}"));
    }
    let exact = SECTION_NAMES
        .iter()
        .map(|(written, _)| *written)
        .filter(|w| !w.ends_with(':'));
    nearest(name, exact).map(str::to_string).or_else(|| {
        // `[program]` or `[programweb]`: the colon is what is missing.
        SECTION_NAMES
            .iter()
            .map(|(written, _)| *written)
            .filter(|w| w.ends_with(':'))
            .find(|w| name.starts_with(w.trim_end_matches(':')))
            .map(|w| {
                let rest = &name[w.len() - 1..];
                format!("{w}{}", if rest.is_empty() { "NAME" } else { rest })
            })
    })
}

/// Every unknown section and option of `ini`, in file order. An
/// eventlistener naming a result handler of its own passes its other
/// keys to it, so they are not unknown.
pub fn unknown_names(ini: &Ini) -> Vec<UnknownName> {
    let mut found = Vec::new();
    for name in ini.section_names() {
        let Some(section) = ini.section(name) else {
            continue;
        };
        let Some(kind) = SectionKind::of(name) else {
            found.push(UnknownName {
                file: section.file.clone(),
                line: section.line,
                section: name.to_string(),
                option: None,
                suggestion: suggest_section(name),
            });
            continue;
        };
        if kind == SectionKind::EventListener
            && section.entries.iter().any(|e| {
                e.key == "result_handler"
                    && e.value.trim() != super::plugin_spec::DEFAULT_RESULT_HANDLER
            })
        {
            continue;
        }
        for entry in &section.entries {
            if kind.knows(&entry.key) {
                continue;
            }
            found.push(UnknownName {
                file: entry.file.clone(),
                line: entry.line,
                section: name.to_string(),
                option: Some(entry.key.clone()),
                suggestion: nearest(&entry.key, kind.options()).map(str::to_string),
            });
        }
    }
    found.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn names(text: &str) -> Vec<String> {
        let mut ini = Ini::default();
        assert!(ini.read(text, Path::new("/c/s.conf")).is_empty());
        unknown_names(&ini)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn typos_get_the_nearest_known_name() {
        let got = names(
            "[supervisord]\nlogfil=x\n[progam:web]\ncommand=c\n[program:db]\ncomand=c\n\
             autostrat=false\nweird_thing=1\n[unix_http_servr]\nfile=/s\n[program]\nx=1\n\
             [rpcinterface:x]\nanything=1\n[eventlistener:e]\nevents=TICK_5\nbufer_size=3\n\
             [eventlistener:h]\nresult_handler=./libh.so:make\nhandler_key=1\n",
        );
        assert_eq!(
            got,
            vec![
                "/c/s.conf:2: [supervisord] unknown option logfil, ignored (did you mean logfile?)",
                "/c/s.conf:3: unknown section [progam:web], ignored (did you mean [program:web]?)",
                "/c/s.conf:6: [program:db] unknown option comand, ignored (did you mean command?)",
                "/c/s.conf:7: [program:db] unknown option autostrat, ignored (did you mean autostart?)",
                "/c/s.conf:8: [program:db] unknown option weird_thing, ignored",
                "/c/s.conf:9: unknown section [unix_http_servr], ignored (did you mean [unix_http_server]?)",
                "/c/s.conf:11: unknown section [program], ignored (did you mean [program:NAME]?)",
                "/c/s.conf:17: [eventlistener:e] unknown option bufer_size, ignored (did you mean buffer_size?)",
            ]
        );
    }

    #[test]
    fn a_clean_file_has_none() {
        assert!(
            names(
                "[supervisord]\nlogfile=x\n[program-defaults]\nstartsecs=2\n\
                 [program:a]\ncommand=c\nenvironment_file=-x\n[include]\nfiles=x\n"
            )
            .is_empty()
        );
    }
}
