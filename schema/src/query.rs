//! Reads of the composed graph, independent of the front end that asked for them.
//!
//! The GraphQL schema turns a selection into a [`Read`]; the OData endpoint turns a URL into the
//! same structure ([`crate::odata_url`]); the planner turns a `Read` into backend requests.
//! Values are JSON as the client gave them (the OData front end checks them against their type
//! first) and are only turned into OData literals by the planner, which knows each field's type
//! and the backend's dialect.

use serde::Serialize;
use serde_json::Value;

use crate::model::{EntityId, FieldKind};

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
    /// `$search` terms (words or phrases), all of which must match.
    pub search: Option<Vec<String>>,
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
///
/// `Compare`, `In` and `Text` are the shapes both front ends produce for a field against client
/// values; the OData front end adds the general shapes after them for what `$filter` can say
/// beyond that. The planner renders every shape in each dialect or refuses it by name.
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
    /// A comparison of two operands, for what `Compare` cannot say: functions, arithmetic, two
    /// properties, a property of an enclosing lambda variable, a navigation compared with `null`.
    Comparison {
        /// The left operand.
        left: Operand,
        /// The operator.
        op: CompareOp,
        /// The right operand.
        right: Operand,
    },
    /// The operand equals one of the values (`in` on an operand other than a plain field).
    OneOf {
        /// The operand.
        operand: Operand,
        /// The values.
        values: Vec<Operand>,
    },
    /// `operand has flags`: all flags of an enum value are set (OData v4 only).
    Has {
        /// The enum-typed operand.
        operand: Operand,
        /// The flags, an enum [`Operand::Value`].
        flags: Operand,
    },
    /// A Boolean operand used as a condition: a Boolean property, a Boolean function call on
    /// operands other than a field and a text, `true` or `false`.
    Holds(Operand),
    /// `nav/any(x: condition)` or `nav/all(x: condition)` over a to-many navigation (OData v4
    /// only). Inside `condition`, [`Scope::Current`] is the lambda variable.
    Lambda {
        /// Where the navigation path starts.
        scope: Scope,
        /// To-one relations walked first.
        path: Vec<usize>,
        /// The to-many relation of the entity reached.
        relation: usize,
        /// `any` or `all`.
        quantifier: Quantifier,
        /// The condition on each related entity; `None` for `any()` (the collection is not empty).
        condition: Option<Box<Filter>>,
    },
}

/// The entity a property path starts from. Outside lambdas there is one, the entity filtered;
/// every `any`/`all` body adds its lambda variable. [`Filter::Compare`], [`Filter::In`] and
/// [`Filter::Text`] always start from [`Scope::Current`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scope {
    /// The innermost: the lambda variable inside a lambda body, else the entity filtered.
    Current,
    /// The entity filtered (`$it`), seen from inside a lambda body.
    Root,
    /// An enclosing lambda variable, counted outwards: 1 is the variable of the lambda that
    /// encloses the current one.
    Outer(usize),
}

/// An operand of a general filter expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand {
    /// A structural property, after to-one navigations.
    Property {
        /// Where the path starts.
        scope: Scope,
        /// To-one relations walked first.
        path: Vec<usize>,
        /// The field of the last entity.
        field: usize,
    },
    /// A to-one navigation itself, which can only be compared with `null`.
    Navigation {
        /// Where the path starts.
        scope: Scope,
        /// The to-one relations walked; the last one is the navigation compared.
        path: Vec<usize>,
    },
    /// A value of a known type, as JSON in the form [`crate::literal::format_literal`] reads (an
    /// enum value is the member's name, flags joined by `,`).
    Value {
        /// The value's type.
        kind: FieldKind,
        /// The value.
        value: Value,
    },
    /// `null`.
    Null,
    /// A built-in function applied to operands.
    Call {
        /// The function.
        function: Function,
        /// Its arguments, in order.
        args: Vec<Operand>,
    },
    /// An arithmetic operation.
    Arithmetic {
        /// The operator.
        op: ArithmeticOp,
        /// The left operand.
        left: Box<Operand>,
        /// The right operand.
        right: Box<Operand>,
    },
    /// Unary minus.
    Negate(Box<Operand>),
}

/// Built-in functions of OData v4 `$filter` (OData 4.01 Part 2, "String and Collection
/// Functions" to "Arithmetic Functions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Function {
    /// `contains(text, part)`.
    Contains,
    /// `startswith(text, part)`.
    StartsWith,
    /// `endswith(text, part)`.
    EndsWith,
    /// `length(text)`.
    Length,
    /// `indexof(text, part)`, zero-based.
    IndexOf,
    /// `substring(text, start[, length])`.
    Substring,
    /// `tolower(text)`.
    ToLower,
    /// `toupper(text)`.
    ToUpper,
    /// `trim(text)`.
    Trim,
    /// `concat(text, text)`.
    Concat,
    /// `year(date)`.
    Year,
    /// `month(date)`.
    Month,
    /// `day(date)`.
    Day,
    /// `hour(time)`.
    Hour,
    /// `minute(time)`.
    Minute,
    /// `second(time)`.
    Second,
    /// `now()`.
    Now,
    /// `round(number)`.
    Round,
    /// `floor(number)`.
    Floor,
    /// `ceiling(number)`.
    Ceiling,
}

impl Function {
    /// The OData v4 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startswith",
            Function::EndsWith => "endswith",
            Function::Length => "length",
            Function::IndexOf => "indexof",
            Function::Substring => "substring",
            Function::ToLower => "tolower",
            Function::ToUpper => "toupper",
            Function::Trim => "trim",
            Function::Concat => "concat",
            Function::Year => "year",
            Function::Month => "month",
            Function::Day => "day",
            Function::Hour => "hour",
            Function::Minute => "minute",
            Function::Second => "second",
            Function::Now => "now",
            Function::Round => "round",
            Function::Floor => "floor",
            Function::Ceiling => "ceiling",
        }
    }
}

/// Arithmetic operators (OData 4.01 Part 2, "Arithmetic Operators").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArithmeticOp {
    /// `add`.
    Add,
    /// `sub`.
    Sub,
    /// `mul`.
    Mul,
    /// `div`.
    Div,
    /// `divby` (OData 4.01): division with a decimal result.
    DivBy,
    /// `mod`.
    Mod,
}

impl ArithmeticOp {
    /// The OData operator.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "add",
            ArithmeticOp::Sub => "sub",
            ArithmeticOp::Mul => "mul",
            ArithmeticOp::Div => "div",
            ArithmeticOp::DivBy => "divby",
            ArithmeticOp::Mod => "mod",
        }
    }
}

/// The lambda operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Quantifier {
    /// `any`: at least one related entity satisfies the condition.
    Any,
    /// `all`: every related entity satisfies it.
    All,
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
    /// The operator with its operands swapped: `a lt b` is `b gt a`.
    pub fn flipped(self) -> CompareOp {
        match self {
            CompareOp::Eq => CompareOp::Eq,
            CompareOp::Ne => CompareOp::Ne,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
        }
    }

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
