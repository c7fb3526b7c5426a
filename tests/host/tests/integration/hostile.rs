//! A table of hostile requests: each must get its 4xx and the contract's
//! `{"message": ...}` body, never a 5xx, a panic or a trap.

use crate::on_both_stores;
use crate::support::SECRET_KEY;
use base64::Engine as _;
use hmac::{KeyInit, Mac};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A token over any header and payload, signed HS256 with `key`.
fn signed(header: &str, payload: &str, key: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    status: u16,
    /// The exact message, when the case pins one.
    message: Option<&'static str>,
}

fn json_post(name: &'static str, path: &'static str, body: impl Into<Vec<u8>>, status: u16, message: Option<&'static str>) -> Case {
    Case {
        name,
        method: "POST",
        path,
        headers: vec![("content-type", b"application/json".to_vec())],
        body: body.into(),
        status,
        message,
    }
}

fn profile(name: &'static str, authorization: impl Into<Vec<u8>>, status: u16, message: &'static str) -> Case {
    Case {
        name,
        method: "GET",
        path: "/profile",
        headers: vec![("authorization", authorization.into())],
        body: Vec::new(),
        status,
        message: Some(message),
    }
}

fn cases() -> Vec<Case> {
    const BAD_JSON: Option<&str> = Some("Malformed JSON");
    const NOT_OBJECT: Option<&str> = Some("Request body must be a JSON object");
    const INVALID: Option<&str> = Some("Invalid credentials");
    let exp = now() + 600;
    let claims = format!(r#"{{"user_id":"u-1","username":"x","exp":{exp}}}"#);
    let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
    let good = signed(hs256, &claims, SECRET_KEY.as_bytes());
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let sql_user = signed(hs256, &format!(r#"{{"user_id":"' OR '1'='1","username":"x","exp":{exp}}}"#), SECRET_KEY.as_bytes());

    let mut cases = vec![
        // Login bodies.
        Case { headers: vec![], ..json_post("login without content type", "/login", r#"{"username":"a","password":"b"}"#, 400, Some("Content-Type must be application/json")) },
        Case { headers: vec![("content-type", b"text/plain".to_vec())], ..json_post("login as text/plain", "/login", r#"{"username":"a","password":"b"}"#, 400, Some("Content-Type must be application/json")) },
        Case { headers: vec![("content-type", b"application/x-www-form-urlencoded".to_vec())], ..json_post("login as a form", "/login", "username=a&password=b", 400, Some("Content-Type must be application/json")) },
        json_post("truncated JSON", "/login", r#"{"username":"a","#, 400, BAD_JSON),
        json_post("empty body", "/login", "", 400, BAD_JSON),
        json_post("trailing garbage", "/login", r#"{"username":"a","password":"b"} x"#, 400, BAD_JSON),
        json_post("single quotes", "/login", "{'username':'a'}", 400, BAD_JSON),
        json_post("JSON array", "/login", r#"["a","b"]"#, 400, NOT_OBJECT),
        json_post("JSON string", "/login", r#""a""#, 400, NOT_OBJECT),
        json_post("JSON null", "/login", "null", 400, NOT_OBJECT),
        json_post("non-UTF-8 body", "/login", b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec(), 400, Some("Request body must be UTF-8")),
        json_post("deeply nested JSON", "/login", format!("{}{}", "[".repeat(5000), "]".repeat(5000)), 400, BAD_JSON),
        json_post("username is a number", "/login", r#"{"username":42,"password":"b"}"#, 400, Some("Field username must be a string")),
        json_post("password is an array", "/login", r#"{"username":"a","password":["b"]}"#, 400, Some("Field password must be a string")),
        json_post("username is an object", "/login", r#"{"username":{"$ne":null},"password":"b"}"#, 400, Some("Field username must be a string")),
        json_post("username is null", "/login", r#"{"username":null,"password":"b"}"#, 400, Some("Missing field: username")),
        json_post("password missing", "/login", r#"{"username":"a"}"#, 400, Some("Missing field: password")),
        json_post("empty username", "/login", r#"{"username":"","password":"b"}"#, 400, Some("Missing field: username")),
        json_post("huge number", "/login", r#"{"username":1e999,"password":"b"}"#, 400, None),
        json_post("password over 1024 characters", "/login", format!(r#"{{"username":"a","password":"{}"}}"#, "p".repeat(1025)), 400, Some("Field password is longer than 1024 characters")),
        json_post("username over 320 characters", "/login", format!(r#"{{"username":"{}","password":"b"}}"#, "u".repeat(321)), 400, Some("Field username is longer than 320 characters")),
        // Limits count characters, as the document's maxLength does.
        json_post("1024 two-byte characters of password", "/login", format!(r#"{{"username":"a","password":"{}"}}"#, "é".repeat(1024)), 401, INVALID),
        json_post("320 two-byte characters of username", "/login", format!(r#"{{"username":"{}","password":"b"}}"#, "é".repeat(320)), 401, INVALID),
        json_post("NUL in username", "/login", r#"{"username":"a\u0000b","password":"b"}"#, 400, Some("Field username contains a NUL character")),
        json_post("SQL in username", "/login", r#"{"username":"' OR '1'='1","password":"x"}"#, 401, INVALID),
        json_post("SQL comment in username", "/login", r#"{"username":"admin'--","password":"x"}"#, 401, INVALID),
        json_post("SQL in password", "/login", r#"{"username":"a","password":"' OR 1=1; DROP TABLE \"user\"; --"}"#, 401, INVALID),
        json_post("unicode username", "/login", r#"{"username":"ünïcödé😀","password":"x"}"#, 401, INVALID),
        json_post("body over 64 KiB", "/login", format!(r#"{{"username":"a","password":"{}"}}"#, "p".repeat(70_000)), 413, Some("Request body too large")),
        // Registration bodies.
        json_post("SQL in new username", "/register", r#"{"username":"a'; DROP TABLE \"user\";--","email":"a@example.com","password":"password1"}"#, 400, Some("Username must be 3-80 characters of letters, digits, '.', '_' or '-'")),
        json_post("SQL in new email", "/register", r#"{"username":"mallory","email":"x@y.com' OR '1'='1","password":"password1"}"#, 400, Some("Email must be a valid address of at most 120 characters")),
        json_post("short username", "/register", r#"{"username":"ab","email":"a@example.com","password":"password1"}"#, 400, Some("Username must be 3-80 characters of letters, digits, '.', '_' or '-'")),
        json_post("email over 120 chars", "/register", format!(r#"{{"username":"longmail","email":"{}@example.com","password":"password1"}}"#, "a".repeat(110)), 400, Some("Email must be a valid address of at most 120 characters")),
        json_post("short password", "/register", r#"{"username":"shorty","email":"s@example.com","password":"1234567"}"#, 400, Some("Password must be 8 to 1024 characters long")),
        // The e-mail rule is the document's pattern: nothing trimmed, ASCII domains.
        json_post("email with a space before it", "/register", r#"{"username":"spacey","email":" s@example.com","password":"password1"}"#, 400, Some("Email must be a valid address of at most 120 characters")),
        json_post("email with a Unicode domain", "/register", r#"{"username":"idn","email":"s@bücher.example","password":"password1"}"#, 400, Some("Email must be a valid address of at most 120 characters")),
        json_post("missing email", "/register", r#"{"username":"noemail","password":"password1"}"#, 400, Some("Missing field: email")),
        json_post("NUL in email", "/register", r#"{"username":"nul","email":"a\u0000@example.com","password":"password1"}"#, 400, Some("Field email contains a NUL character")),
        json_post("register with an array", "/register", "[]", 400, NOT_OBJECT),
        // Authorization headers.
        profile("Bearer without a token", "Bearer", 403, "Token is missing"),
        profile("Bearer and spaces", "Bearer    ", 403, "Token is missing"),
        profile("Token scheme", "Token abc", 403, "Token is missing"),
        profile("Basic scheme", "Basic YWRtaW46YWRtaW4=", 403, "Token is missing"),
        profile("bare token without scheme", good.clone(), 403, "Token is missing"),
        profile("non-UTF-8 header", b"Bearer \xff\xfe\xfd".to_vec(), 403, "Token is missing"),
        profile("three dots of garbage", "Bearer a.b.c", 401, "Invalid token"),
        profile("SQL as the token", "Bearer ' OR 1=1 --", 401, "Invalid token"),
        profile("20 KB token", format!("Bearer {}", "a".repeat(20_000)), 401, "Invalid token"),
        profile("alg none", format!("Bearer {}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims.as_bytes())), 401, "Invalid token"),
        profile("alg HS512", format!("Bearer {}", signed(r#"{"alg":"HS512"}"#, &claims, SECRET_KEY.as_bytes())), 401, "Invalid token"),
        profile("alg RS256", format!("Bearer {}", signed(r#"{"alg":"RS256"}"#, &claims, SECRET_KEY.as_bytes())), 401, "Invalid token"),
        profile("tampered signature", format!("Bearer {tampered}"), 401, "Invalid token"),
        profile("wrong key", format!("Bearer {}", signed(hs256, &claims, b"some-other-secret-key-of-enough-length")), 401, "Invalid token"),
        profile("future nbf", format!("Bearer {}", signed(hs256, &format!(r#"{{"user_id":"u","username":"x","exp":{exp},"nbf":{}}}"#, now() + 600), SECRET_KEY.as_bytes())), 401, "Invalid token"),
        profile("expired", format!("Bearer {}", signed(hs256, &format!(r#"{{"user_id":"u","username":"x","exp":{}}}"#, now() - 600), SECRET_KEY.as_bytes())), 401, "Token expired"),
        profile("no exp", format!("Bearer {}", signed(hs256, r#"{"user_id":"u","username":"x"}"#, SECRET_KEY.as_bytes())), 401, "Invalid token"),
        profile("SQL in a signed user_id", format!("Bearer {sql_user}"), 404, "User not found"),
    ];
    // Methods and paths.
    for (name, method, path, status) in [
        ("GET /login", "GET", "/login", 405),
        ("PUT /login", "PUT", "/login", 405),
        ("DELETE /profile", "DELETE", "/profile", 405),
        ("POST /test-event", "POST", "/test-event", 405),
        ("unknown path", "GET", "/etc/passwd", 404),
        ("path traversal", "GET", "/auth/../login", 404),
        ("admin without a configured token", "POST", "/admin/migrate", 404),
    ] {
        cases.push(Case { name, method, path, headers: vec![], body: Vec::new(), status, message: None });
    }
    cases
}

on_both_stores! {
async fn hostile_requests_get_a_4xx_with_the_json_message_shape(store) {
    let app = store.app()?;
    app.register("victim", "victim@example.com", "victim-password").await?;
    let cases = cases();
    assert!(cases.len() >= 40, "the battery has {} cases", cases.len());
    for (i, case) in cases.into_iter().enumerate() {
        let headers: Vec<(&str, &[u8])> = case.headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        // Each case from its own address: one client sending the whole
        // battery would rightly meet its bucket's 429 (DESIGN.md §7).
        let client = format!("198.18.{}.{}:4000", i / 250, i % 250 + 1);
        let reply = app.raw_from(&client, case.method, case.path, &headers, &case.body).await?;
        assert_eq!(reply.status, case.status, "{}: {}", case.name, reply.text());
        assert_eq!(reply.header("content-type"), Some("application/json"), "{}", case.name);
        let body = reply.json();
        let object = body.as_object().unwrap_or_else(|| panic!("{}: not an object: {body}", case.name));
        assert_eq!(object.len(), 1, "{}: {body}", case.name);
        let message = object["message"].as_str().unwrap_or_else(|| panic!("{}: no message: {body}", case.name));
        if let Some(expected) = case.message {
            assert_eq!(message, expected, "{}", case.name);
        }
    }
    // Nothing hostile changed the data.
    assert_eq!(store.count(r#"SELECT count(*) FROM "user""#).await?, 1);
    app.login("victim", "victim-password").await?;
    Ok(())
}
}
