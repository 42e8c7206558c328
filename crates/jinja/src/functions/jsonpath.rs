//! `jsonpath_query`: JSONPath as the `jsonpath-rw` library (1.4.0) reads
//! and evaluates it, which StackStorm's filter uses
//! (`st2common/expressions/functions/data.py`).
//!
//! jsonpath-rw's dialect: `$`, `field`, `'quoted field'`, `a,b`, `*`,
//! `[n]`, `[start:end]`, `[*]`, `a.b`, `a..b`, `a|b` (union), `a where b`,
//! `` `this` ``, `` `parent` ``, parentheses; operator precedence (low to
//! high) `..`, `.`, `|`, `&`, `where`. Quirks kept: a slice over a mapping,
//! string or integer treats it as a one-item list; `[n]` over a mapping is
//! an error (Python's `KeyError`). Parsing uses an explicit operator stack.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Id(String),
    Num(i64),
    Named(String),
    Where,
    DoubleDot,
    Ch(char),
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '.' if chars.get(i + 1) == Some(&'.') => {
                toks.push(Tok::DoubleDot);
                i += 2;
            }
            '*' | '.' | '[' | ']' | '(' | ')' | '$' | ',' | ':' | '|' | '&' => {
                toks.push(Tok::Ch(c));
                i += 1;
            }
            '\'' | '"' | '`' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!("unterminated {c}-quoted field in the JSONPath"))
                        }
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some(&x) if x == c => {
                            i += 1;
                            break;
                        }
                        Some(&x) => {
                            s.push(x);
                            i += 1;
                        }
                    }
                }
                toks.push(if c == '`' { Tok::Named(s) } else { Tok::Id(s) });
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '@' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '@' | '-'))
                {
                    i += 1;
                }
                let id: String = chars[start..i].iter().collect();
                toks.push(if id == "where" {
                    Tok::Where
                } else {
                    Tok::Id(id)
                });
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                toks.push(Tok::Num(
                    s.parse()
                        .map_err(|_| "number too large in the JSONPath".to_string())?,
                ));
            }
            c => return Err(format!("unexpected character {c:?} in the JSONPath")),
        }
    }
    Ok(toks)
}

#[derive(Debug, Clone)]
enum Path {
    Root,
    This,
    Parent,
    Fields(Vec<String>),
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Child(Box<Path>, Box<Path>),
    Descendants(Box<Path>, Box<Path>),
    Union(Box<Path>, Box<Path>),
    Intersect,
    Where(Box<Path>, Box<Path>),
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    DoubleDot,
    Dot,
    Union,
    Intersect,
    Where,
}

impl Op {
    fn prec(self) -> u8 {
        match self {
            Op::DoubleDot => 1,
            Op::Dot => 2,
            Op::Union => 3,
            Op::Intersect => 4,
            Op::Where => 5,
        }
    }
}

fn combine(op: Op, l: Path, r: Path) -> Path {
    match op {
        Op::Dot => Path::Child(Box::new(l), Box::new(r)),
        Op::DoubleDot => Path::Descendants(Box::new(l), Box::new(r)),
        Op::Union => Path::Union(Box::new(l), Box::new(r)),
        Op::Intersect => Path::Intersect,
        Op::Where => Path::Where(Box::new(l), Box::new(r)),
    }
}

/// Deepest query tree accepted (operators and parentheses nest).
const MAX_DEPTH: usize = 64;

fn depth(p: &Path) -> usize {
    let mut max = 0;
    let mut stack = vec![(p, 1usize)];
    while let Some((p, d)) = stack.pop() {
        max = max.max(d);
        match p {
            Path::Child(l, r) | Path::Descendants(l, r) | Path::Union(l, r) | Path::Where(l, r) => {
                // Chains of `.` on the left are evaluated in a loop.
                let ld = if matches!(p, Path::Child(..)) {
                    d
                } else {
                    d + 1
                };
                stack.push((l, ld));
                stack.push((r, d + 1));
            }
            _ => {}
        }
    }
    max
}

const PARSE_ERROR: &str = "the JSONPath query does not parse";

struct ParseState {
    operands: Vec<Path>,
    ops: Vec<Option<Op>>,
}

