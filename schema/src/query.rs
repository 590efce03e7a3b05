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
