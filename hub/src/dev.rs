//! `--dev` only: two demo workspaces, demo operators of each role, their tokens, and the
//! routes that hand them out and show the visitor's side (`/dev/…`).
//!
//! Nothing here is reachable without the flag: the routes are not mounted and the CLI
//! subcommand refuses.

use protocol::{Plan, Role, WorkspaceInfo};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::{Filter, Reply};

use crate::auth::{OPERATOR_AUDIENCE, OperatorClaims, OperatorVerifier};
use crate::directory::Directory;
use crate::node::Hub;

/// The HS256 secret `--dev` uses for operator tokens when none is configured. Public on purpose:
/// dev mode is for a laptop, never for production.
pub const DEV_OPERATOR_SECRET: &str = "take-control-dev-operator-secret";

pub const PRO_WORKSPACE: &str = "demo-pro";
pub const BASIC_WORKSPACE: &str = "demo-basic";

#[derive(Debug, Clone, Serialize)]
pub struct DemoOperator {
    pub id: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub workspace_id: &'static str,
    pub workspace_name: &'static str,
    pub plan: Plan,
}

pub const DEMO_OPERATORS: &[DemoOperator] = &[
    DemoOperator {
        id: "olivia",
        name: "Olivia Owner",
        role: Role::Owner,
        workspace_id: PRO_WORKSPACE,
        workspace_name: "Acme Outdoor (Pro)",
        plan: Plan::Pro,
    },
    DemoOperator {
        id: "eddie",
        name: "Eddie Editor",
        role: Role::Editor,
        workspace_id: PRO_WORKSPACE,
        workspace_name: "Acme Outdoor (Pro)",
        plan: Plan::Pro,
    },
    DemoOperator {
        id: "martin",
        name: "Martin Keller",
        role: Role::Operator,
        workspace_id: PRO_WORKSPACE,
        workspace_name: "Acme Outdoor (Pro)",
        plan: Plan::Pro,
    },
    DemoOperator {
        id: "nora",
        name: "Nora Novak",
        role: Role::Operator,
        workspace_id: PRO_WORKSPACE,
        workspace_name: "Acme Outdoor (Pro)",
        plan: Plan::Pro,
    },
    DemoOperator {
        id: "bob",
        name: "Bob Basic",
        role: Role::Owner,
        workspace_id: BASIC_WORKSPACE,
        workspace_name: "Corner Bakery (Basic)",
        plan: Plan::Basic,
    },
];

pub fn add_demo_workspaces(directory: &mut Directory) {
    for op in DEMO_OPERATORS {
        directory.insert(WorkspaceInfo {
            id: op.workspace_id.into(),
            name: op.workspace_name.into(),
            plan: op.plan,
        });
    }
}

/// A token for a demo operator, valid for `ttl_secs`.
pub fn token_for(
    verifier: &OperatorVerifier,
    operator_id: &str,
    now_secs: u64,
    ttl_secs: u64,
) -> Option<String> {
    let op = DEMO_OPERATORS.iter().find(|o| o.id == operator_id)?;
    verifier.sign(&OperatorClaims {
        sub: op.id.into(),
        ws: op.workspace_id.into(),
        role: op.role,
        name: op.name.into(),
        exp: now_secs + ttl_secs,
        aud: Some(OPERATOR_AUDIENCE.into()),
        iss: None,
    })
}

const DEV_CHAT: &str = include_str!("../assets/dev-chat.html");
/// A sample shop page with the widget embedded by its one script tag (`/widget.js` comes from
/// the built web-ui in `--static-dir`).
const DEMO_SITE: &str = include_str!("../assets/demo-site.html");

#[derive(Debug, Deserialize)]
struct DevLogin {
    operator_id: String,
}

/// `GET /dev/operators`, `POST /dev/login` (a demo operator's token), and the visitor's side:
/// `GET /dev/chat`, `GET /dev/demo`. Mounted only with `--dev`.
pub fn routes(hub: Hub) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let list = warp::path!("dev" / "operators")
        .and(warp::get())
        .map(|| warp::reply::json(&DEMO_OPERATORS).into_response());
    let login = warp::path!("dev" / "login")
        .and(warp::post())
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::json())
        .and(warp::any().map(move || hub.clone()))
        .map(|body: DevLogin, hub: Hub| {
            match token_for(
                hub.operator_tokens(),
                &body.operator_id,
                crate::util::now_secs(),
                12 * 3600,
            ) {
                Some(token) => {
                    warp::reply::json(&serde_json::json!({ "token": token })).into_response()
                }
                None => warp::reply::with_status(
                    warp::reply::json(&serde_json::json!({ "error": "unknown demo operator" })),
                    StatusCode::NOT_FOUND,
                )
                .into_response(),
            }
        });
    // A bare visitor chat, so `./scripts/run.sh` shows both sides of a conversation.
    let chat = warp::path!("dev" / "chat")
        .and(warp::get())
        .map(|| warp::reply::html(DEV_CHAT).into_response());
    let demo = warp::path!("dev" / "demo")
        .and(warp::get())
        .map(|| warp::reply::html(DEMO_SITE).into_response());
    list.or(login)
        .unify()
        .or(chat)
        .unify()
        .or(demo)
        .unify()
        .boxed()
}