impl ParseState {
    fn reduce_while(&mut self, min_prec: u8) -> Result<(), String> {
        while let Some(Some(op)) = self.ops.last().copied() {
            if op.prec() < min_prec {
                break;
            }
            self.ops.pop();
            let r = self.operands.pop().ok_or(PARSE_ERROR)?;
            let l = self.operands.pop().ok_or(PARSE_ERROR)?;
            self.operands.push(combine(op, l, r));
        }
        Ok(())
    }
}

/// Parses a query; `(`/`)` groups and binary operators use explicit stacks.
fn parse(q: &str) -> Result<Path, String> {
    let toks = lex(q)?;
    let mut st = ParseState {
        operands: Vec::new(),
        ops: Vec::new(),
    };
    let mut i = 0;
    let mut expect_operand = true;
    while i < toks.len() {
        if expect_operand {
            match &toks[i] {
                Tok::Ch('(') => {
                    st.ops.push(None);
                    i += 1;
                    continue;
                }
                Tok::Ch('$') => st.operands.push(Path::Root),
                Tok::Named(n) => st.operands.push(match n.as_str() {
                    "this" => Path::This,
                    "parent" => Path::Parent,
                    other => {
                        return Err(format!("unknown named operator `{other}` in the JSONPath"))
                    }
                }),
                Tok::Ch('*') => st.operands.push(Path::Fields(vec!["*".into()])),
                Tok::Id(_) => {
                    let (fields, next) = fields_at(&toks, i)?;
                    st.operands.push(Path::Fields(fields));
                    i = next;
                    expect_operand = false;
                    continue;
                }
                Tok::Ch('[') => {
                    let (p, next) = bracket(&toks, i)?;
                    st.operands.push(p);
                    i = next;
                    expect_operand = false;
                    continue;
                }
                _ => return Err(PARSE_ERROR.into()),
            }
            i += 1;
            expect_operand = false;
            continue;
        }
        let op = match &toks[i] {
            Tok::Ch('[') => {
                // Postfix brackets bind tightest.
                let (p, next) = bracket(&toks, i)?;
                let l = st.operands.pop().ok_or(PARSE_ERROR)?;
                st.operands.push(Path::Child(Box::new(l), Box::new(p)));
                i = next;
                continue;
            }
            Tok::Ch(')') => {
                st.reduce_while(0)?;
                match st.ops.pop() {
                    Some(None) => {}
                    _ => return Err(PARSE_ERROR.into()),
                }
                i += 1;
                continue;
            }
            Tok::Ch('.') => Op::Dot,
            Tok::DoubleDot => Op::DoubleDot,
            Tok::Ch('|') => Op::Union,
            Tok::Ch('&') => Op::Intersect,
            Tok::Where => Op::Where,
            _ => return Err(PARSE_ERROR.into()),
        };
        st.reduce_while(op.prec())?;
        st.ops.push(Some(op));
        expect_operand = true;
        i += 1;
    }
    if expect_operand {
        return Err(PARSE_ERROR.into());
    }
    st.reduce_while(0)?;
    if !st.ops.is_empty() || st.operands.len() != 1 {
        return Err(PARSE_ERROR.into());
    }
    let path = st.operands.pop().expect("one operand left");
    if depth(&path) > MAX_DEPTH {
        return Err(format!(
            "the JSONPath query nests deeper than {MAX_DEPTH} levels; simplify it"
        ));
    }
    Ok(path)
}

fn fields_at(toks: &[Tok], mut i: usize) -> Result<(Vec<String>, usize), String> {
    let mut fields = Vec::new();
    loop {
        match toks.get(i) {
            Some(Tok::Id(s)) => fields.push(s.clone()),
            _ => return Err(PARSE_ERROR.into()),
        }
        i += 1;
        if toks.get(i) == Some(&Tok::Ch(',')) && matches!(toks.get(i + 1), Some(Tok::Id(_))) {
            i += 1;
            continue;
        }
        return Ok((fields, i));
    }
}

