//! Query planning: a [`Read`] of the graph into backend requests, one per backend per level.
//!
//! Same-service relations become `$expand` (with nested options on v4); relations across sources
//! become [`Join`]s, fetched after their parents with one batched request per level that filters
//! on the keys of all parents. Every client value enters a URL through
//! [`crate::literal::format_literal`], so a filter value never changes the request's structure.
//!
//! The plan is plain data: it can be printed (`bizgraph plan`) and tested without a network.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::edm::{Dialect, EdmType};
use crate::literal::{self, LiteralError, encode_component, escape_search, format_literal};
use crate::model::{Entity, EntityId, EntityKind, FieldKind, Graph, RelationKind, ServiceId};
use crate::query::{
    ArithmeticOp, CollectionArgs, Direction, Filter, Function, Operand, Quantifier, Read, Scope,
    Selection, Target, TextOp,
};

/// Limits the planner enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanLimits {
    /// Largest `top` a client may ask for; also the page size when none is given.
    pub max_top: u32,
    /// Most rows fetched for one join level.
    pub max_join_rows: u32,
    /// Longest URL (path and query below the service root) sent for a batched join.
    pub max_url_bytes: usize,
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits {
            max_top: 1_000,
            max_join_rows: 10_000,
            max_url_bytes: 6_000,
        }
    }
}

/// Why a read cannot be planned. Messages name the entity and field concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A client value does not fit its field's type.
    #[error("{entity}.{field}: {error}")]
    Literal {
        /// Entity set.
        entity: String,
        /// Field.
        field: String,
        /// Why.
        error: LiteralError,
    },
    /// The backend cannot do what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// A configured limit was exceeded.
    #[error("{0}")]
    Limit(String),
}

impl PlanError {
    /// The GraphQL `extensions.code` for the error.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::Literal { .. } => "BAD_USER_INPUT",
            PlanError::Unsupported(_) => "NOT_SUPPORTED",
            PlanError::Limit(_) => "LIMIT_EXCEEDED",
        }
    }
}

/// A planned read: the first request and everything that follows from its answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The first request.
    pub fetch: Fetch,
    /// True when the read is by key: the answer is one entity (or none, on 404).
    pub single: bool,
}

/// One backend request, with the instructions to read its answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fetch {
    /// The service asked.
    pub service: ServiceId,
    /// The entity read.
    pub entity: EntityId,
    /// The resource path below the service root (`A_SalesOrder` or `A_SalesOrder('1')`).
    pub resource: String,
    /// Query options.
    pub options: Options,
    /// How to read each entity of the answer.
    pub shape: Shape,
}

/// System query options of a request, rendered except for the URL encoding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Options {
    /// `$select`.
    pub select: Vec<String>,
    /// `$expand`.
    pub expand: Vec<String>,
    /// `$filter`.
    pub filter: Option<String>,
    /// `$orderby`.
    pub orderby: Vec<String>,
    /// `$top`.
    pub top: Option<u32>,
    /// `$skip`.
    pub skip: Option<u32>,
    /// `$count=true` (v4) or `$inlinecount=allpages` (v2).
    pub count: bool,
    /// `$search` (v4) or `search` (v2).
    pub search: Option<String>,
}

/// How to read one entity of an answer: fields to keep, expanded relations, joins to run next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shape {
    /// The entity.
    pub entity: EntityId,
    /// Field indexes to read (selected ones plus keys and join sources).
    pub fields: Vec<usize>,
    /// Read the ETag.
    pub etag: bool,
    /// Relations that arrive inline (`$expand`).
    pub expands: Vec<Expand>,
    /// Relations fetched afterwards with batched requests.
    pub joins: Vec<Join>,
}

/// A relation that arrives inline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expand {
    /// The response key it is stored under.
    pub key: String,
    /// The navigation property.
    pub navigation: String,
    /// To-many.
    pub many: bool,
    /// The count arrives with it (v4 `$count=true` inside `$expand`); otherwise it is the
    /// length of the list, which is complete because no paging applies.
    pub count_inline: bool,
    /// How to read the related entities.
    pub shape: Shape,
}

/// A relation fetched after its parents: one request per level for all parents, filtered on
/// their keys, then joined back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Join {
    /// The response key it is stored under.
    pub key: String,
    /// The relation's name on the parent entity (`A_BusinessPartner.opportunities`), for
    /// errors that must name it whatever alias the client chose.
    pub relation: String,
    /// To-many.
    pub many: bool,
    /// (parent field, target field) index pairs to match.
    pub pairs: Vec<(usize, usize)>,
    /// The request without the key condition (which is added per batch).
    pub fetch: Fetch,
    /// Per-parent `skip`, applied after grouping.
    pub skip: u32,
    /// Per-parent `top`, applied after grouping.
    pub top: Option<u32>,
    /// Count per parent.
    pub count: bool,
}

/// Plans a read.
pub fn plan(graph: &Graph, read: &Read, limits: &PlanLimits) -> Result<Plan, PlanError> {
    let entity = &graph.entities[read.entity];
    let planner = Planner { graph, limits };
    let mut options = Options::default();
    let resource = match &read.target {
        Target::Collection(args) => {
            planner.collection_options(read.entity, args, &mut options, true)?;
            encode_component(&entity.set_name)
        }
        Target::Key(key) => {
            if !entity.capabilities.addressable {
                return Err(PlanError::Unsupported(format!(
                    "{} cannot be read by key",
                    entity.set_name
                )));
            }
            entity_path(graph, read.entity, key)?
        }
    };
    let shape = planner.shape(read.entity, &read.selection, &mut options)?;
    Ok(Plan {
        fetch: Fetch {
            service: entity.service,
            entity: read.entity,
            resource,
            options,
            shape,
        },
        single: matches!(read.target, Target::Key(_)),
    })
}

