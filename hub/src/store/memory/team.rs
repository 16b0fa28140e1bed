//! The team on the memory store: presence, holdings, the audit log.

use std::collections::HashMap;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, Colleague, HeldConversation, Holder, Millis, TeamMember, WorkspaceId,
};

use super::{MemoryStore, lock};
use crate::store::{AUDIT_KEEP, StoreError, TeamStore, colleagues_of, operator_key, sort_team};

#[async_trait]
impl TeamStore for MemoryStore {
    async fn operators_seen(
        &self,
        operators: &[(WorkspaceId, String)],
        at: Millis,
    ) -> Result<(), StoreError> {
        for (ws, id) in operators {
            let mut seen = self
                .operators_seen
                .entry(operator_key(ws, id))
                .or_insert(at);
            *seen = (*seen).max(at);
        }
        Ok(())
    }

    async fn operator_presence(
        &self,
        workspace_id: &str,
        operator: &AuditActor,
        delta: i32,
        at: Millis,
    ) -> Result<(), StoreError> {
        let mut team = self.team.entry(workspace_id.to_owned()).or_default();
        let member = team
            .entry(operator.id.clone())
            .or_insert_with(|| (operator.clone(), 0));
        member.0 = operator.clone();
        member.1 = (member.1 + i64::from(delta)).max(0);
        drop(team);
        if delta > 0 {
            self.operators_seen(&[(workspace_id.to_owned(), operator.id.clone())], at)
                .await?;
        }
        Ok(())
    }

    async fn team(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<TeamMember>, StoreError> {
        let mut holding: HashMap<String, Vec<HeldConversation>> = HashMap::new();
        for entry in self.conversations.iter() {
            let c = lock(entry.value());
            if let (Holder::Operator(holder), true) =
                (&c.meta.control.holder, c.meta.workspace_id == workspace_id)
            {
                holding
                    .entry(holder.id.clone())
                    .or_default()
                    .push(HeldConversation {
                        conversation_id: c.meta.id.clone(),
                        visitor_label: c.meta.visitor_label.clone(),
                        since: c.holder_since,
                    });
            }
        }
        let mut members: Vec<TeamMember> = self
            .presence(workspace_id, online_since)
            .into_iter()
            .map(|(actor, online)| TeamMember {
                online,
                holding: holding.remove(&actor.id).unwrap_or_default(),
                id: actor.id,
                name: actor.name,
                role: actor.role,
            })
            .collect();
        sort_team(&mut members);
        Ok(members)
    }

    async fn colleagues(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<Colleague>, StoreError> {
        Ok(colleagues_of(self.presence(workspace_id, online_since)))
    }

    async fn record_audit(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut log = self.audit.entry(workspace_id.to_owned()).or_default();
        log.push_back(entry.clone());
        while log.len() > AUDIT_KEEP {
            log.pop_front();
        }
        Ok(())
    }

    async fn audit(&self, workspace_id: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.audit.get(workspace_id).map_or_else(Vec::new, |log| {
            log.iter()
                .skip(log.len().saturating_sub(limit))
                .cloned()
                .collect()
        }))
    }
}

impl MemoryStore {
    /// Every operator who has connected to the workspace, and whether they are online now
    /// (connected, and seen since `online_since`).
    fn presence(&self, workspace_id: &str, online_since: Millis) -> Vec<(AuditActor, bool)> {
        let Some(team) = self.team.get(workspace_id).map(|t| t.clone()) else {
            return Vec::new();
        };
        team.into_values()
            .map(|(actor, conns)| {
                let seen = self
                    .operators_seen
                    .get(&operator_key(workspace_id, &actor.id))
                    .map_or(0, |s| *s);
                (actor, conns > 0 && seen >= online_since)
            })
            .collect()
    }
}
