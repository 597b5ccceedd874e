//! Input validation with AWS's member constraints, in one place for IAM, STS and the
//! config loader.
//!
//! AWS checks every member of a request against the length and pattern of its shape in the
//! service model before doing anything, collects all violations and answers one
//! `ValidationError` (HTTP 400): `N validation errors detected: Value 'x' at 'member'
//! failed to satisfy constraint: Member must …; …`. Clients do not check patterns or
//! maximum lengths themselves (botocore and aws-sdk-rust check only required members and
//! minimums), so the server is the only place these rules hold.
//!
//! The patterns matter beyond parity: they are what keeps characters that XML 1.0 cannot
//! carry (NUL, other C0 controls, U+FFFE, U+FFFF) out of the store. A stored role
//! description with `\x01` used to make every later `ListRoles` unparseable. Each text
//! member therefore has one [`TextRule`] here, with the pattern AWS documents for it, and
//! every entry point checks its members through [`Violations::check`].
//!
//! Messages quote the offending value as AWS does, except for members that may be
//! secret (the web identity token, session policies): those say `Value at '…'`.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use regex::Regex;

use crate::xml::AwsError;

/// How a text member is constrained: length in characters, the pattern (as AWS prints it)
/// and whether its value may be quoted back.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    /// Fewest characters.
    pub min: usize,
    /// Most characters.
    pub max: usize,
    /// The member's pattern; `None` for members without one.
    pub pattern: Option<Pattern>,
    /// `false` for members that may be secret: their value is never quoted.
    pub echo: bool,
}

/// A pattern as AWS's message prints it, and the test that implements it.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// The regular expression, in AWS's notation (Java's).
    pub text: &'static str,
    /// Whether a whole value matches it.
    pub matches: fn(&str) -> bool,
}

fn name_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

fn description_chars(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'))
}

static TAG_CHARS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$").ok());

fn tag_chars(s: &str) -> bool {
    // The pattern is a constant that compiles (a unit test proves it); if it ever did not,
    // every tag is refused rather than every tag accepted.
    TAG_CHARS.as_ref().is_some_and(|re| re.is_match(s))
}

fn arn_chars(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
    })
}

fn policy_chars(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
}

fn client_id_chars(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() && c != '\u{fffe}' && c != '\u{ffff}')
}

fn path_shape(s: &str) -> bool {
    s == "/"
        || (s.len() >= 2
            && s.starts_with('/')
            && s.ends_with('/')
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b)))
}

fn path_prefix_shape(s: &str) -> bool {
    s.starts_with('/') && s.bytes().all(|b| (0x21..=0x7f).contains(&b))
}

const ARN_PATTERN: &str =
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";
const POLICY_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";

/// IAM `RoleName`: 1..64, `[\w+=,.@-]+`.
pub const ROLE_NAME: TextRule = TextRule {
    min: 1,
    max: 64,
    pattern: Some(Pattern {
        text: r"[\w+=,.@-]+",
        matches: name_chars,
    }),
    echo: true,
};

/// STS `RoleSessionName`: 2..64, `[\w+=,.@-]*` (`\w` is ASCII, as in Java).
pub const ROLE_SESSION_NAME: TextRule = TextRule {
    min: 2,
    max: 64,
    pattern: Some(Pattern {
        text: r"[\w+=,.@-]*",
        matches: name_chars,
    }),
    echo: true,
};

/// IAM role `Path`: 1..512, `/` or `/…/` of printable ASCII.
pub const PATH: TextRule = TextRule {
    min: 1,
    max: 512,
    pattern: Some(Pattern {
        text: r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        matches: path_shape,
    }),
    echo: true,
};

/// IAM `ListRoles` `PathPrefix`: 1..512, `\u002F[\u0021-\u007F]*`.
pub const PATH_PREFIX: TextRule = TextRule {
    min: 1,
    max: 512,
    pattern: Some(Pattern {
        text: r"\u002F[\u0021-\u007F]*",
        matches: path_prefix_shape,
    }),
    echo: true,
};

/// IAM role `Description`: 0..1000, Latin-1 printable plus tab, LF and CR.
pub const DESCRIPTION: TextRule = TextRule {
    min: 0,
    max: 1000,
    pattern: Some(Pattern {
        text: r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
        matches: description_chars,
    }),
    echo: true,
};

/// IAM tag `Key`: 1..128, letters, separators, numbers and `_.:/=+-@`.
pub const TAG_KEY: TextRule = TextRule {
    min: 1,
    max: 128,
    pattern: Some(Pattern {
        text: r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
        matches: tag_chars,
    }),
    echo: true,
};

/// IAM tag `Value`: 0..256, the key's characters.
pub const TAG_VALUE: TextRule = TextRule {
    min: 0,
    max: 256,
    pattern: Some(Pattern {
        text: r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
        matches: tag_chars,
    }),
    echo: true,
};

/// IAM OIDC provider client ID: 1..255. IAM documents no pattern; control characters
/// (and U+FFFE/U+FFFF) are refused because an audience is never one and XML cannot carry
/// most of them.
pub const CLIENT_ID: TextRule = TextRule {
    min: 1,
    max: 255,
    pattern: Some(Pattern {
        text: r"[^\p{Cc}\uFFFE\uFFFF]+",
        matches: client_id_chars,
    }),
    echo: true,
};

