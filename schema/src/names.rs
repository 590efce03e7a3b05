//! GraphQL names from OData names: illegal characters replaced, clashes resolved by numbered
//! suffixes in a fixed order, so the same inputs always give the same schema.
//!
//! GraphQL names match `/[_A-Za-z][_0-9A-Za-z]*/` and must not start with `__` (GraphQL October 2021,
//! sections 2.1.9 and 3); OData identifiers also allow Unicode letters and digits.

use std::collections::HashSet;

/// Turns any text into a legal GraphQL name. Returns the name and whether it changed.
pub fn sanitize(text: &str) -> (String, bool) {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if let Some(rest) = name.strip_prefix("__") {
        name = format!("x_{rest}");
    }
    let changed = name != text;
    (name, changed)
}

/// Hands out unique names within one scope (a type's fields, a namespace's root fields, the
/// schema's type names). The first claimant keeps a name; later ones get `_2`, `_3`, ...
/// Names [held](Scope::hold) for their own claimants are skipped by everyone else.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    taken: HashSet<String>,
    held: HashSet<String>,
}

impl Scope {
    /// A scope with names already reserved (built-in types, generated fields).
    pub fn with_reserved<'a>(names: impl IntoIterator<Item = &'a str>) -> Scope {
        Scope {
            taken: names.into_iter().map(str::to_owned).collect(),
            held: HashSet::new(),
        }
    }

    /// Holds names for claimants that will ask for exactly them later: a name that is legal as
    /// the service wrote it keeps it, even when a renamed name (`__secret` to `x_secret`) would
    /// otherwise claim it first. So a service adding an illegal name never renames a legal one.
    pub fn hold<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        self.held.extend(
            names
                .into_iter()
                .filter(|name| !self.taken.contains(*name))
                .map(str::to_owned),
        );
    }

    /// Claims `wanted` (already legal) or the first free numbered variant of it. Returns the name
    /// and whether it differs from `wanted`.
    pub fn claim(&mut self, wanted: &str) -> (String, bool) {
        self.claim_as(wanted, true)
    }

    /// Claims like [`Scope::claim`] for a name that was renamed to `wanted`: a held `wanted`
    /// belongs to another claimant, so a numbered variant is handed out instead.
    pub fn claim_renamed(&mut self, wanted: &str) -> (String, bool) {
        self.claim_as(wanted, false)
    }

    fn claim_as(&mut self, wanted: &str, own: bool) -> (String, bool) {
        let free = |scope: &Scope, name: &str| {
            !scope.taken.contains(name) && (!scope.held.contains(name) || own && name == wanted)
        };
        if free(self, wanted) {
            self.held.remove(wanted);
            self.taken.insert(wanted.to_owned());
            return (wanted.to_owned(), false);
        }
        let mut number = 2;
        loop {
            let candidate = format!("{wanted}_{number}");
            if free(self, &candidate) {
                self.taken.insert(candidate.clone());
                return (candidate, true);
            }
            number += 1;
        }
    }

    /// True when the name is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_illegal_characters() {
        for (input, expected, changed) in [
            ("A_SalesOrder", "A_SalesOrder", false),
            ("sap.s4", "sap_s4", true),
            ("1stItem", "_1stItem", true),
            ("Größe", "Gr__e", true),
            ("__typename", "x_typename", true),
            ("", "_", true),
            ("a-b c", "a_b_c", true),
        ] {
            assert_eq!(sanitize(input), (expected.to_owned(), changed), "{input}");
        }
    }

    #[test]
    fn later_claimants_get_numbered_names() {
        let mut scope = Scope::with_reserved(["Query"]);
        assert_eq!(scope.claim("Query"), ("Query_2".to_owned(), true));
        assert_eq!(scope.claim("A"), ("A".to_owned(), false));
        assert_eq!(scope.claim("A"), ("A_2".to_owned(), true));
        assert_eq!(scope.claim("A_2"), ("A_2_2".to_owned(), true));
        assert_eq!(scope.claim("A"), ("A_3".to_owned(), true));
    }

    #[test]
    fn held_names_go_to_their_own_claimants() {
        let mut scope = Scope::default();
        scope.hold(["x_secret", "ID", "x_secret_2"]);
        // `__secret` sanitized to `x_secret` comes first, but the held names are skipped.
        assert_eq!(
            scope.claim_renamed("x_secret"),
            ("x_secret_3".to_owned(), true)
        );
        assert_eq!(scope.claim("x_secret"), ("x_secret".to_owned(), false));
        assert_eq!(scope.claim("ID"), ("ID".to_owned(), false));
        // Once claimed, a held name is taken like any other.
        assert_eq!(scope.claim("ID"), ("ID_2".to_owned(), true));
        assert_eq!(scope.claim("x_secret_2"), ("x_secret_2".to_owned(), false));
    }
}
