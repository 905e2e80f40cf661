//! The interactive shell: a `status` first, then one command per line
//! until `quit`, `exit`, Ctrl-D or Ctrl-C at the prompt (as the reference;
//! Ctrl-C during `tail -f` or `fg` only ends those). On a terminal it uses
//! rustyline for line editing, history (kept in `history_file`) and tab
//! completion of commands, group and process names; otherwise it reads
//! plain lines, writing the prompt as Python's `input()` does.
//!
//! It never interprets a command: that is the controller's job.

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::actions::{self, ACTIONS, Completes, Flow};
use super::api::ProcessInfo;
use super::controller::Controller;
use super::stream::read_stdin_line;

/// Run the shell until the user leaves. The exit status of an
/// interactive session is always 0, as the reference's.
pub fn run(controller: Controller, prompt: &str, history_file: Option<PathBuf>) -> i32 {
    let controller = Rc::new(RefCell::new(controller));
    let prompt = format!("{prompt}> ");
    if actions::onecmd(&mut controller.borrow_mut(), "status") == Flow::Quit {
        return 0;
    }
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        match line_editor(Rc::clone(&controller), history_file.as_ref()) {
            Ok(editor) => return edit_loop(editor, &controller, &prompt, history_file.as_ref()),
            Err(e) => {
                let _ = writeln!(
                    io::stderr(),
                    "line editing unavailable ({e}); reading plain lines"
                );
            }
        }
    }
    plain_loop(&controller, &prompt);
    0
}

type LineEditor = Editor<Completion, DefaultHistory>;

fn line_editor(
    controller: Rc<RefCell<Controller>>,
    history_file: Option<&PathBuf>,
) -> rustyline::Result<LineEditor> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor = LineEditor::with_config(config)?;
    editor.set_helper(Some(Completion { controller }));
    if let Some(path) = history_file {
        // A missing or unreadable history is not worth a word, as in the
        // reference.
        let _ = editor.load_history(path);
    }
    Ok(editor)
}

fn edit_loop(
    mut editor: LineEditor,
    controller: &Rc<RefCell<Controller>>,
    prompt: &str,
    history_file: Option<&PathBuf>,
) -> i32 {
    loop {
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    // Saved after every command: a command that ends the
                    // process (an unhandled Ctrl-C) loses nothing.
                    if let Some(path) = history_file {
                        save_history(&editor, path);
                    }
                }
                if actions::onecmd(&mut controller.borrow_mut(), &line) == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => {
                println!();
                break;
            }
            Err(e) => {
                let _ = writeln!(io::stderr(), "error reading a command: {e}");
                break;
            }
        }
    }
    0
}

/// Write the history as GNU readline does, one entry per line, so the
/// reference supervisorctl can share the file (rustyline's own format
/// adds a `#V2` header line that readline would show as a command).
/// Entries holding a newline cannot be written that way and are left out.
fn save_history(editor: &LineEditor, path: &PathBuf) {
    let mut text = String::new();
    for entry in editor.history().iter().filter(|e| !e.contains('\n')) {
        text.push_str(entry);
        text.push('\n');
    }
    // Like the reference, a history that cannot be written is not an
    // error worth interrupting the user for.
    let _ = std::fs::write(path, text);
}

fn plain_loop(controller: &Rc<RefCell<Controller>>, prompt: &str) {
    loop {
        let mut out = io::stdout();
        let _ = out.write_all(prompt.as_bytes());
        let _ = out.flush();
        let Some(line) = read_stdin_line() else {
            println!();
            return;
        };
        if actions::onecmd(&mut controller.borrow_mut(), &line) == Flow::Quit {
            return;
        }
    }
}

/// Tab completion as the reference's: command names first, then
/// commands' arguments (group names for add/remove/update, process
/// names for the process commands).
pub struct Completion {
    controller: Rc<RefCell<Controller>>,
}