/// IAM OIDC provider `Url`: 1..255 (its grammar is checked by
/// [`crate::iam::validate_provider_url`], with IAM's `InvalidInput` texts).
pub const PROVIDER_URL: TextRule = TextRule {
    min: 1,
    max: 255,
    pattern: None,
    echo: true,
};

/// `arnType` (STS `RoleArn`, IAM `OpenIDConnectProviderArn`): 20..2048.
pub const ARN: TextRule = TextRule {
    min: 20,
    max: 2048,
    pattern: Some(Pattern {
        text: ARN_PATTERN,
        matches: arn_chars,
    }),
    echo: true,
};

/// IAM trust policy (`policyDocumentType`): 1..131072, Latin-1 plus tab, LF and CR.
pub const TRUST_POLICY: TextRule = TextRule {
    min: 1,
    max: 131_072,
    pattern: Some(Pattern {
        text: POLICY_PATTERN,
        matches: policy_chars,
    }),
    echo: false,
};

/// STS session `Policy` (`sessionPolicyDocumentType`): 1..2048, the trust policy's
/// characters.
pub const SESSION_POLICY: TextRule = TextRule {
    min: 1,
    max: 2048,
    pattern: Some(Pattern {
        text: POLICY_PATTERN,
        matches: policy_chars,
    }),
    echo: false,
};

/// STS `WebIdentityToken`: 4..[`irsa_jose::verify::MAX_TOKEN_LEN`]; never quoted.
pub const WEB_IDENTITY_TOKEN: TextRule = TextRule {
    min: 4,
    max: irsa_jose::verify::MAX_TOKEN_LEN,
    pattern: None,
    echo: false,
};

