//! `$filter`: a lexer and a recursive-descent parser for the OData v2 and v4 URL dialects, which
//! binds property paths against an entity set and checks types, and the evaluation of the bound
//! expression against a row.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparison (`eq ne gt ge lt le`, v4 `in`),
//! then operands: parentheses, literals, function calls and property paths through to-one
//! navigation properties. Literals follow OData v2 (URI conventions section 2.2.2: `12.5M`,
//! `10L`, `datetime'..'`, `datetimeoffset'..'`, `guid'..'`) or OData v4 (Part 2 ABNF: bare dates,
//! date-times and GUIDs, `Namespace.Enum'Member'`). Positions in errors are 1-based characters.

use std::fmt;

use super::data::{Row, Store};
use super::model::{Dialect, Kind, Service};
use super::value::{
    DAY_MS, Decimal, Value, civil_from_days, compare, equals, is_guid, parse_date, parse_timestamp,
};
use super::wire::enum_member;

/// A `$filter` (or key predicate) that cannot be used: what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterError {
    /// 1-based character position in the expression.
    pub(crate) position: usize,
    pub(crate) message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    /// v4 `contains(haystack, needle)`.
    Contains,
    /// v2 `substringof(needle, haystack)`.
    SubstringOf,
    StartsWith,
    EndsWith,
    ToLower,
    ToUpper,
    Trim,
    Length,
    Concat,
    Year,
    Month,
    Day,
}

/// A property reached from the filtered entity set: to-one navigation steps (set, navigation
/// index), then a property of the last set.
#[derive(Debug, Clone)]
pub(crate) struct PropertyPath {
    pub(crate) steps: Vec<(usize, usize)>,
    pub(crate) property: usize,
}

impl PropertyPath {
    /// The value of the path for a row of the start set; `null` when a navigation leads nowhere.
    pub(crate) fn value<'a>(
        &self,
        service: &Service,
        store: &'a Store,
        mut row: &'a Row,
    ) -> &'a Value {
        for &(set, navigation) in &self.steps {
            let target = service.target(service.sets[set].navigations[navigation].target);
            match store.follow_one(service, set, row, navigation) {
                Some(index) => row = &store.tables[target][index],
                None => return &Value::Null,
            }
        }
        &row[self.property]
    }
}

/// A bound, type-checked expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Literal(Value),
    Property(PropertyPath),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    Call(Function, Vec<Expr>),
}

impl Expr {
    /// Whether a row satisfies the expression (`null` and `false` do not).
    pub(crate) fn matches(&self, service: &Service, store: &Store, row: &Row) -> bool {
        self.eval(service, store, row) == Value::Bool(true)
    }

    fn eval(&self, service: &Service, store: &Store, row: &Row) -> Value {
        let eval = |expr: &Expr| expr.eval(service, store, row);
        match self {
            Expr::Literal(value) => value.clone(),
            Expr::Property(path) => path.value(service, store, row).clone(),
            Expr::Not(inner) => match eval(inner) {
                Value::Bool(flag) => Value::Bool(!flag),
                _ => Value::Null,
            },
            Expr::And(left, right) => {
                Value::Bool(eval(left) == Value::Bool(true) && eval(right) == Value::Bool(true))
            }
            Expr::Or(left, right) => {
                Value::Bool(eval(left) == Value::Bool(true) || eval(right) == Value::Bool(true))
            }
            Expr::Compare(op, left, right) => {
                let (left, right) = (eval(left), eval(right));
                let ordering = compare(&left, &right);
                Value::Bool(match op {
                    CmpOp::Eq => equals(&left, &right),
                    CmpOp::Ne => !equals(&left, &right),
                    CmpOp::Gt => ordering.is_some_and(|o| o.is_gt()),
                    CmpOp::Ge => ordering.is_some_and(|o| o.is_ge()),
                    CmpOp::Lt => ordering.is_some_and(|o| o.is_lt()),
                    CmpOp::Le => ordering.is_some_and(|o| o.is_le()),
                })
            }
            Expr::In(left, list) => {
                let left = eval(left);
                Value::Bool(list.iter().any(|item| equals(&left, &eval(item))))
            }
            Expr::Call(function, args) => {
                let args: Vec<Value> = args.iter().map(eval).collect();
                call(*function, &args)
            }
        }
    }
}

