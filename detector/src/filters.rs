//! `Settings.GeneralLabels`: the label filters of `DetectLabels` and
//! `StartLabelDetection`.
//!
//! * With no inclusion filter, every label is included; with
//!   `LabelInclusionFilters` and/or `LabelCategoryInclusionFilters`, a label
//!   is included if either names it (one of its names: the label's own or
//!   one of its `Aliases`, so "Human" names "Person") or its category.
//! * `LabelExclusionFilters` and `LabelCategoryExclusionFilters` then remove
//!   the labels they name or whose category they name: exclusion wins.
//! * Filters act on each label alone: an included label's parents are not
//!   added as labels of their own (they stay in its `Parents`), and an
//!   excluded label's children are kept.
//! * Names must match exactly (case too), as the API reference says: "The
//!   exact label names or label categories must be supplied".
//!
//! The limits are the API's: at most [`MAX_FILTERS`] entries per list,
//! each at most [`MAX_FILTER_LEN`] characters matching its pattern; beyond
//! them, `InvalidParameterException`.

use crate::protocol::{ApiError, GeneralLabelsSettings, Label};

pub const MAX_FILTERS: usize = 100;
pub const MAX_FILTER_LEN: usize = 50;

/// Which labels a request keeps; the default keeps all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelFilter {
    include_labels: Vec<String>,
    exclude_labels: Vec<String>,
    include_categories: Vec<String>,
    exclude_categories: Vec<String>,
}

impl LabelFilter {
    /// The filter of a request's `Settings.GeneralLabels`, checked.
    pub fn new(settings: Option<&GeneralLabelsSettings>) -> Result<LabelFilter, ApiError> {
        let Some(s) = settings else {
            return Ok(LabelFilter::default());
        };
        Ok(LabelFilter {
            include_labels: checked("LabelInclusionFilters", &s.label_inclusion_filters)?,
            exclude_labels: checked("LabelExclusionFilters", &s.label_exclusion_filters)?,
            include_categories: checked(
                "LabelCategoryInclusionFilters",
                &s.label_category_inclusion_filters,
            )?,
            exclude_categories: checked(
                "LabelCategoryExclusionFilters",
                &s.label_category_exclusion_filters,
            )?,
        })
    }

    /// Whether `label` is kept.
    pub fn keeps(&self, label: &Label) -> bool {
        let included = (self.include_labels.is_empty() && self.include_categories.is_empty())
            || names(&self.include_labels, label)
            || in_category(&self.include_categories, label);
        included
            && !names(&self.exclude_labels, label)
            && !in_category(&self.exclude_categories, label)
    }
}

/// Whether a filter of `list` names `label` or one of its aliases.
fn names(list: &[String], label: &Label) -> bool {
    list.iter()
        .any(|f| *f == label.name || label.aliases.iter().any(|a| a.name == *f))
}

/// Whether a filter of `list` names one of `label`'s categories.
fn in_category(list: &[String], label: &Label) -> bool {
    list.iter()
        .any(|f| label.categories.iter().any(|c| c.name == *f))
}

fn checked(field: &str, list: &Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let list = list.clone().unwrap_or_default();
    if list.len() > MAX_FILTERS {
        return Err(ApiError::new(
            "InvalidParameterException",
            format!(
                "Settings.GeneralLabels.{field} has {} entries; at most {MAX_FILTERS} are allowed",
                list.len()
            ),
        ));
    }
    if let Some(bad) = list
        .iter()
        .find(|f| f.chars().count() > MAX_FILTER_LEN || !f.chars().all(allowed))
    {
        return Err(ApiError::new(
            "InvalidParameterException",
            format!(
                "Settings.GeneralLabels.{field}: {bad:?} must be at most {MAX_FILTER_LEN} characters of [A-Za-z0-9àâèçñó'-_(). ]"
            ),
        ));
    }
    Ok(list)
}

/// A character of the API's pattern `[A-Za-z0-9àâèçñó'-_(). ]*`, in which
/// `'-_` is a range (`'` to `_`: digits, punctuation and upper case).
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "àâèçñó(). ".contains(c) || ('\''..='_').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Named;

    fn label(name: &str, aliases: &[&str], category: &str) -> Label {
        Label {
            name: name.into(),
            confidence: 90.0,
            instances: Vec::new(),
            parents: Vec::new(),
            aliases: aliases.iter().map(|a| Named::new(*a)).collect(),
            categories: vec![Named::new(category)],
        }
    }

    fn labels() -> Vec<Label> {
        vec![
            label("Person", &["Human"], "Person Description"),
            label("Dog", &[], "Animals and Pets"),
            label("Cat", &[], "Animals and Pets"),
            label("Car", &["Automobile"], "Vehicles and Automotive"),
        ]
    }

    fn kept(settings: GeneralLabelsSettings) -> Vec<String> {
        let filter = LabelFilter::new(Some(&settings)).unwrap();
        labels()
            .into_iter()
            .filter(|l| filter.keeps(l))
            .map(|l| l.name)
            .collect()
    }

    fn list(names: &[&str]) -> Option<Vec<String>> {
        Some(names.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn no_filter_keeps_everything() {
        assert_eq!(kept(GeneralLabelsSettings::default()).len(), 4);
        let none = LabelFilter::new(None).unwrap();
        assert!(labels().iter().all(|l| none.keeps(l)));
    }

    #[test]
    fn inclusion_by_name_alias_or_category_and_exclusion_wins() {
        let s = GeneralLabelsSettings {
            label_inclusion_filters: list(&["Dog", "Automobile"]),
            ..Default::default()
        };
        assert_eq!(kept(s), ["Dog", "Car"]);
        let s = GeneralLabelsSettings {
            label_inclusion_filters: list(&["Person"]),
            label_category_inclusion_filters: list(&["Animals and Pets"]),
            label_exclusion_filters: list(&["Cat"]),
            ..Default::default()
        };
        assert_eq!(kept(s), ["Person", "Dog"]);
        let s = GeneralLabelsSettings {
            label_category_exclusion_filters: list(&["Animals and Pets"]),
            label_exclusion_filters: list(&["Human"]),
            ..Default::default()
        };
        assert_eq!(kept(s), ["Car"]);
        // Exact names only.
        let s = GeneralLabelsSettings {
            label_inclusion_filters: list(&["dog"]),
            ..Default::default()
        };
        assert!(kept(s).is_empty());
    }

    #[test]
    fn limits_are_the_apis() {
        let too_many: Vec<String> = (0..=MAX_FILTERS).map(|i| format!("L{i}")).collect();
        let s = GeneralLabelsSettings {
            label_exclusion_filters: Some(too_many),
            ..Default::default()
        };
        let err = LabelFilter::new(Some(&s)).unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        assert!(
            err.message.contains("LabelExclusionFilters"),
            "{}",
            err.message
        );
        for bad in [
            "x".repeat(MAX_FILTER_LEN + 1),
            "Dog!".into(),
            "Cat|Dog".into(),
        ] {
            let s = GeneralLabelsSettings {
                label_category_inclusion_filters: Some(vec![bad.clone()]),
                ..Default::default()
            };
            assert!(LabelFilter::new(Some(&s)).is_err(), "{bad:?}");
        }
        let fine = GeneralLabelsSettings {
            label_inclusion_filters: list(&[]),
            label_category_inclusion_filters: list(&[
                "Food and Beverage",
                "Hen of the Woods (Mushroom)",
                "Jack-o'-lantern",
                "",
            ]),
            ..Default::default()
        };
        assert!(LabelFilter::new(Some(&fine)).is_ok());
    }
}
