//! Settings that were renamed. An old name that is still set is refused,
//! naming the new one, rather than ignored: a deployment that kept the old
//! name would otherwise run on defaults (the snapshot's prefix and TTL)
//! without a word. Both adapters (the Lambda functions and the Worker)
//! check it when they read their settings.

/// Each renamed setting: (old name, new name). The `EXPORT_*` names said
/// "export" for the serving snapshot; "export" now means only DynamoDB's
/// export layout.
pub const RENAMED_SETTINGS: &[(&str, &str)] = &[
    ("EXPORT_BUCKET", "SNAPSHOT_BUCKET"),
    ("EXPORT_PREFIX", "SNAPSHOT_PREFIX"),
    ("EXPORT_TTL_SECONDS", "SNAPSHOT_TTL_SECONDS"),
];

/// The error for the first renamed setting that `get` finds set, if any.
pub fn renamed_setting(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    RENAMED_SETTINGS
        .iter()
        .find(|(old, _)| get(old).is_some())
        .map(|(old, new)| {
            format!("{old} was renamed {new}: set {new} instead (the old name is no longer read)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_name_still_set_is_refused_with_the_new_name() {
        assert_eq!(renamed_setting(|_| None), None);
        let old = renamed_setting(|k| (k == "EXPORT_PREFIX").then(|| "p".to_string())).unwrap();
        assert!(
            old.starts_with("EXPORT_PREFIX was renamed SNAPSHOT_PREFIX"),
            "{old}"
        );
    }
}