fn call(function: Function, args: &[Value]) -> Value {
    use Function as F;
    if args.iter().any(Value::is_null) {
        return Value::Null;
    }
    let text = |index: usize| args.get(index).and_then(Value::as_str).unwrap_or_default();
    match function {
        F::Contains => Value::Bool(text(0).contains(text(1))),
        F::SubstringOf => Value::Bool(text(1).contains(text(0))),
        F::StartsWith => Value::Bool(text(0).starts_with(text(1))),
        F::EndsWith => Value::Bool(text(0).ends_with(text(1))),
        F::ToLower => Value::String(text(0).to_lowercase()),
        F::ToUpper => Value::String(text(0).to_uppercase()),
        F::Trim => Value::String(text(0).trim().to_owned()),
        F::Length => Value::Int(i64::try_from(text(0).chars().count()).unwrap_or(i64::MAX)),
        F::Concat => Value::String(format!("{}{}", text(0), text(1))),
        F::Year | F::Month | F::Day => {
            let days = match args.first() {
                Some(Value::Date(days)) => *days,
                Some(Value::DateTime(millis) | Value::DateTimeOffset(millis)) => {
                    millis.div_euclid(DAY_MS)
                }
                _ => return Value::Null,
            };
            let (year, month, day) = civil_from_days(days);
            Value::Int(match function {
                F::Year => year,
                F::Month => i64::from(month),
                _ => i64::from(day),
            })
        }
    }
}

