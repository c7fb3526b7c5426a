//! Validated account fields for registration: the core never holds an
//! unchecked username or e-mail.

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longer passwords are refused before any hashing.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// 3–80 characters of ASCII letters, digits, `.`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const RULE: &'static str = "Username must be 3-80 characters of letters, digits, '.', '_' or '-'";

    pub fn parse(raw: &str) -> Option<Username> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        ((3..=80).contains(&raw.len()) && raw.chars().all(ok_char)).then(|| Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address by the one rule that `openapi.json` states as a
/// pattern (`EMAIL_PATTERN`), so that a client, a generated SDK and the
/// service agree on every string: at most 120 characters, nothing trimmed;
/// a local part of 1-64 characters other than `@`, whitespace and control
/// characters (non-ASCII welcome); a domain of two or more DNS labels of
/// ASCII letters, digits and inner `-` (an internationalised domain in its
/// `xn--` form). Stored with its case folded (`fold_case`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// `Email::parse`'s rule as a regular expression that ECMA-262, Python's
/// `re` and Rust's `regex` read alike; a unit test holds the two together.
pub const EMAIL_PATTERN: &str = r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
pub const MAX_EMAIL_CHARS: usize = 120;

impl Email {
    pub const RULE: &'static str = "Email must be a valid address of at most 120 characters";

    pub fn parse(raw: &str) -> Option<Email> {
        if raw.chars().count() > MAX_EMAIL_CHARS {
            return None;
        }
        let (local, domain) = raw.split_once('@')?;
        let local_char = |c: char| c != '@' && !c.is_whitespace() && !c.is_control();
        let local_ok = (1..=64).contains(&local.chars().count()) && local.chars().all(local_char);
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let mut labels = domain.split('.');
        let domain_ok = labels.clone().count() >= 2 && labels.all(label_ok);
        (local_ok && domain_ok).then(|| Email(fold_case(raw)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lower case, one character for one (the first of Unicode's full mapping:
/// only `İ` maps to two), so a folded address keeps its length and fits the
/// Flask schema's `varchar(120)`. Logins are folded the same way to match.
pub fn fold_case(text: &str) -> String {
    text.chars().map(|c| c.to_lowercase().next().unwrap_or(c)).collect()
}

pub const PASSWORD_RULE: &str = "Password must be 8 to 1024 characters long";

/// At least 8 and at most 1,024 characters (the reader refuses longer ones).
pub fn password_acceptable(password: &str) -> bool {
    (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&password.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["bob", "alice.smith", "a_b-c.9", &"x".repeat(80)] {
            assert!(Username::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "ab", &"x".repeat(81), "has space", "semi;colon", "quote'", "ünï", "a\0b"] {
            assert!(Username::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn emails_are_checked_and_folded() {
        assert_eq!(Email::parse("Alice@Example.COM").unwrap().as_str(), "alice@example.com");
        assert_eq!(Email::parse("İris@example.com").unwrap().as_str(), "iris@example.com");
        for ok in ["first.last+tag@sub.example.org", "émile.zoë@example.com", ".a.@b.co", "a@xn--bcher-kva.example"] {
            assert!(Email::parse(ok).is_some(), "{ok:?}");
        }
        for bad in [
            "", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@b..com", " a@b.com", "a@b.com\n",
            "a@-b.com", "a@b-.com", "a@bücher.example", "a@b.com'; DROP TABLE \"user\"; --", "a\u{85}@b.com",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
        let local = "a".repeat(64);
        assert!(Email::parse(&format!("{local}@b.co")).is_some() && Email::parse(&format!("{local}a@b.co")).is_none());
        let longest = format!("{local}@{}.co", "b".repeat(52));
        assert!(longest.len() == 120 && Email::parse(&longest).is_some());
        assert!(Email::parse(&format!("{local}@{}.co", "b".repeat(53))).is_none());
    }

    /// The API document states the rule as `EMAIL_PATTERN` and 5-120
    /// characters; every string (every character in every position, and
    /// arbitrary and near-miss ones) is accepted by both or by neither.
    #[test]
    fn the_email_rule_is_the_documented_pattern() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let schema = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["email"];
        assert_eq!(schema["pattern"], EMAIL_PATTERN);
        assert_eq!(schema["maxLength"], MAX_EMAIL_CHARS);
        let pattern = regex_lite::Regex::new(EMAIL_PATTERN).unwrap();
        let documented = |s: &str| pattern.is_match(s) && (5..=MAX_EMAIL_CHARS).contains(&s.chars().count());
        let agree = |s: &str| assert_eq!(Email::parse(s).is_some(), documented(s), "{s:?}");
        for c in (0..=0x3100).chain([0xfeff, 0x1f600, 0x10ffff]).filter_map(char::from_u32) {
            for template in ["{}a@b.co", "a{}@b.co", "a@{}.co", "a@b{}.co", "a@b.{}", "a@b.co{}"] {
                agree(&template.replace("{}", &c.to_string()));
            }
        }
        proptest::proptest!(|(s in "[a-zA-Z0-9.@ -]{0,20}|\\PC{0,130}", t in "[a-z]{1,70}@[a-z-]{1,70}(\\.[a-z0-9-]{0,64}){1,3}")| {
            agree(&s);
            agree(&t);
        });
    }

    #[test]
    fn passwords_have_length_bounds() {
        assert!(!password_acceptable("1234567"));
        assert!(password_acceptable("12345678"));
        assert!(password_acceptable(&"p".repeat(1024)) && password_acceptable(&"é".repeat(1024)));
        assert!(!password_acceptable(&"p".repeat(1025)));
    }
}