/// The reads of one same-service navigation that share one `$expand`.
struct ExpandGroup {
    /// The relation's index in its entity.
    relation: usize,
    /// The arguments, with count and nodes wanted if any member wants them.
    args: CollectionArgs,
    /// The union of the members' selections.
    selection: Selection,
    /// Indexes of the member reads in the selection's relations.
    members: Vec<usize>,
}

/// The URL path of one entity below the service root, percent-encoded: `Set('a')` or
/// `Set(K1='a',K2=1)` (OData 4.01 URL conventions section 4.3.1, v2 URI conventions 2.3).
pub fn entity_path(
    graph: &Graph,
    entity_id: EntityId,
    key: &[(usize, Value)],
) -> Result<String, PlanError> {
    let entity = &graph.entities[entity_id];
    if entity.kind == EntityKind::Singleton {
        return Ok(encode_component(&entity.set_name));
    }
    let dialect = graph.services[entity.service].dialect;
    let values: Vec<(&str, EdmType, &Value)> = key
        .iter()
        .map(|(index, value)| {
            let field = &entity.fields[*index];
            (
                field.name.as_str(),
                field.edm_type().unwrap_or(EdmType::String),
                value,
            )
        })
        .collect();
    let key = literal::format_key(dialect, &values).map_err(|error| PlanError::Literal {
        entity: entity.set_name.clone(),
        field: "key".to_owned(),
        error,
    })?;
    Ok(format!(
        "{}{}",
        encode_component(&entity.set_name),
        encode_component(&key)
    ))
}

struct Planner<'g> {
    graph: &'g Graph,
    limits: &'g PlanLimits,
}

