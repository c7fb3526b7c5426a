//! Reading a JSON request body, with a 400 and a plain message for every way
//! it can be wrong.

use crate::errors::ApiError;
use crate::http_io::Request;
use serde_json::{Map, Value};

/// The body as a JSON object; requires `Content-Type: application/json`.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let media_type = req.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::bad_request("Content-Type must be application/json"));
    }
    let text = std::str::from_utf8(&req.body).map_err(|_| ApiError::bad_request("Request body must be UTF-8"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("Request body must be a JSON object")),
        Err(_) => Err(ApiError::bad_request("Malformed JSON")),
    }
}

/// A required string field: present, a string, non-empty, without NUL
/// characters (PostgreSQL cannot store them) and at most `max_chars`
/// characters long (characters, as JSON Schema's `maxLength` counts them).
pub fn string_field(body: &Map<String, Value>, name: &str, max_chars: usize) -> Result<String, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!("Missing field: {name}"))),
        Some(Value::String(s)) if s.is_empty() => Err(ApiError::bad_request(format!("Missing field: {name}"))),
        Some(Value::String(s)) if s.chars().count() > max_chars => {
            Err(ApiError::bad_request(format!("Field {name} is longer than {max_chars} characters")))
        }
        Some(Value::String(s)) if s.contains('\0') => {
            Err(ApiError::bad_request(format!("Field {name} contains a NUL character")))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_request(format!("Field {name} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_io::Method;

    fn request(content_type: Option<&str>, body: &[u8]) -> Request {
        let mut req = Request::new(Method::Post, "/login");
        if let Some(ct) = content_type {
            req.headers.push(("content-type".into(), ct.as_bytes().to_vec()));
        }
        req.body = body.to_vec();
        req
    }

    fn message(err: ApiError) -> String {
        err.into_response().json_body()["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn accepts_json_with_parameters_in_the_content_type() {
        let obj = json_object(&request(Some("Application/JSON; charset=utf-8"), br#"{"a":"b"}"#)).unwrap();
        assert_eq!(string_field(&obj, "a", 10).unwrap(), "b");
    }

    #[test]
    fn every_malformed_body_gets_a_plain_message() {
        let cases: [(Option<&str>, &[u8], &str); 6] = [
            (None, b"{}", "Content-Type must be application/json"),
            (Some("text/plain"), b"{}", "Content-Type must be application/json"),
            (Some("application/json"), b"\xff\xfe", "Request body must be UTF-8"),
            (Some("application/json"), b"{\"a\":", "Malformed JSON"),
            (Some("application/json"), b"", "Malformed JSON"),
            (Some("application/json"), b"[1,2]", "Request body must be a JSON object"),
        ];
        for (ct, body, expected) in cases {
            assert_eq!(message(json_object(&request(ct, body)).unwrap_err()), expected, "{ct:?} {body:?}");
        }
    }

    #[test]
    fn string_fields_are_checked() {
        let obj = json_object(&request(
            Some("application/json"),
            br#"{"n":null,"e":"","x":7,"long":"abcdef","nul":"a\u0000b"}"#,
        ))
        .unwrap();
        assert_eq!(message(string_field(&obj, "missing", 5).unwrap_err()), "Missing field: missing");
        assert_eq!(message(string_field(&obj, "n", 5).unwrap_err()), "Missing field: n");
        assert_eq!(message(string_field(&obj, "e", 5).unwrap_err()), "Missing field: e");
        assert_eq!(message(string_field(&obj, "x", 5).unwrap_err()), "Field x must be a string");
        assert_eq!(message(string_field(&obj, "long", 5).unwrap_err()), "Field long is longer than 5 characters");
        assert_eq!(message(string_field(&obj, "nul", 5).unwrap_err()), "Field nul contains a NUL character");
    }
}
