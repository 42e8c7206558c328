//! A pack's `requirements.txt`, read and normalised for the environment key.
//!
//! Normalised: `\` continuations joined, comments and blank lines dropped,
//! each line trimmed. The files it includes (`-r`/`--requirement`,
//! `-c`/`--constraint`) are read too (relative to the including file, as pip
//! does), so a change in an included file gives a new key. Includes nest at
//! most [`MAX_INCLUDE_DEPTH`] deep and are followed with an explicit stack.

use std::path::{Path, PathBuf};

use super::PyEnvError;

/// The file StackStorm installs a pack's dependencies from.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";
/// How deep `-r`/`-c` includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// A file still to read: its path, how deep it is included, and the
/// (file, line) that includes it.
type Pending = (PathBuf, usize, Option<(PathBuf, usize)>);

/// One requirement line as written, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementLine {
    /// The normalised text of the line, e.g. `six==1.16.0`.
    pub text: String,
    pub file: PathBuf,
    /// 1-based line number (of the first physical line of a continued line).
    pub line: usize,
}

/// A pack's requirements at one revision.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// `<pack>/requirements.txt`, what the installer is given.
    pub file: PathBuf,
    /// Every line, included files' lines after their include line.
    pub lines: Vec<RequirementLine>,
    /// What the key hashes: each file's path relative to the pack and its
    /// normalised lines.
    pub normalised: String,
}

impl Requirements {
    /// Reads `<pack_dir>/requirements.txt`. `Ok(None)`: the pack has none, or
    /// nothing but comments in it, so its actions run on the base layer.
    pub fn read(pack: &str, pack_dir: &Path) -> Result<Option<Requirements>, PyEnvError> {
        let file = pack_dir.join(REQUIREMENTS_FILE);
        if !file.is_file() {
            return Ok(None);
        }
        let mut lines = Vec::new();
        let mut normalised = String::new();
        // (file, depth, included from (file, line)); includes are read after
        // the file that names them, in the order they are named.
        let mut stack: Vec<Pending> = vec![(file.clone(), 0, None)];
        let mut seen: Vec<PathBuf> = Vec::new();
        while let Some((path, depth, from)) = stack.pop() {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical);
            let text = std::fs::read_to_string(&path).map_err(|e| match &from {
                Some((parent, line)) => PyEnvError::Requirements {
                    pack: pack.to_string(),
                    file: parent.clone(),
                    line: Some(*line),
                    message: format!(
                        "the included file {} cannot be read: {e}; fix the path or remove the line",
                        path.display()
                    ),
                },
                None => PyEnvError::Requirements {
                    pack: pack.to_string(),
                    file: path.clone(),
                    line: None,
                    message: format!("cannot read it: {e}"),
                },
            })?;
            let rel = path.strip_prefix(pack_dir).unwrap_or(&path);
            normalised.push_str(&format!("# {}\n", rel.display()));
            let mut includes = Vec::new();
            for (line_no, line) in logical_lines(&text) {
                normalised.push_str(&line);
                normalised.push('\n');
                if let Some(target) = include_target(&line) {
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(PyEnvError::Requirements {
                            pack: pack.to_string(),
                            file: path.clone(),
                            line: Some(line_no),
                            message: format!(
                                "includes nest more than {MAX_INCLUDE_DEPTH} files deep; flatten them"
                            ),
                        });
                    }
                    let base = path.parent().unwrap_or(pack_dir);
                    includes.push((base.join(target), depth + 1, Some((path.clone(), line_no))));
                }
                lines.push(RequirementLine {
                    text: line,
                    file: path.clone(),
                    line: line_no,
                });
            }
            stack.extend(includes.into_iter().rev());
        }
        if lines.is_empty() {
            return Ok(None);
        }
        Ok(Some(Requirements {
            file,
            lines,
            normalised,
        }))
    }

    /// The line that asks for the distribution `name` (compared as PyPI
    /// does: case-insensitive, `-`, `_` and `.` alike).
    pub fn line_for(&self, name: &str) -> Option<&RequirementLine> {
        let wanted = canonical_name(name);
        self.lines
            .iter()
            .find(|l| requirement_name(&l.text).is_some_and(|n| canonical_name(n) == wanted))
    }
}

