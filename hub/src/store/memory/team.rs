//! The team on the memory store: presence, holdings, the audit log.

use std::collections::HashMap;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, Colleague, HeldConversation, Holder, Millis, TeamMember, WorkspaceId,
};

use super::{MemoryStore, lock};
use crate::store::{AUDIT_KEEP, StoreError, TeamStore, operator_key, sort_team};

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
        let Some(team) = self.team.get(workspace_id).map(|t| t.clone()) else {
            return Ok(Vec::new());
        };
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
        let mut members: Vec<TeamMember> = team
            .into_iter()
            .map(|(id, (actor, conns))| {
                let seen = self
                    .operators_seen
                    .get(&operator_key(workspace_id, &id))
                    .map_or(0, |s| *s);
                TeamMember {
                    online: conns > 0 && seen >= online_since,
                    holding: holding.remove(&id).unwrap_or_default(),
                    id,
                    name: actor.name,
                    role: actor.role,
                }
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
        let Some(team) = self.team.get(workspace_id).map(|t| t.clone()) else {
            return Ok(Vec::new());
        };
        let mut online: Vec<Colleague> = team
            .into_iter()
            .filter(|(id, (_, conns))| {
                let seen = self
                    .operators_seen
                    .get(&operator_key(workspace_id, id))
                    .map_or(0, |s| *s);
                *conns > 0 && seen >= online_since
            })
            .map(|(id, (actor, _))| Colleague {
                id,
                name: actor.name,
                role: actor.role,
            })
            .collect();
        online.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(online)
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
