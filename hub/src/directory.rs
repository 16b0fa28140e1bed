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
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    workspaces: HashMap<String, WorkspaceInfo>,
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

    pub fn len(&self) -> usize {
        self.workspaces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workspaces.is_empty()
    }
}
