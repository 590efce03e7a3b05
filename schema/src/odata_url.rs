//! OData v4 request URLs (resource path and query options) parsed into a front-end-neutral [`Read`].
//!
//! The OData endpoint hands [`parse_request`] the resource path below `/odata/v4/<namespace>/`
//! and the raw query string, both percent-encoded as received. The result is the same
//! [`Read`] the GraphQL front end builds, so one planner serves both; the
//! [`ResourcePath`] says what the URL addressed, for `@odata.context` and the shape of the
//! answer.
//!
//! References: OData 4.01 Part 2, URL Conventions ("URL 4.01" below, cited by section title), and
//! the OData ABNF Construction Rules 4.01 ("ABNF", with rule names). `$filter` is parsed by a
//! recursive-descent parser into a syntax tree and then bound against the graph: names become
//! field and relation indexes, literals take the type of what they are compared with, and
//! every error names the offending token and its character position within the option's
//! decoded value.
//!
//! Invariant: client text reaches a backend URL only as typed literals (rendered later by
//! [`crate::literal`]); names are looked up in the graph and rendered from it, lambda variables
//! are renamed by the planner.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::edm::{Dialect, EdmType};
use crate::literal::format_literal;
use crate::model::{EntityId, EntityKind, EnumId, FieldKind, Graph, NamespaceId, RelationKind};
use crate::plan::PlanLimits;
use crate::query::{
    ArithmeticOp, CollectionArgs, CompareOp, Direction, Filter, Function, Operand, Quantifier,
    Read, RelationRead, Scope, Selection, Target, TextOp,
};

/// At most this many characters of an offending token are quoted in a message.
const SHOWN_CHARS: usize = 40;

/// A parsed OData v4 read request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ODataRequest {
    /// What to read, ready for [`crate::plan::plan`].
    pub read: Read,
    /// What the URL addressed.
    pub path: ResourcePath,
    /// The path ends in `/$count`: the answer is the number alone (`read` asks for the count
    /// and no entities).
    pub count_only: bool,
    /// What `$format` asked for.
    pub format: Format,
    /// `$skiptoken`, as given (for server-driven paging by the endpoint).
    pub skip_token: Option<String>,
    /// Set when the answer is the relation stored under this key in the one entity `read`
    /// returns: a navigation read through its parent.
    pub through: Option<String>,
}

/// What the resource path addressed: `Set`, `Set(key)`, `Set(key)/Navigation`,
/// `Set(key)/Navigation(key)`, each but the last optionally followed by `/$count`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourcePath {
    /// The entity set named first.
    pub entity: EntityId,
    /// The key of one of its entities, in key order: (field index, value).
    pub key: Option<Vec<(usize, Value)>>,
    /// The relation followed from that entity: an index into its relations.
    pub navigation: Option<usize>,
    /// The key of one of the related entities of a to-many navigation, in the target's key
    /// order (`Orders('1')/to_Item(SalesOrder='1',SalesOrderItem='10')`).
    pub navigation_key: Option<Vec<(usize, Value)>>,
    /// The path ends in `/$count`.
    pub count: bool,
}

impl ResourcePath {
    /// The entity whose instances the answer holds.
    pub fn target(&self, graph: &Graph) -> EntityId {
        match self.navigation {
            Some(relation) => graph.entities[self.entity].relations[relation].target,
            None => self.entity,
        }
    }

    /// True when the answer is one entity (or nothing): a key, or a to-one navigation.
    pub fn single(&self, graph: &Graph) -> bool {
        match self.navigation {
            Some(_) if self.navigation_key.is_some() => true,
            Some(relation) => !graph.entities[self.entity].relations[relation].many,
            None => self.key.is_some(),
        }
    }
}

/// The response format asked for with `$format` (URL 4.01, "System Query Option $format").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Format {
    /// `odata.metadata=minimal|full|none`, when given.
    pub metadata: Option<MetadataLevel>,
    /// `IEEE754Compatible=true|false`, when given.
    pub ieee754_compatible: Option<bool>,
}

/// How much control information a JSON response carries (OData JSON Format 4.01 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MetadataLevel {
    /// `odata.metadata=minimal`.
    Minimal,
    /// `odata.metadata=full`.
    Full,
    /// `odata.metadata=none`.
    None,
}

/// Why a URL cannot be read. The message names the offending token and its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UrlError {
    /// The HTTP status: 400 (malformed or invalid), 404 (unknown resource), 406 (format), 501
    /// (valid OData this gateway does not do).
    pub status: u16,
    /// A stable code for the OData error body (`SYNTAX_ERROR`, `UNKNOWN_PROPERTY`, ...).
    pub code: &'static str,
    /// A lowercase message naming the token and its position.
    pub message: String,
    /// The query option concerned (`$filter`, `$expand`, an alias `@p`); `None` for the
    /// resource path and the query string as a whole.
    pub target: Option<String>,
    /// Character offset of the token within the option's decoded value (within the decoded
    /// resource path, or the raw query string, when `target` is `None`).
    pub position: Option<usize>,
}

/// Error codes.
mod code {
    pub const SYNTAX: &str = "SYNTAX_ERROR";
    pub const UNKNOWN_PROPERTY: &str = "UNKNOWN_PROPERTY";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const INVALID_LITERAL: &str = "INVALID_LITERAL";
    pub const TYPE_MISMATCH: &str = "TYPE_MISMATCH";
    pub const UNKNOWN_FUNCTION: &str = "UNKNOWN_FUNCTION";
    pub const NOT_IMPLEMENTED: &str = "NOT_IMPLEMENTED";
    pub const UNKNOWN_OPTION: &str = "UNKNOWN_OPTION";
    pub const DUPLICATE_OPTION: &str = "DUPLICATE_OPTION";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const NOT_ALLOWED: &str = "NOT_ALLOWED";
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
}

const BAD_REQUEST: u16 = 400;
const NOT_FOUND: u16 = 404;
const NOT_ACCEPTABLE: u16 = 406;
const NOT_IMPLEMENTED: u16 = 501;

/// Parses a read request: `path` is the resource path below the namespace's service root
/// (`A_SalesOrder('1')/to_Item`), `query` the raw query string without `?`, both
/// percent-encoded as received.
pub fn parse_request(
    graph: &Graph,
    namespace: NamespaceId,
    path: &str,
    query: &str,
    limits: &PlanLimits,
) -> Result<ODataRequest, UrlError> {
    let options = QueryOptions::parse(query)?;
    let context = Context {
        graph,
        limits,
        aliases: &options.aliases,
    };
    let resource = resource_path(&context, namespace, path)?;
    let format = match &options.format {
        Some(source) => format_option(source.all())?,
        None => Format::default(),
    };
    let read_options = options.read_options();
    let target_entity = resource.path.target(graph);
    let count_only = resource.path.count;
    let read = if count_only {
        // OData 4.01 Part 1, "Requesting the Number of Items in a Collection": the count is not
        // affected by $top, $skip, $orderby, $select or $expand; those are read for errors only.
        let (mut args, _) = context.collection(target_entity, &read_options, false)?;
        args.filter = and_filters(resource.filter, args.filter);
        Read {
            entity: target_entity,
            target: Target::Collection(CollectionArgs {
                order_by: Vec::new(),
                top: None,
                skip: None,
                count: true,
                nodes: false,
                ..args
            }),
            selection: Selection::default(),
        }
    } else if resource.single {
        context.refuse_collection_options(&read_options, "the resource is a single entity")?;
        let selection = context.selection(target_entity, &read_options)?;
        match resource.key {
            Some(key) => Read {
                entity: target_entity,
                target: Target::Key(key),
                selection,
            },
            None => Read {
                entity: target_entity,
                target: Target::Collection(CollectionArgs {
                    filter: resource.filter,
                    nodes: true,
                    ..CollectionArgs::default()
                }),
                selection,
            },
        }
    } else {
        let (mut args, selection) = context.collection(target_entity, &read_options, false)?;
        args.filter = and_filters(resource.filter, args.filter);
        Read {
            entity: target_entity,
            target: Target::Collection(args),
            selection,
        }
    };
    let mut through = None;
    let read = match (resource.through_parent, resource.path.navigation) {
        (Some(parent_key), Some(relation)) => {
            let parent = resource.path.entity;
            let key = graph.entities[parent].relations[relation].name.clone();
            through = Some(key.clone());
            let args = match read.target {
                Target::Collection(args) => args,
                Target::Key(_) => CollectionArgs {
                    nodes: true,
                    ..CollectionArgs::default()
                },
            };
            Read {
                entity: parent,
                target: Target::Key(parent_key),
                selection: Selection {
                    relations: vec![RelationRead {
                        key,
                        relation,
                        args,
                        selection: read.selection,
                    }],
                    ..Selection::default()
                },
            }
        }
        _ => read,
    };
    Ok(ODataRequest {
        read,
        path: resource.path,
        count_only,
        format,
        skip_token: options.skip_token,
        through,
    })
}

/// A call of a function or action import addressed by a resource path: `Name(p=1,q=@a)`, or
/// `Name` alone (URL 4.01, "Addressing Operations"; ABNF `functionImportCall`,
/// `actionImportCall`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationRequest {
    /// The operation: an index into [`Graph::operations`].
    pub operation: usize,
    /// The parameters given in the path, as (parameter index, canonical value), in the order
    /// given; a parameter alias without a value is null (URL 4.01, "Parameter Aliases").
    pub arguments: Vec<(usize, Value)>,
    /// The segment has parentheses (functions take their parameters there; actions take none).
    pub parenthesized: bool,
    /// What `$format` asked for.
    pub format: Format,
    /// For an operation bound to one entity: that entity's key, (field index, value) in key
    /// order (empty for a singleton). `None` for unbound operations and collection-bound ones.
    pub bound_to: Option<Vec<(usize, Value)>>,
}

/// Parses a resource path that calls a function or action import of `namespace`, both path and
/// query percent-encoded as received. `Ok(None)` when the first segment names no operation
/// import of the namespace (the path is then one for [`parse_request`]); an entity set of the
/// same name wins, as the read side resolves it first.
///
/// Nothing may follow the call (composing `$count`, navigation or query options other than
/// `$format` and parameter aliases on an operation's result is refused with 501).
pub fn parse_operation(
    graph: &Graph,
    namespace: NamespaceId,
    path: &str,
    query: &str,
    limits: &PlanLimits,
) -> Result<Option<OperationRequest>, UrlError> {
    let decoded = percent_decode(path, false).map_err(|(at, reason)| {
        Source::new("the resource path", None, path).error(
            at,
            at + 3,
            BAD_REQUEST,
            code::SYNTAX,
            reason,
        )
    })?;
    let src = Source::new("the resource path", None, &decoded);
    let segments: Vec<Span<'_>> = src
        .all()
        .split('/')
        .into_iter()
        .filter(|segment| !segment.is_empty())
        .collect();
    let Some(first) = segments.first() else {
        return Ok(None);
    };
    let (name, predicate) = segment_parts(*first)?;
    let text = name.text();
    // `Set(key)/NS.Op(...)`, `Set/NS.Op(...)`, `Singleton/NS.Op(...)`: a bound call; the
    // binding entity's key is parsed once the aliases are known.
    let mut binding_key: Option<(EntityId, Option<Span<'_>>)> = None;
    // Names are those our `$metadata` advertises, which may differ from the backend's (a set of
    // a secondary container, a set name two services share): a client addresses what it read.
    let names = crate::csdl::names(graph, namespace);
    let (operation, predicate, rest) = if let Some(entity_id) = names.entity_by_set(&text) {
        let Some(second) = segments.get(1) else {
            return Ok(None);
        };
        let (operation_name, operation_predicate) = segment_parts(*second)?;
        let operation_text = operation_name.text();
        let prefix = format!("{}.", names.namespace());
        let Some(simple) = operation_text.strip_prefix(&prefix) else {
            return Ok(None);
        };
        let entity = &graph.entities[entity_id];
        let on_collection = entity.kind == EntityKind::Set && predicate.is_none();
        let found = entity.operations.iter().copied().find(|&operation| {
            names.operation(operation) == Some(simple)
                && graph.operations[operation]
                    .binding
                    .as_ref()
                    .is_some_and(|binding| binding.collection == on_collection)
        });
        let Some(operation) = found else {
            return Err(operation_name.error(
                NOT_FOUND,
                code::NOT_FOUND,
                format!(
                    "no function or action of that name is bound to {} {}",
                    if on_collection {
                        "the collection"
                    } else {
                        "an entity of"
                    },
                    entity.shown_name()
                ),
            ));
        };
        if !on_collection {
            binding_key = Some((entity_id, predicate));
        }
        (operation, operation_predicate, segments.get(2))
    } else {
        let Some(operation) = names.operation_by_import(&text) else {
            return Ok(None);
        };
        (operation, predicate, segments.get(1))
    };
    if let Some(extra) = rest {
        return Err(extra.error(
            NOT_IMPLEMENTED,
            code::NOT_IMPLEMENTED,
            "path segments after an operation call are not supported",
        ));
    }
    let options = QueryOptions::parse(query)?;
    let read_options = options.read_options();
    let shaping = [
        (SystemOption::Select, read_options.select),
        (SystemOption::Expand, read_options.expand),
    ];
    for (option, span) in read_options.collection_options().into_iter().chain(shaping) {
        if let Some(span) = span {
            return Err(span.error(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                format!(
                    "{} on the result of an operation is not supported",
                    option.name()
                ),
            ));
        }
    }
    if let Some(token) = &options.skip_token {
        return Err(UrlError {
            status: BAD_REQUEST,
            code: code::NOT_ALLOWED,
            message: format!("$skiptoken '{token}' does not apply to an operation call"),
            target: Some("$skiptoken".to_owned()),
            position: None,
        });
    }
    let format = match &options.format {
        Some(source) => format_option(source.all())?,
        None => Format::default(),
    };
    let context = Context {
        graph,
        limits,
        aliases: &options.aliases,
    };
    let arguments = match predicate {
        Some(span) => context.operation_arguments(operation, span)?,
        None => Vec::new(),
    };
    let bound_to = match binding_key {
        None => None,
        Some((entity, Some(key))) => Some(context.key_predicate(entity, key)?),
        // A singleton: no key.
        Some((_, None)) => Some(Vec::new()),
    };
    Ok(Some(OperationRequest {
        operation,
        arguments,
        parenthesized: predicate.is_some(),
        format,
        bound_to,
    }))
}

impl Context<'_> {
    /// The inside of a function call's parentheses: `p1=1,p2='a',p3=@alias` or nothing (ABNF
    /// `functionParameters`). Each value is a literal of the parameter's type, or an alias whose
    /// value is one; `null` where the parameter may be null.
    fn operation_arguments(
        &self,
        operation_id: usize,
        span: Span<'_>,
    ) -> Result<Vec<(usize, Value)>, UrlError> {
        let operation = &self.graph.operations[operation_id];
        let mut parser = Parser::new(span)?;
        let mut arguments: Vec<(usize, Value)> = Vec::new();
        if parser.peek().tok == Tok::End {
            return Ok(arguments);
        }
        loop {
            let name_token = parser.next();
            let Tok::Name(name) = &name_token.tok else {
                return Err(parser.unexpected(&name_token, "a parameter name"));
            };
            let loc = span.src.loc(name_token.start, name_token.end);
            parser.expect(&Tok::Equals, "`=` after the parameter name")?;
            let index = operation
                .parameters
                .iter()
                .position(|parameter| parameter.name == *name)
                .ok_or_else(|| {
                    loc.error(
                        BAD_REQUEST,
                        code::UNKNOWN_PROPERTY,
                        format!("not a parameter of {}", operation.name),
                    )
                })?;
            if arguments.iter().any(|(given, _)| *given == index) {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    "the parameter is given more than once",
                ));
            }
            let parameter = &operation.parameters[index];
            let node = parser.unary()?;
            let (lit, value_loc) = self.key_literal(span.src, &node)?;
            let value = match (lit, parameter.kind) {
                (Lit::Null, _) if parameter.nullable => Value::Null,
                (Lit::Null, _) => {
                    return Err(value_loc.error(
                        BAD_REQUEST,
                        code::INVALID_LITERAL,
                        format!("{} may not be null", parameter.name),
                    ));
                }
                (_, FieldKind::Complex(_)) => {
                    return Err(value_loc.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        format!(
                            "{} is structured; structured parameters are not supported",
                            parameter.name
                        ),
                    ));
                }
                _ if parameter.collection => {
                    return Err(value_loc.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        format!(
                            "{} is a collection; collection parameters are not supported",
                            parameter.name
                        ),
                    ));
                }
                (lit, FieldKind::Scalar(ty)) => {
                    coerce(self.graph, &lit, Ty::Scalar(ty), &value_loc)?
                }
                (lit, FieldKind::Enum(id)) => coerce(self.graph, &lit, Ty::Enum(id), &value_loc)?,
            };
            arguments.push((index, value));
            if parser.peek().tok == Tok::Comma {
                parser.next();
                continue;
            }
            parser.finish("`,` or the end of the parameters")?;
            break;
        }
        Ok(arguments)
    }
}

fn and_filters(first: Option<Filter>, second: Option<Filter>) -> Option<Filter> {
    match (first, second) {
        (Some(first), Some(second)) => Some(join(true, first, second)),
        (first, second) => first.or(second),
    }
}

/// `left and right` (or `or`), flattening nested lists of the same operator.
fn join(and: bool, left: Filter, right: Filter) -> Filter {
    let parts = |filter: Filter| match filter {
        Filter::And(parts) if and => parts,
        Filter::Or(parts) if !and => parts,
        other => vec![other],
    };
    let mut all = parts(left);
    all.extend(parts(right));
    if and {
        Filter::And(all)
    } else {
        Filter::Or(all)
    }
}

