//! A webhook backend: the hub POSTs the conversation to the team's URL and posts the reply.
//!
//! The request is signed so the receiver knows it comes from the hub and is fresh:
//! `X-TakeControl-Timestamp: <unix seconds>` and
//! `X-TakeControl-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
//! `kind` says what the hub asks for: `reply` (answer the visitor; the answer is
//! `{"text": "...", "needs_human": false}`, `needs_human` optional), `suggestion` (a reply the
//! holder may send; same answer, `needs_human` ignored) or `brief` (for the operator taking
//! over; the answer is `{"wants": "...", "answered": "...", "why_human": "..."?,
//! "language": "..."?}`).

use hmac::{Hmac, Mac};
use protocol::{Brief, BriefSource, ConversationEvent};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::transcript::{ChatMessage, chat_messages};
use super::{Assistant, AssistantError, BriefRequest, Reply, ReplyRequest};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The environment variable holding the signing secret…
    #[serde(default)]
    pub secret_env: Option<String>,
    /// …or a file holding it (a mounted secret); exactly one of the two.
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
    /// How long one call may take; the hub's assistant timeout still bounds the whole reply.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// What the hub POSTs.
#[derive(Debug, Serialize)]
pub struct WebhookRequest<'a> {
    /// `reply`, `suggestion` or `brief`.
    pub kind: &'static str,
    pub workspace_id: &'a str,
    pub conversation_id: &'a str,
    /// The history as chat messages (see `transcript`), hand-back marker included.
    pub messages: Vec<ChatMessage>,
    /// The raw history, for receivers that want every detail.
    pub events: &'a [ConversationEvent],
    /// For a brief: the visitor's language as the widget reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct WebhookBrief {
    wants: String,
    answered: String,
    #[serde(default)]
    why_human: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WebhookReply {
    text: String,
    #[serde(default)]
    needs_human: bool,
}

#[derive(Debug)]
pub struct WebhookAssistant {
    config: WebhookConfig,
    secret: Vec<u8>,
    client: reqwest::Client,
}

/// `v1=<hex>` for `body` sent at `timestamp`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", crate::util::hex(&mac.finalize().into_bytes()))
}

impl WebhookAssistant {
    pub fn new(config: WebhookConfig, secret: Vec<u8>) -> Result<Self, AssistantError> {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_millis(config.timeout_ms))
            .build()?;
        Ok(WebhookAssistant {
            config,
            secret,
            client,
        })
    }
}

impl WebhookAssistant {
    /// POST a signed request; the answer's body.
    async fn call(&self, request: &WebhookRequest<'_>) -> Result<bytes::Bytes, AssistantError> {
        let body =
            serde_json::to_vec(request).map_err(|e| AssistantError::Failed(e.to_string()))?;
        let ts = crate::util::now_secs();
        let res = self
            .client
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header("x-takecontrol-timestamp", ts.to_string())
            .header(
                "x-takecontrol-signature",
                signature(&self.secret, ts, &body),
            )
            .body(body)
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(AssistantError::Status(res.status().as_u16()));
        }
        Ok(res.bytes().await?)
    }

    async fn answer(
        &self,
        kind: &'static str,
        req: &ReplyRequest<'_>,
    ) -> Result<Reply, AssistantError> {
        let bytes = self
            .call(&WebhookRequest {
                kind,
                workspace_id: req.workspace_id,
                conversation_id: req.conversation_id,
                messages: chat_messages("", req.transcript),
                events: req.transcript,
                language: None,
            })
            .await?;
        let reply: WebhookReply = serde_json::from_slice(&bytes)
            .map_err(|e| AssistantError::Malformed(format!("the answer is not a reply: {e}")))?;
        let text = reply.text.trim().to_owned();
        if text.is_empty() {
            return Err(AssistantError::Malformed("the reply is empty".into()));
        }
        Ok(Reply {
            text,
            needs_human: reply.needs_human,
        })
    }
}

#[async_trait::async_trait]
impl Assistant for WebhookAssistant {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        self.answer("reply", req).await
    }

    async fn suggest(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        let reply = self.answer("suggestion", req).await?;
        Ok(Reply {
            needs_human: false,
            ..reply
        })
    }

    async fn brief(&self, req: &BriefRequest<'_>) -> Result<Brief, AssistantError> {
        let bytes = self
            .call(&WebhookRequest {
                kind: "brief",
                workspace_id: req.workspace_id,
                conversation_id: req.conversation_id,
                messages: chat_messages("", req.transcript),
                events: req.transcript,
                language: req.language,
            })
            .await?;
        let b: WebhookBrief = serde_json::from_slice(&bytes)
            .map_err(|e| AssistantError::Malformed(format!("the answer is not a brief: {e}")))?;
        Ok(Brief {
            wants: b.wants,
            answered: b.answered,
            why_human: b.why_human,
            language: b.language.or_else(|| req.language.map(str::to_owned)),
            made_by: BriefSource::Webhook,
        }
        .bounded())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 ("what do ya want for nothing?" keyed with "Jefe"), split at the
        // dot our format inserts.
        let sig = signature(b"Jefe", 0, b"");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64, "{sig}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        let expected = crate::util::hex(&mac.finalize().into_bytes());
        assert_eq!(
            expected,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(signature(b"k", 1, b"body"), signature(b"k", 2, b"body"));
        assert_ne!(signature(b"k", 1, b"body"), signature(b"other", 1, b"body"));
    }
}
