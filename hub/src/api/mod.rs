//! The operator profile HTTP API and the avatar files (see `docs/profile-api.md`).
//!
//! - `GET /api/profile`, `PUT /api/profile`: the signed-in operator's own profile;
//! - `POST /api/profile/avatar`: vet and store an avatar, answer its URL (the profile changes
//!   only on the next `PUT`, so "Preview in chat" can show an upload before it is saved);
//! - `GET /avatars/{workspace}/{sha256}.png`: the avatar, immutable, cacheable for a year;
//! - `/api/canned-replies`: the workspace's saved replies (`canned.rs`);
//! - `GET /api/audit`: the workspace's audit log as JSON lines (`audit.rs`);
//! - `/api/files`, `/files/…`: attachments, up and down (`files.rs`).
//!
//! Operators authenticate with the same JWT as on their socket (`Authorization: Bearer`); the
//! token's workspace is the only one they reach. Errors are RFC 9457 problem details with a
//! [`ProblemCode`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use protocol::limits::MAX_AVATAR_BYTES;
use protocol::profile::{AvatarUploaded, Problem, ProblemCode, ProfileUpdate, ProfileView};
use protocol::{AuditAction, AuditEntry, DEFAULT_OPERATOR_NAME, ErrorCode};
use tokio::sync::Semaphore;
use warp::http::{StatusCode, header};
use warp::{Filter, Rejection, Reply};

use crate::node::{Hub, OperatorSession};
use crate::profile::{self, OperatorProfile};
use crate::util::now_ms;

mod audit;
mod canned;
mod files;

/// Profile bodies are a name and a URL.
const PROFILE_BODY_BYTES: u64 = 4 * 1024;

/// A refusal: the problem and, for `rate_limited`, when to come back.
#[derive(Debug)]
struct Refusal {
    problem: Problem,
    retry_after: Option<Duration>,
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        Refusal {
            problem,
            retry_after: None,
        }
    }
}

fn problem_reply(r: Refusal) -> warp::reply::Response {
    let status =
        StatusCode::from_u16(r.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(&r.problem).unwrap_or_default();
    let mut res = warp::reply::with_status(body, status).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/problem+json"),
    );
    if let Some(after) = r.retry_after {
        h.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(after.as_secs().max(1)),
        );
    }
    res
}

fn unavailable() -> Refusal {
    Problem::new(
        ProblemCode::Unavailable,
        "The profile store is unavailable; retry in a moment.",
    )
    .into()
}

/// A refusal as a warp rejection, so a filter can answer before the body is read.
#[derive(Debug)]
struct Refused(Refusal);

impl warp::reject::Reject for Refused {}

fn refuse(r: impl Into<Refusal>) -> Rejection {
    warp::reject::custom(Refused(r.into()))
}

/// The routes of this module.
pub fn routes(hub: Hub) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let audit = audit::routes(hub.clone());
    let canned = canned::routes(hub.clone());
    let files = files::routes(hub.clone());
    // Decoding takes memory (up to `profile::DECODE_BUDGET`) and a blocking thread: a node
    // decodes this many uploads at once, whoever sends them.
    let decodes = Arc::new(Semaphore::new(hub.config().avatar_decodes.max(1)));
    let with_hub = warp::any().map(move || hub.clone());
    let auth = warp::header::optional::<String>("authorization");
    let get = warp::path!("api" / "profile")
        .and(warp::get())
        .and(auth)
        .and(with_hub.clone())
        .then(|auth, hub: Hub| async move { respond(get_profile(&hub, auth).await) });
    let put = warp::path!("api" / "profile")
        .and(warp::put())
        .and(with_hub.clone())
        .and(operator_from(with_hub.clone()))
        .and(warp::body::content_length_limit(PROFILE_BODY_BYTES))
        .and(warp::body::bytes())
        .then(|hub: Hub, op: OperatorSession, body: Bytes| async move {
            respond(put_profile(&hub, op, &body).await)
        });
    let upload = warp::path!("api" / "profile" / "avatar")
        .and(warp::post())
        .and(with_hub.clone())
        .and(operator_from(with_hub.clone()))
        // Before the body too: a refused upload costs no read.
        .and_then(|hub: Hub, op: OperatorSession| async move {
            upload_allowed(&hub, &op).map_err(refuse)?;
            Ok::<_, Rejection>((hub, op))
        })
        .untuple_one()
        // A little over the limit, so `process_avatar` names the size in its answer; anything
        // larger is refused from the Content-Length before a byte is read.
        .and(warp::body::content_length_limit(
            MAX_AVATAR_BYTES as u64 + 1,
        ))
        .and(warp::body::bytes())
        .and(warp::any().map(move || decodes.clone()))
        .then(
            |hub: Hub, op: OperatorSession, body: Bytes, decodes: Arc<Semaphore>| async move {
                match upload_avatar(&hub, op, body, decodes).await {
                    Ok(uploaded) => {
                        warp::reply::with_status(warp::reply::json(&uploaded), StatusCode::CREATED)
                            .into_response()
                    }
                    Err(r) => problem_reply(r),
                }
            },
        );
    let avatar = warp::path!("avatars" / String / String)
        .and(warp::get().or(warp::head()).unify())
        .and(with_hub)
        .then(|workspace: String, file: String, hub: Hub| serve_avatar(hub, workspace, file));
    // Whatever else is under /avatars/ (an empty workspace, `..`, more segments) is no avatar,
    // never the dashboard's index.html.
    let not_an_avatar = warp::path("avatars").map(|| problem_reply(no_such_avatar()));
    audit
        .or(get)
        .unify()
        .or(put)
        .unify()
        .or(upload)
        .unify()
        .or(avatar)
        .unify()
        .or(not_an_avatar)
        .unify()
        .or(canned)
        .unify()
        .or(files)
        .unify()
        .recover(body_rejection)
        .unify()
        .boxed()
}