// ---------------------------------------------------------------------------------------------
// Sources, spans and locations
// ---------------------------------------------------------------------------------------------

/// One decoded text errors point into: a query option's value, an alias's value, the resource
/// path or the raw query string.
#[derive(Debug, Clone)]
struct Source {
    /// How messages name it: `$filter`, `@p`, `the resource path`.
    label: String,
    /// The error target (`None` for the path and the query string).
    target: Option<String>,
    chars: Vec<char>,
}

impl Source {
    fn new(label: &str, target: Option<&str>, text: &str) -> Source {
        Source {
            label: label.to_owned(),
            target: target.map(str::to_owned),
            chars: text.chars().collect(),
        }
    }

    fn all(&self) -> Span<'_> {
        Span {
            src: self,
            from: 0,
            to: self.chars.len(),
        }
    }

    fn char(&self, at: usize) -> Option<char> {
        self.chars.get(at).copied()
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars
            .get(from..to.min(self.chars.len()))
            .map(|chars| chars.iter().collect())
            .unwrap_or_default()
    }

    fn loc(&self, start: usize, end: usize) -> Loc {
        let mut token: String = self.text(start, end).chars().take(SHOWN_CHARS).collect();
        if end.saturating_sub(start) > SHOWN_CHARS {
            token.push('…');
        }
        Loc {
            label: self.label.clone(),
            target: self.target.clone(),
            start,
            token,
        }
    }

    fn error(
        &self,
        start: usize,
        end: usize,
        status: u16,
        code: &'static str,
        reason: impl fmt::Display,
    ) -> UrlError {
        self.loc(start, end).error(status, code, reason)
    }
}

/// Where a token is, with its text, for messages.
#[derive(Debug, Clone)]
struct Loc {
    label: String,
    target: Option<String>,
    start: usize,
    token: String,
}

impl Loc {
    fn error(&self, status: u16, code: &'static str, reason: impl fmt::Display) -> UrlError {
        let message = if self.token.is_empty() {
            format!("end of {} at position {}: {reason}", self.label, self.start)
        } else {
            format!(
                "`{}` at position {} of {}: {reason}",
                self.token, self.start, self.label
            )
        };
        UrlError {
            status,
            code,
            message,
            target: self.target.clone(),
            position: Some(self.start),
        }
    }
}

/// A range of a source.
#[derive(Debug, Clone, Copy)]
struct Span<'s> {
    src: &'s Source,
    from: usize,
    to: usize,
}

impl<'s> Span<'s> {
    fn text(&self) -> String {
        self.src.text(self.from, self.to)
    }

    fn is_empty(&self) -> bool {
        self.from >= self.to
    }

    fn slice(&self, from: usize, to: usize) -> Span<'s> {
        Span {
            src: self.src,
            from,
            to,
        }
    }

    /// Without leading and trailing spaces and tabs.
    fn trim(&self) -> Span<'s> {
        let mut from = self.from;
        let mut to = self.to;
        while from < to && matches!(self.src.char(from), Some(' ' | '\t')) {
            from += 1;
        }
        while to > from && matches!(self.src.char(to - 1), Some(' ' | '\t')) {
            to -= 1;
        }
        self.slice(from, to)
    }

    fn error(&self, status: u16, code: &'static str, reason: impl fmt::Display) -> UrlError {
        self.src.error(self.from, self.to, status, code, reason)
    }

    /// Splits at `separator` outside quotes and parentheses (`'...'` strings with doubled
    /// quotes, `"..."` search phrases with backslash escapes).
    fn split(&self, separator: char) -> Vec<Span<'s>> {
        let mut parts = Vec::new();
        let mut depth = 0usize;
        let mut single = false;
        let mut double = false;
        let mut start = self.from;
        let mut at = self.from;
        while at < self.to {
            let Some(c) = self.src.char(at) else { break };
            if double {
                if c == '\\' {
                    at += 1;
                } else if c == '"' {
                    double = false;
                }
            } else if single {
                single = c != '\'';
            } else {
                match c {
                    '\'' => single = true,
                    '"' => double = true,
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    c if c == separator && depth == 0 => {
                        parts.push(self.slice(start, at));
                        start = at + 1;
                    }
                    _ => {}
                }
            }
            at += 1;
        }
        parts.push(self.slice(start, self.to));
        parts
    }

    /// The position of the `)` closing the `(` at `open`, outside quotes.
    fn closing(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut single = false;
        let mut at = open;
        while at < self.to {
            let c = self.src.char(at)?;
            if single {
                single = c != '\'';
            } else {
                match c {
                    '\'' => single = true,
                    '(' => depth += 1,
                    ')' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(at);
                        }
                    }
                    _ => {}
                }
            }
            at += 1;
        }
        None
    }

    /// The first position of `wanted` outside quotes and parentheses.
    fn find(&self, wanted: char) -> Option<usize> {
        let mut single = false;
        let mut depth = 0usize;
        for at in self.from..self.to {
            let c = self.src.char(at)?;
            if single {
                single = c != '\'';
            } else if c == '\'' {
                single = true;
            } else if c == wanted && depth == 0 {
                return Some(at);
            } else if c == '(' {
                depth += 1;
            } else if c == ')' {
                depth = depth.saturating_sub(1);
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Percent-decoding and the query string
// ---------------------------------------------------------------------------------------------

/// Percent-decodes `text` (RFC 3986 section 2.1) into UTF-8. In a query, `+` is a space, as
/// form encoding, CAP and most servers read it (the ABNF spells a plus sign `%2B` for this
/// reason, rule `SIGN`); in a path it stays `+`. On failure, the character offset of the bad
/// escape in `text`.
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, (usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'%' => {
                let hex = bytes.get(at + 1..at + 3).and_then(|pair| {
                    let high = char::from(pair[0]).to_digit(16)?;
                    let low = char::from(pair[1]).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()
                });
                let Some(byte) = hex else {
                    return Err((
                        text[..at].chars().count(),
                        "`%` must be followed by two hexadecimal digits",
                    ));
                };
                out.push(byte);
                at += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                at += 1;
            }
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        (valid, "percent-encoded bytes are not UTF-8")
    })
}

/// The system query options (URL 4.01, "Query Options"; ABNF `systemQueryOption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SystemOption {
    Select,
    Expand,
    Filter,
    OrderBy,
    Top,
    Skip,
    Count,
    Search,
    Format,
    SkipToken,
    DeltaToken,
    Apply,
    Compute,
    Levels,
    Index,
    SchemaVersion,
    Id,
}

impl SystemOption {
    /// The option a query option name stands for: case-insensitive, with or without `$`
    /// (URL 4.01, "System Query Options": 4.01 services support both).
    fn of(name: &str) -> Option<SystemOption> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.strip_prefix('$').unwrap_or(&lower) {
            "select" => SystemOption::Select,
            "expand" => SystemOption::Expand,
            "filter" => SystemOption::Filter,
            "orderby" => SystemOption::OrderBy,
            "top" => SystemOption::Top,
            "skip" => SystemOption::Skip,
            "count" => SystemOption::Count,
            "search" => SystemOption::Search,
            "format" => SystemOption::Format,
            "skiptoken" => SystemOption::SkipToken,
            "deltatoken" => SystemOption::DeltaToken,
            "apply" => SystemOption::Apply,
            "compute" => SystemOption::Compute,
            "levels" => SystemOption::Levels,
            "index" => SystemOption::Index,
            "schemaversion" => SystemOption::SchemaVersion,
            "id" => SystemOption::Id,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SystemOption::Select => "$select",
            SystemOption::Expand => "$expand",
            SystemOption::Filter => "$filter",
            SystemOption::OrderBy => "$orderby",
            SystemOption::Top => "$top",
            SystemOption::Skip => "$skip",
            SystemOption::Count => "$count",
            SystemOption::Search => "$search",
            SystemOption::Format => "$format",
            SystemOption::SkipToken => "$skiptoken",
            SystemOption::DeltaToken => "$deltatoken",
            SystemOption::Apply => "$apply",
            SystemOption::Compute => "$compute",
            SystemOption::Levels => "$levels",
            SystemOption::Index => "$index",
            SystemOption::SchemaVersion => "$schemaversion",
            SystemOption::Id => "$id",
        }
    }
}

/// Parameter aliases by name (without `@`), each with its decoded value.
type Aliases = HashMap<String, Source>;

/// The query string, split and decoded.
#[derive(Debug, Default)]
struct QueryOptions {
    select: Option<Source>,
    expand: Option<Source>,
    filter: Option<Source>,
    orderby: Option<Source>,
    top: Option<Source>,
    skip: Option<Source>,
    count: Option<Source>,
    search: Option<Source>,
    format: Option<Source>,
    skip_token: Option<String>,
    aliases: Aliases,
}

impl QueryOptions {
    fn parse(query: &str) -> Result<QueryOptions, UrlError> {
        let raw = Source::new("the query string", None, query);
        let mut options = QueryOptions::default();
        let mut seen: Vec<SystemOption> = Vec::new();
        let mut offset = 0;
        for part in query.split('&') {
            let start = offset;
            let length = part.chars().count();
            offset += length + 1;
            if part.is_empty() {
                continue;
            }
            let (raw_name, raw_value) = part.split_once('=').unwrap_or((part, ""));
            let name_end = start + raw_name.chars().count();
            let decode = |text: &str, base: usize| {
                percent_decode(text, true).map_err(|(at, reason)| {
                    raw.error(base + at, base + at + 3, BAD_REQUEST, code::SYNTAX, reason)
                })
            };
            let name = decode(raw_name, start)?;
            let value = decode(raw_value, name_end + 1)?;
            if let Some(alias) = name.strip_prefix('@') {
                // URL 4.01, "Parameter Aliases": used as `@name` in expressions and keys.
                if options.aliases.contains_key(alias) {
                    return Err(raw.error(
                        start,
                        name_end,
                        BAD_REQUEST,
                        code::DUPLICATE_OPTION,
                        "the parameter alias is given more than once",
                    ));
                }
                let source = Source::new(&name, Some(&name), &value);
                options.aliases.insert(alias.to_owned(), source);
                continue;
            }
            let Some(option) = SystemOption::of(&name) else {
                if name.starts_with('$') {
                    let hint = if name.eq_ignore_ascii_case("$inlinecount") {
                        "; OData v4 asks for counts with $count=true"
                    } else {
                        ""
                    };
                    let mut error = raw.error(
                        start,
                        name_end,
                        BAD_REQUEST,
                        code::UNKNOWN_OPTION,
                        format!("not a system query option{hint}"),
                    );
                    error.target = Some(name);
                    return Err(error);
                }
                // Custom query options (URL 4.01, "Custom Query Options"), `sap-client` and the like, are
                // not for this gateway to interpret.
                continue;
            };
            if seen.contains(&option) {
                let mut error = raw.error(
                    start,
                    name_end,
                    BAD_REQUEST,
                    code::DUPLICATE_OPTION,
                    format!("{} is given more than once", option.name()),
                );
                error.target = Some(option.name().to_owned());
                return Err(error);
            }
            seen.push(option);
            let source = Source::new(option.name(), Some(option.name()), &value);
            let slot = match option {
                SystemOption::Select => &mut options.select,
                SystemOption::Expand => &mut options.expand,
                SystemOption::Filter => &mut options.filter,
                SystemOption::OrderBy => &mut options.orderby,
                SystemOption::Top => &mut options.top,
                SystemOption::Skip => &mut options.skip,
                SystemOption::Count => &mut options.count,
                SystemOption::Search => &mut options.search,
                SystemOption::Format => &mut options.format,
                SystemOption::SkipToken => {
                    options.skip_token = Some(value);
                    continue;
                }
                SystemOption::Apply
                | SystemOption::Compute
                | SystemOption::DeltaToken
                | SystemOption::Index
                | SystemOption::SchemaVersion
                | SystemOption::Id => {
                    let mut error = raw.error(
                        start,
                        name_end,
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        format!("{} is not supported by this service", option.name()),
                    );
                    error.target = Some(option.name().to_owned());
                    return Err(error);
                }
                SystemOption::Levels => {
                    let mut error = raw.error(
                        start,
                        name_end,
                        BAD_REQUEST,
                        code::UNKNOWN_OPTION,
                        "$levels is only an option of an $expand item",
                    );
                    error.target = Some(option.name().to_owned());
                    return Err(error);
                }
            };
            *slot = Some(source);
        }
        Ok(options)
    }

    fn read_options(&self) -> ReadOptions<'_> {
        fn span(source: &Option<Source>) -> Option<Span<'_>> {
            source.as_ref().map(Source::all)
        }
        ReadOptions {
            select: span(&self.select),
            expand: span(&self.expand),
            filter: span(&self.filter),
            orderby: span(&self.orderby),
            top: span(&self.top),
            skip: span(&self.skip),
            count: span(&self.count),
            search: span(&self.search),
        }
    }
}

/// The options that shape a read, at the top level or inside an `$expand` item.
#[derive(Debug, Clone, Copy, Default)]
struct ReadOptions<'s> {
    select: Option<Span<'s>>,
    expand: Option<Span<'s>>,
    filter: Option<Span<'s>>,
    orderby: Option<Span<'s>>,
    top: Option<Span<'s>>,
    skip: Option<Span<'s>>,
    count: Option<Span<'s>>,
    search: Option<Span<'s>>,
}

impl<'s> ReadOptions<'s> {
    /// The options that narrow or page a collection, with their names.
    fn collection_options(&self) -> [(SystemOption, Option<Span<'s>>); 6] {
        [
            (SystemOption::Filter, self.filter),
            (SystemOption::OrderBy, self.orderby),
            (SystemOption::Top, self.top),
            (SystemOption::Skip, self.skip),
            (SystemOption::Count, self.count),
            (SystemOption::Search, self.search),
        ]
    }
}

/// `$format` (URL 4.01, "System Query Option $format"): `json` or `application/json` with
/// optional parameters.
fn format_option(span: Span<'_>) -> Result<Format, UrlError> {
    let text = span.text().to_ascii_lowercase();
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if media != "json" && media != "application/json" {
        return Err(span.error(
            NOT_ACCEPTABLE,
            code::NOT_ACCEPTABLE,
            "only JSON (`json` or `application/json`) is served",
        ));
    }
    let mut format = Format::default();
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match (name.trim(), value.trim()) {
            ("odata.metadata" | "metadata", "minimal") => {
                format.metadata = Some(MetadataLevel::Minimal);
            }
            ("odata.metadata" | "metadata", "full") => format.metadata = Some(MetadataLevel::Full),
            ("odata.metadata" | "metadata", "none") => format.metadata = Some(MetadataLevel::None),
            ("ieee754compatible", "true") => format.ieee754_compatible = Some(true),
            ("ieee754compatible", "false") => format.ieee754_compatible = Some(false),
            ("odata.metadata" | "metadata" | "ieee754compatible", _) => {
                return Err(span.error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    format!("invalid format parameter `{}`", parameter.trim()),
                ));
            }
            // `odata.streaming`, `charset` and the like change nothing here.
            _ => {}
        }
    }
    Ok(format)
}

// ---------------------------------------------------------------------------------------------
// Resource path
// ---------------------------------------------------------------------------------------------

/// A resolved resource path with what the read needs beyond it.
struct Resource {
    path: ResourcePath,
    /// The key of the entity read (`Set(key)`, or a to-one navigation whose constraints give
    /// the whole key of its target).
    key: Option<Vec<(usize, Value)>>,
    /// The condition selecting the related entities of a navigation.
    filter: Option<Filter>,
    /// The answer is one entity.
    single: bool,
    /// A navigation read through its parent (`$expand` of the parent by key), for same-service
    /// navigations whose related entities cannot be selected on their own: the parent's key.
    through_parent: Option<Vec<(usize, Value)>>,
}

/// The shared state of one request's parse.
struct Context<'a> {
    graph: &'a Graph,
    limits: &'a PlanLimits,
    aliases: &'a Aliases,
}

