//! Operators' profiles and avatar images on the memory store.

use std::sync::Arc;

use async_trait::async_trait;

use super::MemoryStore;
use crate::profile::OperatorProfile;
use crate::store::{ProfileStore, StoreError, operator_key};

#[async_trait]
impl ProfileStore for MemoryStore {
    async fn profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError> {
        Ok(self
            .profiles
            .get(&operator_key(workspace_id, operator_id))
            .map(|p| p.clone()))
    }

    async fn save_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
        profile: &OperatorProfile,
    ) -> Result<(), StoreError> {
        self.profiles
            .insert(operator_key(workspace_id, operator_id), profile.clone());
        Ok(())
    }

    async fn put_avatar(
        &self,
        workspace_id: &str,
        hash: &str,
        png: &[u8],
    ) -> Result<(), StoreError> {
        self.avatars
            .entry(format!("{workspace_id}/{hash}"))
            .or_insert_with(|| Arc::from(png));
        Ok(())
    }

    async fn avatar(&self, workspace_id: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .avatars
            .get(&format!("{workspace_id}/{hash}"))
            .map(|a| a.to_vec()))
    }
}
