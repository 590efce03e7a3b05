//! System query options (`$select`, `$expand`, `$filter`, `$orderby`, `$top`, `$skip`, counts,
//! search, `$skiptoken`) in both dialects, parsed and bound against an entity set, and applied to
//! a list of rows.
//!
//! v2 (URI conventions section 4): `$expand=a,a/b`, `$select=P,Nav/P`, `$inlinecount=allpages`,
//! SAP's custom `search=`. v4 (Part 2 section 5.1): `$expand=a($select=..;$filter=..;...)`,
//! `$count=true`, `$search`.

use std::cmp::Ordering;

use super::data::Store;
use super::error::ODataError;
use super::filter::{Expr, PropertyPath, Purpose, bind_path, parse_filter};
use super::model::{Dialect, Kind, Service};
use super::value::sort_order;

/// The selected part of an entity: `None` in [`Query::select`] means everything.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    pub(crate) properties: Vec<usize>,
    /// v2: navigation properties named in `$select` (rendered deferred unless expanded).
    pub(crate) navigations: Vec<usize>,
}

/// One expanded navigation property with the options for its rows.
#[derive(Debug, Clone)]
pub(crate) struct Expand {
    pub(crate) navigation: usize,
    pub(crate) query: Query,
}

/// One `$orderby` key.
#[derive(Debug, Clone)]
pub(crate) struct OrderKey {
    pub(crate) path: PropertyPath,
    pub(crate) descending: bool,
}

/// The query options of one request (or of one expanded navigation property).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub(crate) select: Option<Selection>,
    pub(crate) expand: Vec<Expand>,
    pub(crate) filter: Option<Expr>,
    /// Lowercased search terms, all of which must match.
    pub(crate) search: Option<Vec<String>>,
    pub(crate) orderby: Vec<OrderKey>,
    pub(crate) top: Option<usize>,
    pub(crate) skip: usize,
    /// v4 `$count=true`, v2 `$inlinecount=allpages`.
    pub(crate) count: bool,
    /// Rows of the result already delivered on earlier pages.
    pub(crate) skiptoken: usize,
}

/// The rows of one answer.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) rows: Vec<usize>,
    /// Rows matching `$filter` and search, before `$top` and `$skip`.
    pub(crate) count: usize,
    /// The `$skiptoken` of the next page, when there is one.
    pub(crate) next: Option<usize>,
}

