//! The `auth` HTTP component: entry point and route table.
//!
//! Everything below the entry point is plain Rust: handlers receive an
//! [`http_io::Request`] and return an [`errors::ApiResult`], and the
//! password, token and account logic never touch `spin_sdk`, so they
//! unit-test natively.

pub mod accounts;
pub mod amqp_url;
pub mod bridge_client;
pub mod broker;
pub mod client_throttle;
pub mod config;
pub mod cors;
pub mod errors;
pub mod events;
pub mod handlers;
pub mod http_io;
pub mod imported_hashes;
pub mod json_body;
pub mod migrations;
pub mod outbox;
pub mod passwords;
pub mod policy;
pub mod response;
pub mod sessions;
pub mod signing_keys;
pub mod token_self_check;
pub mod store;
pub mod tokens;
pub mod user_tokens;

#[cfg(test)]
mod parser_properties;

use errors::ApiError;
use http_io::{Method, Request};
use response::Response;

/// Every endpoint of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    TestDb,
    Login,
    Register,
    Profile,
    TestEvent,
    AdminMigrate,
    AdminFlush,
    OpenApi,
    TokenRefresh,
    Logout,
    Sessions,
    Session,
    Jwks,
    AdminRotateKeys,
    Password,
    PasswordForgot,
    PasswordReset,
    EmailVerify,
    EmailVerifyResend,
}

/// Work left for after the response has gone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// An event was written: deliver the outbox.
    DeliverOutbox,
}

const GET: &[Method] = &[Method::Get, Method::Head];
const POST: &[Method] = &[Method::Post];
const DELETE: &[Method] = &[Method::Delete];

/// The route table: path, route and the methods it serves (every path
/// also answers `OPTIONS`, the CORS preflight). `openapi.json` documents
/// exactly these; a unit test holds the two together.
pub const ROUTES: &[(&str, Route, &[Method])] = &[
    ("/auth/health", Route::Health, GET),
    ("/test-db", Route::TestDb, GET),
    ("/login", Route::Login, POST),
    ("/register", Route::Register, POST),
    ("/profile", Route::Profile, GET),
    ("/test-event", Route::TestEvent, GET),
    ("/admin/migrate", Route::AdminMigrate, POST),
    ("/admin/outbox/flush", Route::AdminFlush, POST),
    ("/openapi.json", Route::OpenApi, GET),
    ("/token/refresh", Route::TokenRefresh, POST),
    ("/logout", Route::Logout, POST),
    ("/sessions", Route::Sessions, GET),
    ("/sessions/{id}", Route::Session, DELETE),
    ("/.well-known/jwks.json", Route::Jwks, GET),
    ("/admin/keys/rotate", Route::AdminRotateKeys, POST),
    ("/password", Route::Password, POST),
    ("/password/forgot", Route::PasswordForgot, POST),
    ("/password/reset", Route::PasswordReset, POST),
    ("/email/verify", Route::EmailVerify, POST),
    ("/email/verify/resend", Route::EmailVerifyResend, POST),
];

/// The route for a path and the methods it serves.
pub fn route(path: &str) -> Option<(Route, &'static [Method])> {
    ROUTES.iter().find(|(p, ..)| matches_template(p, path)).map(|&(_, route, methods)| (route, methods))
}

/// A path matches its template exactly, or, where the template ends in a
/// `{parameter}`, with one non-empty segment in its place.
pub fn matches_template(template: &str, path: &str) -> bool {
    match template.split_once('{') {
        None => template == path,
        Some((prefix, _)) => path.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
    }
}

impl Route {
    /// The costly or state-creating POSTs, throttled by client (DESIGN.md §7).
    pub fn throttled_by_client(self) -> bool {
        self.client_token_first()
            || matches!(self, Route::Login | Route::TokenRefresh | Route::Password)
    }

    /// Those that take the client's token in a statement of its own before
    /// anything else; a login, a refresh and a password change take it in
    /// their first statement (on PostgreSQL in the same round trip).
    pub fn client_token_first(self) -> bool {
        matches!(
            self,
            Route::Register | Route::PasswordForgot | Route::PasswordReset | Route::EmailVerify | Route::EmailVerifyResend
        )
    }
}

fn handle(route: Route, req: &Request) -> (Response, After) {
    if route.client_token_first() {
        if let Err(refused) = handlers::admit_client(req) {
            return (refused.into_response(), After::Nothing);
        }
    }
    let result = match route {
        Route::Health => handlers::health::get(req),
        Route::TestDb => handlers::test_db::get(),
        Route::Login => handlers::login::post(req),
        Route::Register => handlers::register::post(req),
        Route::Profile => handlers::profile::get(req),
        Route::TestEvent => handlers::test_event::get(),
        Route::AdminMigrate => handlers::admin::migrate(req),
        Route::AdminFlush => handlers::admin::flush(req),
        Route::OpenApi => handlers::openapi::get(req),
        Route::TokenRefresh => handlers::refresh::post(req),
        Route::Logout => handlers::logout::post(req),
        Route::Sessions => handlers::sessions::list(req),
        Route::Session => handlers::sessions::delete(req),
        Route::Jwks => handlers::jwks::get(),
        Route::AdminRotateKeys => handlers::admin::rotate_keys(req),
        Route::Password => handlers::password::post(req),
        Route::PasswordForgot => handlers::password_reset::forgot(req),
        Route::PasswordReset => handlers::password_reset::reset(req),
        Route::EmailVerify => handlers::email_verification::verify(req),
        Route::EmailVerifyResend => handlers::email_verification::resend(req),
    };
    let response = result.unwrap_or_else(ApiError::into_response);
    let after = if handlers::take_queued_event() { After::DeliverOutbox } else { After::Nothing };
    (response, after)
}

