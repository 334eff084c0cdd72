//! LIST and LSUB mailbox patterns (RFC 9051 §6.3.9): `*` matches any
//! characters, `%` any characters but the hierarchy delimiter. INBOX is
//! matched without regard to case (RFC 9051 §5.1).

pub const DELIMITER: char = '/';

/// The reference name and the pattern as one pattern: the reference is a
/// prefix (RFC 9051 §6.3.9 leaves the joining to the server; a reference
/// that does not end in the delimiter gets none added, as in Dovecot).
pub fn join(reference: &str, pattern: &str) -> String {
    if pattern.starts_with(DELIMITER) || reference.is_empty() {
        return pattern.to_string();
    }
    format!("{reference}{pattern}")
}

pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if is_inbox_prefix(&p, &n) {
        let mut rest_p: Vec<char> = "INBOX".chars().collect();
        rest_p.extend(&p[5..]);
        let mut rest_n: Vec<char> = "INBOX".chars().collect();
        rest_n.extend(&n[5..]);
        return glob(&rest_p, &rest_n);
    }
    glob(&p, &n)
}

/// Both start with "inbox" in any case followed by the end or a delimiter.
fn is_inbox_prefix(p: &[char], n: &[char]) -> bool {
    let starts = |s: &[char]| {
        s.len() >= 5
            && s[..5].iter().collect::<String>().eq_ignore_ascii_case("inbox")
            && (s.len() == 5 || s[5] == DELIMITER)
    };
    starts(p) && starts(n)
}

/// Wildcard matching by dynamic programming over (pattern index, name
/// index): |p| * |n| steps at most and no recursion, so a hostile pattern
/// of many wildcards can neither blow the stack nor backtrack
/// exponentially.
fn glob(p: &[char], n: &[char]) -> bool {
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=n.len() {
                    any |= row[j];
                    next[j] = any;
                }
            }
            '%' => {
                // Like `*`, but the run of matched characters may not
                // cross a delimiter.
                for j in 0..=n.len() {
                    next[j] = row[j] || (j > 0 && next[j - 1] && n[j - 1] != DELIMITER);
                }
            }
            c => {
                for j in 0..n.len() {
                    if row[j] && n[j] == c {
                        next[j + 1] = true;
                    }
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "INBOX"));
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "Sent"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a/*", "a/b/c"));
        assert!(matches("a*c", "abbbc"));
        assert!(!matches("a*c", "abbbd"));
        assert!(matches("%/%", "a/b"));
        assert!(matches("", "") && !matches("", "a"));
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert!(matches("inbox", "INBOX"));
        assert!(matches("InBoX/%", "INBOX/sub"));
        assert!(!matches("inbo", "INBOX"));
        assert!(!matches("sent", "Sent"), "other names keep their case");
    }

    #[test]
    fn reference_joins() {
        assert_eq!(join("", "*"), "*");
        assert_eq!(join("Archive/", "%"), "Archive/%");
        assert_eq!(join("Archive/", "/x"), "/x");
    }

    #[test]
    fn hostile_patterns_are_cheap() {
        let p = "*%".repeat(500);
        let n = "a/".repeat(300);
        assert!(matches(&p, &n));
    }
}