/// The signed-in operator (`Authorization: Bearer`), checked before any body is read: a request
/// without a valid token is answered at once, whatever body it announces.
fn operator_from(
    with_hub: impl Filter<Extract = (Hub,), Error = Infallible> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (OperatorSession,), Error = Rejection> + Clone {
    with_hub
        .and(warp::header::optional::<String>("authorization"))
        .and_then(|hub: Hub, auth: Option<String>| {
            let signed_in = sign_in(&hub, auth).map_err(refuse);
            async move { signed_in }
        })
}

/// `408 request_timeout`, for the server loop: the body did not arrive within `limit`.
pub(crate) fn request_timeout(limit: Duration) -> warp::reply::Response {
    let mut res = problem_reply(
        Problem::new(
            ProblemCode::RequestTimeout,
            format!(
                "The request body did not arrive within {} s.",
                limit.as_millis().div_ceil(1000)
            ),
        )
        .into(),
    );
    res.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    res
}

fn respond(r: Result<ProfileView, Refusal>) -> warp::reply::Response {
    match r {
        Ok(view) => warp::reply::json(&view).into_response(),
        Err(r) => problem_reply(r),
    }
}

/// Body limits on these routes answer with problem details too; other rejections (no route
/// here) pass on to the rest of the server.
async fn body_rejection(r: Rejection) -> Result<warp::reply::Response, Rejection> {
    if let Some(Refused(refusal)) = r.find::<Refused>() {
        return Ok(problem_reply(Refusal {
            problem: refusal.problem.clone(),
            retry_after: refusal.retry_after,
        }));
    }
    if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        return Ok(problem_reply(
            Problem::new(
                ProblemCode::PayloadTooLarge,
                format!(
                    "The request body is too large: avatars may be up to {} MiB, attachments \
                     up to the hub's file limit (--file-max-bytes), saved replies a message's \
                     length.",
                    MAX_AVATAR_BYTES / (1024 * 1024)
                ),
            )
            .into(),
        ));
    }
    if r.find::<warp::reject::LengthRequired>().is_some() {
        return Ok(problem_reply(
            Problem::new(ProblemCode::InvalidBody, "Send a Content-Length header.").into(),
        ));
    }
    Err(r)
}

fn sign_in(hub: &Hub, auth: Option<String>) -> Result<OperatorSession, Refusal> {
    let Some(token) = auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")) else {
        return Err(Problem::new(
            ProblemCode::Unauthorized,
            "Send Authorization: Bearer <operator token>.",
        )
        .into());
    };
    hub.operator_sign_in(token.trim()).map_err(|e| {
        let code = match e.code {
            ErrorCode::TokenExpired => ProblemCode::TokenExpired,
            ErrorCode::WorkspaceNotFound => ProblemCode::WorkspaceNotFound,
            _ => ProblemCode::Unauthorized,
        };
        Problem::new(code, e.message).into()
    })
}

fn view(op: &OperatorSession, saved: Option<&OperatorProfile>) -> ProfileView {
    let visitor_name = match saved {
        None => DEFAULT_OPERATOR_NAME.to_owned(),
        Some(p) => p
            .display_name
            .clone()
            .unwrap_or_else(|| op.claims.name.clone()),
    };
    ProfileView {
        operator_id: op.claims.sub.clone(),
        workspace_id: op.workspace.id.clone(),
        account_name: op.claims.name.clone(),
        saved: saved.is_some(),
        display_name: saved.and_then(|p| p.display_name.clone()),
        avatar_url: saved.and_then(|p| p.avatar_url.clone()),
        visitor_name,
        updated_at: saved.map(|p| p.updated_at),
    }
}

