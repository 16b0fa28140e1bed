//! Workspaces this hub serves, from the workspaces file (and the demo ones in `--dev`).

use std::collections::HashMap;

use protocol::{Plan, WorkspaceInfo};
use serde::Deserialize;

/// An entry of the workspaces file (a JSON array).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkspaceEntry {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// Origins (`https://shop.example`) whose pages may open the widget; empty: any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The workspace's assistant backend; absent: the hub's default (the knowledge file).
    #[serde(default)]
    pub assistant: Option<AssistantConfig>,
}

/// Which assistant answers a workspace's visitors.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssistantConfig {
    /// The embedded assistant with its own knowledge file.
    Knowledge { file: std::path::PathBuf },
    /// An OpenAI-compatible chat-completions server.
    Openai(crate::assistant::openai::OpenAiConfig),
    /// A signed webhook.
    Webhook(crate::assistant::webhook::WebhookConfig),
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    workspaces: HashMap<String, WorkspaceInfo>,
    allowed_origins: HashMap<String, Vec<String>>,
    assistants: HashMap<String, AssistantConfig>,
}

/// Origins compare case-insensitively and without a trailing slash.
fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[derive(Debug, thiserror::Error)]
#[error("invalid workspaces file: {0}")]
pub struct DirectoryError(pub String);

impl Directory {
    pub fn from_json(json: &str) -> Result<Self, DirectoryError> {
        let entries: Vec<WorkspaceEntry> =
            serde_json::from_str(json).map_err(|e| DirectoryError(e.to_string()))?;
        let mut d = Directory::default();
        for e in entries {
            if !e.allowed_origins.is_empty() {
                let origins = e
                    .allowed_origins
                    .iter()
                    .map(|o| normalize_origin(o))
                    .collect();
                d.allowed_origins.insert(e.id.clone(), origins);
            }
            if let Some(a) = e.assistant {
                d.assistants.insert(e.id.clone(), a);
            }
            d.insert(WorkspaceInfo {
                id: e.id,
                name: e.name,
                plan: e.plan,
            });
        }
        Ok(d)
    }

    pub fn insert(&mut self, ws: WorkspaceInfo) {
        self.workspaces.insert(ws.id.clone(), ws);
    }

    pub fn get(&self, id: &str) -> Option<&WorkspaceInfo> {
        self.workspaces.get(id)
    }

    /// May a page of `origin` (the WebSocket's `Origin` header) open this workspace's widget?
    pub fn origin_allowed(&self, workspace_id: &str, origin: Option<&str>) -> bool {
        match self.allowed_origins.get(workspace_id) {
            None => true,
            Some(allowed) => {
                origin.is_some_and(|o| allowed.iter().any(|a| *a == normalize_origin(o)))
            }
        }
    }

    /// The workspaces with their own assistant backend.
    pub fn assistants(&self) -> impl Iterator<Item = (&str, &AssistantConfig)> {
        self.assistants.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.workspaces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workspaces.is_empty()
    }
}
