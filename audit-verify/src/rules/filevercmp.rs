//! GNU `ls -v` order (gnulib's `filevercmp`), which augenrules uses to order `rules.d`. The file suffix
//! (`.rules`) is cut before the first comparison, so `30-ospp-v42.rules` sorts before
//! `30-ospp-v42-1-create-failed.rules`; digit runs compare as numbers; `~` sorts before everything.
//! `tests/rules_oracle.rs` compares it with the real `ls -1v`.

use std::cmp::Ordering;

/// `ls -1v`'s comparison: filevercmp, then byte order for names it calls equal.
pub fn ls_v_cmp(a: &str, b: &str) -> Ordering {
    filevercmp(a.as_bytes(), b.as_bytes()).then_with(|| a.cmp(b))
}

fn filevercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    // Empty names, then ".", "..", other hidden names, the rest (ls without -a lists no hidden names,
    // but the order is kept whole).
    let rank = |s: &[u8]| match s {
        [] => 0,
        b"." => 1,
        b".." => 2,
        [b'.', ..] => 3,
        _ => 4,
    };
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb || ra < 3 {
        return ra.cmp(&rb);
    }
    let (a, b) = if ra == 3 { (&a[1..], &b[1..]) } else { (a, b) };
    let (pa, pb) = (prefix_len(a), prefix_len(b));
    let first = verrevcmp(&a[..pa], &b[..pb]);
    if first != Ordering::Equal || (pa == a.len() && pb == b.len()) { first } else { verrevcmp(a, b) }
}

/// Length of `s` without its suffix, the longest match of `(\.[A-Za-z~][A-Za-z0-9~]*)*$`.
fn prefix_len(s: &[u8]) -> usize {
    let n = s.len();
    let mut prefix = 0;
    let mut i = 0;
    while i < n {
        i += 1;
        prefix = i;
        while i + 1 < n && s[i] == b'.' && (s[i + 1].is_ascii_alphabetic() || s[i + 1] == b'~') {
            i += 2;
            while i < n && (s[i].is_ascii_alphanumeric() || s[i] == b'~') {
                i += 1;
            }
        }
    }
    prefix
}

/// Letters first, then `~` lowest, then other characters after all letters; the end of a string is 0.
fn order(c: Option<&u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(b'~') => -1,
        Some(c) => i32::from(*c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ca, cb) = (order(a.get(i)), order(b.get(j)));
            if ca != cb {
                return ca.cmp(&cb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_is_cut_before_comparing() {
        let mut names = vec![
            "30-ospp-v42-1-create-failed.rules",
            "30-ospp-v42.rules",
            "100-late.rules",
            "9-early.rules",
            "10-base.rules",
            "10a.rules",
            "010-zero.rules",
        ];
        names.sort_by(|a, b| ls_v_cmp(a, b));
        assert_eq!(
            names,
            [
                "9-early.rules",
                "10a.rules",
                "10-base.rules",
                "010-zero.rules",
                "30-ospp-v42.rules",
                "30-ospp-v42-1-create-failed.rules",
                "100-late.rules"
            ]
        );
    }
}