async fn get_profile(hub: &Hub, auth: Option<String>) -> Result<ProfileView, Refusal> {
    let op = sign_in(hub, auth)?;
    let saved = hub
        .saved_profile(&op.workspace.id, &op.claims.sub)
        .await
        .map_err(|_| unavailable())?;
    Ok(view(&op, saved.as_ref()))
}

async fn put_profile(hub: &Hub, op: OperatorSession, body: &[u8]) -> Result<ProfileView, Refusal> {
    let update: ProfileUpdate = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            ProblemCode::InvalidBody,
            format!("Expected {{\"display_name\": string, \"avatar_url\": string | null}}: {e}."),
        )
    })?;
    let display_name = profile::validate_display_name(update.display_name.as_deref())?;
    let avatar_url = match update.avatar_url.as_deref().filter(|u| !u.is_empty()) {
        None => None,
        Some(url) => {
            // Only an avatar uploaded to this workspace: another workspace's URL, or one that
            // was never uploaded, is refused the same way.
            let known = match profile::avatar_hash(&op.workspace.id, url) {
                Some(hash) => hub
                    .avatar(&op.workspace.id, hash)
                    .await
                    .map_err(|_| unavailable())?
                    .is_some(),
                None => false,
            };
            if !known {
                return Err(Problem::new(
                    ProblemCode::UnknownAvatar,
                    "That avatar was not uploaded to this workspace; upload it again.",
                )
                .into());
            }
            Some(url.to_owned())
        }
    };
    let saved = OperatorProfile {
        display_name,
        avatar_url,
        updated_at: now_ms(),
    };
    hub.save_profile(&op.workspace.id, &op.claims.sub, &saved)
        .await
        .map_err(|_| unavailable())?;
    hub.audit(
        &op.workspace.id,
        AuditEntry {
            at: saved.updated_at,
            actor: Some(op.audit_actor()),
            action: AuditAction::ProfileChanged,
            conversation_id: None,
            reason: None,
            holder_id: None,
            to: None,
        },
    )
    .await;
    Ok(view(&op, Some(&saved)))
}

/// The operator's upload budget (a burst, then one every few seconds), taken before the body
/// is read.
fn upload_allowed(hub: &Hub, op: &OperatorSession) -> Result<(), Refusal> {
    let key = crate::store::operator_key(&op.workspace.id, &op.claims.sub);
    let taken = hub.take_upload(&key);
    taken.map_err(|wait| Refusal {
        problem: Problem::new(
            ProblemCode::RateLimited,
            format!(
                "Too many uploads; try again in {} s.",
                wait.as_secs().max(1)
            ),
        ),
        retry_after: Some(wait),
    })
}

async fn upload_avatar(
    hub: &Hub,
    op: OperatorSession,
    body: Bytes,
    decodes: Arc<Semaphore>,
) -> Result<AvatarUploaded, Refusal> {
    let permit = decodes.acquire_owned().await.map_err(|_| unavailable())?;
    // Decoding is CPU work: off the threads that serve sockets. The permit goes with it, so
    // a decode still running after its client left counts until it ends.
    let avatar = tokio::task::spawn_blocking(move || {
        let avatar = profile::process_avatar(&body);
        drop(permit);
        avatar
    })
    .await
    .map_err(|_| unavailable())??;
    hub.put_avatar(&op.workspace.id, &avatar.hash, &avatar.png)
        .await
        .map_err(|_| unavailable())?;
    Ok(AvatarUploaded {
        avatar_url: profile::avatar_url(&op.workspace.id, &avatar.hash),
        width: protocol::limits::AVATAR_SIDE,
        height: protocol::limits::AVATAR_SIDE,
    })
}

fn no_such_avatar() -> Refusal {
    Problem::new(ProblemCode::NotFound, "No such avatar.").into()
}

/// Avatars are public (visitors' browsers load them from any site) and immutable (the URL is
/// the content's hash), so they are cached for a year and may be embedded cross-origin.
async fn serve_avatar(hub: Hub, workspace: String, file: String) -> warp::reply::Response {
    let not_found = || problem_reply(no_such_avatar());
    let Some(hash) = profile::avatar_file_hash(&file) else {
        return not_found();
    };
    match hub.avatar(&workspace, hash).await {
        Ok(Some(png)) => {
            let mut res = warp::reply::Response::new(png.into());
            let h = res.headers_mut();
            let set = |h: &mut warp::http::HeaderMap, k, v: String| {
                if let Ok(v) = header::HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            };
            set(h, header::CONTENT_TYPE, "image/png".into());
            set(
                h,
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".into(),
            );
            set(h, header::ETAG, format!("\"{hash}\""));
            set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
            set(
                h,
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin".into(),
            );
            res
        }
        Ok(None) => not_found(),
        Err(_) => problem_reply(unavailable()),
    }
}