impl Query {
    /// Filters, searches, sorts, skips and limits `rows` of `set`, then cuts the page.
    pub(crate) fn apply(
        &self,
        service: &Service,
        store: &Store,
        set: usize,
        mut rows: Vec<usize>,
        page_size: Option<usize>,
    ) -> Page {
        let table = &store.tables[set];
        let def = &service.sets[set];
        rows.retain(|&index| {
            let row = &table[index];
            self.filter
                .as_ref()
                .is_none_or(|filter| filter.matches(service, store, row))
                && self.search.as_ref().is_none_or(|terms| {
                    terms.iter().all(|term| {
                        def.properties.iter().enumerate().any(|(p, property)| {
                            property.kind == Kind::String
                                && row[p]
                                    .as_str()
                                    .is_some_and(|text| text.to_lowercase().contains(term))
                        })
                    })
                })
        });
        let count = rows.len();
        let keys: Vec<usize> = def.key_indexes().collect();
        rows.sort_by(|&a, &b| {
            let (a, b) = (&table[a], &table[b]);
            self.orderby
                .iter()
                .map(|key| {
                    let order = sort_order(
                        key.path.value(service, store, a),
                        key.path.value(service, store, b),
                    );
                    if key.descending {
                        order.reverse()
                    } else {
                        order
                    }
                })
                .chain(keys.iter().map(|&k| sort_order(&a[k], &b[k])))
                .find(|order| *order != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        let limited: Vec<usize> = rows
            .into_iter()
            .skip(self.skip)
            .take(self.top.unwrap_or(usize::MAX))
            .collect();
        let start = self.skiptoken.min(limited.len());
        let end = page_size.map_or(limited.len(), |size| (start + size).min(limited.len()));
        Page {
            rows: limited[start..end].to_vec(),
            count,
            next: (end < limited.len()).then_some(end),
        }
    }
}

/// System query options that are valid OData but not implemented here.
const UNSUPPORTED: &[&str] = &[
    "$apply",
    "$compute",
    "$levels",
    "$index",
    "$deltatoken",
    "$schemaversion",
];

/// Parses the query options of a request addressed to entity set `set`.
pub(crate) fn parse_query(
    service: &'static Service,
    set: usize,
    pairs: &[(String, String)],
) -> Result<Query, ODataError> {
    let dialect = service.dialect;
    let option = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    };
    for (name, value) in pairs {
        let known = match dialect {
            Dialect::V2 => matches!(
                name.as_str(),
                "$select"
                    | "$expand"
                    | "$filter"
                    | "$orderby"
                    | "$top"
                    | "$skip"
                    | "$inlinecount"
                    | "$skiptoken"
                    | "$format"
            ),
            Dialect::V4 => matches!(
                name.as_str(),
                "$select"
                    | "$expand"
                    | "$filter"
                    | "$orderby"
                    | "$top"
                    | "$skip"
                    | "$count"
                    | "$search"
                    | "$skiptoken"
                    | "$format"
            ),
        };
        if UNSUPPORTED.contains(&name.as_str()) {
            return Err(ODataError::not_implemented(format!(
                "system query option '{name}' is not supported"
            )));
        }
        if name.starts_with('$') && !known {
            return Err(ODataError::bad_request(format!(
                "unknown system query option '{name}'"
            )));
        }
        if name == "$format" && !value.eq_ignore_ascii_case("json") && value != "application/json" {
            return Err(ODataError::new(
                axum::http::StatusCode::NOT_ACCEPTABLE,
                "NOT_ACCEPTABLE",
                format!("format '{value}' is not supported, only json"),
            ));
        }
    }
    let mut query = Query::default();
    if let Some(expand) = option("$expand") {
        query.expand = match dialect {
            Dialect::V2 => parse_expand_v2(service, set, expand)?,
            Dialect::V4 => parse_expand_v4(service, set, expand)?,
        };
    }
    if let Some(select) = option("$select") {
        match dialect {
            Dialect::V2 => select_v2(service, set, &mut query, select)?,
            Dialect::V4 => query.select = select_v4(service, set, select)?,
        }
    }
    apply_common(service, set, &mut query, &option)?;
    match dialect {
        Dialect::V2 => {
            query.search = option("search").map(|text| vec![text.to_lowercase()]);
            query.count = match option("$inlinecount") {
                None | Some("none") => false,
                Some("allpages") => true,
                Some(other) => {
                    return Err(ODataError::bad_request(format!(
                        "invalid $inlinecount '{other}', expected allpages or none"
                    )));
                }
            };
        }
        Dialect::V4 => {
            query.count = count_v4(option("$count"))?;
            query.search = option("$search").map(search_terms);
        }
    }
    if let Some(token) = option("$skiptoken") {
        query.skiptoken = token
            .parse()
            .map_err(|_| ODataError::bad_request(format!("invalid $skiptoken '{token}'")))?;
    }
    Ok(query)
}

/// `$filter`, `$orderby`, `$top` and `$skip`, shared by requests and v4 expand options.
fn apply_common<'a>(
    service: &'static Service,
    set: usize,
    query: &mut Query,
    option: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<(), ODataError> {
    if let Some(filter) = option("$filter") {
        query.filter = Some(
            parse_filter(filter, service, set)
                .map_err(|e| ODataError::bad_request(format!("invalid $filter: {e}")))?,
        );
    }
    if let Some(orderby) = option("$orderby") {
        query.orderby = parse_orderby(service, set, orderby)?;
    }
    if let Some(top) = option("$top") {
        query.top = Some(number("$top", top)?);
    }
    if let Some(skip) = option("$skip") {
        query.skip = number("$skip", skip)?;
    }
    Ok(())
}

fn number(name: &str, value: &str) -> Result<usize, ODataError> {
    value.parse().map_err(|_| {
        ODataError::bad_request(format!(
            "invalid {name} '{value}', expected a non-negative integer"
        ))
    })
}

fn count_v4(value: Option<&str>) -> Result<bool, ODataError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ODataError::bad_request(format!(
            "invalid $count '{other}', expected true or false"
        ))),
    }
}