/// `Set`, `Set(key)`, `Set(key)/Navigation`, each optionally followed by `/$count` (ABNF
/// `resourcePath`, `collectionNavigation`, `keyPredicate`, `singleNavigation`).
fn resource_path(
    context: &Context<'_>,
    namespace: NamespaceId,
    raw: &str,
) -> Result<Resource, UrlError> {
    let decoded = percent_decode(raw, false).map_err(|(at, reason)| {
        Source::new("the resource path", None, raw).error(
            at,
            at + 3,
            BAD_REQUEST,
            code::SYNTAX,
            reason,
        )
    })?;
    let src = Source::new("the resource path", None, &decoded);
    let segments: Vec<Span<'_>> = src
        .all()
        .split('/')
        .into_iter()
        .filter(|segment| !segment.is_empty())
        .collect();
    let graph = context.graph;
    let Some((first, rest)) = segments.split_first() else {
        return Err(src.error(
            0,
            0,
            NOT_FOUND,
            code::NOT_FOUND,
            "the resource path names no entity set",
        ));
    };
    let (name, predicate) = segment_parts(*first)?;
    // The entity sets and singletons our `$metadata` declares, by the names it gives them.
    let names = crate::csdl::names(graph, namespace);
    let entity_id = match names.entity_by_set(&name.text()) {
        Some(entity_id) => entity_id,
        None => {
            let text = name.text();
            let namespace_name = &graph.namespaces[namespace].name;
            let is_operation = names.operation_by_import(&text).is_some();
            return Err(if is_operation {
                name.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "function and action imports are not served by this endpoint",
                )
            } else if text.starts_with('$') {
                name.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "this resource is not served by this endpoint",
                )
            } else {
                name.error(
                    NOT_FOUND,
                    code::NOT_FOUND,
                    format!("no entity set of that name in {namespace_name}"),
                )
            });
        }
    };
    let entity = &graph.entities[entity_id];
    let key = match predicate {
        Some(predicate) if entity.kind == EntityKind::Singleton => {
            return Err(predicate.error(
                BAD_REQUEST,
                code::SYNTAX,
                format!(
                    "{} is a singleton, addressed without a key",
                    entity.set_name
                ),
            ));
        }
        Some(predicate) => Some(context.key_predicate(entity_id, predicate)?),
        // A singleton is one entity: addressed like a set's entity by its (empty) key.
        None if entity.kind == EntityKind::Singleton => Some(Vec::new()),
        None => None,
    };
    let mut path = ResourcePath {
        entity: entity_id,
        key,
        navigation: None,
        navigation_key: None,
        count: false,
    };
    let mut rest = rest.iter();
    let Some(second) = rest.next() else {
        let single = path.key.is_some();
        return Ok(Resource {
            key: path.key.clone(),
            path,
            filter: None,
            single,
            through_parent: None,
        });
    };
    let (second_name, second_predicate) = segment_parts(*second)?;
    let second_text = second_name.text();
    if let Some(predicate) = second_predicate.filter(|_| second_text.starts_with('$')) {
        return Err(predicate.error(
            NOT_IMPLEMENTED,
            code::NOT_IMPLEMENTED,
            "this path segment is not supported",
        ));
    }
    if second_text == "$count" {
        if path.key.is_some() {
            return Err(second_name.error(
                BAD_REQUEST,
                code::NOT_ALLOWED,
                if entity.kind == EntityKind::Singleton {
                    "a singleton has no count"
                } else {
                    "a single entity has no count"
                },
            ));
        }
        path.count = true;
        if let Some(extra) = rest.next() {
            return Err(extra.error(BAD_REQUEST, code::SYNTAX, "nothing may follow /$count"));
        }
        return Ok(Resource {
            path,
            key: None,
            filter: None,
            single: false,
            through_parent: None,
        });
    }
    if second_text.starts_with('$') || second_text.contains('.') {
        return Err(second_name.error(
            NOT_IMPLEMENTED,
            code::NOT_IMPLEMENTED,
            "this path segment is not supported (only navigation and /$count)",
        ));
    }
    let Some(parent_key) = path.key.clone() else {
        let known = entity.field(&second_text).is_some()
            || entity.relations.iter().any(|r| r.name == second_text);
        return Err(if known {
            second_name.error(
                BAD_REQUEST,
                code::SYNTAX,
                format!(
                    "a collection of {} has no properties; address one entity by its key first",
                    entity.set_name
                ),
            )
        } else {
            second_name.error(
                NOT_FOUND,
                code::NOT_FOUND,
                format!("not a property of {}", entity.set_name),
            )
        });
    };
    let Some((relation_index, relation)) = entity
        .relations
        .iter()
        .enumerate()
        .find(|(_, relation)| relation.name == second_text)
    else {
        return Err(if entity.field(&second_text).is_some() {
            second_name.error(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "addressing a single property is not supported; use $select",
            )
        } else {
            second_name.error(
                NOT_FOUND,
                code::NOT_FOUND,
                format!("not a property of {}", entity.set_name),
            )
        });
    };
    // A key after a collection-valued navigation picks one of the related entities (URL 4.01,
    // "Addressing Entities"); a single-valued navigation already leads to one.
    if let Some(predicate) = second_predicate {
        if !relation.many {
            return Err(predicate.error(
                BAD_REQUEST,
                code::SYNTAX,
                format!(
                    "{} leads to a single entity, which takes no key",
                    relation.name
                ),
            ));
        }
        path.navigation_key = Some(context.key_predicate(relation.target, predicate)?);
    }
    path.navigation = Some(relation_index);
    match rest.next() {
        None => {}
        Some(third) if path.navigation_key.is_some() => {
            return Err(third.error(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "paths beyond one navigation are not supported; use $expand",
            ));
        }
        Some(third) if third.text() == "$count" && relation.many => path.count = true,
        Some(third) if third.text() == "$count" => {
            return Err(third.error(
                BAD_REQUEST,
                code::NOT_ALLOWED,
                format!(
                    "{} leads to a single entity, which has no count",
                    relation.name
                ),
            ));
        }
        Some(third) => {
            return Err(third.error(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "paths beyond one navigation are not supported; use $expand",
            ));
        }
    }
    if let Some(extra) = rest.next() {
        return Err(extra.error(BAD_REQUEST, code::SYNTAX, "nothing may follow /$count"));
    }
    // The related entities are those whose constraint properties equal the parent's: known
    // from the key when every constraint starts at a key property.
    let pairs = match &relation.kind {
        RelationKind::Join { pairs } => pairs.clone(),
        RelationKind::Navigation => relation.constraints.clone(),
    };
    // A same-service navigation that the key alone cannot select (no constraints, or one that
    // starts at a non-key property) is read through its parent: the parent by key, with the
    // navigation expanded (OData 4.01 part 1, section 11.2.2: the same entities either way).
    let keyed = !pairs.is_empty()
        && pairs
            .iter()
            .all(|(local, _)| parent_key.iter().any(|(field, _)| field == local));
    // The related entity named by its own key: its key equalities join the conditions below.
    let key_conditions: Vec<Filter> = path
        .navigation_key
        .iter()
        .flatten()
        .map(|(field, value)| Filter::Compare {
            path: Vec::new(),
            field: *field,
            op: CompareOp::Eq,
            value: value.clone(),
        })
        .collect();
    if !keyed && relation.kind == RelationKind::Navigation {
        let single = (!relation.many || path.navigation_key.is_some()) && !path.count;
        return Ok(Resource {
            path,
            key: None,
            filter: all_of(key_conditions),
            single,
            through_parent: Some(parent_key),
        });
    }
    if pairs.is_empty() {
        return Err(second_name.error(
            NOT_IMPLEMENTED,
            code::NOT_IMPLEMENTED,
            format!(
                "{}.{} declares no referential constraint, so the related entities cannot be read on their own",
                entity.set_name, relation.name
            ),
        ));
    }
    let mut conditions = Vec::new();
    for &(local, remote) in &pairs {
        let Some((_, value)) = parent_key.iter().find(|(field, _)| *field == local) else {
            return Err(second_name.error(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                format!(
                    "{}.{} relates through {}, which is not part of the key; use $expand",
                    entity.set_name, relation.name, entity.fields[local].name
                ),
            ));
        };
        conditions.push((remote, value.clone()));
    }
    let target = &graph.entities[relation.target];
    let mut by_target_key: Option<Vec<(usize, Value)>> = None;
    if !relation.many
        && key_conditions.is_empty()
        && conditions.len() == target.key.len()
        && target
            .key
            .iter()
            .all(|field| conditions.iter().any(|(remote, _)| remote == field))
    {
        by_target_key = target
            .key
            .iter()
            .map(|field| {
                conditions
                    .iter()
                    .find(|(remote, _)| remote == field)
                    .cloned()
            })
            .collect();
    }
    let filter = if by_target_key.is_none() {
        let parts = conditions
            .into_iter()
            .map(|(field, value)| Filter::Compare {
                path: Vec::new(),
                field,
                op: CompareOp::Eq,
                value,
            })
            .chain(key_conditions);
        all_of(parts.collect())
    } else {
        None
    };
    let single = (!relation.many || path.navigation_key.is_some()) && !path.count;
    Ok(Resource {
        path,
        key: by_target_key,
        filter,
        single,
        through_parent: None,
    })
}

/// The conjunction of `parts`: none is no filter, one is itself.
fn all_of(mut parts: Vec<Filter>) -> Option<Filter> {
    match parts.len() {
        0 => None,
        1 => Some(parts.remove(0)),
        _ => Some(Filter::And(parts)),
    }
}

/// A path segment's name and the inside of its parentheses, if any.
fn segment_parts(segment: Span<'_>) -> Result<(Span<'_>, Option<Span<'_>>), UrlError> {
    let Some(open) = segment.find('(') else {
        return Ok((segment, None));
    };
    let name = segment.slice(segment.from, open);
    let Some(close) = segment.closing(open) else {
        return Err(segment.slice(open, segment.to).error(
            BAD_REQUEST,
            code::SYNTAX,
            "the key predicate is not closed with `)`",
        ));
    };
    if close + 1 != segment.to {
        return Err(segment.slice(close + 1, segment.to).error(
            BAD_REQUEST,
            code::SYNTAX,
            "unexpected text after the key predicate",
        ));
    }
    Ok((name, Some(segment.slice(open + 1, close))))
}