/// The static type of an expression, for checking comparisons and function arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Null,
    Bool,
    String,
    Number,
    Guid,
    Date,
    Timestamp,
    Enum(&'static str, &'static [&'static str]),
}

impl Type {
    fn of_kind(kind: Kind) -> Type {
        match kind {
            Kind::String => Type::String,
            Kind::Int32 | Kind::Decimal { .. } => Type::Number,
            Kind::Guid => Type::Guid,
            Kind::Date => Type::Date,
            Kind::DateTime | Kind::DateTimeOffset => Type::Timestamp,
            Kind::Enum { type_name, members } => Type::Enum(type_name, members),
        }
    }

    fn of_value(value: &Value) -> Type {
        match value {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) | Value::Decimal(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::Guid(_) => Type::Guid,
            Value::Date(_) => Type::Date,
            Value::DateTime(_) | Value::DateTimeOffset(_) => Type::Timestamp,
            // Enumeration literals get their type from the parser, which knows the members.
            Value::Enum(..) => Type::Null,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Type::Null => "null",
            Type::Bool => "Edm.Boolean",
            Type::String => "Edm.String",
            Type::Number => "a number",
            Type::Guid => "Edm.Guid",
            Type::Date => "Edm.Date",
            Type::Timestamp => "a date-time",
            Type::Enum(name, _) => name,
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Literal(Value),
    EnumLiteral(String, String),
    Open,
    Close,
    Comma,
    Slash,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: usize,
}

/// 1-based character position of a byte offset.
fn position(text: &str, at: usize) -> usize {
    text.get(..at).map_or(at, |before| before.chars().count()) + 1
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

struct Lexer<'a> {
    text: &'a str,
    at: usize,
    dialect: Dialect,
}

impl<'a> Lexer<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            position: position(self.text, at),
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn tokens(mut self) -> Result<Vec<Token>, FilterError> {
        let mut tokens = Vec::new();
        loop {
            while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
                self.at += 1;
            }
            let start = self.at;
            let Some(c) = self.peek() else {
                tokens.push(Token {
                    tok: Tok::End,
                    at: start,
                });
                return Ok(tokens);
            };
            let tok = match c {
                '(' => self.single(Tok::Open),
                ')' => self.single(Tok::Close),
                ',' => self.single(Tok::Comma),
                '/' => self.single(Tok::Slash),
                '\'' => Tok::Literal(Value::String(self.string()?)),
                _ => self.word(c)?,
            };
            tokens.push(Token { tok, at: start });
        }
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.at += 1;
        tok
    }

    /// A quoted string starting at the current `'`, with `''` standing for one quote.
    fn string(&mut self) -> Result<String, FilterError> {
        let start = self.at;
        self.at += 1;
        let mut value = String::new();
        loop {
            let Some(end) = self.rest().find('\'') else {
                return Err(self.error(start, "unterminated string literal"));
            };
            value.push_str(&self.rest()[..end]);
            self.at += end + 1;
            if self.rest().starts_with('\'') {
                value.push('\'');
                self.at += 1;
            } else {
                return Ok(value);
            }
        }
    }

    /// The length of the run of characters that can make up a bare v4 date or date-time.
    fn temporal_run(&self) -> usize {
        self.rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '+' | '-')))
            .unwrap_or(self.rest().len())
    }

    fn word(&mut self, c: char) -> Result<Tok, FilterError> {
        let start = self.at;
        if self.dialect == Dialect::V4 {
            // Bare GUIDs may start with a letter, so they are tried before names.
            if let Some(candidate) = self.rest().get(..36)
                && is_guid(candidate)
                && !self.rest()[36..].starts_with(is_name_char)
            {
                self.at += 36;
                return Ok(Tok::Literal(Value::Guid(candidate.to_ascii_lowercase())));
            }
            let bytes = self.rest().as_bytes();
            if bytes.len() >= 10 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
                let run = &self.rest()[..self.temporal_run()];
                self.at += run.len();
                if let Some(days) = parse_date(run) {
                    return Ok(Tok::Literal(Value::Date(days)));
                }
                return match parse_timestamp(run) {
                    Some(stamp) if stamp.has_offset => {
                        Ok(Tok::Literal(Value::DateTimeOffset(stamp.millis)))
                    }
                    Some(_) => {
                        Err(self.error(start, "date-time literal without a time zone offset"))
                    }
                    None => {
                        Err(self.error(start, format!("invalid date or date-time literal '{run}'")))
                    }
                };
            }
        }
        if c.is_ascii_digit()
            || (c == '-' && self.rest()[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            return self.number();
        }
        if !is_name_start(c) {
            return Err(self.error(start, format!("unexpected character '{c}'")));
        }
        let length = self
            .rest()
            .find(|c: char| !is_name_char(c))
            .unwrap_or(self.rest().len());
        let name = self.rest()[..length].to_owned();
        self.at += length;
        if !self.rest().starts_with('\'') {
            return Ok(Tok::Name(name));
        }
        let quoted_at = self.at;
        let content = self.string()?;
        match self.dialect {
            Dialect::V2 => self.typed_v2(&name, &content, start),
            Dialect::V4 => match name.rsplit_once('.') {
                Some((type_name, _)) if !type_name.is_empty() => {
                    Ok(Tok::EnumLiteral(name, content))
                }
                _ => Err(self.error(quoted_at, format!("unexpected literal after '{name}'"))),
            },
        }
    }

    /// v2 typed literals: `datetime'..'`, `datetimeoffset'..'`, `guid'..'`.
    fn typed_v2(&self, prefix: &str, content: &str, start: usize) -> Result<Tok, FilterError> {
        match prefix {
            "datetime" => match parse_timestamp(content) {
                Some(stamp) if !stamp.has_offset => Ok(Tok::Literal(Value::DateTime(stamp.millis))),
                _ => Err(self.error(start, format!("invalid datetime literal '{content}'"))),
            },
            "datetimeoffset" => match parse_timestamp(content) {
                Some(stamp) if stamp.has_offset => {
                    Ok(Tok::Literal(Value::DateTimeOffset(stamp.millis)))
                }
                _ => Err(self.error(start, format!("invalid datetimeoffset literal '{content}'"))),
            },
            "guid" if is_guid(content) => {
                Ok(Tok::Literal(Value::Guid(content.to_ascii_lowercase())))
            }
            "guid" => Err(self.error(start, format!("invalid guid literal '{content}'"))),
            _ => Err(self.error(start, format!("unsupported literal prefix '{prefix}'"))),
        }
    }

    /// `-?digits[.digits][e[+-]digits]`, with a v2 type suffix (`M`, `L`, `d`, `f`).
    fn number(&mut self) -> Result<Tok, FilterError> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut end = self.at;
        if bytes[end] == b'-' {
            end += 1;
        }
        let digits = |from: usize| {
            bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        end += digits(end);
        let mut fractional = false;
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end += 1 + digits(end + 1);
            fractional = true;
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
            if bytes.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
                end += 1 + sign + digits(end + 1 + sign);
                fractional = true;
            }
        }
        let number = &self.text[start..end];
        self.at = end;
        let mut suffix = None;
        if let Some(c) = self.peek()
            && is_name_char(c)
        {
            let next = self.rest()[1..].chars().next();
            if self.dialect == Dialect::V2
                && matches!(c, 'M' | 'm' | 'L' | 'l' | 'D' | 'd' | 'F' | 'f')
                && !next.is_some_and(is_name_char)
            {
                suffix = Some(c.to_ascii_uppercase());
                self.at += 1;
            } else {
                return Err(self.error(self.at, format!("unexpected character '{c}' after number")));
            }
        }
        let invalid = || self.error(start, format!("invalid number '{number}'"));
        if fractional || matches!(suffix, Some('M' | 'D' | 'F')) {
            let value = Decimal::parse(number).ok_or_else(invalid)?;
            return Ok(Tok::Literal(Value::Decimal(value)));
        }
        let value: i64 = number.parse().map_err(|_| invalid())?;
        Ok(Tok::Literal(Value::Int(value)))
    }
}

