//! `basename` and `dirname` (`st2common/expressions/functions/path.py`),
//! with Python's `posixpath` rules.

/// `os.path.basename`: the text after the last `/`.
pub fn basename(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => p[i + 1..].to_string(),
        None => p.to_string(),
    }
}

/// `os.path.dirname`: the text before the last `/`, without trailing
/// slashes unless it is all slashes.
pub fn dirname(p: &str) -> String {
    let head = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    if !head.is_empty() && !head.bytes().all(|b| b == b'/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules() {
        assert_eq!(basename("/some/path/to/dir/"), "");
        assert_eq!(dirname("/some/path/to/dir/"), "/some/path/to/dir");
        assert_eq!(dirname("//x"), "//");
        assert_eq!(dirname("a//b"), "a");
        assert_eq!(dirname("file"), "");
    }
}