impl Context<'_> {
    /// A key predicate's inside: `1`, `'a'`, `K=1` or `K1='a',K2=1`, values possibly aliases
    /// (ABNF `simpleKey`, `compoundKey`). Returns the values in key order.
    fn key_predicate(
        &self,
        entity_id: EntityId,
        span: Span<'_>,
    ) -> Result<Vec<(usize, Value)>, UrlError> {
        let entity = &self.graph.entities[entity_id];
        let mut parser = Parser::new(span)?;
        let mut given: Vec<(Option<(String, Loc)>, Node)> = Vec::new();
        loop {
            let name = match (parser.peek().tok.clone(), parser.peek_at(1).tok.clone()) {
                (Tok::Name(name), Tok::Equals) => {
                    let token = parser.next();
                    parser.next();
                    Some((name, span.src.loc(token.start, token.end)))
                }
                _ => None,
            };
            let value = parser.unary()?;
            given.push((name, value));
            if parser.peek().tok == Tok::Comma {
                parser.next();
                continue;
            }
            parser.finish("`,` or the end of the key")?;
            break;
        }
        if entity.key.is_empty() {
            return Err(span.error(
                BAD_REQUEST,
                code::NOT_ALLOWED,
                format!("{} has no key", entity.set_name),
            ));
        }
        let mut values: Vec<Option<Value>> = vec![None; entity.key.len()];
        let single_unnamed = matches!(given.as_slice(), [(None, _)]);
        for (name, node) in &given {
            let position = match name {
                None if single_unnamed && entity.key.len() == 1 => 0,
                None => {
                    return Err(span.src.loc(node.start, node.end).error(
                        BAD_REQUEST,
                        code::SYNTAX,
                        format!(
                            "{} has a composite key; name each key property (K1=..,K2=..)",
                            entity.set_name
                        ),
                    ));
                }
                Some((name, loc)) => entity
                    .key
                    .iter()
                    .position(|&field| entity.fields[field].name == *name)
                    .ok_or_else(|| {
                        loc.error(
                            BAD_REQUEST,
                            code::UNKNOWN_PROPERTY,
                            format!("not a key property of {}", entity.set_name),
                        )
                    })?,
            };
            let field_index = entity.key[position];
            let field = &entity.fields[field_index];
            let ty = match field.kind {
                FieldKind::Scalar(ty) => Ty::Scalar(ty),
                FieldKind::Enum(id) => Ty::Enum(id),
                FieldKind::Complex(_) => Ty::Complex,
            };
            let (lit, loc) = self.key_literal(span.src, node)?;
            if matches!(lit, Lit::Null) {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::INVALID_LITERAL,
                    "a key property is never null",
                ));
            }
            let value = coerce(self.graph, &lit, ty, &loc)?;
            if values[position].replace(value).is_some() {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    format!("{} is given twice", field.name),
                ));
            }
        }
        let mut key = Vec::new();
        for (position, value) in values.into_iter().enumerate() {
            let field_index = entity.key[position];
            let Some(value) = value else {
                return Err(span.error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    format!(
                        "the key of {} needs {}",
                        entity.set_name, entity.fields[field_index].name
                    ),
                ));
            };
            key.push((field_index, value));
        }
        Ok(key)
    }

    /// A key value: a literal, or an alias whose value is one.
    fn key_literal(&self, src: &Source, node: &Node) -> Result<(Lit, Loc), UrlError> {
        match &node.kind {
            Kind::Literal(lit) => Ok((lit.clone(), src.loc(node.start, node.end))),
            Kind::Alias(name) => {
                let Some(alias) = self.aliases.get(name) else {
                    return Ok((Lit::Null, src.loc(node.start, node.end)));
                };
                let mut parser = Parser::new(alias.all())?;
                let value = parser.unary()?;
                parser.finish("the end of the alias value")?;
                match value.kind {
                    Kind::Literal(lit) => Ok((lit, alias.loc(value.start, value.end))),
                    _ => Err(alias.error(
                        value.start,
                        value.end,
                        BAD_REQUEST,
                        code::INVALID_LITERAL,
                        "a key or parameter value must be a literal",
                    )),
                }
            }
            _ => Err(src.error(
                node.start,
                node.end,
                BAD_REQUEST,
                code::INVALID_LITERAL,
                "a key or parameter value must be a literal",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Query options of a read
// ---------------------------------------------------------------------------------------------

impl Context<'_> {
    /// The arguments and selection of a collection read. `nested` is true inside `$expand`.
    fn collection(
        &self,
        entity_id: EntityId,
        options: &ReadOptions<'_>,
        nested: bool,
    ) -> Result<(CollectionArgs, Selection), UrlError> {
        let mut args = CollectionArgs {
            nodes: true,
            ..CollectionArgs::default()
        };
        if let Some(span) = options.filter {
            args.filter = Some(self.filter(entity_id, span, nested)?);
        }
        if let Some(span) = options.orderby {
            args.order_by = self.order_by(entity_id, span)?;
        }
        if let Some(span) = options.top {
            let top = number_option(span, SystemOption::Top)?;
            if top > self.limits.max_top {
                return Err(span.trim().error(
                    BAD_REQUEST,
                    code::LIMIT_EXCEEDED,
                    format!("$top is above the limit of {}", self.limits.max_top),
                ));
            }
            args.top = Some(top);
        }
        if let Some(span) = options.skip {
            args.skip = Some(number_option(span, SystemOption::Skip)?);
        }
        if let Some(span) = options.count {
            let text = span.trim().text();
            args.count = if text.eq_ignore_ascii_case("true") {
                true
            } else if text.eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(span.trim().error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    "$count takes true or false",
                ));
            };
        }
        if let Some(span) = options.search {
            args.search = Some(search(span)?);
        }
        let selection = self.selection(entity_id, options)?;
        Ok((args, selection))
    }

    /// 400 for options that only apply to collections, on a single entity.
    fn refuse_collection_options(
        &self,
        options: &ReadOptions<'_>,
        single: &str,
    ) -> Result<(), UrlError> {
        for (option, span) in options.collection_options() {
            if let Some(span) = span {
                return Err(span.error(
                    BAD_REQUEST,
                    code::NOT_ALLOWED,
                    format!("{} applies to collections; {single}", option.name()),
                ));
            }
        }
        Ok(())
    }

    /// `$select` and `$expand` of one entity.
    fn selection(
        &self,
        entity_id: EntityId,
        options: &ReadOptions<'_>,
    ) -> Result<Selection, UrlError> {
        let entity = &self.graph.entities[entity_id];
        let mut selection = Selection {
            etag: entity.etag,
            ..Selection::default()
        };
        match options.select {
            Some(span) => self.select(entity_id, span, &mut selection)?,
            None => add_all_fields(self.graph, entity_id, &mut selection),
        }
        if let Some(span) = options.expand {
            selection.relations = self.expand(entity_id, span)?;
        }
        Ok(selection)
    }

    /// `$select` (URL 4.01, "System Query Option $select"): properties, `*`, complex properties (selected
    /// whole), navigation properties and operations (which add no data here).
    fn select(
        &self,
        entity_id: EntityId,
        span: Span<'_>,
        selection: &mut Selection,
    ) -> Result<(), UrlError> {
        let entity = &self.graph.entities[entity_id];
        for item in span.split(',') {
            let item = item.trim();
            let text = item.text();
            if text.is_empty() {
                return Err(item.error(BAD_REQUEST, code::SYNTAX, "empty $select item"));
            }
            if text == "*" {
                add_all_fields(self.graph, entity_id, selection);
                continue;
            }
            if item.find('(').is_some() {
                return Err(item.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "options on selected properties are not supported",
                ));
            }
            let first = text.split('/').next().unwrap_or_default();
            if let Some((index, field)) = entity.field(first) {
                if text.len() > first.len() && !matches!(field.kind, FieldKind::Complex(_)) {
                    return Err(item.error(
                        BAD_REQUEST,
                        code::SYNTAX,
                        format!("{first} is not a complex property; nothing can follow it"),
                    ));
                }
                selection.add_field(index);
            } else if entity.relations.iter().any(|r| r.name == first) {
                if first != text {
                    return Err(item.error(
                        BAD_REQUEST,
                        code::SYNTAX,
                        format!("select properties of {first} inside $expand={first}($select=...)"),
                    ));
                }
                // Selecting a navigation property asks for its link (URL 4.01, "$select"),
                // which carries no data of its own.
            } else if text.contains('.') && !text.contains('/') {
                // Qualified action and function names (`NS.*`, `NS.Action`): no data.
            } else {
                return Err(item.error(
                    BAD_REQUEST,
                    code::UNKNOWN_PROPERTY,
                    format!("not a property of {}", entity.set_name),
                ));
            }
        }
        Ok(())
    }

    /// `$expand` (URL 4.01, "System Query Option $expand"): navigation properties and configured cross-source
    /// associations, `*`, nested `A/B`, `A/$count`, and options in parentheses.
    fn expand(&self, entity_id: EntityId, span: Span<'_>) -> Result<Vec<RelationRead>, UrlError> {
        let entity = &self.graph.entities[entity_id];
        let mut reads: Vec<RelationRead> = Vec::new();
        let mut star = None;
        for item in span.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(item.error(BAD_REQUEST, code::SYNTAX, "empty $expand item"));
            }
            let (path, options) = match item.find('(') {
                Some(open) => {
                    let Some(close) = item.closing(open) else {
                        return Err(item.slice(open, item.to).error(
                            BAD_REQUEST,
                            code::SYNTAX,
                            "the options are not closed with `)`",
                        ));
                    };
                    if !item.slice(close + 1, item.to).trim().is_empty() {
                        return Err(item.slice(close + 1, item.to).error(
                            BAD_REQUEST,
                            code::SYNTAX,
                            "unexpected text after the expand options",
                        ));
                    }
                    (
                        item.slice(item.from, open).trim(),
                        Some(item.slice(open + 1, close)),
                    )
                }
                None => (item, None),
            };
            let segments = path.split('/');
            if segments
                .first()
                .is_some_and(|first| first.trim().text() == "*")
            {
                if segments.len() > 1 || options.is_some() {
                    return Err(item.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "`*` with $ref or $levels is not supported",
                    ));
                }
                star = Some(item);
                continue;
            }
            let Some((first, rest)) = segments.split_first() else {
                return Err(item.error(BAD_REQUEST, code::SYNTAX, "empty $expand item"));
            };
            let read = self.expand_path(entity_id, *first, rest, options)?;
            if reads.iter().any(|other| other.key == read.key) {
                return Err(item.error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    "this navigation property is expanded twice",
                ));
            }
            reads.push(read);
        }
        if star.is_some() {
            // `*` expands every navigation property not expanded explicitly (URL 4.01,
            // "$expand"); the configured cross-source associations are navigation properties here.
            for (index, relation) in entity.relations.iter().enumerate() {
                if reads.iter().any(|read| read.relation == index) {
                    continue;
                }
                reads.push(RelationRead {
                    key: relation.name.clone(),
                    relation: index,
                    args: CollectionArgs {
                        nodes: true,
                        ..CollectionArgs::default()
                    },
                    selection: self.default_selection(relation.target),
                });
            }
        }
        Ok(reads)
    }

    /// One `$expand` item: `Nav`, `Nav/Nav2...`, `Nav/$count`, with the options of the last.
    fn expand_path(
        &self,
        entity_id: EntityId,
        first: Span<'_>,
        rest: &[Span<'_>],
        options: Option<Span<'_>>,
    ) -> Result<RelationRead, UrlError> {
        let entity = &self.graph.entities[entity_id];
        let first = first.trim();
        let name = first.text();
        let Some((index, relation)) = entity
            .relations
            .iter()
            .enumerate()
            .find(|(_, relation)| relation.name == name)
        else {
            return Err(match entity.field(&name) {
                Some((_, field)) if matches!(field.kind, FieldKind::Complex(_)) => first.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "expanding through complex properties is not supported",
                ),
                Some(_) => first.error(
                    BAD_REQUEST,
                    code::SYNTAX,
                    format!("not a navigation property of {}", entity.set_name),
                ),
                None => first.error(
                    BAD_REQUEST,
                    code::UNKNOWN_PROPERTY,
                    format!("not a navigation property of {}", entity.set_name),
                ),
            });
        };
        let target = relation.target;
        let item_options = match options {
            Some(span) => expand_options(span)?,
            None => ReadOptions::default(),
        };
        match rest.split_first() {
            None => {
                if relation.many {
                    let (args, selection) = self.collection(target, &item_options, true)?;
                    Ok(RelationRead {
                        key: relation.name.clone(),
                        relation: index,
                        args,
                        selection,
                    })
                } else {
                    if let Some(span) = item_options.filter {
                        return Err(span.error(
                            NOT_IMPLEMENTED,
                            code::NOT_IMPLEMENTED,
                            format!(
                                "$filter on the single entity of {} is not supported",
                                relation.name
                            ),
                        ));
                    }
                    self.refuse_collection_options(
                        &item_options,
                        &format!("{} leads to a single entity", relation.name),
                    )?;
                    Ok(RelationRead {
                        key: relation.name.clone(),
                        relation: index,
                        args: CollectionArgs {
                            nodes: true,
                            ..CollectionArgs::default()
                        },
                        selection: self.selection(target, &item_options)?,
                    })
                }
            }
            Some((second, more)) => {
                let second = second.trim();
                let text = second.text();
                if text == "$count" {
                    if !more.is_empty() {
                        return Err(more[0].error(
                            BAD_REQUEST,
                            code::SYNTAX,
                            "nothing may follow $count",
                        ));
                    }
                    if !relation.many {
                        return Err(second.error(
                            BAD_REQUEST,
                            code::NOT_ALLOWED,
                            format!("{} is a single entity, which has no count", relation.name),
                        ));
                    }
                    // ABNF `expandCountOption`: only $filter and $search.
                    let allowed = ReadOptions {
                        filter: item_options.filter,
                        search: item_options.search,
                        ..ReadOptions::default()
                    };
                    if let Some(span) = [
                        item_options.select,
                        item_options.expand,
                        item_options.orderby,
                        item_options.top,
                        item_options.skip,
                        item_options.count,
                    ]
                    .into_iter()
                    .flatten()
                    .next()
                    {
                        return Err(span.error(
                            BAD_REQUEST,
                            code::NOT_ALLOWED,
                            "only $filter and $search apply to an expanded $count",
                        ));
                    }
                    let (args, _) = self.collection(target, &allowed, true)?;
                    return Ok(RelationRead {
                        key: format!("{}/$count", relation.name),
                        relation: index,
                        args: CollectionArgs {
                            count: true,
                            nodes: false,
                            ..args
                        },
                        selection: Selection::default(),
                    });
                }
                if text.starts_with('$') || text.contains('.') {
                    return Err(second.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "$ref, $value and type casts in $expand are not supported",
                    ));
                }
                // `A/B(options)` expands B within A (URL 4.01, "$expand").
                let inner = self.expand_path(target, second, more, options)?;
                let mut selection = self.default_selection(target);
                selection.relations.push(inner);
                Ok(RelationRead {
                    key: relation.name.clone(),
                    relation: index,
                    args: CollectionArgs {
                        nodes: true,
                        ..CollectionArgs::default()
                    },
                    selection,
                })
            }
        }
    }

    fn default_selection(&self, entity_id: EntityId) -> Selection {
        let mut selection = Selection {
            etag: self.graph.entities[entity_id].etag,
            ..Selection::default()
        };
        add_all_fields(self.graph, entity_id, &mut selection);
        selection
    }

    /// `$orderby` (URL 4.01, "System Query Option $orderby"): properties of the entity, each `asc` or `desc`.
    fn order_by(
        &self,
        entity_id: EntityId,
        span: Span<'_>,
    ) -> Result<Vec<(usize, Direction)>, UrlError> {
        let entity = &self.graph.entities[entity_id];
        let mut order = Vec::new();
        for item in span.split(',') {
            let mut parser = Parser::new(item)?;
            let expression = parser.additive()?;
            let direction = match &parser.peek().tok {
                Tok::Name(word) if word.eq_ignore_ascii_case("asc") => {
                    parser.next();
                    Direction::Asc
                }
                Tok::Name(word) if word.eq_ignore_ascii_case("desc") => {
                    parser.next();
                    Direction::Desc
                }
                _ => Direction::Asc,
            };
            parser.finish("`asc`, `desc` or `,`")?;
            let loc = span.src.loc(expression.start, expression.end);
            let Kind::Path(segments, None) = &expression.kind else {
                return Err(loc.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "ordering by expressions is not supported; order by properties",
                ));
            };
            let [segment] = segments.as_slice() else {
                let related = segments
                    .first()
                    .is_some_and(|first| entity.relations.iter().any(|r| r.name == first.name));
                return Err(if related {
                    loc.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "ordering by properties of related entities is not supported",
                    )
                } else {
                    loc.error(
                        BAD_REQUEST,
                        code::UNKNOWN_PROPERTY,
                        format!("not a property of {}", entity.set_name),
                    )
                });
            };
            let Some((index, field)) = entity.field(&segment.name) else {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::UNKNOWN_PROPERTY,
                    format!("not a property of {}", entity.set_name),
                ));
            };
            if !field.sortable || !entity.capabilities.sortable {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::NOT_ALLOWED,
                    format!("{} cannot be sorted by {}", entity.set_name, field.name),
                ));
            }
            order.push((index, direction));
        }
        Ok(order)
    }

    /// `$filter` (URL 4.01, "System Query Option $filter") bound against an entity.
    fn filter(
        &self,
        entity_id: EntityId,
        span: Span<'_>,
        nested: bool,
    ) -> Result<Filter, UrlError> {
        if span.trim().is_empty() {
            return Err(span.error(BAD_REQUEST, code::SYNTAX, "$filter is empty"));
        }
        let mut parser = Parser::new(span)?;
        let node = parser.expression()?;
        parser.finish("an operator or the end of the expression")?;
        let mut binder = Binder {
            graph: self.graph,
            aliases: self.aliases,
            scopes: vec![LambdaScope {
                entity: entity_id,
                variable: None,
                origin: 0,
            }],
            nested,
            in_alias: false,
        };
        binder.condition(span.src, &node)
    }
}

/// Every field that carries a value: all but streams.
fn add_all_fields(graph: &Graph, entity_id: EntityId, selection: &mut Selection) {
    for (index, field) in graph.entities[entity_id].fields.iter().enumerate() {
        if field.edm_type() != Some(EdmType::Stream) {
            selection.add_field(index);
        }
    }
}

/// The `;`-separated options of an `$expand` item (ABNF `expandOption`).
fn expand_options(span: Span<'_>) -> Result<ReadOptions<'_>, UrlError> {
    let mut options = ReadOptions::default();
    for part in span.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some(equals) = part.find('=') else {
            return Err(part.error(
                BAD_REQUEST,
                code::SYNTAX,
                "an expand option needs `=` and a value",
            ));
        };
        let name_span = part.slice(part.from, equals).trim();
        let value = part.slice(equals + 1, part.to);
        let name = name_span.text();
        let slot = match SystemOption::of(&name) {
            Some(SystemOption::Select) => &mut options.select,
            Some(SystemOption::Expand) => &mut options.expand,
            Some(SystemOption::Filter) => &mut options.filter,
            Some(SystemOption::OrderBy) => &mut options.orderby,
            Some(SystemOption::Top) => &mut options.top,
            Some(SystemOption::Skip) => &mut options.skip,
            Some(SystemOption::Count) => &mut options.count,
            Some(SystemOption::Search) => &mut options.search,
            Some(SystemOption::Levels | SystemOption::Compute | SystemOption::Apply) => {
                return Err(name_span.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "this expand option is not supported",
                ));
            }
            _ => {
                return Err(name_span.error(
                    BAD_REQUEST,
                    code::UNKNOWN_OPTION,
                    "not an option of an $expand item",
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(name_span.error(
                BAD_REQUEST,
                code::DUPLICATE_OPTION,
                "given more than once in this $expand item",
            ));
        }
    }
    Ok(options)
}

/// `$top` or `$skip`: digits (ABNF `top = ... 1*DIGIT`).
fn number_option(span: Span<'_>, option: SystemOption) -> Result<u32, UrlError> {
    let span = span.trim();
    let text = span.text();
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(span.error(
            BAD_REQUEST,
            code::SYNTAX,
            format!("{} takes a non-negative integer", option.name()),
        ));
    }
    text.parse::<u32>().map_err(|_| {
        span.error(
            BAD_REQUEST,
            code::LIMIT_EXCEEDED,
            format!("{} is too large", option.name()),
        )
    })
}

/// `$search` (URL 4.01, "System Query Option $search"): words and `"phrases"`, all of which must
/// match: terms side by side are an implicit `AND` (ABNF `searchExpr`), and an explicit `AND`
/// between two terms says the same. The planner sends the terms as phrases joined by `AND` (v4)
/// or as SAP's free text (v2). `OR`, `NOT` and parentheses would need more than a list of terms,
/// so they are refused with 501 rather than changed in meaning.
fn search(span: Span<'_>) -> Result<Vec<String>, UrlError> {
    let span = span.trim();
    if span.is_empty() {
        return Err(span.error(BAD_REQUEST, code::SYNTAX, "$search is empty"));
    }
    let mut words: Vec<String> = Vec::new();
    // An `AND` must stand between two terms.
    let mut and_at: Option<(usize, usize)> = None;
    let mut at = span.from;
    while at < span.to {
        let Some(c) = span.src.char(at) else { break };
        match c {
            ' ' | '\t' => at += 1,
            '"' => {
                let start = at;
                let mut phrase = String::new();
                at += 1;
                loop {
                    match span.src.char(at).filter(|_| at < span.to) {
                        None => {
                            return Err(span.src.error(
                                start,
                                span.to,
                                BAD_REQUEST,
                                code::SYNTAX,
                                "the search phrase is not closed with `\"`",
                            ));
                        }
                        Some('"') => {
                            at += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(escaped) =
                                span.src.char(at + 1).filter(|_| at + 1 < span.to)
                            {
                                phrase.push(escaped);
                            }
                            at += 2;
                        }
                        Some(other) => {
                            phrase.push(other);
                            at += 1;
                        }
                    }
                }
                words.push(phrase);
                and_at = None;
            }
            '(' | ')' => {
                return Err(span.src.error(
                    at,
                    at + 1,
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "grouping in $search is not supported; search for words or one phrase",
                ));
            }
            _ => {
                let start = at;
                while at < span.to
                    && !matches!(span.src.char(at), Some(' ' | '\t' | '"' | '(' | ')') | None)
                {
                    at += 1;
                }
                let word = span.src.text(start, at);
                match word.as_str() {
                    "AND" if !words.is_empty() && and_at.is_none() => {
                        and_at = Some((start, at));
                    }
                    "AND" => {
                        return Err(span.src.error(
                            start,
                            at,
                            BAD_REQUEST,
                            code::SYNTAX,
                            "AND in $search stands between two search terms",
                        ));
                    }
                    "OR" | "NOT" => {
                        return Err(span.src.error(
                            start,
                            at,
                            NOT_IMPLEMENTED,
                            code::NOT_IMPLEMENTED,
                            "OR and NOT in $search are not supported; search for words and \
                             \"phrases\", all of which must match",
                        ));
                    }
                    _ => {
                        words.push(word);
                        and_at = None;
                    }
                }
            }
        }
    }
    if let Some((start, end)) = and_at {
        return Err(span.src.error(
            start,
            end,
            BAD_REQUEST,
            code::SYNTAX,
            "AND in $search stands between two search terms",
        ));
    }
    Ok(words)
}

// ---------------------------------------------------------------------------------------------
// Expression tokens
// ---------------------------------------------------------------------------------------------

/// A token of a `$filter`, `$orderby` or key predicate.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier, possibly qualified with dots (`Name`, `Crm.Stage`, `geo.distance`).
    Name(String),
    /// A quoted literal with its optional prefix (`'a''b'` is `a'b`; `duration'P1D'`).
    Quoted {
        prefix: Option<String>,
        text: String,
    },
    /// Digits with an optional fraction and exponent, without sign.
    Number(String),
    /// `2024-01-31`.
    Date(String),
    /// `2024-01-31T10:00:00Z` (offset as written; a `+` read as a space restored).
    DateTime(String),
    /// `10:30:00`.
    Time(String),
    /// `01234567-89ab-cdef-0123-456789abcdef`.
    Guid(String),
    /// `@name`.
    Alias(String),
    /// `$it`, `$root`, `$count`, ...
    Dollar(String),
    Open,
    Close,
    Comma,
    Slash,
    Colon,
    Minus,
    Equals,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits a span into tokens (ABNF sections 4, 7 and 9; `RWS`/`BWS` are spaces and tabs after
/// decoding).
fn lex(span: Span<'_>) -> Result<Vec<Token>, UrlError> {
    let src = span.src;
    let char_at = |at: usize| src.char(at).filter(|_| at < span.to);
    let digits_at = |at: usize, count: usize| {
        (at..at + count).all(|i| char_at(i).is_some_and(|c| c.is_ascii_digit()))
    };
    let mut tokens = Vec::new();
    let mut at = span.from;
    while let Some(c) = char_at(at) {
        let start = at;
        let tok = match c {
            ' ' | '\t' => {
                at += 1;
                continue;
            }
            '(' | ')' | ',' | '/' | ':' | '-' | '=' => {
                at += 1;
                match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    ',' => Tok::Comma,
                    '/' => Tok::Slash,
                    ':' => Tok::Colon,
                    '-' => Tok::Minus,
                    _ => Tok::Equals,
                }
            }
            '\'' => {
                let (text, end) = quoted(span, at)?;
                at = end;
                Tok::Quoted { prefix: None, text }
            }
            '@' | '$' => {
                let mut end = at + 1;
                while char_at(end).is_some_and(is_name_char) {
                    end += 1;
                }
                if end == at + 1 {
                    return Err(src.error(
                        at,
                        at + 1,
                        BAD_REQUEST,
                        code::SYNTAX,
                        "a name must follow",
                    ));
                }
                at = end;
                let name = src.text(start + 1, end);
                if c == '@' {
                    Tok::Alias(name)
                } else {
                    Tok::Dollar(name)
                }
            }
            c if c.is_ascii_hexdigit() && guid_end(span, at).is_some() => {
                let end = guid_end(span, at).unwrap_or(at);
                at = end;
                Tok::Guid(src.text(start, end))
            }
            c if c.is_ascii_digit() => {
                if digits_at(at, 4)
                    && char_at(at + 4) == Some('-')
                    && digits_at(at + 5, 2)
                    && char_at(at + 7) == Some('-')
                    && digits_at(at + 8, 2)
                {
                    // ABNF `date`, then `dateTimeOffsetLiteral` when a `T` follows.
                    let date_end = at + 10;
                    if char_at(date_end) == Some('T') {
                        let Some(clock_end) = clock_end(span, date_end + 1) else {
                            return Err(src.error(
                                start,
                                date_end + 1,
                                BAD_REQUEST,
                                code::INVALID_LITERAL,
                                "a time of day hh:mm[:ss[.fff]] must follow `T`",
                            ));
                        };
                        let mut text = src.text(start, clock_end);
                        let mut end = clock_end;
                        match char_at(end) {
                            Some('Z' | 'z') => {
                                text.push('Z');
                                end += 1;
                            }
                            Some(sign @ ('+' | '-' | ' '))
                                if digits_at(end + 1, 2)
                                    && char_at(end + 3) == Some(':')
                                    && digits_at(end + 4, 2) =>
                            {
                                // A `+` sent unencoded arrives as a space (see
                                // `percent_decode`); after a time of day it can only be the
                                // offset's sign.
                                text.push(if sign == '-' { '-' } else { '+' });
                                text.push_str(&src.text(end + 1, end + 6));
                                end += 6;
                            }
                            _ => {}
                        }
                        at = end;
                        Tok::DateTime(text)
                    } else {
                        at = date_end;
                        Tok::Date(src.text(start, date_end))
                    }
                } else if let Some(end) = clock_end(span, at) {
                    at = end;
                    Tok::Time(src.text(start, end))
                } else {
                    let mut end = at;
                    while char_at(end).is_some_and(|c| c.is_ascii_digit()) {
                        end += 1;
                    }
                    if char_at(end) == Some('.')
                        && char_at(end + 1).is_some_and(|c| c.is_ascii_digit())
                    {
                        end += 1;
                        while char_at(end).is_some_and(|c| c.is_ascii_digit()) {
                            end += 1;
                        }
                    }
                    if matches!(char_at(end), Some('e' | 'E')) {
                        let digits = if matches!(char_at(end + 1), Some('+' | '-')) {
                            end + 2
                        } else {
                            end + 1
                        };
                        if char_at(digits).is_some_and(|c| c.is_ascii_digit()) {
                            end = digits;
                            while char_at(end).is_some_and(|c| c.is_ascii_digit()) {
                                end += 1;
                            }
                        }
                    }
                    if char_at(end).is_some_and(is_name_char) || char_at(end) == Some('.') {
                        let mut bad = end;
                        while char_at(bad).is_some_and(|c| is_name_char(c) || c == '.') {
                            bad += 1;
                        }
                        let suffix = src.text(end, bad);
                        let reason = if matches!(
                            suffix.as_str(),
                            "L" | "l" | "M" | "m" | "d" | "D" | "f" | "F"
                        ) {
                            "OData v4 number literals carry no type suffix".to_owned()
                        } else {
                            "not a valid number".to_owned()
                        };
                        return Err(src.error(
                            start,
                            bad,
                            BAD_REQUEST,
                            code::INVALID_LITERAL,
                            reason,
                        ));
                    }
                    at = end;
                    Tok::Number(src.text(start, end))
                }
            }
            c if is_name_start(c) => {
                let mut end = at + 1;
                loop {
                    while char_at(end).is_some_and(is_name_char) {
                        end += 1;
                    }
                    if char_at(end) == Some('.') && char_at(end + 1).is_some_and(is_name_start) {
                        end += 1;
                        continue;
                    }
                    break;
                }
                let name = src.text(start, end);
                if char_at(end) == Some('\'') {
                    let (text, quoted_end) = quoted(span, end)?;
                    at = quoted_end;
                    Tok::Quoted {
                        prefix: Some(name),
                        text,
                    }
                } else {
                    at = end;
                    Tok::Name(name)
                }
            }
            '{' | '[' => {
                return Err(src.error(
                    at,
                    at + 1,
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "JSON values in expressions are not supported",
                ));
            }
            '"' => {
                return Err(src.error(
                    at,
                    at + 1,
                    BAD_REQUEST,
                    code::SYNTAX,
                    "string literals are written in single quotes",
                ));
            }
            '<' | '>' | '!' | '&' | '|' => {
                return Err(src.error(
                    at,
                    at + 1,
                    BAD_REQUEST,
                    code::SYNTAX,
                    "OData writes operators as words: eq, ne, gt, ge, lt, le, and, or, not",
                ));
            }
            _ => {
                return Err(src.error(
                    at,
                    at + 1,
                    BAD_REQUEST,
                    code::SYNTAX,
                    "unexpected character",
                ));
            }
        };
        tokens.push(Token {
            tok,
            start,
            end: at,
        });
    }
    tokens.push(Token {
        tok: Tok::End,
        start: span.to,
        end: span.to,
    });
    Ok(tokens)
}

/// A `'...'` literal starting at `open`: its text with `''` read as `'`, and the position after
/// the closing quote (ABNF `stringLiteral`, `SQUOTE-in-string`).
fn quoted(span: Span<'_>, open: usize) -> Result<(String, usize), UrlError> {
    let mut text = String::new();
    let mut at = open + 1;
    loop {
        match span.src.char(at).filter(|_| at < span.to) {
            None => {
                return Err(span.src.error(
                    open,
                    span.to,
                    BAD_REQUEST,
                    code::SYNTAX,
                    "the string literal is not closed with `'`",
                ));
            }
            Some('\'') if span.src.char(at + 1) == Some('\'') && at + 1 < span.to => {
                text.push('\'');
                at += 2;
            }
            Some('\'') => return Ok((text, at + 1)),
            Some(c) => {
                text.push(c);
                at += 1;
            }
        }
    }
}

/// The end of a GUID at `at` (ABNF `guid = 8HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-"
/// 12HEXDIG`), not followed by a name character.
fn guid_end(span: Span<'_>, at: usize) -> Option<usize> {
    let mut position = at;
    for (index, count) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if index > 0 {
            if span.src.char(position) != Some('-') {
                return None;
            }
            position += 1;
        }
        for _ in 0..count {
            if !span
                .src
                .char(position)
                .is_some_and(|c| c.is_ascii_hexdigit())
                || position >= span.to
            {
                return None;
            }
            position += 1;
        }
    }
    let next = span.src.char(position).filter(|_| position < span.to);
    (!next.is_some_and(|c| is_name_char(c) || c == '-')).then_some(position)
}

