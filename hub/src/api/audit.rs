//! `GET /api/audit`: the workspace's audit log (takeovers, releases, refusals) as JSON lines,
//! for owners and editors. Its refusals are `{"error", "message"}` with the socket's error codes,
//! as the export has always answered, not the problem details of the rest of this API.

use std::collections::HashMap;

use protocol::ErrorCode;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use crate::node::Hub;

/// The route of this module.
pub(super) fn routes(hub: Hub) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    warp::path!("api" / "audit")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::any().map(move || hub.clone()))
        .then(audit_export)
        .boxed()
}

/// `GET /api/audit`: the workspace's audit log as JSON lines, oldest first, for owners and
/// editors (`Authorization: Bearer <operator token>`); `?limit=N` for the newest N.
async fn audit_export(
    auth: Option<String>,
    query: HashMap<String, String>,
    hub: Hub,
) -> warp::reply::Response {
    let refuse = |status: StatusCode, code: ErrorCode, message: &str| {
        let body = serde_json::json!({ "error": code, "message": message });
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    };
    let Some(token) = auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "send Authorization: Bearer <operator token>",
        );
    };
    let op = match hub.operator_sign_in(token) {
        Ok(op) => op,
        Err(e) => return refuse(StatusCode::UNAUTHORIZED, e.code, &e.message),
    };
    if !op.claims.role.may_force_release() {
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::RoleRequired,
            "only owners and editors can read the audit log",
        );
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(crate::store::AUDIT_KEEP);
    match hub.audit_log(&op.workspace.id, limit).await {
        Ok(entries) => {
            let mut body = String::new();
            for e in &entries {
                if let Ok(line) = serde_json::to_string(e) {
                    body.push_str(&line);
                    body.push('\n');
                }
            }
            warp::reply::with_header(body, "content-type", "application/x-ndjson").into_response()
        }
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the store is unavailable; retry",
        ),
    }
}
