//! The files HTTP API (docs/files.md): attachments go up over HTTP, not the WebSocket, then a
//! message names them; they come down through short-lived signed links.
//!
//! - `POST /api/files?conversation_id=…&name=…`: the body is the file; answered `201` with its
//!   [`protocol::Attachment`];
//! - `POST /api/files/links` `{"conversation_id", "ids"}`: signed links to those files;
//! - `GET /files/{workspace}/{conversation}/{file id}/{file|thumb}?exp=…&sig=…`: the file.
//!
//! Both sides authenticate with the token of their socket (`Authorization: Bearer`): a visitor's
//! token reaches its own conversation only, an operator's the conversations of its workspace;
//! anything else is not found. The widget runs on other sites, so these answer CORS requests
//! (any origin: the token in the header is the credential, no cookie is involved). What is
//! served cannot run in the hub's origin: `nosniff`, a sandboxing CSP, and a PDF only as a
//! download.

use std::sync::Arc;

use bytes::Bytes;
use protocol::files::{Attachment, FileLinks, FileLinksRequest};
use protocol::profile::{Problem, ProblemCode};
use tokio::sync::Semaphore;
use warp::http::{StatusCode, header};
use warp::{Filter, Reply};

use super::{Refusal, problem_reply, refuse};
use crate::node::{Hub, Served};
use crate::store::desk::Uploader;

/// Who is asking, and where they may reach.
#[derive(Debug, Clone)]
enum Party {
    Visitor { ws: String, conversation_id: String },
    Operator { ws: String, id: String },
}

impl Party {
    fn ws(&self) -> &str {
        match self {
            Party::Visitor { ws, .. } | Party::Operator { ws, .. } => ws,
        }
    }

    /// The conversation a request names, if this party may reach it (a visitor: its own).
    async fn reach(&self, hub: &Hub, conversation_id: Option<&str>) -> Result<String, Refusal> {
        let not_found = || Problem::new(ProblemCode::NotFound, "No such conversation or file.");
        let (ws, cid) = match (self, conversation_id) {
            (
                Party::Visitor {
                    conversation_id: own,
                    ..
                },
                None,
            ) => (self.ws(), own.as_str()),
            (
                Party::Visitor {
                    conversation_id: own,
                    ..
                },
                Some(c),
            ) if c == own => (self.ws(), own.as_str()),
            (Party::Visitor { .. }, Some(_)) => return Err(not_found().into()),
            (Party::Operator { ws, .. }, Some(c)) => (ws.as_str(), c),
            (Party::Operator { .. }, None) => {
                return Err(Problem::new(
                    ProblemCode::InvalidBody,
                    "Name the conversation (conversation_id).",
                )
                .into());
            }
        };
        // A visitor's token may outlive its conversation: checked like an operator's.
        if hub.conversation_exists(ws, cid).await? {
            Ok(cid.to_owned())
        } else {
            Err(not_found().into())
        }
    }
}

fn sign_in(hub: &Hub, auth: Option<&str>) -> Result<Party, Refusal> {
    let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")).map(str::trim) else {
        return Err(Problem::new(
            ProblemCode::Unauthorized,
            "Send Authorization: Bearer <operator or visitor token>.",
        )
        .into());
    };
    if let Ok(claims) = hub.visitor_tokens().verify(token) {
        return Ok(Party::Visitor {
            ws: claims.ws,
            conversation_id: claims.sub,
        });
    }
    super::sign_in(hub, Some(format!("Bearer {token}"))).map(|op| Party::Operator {
        ws: op.workspace.id.clone(),
        id: op.claims.sub,
    })
}

/// CORS on every answer of this API: the widget uploads from the customer's site.
fn cors(mut res: warp::reply::Response) -> warp::reply::Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("retry-after"),
    );
    res
}

fn preflight() -> warp::reply::Response {
    let mut res = warp::reply::with_status("", StatusCode::NO_CONTENT).into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        header::HeaderValue::from_static("600"),
    );
    cors(res)
}

