//! The boundary with `wasi:http`: reads an incoming request into a plain
//! [`Request`] (bounded body) and writes a [`Response`] back.

/// Largest request body accepted; anything longer is refused with 413 before
/// it is parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Other(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Other(m) => m,
        }
    }

    /// The `Allow` value of a path serving `methods`: those, and `OPTIONS`,
    /// which every path answers (the CORS preflight).
    pub fn allow_list(methods: &[Method]) -> String {
        let mut allow: Vec<&str> = methods.iter().map(Method::as_str).collect();
        allow.push(Method::Options.as_str());
        allow.join(", ")
    }
}

/// A request as the handlers see it: already bounded and buffered.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query as received, e.g. `/login?x=1`.
    pub path_and_query: String,
    /// Header names are lower-case, as `wasi:http` delivers them.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        Request {
            method,
            path_and_query: path_and_query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The path without its query string.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _)| path)
    }

    /// The raw value of the first `name` field of the query string (`""` for
    /// a bare `?name`); not percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let (_, query) = self.path_and_query.split_once('?')?;
        query.split('&').find_map(|field| match field.split_once('=') {
            Some((n, value)) if n == name => Some(value),
            None if field == name => Some(""),
            _ => None,
        })
    }

    /// Last value of a header, if it is present and valid UTF-8. Spin
    /// appends its own `spin-*` headers after the client's, so for those
    /// the last value is Spin's and any earlier one a client's forgery.
    pub fn last_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Every value of a header, in order; a value that is not UTF-8 reads
    /// as empty.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| std::str::from_utf8(v).unwrap_or(""))
    }

    /// First value of a header, if it is present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

#[cfg(target_arch = "wasm32")]
mod wasi_io {
    use super::*;
    use crate::errors::ApiError;
    use crate::response::Response;
    use futures::{SinkExt, StreamExt};
    use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

    fn method_of(m: spin_sdk::http::Method) -> Method {
        use spin_sdk::http::Method as M;
        match m {
            M::Get => Method::Get,
            M::Head => Method::Head,
            M::Post => Method::Post,
            M::Put => Method::Put,
            M::Delete => Method::Delete,
            M::Patch => Method::Patch,
            M::Options => Method::Options,
            other => Method::Other(other.to_string()),
        }
    }

    /// Buffers the request, refusing bodies over [`MAX_BODY_BYTES`] as soon as
    /// the limit is crossed (the rest is never read).
    pub async fn read_request(incoming: IncomingRequest) -> Result<Request, ApiError> {
        let method = method_of(incoming.method());
        let path_and_query = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
        let headers = incoming.headers().entries();
        let declared_len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
        if declared_len.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(ApiError::PayloadTooLarge);
        }
        let mut body = Vec::new();
        let mut stream = incoming.into_body_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ApiError::bad_request("Could not read request body"))?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Request { method, path_and_query, headers, body })
    }

    /// Sends the response; the body stream is finished when the sink drops.
    pub async fn send_response(out: ResponseOutparam, response: Response) {
        let fields: Vec<(String, Vec<u8>)> = response
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .collect();
        let headers = Fields::from_list(&fields).unwrap_or_else(|_| Fields::new());
        let outgoing = OutgoingResponse::new(headers);
        // Every status this component produces is a valid HTTP status.
        let _ = outgoing.set_status_code(response.status);
        let mut body = outgoing.take_body();
        out.set(outgoing);
        if let Err(err) = body.send(response.body).await {
            eprintln!("auth: client went away before the response body was sent: {err:?}");
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasi_io::{read_request, send_response};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_strips_the_query_string() {
        let req = Request::new(Method::Get, "/auth/health?verbose=1");
        assert_eq!(req.path(), "/auth/health");
        assert_eq!(Request::new(Method::Get, "/test-db").path(), "/test-db");
    }

    #[test]
    fn query_params_are_found_by_name() {
        let req = Request::new(Method::Get, "/auth/health?verbose&outbox=1&outbox=2");
        assert_eq!(req.query_param("outbox"), Some("1"));
        assert_eq!(req.query_param("verbose"), Some(""));
        assert_eq!(req.query_param("out"), None);
        assert_eq!(Request::new(Method::Get, "/auth/health").query_param("outbox"), None);
    }

    #[test]
    fn header_lookup_ignores_case_and_skips_non_utf8() {
        let mut req = Request::new(Method::Get, "/");
        req.headers.push(("authorization".into(), b"Bearer x".to_vec()));
        req.headers.push(("x-bin".into(), vec![0xff, 0xfe]));
        assert_eq!(req.header("Authorization"), Some("Bearer x"));
        assert_eq!(req.header("x-bin"), None);
        assert_eq!(req.header("missing"), None);
    }
}
