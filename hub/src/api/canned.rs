//! The saved replies HTTP API (docs/profile-api.md, "Saved replies"): every operator of the
//! workspace reads them; owners and editors create, change and delete them. The store checks a
//! shortcut's uniqueness and the workspace's limit in the same atomic step as the write.

use bytes::Bytes;
use protocol::canned::{CannedReply, CannedReplyInput, CannedReplyList};
use protocol::limits::{MAX_CANNED_REPLIES, MAX_MESSAGE_CHARS};
use protocol::profile::{Problem, ProblemCode};
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::{Refusal, operator_from, problem_reply, refuse, sign_in, unavailable};
use crate::node::{Hub, OperatorSession};
use crate::store::StoreError;
use crate::util::{now_ms, random_id};

/// A reply's text is a message (4,000 characters of up to 4 bytes), plus its title and
/// shortcut and the JSON around them.
const BODY_BYTES: u64 = (MAX_MESSAGE_CHARS as u64) * 4 + 2048;

pub(super) fn routes(hub: Hub) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let with_hub = warp::any().map(move || hub.clone());
    let auth = warp::header::optional::<String>("authorization");
    let list = warp::path!("api" / "canned-replies")
        .and(warp::get())
        .and(auth)
        .and(with_hub.clone())
        .then(|auth, hub: Hub| async move {
            match list(&hub, auth).await {
                Ok(replies) => warp::reply::json(&CannedReplyList { replies }).into_response(),
                Err(r) => problem_reply(r),
            }
        });
    // The token and the role are checked before the body is read.
    let editor = || {
        operator_from(with_hub.clone()).and_then(|op: OperatorSession| {
            let allowed = editor(op).map_err(refuse);
            async move { allowed }
        })
    };
    let create = warp::path!("api" / "canned-replies")
        .and(warp::post())
        .and(editor())
        .and(warp::body::content_length_limit(BODY_BYTES))
        .and(warp::body::bytes())
        .and(with_hub.clone())
        .then(|op: OperatorSession, body: Bytes, hub: Hub| async move {
            match save(&hub, op, None, &body).await {
                Ok(reply) => {
                    warp::reply::with_status(warp::reply::json(&reply), StatusCode::CREATED)
                        .into_response()
                }
                Err(r) => problem_reply(r),
            }
        });
    let replace = warp::path!("api" / "canned-replies" / String)
        .and(warp::put())
        .and(editor())
        .and(warp::body::content_length_limit(BODY_BYTES))
        .and(warp::body::bytes())
        .and(with_hub.clone())
        .then(
            |id: String, op: OperatorSession, body: Bytes, hub: Hub| async move {
                match save(&hub, op, Some(id), &body).await {
                    Ok(reply) => warp::reply::json(&reply).into_response(),
                    Err(r) => problem_reply(r),
                }
            },
        );
    let delete = warp::path!("api" / "canned-replies" / String)
        .and(warp::delete())
        .and(auth)
        .and(with_hub)
        .then(|id: String, auth, hub: Hub| async move {
            match remove(&hub, auth, &id).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(r) => problem_reply(r),
            }
        });
    list.or(create)
        .unify()
        .or(replace)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

fn editor(op: OperatorSession) -> Result<OperatorSession, Refusal> {
    if !op.claims.role.may_force_release() {
        return Err(Problem::new(
            ProblemCode::RoleRequired,
            "Only owners and editors can manage saved replies; you can use them in the composer.",
        )
        .into());
    }
    Ok(op)
}

fn not_found() -> Refusal {
    Problem::new(
        ProblemCode::NotFound,
        "No such saved reply in this workspace.",
    )
    .into()
}

async fn list(hub: &Hub, auth: Option<String>) -> Result<Vec<CannedReply>, Refusal> {
    let op = sign_in(hub, auth)?;
    hub.canned_replies(&op.workspace.id)
        .await
        .map_err(|_| unavailable())
}

/// Create (`id` none) or replace a reply.
async fn save(
    hub: &Hub,
    op: OperatorSession,
    id: Option<String>,
    body: &[u8],
) -> Result<CannedReply, Refusal> {
    let input: CannedReplyInput = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            ProblemCode::InvalidBody,
            format!("Expected {{\"title\", \"shortcut\", \"text\"}}, all strings: {e}."),
        )
    })?;
    let input = input
        .validated()
        .map_err(|why| Problem::new(ProblemCode::InvalidCannedReply, why))?;
    let create = id.is_none();
    let reply = CannedReply {
        id: id.unwrap_or_else(|| random_id("cr_")),
        title: input.title,
        shortcut: input.shortcut,
        text: input.text,
        updated_at: now_ms(),
        updated_by: op.claims.sub.clone(),
    };
    match hub
        .save_canned_reply(&op.workspace.id, &reply, create)
        .await
    {
        Ok(()) => Ok(reply),
        Err(StoreError::ShortcutTaken) => Err(Problem::new(
            ProblemCode::ShortcutTaken,
            format!("Another saved reply already uses /{}.", reply.shortcut),
        )
        .into()),
        Err(StoreError::LimitReached) => Err(Problem::new(
            ProblemCode::TooManyReplies,
            format!(
                "A workspace keeps at most {MAX_CANNED_REPLIES} saved replies; delete one first."
            ),
        )
        .into()),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(_) => Err(unavailable()),
    }
}

async fn remove(hub: &Hub, auth: Option<String>, id: &str) -> Result<(), Refusal> {
    let op = editor(sign_in(hub, auth)?)?;
    match hub.delete_canned_reply(&op.workspace.id, id).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(_) => Err(unavailable()),
    }
}