#[derive(Debug, serde::Deserialize)]
struct UploadQuery {
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct LinkQuery {
    exp: u64,
    sig: String,
}

pub(super) fn routes(hub: Hub) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    // Images are decoded on the blocking pool, this many at once per node.
    let decodes = Arc::new(Semaphore::new(hub.config().avatar_decodes.max(1)));
    let max_body = hub.config().file_max_bytes as u64 + 1;
    let with_hub = warp::any().map(move || hub.clone());
    let auth = warp::header::optional::<String>("authorization");
    let options = warp::path("api")
        .and(warp::path("files"))
        .and(warp::options())
        .map(preflight);
    // Who, and may they upload now, before a byte of the body is read.
    let uploader = with_hub
        .clone()
        .and(auth)
        .and(warp::query::<UploadQuery>())
        .and_then(
            |hub: Hub, auth: Option<String>, q: UploadQuery| async move {
                let party = sign_in(&hub, auth.as_deref()).map_err(refuse)?;
                let key = match &party {
                    Party::Visitor {
                        ws,
                        conversation_id,
                    } => format!("{ws}/visitor:{conversation_id}"),
                    Party::Operator { ws, id } => crate::store::operator_key(ws, id),
                };
                hub.take_file_upload(&key).map_err(|wait| {
                    refuse(Refusal {
                        problem: Problem::new(
                            ProblemCode::RateLimited,
                            format!(
                                "Too many uploads; try again in {} s.",
                                wait.as_secs().max(1)
                            ),
                        ),
                        retry_after: Some(wait),
                    })
                })?;
                let cid = party
                    .reach(&hub, q.conversation_id.as_deref())
                    .await
                    .map_err(refuse)?;
                Ok::<_, warp::Rejection>((hub, party, cid, q.name.unwrap_or_default()))
            },
        )
        .untuple_one();
    let upload = warp::path!("api" / "files")
        .and(warp::post())
        .and(uploader)
        .and(warp::body::content_length_limit(max_body))
        .and(warp::body::bytes())
        .and(warp::any().map(move || decodes.clone()))
        .then(
            |hub: Hub,
             party: Party,
             cid: String,
             name: String,
             body: Bytes,
             decodes: Arc<Semaphore>| async move {
                cors(
                    match upload(&hub, &party, &cid, &name, body, decodes).await {
                        Ok(a) => {
                            warp::reply::with_status(warp::reply::json(&a), StatusCode::CREATED)
                                .into_response()
                        }
                        Err(r) => problem_reply(r),
                    },
                )
            },
        );
    let links = warp::path!("api" / "files" / "links")
        .and(warp::post())
        .and(with_hub.clone())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .then(|hub: Hub, auth: Option<String>, body: Bytes| async move {
            cors(match links(&hub, auth.as_deref(), &body).await {
                Ok(l) => warp::reply::json(&l).into_response(),
                Err(r) => problem_reply(r),
            })
        });
    let get = warp::path!("files" / String / String / String / String)
        .and(warp::get().or(warp::head()).unify())
        .and(warp::query::<LinkQuery>())
        .and(with_hub)
        .then(
            |ws: String, cid: String, id: String, variant: String, q: LinkQuery, hub: Hub| async move {
                let path = format!("/files/{ws}/{cid}/{id}/{variant}");
                match hub
                    .serve_file(&path, (&ws, &cid, &id, &variant), q.exp, &q.sig)
                    .await
                {
                    Ok(served) => serve(served),
                    Err(p) => problem_reply(p.into()),
                }
            },
        );
    // A link without its signature is no file, never the dashboard's index.html.
    let unsigned = warp::path("files").map(|| {
        problem_reply(
            Problem::new(
                ProblemCode::Unauthorized,
                "Files are served by signed links only: ask for one (POST /api/files/links).",
            )
            .into(),
        )
    });
    // A refusal before the body (token, rate, size) carries CORS too, or the widget's browser
    // would report a network error instead of the reason.
    let api = options
        .or(upload)
        .unify()
        .or(links)
        .unify()
        .recover(|r| async move { super::body_rejection(r).await.map(cors) })
        .unify();
    api.or(get).unify().or(unsigned).unify().boxed()
}

async fn upload(
    hub: &Hub,
    party: &Party,
    cid: &str,
    name: &str,
    body: Bytes,
    decodes: Arc<Semaphore>,
) -> Result<Attachment, Refusal> {
    let by = match party {
        Party::Visitor { .. } => Uploader::Visitor,
        Party::Operator { id, .. } => Uploader::Operator { id: id.clone() },
    };
    let _turn = decodes.acquire_owned().await.map_err(|_| {
        Refusal::from(Problem::new(
            ProblemCode::Unavailable,
            "The hub is shutting down.",
        ))
    })?;
    Ok(hub.upload_file(party.ws(), cid, by, name, body).await?)
}

async fn links(hub: &Hub, auth: Option<&str>, body: &[u8]) -> Result<FileLinks, Refusal> {
    let party = sign_in(hub, auth)?;
    let req: FileLinksRequest = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            ProblemCode::InvalidBody,
            format!("Expected {{\"conversation_id\": string, \"ids\": [string]}}: {e}."),
        )
    })?;
    let cid = party.reach(hub, Some(&req.conversation_id)).await?;
    Ok(hub.file_links(party.ws(), &cid, &req.ids).await?)
}

/// The file, so that nothing served can run in the hub's origin: the stored type with
/// `nosniff`, a CSP that sandboxes and allows nothing, and a PDF only as a download.
fn serve(s: Served) -> warp::reply::Response {
    let mut res = warp::reply::Response::new(s.bytes.into());
    let h = res.headers_mut();
    let set = |h: &mut warp::http::HeaderMap, k, v: &str| {
        if let Ok(v) = header::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(h, header::CONTENT_TYPE, &s.content_type);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    set(h, header::CACHE_CONTROL, "private, max-age=300");
    set(
        h,
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "cross-origin",
    );
    let disposition = if s.download { "attachment" } else { "inline" };
    // The name is already safe (no quotes, controls or paths); non-ASCII goes in `filename*`.
    let ascii: String = s
        .name
        .chars()
        .map(|c| if c.is_ascii() && c != '\\' { c } else { '_' })
        .collect();
    let encoded: String = s
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    set(
        h,
        header::CONTENT_DISPOSITION,
        &format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
    );
    res
}
