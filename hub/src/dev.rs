//! `--dev` only: two demo workspaces, demo operators of each role, and their tokens.
//!
//! Nothing here is reachable without the flag: the routes are not mounted and the CLI
//! subcommand refuses.

use protocol::{Plan, Role, WorkspaceInfo};
use serde::Serialize;

use crate::auth::{OPERATOR_AUDIENCE, OperatorClaims, OperatorVerifier};
use crate::directory::Directory;

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
