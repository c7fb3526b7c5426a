//! The `auth` HTTP component: entry point and route table.
//!
//! Everything below the entry point is plain Rust: handlers receive an
//! [`http_io::Request`] and return an [`errors::ApiResult`], so the logic
//! unit-tests natively without a Spin host.

pub mod config;
pub mod errors;
pub mod handlers;
pub mod http_io;
pub mod response;
pub mod store;

use errors::ApiError;
use http_io::{Method, Request};
use response::Response;

/// What the router decided for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    TestDb,
}

/// The route table: path → route, and the methods each route accepts.
pub fn route(path: &str) -> Option<(Route, &'static [Method])> {
    match path {
        "/auth/health" => Some((Route::Health, &[Method::Get, Method::Head])),
        "/test-db" => Some((Route::TestDb, &[Method::Get, Method::Head])),
        _ => None,
    }
}

/// Dispatches one request to its handler.
pub fn dispatch(req: &Request) -> Response {
    let Some((route, methods)) = route(req.path()) else {
        return ApiError::NotFound.into_response();
    };
    if !methods.contains(&req.method) {
        return ApiError::MethodNotAllowed(methods).into_response();
    }
    let result = match route {
        Route::Health => handlers::health::get(),
        Route::TestDb => handlers::test_db::get(),
    };
    result.unwrap_or_else(ApiError::into_response)
}

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(
    incoming: spin_sdk::http::IncomingRequest,
    out: spin_sdk::http::ResponseOutparam,
) {
    let response = match http_io::read_request(incoming).await {
        Ok(req) => dispatch(&req),
        Err(err) => err.into_response(),
    };
    http_io::send_response(out, response).await;
}
