//! Name resolution against the snapshot (`_getGroupAndProcess`) and the
//! orders the reference iterates in: priority order for actions, lexical
//! order for listings.

use supervisor_sdk::fault::{BAD_NAME, Fault};
use supervisor_sdk::host::ProcessInfo;
use supervisor_sdk::namespec::split_namespec;

/// What a namespec resolved to.
pub(crate) enum Target<'a> {
    /// One process.
    Process(&'a ProcessInfo),
    /// A whole group (`group:*`, `group:`), by name.
    Group(&'a str),
}

/// Resolve `spec`; a missing group or process is `BAD_NAME: <spec>`.
pub(crate) fn resolve<'a>(infos: &'a [ProcessInfo], spec: &str) -> Result<Target<'a>, Fault> {
    let parsed = split_namespec(spec);
    let mut in_group = infos.iter().filter(|p| p.group.as_str() == parsed.group);
    let Some(first) = in_group.next() else {
        return Err(Fault::with(BAD_NAME, spec));
    };
    match parsed.process {
        None => Ok(Target::Group(first.group.as_str())),
        Some(name) => std::iter::once(first)
            .chain(in_group)
            .find(|p| p.name.as_str() == name)
            .map(Target::Process)
            .ok_or_else(|| Fault::with(BAD_NAME, spec)),
    }
}

/// Whether a group of that name is active.
pub(crate) fn group_exists(infos: &[ProcessInfo], group: &str) -> bool {
    infos.iter().any(|p| p.group.as_str() == group)
}

/// The reference's action order: groups by priority (ties by name, the
/// order the config gives them), then processes by priority (ties by name).
pub(crate) fn sort_by_priority(infos: &mut [&ProcessInfo]) {
    infos.sort_by(|a, b| {
        (a.group_priority, &a.group, a.priority, &a.name).cmp(&(
            b.group_priority,
            &b.group,
            b.priority,
            &b.name,
        ))
    });
}

/// The reference's listing order (`getAllProcessInfo`): group name, then
/// process name.
/// `items` stand for process infos (`info` of one is its info).
pub(crate) fn sort_lexically<'a, T>(items: &mut [T], info: impl Fn(&T) -> &'a ProcessInfo) {
    items.sort_by(|a, b| {
        let (a, b) = (info(a), info(b));
        (&a.group, &a.name).cmp(&(&b.group, &b.name))
    });
}
