//! The team on Redis: presence, holdings, the audit log.

use std::collections::HashMap;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, Colleague, HeldConversation, Millis, TeamMember, WorkspaceId,
};
use redis::AsyncCommands;

use super::{RedisStore, json, unavailable};
use crate::store::{AUDIT_KEEP, StoreError, TeamStore, colleagues_of, sort_team};

#[async_trait]
impl TeamStore for RedisStore {
    async fn operators_seen(
        &self,
        operators: &[(WorkspaceId, String)],
        at: Millis,
    ) -> Result<(), StoreError> {
        let mut by_workspace: HashMap<&str, Vec<(&str, Millis)>> = HashMap::new();
        for (ws, id) in operators {
            by_workspace.entry(ws).or_default().push((id, at));
        }
        // One command per workspace (each in its own slot).
        let writes = by_workspace.iter().map(|(ws, fields)| {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.keys.of(ws, "opseen")).arg(fields);
            (*ws, cmd)
        });
        self.write_all(writes).await
    }

    async fn operator_presence(
        &self,
        workspace_id: &str,
        operator: &AuditActor,
        delta: i32,
        at: Millis,
    ) -> Result<(), StoreError> {
        let member = json(operator)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.keys.of(workspace_id, "team"), &operator.id, member)
            .ignore()
            .hincr(self.keys.of(workspace_id, "opconn"), &operator.id, delta)
            .ignore();
        if delta > 0 {
            pipe.hset(self.keys.of(workspace_id, "opseen"), &operator.id, at)
                .ignore();
        }
        let mut conn = self.conn.clone();
        let _: () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn team(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<TeamMember>, StoreError> {
        let presence = self.presence(workspace_id, online_since).await?;
        if presence.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let held: Vec<String> = conn
            .smembers(self.keys.of(workspace_id, "held"))
            .await
            .map_err(unavailable)?;
        let mut holding: HashMap<String, Vec<HeldConversation>> = HashMap::new();
        if !held.is_empty() {
            let mut pipe = redis::pipe();
            for k in &held {
                pipe.cmd("HMGET")
                    .arg(k)
                    .arg(&["id", "holder_id", "holder_since", "label"]);
            }
            let rows: Vec<Vec<Option<String>>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for row in rows {
                if let [Some(id), Some(holder), since, label] = row.as_slice()
                    && !holder.is_empty()
                {
                    holding
                        .entry(holder.clone())
                        .or_default()
                        .push(HeldConversation {
                            conversation_id: id.clone(),
                            visitor_label: label.clone().unwrap_or_default(),
                            since: since.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0),
                        });
                }
            }
        }
        let mut members: Vec<TeamMember> = presence
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
        Ok(colleagues_of(
            self.presence(workspace_id, online_since).await?,
        ))
    }

    async fn record_audit(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        let line = json(entry)?;
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("XADD")
            .arg(self.keys.of(workspace_id, "audit"))
            .arg("MAXLEN")
            .arg("~")
            .arg(AUDIT_KEEP)
            .arg("*")
            .arg("e")
            .arg(line)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn audit(&self, workspace_id: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.of(workspace_id, "audit"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut out: Vec<AuditEntry> = entries
            .iter()
            .filter_map(|(_, fields)| fields.iter().find(|(k, _)| k == "e"))
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect();
        out.reverse();
        Ok(out)
    }
}

impl RedisStore {
    /// Every operator who has connected to the workspace, and whether they are online now
    /// (connected, and seen since `online_since`): one read of the team, one pipeline.
    async fn presence(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<(AuditActor, bool)>, StoreError> {
        let mut conn = self.conn.clone();
        let actors: HashMap<String, String> = conn
            .hgetall(self.keys.of(workspace_id, "team"))
            .await
            .map_err(unavailable)?;
        if actors.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&String> = actors.keys().collect();
        let (conns, seen): (Vec<Option<i64>>, Vec<Option<u64>>) = redis::pipe()
            .cmd("HMGET")
            .arg(self.keys.of(workspace_id, "opconn"))
            .arg(&ids)
            .cmd("HMGET")
            .arg(self.keys.of(workspace_id, "opseen"))
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(ids
            .iter()
            .zip(conns)
            .zip(seen)
            .filter_map(|((id, conns), seen)| {
                let actor = serde_json::from_str::<AuditActor>(&actors[*id]).ok()?;
                Some((
                    actor,
                    conns.unwrap_or(0) > 0 && seen.unwrap_or(0) >= online_since,
                ))
            })
            .collect())
    }
}