/// Logical lines of a requirements file: continuations joined, comments and
/// blank lines dropped, each trimmed; with the 1-based number of its first line.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        let without_comment = strip_comment(raw);
        if let Some(continued) = without_comment.strip_suffix('\\') {
            current.push_str(continued);
            current.push(' ');
            continue;
        }
        current.push_str(without_comment);
        let line = current.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() {
            out.push((start, line));
        }
        current.clear();
    }
    let line = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if !line.is_empty() {
        out.push((start, line));
    }
    out
}

/// pip's rule: `#` starts a comment at the start of a line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// The file named by `-r FILE`, `--requirement FILE`, `-c FILE`,
/// `--constraint FILE` (also `-rFILE`, `--requirement=FILE`).
fn include_target(line: &str) -> Option<&str> {
    for flag in ["--requirement", "--constraint", "-r", "-c"] {
        if let Some(rest) = line.strip_prefix(flag) {
            let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
            if !rest.is_empty() && (flag.len() == 2 || line.as_bytes()[flag.len()] != b'-') {
                return Some(rest);
            }
        }
    }
    None
}

/// The distribution name a requirement line asks for (`six>=1.9; python_version<'4'`
/// gives `six`); `None` for options, URLs and paths.
pub fn requirement_name(line: &str) -> Option<&str> {
    if line.starts_with('-')
        || line.starts_with('.')
        || line.starts_with('/')
        || line.contains("://")
    {
        let egg = line.split("#egg=").nth(1)?;
        return Some(egg.split(['&', ' ', '[']).next().unwrap_or(egg));
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    (end > 0).then(|| &line[..end])
}

/// PEP 503 normalised name: lowercase, runs of `-`, `_`, `.` as one `-`.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_lines_join_continuations_and_drop_comments() {
        let text = "# header\nsix==1.16.0  # pinned\n\nrequests>=2 \\\n   ; python_version >= '3'\nurl#frag\n";
        assert_eq!(
            logical_lines(text),
            vec![
                (2, "six==1.16.0".to_string()),
                (4, "requests>=2 ; python_version >= '3'".to_string()),
                (6, "url#frag".to_string()),
            ]
        );
    }

    #[test]
    fn includes_are_recognised() {
        assert_eq!(include_target("-r base.txt"), Some("base.txt"));
        assert_eq!(include_target("-rbase.txt"), Some("base.txt"));
        assert_eq!(include_target("--requirement=base.txt"), Some("base.txt"));
        assert_eq!(include_target("--constraint c.txt"), Some("c.txt"));
        assert_eq!(include_target("requests"), None);
        assert_eq!(include_target("--reinstall"), None);
    }

    #[test]
    fn names_compare_as_pypi_does() {
        assert_eq!(
            requirement_name("python-slugify==8.0.4"),
            Some("python-slugify")
        );
        assert_eq!(requirement_name("Foo_Bar[extra]>=1"), Some("Foo_Bar"));
        assert_eq!(
            requirement_name("-e git+https://x/y.git#egg=thing"),
            Some("thing")
        );
        assert_eq!(requirement_name("--index-url https://x"), None);
        assert_eq!(canonical_name("Foo__Bar.baz"), "foo-bar-baz");
    }

    #[test]
    fn included_files_change_the_normalised_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "-r more.txt\nsix\n").unwrap();
        std::fs::write(dir.path().join("more.txt"), "tabulate==0.9.0\n").unwrap();
        let a = Requirements::read("p", dir.path()).unwrap().unwrap();
        assert_eq!(a.lines.len(), 3);
        assert_eq!(a.line_for("Tabulate").unwrap().line, 1);
        std::fs::write(dir.path().join("more.txt"), "tabulate==0.8.10\n").unwrap();
        let b = Requirements::read("p", dir.path()).unwrap().unwrap();
        assert_ne!(a.normalised, b.normalised);
    }

    #[test]
    fn comments_only_means_no_requirements_and_a_missing_include_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "# nothing\n\n").unwrap();
        assert!(Requirements::read("p", dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join("requirements.txt"), "six\n-r gone.txt\n").unwrap();
        let err = Requirements::read("p", dir.path()).unwrap_err().to_string();
        assert!(err.contains("gone.txt") && err.contains("line 2"), "{err}");
    }
}