/// The end of a time of day at `at`: `hh:mm[:ss[.f+]]` (ABNF `timeOfDayLiteral`).
fn clock_end(span: Span<'_>, at: usize) -> Option<usize> {
    let char_at = |i: usize| span.src.char(i).filter(|_| i < span.to);
    let digit = |i: usize| char_at(i).is_some_and(|c| c.is_ascii_digit());
    if !(digit(at)
        && digit(at + 1)
        && char_at(at + 2) == Some(':')
        && digit(at + 3)
        && digit(at + 4))
    {
        return None;
    }
    let mut end = at + 5;
    if char_at(end) == Some(':') && digit(end + 1) && digit(end + 2) {
        end += 3;
        if char_at(end) == Some('.') && digit(end + 1) {
            end += 1;
            while digit(end) {
                end += 1;
            }
        }
    }
    Some(end)
}

// ---------------------------------------------------------------------------------------------
// Expression syntax
// ---------------------------------------------------------------------------------------------

/// A parsed expression with its character range in its source.
#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone)]
enum Kind {
    Binary {
        op: BinaryOp,
        left: Box<Node>,
        right: Box<Node>,
        /// The operator's range.
        at: (usize, usize),
    },
    Not(Box<Node>),
    Negate(Box<Node>),
    /// `(a, b, c)`: only after `in`.
    List(Vec<Node>),
    Literal(Lit),
    Alias(String),
    /// A member path, `$it/...` or a lambda variable first, maybe ending in `any`/`all`.
    Path(Vec<Segment>, Option<LambdaSyntax>),
    Call {
        name: String,
        args: Vec<Node>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinaryOp {
    Or,
    And,
    Compare(CompareOp),
    Has,
    In,
    Arithmetic(ArithmeticOp),
}

#[derive(Debug, Clone)]
struct Segment {
    name: String,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone)]
struct LambdaSyntax {
    quantifier: Quantifier,
    /// The `any`/`all` keyword's range.
    start: usize,
    end: usize,
    /// The variable and the body; `None` for `any()`.
    body: Option<(Segment, Box<Node>)>,
}

/// A literal as written, typed when it meets what it is compared with.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Null,
    Boolean(bool),
    /// Decimal digits, maybe with sign, fraction and exponent.
    Number(String),
    /// `NaN`, `INF`, `-INF`.
    Special(&'static str),
    String(String),
    Date(String),
    DateTimeOffset(String),
    TimeOfDay(String),
    Guid(String),
    Duration(String),
    Binary(String),
    /// `NS.Type'Member'` (flags: `'A,B'`).
    Enum {
        type_name: String,
        members: String,
    },
}

impl Lit {
    fn describe(&self) -> &'static str {
        match self {
            Lit::Null => "null",
            Lit::Boolean(_) => "a Boolean",
            Lit::Number(text) if is_integer(text) => "an integer",
            Lit::Number(_) | Lit::Special(_) => "a number",
            Lit::String(_) => "a string",
            Lit::Date(_) => "a date",
            Lit::DateTimeOffset(_) => "a date-time",
            Lit::TimeOfDay(_) => "a time of day",
            Lit::Guid(_) => "a GUID",
            Lit::Duration(_) => "a duration",
            Lit::Binary(_) => "a binary value",
            Lit::Enum { .. } => "an enumeration member",
        }
    }
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Recursive descent over the tokens, with the operator precedence of URL 4.01 ("Operator
/// Precedence") as this
/// gateway applies it, loosest first: `or`, `and`, `not`, comparisons (`eq ne gt ge lt le has
/// in`), additive (`add sub`), multiplicative (`mul div divby mod`), unary `-`, primary. `not`
/// binds looser than comparisons (the ABNF's `notExpr = "not" RWS boolCommonExpr`), so `not
/// Price gt 5` is `not (Price gt 5)`. Operator, function and keyword names are case-insensitive
/// (4.01 services accept any case).
struct Parser<'s> {
    src: &'s Source,
    tokens: Vec<Token>,
    at: usize,
}

const END: Token = Token {
    tok: Tok::End,
    start: 0,
    end: 0,
};

impl<'s> Parser<'s> {
    fn new(span: Span<'s>) -> Result<Parser<'s>, UrlError> {
        Ok(Parser {
            src: span.src,
            tokens: lex(span)?,
            at: 0,
        })
    }

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens
            .get(self.at + ahead)
            .or_else(|| self.tokens.last())
            .unwrap_or(&END)
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    /// The keyword at the current token, lowercased, when it is one of `words`.
    fn keyword(&self, words: &[&'static str]) -> Option<&'static str> {
        match &self.peek().tok {
            Tok::Name(name) => words
                .iter()
                .find(|word| name.eq_ignore_ascii_case(word))
                .copied(),
            _ => None,
        }
    }

    fn unexpected(&self, token: &Token, expected: &str) -> UrlError {
        let reason = match &token.tok {
            Tok::Equals => format!("expected {expected}; OData writes `eq` for equality"),
            _ => format!("expected {expected}"),
        };
        self.src
            .error(token.start, token.end, BAD_REQUEST, code::SYNTAX, reason)
    }

    fn expect(&mut self, tok: &Tok, expected: &str) -> Result<Token, UrlError> {
        if self.peek().tok == *tok {
            Ok(self.next())
        } else {
            Err(self.unexpected(self.peek(), expected))
        }
    }

    /// Fails unless all tokens were read.
    fn finish(&self, expected: &str) -> Result<(), UrlError> {
        if self.peek().tok == Tok::End {
            Ok(())
        } else {
            Err(self.unexpected(self.peek(), expected))
        }
    }

    fn expression(&mut self) -> Result<Node, UrlError> {
        self.or()
    }

    fn binary(op: BinaryOp, left: Node, right: Node, token: &Token) -> Node {
        Node {
            start: left.start,
            end: right.end,
            kind: Kind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                at: (token.start, token.end),
            },
        }
    }

    fn or(&mut self) -> Result<Node, UrlError> {
        let mut left = self.and()?;
        while self.keyword(&["or"]).is_some() {
            let token = self.next();
            let right = self.and()?;
            left = Self::binary(BinaryOp::Or, left, right, &token);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, UrlError> {
        let mut left = self.not()?;
        while self.keyword(&["and"]).is_some() {
            let token = self.next();
            let right = self.not()?;
            left = Self::binary(BinaryOp::And, left, right, &token);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Node, UrlError> {
        let followed_by_operand = !matches!(
            self.peek_at(1).tok,
            Tok::Slash | Tok::End | Tok::Close | Tok::Comma
        );
        if self.keyword(&["not"]).is_some() && followed_by_operand {
            let token = self.next();
            let inner = self.not()?;
            return Ok(Node {
                start: token.start,
                end: inner.end,
                kind: Kind::Not(Box::new(inner)),
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, UrlError> {
        let mut left = self.additive()?;
        while let Some(word) = self.keyword(&["eq", "ne", "gt", "ge", "lt", "le", "has", "in"]) {
            let token = self.next();
            let op = match word {
                "eq" => BinaryOp::Compare(CompareOp::Eq),
                "ne" => BinaryOp::Compare(CompareOp::Ne),
                "gt" => BinaryOp::Compare(CompareOp::Gt),
                "ge" => BinaryOp::Compare(CompareOp::Ge),
                "lt" => BinaryOp::Compare(CompareOp::Lt),
                "le" => BinaryOp::Compare(CompareOp::Le),
                "has" => BinaryOp::Has,
                _ => BinaryOp::In,
            };
            let right = if op == BinaryOp::In && self.peek().tok == Tok::Open {
                self.list()?
            } else {
                self.additive()?
            };
            left = Self::binary(op, left, right, &token);
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Node, UrlError> {
        let mut left = self.multiplicative()?;
        while let Some(word) = self.keyword(&["add", "sub"]) {
            let token = self.next();
            let op = if word == "add" {
                ArithmeticOp::Add
            } else {
                ArithmeticOp::Sub
            };
            let right = self.multiplicative()?;
            left = Self::binary(BinaryOp::Arithmetic(op), left, right, &token);
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Node, UrlError> {
        let mut left = self.unary()?;
        while let Some(word) = self.keyword(&["mul", "div", "divby", "mod"]) {
            let token = self.next();
            let op = match word {
                "mul" => ArithmeticOp::Mul,
                "div" => ArithmeticOp::Div,
                "divby" => ArithmeticOp::DivBy,
                _ => ArithmeticOp::Mod,
            };
            let right = self.unary()?;
            left = Self::binary(BinaryOp::Arithmetic(op), left, right, &token);
        }
        Ok(left)
    }

    /// `-` before an operand; written right before a number it is the number's sign (ABNF
    /// `decimalLiteral = [ SIGN ] ...`), else a negation (`negateExpr`).
    fn unary(&mut self) -> Result<Node, UrlError> {
        if self.peek().tok != Tok::Minus {
            return self.primary();
        }
        let minus = self.next();
        let adjacent = self.peek().start == minus.end;
        match self.peek().tok.clone() {
            Tok::Number(text) if adjacent => {
                let token = self.next();
                Ok(Node {
                    kind: Kind::Literal(Lit::Number(format!("-{text}"))),
                    start: minus.start,
                    end: token.end,
                })
            }
            Tok::Name(name) if adjacent && name == "INF" => {
                let token = self.next();
                Ok(Node {
                    kind: Kind::Literal(Lit::Special("-INF")),
                    start: minus.start,
                    end: token.end,
                })
            }
            _ => {
                let inner = self.unary()?;
                Ok(Node {
                    start: minus.start,
                    end: inner.end,
                    kind: Kind::Negate(Box::new(inner)),
                })
            }
        }
    }

    /// `( item, ... )` after `in` (ABNF `listExpr`); one item without comma is a list of one.
    fn list(&mut self) -> Result<Node, UrlError> {
        let open = self.expect(&Tok::Open, "`(`")?;
        let mut items = Vec::new();
        if self.peek().tok != Tok::Close {
            loop {
                items.push(self.expression()?);
                if self.peek().tok == Tok::Comma {
                    self.next();
                    continue;
                }
                break;
            }
        }
        let close = self.expect(&Tok::Close, "`,` or `)`")?;
        Ok(Node {
            kind: Kind::List(items),
            start: open.start,
            end: close.end,
        })
    }

    fn primary(&mut self) -> Result<Node, UrlError> {
        let token = self.next();
        let literal = |lit: Lit| {
            Ok(Node {
                kind: Kind::Literal(lit),
                start: token.start,
                end: token.end,
            })
        };
        match token.tok.clone() {
            Tok::Open => {
                let inner = self.expression()?;
                if self.peek().tok == Tok::Comma {
                    let mut items = vec![inner];
                    while self.peek().tok == Tok::Comma {
                        self.next();
                        items.push(self.expression()?);
                    }
                    let close = self.expect(&Tok::Close, "`,` or `)`")?;
                    return Ok(Node {
                        kind: Kind::List(items),
                        start: token.start,
                        end: close.end,
                    });
                }
                let close = self.expect(&Tok::Close, "`)`")?;
                Ok(Node {
                    start: token.start,
                    end: close.end,
                    ..inner
                })
            }
            Tok::Quoted { prefix: None, text } => literal(Lit::String(text)),
            Tok::Quoted {
                prefix: Some(prefix),
                text,
            } => literal(self.prefixed(&token, &prefix, text)?),
            Tok::Number(text) => literal(Lit::Number(text)),
            Tok::Date(text) => literal(Lit::Date(text)),
            Tok::DateTime(text) => literal(Lit::DateTimeOffset(text)),
            Tok::Time(text) => literal(Lit::TimeOfDay(text)),
            Tok::Guid(text) => literal(Lit::Guid(text)),
            Tok::Alias(name) => {
                if self.peek().tok == Tok::Slash {
                    return Err(self.src.error(
                        token.start,
                        self.peek().end,
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "paths below a parameter alias are not supported",
                    ));
                }
                Ok(Node {
                    kind: Kind::Alias(name),
                    start: token.start,
                    end: token.end,
                })
            }
            Tok::Dollar(name) if name == "it" || name == "this" => self.path(Segment {
                name: format!("${name}"),
                start: token.start,
                end: token.end,
            }),
            Tok::Dollar(_) => Err(self.src.error(
                token.start,
                token.end,
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "not supported in expressions",
            )),
            Tok::Name(name) => {
                let lower = name.to_ascii_lowercase();
                let followed_by_path = matches!(self.peek().tok, Tok::Slash | Tok::Open);
                match lower.as_str() {
                    "null" if !followed_by_path => return literal(Lit::Null),
                    "true" if !followed_by_path => return literal(Lit::Boolean(true)),
                    "false" if !followed_by_path => return literal(Lit::Boolean(false)),
                    _ => {}
                }
                if (name == "NaN" || name == "INF") && !followed_by_path {
                    return literal(Lit::Special(if name == "NaN" { "NaN" } else { "INF" }));
                }
                if self.peek().tok == Tok::Open {
                    return self.call(name, &token);
                }
                self.path(Segment {
                    name,
                    start: token.start,
                    end: token.end,
                })
            }
            _ => Err(self.unexpected(&token, "an operand")),
        }
    }

    /// A literal with a prefix before its quotes (ABNF `durationLiteral`, `binaryLiteral`,
    /// `enumLiteral`); v2 prefixes get a message saying the v4 form.
    fn prefixed(&self, token: &Token, prefix: &str, text: String) -> Result<Lit, UrlError> {
        let fail = |status: u16, code: &'static str, reason: &str| {
            Err(self.src.error(token.start, token.end, status, code, reason))
        };
        match prefix.to_ascii_lowercase().as_str() {
            "duration" => Ok(Lit::Duration(text)),
            "binary" => Ok(Lit::Binary(text)),
            "x" => fail(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                "an OData v2 binary literal; OData v4 writes binary'<base64url>'",
            ),
            "guid" => fail(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                "an OData v2 literal; OData v4 writes GUIDs without quotes",
            ),
            "datetime" | "datetimeoffset" => fail(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                "an OData v2 literal; OData v4 writes 2024-01-31T10:00:00Z without quotes",
            ),
            "time" => fail(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                "an OData v2 literal; OData v4 writes times of day as 10:30:00 and durations as duration'PT10H30M'",
            ),
            "geography" | "geometry" => fail(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "geospatial literals are not supported",
            ),
            _ if prefix.contains('.') => Ok(Lit::Enum {
                type_name: prefix.to_owned(),
                members: text,
            }),
            _ => fail(BAD_REQUEST, code::INVALID_LITERAL, "unknown literal prefix"),
        }
    }

    fn call(&mut self, name: String, token: &Token) -> Result<Node, UrlError> {
        self.expect(&Tok::Open, "`(`")?;
        let mut args = Vec::new();
        if self.peek().tok != Tok::Close {
            loop {
                args.push(self.expression()?);
                if self.peek().tok == Tok::Comma {
                    self.next();
                    continue;
                }
                break;
            }
        }
        let close = self.expect(&Tok::Close, "`,` or `)`")?;
        Ok(Node {
            kind: Kind::Call { name, args },
            start: token.start,
            end: close.end,
        })
    }

    /// A member path from its first segment: `A/B/C`, ending maybe in `any(...)`/`all(...)`
    /// (ABNF `memberExpr`, `collectionPathExpr`, `anyExpr`, `allExpr`).
    fn path(&mut self, first: Segment) -> Result<Node, UrlError> {
        let start = first.start;
        let mut segments = vec![first];
        let mut end = segments[0].end;
        while self.peek().tok == Tok::Slash {
            self.next();
            let token = self.next();
            match token.tok.clone() {
                Tok::Name(name)
                    if self.peek().tok == Tok::Open
                        && (name.eq_ignore_ascii_case("any")
                            || name.eq_ignore_ascii_case("all")) =>
                {
                    let lambda = self.lambda(&name, &token)?;
                    let end = self.tokens[self.at.saturating_sub(1)].end;
                    return Ok(Node {
                        kind: Kind::Path(segments, Some(lambda)),
                        start,
                        end,
                    });
                }
                Tok::Name(_) if self.peek().tok == Tok::Open => {
                    return Err(self.src.error(
                        token.start,
                        self.peek().end,
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "functions and key predicates in paths are not supported",
                    ));
                }
                Tok::Name(name) => {
                    end = token.end;
                    segments.push(Segment {
                        name,
                        start: token.start,
                        end: token.end,
                    });
                }
                Tok::Dollar(_) => {
                    return Err(self.src.error(
                        token.start,
                        token.end,
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "$count, $filter and other path segments in expressions are not supported",
                    ));
                }
                _ => return Err(self.unexpected(&token, "a property name after `/`")),
            }
        }
        if self.peek().tok == Tok::Open {
            let open = self.peek().clone();
            return Err(self.src.error(
                start,
                open.end,
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "key predicates in expressions are not supported",
            ));
        }
        Ok(Node {
            kind: Kind::Path(segments, None),
            start,
            end,
        })
    }

    /// `any(x: body)`, `any()` or `all(x: body)` after the collection path.
    fn lambda(&mut self, name: &str, token: &Token) -> Result<LambdaSyntax, UrlError> {
        let quantifier = if name.eq_ignore_ascii_case("any") {
            Quantifier::Any
        } else {
            Quantifier::All
        };
        self.expect(&Tok::Open, "`(`")?;
        if self.peek().tok == Tok::Close && quantifier == Quantifier::Any {
            self.next();
            return Ok(LambdaSyntax {
                quantifier,
                start: token.start,
                end: token.end,
                body: None,
            });
        }
        let variable = self.next();
        let Tok::Name(variable_name) = variable.tok.clone() else {
            return Err(self.unexpected(&variable, "a lambda variable name"));
        };
        self.expect(&Tok::Colon, "`:` after the lambda variable")?;
        let body = self.expression()?;
        self.expect(&Tok::Close, "`)` closing the lambda")?;
        Ok(LambdaSyntax {
            quantifier,
            start: token.start,
            end: token.end,
            body: Some((
                Segment {
                    name: variable_name,
                    start: variable.start,
                    end: variable.end,
                },
                Box::new(body),
            )),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Binding expressions to the graph
// ---------------------------------------------------------------------------------------------

/// The type of a bound operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Scalar(EdmType),
    Enum(EnumId),
    Complex,
    /// A to-one navigation: an entity or null.
    Entity,
}

impl Ty {
    fn describe(self, graph: &Graph) -> String {
        match self {
            Ty::Scalar(ty) => ty.name().to_owned(),
            Ty::Enum(id) => graph.enums[id].name.clone(),
            Ty::Complex => "a complex value".to_owned(),
            Ty::Entity => "an entity".to_owned(),
        }
    }

    fn kind(self) -> FieldKind {
        match self {
            Ty::Scalar(ty) => FieldKind::Scalar(ty),
            Ty::Enum(id) => FieldKind::Enum(id),
            Ty::Complex | Ty::Entity => FieldKind::Scalar(EdmType::Untyped),
        }
    }
}

/// A bound expression.
#[derive(Debug, Clone)]
enum Bound {
    /// A Boolean condition built from operators (comparisons, `and`, lambdas, ...).
    Condition(Filter),
    /// A typed operand.
    Typed(Operand, Ty),
    /// A literal waiting for the type of what it meets.
    Literal(Lit, Loc),
    Null,
    /// `(a, b)`: only after `in`.
    List(Vec<Bound>),
}

/// One level of scope: the entity filtered, then one per enclosing lambda.
#[derive(Debug, Clone)]
struct LambdaScope {
    entity: EntityId,
    /// The lambda variable; `None` for the entity filtered.
    variable: Option<String>,
    /// The level that names without a variable or `$it` refer to inside this lambda: where the
    /// lambda's path starts (URL 4.01, "Lambda Operators", as clarified by OASIS issue ODATA-1265).
    origin: usize,
}

struct Binder<'a> {
    graph: &'a Graph,
    aliases: &'a Aliases,
    scopes: Vec<LambdaScope>,
    /// Inside `$expand(...)`: `$it` is the outer resource there.
    nested: bool,
    in_alias: bool,
}

/// The [`Scope`] of level `level` seen from depth `depth`.
fn to_scope(level: usize, depth: usize) -> Scope {
    if level == depth {
        Scope::Current
    } else if level == 0 {
        Scope::Root
    } else {
        Scope::Outer(depth - level)
    }
}

fn is_numeric(ty: EdmType) -> bool {
    matches!(
        ty,
        EdmType::Byte
            | EdmType::SByte
            | EdmType::Int16
            | EdmType::Int32
            | EdmType::Int64
            | EdmType::Decimal
            | EdmType::Single
            | EdmType::Double
    )
}

fn is_integral(ty: EdmType) -> bool {
    matches!(
        ty,
        EdmType::Byte | EdmType::SByte | EdmType::Int16 | EdmType::Int32 | EdmType::Int64
    )
}

/// The common type of two numbers (URL 4.01, "Arithmetic Operators": numeric promotion).
fn promote(left: EdmType, right: EdmType) -> EdmType {
    let either = |ty: EdmType| left == ty || right == ty;
    if either(EdmType::Double) || either(EdmType::Single) {
        EdmType::Double
    } else if either(EdmType::Decimal) {
        EdmType::Decimal
    } else if either(EdmType::Int64) {
        EdmType::Int64
    } else {
        EdmType::Int32
    }
}

/// Types that compare with each other.
fn family(ty: EdmType) -> u8 {
    match ty {
        _ if is_numeric(ty) => 1,
        EdmType::String => 2,
        EdmType::Boolean => 3,
        EdmType::Date => 4,
        EdmType::DateTime | EdmType::DateTimeOffset => 5,
        EdmType::TimeOfDay | EdmType::Time => 6,
        EdmType::Duration => 7,
        EdmType::Guid => 8,
        EdmType::Binary => 9,
        _ => 0,
    }
}

/// The result type of arithmetic (URL 4.01, "Arithmetic Operators").
fn arithmetic_type(op: ArithmeticOp, left: EdmType, right: EdmType) -> Option<EdmType> {
    let point = |ty: EdmType| {
        matches!(
            ty,
            EdmType::Date | EdmType::DateTime | EdmType::DateTimeOffset
        )
    };
    match op {
        _ if is_numeric(left) && is_numeric(right) => Some(match op {
            ArithmeticOp::DivBy if promote(left, right) != EdmType::Double => EdmType::Decimal,
            _ => promote(left, right),
        }),
        ArithmeticOp::Add if point(left) && right == EdmType::Duration => Some(left),
        ArithmeticOp::Add if left == EdmType::Duration && point(right) => Some(right),
        ArithmeticOp::Sub if point(left) && right == EdmType::Duration => Some(left),
        ArithmeticOp::Sub if point(left) && point(right) && family(left) == family(right) => {
            Some(EdmType::Duration)
        }
        ArithmeticOp::Add | ArithmeticOp::Sub
            if left == EdmType::Duration && right == EdmType::Duration =>
        {
            Some(EdmType::Duration)
        }
        _ => None,
    }
}

/// The argument kinds of built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Text,
    Integer,
    DateLike,
    TimeLike,
    Number,
}

impl Param {
    fn fits(self, ty: EdmType) -> bool {
        match self {
            Param::Text => ty == EdmType::String,
            Param::Integer => is_integral(ty),
            Param::DateLike => matches!(
                ty,
                EdmType::Date | EdmType::DateTime | EdmType::DateTimeOffset
            ),
            Param::TimeLike => matches!(
                ty,
                EdmType::TimeOfDay | EdmType::Time | EdmType::DateTime | EdmType::DateTimeOffset
            ),
            Param::Number => is_numeric(ty),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Param::Text => "a string",
            Param::Integer => "an integer",
            Param::DateLike => "a date or date-time",
            Param::TimeLike => "a time of day or date-time",
            Param::Number => "a number",
        }
    }
}

/// What a built-in function returns.
#[derive(Debug, Clone, Copy)]
enum Returns {
    Fixed(EdmType),
    FirstArgument,
}

/// Functions of the ABNF's `methodCallExpr` this gateway does not translate.
const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "matchespattern",
    "fractionalseconds",
    "totalseconds",
    "date",
    "time",
    "totaloffsetminutes",
    "mindatetime",
    "maxdatetime",
    "cast",
    "isof",
    "case",
    "hassubset",
    "hassubsequence",
    "geo.distance",
    "geo.length",
    "geo.intersects",
];

impl Binder<'_> {
    fn condition(&mut self, src: &Source, node: &Node) -> Result<Filter, UrlError> {
        let loc = src.loc(node.start, node.end);
        let bound = self.bind(src, node)?;
        self.to_condition(bound, &loc)
    }

    fn to_condition(&self, bound: Bound, loc: &Loc) -> Result<Filter, UrlError> {
        match bound {
            Bound::Condition(filter) => Ok(filter),
            Bound::Typed(operand, Ty::Scalar(EdmType::Boolean)) => Ok(boolean_filter(operand)),
            Bound::Literal(Lit::Boolean(flag), _) => Ok(Filter::Holds(Operand::Value {
                kind: FieldKind::Scalar(EdmType::Boolean),
                value: Value::Bool(flag),
            })),
            Bound::Typed(_, ty) => Err(loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                format!("{} is not a Boolean condition", ty.describe(self.graph)),
            )),
            Bound::Literal(lit, _) => Err(loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                format!("{} is not a Boolean condition", lit.describe()),
            )),
            Bound::Null => Err(loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                "null is not a Boolean condition",
            )),
            Bound::List(_) => Err(loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                "a list is only allowed after `in`",
            )),
        }
    }

    fn bind(&mut self, src: &Source, node: &Node) -> Result<Bound, UrlError> {
        let loc = || src.loc(node.start, node.end);
        match &node.kind {
            Kind::Binary {
                op,
                left,
                right,
                at,
            } => {
                let op_loc = src.loc(at.0, at.1);
                match op {
                    BinaryOp::Or | BinaryOp::And => {
                        let left = self.condition(src, left)?;
                        let right = self.condition(src, right)?;
                        Ok(Bound::Condition(join(*op == BinaryOp::And, left, right)))
                    }
                    BinaryOp::Compare(compare) => {
                        let left = self.bind(src, left)?;
                        let right = self.bind(src, right)?;
                        self.compare(*compare, left, right, &op_loc)
                    }
                    BinaryOp::Has => self.has(src, left, right, &op_loc),
                    BinaryOp::In => self.within(src, left, right, &op_loc),
                    BinaryOp::Arithmetic(arithmetic) => {
                        self.arithmetic(src, *arithmetic, left, right, &op_loc)
                    }
                }
            }
            Kind::Not(inner) => Ok(Bound::Condition(Filter::Not(Box::new(
                self.condition(src, inner)?,
            )))),
            Kind::Negate(inner) => self.negate(src, inner, &loc()),
            Kind::List(items) => Ok(Bound::List(
                items
                    .iter()
                    .map(|item| self.bind(src, item))
                    .collect::<Result<_, _>>()?,
            )),
            Kind::Literal(Lit::Null) => Ok(Bound::Null),
            Kind::Literal(lit) => Ok(Bound::Literal(lit.clone(), loc())),
            Kind::Alias(name) => self.alias(name, &loc()),
            Kind::Path(segments, lambda) => self.path(src, segments, lambda.as_ref()),
            Kind::Call { name, args } => self.call(src, name, args, node),
        }
    }

    /// A parameter alias's value, parsed in its own source. An alias given no value is null
    /// (URL 4.01, "Parameter Aliases").
    fn alias(&mut self, name: &str, loc: &Loc) -> Result<Bound, UrlError> {
        let aliases = self.aliases;
        let Some(alias) = aliases.get(name) else {
            return Ok(Bound::Null);
        };
        if self.in_alias {
            return Err(loc.error(
                BAD_REQUEST,
                code::SYNTAX,
                "an alias value cannot refer to another alias",
            ));
        }
        let span = alias.all().trim();
        if span.text().starts_with('[') {
            return json_list(alias);
        }
        if span.is_empty() {
            return Err(alias.error(
                0,
                0,
                BAD_REQUEST,
                code::SYNTAX,
                "the parameter alias has no value",
            ));
        }
        let mut parser = Parser::new(alias.all())?;
        let node = parser.expression()?;
        parser.finish("the end of the alias value")?;
        self.in_alias = true;
        let bound = self.bind(alias, &node);
        self.in_alias = false;
        bound
    }

    /// A member path: properties through to-one navigations, a to-one navigation, or a lambda
    /// over a to-many navigation.
    fn path(
        &mut self,
        src: &Source,
        segments: &[Segment],
        lambda: Option<&LambdaSyntax>,
    ) -> Result<Bound, UrlError> {
        let depth = self.scopes.len() - 1;
        let Some(first) = segments.first() else {
            return Ok(Bound::Null);
        };
        let (level, rest) = if first.name == "$it" {
            if self.nested {
                return Err(src.error(
                    first.start,
                    first.end,
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "inside $expand, $it is the outer resource, which a filter on the expanded entities cannot reach",
                ));
            }
            (0, &segments[1..])
        } else if first.name == "$this" {
            (0, &segments[1..])
        } else if let Some(level) = self
            .scopes
            .iter()
            .rposition(|scope| scope.variable.as_deref() == Some(first.name.as_str()))
        {
            (level, &segments[1..])
        } else {
            (self.scopes[depth].origin, segments)
        };
        let scope = to_scope(level, depth);
        let mut entity_id = self.scopes[level].entity;
        let mut path = Vec::new();
        for (position, segment) in rest.iter().enumerate() {
            let last = position + 1 == rest.len();
            let entity = &self.graph.entities[entity_id];
            let loc = src.loc(segment.start, segment.end);
            if let Some((index, field)) = entity.field(&segment.name) {
                if !last {
                    return Err(if matches!(field.kind, FieldKind::Complex(_)) {
                        loc.error(
                            NOT_IMPLEMENTED,
                            code::NOT_IMPLEMENTED,
                            "paths into complex properties are not supported",
                        )
                    } else {
                        loc.error(
                            BAD_REQUEST,
                            code::SYNTAX,
                            "a primitive property; no path segment can follow it",
                        )
                    });
                }
                if field.collection {
                    return Err(loc.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "collection-valued properties are not supported in $filter",
                    ));
                }
                if let Some(lambda) = lambda {
                    return Err(src.error(
                        lambda.start,
                        lambda.end,
                        BAD_REQUEST,
                        code::TYPE_MISMATCH,
                        format!(
                            "any and all apply to collections; {} is a single value",
                            field.name
                        ),
                    ));
                }
                if !field.filterable {
                    return Err(loc.error(
                        BAD_REQUEST,
                        code::NOT_ALLOWED,
                        format!("{} cannot be filtered by {}", entity.set_name, field.name),
                    ));
                }
                let ty = match field.kind {
                    FieldKind::Scalar(ty) => Ty::Scalar(ty),
                    FieldKind::Enum(id) => Ty::Enum(id),
                    FieldKind::Complex(_) => Ty::Complex,
                };
                return Ok(Bound::Typed(
                    Operand::Property {
                        scope,
                        path,
                        field: index,
                    },
                    ty,
                ));
            }
            let Some((index, relation)) = entity
                .relations
                .iter()
                .enumerate()
                .find(|(_, relation)| relation.name == segment.name)
            else {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::UNKNOWN_PROPERTY,
                    format!("not a property of {}", entity.set_name),
                ));
            };
            if matches!(relation.kind, RelationKind::Join { .. }) {
                return Err(loc.error(
                    NOT_IMPLEMENTED,
                    code::NOT_IMPLEMENTED,
                    "this association joins another data source; filters cannot follow it",
                ));
            }
            if relation.many {
                let Some(lambda) = lambda.filter(|_| last) else {
                    return Err(loc.error(
                        BAD_REQUEST,
                        code::TYPE_MISMATCH,
                        "a collection; filter it with any or all",
                    ));
                };
                return self.lambda(src, level, scope, path, index, relation.target, lambda);
            }
            path.push(index);
            entity_id = relation.target;
            if last {
                if let Some(lambda) = lambda {
                    return Err(src.error(
                        lambda.start,
                        lambda.end,
                        BAD_REQUEST,
                        code::TYPE_MISMATCH,
                        format!(
                            "any and all apply to collections; {} is a single entity",
                            relation.name
                        ),
                    ));
                }
                return Ok(Bound::Typed(
                    Operand::Navigation { scope, path },
                    Ty::Entity,
                ));
            }
        }
        Err(src.error(
            first.start,
            first.end,
            NOT_IMPLEMENTED,
            code::NOT_IMPLEMENTED,
            "comparing whole entities is not supported; compare their properties",
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn lambda(
        &mut self,
        src: &Source,
        level: usize,
        scope: Scope,
        path: Vec<usize>,
        relation: usize,
        target: EntityId,
        syntax: &LambdaSyntax,
    ) -> Result<Bound, UrlError> {
        let condition = match &syntax.body {
            None => None,
            Some((variable, body)) => {
                self.scopes.push(LambdaScope {
                    entity: target,
                    variable: Some(variable.name.clone()),
                    origin: level,
                });
                let condition = self.condition(src, body);
                self.scopes.pop();
                Some(Box::new(condition?))
            }
        };
        Ok(Bound::Condition(Filter::Lambda {
            scope,
            path,
            relation,
            quantifier: syntax.quantifier,
            condition,
        }))
    }

    /// A comparison; the literal side takes the type of the other side.
    fn compare(
        &mut self,
        op: CompareOp,
        left: Bound,
        right: Bound,
        op_loc: &Loc,
    ) -> Result<Bound, UrlError> {
        let graph = self.graph;
        match (left, right) {
            (Bound::Condition(condition), Bound::Literal(Lit::Boolean(flag), _))
            | (Bound::Literal(Lit::Boolean(flag), _), Bound::Condition(condition))
                if matches!(op, CompareOp::Eq | CompareOp::Ne) =>
            {
                let keep = (op == CompareOp::Eq) == flag;
                Ok(Bound::Condition(if keep {
                    condition
                } else {
                    Filter::Not(Box::new(condition))
                }))
            }
            (Bound::Condition(_), _) | (_, Bound::Condition(_)) => Err(op_loc.error(
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "comparing the result of a condition is not supported",
            )),
            (Bound::List(_), _) | (_, Bound::List(_)) => Err(op_loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                "a list is only allowed after `in`",
            )),
            (left @ (Bound::Literal(..) | Bound::Null), right @ Bound::Typed(..)) => {
                self.compare(op.flipped(), right, left, op_loc)
            }
            (Bound::Typed(operand, ty), other) => {
                check_comparable(ty, op, &other, op_loc)?;
                let right = match other {
                    Bound::Literal(lit, loc) => {
                        let value = coerce(graph, &lit, ty, &loc)?;
                        if let Operand::Property {
                            scope: Scope::Current,
                            path,
                            field,
                        } = operand
                        {
                            return Ok(Bound::Condition(Filter::Compare {
                                path,
                                field,
                                op,
                                value,
                            }));
                        }
                        Operand::Value {
                            kind: ty.kind(),
                            value,
                        }
                    }
                    Bound::Null => {
                        if let Operand::Property {
                            scope: Scope::Current,
                            path,
                            field,
                        } = operand
                        {
                            return Ok(Bound::Condition(Filter::Compare {
                                path,
                                field,
                                op,
                                value: Value::Null,
                            }));
                        }
                        Operand::Null
                    }
                    Bound::Typed(other, other_ty) => {
                        if !compatible(ty, other_ty) {
                            return Err(op_loc.error(
                                BAD_REQUEST,
                                code::TYPE_MISMATCH,
                                format!(
                                    "cannot compare {} with {}",
                                    ty.describe(graph),
                                    other_ty.describe(graph)
                                ),
                            ));
                        }
                        other
                    }
                    Bound::Condition(_) | Bound::List(_) => Operand::Null,
                };
                Ok(Bound::Condition(Filter::Comparison {
                    left: operand,
                    op,
                    right,
                }))
            }
            (Bound::Literal(lit, loc), other) => {
                let ty = default_type(graph, &lit, &loc)?;
                let value = coerce(graph, &lit, ty, &loc)?;
                let left = Operand::Value {
                    kind: ty.kind(),
                    value,
                };
                let right = match other {
                    Bound::Literal(lit, loc) => Operand::Value {
                        kind: ty.kind(),
                        value: coerce(graph, &lit, ty, &loc)?,
                    },
                    _ => Operand::Null,
                };
                Ok(Bound::Condition(Filter::Comparison { left, op, right }))
            }
            (Bound::Null, other) => {
                let right = match other {
                    Bound::Literal(lit, loc) => {
                        let ty = default_type(graph, &lit, &loc)?;
                        Operand::Value {
                            kind: ty.kind(),
                            value: coerce(graph, &lit, ty, &loc)?,
                        }
                    }
                    _ => Operand::Null,
                };
                Ok(Bound::Condition(Filter::Comparison {
                    left: Operand::Null,
                    op,
                    right,
                }))
            }
        }
    }

    /// `operand has Type'Flag'` (URL 4.01, "Has Operator").
    fn has(
        &mut self,
        src: &Source,
        left: &Node,
        right: &Node,
        op_loc: &Loc,
    ) -> Result<Bound, UrlError> {
        let Bound::Typed(operand, Ty::Enum(id)) = self.bind(src, left)? else {
            return Err(op_loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                "`has` needs an enumeration value on its left",
            ));
        };
        let Bound::Literal(lit, loc) = self.bind(src, right)? else {
            return Err(src.error(
                right.start,
                right.end,
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                "`has` needs an enumeration literal on its right",
            ));
        };
        let value = coerce(self.graph, &lit, Ty::Enum(id), &loc)?;
        Ok(Bound::Condition(Filter::Has {
            operand,
            flags: Operand::Value {
                kind: FieldKind::Enum(id),
                value,
            },
        }))
    }

    /// `operand in (a, b)` (URL 4.01, "In Operator"); the list may come from an alias.
    fn within(
        &mut self,
        src: &Source,
        left: &Node,
        right: &Node,
        op_loc: &Loc,
    ) -> Result<Bound, UrlError> {
        let graph = self.graph;
        let (operand, ty) = match self.bind(src, left)? {
            Bound::Typed(_, ty @ (Ty::Complex | Ty::Entity)) => {
                return Err(op_loc.error(
                    BAD_REQUEST,
                    code::TYPE_MISMATCH,
                    format!("`in` does not apply to {}", ty.describe(graph)),
                ));
            }
            Bound::Typed(operand, ty) => (operand, ty),
            Bound::Literal(lit, loc) => {
                let ty = default_type(graph, &lit, &loc)?;
                let value = coerce(graph, &lit, ty, &loc)?;
                (
                    Operand::Value {
                        kind: ty.kind(),
                        value,
                    },
                    ty,
                )
            }
            _ => {
                return Err(op_loc.error(
                    BAD_REQUEST,
                    code::TYPE_MISMATCH,
                    "`in` needs a value on its left",
                ));
            }
        };
        let Bound::List(items) = self.bind(src, right)? else {
            return Err(src.error(
                right.start,
                right.end,
                NOT_IMPLEMENTED,
                code::NOT_IMPLEMENTED,
                "`in` takes a list in parentheses, such as ('a','b')",
            ));
        };
        let mut json: Option<Vec<Value>> = Some(Vec::new());
        let mut operands = Vec::new();
        for item in items {
            match item {
                Bound::Literal(lit, loc) => {
                    let value = coerce(graph, &lit, ty, &loc)?;
                    if let Some(json) = &mut json {
                        json.push(value.clone());
                    }
                    operands.push(Operand::Value {
                        kind: ty.kind(),
                        value,
                    });
                }
                Bound::Null => {
                    if let Some(json) = &mut json {
                        json.push(Value::Null);
                    }
                    operands.push(Operand::Null);
                }
                Bound::Typed(other, other_ty) if compatible(ty, other_ty) => {
                    json = None;
                    operands.push(other);
                }
                _ => {
                    return Err(src.error(
                        right.start,
                        right.end,
                        BAD_REQUEST,
                        code::TYPE_MISMATCH,
                        format!("every item must be {}", ty.describe(graph)),
                    ));
                }
            }
        }
        Ok(Bound::Condition(match (operand, json) {
            (
                Operand::Property {
                    scope: Scope::Current,
                    path,
                    field,
                },
                Some(values),
            ) => Filter::In {
                path,
                field,
                values,
            },
            (operand, _) => Filter::OneOf {
                operand,
                values: operands,
            },
        }))
    }

    fn arithmetic(
        &mut self,
        src: &Source,
        op: ArithmeticOp,
        left: &Node,
        right: &Node,
        op_loc: &Loc,
    ) -> Result<Bound, UrlError> {
        let graph = self.graph;
        let left = self.bind(src, left)?;
        let right = self.bind(src, right)?;
        let scalar_of = |bound: &Bound| match bound {
            Bound::Typed(_, Ty::Scalar(ty)) => Some(*ty),
            _ => None,
        };
        let (left_hint, right_hint) = (scalar_of(&right), scalar_of(&left));
        let operand = |bound: Bound,
                       beside: Option<EdmType>|
         -> Result<(Operand, EdmType), UrlError> {
            match bound {
                Bound::Typed(operand, Ty::Scalar(ty)) => Ok((operand, ty)),
                Bound::Literal(lit, loc) => {
                    let ty = match (default_type(graph, &lit, &loc)?, beside) {
                        (Ty::Scalar(own), Some(other)) if is_numeric(own) && is_numeric(other) => {
                            promote(own, other)
                        }
                        (Ty::Scalar(own), _) => own,
                        (other, _) => {
                            return Err(loc.error(
                                BAD_REQUEST,
                                code::TYPE_MISMATCH,
                                format!("arithmetic does not apply to {}", other.describe(graph)),
                            ));
                        }
                    };
                    let value = coerce(graph, &lit, Ty::Scalar(ty), &loc)?;
                    Ok((
                        Operand::Value {
                            kind: FieldKind::Scalar(ty),
                            value,
                        },
                        ty,
                    ))
                }
                Bound::Typed(_, ty) => Err(op_loc.error(
                    BAD_REQUEST,
                    code::TYPE_MISMATCH,
                    format!("`{}` does not apply to {}", op.as_str(), ty.describe(graph)),
                )),
                _ => Err(op_loc.error(
                    BAD_REQUEST,
                    code::TYPE_MISMATCH,
                    format!("`{}` needs two values", op.as_str()),
                )),
            }
        };
        let (left, left_ty) = operand(left, left_hint)?;
        let (right, right_ty) = operand(right, right_hint)?;
        let Some(result) = arithmetic_type(op, left_ty, right_ty) else {
            return Err(op_loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                format!(
                    "`{}` does not apply to {} and {}",
                    op.as_str(),
                    left_ty.name(),
                    right_ty.name()
                ),
            ));
        };
        Ok(Bound::Typed(
            Operand::Arithmetic {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            Ty::Scalar(result),
        ))
    }

    fn negate(&mut self, src: &Source, inner: &Node, loc: &Loc) -> Result<Bound, UrlError> {
        match self.bind(src, inner)? {
            Bound::Literal(Lit::Number(text), inner_loc) => {
                let negated = match text.strip_prefix('-') {
                    Some(positive) => positive.to_owned(),
                    None => format!("-{}", text.trim_start_matches('+')),
                };
                Ok(Bound::Literal(Lit::Number(negated), inner_loc))
            }
            Bound::Literal(Lit::Special("INF"), inner_loc) => {
                Ok(Bound::Literal(Lit::Special("-INF"), inner_loc))
            }
            Bound::Typed(operand, Ty::Scalar(ty)) if is_numeric(ty) || ty == EdmType::Duration => {
                Ok(Bound::Typed(
                    Operand::Negate(Box::new(operand)),
                    Ty::Scalar(ty),
                ))
            }
            _ => Err(loc.error(
                BAD_REQUEST,
                code::TYPE_MISMATCH,
                "`-` applies to numbers and durations",
            )),
        }
    }

    /// A built-in function (URL 4.01, "String and Collection Functions" to "Arithmetic
    /// Functions").
    fn call(
        &mut self,
        src: &Source,
        name: &str,
        args: &[Node],
        node: &Node,
    ) -> Result<Bound, UrlError> {
        let loc = src.loc(node.start, node.start + name.chars().count());
        let lower = name.to_ascii_lowercase();
        use Param::{DateLike, Integer, Number, Text, TimeLike};
        let (function, params, required, returns): (Function, &[Param], usize, Returns) =
            match lower.as_str() {
                "contains" => (
                    Function::Contains,
                    &[Text, Text],
                    2,
                    Returns::Fixed(EdmType::Boolean),
                ),
                "startswith" => (
                    Function::StartsWith,
                    &[Text, Text],
                    2,
                    Returns::Fixed(EdmType::Boolean),
                ),
                "endswith" => (
                    Function::EndsWith,
                    &[Text, Text],
                    2,
                    Returns::Fixed(EdmType::Boolean),
                ),
                "length" => (Function::Length, &[Text], 1, Returns::Fixed(EdmType::Int32)),
                "indexof" => (
                    Function::IndexOf,
                    &[Text, Text],
                    2,
                    Returns::Fixed(EdmType::Int32),
                ),
                "substring" => (
                    Function::Substring,
                    &[Text, Integer, Integer],
                    2,
                    Returns::Fixed(EdmType::String),
                ),
                "tolower" => (
                    Function::ToLower,
                    &[Text],
                    1,
                    Returns::Fixed(EdmType::String),
                ),
                "toupper" => (
                    Function::ToUpper,
                    &[Text],
                    1,
                    Returns::Fixed(EdmType::String),
                ),
                "trim" => (Function::Trim, &[Text], 1, Returns::Fixed(EdmType::String)),
                "concat" => (
                    Function::Concat,
                    &[Text, Text],
                    2,
                    Returns::Fixed(EdmType::String),
                ),
                "year" => (
                    Function::Year,
                    &[DateLike],
                    1,
                    Returns::Fixed(EdmType::Int32),
                ),
                "month" => (
                    Function::Month,
                    &[DateLike],
                    1,
                    Returns::Fixed(EdmType::Int32),
                ),
                "day" => (
                    Function::Day,
                    &[DateLike],
                    1,
                    Returns::Fixed(EdmType::Int32),
                ),
                "hour" => (
                    Function::Hour,
                    &[TimeLike],
                    1,
                    Returns::Fixed(EdmType::Int32),
                ),
                "minute" => (
                    Function::Minute,
                    &[TimeLike],
                    1,
                    Returns::Fixed(EdmType::Int32),
                ),
                "second" => (
                    Function::Second,
                    &[TimeLike],
                    1,
                    Returns::Fixed(EdmType::Int32),
                ),
                "now" => (
                    Function::Now,
                    &[],
                    0,
                    Returns::Fixed(EdmType::DateTimeOffset),
                ),
                "round" => (Function::Round, &[Number], 1, Returns::FirstArgument),
                "floor" => (Function::Floor, &[Number], 1, Returns::FirstArgument),
                "ceiling" => (Function::Ceiling, &[Number], 1, Returns::FirstArgument),
                other if UNSUPPORTED_FUNCTIONS.contains(&other) => {
                    return Err(loc.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "this function is not supported",
                    ));
                }
                other if other.contains('.') => {
                    return Err(loc.error(
                        NOT_IMPLEMENTED,
                        code::NOT_IMPLEMENTED,
                        "functions of the service are not supported in expressions",
                    ));
                }
                _ => {
                    return Err(loc.error(
                        BAD_REQUEST,
                        code::UNKNOWN_FUNCTION,
                        "not an OData function",
                    ));
                }
            };
        if args.len() < required || args.len() > params.len() {
            let count = if required == params.len() {
                required.to_string()
            } else {
                format!("{required} or {}", params.len())
            };
            let plural = if params.len() == 1 { "" } else { "s" };
            return Err(loc.error(
                BAD_REQUEST,
                code::SYNTAX,
                format!(
                    "{} takes {count} argument{plural}, not {}",
                    function.as_str(),
                    args.len()
                ),
            ));
        }
        let mut bound_args = Vec::new();
        let mut first_type = None;
        for (arg, param) in args.iter().zip(params) {
            let arg_loc = src.loc(arg.start, arg.end);
            let (operand, ty) = match self.bind(src, arg)? {
                Bound::Typed(operand, Ty::Scalar(ty)) if param.fits(ty) => (operand, Some(ty)),
                Bound::Typed(_, ty) => {
                    return Err(arg_loc.error(
                        BAD_REQUEST,
                        code::TYPE_MISMATCH,
                        format!(
                            "{} expects {} here, not {}",
                            function.as_str(),
                            param.describe(),
                            ty.describe(self.graph)
                        ),
                    ));
                }
                Bound::Literal(lit, lit_loc) => {
                    let ty = match default_type(self.graph, &lit, &lit_loc)? {
                        Ty::Scalar(ty) if param.fits(ty) => ty,
                        _ => {
                            return Err(lit_loc.error(
                                BAD_REQUEST,
                                code::INVALID_LITERAL,
                                format!(
                                    "{} expects {} here, not {}",
                                    function.as_str(),
                                    param.describe(),
                                    lit.describe()
                                ),
                            ));
                        }
                    };
                    let value = coerce(self.graph, &lit, Ty::Scalar(ty), &lit_loc)?;
                    (
                        Operand::Value {
                            kind: FieldKind::Scalar(ty),
                            value,
                        },
                        Some(ty),
                    )
                }
                Bound::Null => (Operand::Null, None),
                Bound::Condition(_) | Bound::List(_) => {
                    return Err(arg_loc.error(
                        BAD_REQUEST,
                        code::TYPE_MISMATCH,
                        format!("{} expects {} here", function.as_str(), param.describe()),
                    ));
                }
            };
            if first_type.is_none() {
                first_type = ty;
            }
            bound_args.push(operand);
        }
        let result = match returns {
            Returns::Fixed(ty) => ty,
            Returns::FirstArgument => first_type.unwrap_or(EdmType::Decimal),
        };
        Ok(Bound::Typed(
            Operand::Call {
                function,
                args: bound_args,
            },
            Ty::Scalar(result),
        ))
    }
}

/// A Boolean operand as a condition; `contains(Field,'text')` and its kin on a plain field
/// become [`Filter::Text`], the shape the GraphQL front end produces too.
fn boolean_filter(operand: Operand) -> Filter {
    if let Operand::Call { function, args } = &operand {
        let op = match function {
            Function::Contains => Some(TextOp::Contains),
            Function::StartsWith => Some(TextOp::StartsWith),
            Function::EndsWith => Some(TextOp::EndsWith),
            _ => None,
        };
        if let (
            Some(op),
            [
                Operand::Property {
                    scope: Scope::Current,
                    path,
                    field,
                },
                Operand::Value {
                    kind: FieldKind::Scalar(EdmType::String),
                    value: Value::String(text),
                },
            ],
        ) = (op, args.as_slice())
        {
            return Filter::Text {
                path: path.clone(),
                field: *field,
                op,
                value: text.clone(),
            };
        }
    }
    Filter::Holds(operand)
}

fn compatible(left: Ty, right: Ty) -> bool {
    match (left, right) {
        (Ty::Scalar(left), Ty::Scalar(right)) => family(left) != 0 && family(left) == family(right),
        (Ty::Enum(left), Ty::Enum(right)) => left == right,
        _ => false,
    }
}

/// Fails when `ty` cannot be compared with `op` against `other`.
fn check_comparable(ty: Ty, op: CompareOp, other: &Bound, op_loc: &Loc) -> Result<(), UrlError> {
    let ordering = !matches!(op, CompareOp::Eq | CompareOp::Ne);
    let reason = match ty {
        Ty::Complex => Some("complex values cannot be compared".to_owned()),
        Ty::Entity if ordering || !matches!(other, Bound::Null) => {
            Some("a navigation property can only be compared with null, using eq or ne".to_owned())
        }
        Ty::Scalar(edm) if !edm.is_comparable() => {
            Some(format!("values of {} cannot be compared", edm.name()))
        }
        Ty::Scalar(edm) if ordering && !edm.is_ordered() => Some(format!(
            "`{}` does not apply to {}",
            op.as_str(),
            edm.name()
        )),
        _ => None,
    };
    match reason {
        Some(reason) => Err(op_loc.error(BAD_REQUEST, code::TYPE_MISMATCH, reason)),
        None => Ok(()),
    }
}

/// A JSON array given as an alias value (ABNF `arrayOrObject`), for `in @list`.
fn json_list(alias: &Source) -> Result<Bound, UrlError> {
    let text = alias.all().text();
    let loc = alias.loc(0, alias.chars.len());
    let values: Vec<Value> = serde_json::from_str(&text).map_err(|error| {
        loc.error(
            BAD_REQUEST,
            code::SYNTAX,
            format!("not a JSON array: {error}"),
        )
    })?;
    let items = values
        .into_iter()
        .map(|value| match value {
            Value::Null => Ok(Bound::Null),
            Value::Bool(flag) => Ok(Bound::Literal(Lit::Boolean(flag), loc.clone())),
            Value::Number(number) => {
                Ok(Bound::Literal(Lit::Number(number.to_string()), loc.clone()))
            }
            Value::String(text) => Ok(Bound::Literal(Lit::String(text), loc.clone())),
            _ => Err(loc.error(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                "list items must be strings, numbers, Booleans or null",
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Bound::List(items))
}

// ---------------------------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------------------------

/// The type a literal has on its own (ABNF 7): integers are Edm.Int32 when they fit, else
/// Edm.Int64, else Edm.Decimal; a fraction makes Edm.Decimal, an exponent Edm.Double.
fn default_type(graph: &Graph, lit: &Lit, loc: &Loc) -> Result<Ty, UrlError> {
    Ok(Ty::Scalar(match lit {
        Lit::Null => EdmType::Untyped,
        Lit::Boolean(_) => EdmType::Boolean,
        Lit::Number(text) if text.contains(['e', 'E']) => EdmType::Double,
        Lit::Number(text) if text.contains('.') => EdmType::Decimal,
        Lit::Number(text) => match text.trim_start_matches('+').parse::<i64>() {
            Ok(number) if i32::try_from(number).is_ok() => EdmType::Int32,
            Ok(_) => EdmType::Int64,
            Err(_) => EdmType::Decimal,
        },
        Lit::Special(_) => EdmType::Double,
        Lit::String(_) => EdmType::String,
        Lit::Date(_) => EdmType::Date,
        Lit::DateTimeOffset(_) => EdmType::DateTimeOffset,
        Lit::TimeOfDay(_) => EdmType::TimeOfDay,
        Lit::Guid(_) => EdmType::Guid,
        Lit::Duration(_) => EdmType::Duration,
        Lit::Binary(_) => EdmType::Binary,
        Lit::Enum { type_name, .. } => {
            return find_enum(graph, type_name).map(Ty::Enum).ok_or_else(|| {
                loc.error(
                    BAD_REQUEST,
                    code::INVALID_LITERAL,
                    format!("{type_name} is not an enumeration type of this service"),
                )
            });
        }
    }))
}

/// An enum type by its qualified name, or by its last segment when the client used another
/// namespace or alias for the same schema (the endpoint's `$metadata` may qualify differently).
fn find_enum(graph: &Graph, name: &str) -> Option<EnumId> {
    let simple = |qualified: &str| qualified.rsplit('.').next().unwrap_or(qualified).to_owned();
    graph
        .enums
        .iter()
        .position(|enum_type| enum_type.name == name)
        .or_else(|| {
            let wanted = simple(name);
            let matches: Vec<usize> = graph
                .enums
                .iter()
                .enumerate()
                .filter(|(_, enum_type)| simple(&enum_type.name) == wanted)
                .map(|(id, _)| id)
                .collect();
            match matches.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        })
}

/// The literal as the JSON value of a `ty`, validated against the type's grammar and range.
fn coerce(graph: &Graph, lit: &Lit, ty: Ty, loc: &Loc) -> Result<Value, UrlError> {
    match ty {
        Ty::Scalar(edm) => {
            let Some(value) = scalar_json(lit, edm) else {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::INVALID_LITERAL,
                    format!(
                        "expected a literal of type {}, found {}",
                        edm.name(),
                        lit.describe()
                    ),
                ));
            };
            format_literal(Dialect::V4, edm, &value)
                .map_err(|error| loc.error(BAD_REQUEST, code::INVALID_LITERAL, error))?;
            Ok(value)
        }
        Ty::Enum(id) => enum_json(graph, lit, id, loc),
        Ty::Complex | Ty::Entity => Err(loc.error(
            BAD_REQUEST,
            code::TYPE_MISMATCH,
            format!("{} cannot be compared with a literal", ty.describe(graph)),
        )),
    }
}

/// A literal's JSON value for a primitive type, `None` when the literal's kind does not fit.
fn scalar_json(lit: &Lit, ty: EdmType) -> Option<Value> {
    let text = |text: &str| Some(Value::String(text.to_owned()));
    // Grammar and range are checked afterwards by `format_literal`, which reads dates, times,
    // durations and GUIDs with `crate::temporal`.
    match (lit, ty) {
        (Lit::String(value), EdmType::String) => text(value),
        (Lit::Boolean(flag), EdmType::Boolean) => Some(Value::Bool(*flag)),
        (Lit::Number(value), _) if is_integral(ty) && is_integer(value) => {
            serde_json::from_str(value.trim_start_matches('+')).ok()
        }
        (Lit::Number(value), EdmType::Decimal) => text(value.trim_start_matches('+')),
        (Lit::Number(value), EdmType::Double | EdmType::Single) => {
            serde_json::from_str(value.trim_start_matches('+')).ok()
        }
        (Lit::Special(value), EdmType::Double | EdmType::Single) => text(value),
        (Lit::Date(value), EdmType::Date | EdmType::DateTime)
        | (Lit::DateTimeOffset(value), EdmType::DateTimeOffset | EdmType::DateTime)
        | (Lit::TimeOfDay(value), EdmType::TimeOfDay | EdmType::Time)
        | (Lit::Duration(value), EdmType::Duration | EdmType::Time)
        | (Lit::Guid(value), EdmType::Guid)
        | (Lit::Binary(value), EdmType::Binary) => text(value),
        _ => None,
    }
}

/// An enum member (flags joined by `,`) as the member names the planner renders. 4.01 allows the
/// type name to be left out (ABNF `enumLiteral = [ qualifiedEnumTypeName ] SQUOTE ...`).
fn enum_json(graph: &Graph, lit: &Lit, id: EnumId, loc: &Loc) -> Result<Value, UrlError> {
    let enum_type = &graph.enums[id];
    let members = match lit {
        Lit::Enum { type_name, members } => {
            if find_enum(graph, type_name) != Some(id) {
                return Err(loc.error(
                    BAD_REQUEST,
                    code::INVALID_LITERAL,
                    format!("expected a member of {}", enum_type.name),
                ));
            }
            members
        }
        Lit::String(members) => members,
        other => {
            return Err(loc.error(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                format!(
                    "expected a member of {}, found {}",
                    enum_type.name,
                    other.describe()
                ),
            ));
        }
    };
    let names: Vec<&str> = members.split(',').map(str::trim).collect();
    if names.len() > 1 && !enum_type.flags {
        return Err(loc.error(
            BAD_REQUEST,
            code::INVALID_LITERAL,
            format!(
                "{} is not a flags enumeration; give one member",
                enum_type.name
            ),
        ));
    }
    for name in &names {
        if !enum_type.members.iter().any(|member| member.name == *name) {
            return Err(loc.error(
                BAD_REQUEST,
                code::INVALID_LITERAL,
                format!("{name} is not a member of {}", enum_type.name),
            ));
        }
    }
    Ok(Value::String(names.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServiceInput, SourceInput, compose};

    const CRM: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="Crm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EnumType Name="Stage"><Member Name="Open" Value="0"/><Member Name="Won" Value="1"/></EnumType>
 <EntityType Name="Opportunity"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
 </EntityType>
 <Function Name="top"><Parameter Name="minAmount" Type="Edm.Decimal"/><Parameter Name="count" Type="Edm.Int32" Nullable="false"/>
  <Parameter Name="stage" Type="Crm.Stage"/><ReturnType Type="Collection(Crm.Opportunity)"/></Function>
 <Action Name="close"><Parameter Name="ID" Type="Edm.Int32"/></Action>
 <EntityContainer Name="C">
  <EntitySet Name="Opportunities" EntityType="Crm.Opportunity"/>
  <FunctionImport Name="top" Function="Crm.top" EntitySet="Opportunities"/>
  <ActionImport Name="close" Action="Crm.close"/>
 </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

    fn graph() -> Graph {
        let metadata = crate::metadata::parse(CRM.as_bytes())
            .expect("inline document parses")
            .metadata;
        let sources = [SourceInput {
            name: "crm",
            services: vec![ServiceInput {
                destination: "CRM",
                path: "/odata/v4/crm",
                metadata: &metadata,
            }],
        }];
        compose(&sources, &[]).graph
    }

    fn call(graph: &Graph, path: &str, query: &str) -> Result<Option<OperationRequest>, UrlError> {
        parse_operation(graph, 0, path, query, &PlanLimits::default())
    }

    #[test]
    fn operation_calls_parse_literals_and_aliases_into_canonical_values() {
        let graph = graph();
        let top = call(&graph, "top(minAmount=100.50,count=3,stage='Won')", "")
            .expect("parses")
            .expect("an operation");
        assert_eq!(graph.operations[top.operation].name, "top");
        assert!(top.parenthesized);
        assert_eq!(
            top.arguments,
            vec![
                (0, Value::String("100.50".into())),
                (1, Value::from(3)),
                (2, Value::String("Won".into())),
            ]
        );
        let aliased = call(
            &graph,
            "top(count=@c,minAmount=@m)",
            "@c=-2&@m=1&$format=application/json;IEEE754Compatible=true",
        )
        .expect("parses")
        .expect("an operation");
        assert_eq!(
            aliased.arguments,
            vec![(1, Value::from(-2)), (0, Value::String("1".into()))]
        );
        assert_eq!(aliased.format.ieee754_compatible, Some(true));
        // An alias without a value is null, which a nullable parameter takes.
        let null = call(&graph, "top(count=1,minAmount=@missing)", "")
            .expect("parses")
            .expect("an operation");
        assert_eq!(null.arguments[1], (0, Value::Null));
        let action = call(&graph, "close", "")
            .expect("parses")
            .expect("an action");
        assert!(!action.parenthesized && action.arguments.is_empty());
        assert_eq!(call(&graph, "Opportunities(1)", ""), Ok(None));
        assert_eq!(call(&graph, "Unknown", ""), Ok(None));
    }

    #[test]
    fn bad_operation_calls_name_the_token() {
        let graph = graph();
        let cases = [
            ("top(phase=1)", "", 400, code::UNKNOWN_PROPERTY, "phase"),
            ("top(count='x')", "", 400, code::INVALID_LITERAL, "'x'"),
            ("top(count=null)", "", 400, code::INVALID_LITERAL, "null"),
            (
                "top(stage='Lost')",
                "",
                400,
                code::INVALID_LITERAL,
                "'Lost'",
            ),
            ("top(count=1,count=2)", "", 400, code::SYNTAX, "count"),
            (
                "top(count=1)/$count",
                "",
                501,
                code::NOT_IMPLEMENTED,
                "$count",
            ),
            (
                "top(count=1)",
                "$filter=ID eq 1",
                501,
                code::NOT_IMPLEMENTED,
                "ID eq 1",
            ),
            ("top(count)", "", 400, code::SYNTAX, "expected `=`"),
        ];
        for (path, query, status, code, token) in cases {
            let error = call(&graph, path, query).expect_err(path);
            assert_eq!(
                (error.status, error.code),
                (status, code),
                "{path}: {error:?}"
            );
            assert!(error.message.contains(token), "{path}: {}", error.message);
        }
    }
}