/// `[n]`, `[a:b]`, `[*]` or `[field,...]` starting at `i` (the `[`).
fn bracket(toks: &[Tok], i: usize) -> Result<(Path, usize), String> {
    let close = |j: usize| -> Result<usize, String> {
        if toks.get(j) == Some(&Tok::Ch(']')) {
            Ok(j + 1)
        } else {
            Err(PARSE_ERROR.into())
        }
    };
    match toks.get(i + 1) {
        Some(Tok::Ch('*')) => Ok((Path::Slice(None, None), close(i + 2)?)),
        Some(Tok::Id(_)) => {
            let (fields, next) = fields_at(toks, i + 1)?;
            Ok((Path::Fields(fields), close(next)?))
        }
        Some(Tok::Num(n)) if toks.get(i + 2) != Some(&Tok::Ch(':')) => {
            Ok((Path::Index(*n), close(i + 2)?))
        }
        _ => {
            let mut j = i + 1;
            let start = match toks.get(j) {
                Some(Tok::Num(n)) => {
                    j += 1;
                    Some(*n)
                }
                _ => None,
            };
            if toks.get(j) != Some(&Tok::Ch(':')) {
                return Err(PARSE_ERROR.into());
            }
            j += 1;
            let end = match toks.get(j) {
                Some(Tok::Num(n)) => {
                    j += 1;
                    Some(*n)
                }
                _ => None,
            };
            Ok((Path::Slice(start, end), close(j)?))
        }
    }
}

/// A matched value and the chain of values it was found in (for `$` and
/// `` `parent` ``).
#[derive(Clone)]
struct Datum {
    value: Value,
    context: Option<std::rc::Rc<Datum>>,
}

fn child(value: Value, parent: &Datum) -> Datum {
    Datum {
        value,
        context: Some(std::rc::Rc::new(parent.clone())),
    }
}

fn py_len(v: &Value) -> Result<usize, String> {
    match v {
        Value::Array(a) => Ok(a.len()),
        Value::Object(m) => Ok(m.len()),
        Value::String(s) => Ok(s.chars().count()),
        _ => Err("the JSONPath index or slice was applied to a value that has no length".into()),
    }
}

/// Python's `range(len)[start:end]` indexes.
fn slice_indexes(len: usize, start: Option<i64>, end: Option<i64>) -> Vec<usize> {
    let len = len as i64;
    let norm = |x: i64| if x < 0 { (x + len).max(0) } else { x.min(len) };
    let s = start.map_or(0, norm);
    let e = end.map_or(len, norm);
    (s..e.max(s)).map(|i| i as usize).collect()
}

