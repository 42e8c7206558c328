//! `to_yaml_string`: PyYAML's `yaml.dump(value, Dumper=CSafeDumper,
//! default_flow_style=False, allow_unicode=True, indent=...)` as StackStorm
//! calls it (`st2common/expressions/functions/data.py`).
//!
//! A port of the parts of PyYAML's emitter (`yaml/emitter.py`) that JSON
//! data reaches: block collections, flow `[]`/`{}` for empty ones, plain,
//! single- and double-quoted scalars with their line folding at 80 columns,
//! keys sorted (PyYAML's `sort_keys=True`). The value is first flattened to
//! events and the emitter keeps its states on a stack, so depth does not
//! use the Rust stack.

use serde_json::Value;

use super::yaml_resolve::{resolve_plain, Implicit};
use crate::pyrepr::float_repr;

#[derive(Debug)]
enum Event {
    Scalar { value: String, plain_implicit: bool },
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
    StreamEnd,
}

fn represent_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let v = float_repr(f).to_lowercase();
    if !v.contains('.') && v.contains('e') {
        v.replacen('e', ".0e", 1)
    } else {
        v
    }
}

/// Flattens a value into emitter events (SafeRepresenter's choices).
fn events(value: &Value) -> Vec<Event> {
    enum Work<'v> {
        Value(&'v Value),
        Key(String),
        End(bool),
    }
    let mut out = Vec::new();
    let mut stack = vec![Work::Value(value)];
    while let Some(w) = stack.pop() {
        let v = match w {
            Work::End(seq) => {
                out.push(if seq { Event::SeqEnd } else { Event::MapEnd });
                continue;
            }
            Work::Key(k) => {
                let plain_implicit = resolve_plain(&k) == Implicit::Str;
                out.push(Event::Scalar {
                    value: k,
                    plain_implicit,
                });
                continue;
            }
            Work::Value(v) => v,
        };
        let scalar = |value: String, tag: Implicit| Event::Scalar {
            plain_implicit: resolve_plain(&value) == tag,
            value,
        };
        match v {
            Value::Null => out.push(scalar("null".into(), Implicit::Null)),
            Value::Bool(b) => out.push(scalar(
                if *b { "true" } else { "false" }.into(),
                Implicit::Bool,
            )),
            Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(0.0);
                out.push(scalar(represent_float(f), Implicit::Float));
            }
            Value::Number(n) => out.push(scalar(n.to_string(), Implicit::Int)),
            Value::String(s) => out.push(scalar(s.clone(), Implicit::Str)),
            Value::Array(items) => {
                out.push(Event::SeqStart);
                stack.push(Work::End(true));
                for item in items.iter().rev() {
                    stack.push(Work::Value(item));
                }
            }
            Value::Object(map) => {
                out.push(Event::MapStart);
                stack.push(Work::End(false));
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys.into_iter().rev() {
                    stack.push(Work::Value(&map[k]));
                    stack.push(Work::Key(k.clone()));
                }
            }
        }
    }
    out.push(Event::StreamEnd);
    out
}

#[derive(Debug, Clone, Copy)]
enum State {
    DocumentStart,
    DocumentEnd,
    FirstFlowItem,
    FirstBlockSeqItem,
    BlockSeqItem,
    FirstBlockMapKey,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    Nothing,
}

struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_space_or_break(c: char) -> bool {
    matches!(
        c,
        '\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn analyze(scalar: &str, allow_unicode: bool) -> Analysis {
    let chars: Vec<char> = scalar.chars().collect();
    if chars.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    if scalar.starts_with("---") || scalar.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = chars.len() == 1 || is_space_or_break(chars[1]);
    let (mut previous_space, mut previous_break) = (false, false);
    let last = chars.len() - 1;
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_indicators = true;
                block_indicators = true;
            }
            if ch == '?' || ch == ':' {
                flow_indicators = true;
                if followed_by_ws {
                    block_indicators = true;
                }
            }
            if ch == '-' && followed_by_ws {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_indicators = true;
            }
            if ch == ':' {
                flow_indicators = true;
                if followed_by_ws {
                    block_indicators = true;
                }
            }
            if ch == '#' && preceded_by_ws {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            // libyaml's IS_PRINTABLE: the BMP ranges only (no NEL, no
            // astral characters, no BOM).
            let unicode = (('\u{a0}'..='\u{d7ff}').contains(&ch)
                || ('\u{e000}'..='\u{fffd}').contains(&ch))
                && ch != '\u{feff}';
            if !unicode || !allow_unicode {
                special = true;
            }
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_space_or_break(ch);
        followed_by_ws = index + 2 >= chars.len() || is_space_or_break(chars[index + 2]);
    }
    let mut a = Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: true,
        allow_block_plain: true,
        allow_single_quoted: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if break_space {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
    }
    if space_break || special {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
    }
    if line_breaks {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if flow_indicators {
        a.allow_flow_plain = false;
    }
    if block_indicators {
        a.allow_block_plain = false;
    }
    a
}

struct Emitter {
    out: String,
    events: Vec<Event>,
    pos: usize,
    states: Vec<State>,
    state: State,
    indents: Vec<Option<usize>>,
    indent: Option<usize>,
    flow_level: usize,
    mapping_context: bool,
    simple_key_context: bool,
    column: usize,
    whitespace: bool,
    indention: bool,
    best_indent: usize,
    best_width: usize,
    allow_unicode: bool,
}

impl Emitter {
    fn event(&self) -> &Event {
        &self.events[self.pos]
    }

    fn next_is(&self, f: fn(&Event) -> bool) -> bool {
        self.events.get(self.pos + 1).is_some_and(f)
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        match self.indent {
            None => self.indent = Some(if flow { self.best_indent } else { 0 }),
            Some(i) if !indentless => self.indent = Some(i + self.best_indent),
            Some(_) => {}
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_ws: bool,
        whitespace: bool,
        indention: bool,
    ) {
        let data = if self.whitespace || !need_ws {
            indicator.to_string()
        } else {
            format!(" {indicator}")
        };
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.write(&data);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    fn run(mut self) -> String {
        while self.pos < self.events.len() {
            self.step();
            self.pos += 1;
        }
        self.out
    }

    fn step(&mut self) {
        match self.state {
            State::DocumentStart => {
                // libyaml (CSafeDumper) writes no `---` and no `...` around
                // an implicit document, whatever its root scalar.
                if matches!(self.event(), Event::StreamEnd) {
                    self.state = State::Nothing;
                    return;
                }
                self.states.push(State::DocumentEnd);
                self.expect_node(true, false, false);
                self.after_node();
            }
            State::DocumentEnd => {}
            State::FirstFlowItem => {
                // Only empty collections are written in flow style.
                self.pop_indent();
                self.flow_level -= 1;
                let close = if matches!(self.event(), Event::SeqEnd) {
                    "]"
                } else {
                    "}"
                };
                self.write_indicator(close, false, false, false);
                self.state = self.states.pop().unwrap_or(State::Nothing);
                self.after_node();
            }
            State::FirstBlockSeqItem | State::BlockSeqItem => {
                if matches!(self.state, State::BlockSeqItem)
                    && matches!(self.event(), Event::SeqEnd)
                {
                    self.pop_indent();
                    self.state = self.states.pop().unwrap_or(State::Nothing);
                    self.after_node();
                    return;
                }
                self.write_indent();
                self.write_indicator("-", true, false, true);
                self.states.push(State::BlockSeqItem);
                self.expect_node(false, false, false);
                self.after_node();
            }
            State::FirstBlockMapKey | State::BlockMapKey => {
                if matches!(self.state, State::BlockMapKey) && matches!(self.event(), Event::MapEnd)
                {
                    self.pop_indent();
                    self.state = self.states.pop().unwrap_or(State::Nothing);
                    self.after_node();
                    return;
                }
                self.write_indent();
                if self.check_simple_key() {
                    self.states.push(State::BlockMapSimpleValue);
                    self.expect_node(false, true, true);
                } else {
                    self.write_indicator("?", true, false, true);
                    self.states.push(State::BlockMapValue);
                    self.expect_node(false, true, false);
                }
                self.after_node();
            }
            State::BlockMapSimpleValue => {
                self.write_indicator(":", false, false, false);
                self.states.push(State::BlockMapKey);
                self.expect_node(false, true, false);
                self.after_node();
            }
            State::BlockMapValue => {
                self.write_indent();
                self.write_indicator(":", true, false, true);
                self.states.push(State::BlockMapKey);
                self.expect_node(false, true, false);
                self.after_node();
            }
            State::Nothing => {}
        }
    }

    /// After a scalar the state stack says what comes next; collections
    /// set their own state.
    fn after_node(&mut self) {
        if let State::DocumentEnd = self.state {
            self.write_indent();
            self.state = State::DocumentStart;
        }
    }

    fn check_simple_key(&self) -> bool {
        match self.event() {
            Event::Scalar { value, .. } => {
                // libyaml accepts an empty simple key (`'': 1`).
                let a = analyze(value, self.allow_unicode);
                value.chars().count() < 128 && !a.multiline
            }
            Event::SeqStart => self.next_is(|e| matches!(e, Event::SeqEnd)),
            Event::MapStart => self.next_is(|e| matches!(e, Event::MapEnd)),
            _ => false,
        }
    }

    fn expect_node(&mut self, root: bool, mapping: bool, simple_key: bool) {
        let _ = root;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match self.event() {
            Event::Scalar { .. } => {
                self.increase_indent(true, false);
                self.process_scalar();
                self.pop_indent();
                self.state = self.states.pop().unwrap_or(State::Nothing);
            }
            Event::SeqStart | Event::MapStart => {
                let seq = matches!(self.event(), Event::SeqStart);
                let empty = if seq {
                    self.next_is(|e| matches!(e, Event::SeqEnd))
                } else {
                    self.next_is(|e| matches!(e, Event::MapEnd))
                };
                if self.flow_level > 0 || empty {
                    self.write_indicator(if seq { "[" } else { "{" }, true, true, false);
                    self.flow_level += 1;
                    self.increase_indent(true, false);
                    self.state = State::FirstFlowItem;
                } else if seq {
                    let indentless = self.mapping_context && !self.indention;
                    self.increase_indent(false, indentless);
                    self.state = State::FirstBlockSeqItem;
                } else {
                    self.increase_indent(false, false);
                    self.state = State::FirstBlockMapKey;
                }
            }
            _ => {}
        }
    }

    fn process_scalar(&mut self) {
        let Event::Scalar {
            value,
            plain_implicit,
        } = self.event()
        else {
            return;
        };
        let value = value.clone();
        let plain_implicit = *plain_implicit;
        let a = analyze(&value, self.allow_unicode);
        let plain_ok = !(self.simple_key_context && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.allow_flow_plain)
                || (self.flow_level == 0 && a.allow_block_plain));
        let split = !self.simple_key_context;
        if plain_implicit && plain_ok {
            self.write_plain(&value, split);
        } else if a.allow_single_quoted && !(self.simple_key_context && a.multiline) {
            self.write_single_quoted(&value, split);
        } else {
            self.write_double_quoted(&value, split);
        }
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &chars[start..end] {
                        self.write_line_break(Some(br));
                    }
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > self.best_width
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &chars[start..end] {
                        self.write_line_break(Some(br));
                    }
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || is_break(c)) && start < end {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    /// libyaml's `yaml_emitter_write_double_quoted`: folds at the first
    /// space of a run past the width, escaping a following space.
    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            let printable = c == '\n'
                || (' '..='~').contains(&c)
                || (self.allow_unicode
                    && (('\u{a0}'..='\u{d7ff}').contains(&c)
                        || ('\u{e000}'..='\u{fffd}').contains(&c))
                    && c != '\u{feff}');
            if !printable
                || matches!(
                    c,
                    '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' | '"' | '\\'
                )
            {
                let data = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".into(),
                    '\u{8}' => "\\b".into(),
                    '\t' => "\\t".into(),
                    '\n' => "\\n".into(),
                    '\u{b}' => "\\v".into(),
                    '\u{c}' => "\\f".into(),
                    '\r' => "\\r".into(),
                    '\u{1b}' => "\\e".into(),
                    '"' => "\\\"".into(),
                    '\\' => "\\\\".into(),
                    '\u{85}' => "\\N".into(),
                    '\u{a0}' => "\\_".into(),
                    '\u{2028}' => "\\L".into(),
                    '\u{2029}' => "\\P".into(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.write(&data);
                spaces = false;
            } else if c == ' ' {
                if split
                    && !spaces
                    && self.column > self.best_width
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                let mut buf = [0u8; 4];
                self.write(c.encode_utf8(&mut buf));
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

/// `yaml.dump(value, Dumper=SafeDumper, default_flow_style=False,
/// allow_unicode=allow_unicode, indent=indent)`.
pub fn dump_with(value: &Value, indent: Option<i64>, allow_unicode: bool) -> String {
    let best_indent = match indent {
        Some(i) if 1 < i && i < 10 => i as usize,
        _ => 2,
    };
    let emitter = Emitter {
        out: String::new(),
        events: events(value),
        pos: 0,
        states: Vec::new(),
        state: State::DocumentStart,
        indents: Vec::new(),
        indent: None,
        flow_level: 0,
        mapping_context: false,
        simple_key_context: false,
        column: 0,
        whitespace: true,
        indention: true,
        best_indent,
        best_width: 80,
        allow_unicode,
    };
    emitter.run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_like_pyyaml() {
        let v = json!({"b": [1, {"x": "yes"}], "a": "text", "e": [], "n": null});
        assert_eq!(
            dump_with(&v, None, true),
            "a: text\nb:\n- 1\n- x: 'yes'\ne: []\nn: null\n"
        );
        assert_eq!(dump_with(&json!("abc"), None, true), "abc\n");
        assert_eq!(
            dump_with(&json!([[1, 2], 3]), None, true),
            "- - 1\n  - 2\n- 3\n"
        );
    }
}
