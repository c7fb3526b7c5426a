//! CORS on every route: preflights and headers on actual requests, on both
//! stores.

use crate::on_both_stores;

on_both_stores! {
async fn preflight_is_answered_on_every_route(store) {
    let app = store.app()?;
    for (path, methods) in [("/login", "POST, OPTIONS"), ("/profile", "GET, HEAD, OPTIONS"), ("/register", "POST, OPTIONS")] {
        let headers: [(&str, &[u8]); 3] = [
            ("origin", b"https://app.example"),
            ("access-control-request-method", b"POST"),
            ("access-control-request-headers", b"content-type, authorization"),
        ];
        let reply = app.raw("OPTIONS", path, &headers, b"").await?;
        assert_eq!(reply.status, 204, "{path}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(reply.header("access-control-allow-methods"), Some(methods), "{path}");
        assert_eq!(reply.header("access-control-allow-headers"), Some("Authorization, Content-Type"));
    }
    Ok(())
}
}

on_both_stores! {
async fn actual_requests_carry_the_allow_origin_header(store) {
    let app = store.app()?;
    let reply = app.raw("GET", "/auth/health", &[("origin", b"https://app.example")], b"").await?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let error = app.raw("GET", "/profile", &[("origin", b"https://app.example")], b"").await?;
    assert_eq!(error.status, 403);
    assert_eq!(error.header("access-control-allow-origin"), Some("*"), "errors carry CORS headers too");
    let no_origin = app.get("/auth/health").await?;
    assert_eq!(no_origin.header("access-control-allow-origin"), None);
    Ok(())
}
}

on_both_stores! {
async fn configured_origins_are_echoed_and_others_refused(store) {
    let app = store.app_with(&[("policy", "cors_allowed_origins=https://app.example,https://admin.example")])?;
    let allowed = app.raw("GET", "/auth/health", &[("origin", b"https://admin.example")], b"").await?;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://admin.example"));
    assert_eq!(allowed.header("vary"), Some("Origin"));
    let refused = app.raw("GET", "/auth/health", &[("origin", b"https://evil.example")], b"").await?;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    assert_eq!(refused.header("vary"), Some("Origin"));
    Ok(())
}
}
