//! "Did you mean" candidates for names typed by people.

/// Candidates close to `word` (edit distance, or one containing the other),
/// closest first, at most three.
pub fn close_matches<'a, I>(word: &str, candidates: I) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = word.to_lowercase();
    let limit = (w.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let d = distance(&w, &lc);
            let contains = !w.is_empty() && (lc.contains(&w) || w.contains(&lc));
            (d <= limit || contains).then(|| (d, c.to_string()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_substrings() {
        let names = ["hello", "countdown", "sysinfo", "sleep"];
        assert_eq!(close_matches("helo", names), vec!["hello"]);
        assert_eq!(close_matches("count", names), vec!["countdown"]);
        assert!(close_matches("zzzzzz", names).is_empty());
    }
}
