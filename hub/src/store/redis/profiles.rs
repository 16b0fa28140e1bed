//! Operators' profiles and avatar images on Redis.

use async_trait::async_trait;

use super::{RedisStore, json, unavailable};
use crate::profile::OperatorProfile;
use crate::store::{ProfileStore, StoreError};

#[async_trait]
impl ProfileStore for RedisStore {
    async fn profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("HGET")
            .arg(self.keys.of(workspace_id, "profiles"))
            .arg(operator_id)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    async fn save_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
        profile: &OperatorProfile,
    ) -> Result<(), StoreError> {
        let saved = json(profile)?;
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("HSET")
            .arg(self.keys.of(workspace_id, "profiles"))
            .arg(operator_id)
            .arg(saved)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_avatar(
        &self,
        workspace_id: &str,
        hash: &str,
        png: &[u8],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // Content-addressed: a second upload of the same image changes nothing.
        let _: i64 = redis::cmd("HSETNX")
            .arg(self.keys.of(workspace_id, "avatars"))
            .arg(hash)
            .arg(png)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn avatar(&self, workspace_id: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HGET")
            .arg(self.keys.of(workspace_id, "avatars"))
            .arg(hash)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}
