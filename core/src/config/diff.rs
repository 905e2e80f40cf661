//! The difference between two loaded configurations, by the reference's
//! rules (`Supervisor.diff_to_active`): groups only in the new one are
//! added, groups only in the old one are removed, and a group in both
//! changed when the new one does not equal the old one under the
//! reference's `__eq__` (see [`GroupConfig::same_as`]). `reread`, `update`
//! and `reload` use it; this module changes nothing.

use super::model::GroupConfig;

/// Groups added, changed and removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigDiff<'a> {
    /// In the new config only, in the new config's order.
    pub added: Vec<&'a GroupConfig>,
    /// In both but different; the new version, in the new config's order.
    pub changed: Vec<&'a GroupConfig>,
    /// In the old config only, in the old config's order.
    pub removed: Vec<&'a GroupConfig>,
}

impl ConfigDiff<'_> {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Compare the groups of the active config (`old`) with a freshly loaded
/// one (`new`). When a name occurs twice, the later one counts, as in the
/// reference's dicts.
pub fn diff<'a>(old: &'a [GroupConfig], new: &'a [GroupConfig]) -> ConfigDiff<'a> {
    let find = |list: &'a [GroupConfig], name: &str| list.iter().rev().find(|g| g.name == name);
    let added = new
        .iter()
        .filter(|g| find(old, &g.name).is_none())
        .collect();
    let removed = old
        .iter()
        .filter(|g| find(new, &g.name).is_none())
        .collect();
    let changed = new
        .iter()
        .filter(|g| find(old, &g.name).is_some_and(|o| !g.same_as(o)))
        .collect();
    ConfigDiff {
        added,
        changed,
        removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{LoadOptions, load_config_with};
    use crate::config::model::Config;

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).unwrap();
        let options = LoadOptions {
            host_node_name: "node".into(),
            ..LoadOptions::default()
        };
        load_config_with(&path, &options).unwrap()
    }

    fn names(list: &[&GroupConfig]) -> Vec<String> {
        list.iter().map(|g| g.name.clone()).collect()
    }

    const BASE: &str = "[supervisord]\n[program:a]\ncommand=/bin/a\n[program:b]\ncommand=/bin/b\n";

    #[test]
    fn identical_configs_have_no_difference() {
        let old = load(BASE);
        let new = load(BASE);
        assert!(diff(&old.groups, &new.groups).is_empty());
    }

    #[test]
    fn added_changed_removed() {
        let old = load(BASE);
        let new =
            load("[supervisord]\n[program:a]\ncommand=/bin/a2\n[program:c]\ncommand=/bin/c\n");
        let d = diff(&old.groups, &new.groups);
        assert_eq!(names(&d.added), vec!["c"]);
        assert_eq!(names(&d.changed), vec!["a"]);
        assert_eq!(names(&d.removed), vec!["b"]);
    }

    #[test]
    fn auto_logfile_on_either_side_is_not_a_change() {
        let old = load(BASE);
        let new = load(
            "[supervisord]\n[program:a]\ncommand=/bin/a\nstdout_logfile=/tmp/a.log\n\
             [program:b]\ncommand=/bin/b\n",
        );
        assert!(diff(&old.groups, &new.groups).is_empty());
        let none = load(
            "[supervisord]\n[program:a]\ncommand=/bin/a\nstdout_logfile=NONE\n\
             [program:b]\ncommand=/bin/b\n",
        );
        let with_path = load(
            "[supervisord]\n[program:a]\ncommand=/bin/a\nstdout_logfile=/tmp/a.log\n\
             [program:b]\ncommand=/bin/b\n",
        );
        assert_eq!(
            names(&diff(&none.groups, &with_path.groups).changed),
            vec!["a"]
        );
    }

    #[test]
    fn group_priority_numprocs_and_environment_changes_count() {
        let old = load(BASE);
        for changed in [
            "[supervisord]\n[program:a]\ncommand=/bin/a\npriority=1\n[program:b]\ncommand=/bin/b\n",
            "[supervisord]\n[program:a]\ncommand=/bin/a\nnumprocs=2\nprocess_name=%(process_num)s\n\
             [program:b]\ncommand=/bin/b\n",
            "[supervisord]\nenvironment=X=1\n[program:a]\ncommand=/bin/a\n[program:b]\ncommand=/bin/b\n",
        ] {
            let new = load(changed);
            let d = diff(&old.groups, &new.groups);
            assert!(!d.changed.is_empty(), "{changed}");
        }
    }

    #[test]
    fn kinds_compare_as_the_reference_does() {
        let program = load("[supervisord]\n[program:a]\ncommand=/bin/a\n");
        let listener =
            load("[supervisord]\n[eventlistener:a]\ncommand=/bin/a\nevents=TICK_5\npriority=999\n");
        assert_eq!(
            names(&diff(&program.groups, &listener.groups).changed),
            vec!["a"]
        );
        assert_eq!(
            names(&diff(&listener.groups, &program.groups).changed),
            vec!["a"]
        );
        let fcgi =
            load("[supervisord]\n[fcgi-program:a]\ncommand=/bin/a\nsocket=tcp://localhost:9000\n");
        // A program group compares as the fcgi group's base class: equal.
        assert!(diff(&fcgi.groups, &program.groups).changed.is_empty());
        assert_eq!(
            names(&diff(&program.groups, &fcgi.groups).changed),
            vec!["a"]
        );
        let moved =
            load("[supervisord]\n[fcgi-program:a]\ncommand=/bin/a\nsocket=tcp://localhost:9001\n");
        assert_eq!(names(&diff(&fcgi.groups, &moved.groups).changed), vec!["a"]);
        let more_events = load(
            "[supervisord]\n[eventlistener:a]\ncommand=/bin/a\nevents=TICK_5,TICK_60\npriority=999\n",
        );
        assert_eq!(
            names(&diff(&listener.groups, &more_events.groups).changed),
            vec!["a"]
        );
    }
}