impl Planner<'_> {
    fn dialect(&self, entity: EntityId) -> Dialect {
        self.graph.services[self.graph.entities[entity].service].dialect
    }

    /// Filter, order, paging, search and count of a collection.
    fn collection_options(
        &self,
        entity_id: EntityId,
        args: &CollectionArgs,
        options: &mut Options,
        paged: bool,
    ) -> Result<(), PlanError> {
        let entity = &self.graph.entities[entity_id];
        let dialect = self.dialect(entity_id);
        if let Some(filter) = &args.filter {
            if !entity.capabilities.filterable {
                return Err(PlanError::Unsupported(format!(
                    "{} does not support filtering",
                    entity.set_name
                )));
            }
            options.filter = Some(self.filter(entity_id, filter, dialect)?);
        } else if entity.capabilities.requires_filter && paged {
            return Err(PlanError::Unsupported(format!(
                "{} requires a filter",
                entity.set_name
            )));
        }
        for (index, direction) in &args.order_by {
            let field = &entity.fields[*index];
            let direction = match direction {
                Direction::Asc => "asc",
                Direction::Desc => "desc",
            };
            options.orderby.push(format!("{} {direction}", field.name));
        }
        if let Some(top) = args.top
            && top > self.limits.max_top
        {
            return Err(PlanError::Limit(format!(
                "top {top} on {} is above the limit of {}",
                entity.set_name, self.limits.max_top
            )));
        }
        if paged {
            options.top = Some(if args.nodes {
                args.top.unwrap_or(self.limits.max_top)
            } else {
                0
            });
            options.skip = args.skip.filter(|&skip| skip > 0);
        }
        if let Some(search) = &args.search {
            if !entity.capabilities.searchable {
                return Err(PlanError::Unsupported(format!(
                    "{} does not support search",
                    entity.set_name
                )));
            }
            options.search = Some(escape_search(dialect, search));
        }
        options.count = args.count;
        Ok(())
    }

    fn shape(
        &self,
        entity_id: EntityId,
        selection: &Selection,
        options: &mut Options,
    ) -> Result<Shape, PlanError> {
        let entity = &self.graph.entities[entity_id];
        let dialect = self.dialect(entity_id);
        let mut fields = entity.key.clone();
        for &field in &selection.fields {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        let mut shape = Shape {
            entity: entity_id,
            fields: Vec::new(),
            etag: selection.etag,
            expands: Vec::new(),
            joins: Vec::new(),
        };
        let groups = self.expand_groups(entity_id, selection);
        let mut rendered: Vec<usize> = Vec::new();
        for (read_index, relation_read) in selection.relations.iter().enumerate() {
            let relation = &entity.relations[relation_read.relation];
            let target = &self.graph.entities[relation.target];
            let args = &relation_read.args;
            let group = groups
                .iter()
                .position(|group| group.members.contains(&read_index));
            // v2 cannot narrow an expanded collection; with a referential constraint the same
            // data comes from a batched request instead.
            let as_join = match &relation.kind {
                RelationKind::Join { pairs } => Some(pairs.clone()),
                RelationKind::Navigation
                    if relation.many && dialect == Dialect::V2 && !args.is_plain() =>
                {
                    if relation.constraints.is_empty() || target.kind != EntityKind::Set {
                        return Err(PlanError::Unsupported(format!(
                            "{}.{}: the OData v2 service cannot filter, sort or page an expanded collection, and it declares no referential constraint and entity set to fetch it separately",
                            entity.set_name, relation.name
                        )));
                    }
                    Some(relation.constraints.clone())
                }
                // Read again under another alias with other arguments: the navigation is
                // expanded once already, so this read is fetched separately.
                RelationKind::Navigation if group.is_none() => {
                    if relation.constraints.is_empty() || target.kind != EntityKind::Set {
                        return Err(PlanError::Unsupported(format!(
                            "{}.{}: selected twice with different arguments, but a navigation is expanded once per level and the service declares no referential constraint and entity set to fetch it separately",
                            entity.set_name, relation.name
                        )));
                    }
                    Some(relation.constraints.clone())
                }
                RelationKind::Navigation => None,
            };
            if let Some(pairs) = as_join {
                for &(local, _) in &pairs {
                    if !fields.contains(&local) {
                        fields.push(local);
                    }
                }
                let mut join_options = Options::default();
                let join_args = CollectionArgs {
                    top: None,
                    skip: None,
                    count: false,
                    ..args.clone()
                };
                if let Some(top) = args.top
                    && top > self.limits.max_top
                {
                    return Err(PlanError::Limit(format!(
                        "top {top} on {} is above the limit of {}",
                        target.set_name, self.limits.max_top
                    )));
                }
                self.collection_options(relation.target, &join_args, &mut join_options, false)?;
                let mut target_selection = relation_read.selection.clone();
                for &(_, remote) in &pairs {
                    target_selection.add_field(remote);
                }
                let target_shape =
                    self.shape(relation.target, &target_selection, &mut join_options)?;
                shape.joins.push(Join {
                    key: relation_read.key.clone(),
                    relation: format!("{}.{}", entity.set_name, relation.name),
                    many: relation.many,
                    pairs,
                    fetch: Fetch {
                        service: target.service,
                        entity: relation.target,
                        resource: encode_component(&target.set_name),
                        options: join_options,
                        shape: target_shape,
                    },
                    skip: args.skip.unwrap_or(0),
                    top: args.top,
                    count: args.count,
                });
                continue;
            }
            // Same-service navigation: $expand, shared by every alias of its group.
            let group_index = group.ok_or_else(|| {
                PlanError::Unsupported(format!(
                    "{}.{}: not expandable",
                    entity.set_name, relation.name
                ))
            })?;
            let ExpandGroup {
                args, selection, ..
            } = &groups[group_index];
            let mut nested = Options::default();
            if relation.many {
                if dialect == Dialect::V4 {
                    self.collection_options(relation.target, args, &mut nested, false)?;
                    nested.top = args.top.or((!args.nodes).then_some(0));
                    nested.skip = args.skip.filter(|&skip| skip > 0);
                } else if let Some(search) = &args.search {
                    // Unreachable through is_plain() above; kept for clarity of intent.
                    return Err(PlanError::Unsupported(format!(
                        "{}.{}: search inside an expanded v2 collection ({})",
                        entity.set_name,
                        relation.name,
                        search.join(" ")
                    )));
                }
            }
            let nested_shape = self.shape(relation.target, selection, &mut nested)?;
            let count_inline = relation.many && dialect == Dialect::V4 && args.count;
            let first_of_group = !rendered.contains(&group_index);
            rendered.push(group_index);
            match dialect {
                _ if !first_of_group => {}
                Dialect::V4 => {
                    let inner = render_options(dialect, &nested, ';', false);
                    if inner.is_empty() {
                        options.expand.push(relation.name.clone());
                    } else {
                        options.expand.push(format!("{}({inner})", relation.name));
                    }
                }
                Dialect::V2 => {
                    options.expand.push(relation.name.clone());
                    for path in nested.expand {
                        options.expand.push(format!("{}/{path}", relation.name));
                    }
                    for path in nested.select {
                        options.select.push(format!("{}/{path}", relation.name));
                    }
                }
            }
            shape.expands.push(Expand {
                key: relation_read.key.clone(),
                navigation: relation.name.clone(),
                many: relation.many,
                count_inline,
                shape: nested_shape,
            });
        }
        // v2 selects of expanded entities were added above as `nav/field` paths; own fields
        // go first.
        let mut select: Vec<String> = fields
            .iter()
            .map(|&index| entity.fields[index].name.clone())
            .collect();
        select.append(&mut options.select);
        options.select = select;
        shape.fields = fields;
        Ok(shape)
    }

    /// The same-service navigations of a selection that arrive by `$expand`. OData expands a
    /// navigation property once per level (CAP answers only the last of several `$expand` items
    /// for one property), so the reads of one navigation under several aliases form one group,
    /// expanded once with the union of their selections, when they narrow the collection alike
    /// and their selections fit into one. A read left out of every group is fetched separately.
    fn expand_groups(&self, entity_id: EntityId, selection: &Selection) -> Vec<ExpandGroup> {
        let entity = &self.graph.entities[entity_id];
        let dialect = self.dialect(entity_id);
        let mut groups: Vec<ExpandGroup> = Vec::new();
        for (index, read) in selection.relations.iter().enumerate() {
            let relation = &entity.relations[read.relation];
            let expandable = relation.kind == RelationKind::Navigation
                && !(relation.many && dialect == Dialect::V2 && !read.args.is_plain());
            if !expandable {
                continue;
            }
            match groups
                .iter_mut()
                .find(|group| group.relation == read.relation)
            {
                None => groups.push(ExpandGroup {
                    relation: read.relation,
                    args: read.args.clone(),
                    selection: read.selection.clone(),
                    members: vec![index],
                }),
                Some(group) => {
                    if group.args.narrows_like(&read.args) && group.selection.merge(&read.selection)
                    {
                        group.args.count |= read.args.count;
                        group.args.nodes |= read.args.nodes;
                        group.members.push(index);
                    }
                }
            }
        }
        groups
    }

    /// Renders a filter in the entity's dialect. Every condition is rendered or refused with
    /// [`PlanError::Unsupported`] naming the operator; none is dropped.
    fn filter(
        &self,
        entity_id: EntityId,
        filter: &Filter,
        dialect: Dialect,
    ) -> Result<String, PlanError> {
        self.condition(&Scopes::root(entity_id), filter, dialect)
    }

    fn condition(
        &self,
        scopes: &Scopes,
        filter: &Filter,
        dialect: Dialect,
    ) -> Result<String, PlanError> {
        match filter {
            Filter::And(parts) | Filter::Or(parts) => {
                let joiner = if matches!(filter, Filter::And(_)) {
                    " and "
                } else {
                    " or "
                };
                if parts.is_empty() {
                    // An empty AND holds; an empty OR does not.
                    return Ok(if matches!(filter, Filter::And(_)) {
                        "true".to_owned()
                    } else {
                        "false".to_owned()
                    });
                }
                let rendered = parts
                    .iter()
                    .map(|part| self.condition(scopes, part, dialect))
                    .collect::<Result<Vec<_>, _>>()?;
                if rendered.len() == 1 {
                    return Ok(rendered.into_iter().next().unwrap_or_default());
                }
                Ok(format!("({})", rendered.join(joiner)))
            }
            Filter::Not(inner) => Ok(format!("not ({})", self.condition(scopes, inner, dialect)?)),
            Filter::Compare {
                path,
                field,
                op,
                value,
            } => {
                let (target, prefix) = self.member(scopes, Scope::Current, path)?;
                let literal = self.literal(target, *field, value, dialect)?;
                let name = &self.graph.entities[target].fields[*field].name;
                Ok(format!("{prefix}{name} {} {literal}", op.as_str()))
            }
            Filter::In {
                path,
                field,
                values,
            } => {
                let (target, prefix) = self.member(scopes, Scope::Current, path)?;
                let name = &self.graph.entities[target].fields[*field].name;
                if values.is_empty() {
                    return Ok("false".to_owned());
                }
                let literals = values
                    .iter()
                    .map(|value| self.literal(target, *field, value, dialect))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(one_of(dialect, &format!("{prefix}{name}"), &literals))
            }
            Filter::Text {
                path,
                field,
                op,
                value,
            } => {
                let (target, prefix) = self.member(scopes, Scope::Current, path)?;
                let name = &self.graph.entities[target].fields[*field].name;
                let text = format_literal(dialect, EdmType::String, &Value::String(value.clone()))
                    .map_err(|error| self.literal_error(target, *field, error))?;
                let property = format!("{prefix}{name}");
                Ok(match (op, dialect) {
                    (TextOp::Contains, Dialect::V4) => format!("contains({property},{text})"),
                    // OData v2 URI conventions 4.5: substringof(needle, haystack).
                    (TextOp::Contains, Dialect::V2) => format!("substringof({text},{property})"),
                    (TextOp::StartsWith, _) => format!("startswith({property},{text})"),
                    (TextOp::EndsWith, _) => format!("endswith({property},{text})"),
                })
            }
            Filter::Comparison { left, op, right } => Ok(format!(
                "{} {} {}",
                self.operand(scopes, left, dialect)?,
                op.as_str(),
                self.operand(scopes, right, dialect)?
            )),
            Filter::OneOf { operand, values } => {
                if values.is_empty() {
                    return Ok("false".to_owned());
                }
                let operand = self.operand(scopes, operand, dialect)?;
                let literals = values
                    .iter()
                    .map(|value| self.operand(scopes, value, dialect))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(one_of(dialect, &operand, &literals))
            }
            Filter::Has { operand, flags } => {
                if dialect == Dialect::V2 {
                    return Err(self.not_in_v2(scopes, "the `has` operator"));
                }
                Ok(format!(
                    "{} has {}",
                    self.operand(scopes, operand, dialect)?,
                    self.operand(scopes, flags, dialect)?
                ))
            }
            Filter::Holds(operand) => self.operand(scopes, operand, dialect),
            Filter::Lambda {
                scope,
                path,
                relation,
                quantifier,
                condition,
            } => {
                let name = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                if dialect == Dialect::V2 {
                    return Err(self.not_in_v2(scopes, &format!("the `{name}` lambda operator")));
                }
                let (reached, prefix) = self.member(scopes, *scope, path)?;
                let source = &self.graph.entities[reached];
                let related = &source.relations[*relation];
                if !related.many || related.kind != RelationKind::Navigation {
                    return Err(PlanError::Unsupported(format!(
                        "{}.{}: `{name}` needs a to-many navigation of the same service",
                        source.set_name, related.name
                    )));
                }
                let inner = scopes.enter(related.target);
                let body = match condition {
                    Some(condition) => format!(
                        "{}:{}",
                        inner.variable(),
                        self.condition(&inner, condition, dialect)?
                    ),
                    None => String::new(),
                };
                Ok(format!("{prefix}{}/{name}({body})", related.name))
            }
        }
    }

    /// Renders an operand of a general expression.
    fn operand(
        &self,
        scopes: &Scopes,
        operand: &Operand,
        dialect: Dialect,
    ) -> Result<String, PlanError> {
        match operand {
            Operand::Property { scope, path, field } => {
                let (target, prefix) = self.member(scopes, *scope, path)?;
                Ok(format!(
                    "{prefix}{}",
                    self.graph.entities[target].fields[*field].name
                ))
            }
            Operand::Navigation { scope, path } => {
                if dialect == Dialect::V2 {
                    return Err(self.not_in_v2(scopes, "a navigation property compared with null"));
                }
                let Some((last, walked)) = path.split_last() else {
                    return Err(PlanError::Unsupported(
                        "a navigation operand needs a navigation property".to_owned(),
                    ));
                };
                let (reached, prefix) = self.member(scopes, *scope, walked)?;
                let (_, with_last) = self.walk(reached, &[*last])?;
                Ok(format!("{prefix}{}", with_last.trim_end_matches('/')))
            }
            Operand::Value { kind, value } => {
                let entity_id = scopes.root_entity();
                match kind {
                    FieldKind::Scalar(ty) => {
                        format_literal(dialect, *ty, value).map_err(|error| PlanError::Literal {
                            entity: self.graph.entities[entity_id].set_name.clone(),
                            field: "$filter".to_owned(),
                            error,
                        })
                    }
                    FieldKind::Enum(id) => self.enum_literal(*id, value, || {
                        self.graph.entities[entity_id].set_name.clone()
                    }),
                    FieldKind::Complex(_) => Err(PlanError::Unsupported(format!(
                        "{}: complex values cannot be compared",
                        self.graph.entities[entity_id].set_name
                    ))),
                }
            }
            Operand::Null => Ok("null".to_owned()),
            Operand::Call { function, args } => {
                let rendered = args
                    .iter()
                    .map(|arg| self.operand(scopes, arg, dialect))
                    .collect::<Result<Vec<_>, _>>()?;
                match (function, dialect, rendered.as_slice()) {
                    // OData v2 URI conventions 4.5: substringof(needle, haystack).
                    (Function::Contains, Dialect::V2, [text, part]) => {
                        Ok(format!("substringof({part},{text})"))
                    }
                    (Function::Now, Dialect::V2, _) => {
                        Err(self.not_in_v2(scopes, "the `now()` function"))
                    }
                    _ => Ok(format!("{}({})", function.as_str(), rendered.join(","))),
                }
            }
            Operand::Arithmetic { op, left, right } => {
                if dialect == Dialect::V2 {
                    if *op == ArithmeticOp::DivBy {
                        return Err(self.not_in_v2(scopes, "the `divby` operator"));
                    }
                    // OData v2 URI conventions 4.5 define arithmetic on numbers only.
                    let temporal = [left, right]
                        .into_iter()
                        .any(|side| self.operand_type(scopes, side).is_some_and(is_temporal));
                    if temporal {
                        return Err(self.not_in_v2(
                            scopes,
                            &format!("`{}` on dates, times or durations", op.as_str()),
                        ));
                    }
                }
                Ok(format!(
                    "{} {} {}",
                    self.nested_operand(scopes, left, dialect)?,
                    op.as_str(),
                    self.nested_operand(scopes, right, dialect)?
                ))
            }
            Operand::Negate(inner) => {
                if dialect == Dialect::V2
                    && self.operand_type(scopes, inner).is_some_and(is_temporal)
                {
                    return Err(self.not_in_v2(scopes, "negated durations"));
                }
                Ok(format!("-{}", self.nested_operand(scopes, inner, dialect)?))
            }
        }
    }

    /// An operand inside arithmetic or a negation: parenthesized when it is an operation itself,
    /// so that the backend reads the tree as built whatever its operator precedence.
    fn nested_operand(
        &self,
        scopes: &Scopes,
        operand: &Operand,
        dialect: Dialect,
    ) -> Result<String, PlanError> {
        let rendered = self.operand(scopes, operand, dialect)?;
        Ok(match operand {
            Operand::Arithmetic { .. } | Operand::Negate(_) => format!("({rendered})"),
            _ => rendered,
        })
    }

    /// The primitive type of an operand, when it has one.
    fn operand_type(&self, scopes: &Scopes, operand: &Operand) -> Option<EdmType> {
        match operand {
            Operand::Property { scope, path, field } => {
                let (target, _) = self.member(scopes, *scope, path).ok()?;
                self.graph.entities[target].fields[*field].edm_type()
            }
            Operand::Value {
                kind: FieldKind::Scalar(ty),
                ..
            } => Some(*ty),
            Operand::Call { function, args } => match function {
                Function::Contains | Function::StartsWith | Function::EndsWith => {
                    Some(EdmType::Boolean)
                }
                Function::Length
                | Function::IndexOf
                | Function::Year
                | Function::Month
                | Function::Day
                | Function::Hour
                | Function::Minute
                | Function::Second => Some(EdmType::Int32),
                Function::Substring
                | Function::ToLower
                | Function::ToUpper
                | Function::Trim
                | Function::Concat => Some(EdmType::String),
                Function::Now => Some(EdmType::DateTimeOffset),
                Function::Round | Function::Floor | Function::Ceiling => {
                    self.operand_type(scopes, args.first()?)
                }
            },
            Operand::Arithmetic { left, right, .. } => {
                let left = self.operand_type(scopes, left);
                let right = self.operand_type(scopes, right);
                left.filter(|&ty| is_temporal(ty))
                    .or(right.filter(|&ty| is_temporal(ty)))
                    .or(left)
                    .or(right)
            }
            Operand::Negate(inner) => self.operand_type(scopes, inner),
            Operand::Value { .. } | Operand::Null | Operand::Navigation { .. } => None,
        }
    }

    /// The entity a property path of `scope` reaches after the to-one navigations of `path`, and
    /// the rendered prefix (`x0/to_Partner/`).
    fn member(
        &self,
        scopes: &Scopes,
        scope: Scope,
        path: &[usize],
    ) -> Result<(EntityId, String), PlanError> {
        let (start, scope_prefix) = scopes.resolve(scope)?;
        let (target, prefix) = self.walk(start, path)?;
        Ok((target, format!("{scope_prefix}{prefix}")))
    }

    fn not_in_v2(&self, scopes: &Scopes, what: &str) -> PlanError {
        PlanError::Unsupported(format!(
            "{}: the OData v2 service cannot filter with {what}",
            self.graph.entities[scopes.root_entity()].set_name
        ))
    }

    /// Walks to-one navigations of a filter path; returns the entity reached and the
    /// `nav1/nav2/` prefix.
    fn walk(&self, entity_id: EntityId, path: &[usize]) -> Result<(EntityId, String), PlanError> {
        let mut current = entity_id;
        let mut prefix = String::new();
        for &index in path {
            let relation = &self.graph.entities[current].relations[index];
            if relation.many || relation.kind != RelationKind::Navigation {
                return Err(PlanError::Unsupported(format!(
                    "{}.{}: filters can only follow to-one navigations of the same service",
                    self.graph.entities[current].set_name, relation.name
                )));
            }
            prefix.push_str(&relation.name);
            prefix.push('/');
            current = relation.target;
        }
        Ok((current, prefix))
    }

    fn literal(
        &self,
        entity_id: EntityId,
        field: usize,
        value: &Value,
        dialect: Dialect,
    ) -> Result<String, PlanError> {
        let entity = &self.graph.entities[entity_id];
        let field_def = &entity.fields[field];
        match field_def.kind {
            FieldKind::Scalar(ty) => format_literal(dialect, ty, value)
                .map_err(|error| self.literal_error(entity_id, field, error)),
            FieldKind::Enum(id) => self.enum_literal(id, value, || {
                format!("{}.{}", entity.set_name, field_def.name)
            }),
            FieldKind::Complex(_) => Err(PlanError::Unsupported(format!(
                "{}.{}: complex properties cannot be compared",
                entity.set_name, field_def.name
            ))),
        }
    }

    /// An enum literal: the qualified type name and the member (or the flags, joined by `,`) in
    /// quotes (CSDL 4.0 enumeration literal, ABNF 7 `enumLiteral`). The value names members by
    /// their GraphQL enum value or their OData name; the wire carries the OData name. `place`
    /// names the field or entity for errors.
    fn enum_literal(
        &self,
        id: usize,
        value: &Value,
        place: impl Fn() -> String,
    ) -> Result<String, PlanError> {
        let enum_type = &self.graph.enums[id];
        let Some(text) = value.as_str() else {
            return Ok("null".to_owned());
        };
        let members = text
            .split(',')
            .map(|wanted| {
                enum_type
                    .members
                    .iter()
                    .find(|m| m.gql_name == wanted || m.name == wanted)
                    .map(|member| member.name.as_str())
                    .ok_or_else(|| {
                        PlanError::Unsupported(format!(
                            "{}: {text} is not a member of {}",
                            place(),
                            enum_type.name
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("{}'{}'", enum_type.name, members.join(",")))
    }

    fn literal_error(&self, entity_id: EntityId, field: usize, error: LiteralError) -> PlanError {
        let entity = &self.graph.entities[entity_id];
        PlanError::Literal {
            entity: entity.set_name.clone(),
            field: entity.fields[field].name.clone(),
            error,
        }
    }
}

/// `operand in (a,b)` on v4 (OData 4.01 section 5.1.1.1.12; CAP and most v4 servers accept it),
/// an `or` chain of `eq` on v2, which has no `in`.
fn one_of(dialect: Dialect, operand: &str, literals: &[String]) -> String {
    match dialect {
        Dialect::V4 => format!("{operand} in ({})", literals.join(",")),
        Dialect::V2 => {
            let parts: Vec<String> = literals
                .iter()
                .map(|literal| format!("{operand} eq {literal}"))
                .collect();
            format!("({})", parts.join(" or "))
        }
    }
}

/// Dates, times and durations: OData v2 has no arithmetic on them.
fn is_temporal(ty: EdmType) -> bool {
    matches!(
        ty,
        EdmType::Date
            | EdmType::DateTime
            | EdmType::DateTimeOffset
            | EdmType::TimeOfDay
            | EdmType::Time
            | EdmType::Duration
    )
}

/// The entities a filter's property paths can start from: the entity filtered, then one per
/// enclosing lambda body. Lambda variables are named by depth (`x0`, `x1`, ...), never taken from
/// the client, so that no client text but literals reaches a URL.
#[derive(Debug, Clone)]
struct Scopes {
    /// Index 0 is the entity filtered; the last one is the current scope.
    entities: Vec<EntityId>,
}

impl Scopes {
    fn root(entity: EntityId) -> Scopes {
        Scopes {
            entities: vec![entity],
        }
    }

    fn root_entity(&self) -> EntityId {
        self.entities.first().copied().unwrap_or_default()
    }

    fn depth(&self) -> usize {
        self.entities.len().saturating_sub(1)
    }

    /// The scopes inside a lambda body over `entity`.
    fn enter(&self, entity: EntityId) -> Scopes {
        let mut inner = self.clone();
        inner.entities.push(entity);
        inner
    }

    /// The current lambda variable's name.
    fn variable(&self) -> String {
        format!("x{}", self.depth().saturating_sub(1))
    }

    /// The entity a scope stands for and the prefix that addresses it: nothing outside lambdas,
    /// `$it/` for the entity filtered and `xN/` for a lambda variable inside them (OData 4.01
    /// Part 2, "Lambda Operators": paths neither prefixed with a lambda variable nor with `$it`
    /// are read relative to the origin of the lambda's path, so the planner always prefixes).
    fn resolve(&self, scope: Scope) -> Result<(EntityId, String), PlanError> {
        let depth = self.depth();
        let level = match scope {
            Scope::Current => Some(depth),
            Scope::Root => Some(0),
            Scope::Outer(up) => depth.checked_sub(up),
        };
        let Some((level, entity)) =
            level.and_then(|level| Some((level, self.entities.get(level)?)))
        else {
            return Err(PlanError::Unsupported(format!(
                "{scope:?} is outside every enclosing lambda"
            )));
        };
        let prefix = match level {
            _ if depth == 0 => String::new(),
            0 => "$it/".to_owned(),
            level => format!("x{}/", level - 1),
        };
        Ok((*entity, prefix))
    }
}

/// Renders options as `name=value` pairs joined by `separator`: `&` with percent-encoding for a
/// URL, `;` without it inside a v4 `$expand(...)` (the outer `$expand` value is encoded as a whole).
pub fn render_options(
    dialect: Dialect,
    options: &Options,
    separator: char,
    encode: bool,
) -> String {
    let mut out = String::new();
    let mut push = |name: &str, value: &str| {
        if !out.is_empty() {
            out.push(separator);
        }
        out.push_str(name);
        out.push('=');
        if encode {
            out.push_str(&encode_component(value));
        } else {
            out.push_str(value);
        }
    };
    if !options.select.is_empty() {
        push("$select", &options.select.join(","));
    }
    if !options.expand.is_empty() {
        push("$expand", &options.expand.join(","));
    }
    if let Some(filter) = &options.filter {
        push("$filter", filter);
    }
    if !options.orderby.is_empty() {
        push("$orderby", &options.orderby.join(","));
    }
    if let Some(top) = options.top {
        push("$top", &top.to_string());
    }
    if let Some(skip) = options.skip {
        push("$skip", &skip.to_string());
    }
    if options.count {
        match dialect {
            Dialect::V4 => push("$count", "true"),
            Dialect::V2 => push("$inlinecount", "allpages"),
        }
    }
    if let Some(search) = &options.search {
        match dialect {
            Dialect::V4 => push("$search", search),
            // SAP Gateway's custom query option for free-text search on v2 services.
            Dialect::V2 => push("search", search),
        }
    }
    out
}

impl Fetch {
    /// The request path and query below the service root.
    pub fn url(&self, graph: &Graph) -> String {
        let dialect = graph.services[self.service].dialect;
        let query = render_options(dialect, &self.options, '&', true);
        if query.is_empty() {
            self.resource.clone()
        } else {
            format!("{}?{query}", self.resource)
        }
    }
}

impl Join {
    /// The requests for a batch of parent key tuples (each in `pairs` order), split so that no
    /// URL is longer than `max_url_bytes`. Tuples whose values do not fit the target fields'
    /// types cannot match anything and are dropped. Each request asks for one row more than
    /// `max_join_rows`, so that the executor can tell a level that exceeds the limit (an error)
    /// from one that reaches it exactly, instead of cutting rows off unseen.
    pub fn urls(&self, graph: &Graph, keys: &[Vec<Value>], limits: &PlanLimits) -> Vec<String> {
        let target: &Entity = &graph.entities[self.fetch.entity];
        let dialect = graph.services[target.service].dialect;
        let conditions: Vec<String> = keys
            .iter()
            .filter_map(|tuple| self.key_condition(target, dialect, tuple))
            .collect();
        let mut urls = Vec::new();
        let mut batch: Vec<&str> = Vec::new();
        let render = |batch: &[&str]| {
            let mut options = self.fetch.options.clone();
            let single = match self.pairs.as_slice() {
                [(_, remote)] => Some(target.fields[*remote].name.as_str()),
                _ => None,
            };
            let keys = key_filter(dialect, batch, single);
            options.filter = Some(match options.filter.take() {
                Some(filter) => format!("{keys} and {filter}"),
                None => keys,
            });
            options.top = Some(limits.max_join_rows.saturating_add(1));
            let query = render_options(dialect, &options, '&', true);
            format!("{}?{query}", self.fetch.resource)
        };
        for condition in &conditions {
            batch.push(condition);
            if batch.len() > 1 && wire_length(&render(&batch)) > limits.max_url_bytes {
                batch.pop();
                urls.push(render(&batch));
                batch.clear();
                batch.push(condition);
            }
        }
        if !batch.is_empty() {
            urls.push(render(&batch));
        }
        urls
    }

    /// `K eq 'a'` or `(K1 eq 'a' and K2 eq 1)` for one parent, or the bare literal for a single
    /// pair on v4, where the batch becomes `K in (...)`.
    fn key_condition(&self, target: &Entity, dialect: Dialect, tuple: &[Value]) -> Option<String> {
        let mut parts = Vec::new();
        for ((_, remote), value) in self.pairs.iter().zip(tuple) {
            if value.is_null() {
                return None;
            }
            let field = &target.fields[*remote];
            let ty = field.edm_type()?;
            let literal = format_literal(dialect, ty, value)
                .or_else(|_| match value {
                    // Joins across types compare the text form (Int32 10 against String '10').
                    Value::String(text) => format_literal(dialect, ty, &coerce(text, ty)?),
                    other => format_literal(dialect, ty, &Value::String(other.to_string())),
                })
                .ok()?;
            if self.pairs.len() == 1 && dialect == Dialect::V4 {
                return Some(literal);
            }
            parts.push(format!("{} eq {literal}", field.name));
        }
        Some(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" and "))
        })
    }

    /// The request as printed by `bizgraph plan`, with a placeholder for the parents' keys.
    pub fn template(&self, graph: &Graph) -> String {
        let target = &graph.entities[self.fetch.entity];
        let dialect = graph.services[target.service].dialect;
        let names: Vec<&str> = self
            .pairs
            .iter()
            .map(|(_, remote)| target.fields[*remote].name.as_str())
            .collect();
        let keys = match (dialect, names.as_slice()) {
            (Dialect::V4, [one]) => format!("{one} in (<parent keys>)"),
            _ => format!("({} eq <parent key> or ...)", names.join(" eq <..> and ")),
        };
        let mut options = self.fetch.options.clone();
        options.filter = Some(match options.filter.take() {
            Some(filter) => format!("{keys} and {filter}"),
            None => keys,
        });
        format!(
            "{}?{}",
            self.fetch.resource,
            render_options(dialect, &options, '&', false)
        )
    }
}

/// The length of a rendered URL as it goes out: HTTP clients that follow the WHATWG URL
/// standard (reqwest's `url` crate among them) percent-encode `'` in a query as `%27`, which
/// [`encode_component`] keeps readable, so each quote takes three bytes on the wire.
fn wire_length(url: &str) -> usize {
    url.len() + 2 * url.bytes().filter(|&byte| byte == b'\'').count()
}

fn coerce(text: &str, ty: EdmType) -> Result<Value, LiteralError> {
    match ty {
        EdmType::Byte | EdmType::SByte | EdmType::Int16 | EdmType::Int32 => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| LiteralError::Invalid {
                ty: ty.name(),
                value: text.chars().take(40).collect(),
                expected: "an integer",
            }),
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// The condition selecting a batch of parents: `K in (...)` for one property on v4 (OData 4.01
/// section 5.1.1.1.12), else an `or` chain of per-parent conditions.
fn key_filter(dialect: Dialect, conditions: &[&str], single: Option<&str>) -> String {
    match (dialect, single) {
        (Dialect::V4, Some(name)) => format!("{name} in ({})", conditions.join(",")),
        _ => format!("({})", conditions.join(" or ")),
    }
}

/// Renders the plan as an indented tree: each request with its backend, then its joins.
pub fn describe(graph: &Graph, plan: &Plan) -> String {
    let mut out = String::new();
    describe_fetch(graph, &plan.fetch, 0, &mut out, None);
    out
}

fn describe_fetch(
    graph: &Graph,
    fetch: &Fetch,
    depth: usize,
    out: &mut String,
    url: Option<String>,
) {
    let service = &graph.services[fetch.service];
    let namespace = &graph.namespaces[service.namespace];
    let url = url.unwrap_or_else(|| fetch.url(graph));
    let version = match service.dialect {
        Dialect::V2 => "v2",
        Dialect::V4 => "v4",
    };
    let _ = writeln!(
        out,
        "{:indent$}[{}] {} ({version}): GET {}/{}",
        "",
        namespace.name,
        service.destination,
        service.path,
        url,
        indent = depth * 2
    );
    describe_joins(graph, &fetch.shape, depth, out);
}

fn describe_joins(graph: &Graph, shape: &Shape, depth: usize, out: &mut String) {
    for expand in &shape.expands {
        describe_joins(graph, &expand.shape, depth, out);
    }
    for join in &shape.joins {
        let _ = writeln!(
            out,
            "{:indent$}join {} (one request per level for all parents):",
            "",
            join.key,
            indent = depth * 2 + 2
        );
        describe_fetch(
            graph,
            &join.fetch,
            depth + 2,
            out,
            Some(join.template(graph)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_count_as_their_percent_encoding() {
        assert_eq!(wire_length("A?$filter=K%20in%20('1','2')"), 28 + 8);
        assert_eq!(wire_length("A?$top=1"), 8);
    }
}