/// The term of a v4 `$search`: one word or one quoted phrase, matched case-insensitively.
/// The terms of a v4 `$search`: words and `"phrases"`, side by side or joined by `AND`, all of
/// which must match (the demo knows no `OR` or `NOT`).
fn search_terms(value: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut phrase = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => phrase.extend(chars.next()),
                    other => phrase.push(other),
                }
            }
            terms.push(phrase.to_lowercase());
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace() && **c != '"') {
                word.push(c);
                chars.next();
            }
            if word != "AND" {
                terms.push(word.to_lowercase());
            }
        }
    }
    terms
}

fn parse_orderby(
    service: &'static Service,
    set: usize,
    text: &str,
) -> Result<Vec<OrderKey>, ODataError> {
    let mut keys = Vec::new();
    for item in text.split(',') {
        let mut words = item.split_whitespace();
        let Some(path) = words.next() else {
            return Err(ODataError::bad_request(format!(
                "invalid $orderby '{text}'"
            )));
        };
        let descending = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ODataError::bad_request(format!(
                    "invalid $orderby direction '{other}', expected asc or desc"
                )));
            }
        };
        if words.next().is_some() {
            return Err(ODataError::bad_request(format!(
                "invalid $orderby '{text}'"
            )));
        }
        let segments: Vec<&str> = path.split('/').collect();
        let (path, _) = bind_path(service, set, &segments, Purpose::Sort)
            .map_err(|e| ODataError::bad_request(format!("invalid $orderby: {e}")))?;
        keys.push(OrderKey { path, descending });
    }
    Ok(keys)
}

/// v2 `$expand=to_Item,to_Item/to_Product`: a tree of navigation paths.
fn parse_expand_v2(
    service: &'static Service,
    set: usize,
    text: &str,
) -> Result<Vec<Expand>, ODataError> {
    let mut expands: Vec<Expand> = Vec::new();
    for path in text.split(',').map(str::trim) {
        let mut level = &mut expands;
        let mut current = set;
        for name in path.split('/') {
            let def = &service.sets[current];
            let navigation = def.navigation(name).ok_or_else(|| {
                ODataError::bad_request(format!(
                    "invalid $expand: '{name}' is not a navigation property of {}",
                    def.type_name
                ))
            })?;
            current = service.target(def.navigations[navigation].target);
            let position = match level.iter().position(|e| e.navigation == navigation) {
                Some(position) => position,
                None => {
                    level.push(Expand {
                        navigation,
                        query: Query::default(),
                    });
                    level.len() - 1
                }
            };
            level = &mut level[position].query.expand;
        }
    }
    Ok(expands)
}

/// v2 `$select=SalesOrder,to_Item,to_Item/Material`: properties and navigation properties of
/// this level, and `Nav/Prop` paths into expanded navigation properties.
fn select_v2(
    service: &'static Service,
    set: usize,
    query: &mut Query,
    text: &str,
) -> Result<(), ODataError> {
    for item in text.split(',').map(str::trim) {
        let segments: Vec<&str> = item.split('/').collect();
        select_path_v2(service, set, query, &segments)?;
    }
    Ok(())
}

fn select_path_v2(
    service: &'static Service,
    set: usize,
    query: &mut Query,
    segments: &[&str],
) -> Result<(), ODataError> {
    let def = &service.sets[set];
    let selection = query.select.get_or_insert_with(Selection::default);
    match segments {
        ["*"] => {
            for index in 0..def.properties.len() {
                if !selection.properties.contains(&index) {
                    selection.properties.push(index);
                }
            }
            for index in 0..def.navigations.len() {
                if !selection.navigations.contains(&index) {
                    selection.navigations.push(index);
                }
            }
            Ok(())
        }
        [name] => {
            if let Some(property) = def.property(name) {
                if !selection.properties.contains(&property) {
                    selection.properties.push(property);
                }
                Ok(())
            } else if let Some(navigation) = def.navigation(name) {
                if !selection.navigations.contains(&navigation) {
                    selection.navigations.push(navigation);
                }
                Ok(())
            } else {
                Err(ODataError::bad_request(format!(
                    "invalid $select: property '{name}' does not exist in type {}",
                    def.type_name
                )))
            }
        }
        [name, rest @ ..] => {
            let navigation = def.navigation(name).ok_or_else(|| {
                ODataError::bad_request(format!(
                    "invalid $select: '{name}' is not a navigation property of {}",
                    def.type_name
                ))
            })?;
            if !selection.navigations.contains(&navigation) {
                selection.navigations.push(navigation);
            }
            let target = service.target(def.navigations[navigation].target);
            let expand = query
                .expand
                .iter_mut()
                .find(|e| e.navigation == navigation)
                .ok_or_else(|| {
                    ODataError::bad_request(format!(
                        "invalid $select: '{name}' must be expanded to select its properties"
                    ))
                })?;
            select_path_v2(service, target, &mut expand.query, rest)
        }
        [] => Err(ODataError::bad_request("invalid $select: empty item")),
    }
}