/// Member constraint violations, collected into AWS's single `ValidationError`.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A required member is missing.
    pub fn null(&mut self, member: &str) {
        self.0.push(format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// Records that `value` (quoted unless `None`) at `member` breaks `constraint`.
    pub fn push(&mut self, value: Option<&str>, member: &str, constraint: &str) {
        self.0.push(match value {
            Some(v) => {
                format!("Value '{v}' at '{member}' failed to satisfy constraint: {constraint}")
            }
            None => format!("Value at '{member}' failed to satisfy constraint: {constraint}"),
        });
    }

    /// Checks `value` at `member` against `rule`: length, then pattern.
    pub fn check(&mut self, rule: &TextRule, value: &str, member: &str) {
        let shown = rule.echo.then_some(value);
        let len = value.chars().count();
        if len < rule.min {
            self.push(
                shown,
                member,
                &format!(
                    "Member must have length greater than or equal to {}",
                    rule.min
                ),
            );
        } else if len > rule.max {
            self.push(
                shown,
                member,
                &format!("Member must have length less than or equal to {}", rule.max),
            );
        }
        if let Some(pattern) = rule.pattern
            && !value.is_empty()
            && !(pattern.matches)(value)
        {
            self.push(
                shown,
                member,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    pattern.text
                ),
            );
        }
    }

    /// Checks that an optional `value` satisfies `rule`, or records that it is missing.
    pub fn required<'a>(
        &mut self,
        rule: &TextRule,
        value: Option<&'a str>,
        member: &str,
    ) -> Option<&'a str> {
        match value {
            Some(v) => self.check(rule, v, member),
            None => self.null(member),
        }
        value
    }

    /// Parses an integer member that must lie in `range`.
    pub fn integer(
        &mut self,
        value: &str,
        member: &str,
        range: RangeInclusive<u32>,
    ) -> Option<u32> {
        match value.parse::<i64>() {
            Ok(n) if n < i64::from(*range.start()) => {
                self.push(
                    Some(value),
                    member,
                    &format!(
                        "Member must have value greater than or equal to {}",
                        range.start()
                    ),
                );
                None
            }
            Ok(n) if n > i64::from(*range.end()) => {
                self.push(
                    Some(value),
                    member,
                    &format!(
                        "Member must have value less than or equal to {}",
                        range.end()
                    ),
                );
                None
            }
            Ok(n) => u32::try_from(n).ok(),
            Err(_) => {
                self.push(Some(value), member, "Member must be an integer");
                None
            }
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` without violations, else one `ValidationError` listing them all.
    pub fn finish(self) -> Result<(), AwsError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(AwsError::validation(format!(
                "1 validation error detected: {}",
                self.0.join("; ")
            ))),
            n => Err(AwsError::validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// Checks one member on its own: the `ValidationError` for `value`, if it breaks `rule`.
pub fn check(rule: &TextRule, value: &str, member: &str) -> Result<(), AwsError> {
    let mut v = Violations::new();
    v.check(rule, value, member);
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(rule: &TextRule, value: &str) -> bool {
        check(rule, value, "m").is_ok()
    }

    #[test]
    fn tag_pattern_compiles() {
        assert!(TAG_CHARS.is_some());
    }

    #[test]
    fn descriptions_are_latin1_printable() {
        assert!(ok(&DESCRIPTION, ""));
        assert!(ok(&DESCRIPTION, "line one\n\tline two\r\n¡Olé! ÿ"));
        for bad in [
            "a\u{1}b", "a\0b", "\u{7f}", "\u{85}", "\u{a0}", "€", "\u{fffe}", "\u{ffff}",
        ] {
            let err = check(&DESCRIPTION, bad, "description").expect_err(bad);
            assert_eq!(err.code, "ValidationError");
            assert!(
                err.message.ends_with(
                    r"at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"
                ),
                "{}",
                err.message
            );
        }
        assert!(!ok(&DESCRIPTION, &"x".repeat(1001)));
        assert!(ok(&DESCRIPTION, &"x".repeat(1000)));
    }

    #[test]
    fn tags_allow_letters_separators_numbers_and_punctuation() {
        assert!(ok(&TAG_KEY, "team:owner/ä_1.x=+-@ Zürich 東京 ٣"));
        assert!(ok(&TAG_VALUE, ""));
        assert!(!ok(&TAG_KEY, ""));
        for bad in [
            "a\0", "a\u{1}", "a\tb", "a\nb", "a*b", "a#b", "\u{fffe}", "\u{ffff}",
        ] {
            assert!(!ok(&TAG_KEY, bad), "{bad:?}");
            assert!(!ok(&TAG_VALUE, bad), "{bad:?}");
        }
        assert!(ok(&TAG_KEY, &"k".repeat(128)) && !ok(&TAG_KEY, &"k".repeat(129)));
        assert!(ok(&TAG_VALUE, &"v".repeat(256)) && !ok(&TAG_VALUE, &"v".repeat(257)));
    }

    #[test]
    fn client_ids_refuse_control_characters() {
        assert!(ok(&CLIENT_ID, "sts.amazonaws.com"));
        assert!(ok(&CLIENT_ID, "https://audience.example/ä"));
        for bad in [
            "a\0b", "a\u{1}", "a\nb", "a\u{7f}", "a\u{9f}", "\u{fffe}", "\u{ffff}", "",
        ] {
            assert!(!ok(&CLIENT_ID, bad), "{bad:?}");
        }
        assert!(!ok(&CLIENT_ID, &"c".repeat(256)));
    }

    #[test]
    fn session_names_as_sts_prints_them() {
        assert!(ok(&ROLE_SESSION_NAME, "e2e-session_1+=,.@"));
        let err = check(&ROLE_SESSION_NAME, "Session1:2", "roleSessionName").expect_err("colon");
        assert_eq!(
            err.message,
            r"1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
        assert!(!ok(&ROLE_SESSION_NAME, "a\0b"));
        assert!(!ok(&ROLE_SESSION_NAME, "a"));
        assert!(!ok(&ROLE_SESSION_NAME, &"s".repeat(65)));
    }

    #[test]
    fn role_names_and_paths() {
        assert!(ok(&ROLE_NAME, "a+=,.@-_Z9"));
        assert!(ok(&ROLE_NAME, &"x".repeat(64)));
        let err = check(&ROLE_NAME, &"x".repeat(65), "roleName").expect_err("65");
        assert!(err.message.contains("length less than or equal to 64"));
        for bad in ["a b", "", "a\0b", "é"] {
            assert!(!ok(&ROLE_NAME, bad), "{bad:?}");
        }
        assert!(ok(&PATH, "/") && ok(&PATH, "/a/b/"));
        for bad in ["/a", "a/", "/a b/", "/a\0/", ""] {
            assert!(!ok(&PATH, bad), "{bad:?}");
        }
        assert!(ok(&PATH_PREFIX, "/") && ok(&PATH_PREFIX, "/team"));
        assert!(!ok(&PATH_PREFIX, "team") && !ok(&PATH_PREFIX, "/a\0"));
    }

    #[test]
    fn secrets_are_not_quoted() {
        let err = check(&WEB_IDENTITY_TOKEN, "abc", "webIdentityToken").expect_err("short");
        assert_eq!(
            err.message,
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        );
        let err = check(&SESSION_POLICY, "{\u{1}}", "policy").expect_err("control");
        assert!(!err.message.contains('{'), "{}", err.message);
    }

    #[test]
    fn several_violations_are_counted() {
        let mut v = Violations::new();
        v.null("roleName");
        v.null("assumeRolePolicyDocument");
        let err = v.finish().expect_err("two");
        assert!(
            err.message
                .starts_with("2 validation errors detected: Value null at 'roleName'"),
            "{}",
            err.message
        );
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn integers_in_range() {
        let mut v = Violations::new();
        assert_eq!(v.integer("3600", "d", 3600..=43200), Some(3600));
        assert_eq!(v.integer("43201", "d", 3600..=43200), None);
        assert_eq!(v.integer("x", "d", 3600..=43200), None);
        assert_eq!(v.integer("-1", "d", 3600..=43200), None);
        let err = v.finish().expect_err("three");
        assert!(
            err.message.starts_with("3 validation errors"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("Member must have value less than or equal to 43200")
        );
        assert!(err.message.contains("Member must be an integer"));
    }
}
