//! What the node does with attachments: vet and store an upload, resolve the files a message
//! names, sign links to them, serve a signed link, and delete the files of conversations that
//! are gone (`files.rs` has the pure parts and the object store).

use std::time::Duration;

use bytes::Bytes;
use protocol::files::{Attachment, FileLink, FileLinks};
use protocol::profile::{Problem, ProblemCode};
use protocol::{AttachmentKind, ErrorCode, ErrorFrame};
use tracing::{info, warn};

use super::Hub;
use crate::files::{Variant, Vetted};
use crate::store::StoreError;
use crate::store::desk::{StoredFile, Uploader};
use crate::util::{now_secs, random_id};

/// A file as served: its bytes and how.
#[derive(Debug)]
pub struct Served {
    pub bytes: Bytes,
    pub content_type: String,
    pub name: String,
    /// A PDF: only ever a download (`Content-Disposition: attachment`).
    pub download: bool,
}

fn unavailable() -> Problem {
    Problem::new(
        ProblemCode::Unavailable,
        "The file store is unavailable; retry in a moment.",
    )
}

fn not_found() -> Problem {
    Problem::new(ProblemCode::NotFound, "No such conversation or file.")
}

impl Hub {
    /// Vet and store an upload to conversation `cid` of `ws` by `by`; its attachment, which a
    /// message of the same side may then carry. The caller found the conversation (a gone one
    /// is refused when the file is recorded, and its objects deleted). `vet` runs on the
    /// blocking pool (the caller holds a decode turn).
    pub async fn upload_file(
        &self,
        ws: &str,
        cid: &str,
        by: Uploader,
        name: &str,
        body: Bytes,
    ) -> Result<Attachment, Problem> {
        let max = self.inner.config.file_max_bytes;
        let name = name.to_owned();
        let vetted: Vetted =
            tokio::task::spawn_blocking(move || crate::files::vet(&body, &name, max))
                .await
                .map_err(|_| unavailable())??;
        let id = random_id("f_");
        let attachment = vetted.attachment(id.clone());
        let files = &self.inner.files;
        files
            .put(ws, cid, &id, Variant::File, vetted.file)
            .await
            .map_err(|e| {
                warn!(error = %e, "file not stored");
                unavailable()
            })?;
        if let Some(thumb) = vetted.thumbnail {
            files
                .put(ws, cid, &id, Variant::Thumb, thumb)
                .await
                .map_err(|_| unavailable())?;
        }
        let record = StoredFile {
            attachment: attachment.clone(),
            by,
        };
        let max_files = self.inner.config.files_per_conversation;
        match self.inner.desk.add_file(ws, cid, &record, max_files).await {
            Ok(()) => {
                let m = &self.inner.metrics;
                m.bump(&m.files_stored, 1);
                Ok(attachment)
            }
            Err(e) => {
                // Not recorded: not kept either (the sweep would find it orphaned too).
                let _ = files.delete_file(ws, cid, &id).await;
                Err(match e {
                    StoreError::LimitReached => Problem::new(
                        ProblemCode::TooManyFiles,
                        format!("This conversation holds {max_files} files already."),
                    ),
                    StoreError::NotFound => not_found(),
                    _ => unavailable(),
                })
            }
        }
    }