/// v4 `$select=a,b` or `*`: structural properties only.
fn select_v4(
    service: &'static Service,
    set: usize,
    text: &str,
) -> Result<Option<Selection>, ODataError> {
    let def = &service.sets[set];
    let mut selection = Selection::default();
    for name in text.split(',').map(str::trim) {
        if name == "*" {
            return Ok(None);
        }
        let property = def.property(name).ok_or_else(|| {
            ODataError::bad_request(format!(
                "invalid $select: property '{name}' does not exist in type {}",
                def.type_name
            ))
        })?;
        if !selection.properties.contains(&property) {
            selection.properties.push(property);
        }
    }
    Ok(Some(selection))
}

/// Splits at `separator` outside parentheses and quoted strings.
fn split_top(text: &str, separator: char) -> Result<Vec<&str>, ODataError> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0usize, false, 0);
    for (at, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    ODataError::bad_request(format!("unbalanced parentheses in '{text}'"))
                })?;
            }
            c if c == separator && !quoted && depth == 0 => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth != 0 || quoted {
        return Err(ODataError::bad_request(format!(
            "unbalanced parentheses or quotes in '{text}'"
        )));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// v4 `$expand=account($select=name;$expand=opportunities($top=2)),...`.
fn parse_expand_v4(
    service: &'static Service,
    set: usize,
    text: &str,
) -> Result<Vec<Expand>, ODataError> {
    let def = &service.sets[set];
    let mut expands = Vec::new();
    for item in split_top(text, ',')? {
        let item = item.trim();
        let (name, options) = match item.find('(') {
            Some(open) if item.ends_with(')') => {
                (&item[..open], Some(&item[open + 1..item.len() - 1]))
            }
            Some(_) => {
                return Err(ODataError::bad_request(format!(
                    "invalid $expand item '{item}'"
                )));
            }
            None => (item, None),
        };
        if name == "*" && options.is_none() {
            for navigation in 0..def.navigations.len() {
                expands.push(Expand {
                    navigation,
                    query: Query::default(),
                });
            }
            continue;
        }
        let navigation = def.navigation(name).ok_or_else(|| {
            ODataError::bad_request(format!(
                "invalid $expand: '{name}' is not a navigation property of {}",
                def.type_name
            ))
        })?;
        let target = service.target(def.navigations[navigation].target);
        let query = match options {
            Some(options) => nested_v4(service, target, options)?,
            None => Query::default(),
        };
        expands.push(Expand { navigation, query });
    }
    Ok(expands)
}

/// The `;`-separated options inside a v4 expand item.
fn nested_v4(service: &'static Service, set: usize, text: &str) -> Result<Query, ODataError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for part in split_top(text, ';')? {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| ODataError::bad_request(format!("invalid expand option '{part}'")))?;
        if !matches!(
            name,
            "$select"
                | "$expand"
                | "$filter"
                | "$orderby"
                | "$top"
                | "$skip"
                | "$count"
                | "$search"
        ) {
            return Err(ODataError::bad_request(format!(
                "expand option '{name}' is not supported"
            )));
        }
        pairs.push((name, value));
    }
    let option = |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, v)| *v);
    let mut query = Query::default();
    if let Some(expand) = option("$expand") {
        query.expand = parse_expand_v4(service, set, expand)?;
    }
    if let Some(select) = option("$select") {
        query.select = select_v4(service, set, select)?;
    }
    apply_common(service, set, &mut query, &option)?;
    query.count = count_v4(option("$count"))?;
    query.search = option("$search").map(search_terms);
    Ok(query)
}
