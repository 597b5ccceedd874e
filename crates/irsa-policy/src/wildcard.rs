//! IAM wildcard matching (`StringLike`, `ArnLike`, `Action`).
//!
//! IAM knows exactly two metacharacters: `*` (any run of characters, including none) and `?`
//! (exactly one character). There are no classes, alternations or escapes: `[`, `{` and `\` are
//! literal. Path-oriented glob crates get this wrong, so the matcher is hand-rolled: a greedy
//! two-pointer walk with a single backtrack point, linear in practice and never recursive, so an
//! adversarial pattern cannot blow the stack.
//!
//! Patterns are compiled to [`Pat`] elements so that a literal `*` produced by the `${*}` policy
//! variable escape can be told apart from the wildcard `*`.

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pat {
    /// A character that must match itself.
    Lit(char),
    /// `*`: any run of characters, including the empty run.
    Any,
    /// `?`: exactly one character.
    One,
}

/// Compiles a pattern in which `*` and `?` are wildcards.
pub(crate) fn compile(pattern: &str) -> Vec<Pat> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Pat::Any,
            '?' => Pat::One,
            other => Pat::Lit(other),
        })
        .collect()
}

/// Appends `text` to a compiled pattern as literal characters (no wildcards).
pub(crate) fn push_literal(out: &mut Vec<Pat>, text: &str) {
    out.extend(text.chars().map(Pat::Lit));
}

fn chars_eq(a: char, b: char, ignore_ascii_case: bool) -> bool {
    if ignore_ascii_case {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches `text` against a compiled pattern. The whole text must match.
pub(crate) fn matches_compiled(pattern: &[Pat], text: &str, ignore_ascii_case: bool) -> bool {
    // p: index into pattern; t: byte index into text.
    let mut p = 0usize;
    let mut t = 0usize;
    // Backtrack point: pattern index after the last `*` and the text index it currently absorbs to.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let next_char = text.get(t..).and_then(|rest| rest.chars().next());
        match (pattern.get(p), next_char) {
            (Some(Pat::Any), _) => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            (Some(Pat::One), Some(c)) => {
                p += 1;
                t += c.len_utf8();
                continue;
            }
            (Some(Pat::Lit(want)), Some(c)) if chars_eq(*want, c, ignore_ascii_case) => {
                p += 1;
                t += c.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        // Mismatch: let the last `*` absorb one more character, or fail.
        match star {
            Some((star_p, star_t)) => {
                let Some(absorbed) = text.get(star_t..).and_then(|rest| rest.chars().next()) else {
                    return false;
                };
                let new_t = star_t + absorbed.len_utf8();
                star = Some((star_p, new_t));
                p = star_p;
                t = new_t;
            }
            None => return false,
        }
    }
}

/// Matches `text` against an IAM wildcard pattern (`*` and `?`), case-sensitively.
///
/// ```
/// assert!(irsa_policy::wildcard_match("system:serviceaccount:default:*", "system:serviceaccount:default:app"));
/// assert!(!irsa_policy::wildcard_match("a[bc]", "ab"));
/// assert!(irsa_policy::wildcard_match("a[bc]", "a[bc]"));
/// ```
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    matches_compiled(&compile(pattern), text, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Obviously-correct exponential reference: used only on short inputs.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && reference(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
        }
    }

    fn reference_str(p: &str, t: &str) -> bool {
        let p: Vec<char> = p.chars().collect();
        let t: Vec<char> = t.chars().collect();
        reference(&p, &t)
    }

    #[test]
    fn star_matches_empty_and_runs() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*", "a"));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(!wildcard_match("a*c", "abbb"));
        assert!(wildcard_match(
            "*:default:*",
            "system:serviceaccount:default:web"
        ));
    }

    #[test]
    fn question_mark_is_exactly_one_char() {
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(wildcard_match("?", "é"));
    }

    #[test]
    fn brackets_and_backslashes_are_literal() {
        assert!(!wildcard_match("[ab]", "a"));
        assert!(wildcard_match("[ab]", "[ab]"));
        assert!(wildcard_match("a\\*", "a\\xyz"));
        assert!(!wildcard_match("{a,b}", "a"));
    }

    #[test]
    fn whole_string_semantics() {
        assert!(!wildcard_match("abc", "abcd"));
        assert!(!wildcard_match("bcd", "abcd"));
        assert!(!wildcard_match("", "a"));
        assert!(wildcard_match("", ""));
    }

    #[test]
    fn literal_star_from_escape_is_not_a_wildcard() {
        let mut pat = compile("a");
        push_literal(&mut pat, "*");
        assert!(matches_compiled(&pat, "a*", false));
        assert!(!matches_compiled(&pat, "ab", false));
    }

    #[test]
    fn ascii_case_folding_for_actions() {
        let pat = compile("STS:AssumeRole*");
        assert!(matches_compiled(
            &pat,
            "sts:assumerolewithwebidentity",
            true
        ));
        assert!(!matches_compiled(
            &pat,
            "sts:assumerolewithwebidentity",
            false
        ));
    }

    #[test]
    fn pathological_pattern_is_fast_enough() {
        let pattern = "*a*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(2000);
        assert!(!wildcard_match(pattern, &text));
    }

    proptest! {
        #[test]
        fn agrees_with_reference(p in "[ab*?\\[]{0,8}", t in "[ab\\[]{0,10}") {
            prop_assert_eq!(wildcard_match(&p, &t), reference_str(&p, &t));
        }

        #[test]
        fn agrees_with_wildmatch(p in "[a-c*?é]{0,10}", t in "[a-cé]{0,12}") {
            let expected = wildmatch::WildMatch::new(&p).matches(&t);
            prop_assert_eq!(wildcard_match(&p, &t), expected);
        }

        #[test]
        fn never_panics(p in any::<String>(), t in any::<String>()) {
            let _ = wildcard_match(&p, &t);
        }

        #[test]
        fn literal_pattern_matches_only_itself(s in "[^*?]{0,20}", t in ".{0,20}") {
            prop_assert!(wildcard_match(&s, &s));
            prop_assert_eq!(wildcard_match(&s, &t), s == t);
        }
    }
}
