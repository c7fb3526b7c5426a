//! Validated account fields for registration: the core never holds an
//! unchecked username or e-mail.

use crate::passwords::MAX_PASSWORD_BYTES;

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_EMAIL_CHARS: usize = 120;

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

/// An e-mail address of plausible syntax, at most 120 characters, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const RULE: &'static str = "Email must be a valid address of at most 120 characters";

    pub fn parse(raw: &str) -> Option<Email> {
        let email = raw.trim().to_lowercase();
        if email.chars().count() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (local, domain) = email.rsplit_once('@')?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2 && labels.iter().all(|l| label_ok(l));
        (local_ok && domain_ok).then_some(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_RULE: &str = "Password must be 8 to 1024 bytes long";

/// At least 8 characters and at most 1,024 bytes.
pub fn password_acceptable(password: &str) -> bool {
    password.chars().count() >= MIN_PASSWORD_CHARS && password.len() <= MAX_PASSWORD_BYTES
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
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(Email::parse(" Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
        assert!(Email::parse("first.last+tag@sub.example.org").is_some());
        for bad in [
            "", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@b..com", ".a@b.com",
            "a.@b.com", "a@-b.com", "a@b.com'; DROP TABLE \"user\"; --",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
        let long = format!("{}@example{}", "a".repeat(60), ".com".repeat(15));
        assert!(long.len() > 120 && Email::parse(&long).is_none());
    }

    #[test]
    fn passwords_have_length_bounds() {
        assert!(!password_acceptable("1234567"));
        assert!(password_acceptable("12345678"));
        assert!(password_acceptable(&"p".repeat(1024)));
        assert!(!password_acceptable(&"p".repeat(1025)));
    }
}