    /// The attachments a message or note of `by` names: every id must be a file uploaded to
    /// this conversation by the same side (a visitor's own; any operator's for operators).
    pub async fn attachments_for(
        &self,
        ws: &str,
        cid: &str,
        ids: Option<&Vec<String>>,
        by: &Uploader,
    ) -> Result<Vec<Attachment>, ErrorFrame> {
        let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
            return Ok(Vec::new());
        };
        let found = self
            .inner
            .desk
            .files(ws, cid, ids)
            .await
            .map_err(|e| super::error_frame(&e, cid))?;
        let allowed = |f: &StoredFile| match (by, &f.by) {
            (Uploader::Visitor, Uploader::Visitor) => true,
            (Uploader::Operator { .. }, Uploader::Operator { .. }) => true,
            _ => false,
        };
        if found.len() != ids.len() || !found.iter().all(allowed) {
            return Err(ErrorFrame::new(ErrorCode::InvalidAttachment).conversation(cid));
        }
        Ok(found.into_iter().map(|f| f.attachment).collect())
    }

    /// Signed links to files of `cid` (whose access the caller checked), for `ttl` from now.
    pub async fn file_links(
        &self,
        ws: &str,
        cid: &str,
        ids: &[String],
    ) -> Result<FileLinks, Problem> {
        if ids.len() > self.inner.config.files_per_conversation {
            return Err(Problem::new(
                ProblemCode::InvalidBody,
                "Ask for the links of one conversation's files at a time.",
            ));
        }
        let found = match self.inner.desk.files(ws, cid, ids).await {
            Ok(f) => f,
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(_) => return Err(unavailable()),
        };
        let ttl = Duration::from_secs(self.inner.config.file_link_ttl_secs);
        let exp = now_secs() + ttl.as_secs();
        let signer = &self.inner.links;
        let links = found
            .iter()
            .map(|f| {
                let id = &f.attachment.id;
                FileLink {
                    id: id.clone(),
                    url: signer.link(ws, cid, id, Variant::File, exp),
                    thumbnail_url: (f.attachment.kind == AttachmentKind::Image)
                        .then(|| signer.link(ws, cid, id, Variant::Thumb, exp)),
                    expires_at: exp * 1000,
                }
            })
            .collect();
        Ok(FileLinks { links })
    }

    /// The object a signed link names, if the signature holds and has not expired.
    pub async fn serve_file(
        &self,
        path: &str,
        (ws, cid, id, variant): (&str, &str, &str, &str),
        exp: u64,
        sig: &str,
    ) -> Result<Served, Problem> {
        let Some(variant) = Variant::parse(variant) else {
            return Err(not_found());
        };
        if !self.inner.links.check(path, exp, sig, now_secs()) {
            return Err(Problem::new(
                ProblemCode::Unauthorized,
                "This link is not valid, or has expired: ask for a new one.",
            ));
        }
        let record = match self.inner.desk.files(ws, cid, &[id.to_owned()]).await {
            Ok(mut f) if !f.is_empty() => f.remove(0),
            Ok(_) | Err(StoreError::NotFound) => return Err(not_found()),
            Err(_) => return Err(unavailable()),
        };
        let bytes = match self.inner.files.get(ws, cid, id, variant).await {
            Ok(Some(b)) => b,
            Ok(None) => return Err(not_found()),
            Err(_) => return Err(unavailable()),
        };
        let a = record.attachment;
        Ok(Served {
            bytes,
            // A thumbnail is encoded like its image (JPEG for a photo, else PNG).
            content_type: a.content_type,
            name: a.name,
            download: a.kind == AttachmentKind::Pdf,
        })
    }

    /// Delete the files of every conversation that no longer exists (expired with its
    /// retention, or lost with a memory store's restart). Returns how many were deleted.
    pub async fn sweep_files(&self) -> usize {
        let convs = match self.inner.files.conversations().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "file sweep: store not listed");
                return 0;
            }
        };
        let mut deleted = 0;
        for (ws, cid) in convs {
            match self.inner.conversations.get(&ws, &cid).await {
                Ok(None) => match self.inner.files.delete_conversation(&ws, &cid).await {
                    Ok(n) => {
                        info!(workspace_id = %ws, conversation_id = %cid, files = n, "files deleted with their conversation");
                        deleted += n;
                    }
                    Err(e) => warn!(error = %e, "file sweep: not deleted"),
                },
                Ok(Some(_)) => {}
                // The store is away: nothing is deleted on a guess.
                Err(_) => return deleted,
            }
        }
        deleted
    }

    /// Every `--file-sweep-secs`, delete the files of conversations that are gone (the first
    /// sweep a period after the start: a restart does not rush to list the whole store).
    pub(super) async fn file_sweeps(self) {
        let secs = self.inner.config.file_sweep_secs;
        if secs == 0 {
            return;
        }
        let period = Duration::from_secs(secs);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => {
                    self.sweep_files().await;
                }
            }
        }
    }

    /// Whether a conversation exists in the workspace (for the files API's access checks).
    pub async fn conversation_exists(&self, ws: &str, cid: &str) -> Result<bool, Problem> {
        match self.inner.conversations.get(ws, cid).await {
            Ok(found) => Ok(found.is_some()),
            Err(_) => Err(unavailable()),
        }
    }
}