/// Routes one request, answers preflights, and adds CORS headers when the
/// request names an `Origin` (only then is `policy` read for its
/// `cors_allowed_origins`).
pub fn dispatch(req: &Request) -> (Response, After) {
    let (response, after) = match route(req.path()) {
        None => (ApiError::NotFound.into_response(), After::Nothing),
        Some((_, methods)) if req.method == Method::Options => (cors::preflight(methods), After::Nothing),
        Some((_, methods)) if !methods.contains(&req.method) => {
            (ApiError::MethodNotAllowed(methods).into_response(), After::Nothing)
        }
        Some((route, _)) => handle(route, req),
    };
    let response = match req.header("origin") {
        Some(origin) => match handlers::policy() {
            Ok(policy) => cors::decorate(response, origin, &policy.cors_allowed_origins),
            Err(err) => ApiError::from(err).into_response(),
        },
        None => response,
    };
    (response, after)
}

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle_request(
    incoming: spin_sdk::http::IncomingRequest,
    out: spin_sdk::http::ResponseOutparam,
) {
    let (response, after) = match http_io::read_request(incoming).await {
        Ok(req) => dispatch(&req),
        Err(err) => (err.into_response(), After::Nothing),
    };
    http_io::send_response(out, response).await;
    // The client has its answer: work whose length must not show in it
    // (handlers::defer), then delivery, add nothing to its latency.
    let queued_later = handlers::run_deferred();
    if after == After::DeliverOutbox || queued_later {
        let _ = handlers::deliver_outbox(outbox::AFTER_RESPONSE_BATCHES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_maps_paths_and_methods() {
        assert_eq!(route("/login").map(|r| r.0), Some(Route::Login));
        assert_eq!(route("/profile").map(|r| r.1), Some(GET));
        assert_eq!(route("/login/"), None);
        assert_eq!(route("/LOGIN"), None);
        assert_eq!(route("/sessions").map(|r| r.0), Some(Route::Sessions));
        assert_eq!(route("/sessions/0f8fad5b-d9cb-469f-a165-70867728950e").map(|r| r.0), Some(Route::Session));
        for unrouted in ["/sessions/", "/sessions/a/b", "/sessionsx", "/sessions/a/"] {
            assert_eq!(route(unrouted), None, "{unrouted}");
        }
    }

    /// `openapi.json` documents exactly the route table's paths, each with
    /// its methods and `OPTIONS`, and the answers `dispatch` gives without
    /// a handler (404, 405 with `Allow`).
    #[test]
    fn the_api_document_and_the_route_table_agree() {
        let document: serde_json::Value =
            serde_json::from_slice(&handlers::openapi::document().unwrap()).unwrap();
        let paths = document["paths"].as_object().unwrap();
        let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
        let mut routed: Vec<&str> = ROUTES.iter().map(|(p, ..)| *p).collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed, "paths in openapi.json vs the route table");
        for (path, _, methods) in ROUTES {
            let mut expected: Vec<String> = methods.iter().map(|m| m.as_str().to_ascii_lowercase()).collect();
            expected.push("options".into());
            expected.sort();
            let item = paths[*path].as_object().unwrap();
            let mut listed: Vec<String> =
                item.keys().filter(|k| !matches!(k.as_str(), "summary" | "description" | "parameters")).cloned().collect();
            listed.sort();
            assert_eq!(listed, expected, "methods of {path}");
            for (method, operation) in item.iter().filter(|(k, _)| expected.contains(k)) {
                let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: responses"));
                assert!(!responses.is_empty(), "{method} {path} documents no response");
                assert!(operation["operationId"].is_string(), "{method} {path}: operationId");
            }
        }
        let shared = &document["components"]["responses"];
        assert!(shared["NotFound"].is_object() && shared["MethodNotAllowed"]["headers"]["Allow"].is_object());
    }

    /// The routes throttled by client, and only they, document the 429
    /// `Too many requests` their bucket answers, with `Retry-After`.
    #[test]
    fn throttled_routes_document_their_429() {
        let document: serde_json::Value =
            serde_json::from_slice(&handlers::openapi::document().unwrap()).unwrap();
        for (path, route, methods) in ROUTES {
            for method in methods.iter().map(|m| m.as_str().to_ascii_lowercase()) {
                let limited = &document["paths"][*path][&method]["responses"]["429"];
                let messages = &limited["content"]["application/json"]["schema"]["allOf"][1]["properties"]["message"]["enum"];
                let documented = messages.as_array().is_some_and(|m| m.contains(&serde_json::json!("Too many requests")));
                assert_eq!(documented, route.throttled_by_client(), "{method} {path}");
                if documented {
                    assert!(limited["headers"]["Retry-After"]["required"] == true, "{method} {path}: Retry-After");
                }
            }
        }
    }

    #[test]
    fn unknown_paths_and_methods_need_no_host() {
        let (resp, after) = dispatch(&Request::new(Method::Get, "/missing"));
        assert_eq!((resp.status, after), (404, After::Nothing));
        let (resp, _) = dispatch(&Request::new(Method::Delete, "/login"));
        assert_eq!((resp.status, resp.header("allow")), (405, Some("POST, OPTIONS")));
        let (resp, _) = dispatch(&Request::new(Method::Options, "/login"));
        assert_eq!(resp.status, 204);
    }
}
