//! `GET /openapi.json`: the API document (`openapi.json` at the repository
//! root), embedded at build time minified and gzipped (`build.rs`), so that
//! every instance's memory carries 8 KB of it rather than 97 KB. Clients
//! that accept gzip get those bytes as they are; others get it inflated.

use crate::errors::{ApiError, ApiResult};
use crate::http_io::Request;
use crate::response::Response;

/// The document, minified and gzipped.
pub const GZIPPED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json.gz"));

pub fn get(req: &Request) -> ApiResult {
    let response = if accepts_gzip(req.header("accept-encoding").unwrap_or("")) {
        Response::new(200, "application/json", GZIPPED.to_vec()).with_header("content-encoding", "gzip")
    } else {
        Response::new(200, "application/json", document().map_err(|_| ApiError::Internal("inflating openapi.json"))?)
    };
    Ok(response.with_header("vary", "accept-encoding").with_header("cache-control", "public, max-age=3600"))
}

/// The document's JSON text. `build.rs` writes one gzip member with the
/// plain 10-byte header; the deflate data sits between it and the 8-byte
/// trailer (whose checksum is not needed for bytes built into the binary).
pub fn document() -> Result<Vec<u8>, miniz_oxide::inflate::DecompressError> {
    let deflate = GZIPPED.get(10..GZIPPED.len().saturating_sub(8)).unwrap_or_default();
    miniz_oxide::inflate::decompress_to_vec(deflate)
}

/// Whether an `Accept-Encoding` value lists gzip (or `*`) with a non-zero
/// quality.
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")).is_some_and(|q| q.trim().parse::<f32>().map_or(true, |q| q <= 0.0))
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_io::Method;

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        for yes in ["gzip", "gzip, deflate, br", "deflate, GZIP;q=0.5", "*", "br;q=1, gzip ; q=0.1"] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in ["", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.0", "*;q=0", "gzipx", "gzip;q=nan-ish"] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }

    #[test]
    fn the_document_is_served_plain_or_gzipped() {
        let plain = get(&Request::new(Method::Get, "/openapi.json")).unwrap();
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None);
        let document: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
        assert_eq!(document["openapi"], "3.1.0");

        let mut req = Request::new(Method::Get, "/openapi.json");
        req.headers.push(("accept-encoding".into(), b"gzip, deflate".to_vec()));
        let gzipped = get(&req).unwrap();
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
        assert_eq!(gzipped.header("vary"), Some("accept-encoding"));
        assert_eq!(gzipped.body, GZIPPED);
        assert!(GZIPPED.len() < plain.body.len() / 4, "{} bytes gzipped of {}", GZIPPED.len(), plain.body.len());
    }
}
