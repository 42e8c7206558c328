//! Reading an installer's failure: which requirement failed, and why, from
//! what uv or pip printed. Both name the requirement in a few set phrases
//! (uv: "there is no version of X", "X was not found in the package
//! registry", "you require X, we can conclude", "Failed to build `X`",
//! "Couldn't parse requirement in `F` at position N"; pip: "No matching
//! distribution found for X", "The user requested X", "Invalid requirement:
//! 'X'", "Failed building wheel for X").

use super::requirements::{requirement_name, RequirementLine, Requirements};

/// At most this many lines of the installer's output go into an error.
const DETAIL_LINES: usize = 20;
/// Longer lines (pip's "from versions: ..." lists) are cut.
const LINE_CHARS: usize = 300;

/// What failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The requirement as the installer named it, e.g. `tabulate==99.0.0`.
    pub requirement: Option<String>,
    /// The pack's line that asked for it, when it is a direct requirement.
    pub line: Option<RequirementLine>,
    /// The installer's own sentence.
    pub reason: String,
    /// The installer's error lines, trimmed.
    pub details: String,
}

/// Reads `output` (every line the installer printed).
pub fn diagnose(output: &[String], reqs: Option<&Requirements>) -> Diagnosis {
    let text = output.join("\n");
    let candidates = named_requirements(&text);
    let mut line = None;
    let mut requirement = candidates.first().cloned();
    if let Some(reqs) = reqs {
        if let Some(at) = parse_error_line(&text, reqs) {
            requirement = Some(at.text.clone());
            line = Some(at);
        } else if let Some((cand, at)) = candidates.iter().find_map(|c| {
            requirement_name(c)
                .and_then(|n| reqs.line_for(n))
                .map(|l| (c.clone(), l.clone()))
        }) {
            requirement = Some(cand);
            line = Some(at);
        }
    }
    Diagnosis {
        requirement,
        line,
        reason: reason(output),
        details: details(output),
    }
}

/// Requirements named in the output, most specific first.
fn named_requirements(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim().trim_matches(['\'', '"', '`', ',', '.']);
        if !s.is_empty() && !found.iter().any(|f: &String| f == s) {
            found.push(s.to_string());
        }
    };
    // pip
    for (marker, end) in [
        ("No matching distribution found for ", &['\n'][..]),
        ("The user requested ", &['\n'][..]),
        ("Invalid requirement: ", &['\n'][..]),
        ("Failed building wheel for ", &['\n', ' '][..]),
    ] {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            push(rest.split(end).next().unwrap_or(rest));
        }
    }
    // uv: the user's requirement in the last "you require X, we can conclude"
    // is the one the resolution could not meet.
    let mut required: Vec<&str> = Vec::new();
    for (i, _) in text.match_indices("you require ") {
        let rest = &text[i + "you require ".len()..];
        if let Some(end) = rest.find(", we can conclude") {
            required.push(&rest[..end]);
        }
    }
    if let Some(last) = required.last() {
        push(last);
    }
    for marker in ["there is no version of ", "Because "] {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            if marker == "Because " && !rest.contains(" was not found in the package registry") {
                continue;
            }
            push(rest.split([' ', '\n']).next().unwrap_or(rest));
        }
    }
    for marker in [
        "Failed to build `",
        "Failed to download `",
        "Failed to fetch `",
    ] {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            if let Some(end) = rest.find('`') {
                push(&rest[..end]);
            }
        }
    }
    found
}

/// uv's "Couldn't parse requirement in `FILE` at position N": the line at
/// that byte offset of the file.
fn parse_error_line(text: &str, reqs: &Requirements) -> Option<RequirementLine> {
    let marker = "Couldn't parse requirement in `";
    let i = text.find(marker)?;
    let rest = &text[i + marker.len()..];
    let (file, rest) = rest.split_once('`')?;
    let pos: usize = rest
        .trim_start()
        .strip_prefix("at position ")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let path = std::path::Path::new(file);
    let content = std::fs::read_to_string(path).ok()?;
    let line_no = content
        .get(..pos.min(content.len()))?
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1;
    let canonical = path.canonicalize().ok();
    reqs.lines
        .iter()
        .rev()
        .filter(|l| l.file.canonicalize().ok() == canonical)
        .find(|l| l.line <= line_no)
        .cloned()
}

