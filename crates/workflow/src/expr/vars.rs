//! The context variables an expression reads, found the way Orquesta's
//! inspection finds them (`extract_vars` in `orquesta/expressions/yql.py`
//! and `jinja.py`): textual patterns over each `<% %>` / `{{ }}` segment.
//!
//! Each segment is scanned for `ctx(...)` references (a greedy run of
//! name, quote, dot, bracket and parenthesis characters after `ctx(`),
//! and each reference yields at most one variable per form: `ctx().x`,
//! `ctx(x)`, `ctx('x')`, `ctx("x")`. Only those forms count, so `$.x`,
//! lambdas and `{% %}` blocks are not checked, exactly as in Orquesta.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use super::delimited;

struct Patterns {
    reference: Regex,
    dotted: Regex,
    bare: Regex,
    single: Regex,
    double: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let r = r#"[\]\[a-zA-Z0-9_'"\.()]*"#;
        let var = r"[a-zA-Z0-9_-]+";
        let build = |p: &str| Regex::new(p).expect("valid pattern");
        Patterns {
            reference: build(&format!(r#"\bctx\(['"]?{r}['"]?\)\.?{r}"#)),
            dotted: build(r"\bctx\(\)\."),
            bare: build(&format!(r"\bctx\(({var})\)")),
            single: build(&format!(r"\bctx\('({var})'\)")),
            double: build(&format!(r#"\bctx\("({var})"\)"#)),
        }
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `ctx().x`: the name right after `ctx().`, the longest run that ends at
/// a word boundary and is not followed by `(` (a method call).
fn dotted_var<'a>(p: &Patterns, reference: &'a str) -> Option<&'a str> {
    for m in p.dotted.find_iter(reference) {
        let rest = &reference[m.end()..];
        let run = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(rest.len(), |(i, _)| i);
        let mut len = run;
        while len > 0 {
            let last = rest[..len].chars().next_back().unwrap_or(' ');
            let next = rest[len..].chars().next();
            let boundary = is_word(last) != next.is_some_and(is_word);
            if boundary && next != Some('(') {
                return Some(&rest[..len]);
            }
            len -= rest[..len].chars().next_back().map_or(1, char::len_utf8);
        }
    }
    None
}

/// The variables read by every expression segment of `text` (YAQL `<% %>`
/// and Jinja `{{ }}`), sorted and without duplicates.
pub fn extract(text: &str) -> Vec<String> {
    if !text.contains("ctx(") {
        return Vec::new();
    }
    let p = patterns();
    let mut out = BTreeSet::new();
    let segments = delimited(text, "<%", "%>").chain(delimited(text, "{{", "}}"));
    for (start, end) in segments {
        let inner = text[start + 2..end - 2].trim();
        for m in p.reference.find_iter(inner) {
            let reference = m.as_str().trim();
            if let Some(v) = dotted_var(p, reference) {
                out.insert(v.to_string());
            }
            for re in [&p.bare, &p.single, &p.double] {
                if let Some(c) = re.captures(reference) {
                    out.insert(c[1].to_string());
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_four_forms() {
        assert_eq!(
            extract("<% ctx().a + ctx(b) %> {{ ctx('c') ~ ctx(\"d\") }}"),
            vec!["a", "b", "c", "d"]
        );
    }

    #[test]
    fn ignores_dollar_paths_and_method_calls() {
        assert_eq!(extract("<% $.x + ctx().keys() %>"), Vec::<String>::new());
        assert_eq!(extract("<% ctx().xs.select($.name) %>"), vec!["xs"]);
    }

    #[test]
    fn one_variable_per_form_per_reference() {
        // The reference runs greedily over `.select(ctx().y)`, so only the
        // first dotted name counts, as in Orquesta.
        assert_eq!(extract("<% ctx().x.select(ctx().y) %>"), vec!["x"]);
    }
}
