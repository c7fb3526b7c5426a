//! CORS: `Access-Control-Allow-*` on every response to a request that has an
//! `Origin`, and answers to browser preflights.

use crate::policy::AllowedOrigins;
use crate::http_io::Method;
use crate::response::Response;

const ALLOWED_HEADERS: &str = "Authorization, Content-Type";
const MAX_AGE_SECONDS: &str = "600";

/// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
fn allow_origin(origin: &str, allowed: &AllowedOrigins) -> Option<String> {
    match allowed {
        AllowedOrigins::Any => Some("*".to_owned()),
        AllowedOrigins::List(list) => {
            let origin = origin.trim_end_matches('/');
            list.iter().any(|o| o.eq_ignore_ascii_case(origin)).then(|| origin.to_owned())
        }
    }
}

/// Adds the CORS headers for a request from `origin`.
pub fn decorate(mut response: Response, origin: &str, allowed: &AllowedOrigins) -> Response {
    if let AllowedOrigins::List(_) = allowed {
        response = response.with_header("vary", "Origin");
    }
    match allow_origin(origin, allowed) {
        Some(value) => response.with_header("access-control-allow-origin", value),
        None => response,
    }
}

/// The answer to `OPTIONS` on a route serving `methods`.
pub fn preflight(methods: &[Method]) -> Response {
    let allow = Method::allow_list(methods);
    // No body, so no content type.
    Response::empty(204)
        .with_header("allow", allow.clone())
        .with_header("access-control-allow-methods", allow)
        .with_header("access-control-allow-headers", ALLOWED_HEADERS)
        .with_header("access-control-max-age", MAX_AGE_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Response {
        Response::json(200, &serde_json::json!({}))
    }

    #[test]
    fn wildcard_allows_every_origin() {
        let r = decorate(ok(), "https://anything.example", &AllowedOrigins::Any);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("vary"), None);
    }

    #[test]
    fn listed_origin_is_echoed_with_vary() {
        let allowed = AllowedOrigins::List(vec!["https://app.example".into()]);
        let r = decorate(ok(), "https://app.example", &allowed);
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
        assert_eq!(r.header("vary"), Some("Origin"));
        let r = decorate(ok(), "https://evil.example", &allowed);
        assert_eq!(r.header("access-control-allow-origin"), None);
        assert_eq!(r.header("vary"), Some("Origin"));
    }

    #[test]
    fn preflight_lists_methods_and_headers() {
        let r = preflight(&[Method::Post]);
        assert_eq!(r.status, 204);
        assert_eq!(r.header("access-control-allow-methods"), Some("POST, OPTIONS"));
        assert_eq!(r.header("access-control-allow-headers"), Some("Authorization, Content-Type"));
    }
}
