//! Property tests (proptest) on every parser that takes bytes from a client
//! or from configuration: whatever comes in, they answer with a value or an
//! error, never a panic, and what they accept is what they should.

use crate::config::DatabaseUrl;
use crate::http_io::{Method, Request};
use crate::json_body::{json_object, string_field};
use crate::passwords::StoredHash;
use crate::tokens::{TokenKey, UserClaims};
use proptest::prelude::*;

const KEY: &[u8] = b"property-test-secret-key-0123456789abcdef";

fn request_with(headers: Vec<(String, Vec<u8>)>, body: Vec<u8>) -> Request {
    let mut req = Request::new(Method::Post, "/login");
    req.headers = headers;
    req.body = body;
    req
}

/// JSON values up to a few levels deep, with the strings clients send.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        // Floats that print and parse back exactly (serde_json's default
        // parser may round the last digit of others).
        (-1_000_000i32..1_000_000).prop_map(|n| serde_json::Value::from(f64::from(n) / 4.0)),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_token() -> String {
    let claims = UserClaims { user_id: "6f1c2a9e-5a0b-4d8e-9a77-0c7f1f0b2c11".into(), username: "alice".into(), sid: None };
    TokenKey::new(KEY).unwrap().issue(claims, 3600, "jti-1".into(), "auth-service").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Any body under any content type: an object or a 400, never a panic.
    #[test]
    fn json_bodies_parse_or_answer_400(body in prop::collection::vec(any::<u8>(), 0..512), json in any::<bool>()) {
        let content_type = if json { "application/json" } else { "text/plain" };
        let req = request_with(vec![("content-type".into(), content_type.as_bytes().to_vec())], body);
        match json_object(&req) {
            Ok(_) => prop_assert!(json),
            Err(err) => prop_assert_eq!(err.into_response().status, 400),
        }
    }

    /// Generated JSON documents: objects come back whole, anything else is a 400.
    #[test]
    fn json_documents_round_trip(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        let req = request_with(vec![("content-type".into(), b"application/json; charset=utf-8".to_vec())], body);
        match (json_object(&req), &value) {
            (Ok(map), serde_json::Value::Object(expected)) => prop_assert_eq!(&map, expected),
            (Err(err), v) => {
                prop_assert!(!v.is_object());
                prop_assert_eq!(err.into_response().status, 400);
            }
            (Ok(_), _) => prop_assert!(false, "a non-object was accepted"),
        }
    }

    /// A field is accepted exactly when it is a non-empty string within the
    /// limit and without NUL; every refusal is a 400 naming the field.
    #[test]
    fn string_fields_accept_exactly_what_the_rule_says(value in json_value(), max in 0usize..64) {
        let mut body = serde_json::Map::new();
        body.insert("field".into(), value.clone());
        let acceptable = value.as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= max && !s.contains('\0'));
        match string_field(&body, "field", max) {
            Ok(s) => {
                prop_assert!(acceptable);
                prop_assert_eq!(Some(s.as_str()), value.as_str());
            }
            Err(err) => {
                prop_assert!(!acceptable);
                let response = err.into_response();
                prop_assert_eq!(response.status, 400);
                let text = response.json_body()["message"].as_str().unwrap_or("").to_owned();
                prop_assert!(text.contains("field"), "{}", text);
            }
        }
    }

    /// The `Authorization` header: a token only for `Bearer <something>`,
    /// and the token is a trimmed part of the header.
    #[test]
    fn authorization_headers_never_panic(value in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut req = Request::new(Method::Get, "/profile");
        req.headers.push(("authorization".into(), value.clone()));
        if let Some(token) = crate::handlers::bearer_token(&req) {
            let text = std::str::from_utf8(&value).unwrap();
            prop_assert!(text.trim_start().to_ascii_lowercase().starts_with("bearer"));
            prop_assert!(!token.is_empty() && text.contains(token) && token.trim() == token);
        }
    }

    /// Arbitrary strings never verify as tokens.
    #[test]
    fn arbitrary_strings_never_verify(token in ".{0,300}") {
        prop_assert!(TokenKey::new(KEY).unwrap().verify(&token).is_err());
    }

    /// A valid token changed in one character, cut short or extended no
    /// longer verifies.
    #[test]
    fn mutated_tokens_never_verify(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.=+/-]", cut in any::<bool>()) {
        let token = valid_token();
        let key = TokenKey::new(KEY).unwrap();
        prop_assert!(key.verify(&token).is_ok());
        let i = position.index(token.len());
        let mutated = if cut {
            token[..i].to_owned()
        } else {
            format!("{}{}{}", &token[..i], replacement, &token[i + 1..])
        };
        prop_assume!(mutated != token);
        prop_assert!(key.verify(&mutated).is_err(), "{} verified", mutated);
        let extended = format!("{token}{replacement}");
        prop_assert!(key.verify(&extended).is_err());
    }

    /// Stored hashes: PHC strings, the Flask format and other systems'
    /// formats parse or are refused, never panic; the Flask format is
    /// exactly 128 hex digits.
    #[test]
    fn stored_hashes_parse_or_are_refused(stored in prop_oneof![
        ".{0,200}",
        "\\$pbkdf2-sha256\\$[a-z0-9=,]{0,30}\\$[A-Za-z0-9+/.]{0,30}\\$[A-Za-z0-9+/.]{0,60}",
        "[0-9a-fA-F+-]{128}",
        "(pbkdf2:sha(256|512):[0-9]{1,12}|scrypt:[0-9]{1,9}:[0-9]{1,4}:[0-9]{1,4})\\$[a-zA-Z0-9]{0,20}\\$[0-9a-f]{0,140}",
        "pbkdf2_sha256\\$[0-9]{1,12}\\$[a-zA-Z0-9]{0,20}\\$[A-Za-z0-9+/=]{0,60}",
        "\\$2[aby]\\$[0-9]{2}\\$[A-Za-z0-9./]{0,60}",
        "\\$argon2(id|i)\\$v=19\\$m=[0-9]{1,9},t=[0-9]{1,3},p=[0-9]{1,3}\\$[A-Za-z0-9+/]{0,30}\\$[A-Za-z0-9+/]{0,60}",
    ]) {
        match StoredHash::parse(&stored, 2_400_000) {
            Some(StoredHash::LegacyFlask(_)) => {
                prop_assert!(stored.len() == 128 && stored.bytes().all(|b| b.is_ascii_hexdigit()), "{}", stored);
            }
            Some(StoredHash::Pbkdf2(_)) => prop_assert!(stored.starts_with("$pbkdf2-sha256$")),
            Some(StoredHash::Imported(_)) | None => {}
        }
    }

    /// `database_url`: parsed or refused with an error naming the variable
    /// and not quoting the value.
    #[test]
    fn database_urls_parse_or_are_refused(raw in prop_oneof![".{0,80}", "(postgres|postgresql|mysql|sqlite)(\\+[a-z0-9]{1,8})?://[^ ]{0,60}"]) {
        if let Err(err) = DatabaseUrl::parse(&raw) {
            prop_assert_eq!(err.variable, "database_url");
            prop_assert!(raw.trim().len() < 8 || !err.problem.contains(raw.trim()));
        }
    }

    /// `policy` and `rabbitmq_url`: a value or an error naming the variable.
    #[test]
    fn grouped_settings_parse_or_name_their_variable(raw in prop_oneof![
        ".{0,80}",
        "((token_ttl_seconds|password_iterations|registration_enabled|cors_allowed_origins)=[a-z0-9:/,.*-]{0,12}[; ]){0,5}",
        "amqps?://[a-z:@]{0,12}[0-9.]{0,15}(:[0-9]{0,6})?(/[%a-z0-9]{0,8})?",
    ]) {
        if let Err(err) = crate::policy::Policy::parse(Some(&raw)) {
            prop_assert_eq!(err.variable, "policy");
        }
        if let Err(err) = crate::amqp_url::AmqpUrl::parse(&raw) {
            prop_assert_eq!(err.variable, "rabbitmq_url");
        }
    }

    /// Query strings: any path and query answers a path and parameters.
    #[test]
    fn query_strings_never_panic(target in "/[ -~]{0,80}", name in "[a-z]{1,8}") {
        let req = Request::new(Method::Get, &target);
        prop_assert!(target.starts_with(req.path()));
        let _ = req.query_param(&name);
    }
}