/// Evaluates `path` on `datum`. Recursion follows the query's own nesting,
/// which [`parse`] limits to [`MAX_DEPTH`]; data is walked with work lists.
fn find(path: &Path, datum: Datum) -> Result<Vec<Datum>, String> {
    match path {
        Path::Root => {
            let mut d = datum;
            while let Some(c) = d.context.clone() {
                d = (*c).clone();
            }
            Ok(vec![Datum {
                value: d.value,
                context: None,
            }])
        }
        Path::This => Ok(vec![datum]),
        Path::Parent => match &datum.context {
            Some(c) => Ok(vec![(**c).clone()]),
            None => Err("the JSONPath `parent` has no parent here".into()),
        },
        Path::Fields(fields) => {
            let names: Vec<String> = if fields.iter().any(|f| f == "*") {
                match &datum.value {
                    Value::Object(m) => m.keys().cloned().collect(),
                    _ => Vec::new(),
                }
            } else {
                fields.clone()
            };
            Ok(names
                .iter()
                .filter_map(|f| match &datum.value {
                    Value::Object(m) => m.get(f).map(|v| child(v.clone(), &datum)),
                    _ => None,
                })
                .collect())
        }
        Path::Index(i) => {
            let len = py_len(&datum.value)? as i64;
            if len <= *i {
                return Ok(Vec::new());
            }
            let idx = if *i < 0 { i + len } else { *i };
            match &datum.value {
                Value::Array(a) => match usize::try_from(idx).ok().and_then(|k| a.get(k)) {
                    Some(v) => Ok(vec![child(v.clone(), &datum)]),
                    None => Err("list index out of range in the JSONPath".into()),
                },
                Value::String(s) => {
                    match usize::try_from(idx).ok().and_then(|k| s.chars().nth(k)) {
                        Some(c) => Ok(vec![child(Value::String(c.to_string()), &datum)]),
                        None => Err("string index out of range in the JSONPath".into()),
                    }
                }
                _ => Err("a JSONPath index was applied to a mapping (KeyError)".into()),
            }
        }
        Path::Slice(start, end) => {
            let items: Vec<Value> = match &datum.value {
                Value::Array(a) => a.clone(),
                v @ (Value::Object(_) | Value::String(_) | Value::Bool(_)) => vec![v.clone()],
                Value::Number(n) if !n.is_f64() => vec![datum.value.clone()],
                _ => {
                    return Err("a JSONPath slice was applied to a value that has no length".into())
                }
            };
            let wrapped = !datum.value.is_array();
            let holder = if wrapped {
                Datum {
                    value: Value::Array(items.clone()),
                    context: datum.context.clone(),
                }
            } else {
                datum.clone()
            };
            Ok(slice_indexes(items.len(), *start, *end)
                .into_iter()
                .map(|k| child(items[k].clone(), &holder))
                .collect())
        }
        Path::Child(l, r) => {
            let mut out = Vec::new();
            for d in find_iter(l, datum)? {
                out.extend(find_iter(r, d)?);
            }
            Ok(out)
        }
        Path::Where(l, r) => {
            let mut out = Vec::new();
            for d in find_iter(l, datum)? {
                if !find_iter(r, d.clone())?.is_empty() {
                    out.push(d);
                }
            }
            Ok(out)
        }
        Path::Union(l, r) => {
            let mut out = find_iter(l, datum.clone())?;
            out.extend(find_iter(r, datum)?);
            Ok(out)
        }
        Path::Intersect => {
            Err("the JSONPath operator & is not implemented (NotImplementedError)".into())
        }
        Path::Descendants(l, r) => {
            let mut out = Vec::new();
            for left in find_iter(l, datum)? {
                // Pre-order walk: the node's own matches, then its children's.
                let mut work = vec![left];
                while let Some(d) = work.pop() {
                    out.extend(find_iter(r, d.clone())?);
                    let children: Vec<Datum> = match &d.value {
                        Value::Array(a) => a.iter().map(|v| child(v.clone(), &d)).collect(),
                        Value::Object(m) => m.values().map(|v| child(v.clone(), &d)).collect(),
                        _ => Vec::new(),
                    };
                    work.extend(children.into_iter().rev());
                }
            }
            Ok(out)
        }
    }
}

/// `find` without recursion on the path's depth for the common chains:
/// nested `Child` nodes on the left are unrolled into a list.
fn find_iter(path: &Path, datum: Datum) -> Result<Vec<Datum>, String> {
    let mut chain: Vec<&Path> = Vec::new();
    let mut p = path;
    while let Path::Child(l, r) = p {
        chain.push(r);
        p = l;
    }
    let mut current = find(p, datum)?;
    for r in chain.into_iter().rev() {
        let mut next = Vec::new();
        for d in current {
            next.extend(find(r, d)?);
        }
        current = next;
    }
    Ok(current)
}

/// `jsonpath_query(value, query)`: the matched values, or `None` (null)
/// when nothing matches.
pub fn query(value: &Value, q: &str) -> Result<Value, String> {
    let path = parse(q)?;
    let matches = find_iter(
        &path,
        Datum {
            value: value.clone(),
            context: None,
        },
    )?;
    if matches.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::Array(matches.into_iter().map(|d| d.value).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_rw_dialect() {
        let obj = json!({"people": [{"first": "James"}, {"first": "Jacob"}, {"missing": 1}], "foo": {"bar": "baz"}});
        assert_eq!(
            query(&obj, "people[*].first").unwrap(),
            json!(["James", "Jacob"])
        );
        assert_eq!(query(&obj, "$.foo.bar").unwrap(), json!(["baz"]));
        assert_eq!(query(&obj, "nothing").unwrap(), Value::Null);
        assert_eq!(query(&obj, "foo[*].bar").unwrap(), json!(["baz"]));
        assert_eq!(query(&obj, "$..first").unwrap(), json!(["James", "Jacob"]));
        assert!(query(&obj, "foo[0]").is_err());
    }
}