/// The installer's main error sentence.
fn reason(output: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut in_cause = false;
    for line in output {
        let trimmed = line.trim();
        let cause = trimmed
            .strip_prefix("cause:")
            .or_else(|| trimmed.strip_prefix("Caused by:"))
            .or_else(|| trimmed.strip_prefix("╰─▶"))
            .or_else(|| trimmed.strip_prefix("├─▶"));
        if let Some(c) = cause {
            parts.push(c.trim().to_string());
            in_cause = true;
        } else if in_cause && line.starts_with("    ") && !trimmed.is_empty() {
            parts.push(trimmed.to_string());
        } else {
            in_cause = false;
        }
    }
    if parts.is_empty() {
        parts = output
            .iter()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("ERROR: ")
                    .or_else(|| l.trim().strip_prefix("error: "))
            })
            .take(1)
            .map(str::to_string)
            .collect();
    }
    let mut reason = parts.join(" ");
    if reason.is_empty() {
        reason = output
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| "the installer printed nothing".into());
    }
    cut(&reason, 600)
}

/// The output from the first error line on, trimmed to [`DETAIL_LINES`].
fn details(output: &[String]) -> String {
    let start = output
        .iter()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with("error:")
                || t.starts_with("ERROR:")
                || t.starts_with('×')
                || t.starts_with("Traceback")
        })
        .unwrap_or_else(|| output.len().saturating_sub(DETAIL_LINES));
    output[start..]
        .iter()
        .take(DETAIL_LINES)
        .map(|l| cut(l, LINE_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    /// What uv and pip print for the usual failures (captured from uv 0.13
    /// and pip 23), and the requirement each names.
    #[test]
    fn names_the_requirement_in_uv_and_pip_output() {
        let cases = [
            ("error: No solution found when resolving dependencies\n  cause: Because there is no version of tabulate==99.0.0 and you require tabulate==99.0.0, we can conclude that your requirements are unsatisfiable.", "tabulate==99.0.0"),
            ("error: No solution found when resolving dependencies\n  cause: Because stormdesk-no-such-package-xyz was not found in the package registry and you require stormdesk-no-such-package-xyz==1.0, we can conclude that your requirements are unsatisfiable.", "stormdesk-no-such-package-xyz==1.0"),
            ("error: No solution found when resolving dependencies\n  cause: Because requests==2.32.4 depends on urllib3>=1.21.1,<3 and you require requests==2.32.4, we can conclude that you require urllib3>=1.21.1,<3.\n         And because you require urllib3==1.20, we can conclude that your requirements are unsatisfiable.", "urllib3==1.20"),
            ("ERROR: Could not find a version that satisfies the requirement tabulate==99.0.0 (from versions: 0.3, 0.4.2)\nERROR: No matching distribution found for tabulate==99.0.0", "tabulate==99.0.0"),
            ("ERROR: Cannot install -r r4.txt (line 1) and urllib3==1.20 because these package versions have conflicting dependencies.\n\nThe conflict is caused by:\n    The user requested urllib3==1.20\n    requests 2.32.4 depends on urllib3<3 and >=1.21.1", "urllib3==1.20"),
            ("  × Failed to build `brokenpkg==1.0`\n  ├─▶ The build backend returned an error", "brokenpkg==1.0"),
        ];
        for (out, want) in cases {
            let d = diagnose(&lines(out), None);
            assert_eq!(d.requirement.as_deref(), Some(want), "{out}");
            assert!(!d.reason.is_empty());
        }
    }

    #[test]
    fn uv_reason_joins_the_cause_lines() {
        let out = "error: No solution found when resolving dependencies\n  cause: Because a depends on b\n         And because c, we can conclude x.";
        assert_eq!(
            diagnose(&lines(out), None).reason,
            "Because a depends on b And because c, we can conclude x."
        );
    }

    #[test]
    fn a_line_uv_cannot_parse_is_found_by_its_byte_position() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("requirements.txt"),
            "six==1.16.0\ntabulate===\n",
        )
        .unwrap();
        let reqs = Requirements::read("p", dir.path()).unwrap().unwrap();
        let out = format!(
            "error: Couldn't parse requirement in `{}` at position 12\n  cause: Unexpected end of version specifier, expected version\n         tabulate===\n                 ^^^",
            reqs.file.display()
        );
        let d = diagnose(&lines(&out), Some(&reqs));
        assert_eq!(d.requirement.as_deref(), Some("tabulate==="));
        assert_eq!(d.line.map(|l| l.line), Some(2));
    }
}
