//! Typo tolerance: symmetric-delete keys and the edit distance that confirms them.
//!
//! Every indexed word is stored with its deletion keys (the word, and what is left after
//! deleting one or two of its letters). A query word's own keys meet the keys of every
//! indexed word within its tolerance, so one indexed lookup per key finds the candidates,
//! and [`distance`] keeps the ones that really are close. Tolerance grows with length: a
//! two-letter Vietnamese syllable (`ba`, `co`) must be typed right, `hao` may be one edit
//! from `hoa`, `nguyn` two from `nguyen`. Swapping two neighbouring letters is one edit.

use std::collections::BTreeSet;

/// Longest word that gets deletion keys (longer ones match exactly or as a prefix).
pub const MAX_FUZZY_LEN: usize = 16;

/// How many edits a query word of `len` characters may be from the word it means.
pub fn tolerance(len: usize) -> usize {
    match len {
        0..=2 => 0,
        3 => 1,
        _ => 2,
    }
}

fn fuzzy_word(word: &str) -> bool {
    let len = word.chars().count();
    (3..=MAX_FUZZY_LEN).contains(&len) && !word.chars().any(|c| c.is_ascii_digit())
}

/// Every string left by deleting up to `depth` characters of `word`, keeping those of at
/// least `min_len` characters; `word` itself included.
fn deletions(word: &str, depth: usize, min_len: usize, out: &mut BTreeSet<String>) {
    out.insert(word.to_owned());
    if depth == 0 {
        return;
    }
    let chars: Vec<char> = word.chars().collect();
    if chars.len() <= min_len {
        return;
    }
    for i in 0..chars.len() {
        let shorter: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
        deletions(&shorter, depth - 1, min_len, out);
    }
}

/// The keys an indexed word is stored under: itself and what is left after deleting one or
/// two of its letters, never shorter than two letters (a shorter key could only meet query
/// words that tolerate no typo).
pub fn index_keys(word: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if !fuzzy_word(word) {
        out.insert(word.to_owned());
        return out;
    }
    deletions(word, 2, 2, &mut out);
    out
}

/// The keys to look a query word up by: itself and its deletions within its
/// [`tolerance`].
pub fn query_keys(word: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let depth = if fuzzy_word(word) { tolerance(word.chars().count()) } else { 0 };
    deletions(word, depth, 2, &mut out);
    out
}

/// Edit distance with adjacent transpositions (optimal string alignment), on characters;
/// stops early and returns `limit + 1` once the distance must exceed `limit`.
pub fn distance(a: &str, b: &str, limit: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(limit + 1)
}

/// Whether an indexed `word` is within the tolerance of `query`, and how far.
pub fn near(query: &str, word: &str) -> Option<usize> {
    let limit = if fuzzy_word(query) { tolerance(query.chars().count()) } else { 0 };
    let d = distance(query, word, limit);
    (d <= limit).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_table() {
        let cases = [
            ("hoa", "hoa", 0),
            ("hao", "hoa", 1),
            ("pho", "phu", 1),
            ("nguyn", "nguyen", 1),
            ("ngyuen", "nguyen", 1),
            ("xeo", "xao", 1),
            ("banh", "bahn", 1),
            ("quang", "qung", 1),
            ("thanh", "than", 1),
            ("abc", "xyz", 3),
            ("", "ab", 2),
        ];
        for (a, b, want) in cases {
            assert_eq!(distance(a, b, 5), want, "{a} {b}");
            assert_eq!(distance(b, a, 5), want, "{b} {a}");
        }
        assert_eq!(distance("abcdef", "uvwxyz", 2), 3, "stops early past the limit");
    }

    #[test]
    fn tolerance_by_length() {
        assert_eq!(near("ba", "bo"), None, "two letters: exact only");
        assert_eq!(near("hao", "hoa"), Some(1));
        assert_eq!(near("hao", "ho"), Some(1));
        assert_eq!(near("hao", "khoai"), None);
        assert_eq!(near("ngyen", "nguyen"), Some(1));
        assert_eq!(near("tuorng", "truong"), Some(2));
        assert_eq!(near("thnah", "thanh"), Some(1));
        assert_eq!(near("109", "108"), None, "numbers are exact");
    }

    /// Every pair within tolerance shares a key: the lookup misses nothing the distance
    /// accepts (checked over a set of real syllables and their typos).
    #[test]
    fn keys_meet_for_every_near_pair() {
        let words = [
            "pho", "hoa", "ba", "bun", "bo", "hue", "nguyen", "thanh", "quang", "banh", "xeo", "com", "ga", "chau",
            "hai", "khe", "truong", "phuong", "nghinh", "duong", "ho", "oc", "che", "hen", "tron", "ngu", "hanh",
            "son",
        ];
        let typos = [
            "hao", "phho", "bnu", "nguyn", "ngyuen", "thnah", "quagn", "bahn", "xoe", "cmo", "gaa", "chua", "hia",
            "truogn", "phuogn", "nghin", "duon", "hoo", "occ", "cheh", "heen", "torn", "nguu", "hanhh", "sonn", "pho",
            "khoa", "bunn", "tanh", "quan", "chao", "xe",
        ];
        let mut compared = 0;
        for q in typos {
            let qk = query_keys(q);
            for w in words {
                let shares = !qk.is_disjoint(&index_keys(w));
                if near(q, w).is_some() {
                    compared += 1;
                    assert!(shares, "{q} ~ {w} is within tolerance but shares no key");
                }
            }
        }
        assert!(compared > 25, "{compared}");
    }

    #[test]
    fn key_counts_stay_small() {
        assert_eq!(index_keys("ba").len(), 1);
        assert_eq!(index_keys("hoa").len(), 4);
        assert!(index_keys("nguyen").len() <= 1 + 6 + 15);
        assert_eq!(index_keys("12").len(), 1);
        assert_eq!(query_keys("ba").len(), 1);
        assert_eq!(query_keys("hao").len(), 4);
    }
}