/// Readline's default word delimiters without `:`, `*` and `-`, so
/// `group:name`, `group:*` and dashed names complete as one word.
const DELIMITERS: &[char] = &[
    ' ', '\t', '\n', '"', '\\', '\'', '`', '@', '$', '>', '<', '=', ';', '|', '&', '{', '(',
];

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(DELIMITERS).map_or(0, |i| i + 1);
        let text = &before[start..];
        let matches = self.candidates(line, text);
        let pairs = matches
            .into_iter()
            .map(|m| Pair {
                display: m.trim_end().to_string(),
                replacement: m,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Completion {
    /// The reference's `complete`: what `text` may become, each with a
    /// trailing space, given the whole `line`.
    fn candidates(&self, line: &str, text: &str) -> Vec<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || (words.len() == 1 && !line.ends_with(' ')) {
            return complete_actions(text);
        }
        let completes = actions::find(words[0]).map_or(Completes::Nothing, |a| a.completes);
        match completes {
            Completes::Actions => complete_actions(text),
            Completes::Groups => {
                group_candidates(self.controller.borrow_mut().completion_infos(), text)
            }
            Completes::Processes => {
                process_candidates(self.controller.borrow_mut().completion_infos(), text)
            }
            Completes::Hidden | Completes::Nothing => Vec::new(),
        }
    }
}

/// Group names starting with `text`, each once, in the server's order.
fn group_candidates(infos: &[ProcessInfo], text: &str) -> Vec<String> {
    let mut groups: Vec<&str> = Vec::new();
    for info in infos {
        if !groups.contains(&info.group.as_str()) {
            groups.push(&info.group);
        }
    }
    groups
        .into_iter()
        .filter(|g| g.starts_with(text))
        .map(|g| format!("{g} "))
        .collect()
}

/// Process names starting with `text`: the bare name for a process alone
/// in its own group (unless a `:` was typed), else `group:name`, plus
/// `group:*` once per group.
fn process_candidates(infos: &[ProcessInfo], text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for info in infos {
        if text.contains(':') || info.name != info.group {
            names.push(format!("{}:{}", info.group, info.name));
            let whole = format!("{}:*", info.group);
            if !names.contains(&whole) {
                names.push(whole);
            }
        } else {
            names.push(info.name.clone());
        }
    }
    names
        .into_iter()
        .filter(|n| n.starts_with(text))
        .map(|n| format!("{n} "))
        .collect()
}

/// Action names starting with `text`, in the table's order.
fn complete_actions(text: &str) -> Vec<String> {
    ACTIONS
        .iter()
        .filter(|a| a.completes != Completes::Hidden)
        .map(|a| a.name)
        .filter(|a| a.starts_with(text))
        .map(|a| format!("{a} "))
        .collect()
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str) -> ProcessInfo {
        ProcessInfo::from_value(&dxr::Value::Struct(
            [
                ("group".to_string(), dxr::Value::String(group.into())),
                ("name".to_string(), dxr::Value::String(name.into())),
            ]
            .into_iter()
            .collect(),
        ))
    }

    #[test]
    fn completion_offers_what_the_reference_offers() {
        let infos = [
            info("grp", "ga"),
            info("grp", "gb"),
            info("sleeper", "sleeper"),
        ];
        assert_eq!(complete_actions("st"), ["start ", "status ", "stop "]);
        assert_eq!(complete_actions("he"), ["help "]);
        assert_eq!(
            process_candidates(&infos, ""),
            ["grp:ga ", "grp:* ", "grp:gb ", "sleeper "]
        );
        assert_eq!(process_candidates(&infos, "sl"), ["sleeper "]);
        assert_eq!(
            process_candidates(&infos, "sleeper:"),
            ["sleeper:sleeper ", "sleeper:* "]
        );
        assert_eq!(process_candidates(&infos, "grp:g"), ["grp:ga ", "grp:gb "]);
        assert_eq!(group_candidates(&infos, ""), ["grp ", "sleeper "]);
    }
}
