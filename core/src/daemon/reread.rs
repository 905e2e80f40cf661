//! `supervisor.reloadConfig`: reading the configuration file again on the
//! blocking pool, and the `[[added, changed, removed]]` answer comparing
//! it with the active groups. Nothing is applied here: the task keeps the
//! result as its pending configuration.

use std::path::PathBuf;

use supervisor_sdk::value::Value;

use crate::config::{self, Config, GroupConfig, LoadOptions};

/// Read `path` again off the runtime threads and hand the result (or
/// every error, joined) to `done`.
pub fn load_in_background(
    path: PathBuf,
    options: LoadOptions,
    done: impl FnOnce(Result<Box<Config>, String>) + Send + 'static,
) {
    tokio::spawn(async move {
        let loaded =
            tokio::task::spawn_blocking(move || config::load_config_with(&path, &options)).await;
        let result = match loaded {
            Ok(Ok(config)) => Ok(Box::new(config)),
            Ok(Err(errors)) => Err(errors
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")),
            Err(error) => Err(error.to_string()),
        };
        done(result);
    });
}

/// `reloadConfig`'s answer: the groups of `new` added, changed and
/// removed with respect to `active`.
pub fn changes(active: &[GroupConfig], new: &[GroupConfig]) -> Value {
    let diff = config::diff(active, new);
    let names = |groups: &[&GroupConfig]| {
        Value::array(groups.iter().map(|g| Value::string(g.name.as_str())))
    };
    Value::array([Value::array([
        names(&diff.added),
        names(&diff.changed),
        names(&diff.removed),
    ])])
}

#[cfg(test)]
mod tests {
    use super::super::{test_config as load, write_test_config};
    use super::*;

    #[test]
    fn the_answer_lists_added_changed_and_removed_groups() {
        let (_a, old) = load(
            "[program:kept]\ncommand=/bin/true\n[program:edited]\ncommand=/bin/true\n\
             [program:gone]\ncommand=/bin/true\n",
        );
        let (_b, new) = load(
            "[program:kept]\ncommand=/bin/true\n[program:edited]\ncommand=/bin/false\n\
             [program:fresh]\ncommand=/bin/true\n",
        );
        let names = |v: &Value| format!("{v:?}");
        let want = Value::array([Value::array([
            Value::array([Value::string("fresh")]),
            Value::array([Value::string("edited")]),
            Value::array([Value::string("gone")]),
        ])]);
        assert_eq!(names(&changes(&old.groups, &new.groups)), names(&want));
    }

    #[tokio::test]
    async fn a_broken_file_is_reported_not_loaded() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = write_test_config(&dir, "[program:x]\n");
        let (sender, receiver) = tokio::sync::oneshot::channel();
        load_in_background(path, LoadOptions::default(), move |result| {
            let _ = sender.send(result.map(|_| ()));
        });
        let result = receiver.await.expect("the load reports");
        assert!(result.is_err_and(|why| why.contains("command")));
    }
}
