//! The sweeps of the Redis store, one workspace at a time (each its own hash slot), and the
//! reads and writes they share with it.

use std::collections::HashMap;

use protocol::{ConversationEvent, Millis};
use redis::AsyncCommands;

use super::script::Lua;
use super::script::{META_FIELDS, MetaValues};
use super::{RedisStore, SWEEP_BATCH, unavailable};
use crate::store::{ConversationMeta, Holding, StoreError};

/// The sweeps, one workspace at a time: read the candidates, then decide each with a
/// conversation script (its keys declared, in the workspace's slot), which checks again.
impl RedisStore {
    /// The meta values of each key, in order (all in one workspace: one slot, one trip).
    pub(super) async fn read_metas(&self, keys: &[String]) -> Result<Vec<MetaValues>, StoreError> {
        if keys.is_empty() {
            // An empty pipeline would wait for replies that never come.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("HMGET").arg(k).arg(&META_FIELDS[..]);
        }
        let mut conn = self.conn.clone();
        pipe.query_async(&mut conn).await.map_err(unavailable)
    }

    /// The conversation ids of meta keys of workspace `ws`.
    pub(super) fn ids_of(&self, ws: &str, meta_keys: &[String]) -> Vec<String> {
        meta_keys
            .iter()
            .map(|k| self.keys.id_of(ws, k).to_owned())
            .collect()
    }

    /// Send writes to many workspaces' keys, replies ignored: one pipeline, or on Cluster one
    /// per workspace, side by side (a pipeline goes to one node, and each workspace has its
    /// own slot).
    pub(super) async fn write_all<'w>(
        &self,
        writes: impl Iterator<Item = (&'w str, redis::Cmd)>,
    ) -> Result<(), StoreError> {
        let mut pipes: HashMap<&str, redis::Pipeline> = HashMap::new();
        for (ws, cmd) in writes {
            let group = if self.conn.is_cluster() { ws } else { "" };
            pipes.entry(group).or_default().add_command(cmd).ignore();
        }
        let sends = pipes.into_values().map(|pipe| async move {
            let mut conn = self.conn.clone();
            pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
        });
        futures_util::future::try_join_all(sends).await.map(drop)
    }

    /// The conversations a script changed, with their new metas (`NotFound` and unchanged
    /// ones left out).
    pub(super) async fn decide(
        &self,
        script: &Lua,
        ws: &str,
        ids: Vec<String>,
        args: &[&str],
    ) -> Result<Vec<(ConversationMeta, String)>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            match self.run(script, ws, &id, args).await {
                Ok(reply) if reply.parts()[0] == "ok" => {
                    let [_, event, meta, _] = reply.parts();
                    out.push((self.meta(&id, meta)?, event.to_owned()));
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub(super) async fn deactivate_idle_of(
        &self,
        ws: String,
        cutoff: Millis,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.of(&ws, "online"))
            .arg("-inf")
            .arg(format!("({cutoff}"))
            .arg("LIMIT")
            .arg(0)
            .arg(SWEEP_BATCH)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let ids = self.ids_of(&ws, &due);
        let cutoff = cutoff.to_string();
        let changed = self.decide(&self.deactivate, &ws, ids, &[&cutoff]).await?;
        let gone: Vec<ConversationMeta> = changed.into_iter().map(|(meta, _)| meta).collect();
        for meta in &gone {
            // Already off the Online list: a failure here costs search this conversation (until
            // it leaves the list again), never the removal its operators must be told of.
            if let Err(e) = self.desk_left_online(meta).await {
                tracing::warn!(conversation_id = %meta.id, error = %e, "not indexed for search");
            }
        }
        Ok(gone)
    }

    pub(super) async fn expire_visitors_of(
        &self,
        ws: String,
        cutoff: Millis,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let listed: Vec<String> = conn
            .zrange(self.keys.of(&ws, "online"), 0, -1)
            .await
            .map_err(unavailable)?;
        if listed.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in &listed {
            pipe.cmd("HMGET").arg(k).arg(&["vconn", "vseen"]);
        }
        let seen: Vec<(Option<i64>, Option<u64>)> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let ghosts: Vec<String> = listed
            .iter()
            .zip(seen)
            .filter(|(_, (vconn, vseen))| vconn.unwrap_or(0) > 0 && vseen.unwrap_or(0) < cutoff)
            .map(|(k, _)| self.keys.id_of(&ws, k).to_owned())
            .collect();
        let cutoff = cutoff.to_string();
        let changed = self
            .decide(&self.expire_visitor, &ws, ghosts, &[&cutoff])
            .await?;
        Ok(changed.into_iter().map(|(meta, _)| meta).collect())
    }

    pub(super) async fn expire_human_requests_of(
        &self,
        ws: String,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError> {
        let mut conn = self.conn.clone();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.of(&ws, "humanwait"))
            .arg("-inf")
            .arg(cutoff)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let ids = self.ids_of(&ws, &due);
        let (cutoff, at) = (cutoff.to_string(), at.to_string());
        let changed = self
            .decide(&self.expire_human, &ws, ids, &[&cutoff, &at])
            .await?;
        changed
            .into_iter()
            .map(|(meta, event)| Ok((meta, Self::event(&event)?)))
            .collect()
    }

    pub(super) async fn holdings_of(&self, ws: String) -> Result<Vec<Holding>, StoreError> {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = conn
            .smembers(self.keys.of(&ws, "held"))
            .await
            .map_err(unavailable)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("HMGET")
                .arg(k)
                .arg(&["id", "holder_id", "epoch", "holder_act"]);
        }
        let rows: Vec<Vec<Option<String>>> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let mut out: Vec<Holding> = rows
            .into_iter()
            .filter_map(|row| match row.as_slice() {
                [Some(id), Some(holder), Some(epoch), active] if !holder.is_empty() => {
                    Some(Holding {
                        conversation_id: id.clone(),
                        workspace_id: ws.clone(),
                        holder_id: holder.clone(),
                        epoch: epoch.parse().ok()?,
                        seen: 0,
                        active: active.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0),
                    })
                }
                _ => None,
            })
            .collect();
        if out.is_empty() {
            return Ok(out);
        }
        let holders: Vec<&str> = out.iter().map(|h| h.holder_id.as_str()).collect();
        let seen: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(self.keys.of(&ws, "opseen"))
            .arg(&holders)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        for (h, s) in out.iter_mut().zip(seen) {
            h.seen = s.unwrap_or(0);
        }
        Ok(out)
    }
}
