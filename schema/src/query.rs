//! Reads of the composed graph, independent of the front end that asked for them.
//!
//! The GraphQL schema turns a selection into a [`Read`]; the OData endpoint will turn a URL into
//! the same structure; the planner turns a `Read` into backend requests. Values are JSON as the
//! client gave them and are only turned into OData literals by the planner, which knows each
//! field's type and the backend's dialect.

use serde::Serialize;
use serde_json::Value;

use crate::model::EntityId;

/// What to read from one entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Read {
    /// The entity (entity set) read.
    pub entity: EntityId,
    /// A collection or one entity by key.
    pub target: Target,
    /// What to return of each entity.
    pub selection: Selection,
}

/// Collection or single entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Target {
    /// The entity set, narrowed by the arguments.
    Collection(CollectionArgs),
    /// One entity by its key: (field index, value) in key order.
    Key(Vec<(usize, Value)>),
}

/// Arguments of a collection read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CollectionArgs {
    /// `$filter`.
    pub filter: Option<Filter>,
    /// `$orderby`, in order.
    pub order_by: Vec<(usize, Direction)>,
    /// `$top`; `None` takes the configured page size.
    pub top: Option<u32>,
    /// `$skip`.
    pub skip: Option<u32>,
    /// `$search` text.
    pub search: Option<String>,
    /// True when the total count is wanted.
    pub count: bool,
    /// True when the entities themselves are wanted (false for a count-only selection).
    pub nodes: bool,
}

impl CollectionArgs {
    /// True when both narrow, order and page the collection alike (count and nodes aside).
    pub fn narrows_like(&self, other: &CollectionArgs) -> bool {
        self.filter == other.filter
            && self.order_by == other.order_by
            && self.top == other.top
            && self.skip == other.skip
            && self.search == other.search
    }

    /// True when nothing narrows, orders or pages the collection.
    pub fn is_plain(&self) -> bool {
        self.filter.is_none()
            && self.order_by.is_empty()
            && self.top.is_none()
            && self.skip.is_none()
            && self.search.is_none()
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// What to return of each entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Selection {
    /// Field indexes, without duplicates, in first-selected order.
    pub fields: Vec<usize>,
    /// Related entities.
    pub relations: Vec<RelationRead>,
    /// True when the entity's ETag is wanted.
    pub etag: bool,
}

impl Selection {
    /// Adds a field once.
    pub fn add_field(&mut self, field: usize) {
        if !self.fields.contains(&field) {
            self.fields.push(field);
        }
    }

    /// Adds `other`'s fields and relations; a relation under a key already here is merged into
    /// it. False, with nothing changed, when a key names another relation or the same one
    /// narrowed otherwise, which one selection cannot hold.
    pub fn merge(&mut self, other: &Selection) -> bool {
        if !self.can_merge(other) {
            return false;
        }
        self.merge_unchecked(other);
        true
    }

    fn can_merge(&self, other: &Selection) -> bool {
        other.relations.iter().all(|theirs| {
            self.relations
                .iter()
                .find(|ours| ours.key == theirs.key)
                .is_none_or(|ours| {
                    ours.relation == theirs.relation
                        && ours.args.narrows_like(&theirs.args)
                        && ours.selection.can_merge(&theirs.selection)
                })
        })
    }

    fn merge_unchecked(&mut self, other: &Selection) {
        for &field in &other.fields {
            self.add_field(field);
        }
        self.etag |= other.etag;
        for theirs in &other.relations {
            match self
                .relations
                .iter_mut()
                .find(|ours| ours.key == theirs.key)
            {
                Some(ours) => {
                    ours.args.count |= theirs.args.count;
                    ours.args.nodes |= theirs.args.nodes;
                    ours.selection.merge_unchecked(&theirs.selection);
                }
                None => self.relations.push(theirs.clone()),
            }
        }
    }
}

/// A relation followed from an entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelationRead {
    /// The response key (GraphQL alias or field name); unique among the selection's relations.
    pub key: String,
    /// Index of the relation in the entity's relations.
    pub relation: usize,
    /// Arguments for to-many relations (default for to-one).
    pub args: CollectionArgs,
    /// What to return of the related entities.
    pub selection: Selection,
}

/// A filter condition, with CAP's semantics already applied (lists ORed, objects ANDed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Filter {
    /// All must hold.
    And(Vec<Filter>),
    /// Any must hold.
    Or(Vec<Filter>),
    /// Must not hold.
    Not(Box<Filter>),
    /// A comparison of a field with a value; `null` compares with null.
    Compare {
        /// To-one relations walked first (indexes, each into the previous entity).
        path: Vec<usize>,
        /// The field of the last entity.
        field: usize,
        /// The operator.
        op: CompareOp,
        /// The value, as the client gave it.
        value: Value,
    },
    /// The field equals one of the values.
    In {
        /// To-one relations walked first.
        path: Vec<usize>,
        /// The field.
        field: usize,
        /// The values.
        values: Vec<Value>,
    },
    /// A string function.
    Text {
        /// To-one relations walked first.
        path: Vec<usize>,
        /// The field.
        field: usize,
        /// The function.
        op: TextOp,
        /// The text.
        value: String,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

impl CompareOp {
    /// The OData operator.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// String functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TextOp {
    /// Contains the text.
    Contains,
    /// Starts with the text.
    StartsWith,
    /// Ends with the text.
    EndsWith,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(key: &str, relation: usize, top: Option<u32>, fields: &[usize]) -> RelationRead {
        RelationRead {
            key: key.to_owned(),
            relation,
            args: CollectionArgs {
                top,
                nodes: true,
                ..CollectionArgs::default()
            },
            selection: Selection {
                fields: fields.to_vec(),
                ..Selection::default()
            },
        }
    }

    #[test]
    fn selections_merge_fields_and_relations_under_one_key() {
        let mut ours = Selection {
            fields: vec![0],
            relations: vec![read("items", 1, Some(2), &[3])],
            etag: false,
        };
        let theirs = Selection {
            fields: vec![1, 0],
            relations: vec![
                read("items", 1, Some(2), &[4]),
                read("partner", 0, None, &[5]),
            ],
            etag: true,
        };
        assert!(ours.merge(&theirs));
        assert_eq!(ours.fields, [0, 1]);
        assert!(ours.etag);
        assert_eq!(ours.relations.len(), 2);
        assert_eq!(ours.relations[0].selection.fields, [3, 4]);
    }

    #[test]
    fn selections_that_narrow_one_key_otherwise_do_not_merge() {
        let mut ours = Selection {
            fields: vec![0],
            relations: vec![read("items", 1, Some(2), &[3])],
            etag: false,
        };
        let before = ours.clone();
        let other_top = Selection {
            fields: vec![1],
            relations: vec![read("items", 1, Some(5), &[3])],
            etag: false,
        };
        assert!(!ours.merge(&other_top));
        let other_relation = Selection {
            relations: vec![read("items", 2, Some(2), &[3])],
            ..Selection::default()
        };
        assert!(!ours.merge(&other_relation));
        assert_eq!(ours, before, "nothing changed");
    }
}
