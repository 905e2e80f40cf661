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
