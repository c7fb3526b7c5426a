//! The smallest component that does what `/auth/health` and `/profile` do:
//! two variables, one PostgreSQL statement, an HS256 check. No store
//! interface, no outbox, no composed dependency, no JSON error shapes. It
//! is the yardstick of `tests/bench/spin-ab`: how fast Spin can answer these
//! two requests at all.

use jwt_simple::prelude::*;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::pg4::{Connection, Decode, ParameterValue};
use spin_sdk::{http_component, variables};

#[derive(Serialize, Deserialize)]
struct Claims {
    user_id: String,
}

fn json(status: u16, body: String) -> Response {
    Response::builder().status(status).header("content-type", "application/json").body(body).build()
}

fn connect() -> Option<Connection> {
    Connection::open(&variables::get("database_url").ok()?).ok()
}

fn health() -> Response {
    match connect().and_then(|c| c.query("SELECT 1", &[]).ok()) {
        Some(_) => json(200, r#"{"status":"healthy"}"#.into()),
        None => json(503, r#"{"status":"unhealthy"}"#.into()),
    }
}

fn profile(req: &Request) -> Response {
    let token = req.header("authorization").and_then(|h| h.as_str()).and_then(|h| h.strip_prefix("Bearer "));
    let Some(token) = token else { return json(403, r#"{"message":"Token is missing"}"#.into()) };
    let Ok(secret) = variables::get("secret_key") else { return json(503, "{}".into()) };
    let key = HS256Key::from_bytes(secret.as_bytes());
    let Ok(claims) = key.verify_token::<Claims>(token, None) else {
        return json(401, r#"{"message":"Invalid token"}"#.into());
    };
    let Some(conn) = connect() else { return json(503, "{}".into()) };
    let sql = r#"SELECT u.username, u.email FROM (SELECT 1) AS one LEFT JOIN "user" u ON u.id = $1"#;
    let Ok(rows) = conn.query(sql, &[ParameterValue::Str(claims.custom.user_id.clone())]) else {
        return json(503, "{}".into());
    };
    let row = rows.rows.first();
    let text = |i: usize| row.and_then(|r| r.get(i)).and_then(|v| String::decode(v).ok());
    match (text(0), text(1)) {
        (Some(username), Some(email)) => json(
            200,
            serde_json::json!({"username": username, "email": email, "user_id": claims.custom.user_id}).to_string(),
        ),
        _ => json(404, r#"{"message":"User not found"}"#.into()),
    }
}

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    Ok(match req.path() {
        "/auth/health" => health(),
        "/profile" => profile(&req),
        _ => json(404, "{}".into()),
    })
}
