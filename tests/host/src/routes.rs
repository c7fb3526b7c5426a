//! Spin's HTTP routing: exact routes, `:name` segments and trailing `/...`
//! wildcards, the best match winning regardless of manifest order, and the
//! `spin-*` headers Spin adds to each request.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

#[derive(Debug, Clone)]
struct Route {
    raw: String,
    component: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

/// The outcome of routing one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub component: String,
    /// The route as written in the manifest.
    pub raw_route: String,
    /// The route with one trailing `/` removed (`/` becomes empty).
    pub matched_route: String,
    /// The raw route without its `/...` suffix.
    pub component_route: String,
    /// The part of the path the wildcard matched (empty for exact routes).
    pub path_info: String,
    /// `:name` captures, in order.
    pub params: Vec<(String, String)>,
}

impl RouteMatch {
    /// What Spin routes a service-chaining request as
    /// (`http://<component>.spin.internal/<path>`): the component, as if
    /// matched by a `/...` route, the whole path its wildcard part.
    pub fn synthetic(component: &str, path: &str) -> RouteMatch {
        RouteMatch {
            component: component.to_owned(),
            raw_route: "/...".to_owned(),
            matched_route: "/...".to_owned(),
            component_route: String::new(),
            path_info: path.to_owned(),
            params: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

fn segments_of(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect()
}

impl Router {
    pub fn add(&mut self, raw: &str, component: &str) -> Result<()> {
        if !raw.starts_with('/') {
            bail!("route {raw:?} must start with '/'");
        }
        let sanitized = raw.strip_suffix('/').unwrap_or(raw);
        let (body, wildcard) = match sanitized.strip_suffix("/...").or_else(|| sanitized.strip_suffix("/*")) {
            Some(body) => (body, true),
            None if sanitized == "/..." || sanitized == "/*" => ("", true),
            None => (sanitized, false),
        };
        let segments = segments_of(body)
            .into_iter()
            .map(|s| match s.strip_prefix(':') {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Exact(s.to_owned()),
            })
            .collect();
        // A later duplicate replaces an earlier one, as in Spin.
        self.routes.retain(|r| r.raw != raw);
        self.routes.push(Route { raw: raw.to_owned(), component: component.to_owned(), segments, wildcard });
        Ok(())
    }

    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let path_segments = segments_of(path);
        self.routes
            .iter()
            .filter_map(|route| Self::try_match(route, path, &path_segments))
            .max_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, m)| m)
    }

    /// Matches one route; the returned rank orders candidates: per path
    /// segment exact > parameter > wildcard, then a route without wildcard,
    /// then more segments.
    fn try_match(route: &Route, path: &str, path_segments: &[&str]) -> Option<((Vec<u8>, bool, usize), RouteMatch)> {
        let n = route.segments.len();
        if path_segments.len() < n || (!route.wildcard && path_segments.len() != n) {
            return None;
        }
        let mut rank = Vec::with_capacity(n + 1);
        let mut params = Vec::new();
        for (segment, actual) in route.segments.iter().zip(path_segments) {
            match segment {
                Segment::Exact(s) if s == actual => rank.push(3),
                Segment::Exact(_) => return None,
                Segment::Param(name) => {
                    rank.push(2);
                    params.push((name.clone(), (*actual).to_owned()));
                }
            }
        }
        rank.resize(path_segments.len(), 1);
        let path_info = if route.wildcard { Self::tail(path, n) } else { String::new() };
        let sanitized = route.raw.strip_suffix('/').unwrap_or(&route.raw);
        let component_route =
            route.raw.strip_suffix("/...").map_or_else(|| route.raw.clone(), str::to_owned);
        Some((
            (rank, !route.wildcard, n),
            RouteMatch {
                component: route.component.clone(),
                raw_route: route.raw.clone(),
                matched_route: sanitized.to_owned(),
                component_route,
                path_info,
                params,
            },
        ))
    }

    /// The path after its first `n` segments, keeping slashes as sent.
    fn tail(path: &str, n: usize) -> String {
        let mut rest = path;
        for _ in 0..n {
            rest = rest.trim_start_matches('/');
            rest = rest.find('/').map_or("", |i| &rest[i..]);
        }
        rest.to_owned()
    }
}

/// The `spin-*` request headers Spin adds for a routed request.
pub fn spin_headers(m: &RouteMatch, full_url: &str, client_addr: &str) -> Vec<(String, String)> {
    let mut headers = vec![
        ("spin-path-info".to_owned(), m.path_info.clone()),
        ("spin-full-url".to_owned(), full_url.to_owned()),
        ("spin-matched-route".to_owned(), m.matched_route.clone()),
        ("spin-base-path".to_owned(), "/".to_owned()),
        ("spin-raw-component-route".to_owned(), m.raw_route.clone()),
        ("spin-component-route".to_owned(), m.component_route.clone()),
        ("spin-client-addr".to_owned(), client_addr.to_owned()),
    ];
    for (name, value) in &m.params {
        headers.push((format!("spin-path-match-{}", name.to_ascii_lowercase().replace('_', "-")), value.clone()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        let mut r = Router::default();
        for (route, component) in [
            ("/...", "catch-all"),
            ("/auth/health", "health"),
            ("/auth/...", "auth"),
            ("/users/:id", "user"),
            ("/users/:id/...", "user-sub"),
            ("/users/me", "me"),
        ] {
            r.add(route, component).unwrap();
        }
        r
    }

    fn component(path: &str) -> Option<String> {
        router().route(path).map(|m| m.component)
    }

    #[test]
    fn exact_beats_parameter_beats_wildcard() {
        assert_eq!(component("/auth/health").as_deref(), Some("health"));
        assert_eq!(component("/auth/other").as_deref(), Some("auth"));
        assert_eq!(component("/users/me").as_deref(), Some("me"));
        assert_eq!(component("/users/42").as_deref(), Some("user"));
        assert_eq!(component("/users/42/keys").as_deref(), Some("user-sub"));
        assert_eq!(component("/elsewhere").as_deref(), Some("catch-all"));
    }

    #[test]
    fn without_a_catch_all_unknown_paths_match_nothing() {
        let mut r = Router::default();
        r.add("/login", "auth").unwrap();
        assert!(r.route("/login").is_some());
        assert!(r.route("/login/").is_some(), "a trailing slash still matches");
        assert!(r.route("/logins").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn wildcard_reports_path_info_and_routes() {
        let m = router().route("/auth/x/y/").unwrap();
        assert_eq!(m.path_info, "/x/y/");
        assert_eq!(m.raw_route, "/auth/...");
        assert_eq!(m.matched_route, "/auth/...");
        assert_eq!(m.component_route, "/auth");
        assert_eq!(router().route("/auth").unwrap().path_info, "");
    }

    #[test]
    fn parameters_become_path_match_headers() {
        let m = router().route("/users/42").unwrap();
        let headers = spin_headers(&m, "http://localhost:3000/users/42", "127.0.0.1:5000");
        assert!(headers.contains(&("spin-path-match-id".into(), "42".into())));
        assert!(headers.contains(&("spin-full-url".into(), "http://localhost:3000/users/42".into())));
        assert!(headers.contains(&("spin-client-addr".into(), "127.0.0.1:5000".into())));
        assert!(headers.contains(&("spin-base-path".into(), "/".into())));
    }
}