/// A string literal compared with an enumeration becomes the member (OData 4.01 allows the
/// bare member name), so that members compare by value.
fn as_enum(expr: Expr, other: Type) -> Expr {
    match (expr, other) {
        (Expr::Literal(Value::String(name)), Type::Enum(_, members)) => {
            match enum_member(members, &name) {
                Some(member) => Expr::Literal(member),
                None => Expr::Literal(Value::String(name)),
            }
        }
        (expr, _) => expr,
    }
}

/// Parses one literal, as in a key predicate: `'a''b'`, `42`, `guid'..'`, a bare v4 GUID.
pub(crate) fn parse_literal(text: &str, dialect: Dialect) -> Result<Value, FilterError> {
    let tokens = Lexer {
        text,
        at: 0,
        dialect,
    }
    .tokens()?;
    match tokens.as_slice() {
        [
            Token {
                tok: Tok::Literal(value),
                ..
            },
            Token { tok: Tok::End, .. },
        ] => Ok(value.clone()),
        _ => Err(FilterError {
            position: 1,
            message: format!("invalid literal '{text}'"),
        }),
    }
}

/// What a property path is bound for, which decides the capability it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Filter,
    Sort,
}

/// Binds a path of names (`to_SoldToParty/Region`) to a property, through to-one navigation.
pub(crate) fn bind_path(
    service: &Service,
    set: usize,
    segments: &[&str],
    purpose: Purpose,
) -> Result<(PropertyPath, Kind), String> {
    let mut current = set;
    let mut steps = Vec::new();
    let Some((last, navigations)) = segments.split_last() else {
        return Err("empty property path".into());
    };
    for name in navigations {
        let def = &service.sets[current];
        let Some(navigation) = def.navigation(name) else {
            return Err(format!(
                "'{name}' is not a navigation property of {}",
                def.type_name
            ));
        };
        let nav = &def.navigations[navigation];
        if nav.many {
            return Err(format!(
                "navigation property '{name}' leads to many entities; lambda operators are not supported"
            ));
        }
        steps.push((current, navigation));
        current = service.target(nav.target);
    }
    let def = &service.sets[current];
    let Some(property) = def.property(last) else {
        return Err(if def.navigation(last).is_some() {
            format!("navigation property '{last}' cannot be used as a value")
        } else {
            format!("property '{last}' does not exist in type {}", def.type_name)
        });
    };
    let property_def = &def.properties[property];
    match purpose {
        Purpose::Filter if !property_def.filterable => {
            return Err(format!("property '{last}' is not filterable"));
        }
        Purpose::Sort if !property_def.sortable => {
            return Err(format!("property '{last}' is not sortable"));
        }
        _ => {}
    }
    Ok((PropertyPath { steps, property }, property_def.kind))
}

/// Parses and binds a `$filter` expression against entity set `set`.
pub(crate) fn parse_filter(
    text: &str,
    service: &'static Service,
    set: usize,
) -> Result<Expr, FilterError> {
    let tokens = Lexer {
        text,
        at: 0,
        dialect: service.dialect,
    }
    .tokens()?;
    let mut parser = Parser {
        text,
        tokens,
        index: 0,
        service,
        set,
    };
    let (expr, ty) = parser.or()?;
    let end = parser.peek_token();
    if end.tok != Tok::End {
        return Err(parser.error(end.at, "unexpected token, expected 'and', 'or' or the end"));
    }
    if ty != Type::Bool {
        return Err(parser.error(0, "the filter is not a boolean expression"));
    }
    Ok(expr)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    index: usize,
    service: &'static Service,
    set: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            position: position(self.text, at),
            message: message.into(),
        }
    }

    fn peek_token(&self) -> Token {
        self.tokens[self.index.min(self.tokens.len() - 1)].clone()
    }

    fn next_token(&mut self) -> Token {
        let token = self.peek_token();
        if token.tok != Tok::End {
            self.index += 1;
        }
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek_token().tok, Tok::Name(name) if name == keyword)
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), FilterError> {
        let token = self.next_token();
        if &token.tok == tok {
            Ok(())
        } else {
            Err(self.error(token.at, format!("expected {what}")))
        }
    }

    fn boolean(&self, ty: Type, at: usize) -> Result<(), FilterError> {
        if ty == Type::Bool || ty == Type::Null {
            Ok(())
        } else {
            Err(self.error(
                at,
                format!("expected a boolean expression, found {}", ty.name()),
            ))
        }
    }

    fn or(&mut self) -> Result<(Expr, Type), FilterError> {
        let at = self.peek_token().at;
        let (mut left, ty) = self.and()?;
        if !self.peek_keyword("or") {
            return Ok((left, ty));
        }
        self.boolean(ty, at)?;
        while self.peek_keyword("or") {
            self.next_token();
            let at = self.peek_token().at;
            let (right, ty) = self.and()?;
            self.boolean(ty, at)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok((left, Type::Bool))
    }

    fn and(&mut self) -> Result<(Expr, Type), FilterError> {
        let at = self.peek_token().at;
        let (mut left, ty) = self.not()?;
        if !self.peek_keyword("and") {
            return Ok((left, ty));
        }
        self.boolean(ty, at)?;
        while self.peek_keyword("and") {
            self.next_token();
            let at = self.peek_token().at;
            let (right, ty) = self.not()?;
            self.boolean(ty, at)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok((left, Type::Bool))
    }

    fn not(&mut self) -> Result<(Expr, Type), FilterError> {
        if !self.peek_keyword("not") {
            return self.comparison();
        }
        self.next_token();
        let at = self.peek_token().at;
        let (inner, ty) = self.not()?;
        self.boolean(ty, at)?;
        Ok((Expr::Not(Box::new(inner)), Type::Bool))
    }

    fn comparison(&mut self) -> Result<(Expr, Type), FilterError> {
        let left_at = self.peek_token().at;
        let (left, left_ty) = self.operand()?;
        let token = self.peek_token();
        let op = match &token.tok {
            Tok::Name(name) => match name.as_str() {
                "eq" => CmpOp::Eq,
                "ne" => CmpOp::Ne,
                "gt" => CmpOp::Gt,
                "ge" => CmpOp::Ge,
                "lt" => CmpOp::Lt,
                "le" => CmpOp::Le,
                "in" if self.service.dialect == Dialect::V4 => {
                    self.next_token();
                    return self.in_list(left, left_ty);
                }
                "and" | "or" => return Ok((left, left_ty)),
                other => {
                    return Err(self.error(token.at, format!("unknown operator '{other}'")));
                }
            },
            _ => return Ok((left, left_ty)),
        };
        self.next_token();
        let right_at = self.peek_token().at;
        let (right, right_ty) = self.operand()?;
        self.compatible(left_ty, &left, right_ty, &right, right_at.max(left_at))?;
        let (left, right) = (as_enum(left, right_ty), as_enum(right, left_ty));
        Ok((
            Expr::Compare(op, Box::new(left), Box::new(right)),
            Type::Bool,
        ))
    }

    fn in_list(&mut self, left: Expr, left_ty: Type) -> Result<(Expr, Type), FilterError> {
        self.expect(&Tok::Open, "'(' after 'in'")?;
        let mut items = Vec::new();
        loop {
            let at = self.peek_token().at;
            let (item, ty) = self.operand()?;
            self.compatible(left_ty, &left, ty, &item, at)?;
            items.push(as_enum(item, left_ty));
            let token = self.next_token();
            match token.tok {
                Tok::Comma => continue,
                Tok::Close => break,
                _ => return Err(self.error(token.at, "expected ',' or ')'")),
            }
        }
        Ok((Expr::In(Box::new(left), items), Type::Bool))
    }

    /// Whether two operands may be compared; enumeration members are checked by name.
    fn compatible(
        &self,
        left: Type,
        left_expr: &Expr,
        right: Type,
        right_expr: &Expr,
        at: usize,
    ) -> Result<(), FilterError> {
        let member_of = |members: &[&str], expr: &Expr| match expr {
            Expr::Literal(Value::String(member)) => members.contains(&member.as_str()),
            _ => true,
        };
        let ok = match (left, right) {
            (Type::Null, _) | (_, Type::Null) => true,
            (Type::Enum(a, _), Type::Enum(b, _)) => a == b,
            (Type::Enum(_, members), Type::String) => member_of(members, right_expr),
            (Type::String, Type::Enum(_, members)) => member_of(members, left_expr),
            (a, b) => a == b,
        };
        if ok {
            Ok(())
        } else {
            Err(self.error(
                at,
                format!("cannot compare {} with {}", left.name(), right.name()),
            ))
        }
    }

    fn operand(&mut self) -> Result<(Expr, Type), FilterError> {
        let token = self.next_token();
        match token.tok {
            Tok::Open => {
                let result = self.or()?;
                self.expect(&Tok::Close, "')'")?;
                Ok(result)
            }
            Tok::Literal(value) => {
                let ty = Type::of_value(&value);
                Ok((Expr::Literal(value), ty))
            }
            Tok::EnumLiteral(type_name, member) => {
                let ty = self.enum_type(&type_name, &member, token.at)?;
                Ok((as_enum(Expr::Literal(Value::String(member)), ty), ty))
            }
            Tok::Name(name) => match name.as_str() {
                "true" => Ok((Expr::Literal(Value::Bool(true)), Type::Bool)),
                "false" => Ok((Expr::Literal(Value::Bool(false)), Type::Bool)),
                "null" => Ok((Expr::Literal(Value::Null), Type::Null)),
                _ if self.peek_token().tok == Tok::Open => self.call(&name, token.at),
                _ => self.path(name, token.at),
            },
            Tok::End => Err(self.error(token.at, "unexpected end of expression")),
            _ => Err(self.error(token.at, "expected a property, literal or function")),
        }
    }

    fn enum_type(&self, type_name: &str, member: &str, at: usize) -> Result<Type, FilterError> {
        let kind = self
            .service
            .sets
            .iter()
            .flat_map(|set| set.properties)
            .find_map(|property| match property.kind {
                Kind::Enum {
                    type_name: name,
                    members,
                } if name == type_name => Some((name, members)),
                _ => None,
            });
        let Some((name, members)) = kind else {
            return Err(self.error(at, format!("unknown enumeration type '{type_name}'")));
        };
        if !members.contains(&member) {
            return Err(self.error(at, format!("'{member}' is not a member of {type_name}")));
        }
        Ok(Type::Enum(name, members))
    }

    fn path(&mut self, first: String, at: usize) -> Result<(Expr, Type), FilterError> {
        let mut segments = vec![first];
        while self.peek_token().tok == Tok::Slash {
            self.next_token();
            let token = self.next_token();
            match token.tok {
                Tok::Name(name) => segments.push(name),
                _ => return Err(self.error(token.at, "expected a property name after '/'")),
            }
        }
        let names: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (path, kind) = bind_path(self.service, self.set, &names, Purpose::Filter)
            .map_err(|message| self.error(at, message))?;
        Ok((Expr::Property(path), Type::of_kind(kind)))
    }

    fn call(&mut self, name: &str, at: usize) -> Result<(Expr, Type), FilterError> {
        use Function as F;
        let v2 = self.service.dialect == Dialect::V2;
        let (function, params, result): (Function, &[Type], Type) = match name {
            "contains" if !v2 => (F::Contains, &[Type::String, Type::String], Type::Bool),
            "substringof" if v2 => (F::SubstringOf, &[Type::String, Type::String], Type::Bool),
            "startswith" => (F::StartsWith, &[Type::String, Type::String], Type::Bool),
            "endswith" => (F::EndsWith, &[Type::String, Type::String], Type::Bool),
            "tolower" => (F::ToLower, &[Type::String], Type::String),
            "toupper" => (F::ToUpper, &[Type::String], Type::String),
            "trim" => (F::Trim, &[Type::String], Type::String),
            "length" => (F::Length, &[Type::String], Type::Number),
            "concat" => (F::Concat, &[Type::String, Type::String], Type::String),
            "year" => (F::Year, &[Type::Date], Type::Number),
            "month" => (F::Month, &[Type::Date], Type::Number),
            "day" => (F::Day, &[Type::Date], Type::Number),
            _ => return Err(self.error(at, format!("unknown function '{name}'"))),
        };
        self.expect(&Tok::Open, "'('")?;
        let mut args = Vec::new();
        if self.peek_token().tok != Tok::Close {
            loop {
                let arg_at = self.peek_token().at;
                let (arg, ty) = self.or()?;
                let expected = params.get(args.len()).copied();
                let fits = match (expected, ty) {
                    (None, _) => false,
                    (Some(_), Type::Null) => true,
                    // Date parts apply to dates and date-times alike.
                    (Some(Type::Date), Type::Date | Type::Timestamp) => true,
                    (Some(expected), ty) => expected == ty,
                };
                if !fits {
                    return Err(self.error(
                        arg_at,
                        match expected {
                            Some(expected) => format!(
                                "argument {} of '{name}' must be {}, found {}",
                                args.len() + 1,
                                expected.name(),
                                ty.name()
                            ),
                            None => format!("'{name}' takes {} arguments", params.len()),
                        },
                    ));
                }
                args.push(arg);
                if self.peek_token().tok == Tok::Comma {
                    self.next_token();
                } else {
                    break;
                }
            }
        }
        let close = self.next_token();
        if close.tok != Tok::Close {
            return Err(self.error(close.at, "expected ',' or ')'"));
        }
        if args.len() != params.len() {
            return Err(self.error(at, format!("'{name}' takes {} arguments", params.len())));
        }
        Ok((Expr::Call(function, args), result))
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{CRM, S4};
    use super::*;

    fn error(text: &str, service: &'static Service, set: &str) -> FilterError {
        let set = service.set(set).expect("set");
        parse_filter(text, service, set).expect_err("invalid filter")
    }

    #[test]
    fn positions_point_at_the_offending_token() {
        let e = error("Region eq 'EU' and", &S4, "A_SalesOrder");
        assert_eq!(e.position, 19, "{e}");
        let e = error("Region eq 'EU' or (SoldToParty eq '1'", &S4, "A_SalesOrder");
        assert_eq!(e.position, 38, "{e}");
        let e = error("Region eq 'EU", &S4, "A_SalesOrder");
        assert_eq!(
            (e.position, e.message.as_str()),
            (11, "unterminated string literal")
        );
        let e = error("Nope eq 1", &S4, "A_SalesOrder");
        assert_eq!(e.position, 1);
        assert!(e.message.contains("'Nope' does not exist"), "{e}");
    }

    #[test]
    fn dialects_keep_their_own_functions_and_literals() {
        assert!(
            error("contains(Region,'E')", &S4, "A_SalesOrder")
                .message
                .contains("unknown function")
        );
        assert!(
            error("substringof('E',region)", &CRM, "Accounts")
                .message
                .contains("unknown function")
        );
        assert!(
            error("amount gt 12.5M", &CRM, "Opportunities")
                .message
                .contains("after number")
        );
        assert!(
            error(
                "closeDate gt datetime'2024-01-01T00:00:00'",
                &CRM,
                "Opportunities"
            )
            .message
            .contains("unexpected literal")
        );
        let e = error("TotalNetAmount gt 'x'", &S4, "A_SalesOrder");
        assert!(e.message.contains("cannot compare"), "{e}");
        let e = error(
            "stage eq CrmService.OpportunityStage'Won'",
            &CRM,
            "Opportunities",
        );
        assert!(e.message.contains("not a member"), "{e}");
        let e = error("NetWeight gt 1", &S4, "A_Product");
        assert!(e.message.contains("not filterable"), "{e}");
        let e = error("Region", &S4, "A_SalesOrder");
        assert!(e.message.contains("not a boolean"), "{e}");
    }

    #[test]
    fn literals_parse_in_both_dialects() {
        assert_eq!(
            parse_literal("'O''Neil'", Dialect::V2),
            Ok(Value::String("O'Neil".into()))
        );
        assert_eq!(parse_literal("10L", Dialect::V2), Ok(Value::Int(10)));
        assert_eq!(
            parse_literal("datetime'2024-01-31T00:00:00'", Dialect::V2),
            Ok(Value::DateTime(1_706_659_200_000))
        );
        assert_eq!(
            parse_literal("datetimeoffset'2024-01-31T01:00:00+01:00'", Dialect::V2),
            Ok(Value::DateTimeOffset(1_706_659_200_000))
        );
        assert_eq!(
            parse_literal("2024-01-31T00:00:00Z", Dialect::V4),
            Ok(Value::DateTimeOffset(1_706_659_200_000))
        );
        assert_eq!(
            parse_literal("2024-01-31", Dialect::V4),
            Ok(Value::Date(19_753))
        );
        assert_eq!(
            parse_literal("A0000000-0000-4000-8000-000000000001", Dialect::V4),
            Ok(Value::Guid("a0000000-0000-4000-8000-000000000001".into()))
        );
        assert_eq!(parse_literal("-3", Dialect::V4), Ok(Value::Int(-3)));
        assert!(
            matches!(parse_literal("12.5M", Dialect::V2), Ok(Value::Decimal(d)) if d.to_string() == "12.5")
        );
        assert!(
            matches!(parse_literal("1.5e1d", Dialect::V2), Ok(Value::Decimal(d)) if d.to_string() == "15")
        );
    }
}
