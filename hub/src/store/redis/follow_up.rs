//! The Redis store's follow-ups: each step is `lua/follow_up.lua` on the conversation's meta
//! hash and the workspace's two sorted sets (one slot: all carry the workspace's hash tag).

use async_trait::async_trait;
use protocol::{EmailDelivery, FollowUp, FollowUpReason, Millis, Seq};

use super::{RedisStore, unavailable};
use crate::store::follow_up::{EmailJob, FollowUpStore};
use crate::store::{ConversationMeta, StoreError};

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("corrupt follow-up: {what}"))
}

fn reason_name(r: FollowUpReason) -> &'static str {
    match r {
        FollowUpReason::OutsideHours => "outside_hours",
        FollowUpReason::Unanswered => "unanswered",
    }
}

/// The meta hash's fields of a follow-up, in the order [`view`] reads them (and
/// `follow_up.lua` replies them).
const FOLLOW_UP_FIELDS: [&str; 5] = [
    "fu_reason",
    "fu_since",
    "fu_waiting",
    "fu_email",
    "fu_state",
];

/// A follow-up from the script's `ok` reply fields (reason, since, waiting, email, delivery).
fn view(f: &[String]) -> Result<FollowUp, StoreError> {
    let [reason, since, waiting, email, state] = f else {
        return Err(corrupt("field count"));
    };
    let reason = match reason.as_str() {
        "outside_hours" => FollowUpReason::OutsideHours,
        "unanswered" => FollowUpReason::Unanswered,
        _ => return Err(corrupt("reason")),
    };
    let delivery: Option<EmailDelivery> = if state.is_empty() {
        None
    } else {
        Some(serde_json::from_str(state).map_err(|_| corrupt("delivery"))?)
    };
    Ok(FollowUp {
        reason,
        since: since.parse().map_err(|_| corrupt("since"))?,
        waiting: waiting == "1",
        email: (!email.is_empty()).then(|| email.clone()),
        delivery,
    })
}

impl RedisStore {
    /// One step of `follow_up.lua` on conversation `id` of `ws`: its reply.
    async fn follow_up_step(
        &self,
        ws: &str,
        id: &str,
        step: &str,
        args: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let mut invocation = self.follow_up.key(self.keys.meta(ws, id));
        invocation
            .key(self.keys.of(ws, "followups"))
            .key(self.keys.of(ws, "maildue"))
            .arg(step)
            .arg(id);
        for a in args {
            invocation.arg(*a);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<String> = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match reply.first().map(String::as_str) {
            Some("not_found") => Err(StoreError::NotFound),
            Some(_) => Ok(reply),
            None => Err(corrupt("empty reply")),
        }
    }

    /// The follow-up a step left, when it changed something.
    async fn follow_up_change(
        &self,
        ws: &str,
        id: &str,
        step: &str,
        args: &[&str],
    ) -> Result<Option<FollowUp>, StoreError> {
        let reply = self.follow_up_step(ws, id, step, args).await?;
        match reply[0].as_str() {
            "ok" => view(&reply[1..]).map(Some),
            _ => Ok(None),
        }
    }

    async fn claim_emails_of(
        &self,
        ws: String,
        now: Millis,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<EmailJob>, StoreError> {
        let mut conn = self.conn.clone();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.of(&ws, "maildue"))
            .arg("-inf")
            .arg(now)
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let (now_s, until) = (now.to_string(), (now + lease_ms).to_string());
        let mut jobs = Vec::new();
        for id in due {
            let claim = crate::util::random_id("m");
            let reply = match self
                .follow_up_step(&ws, &id, "claim", &[&now_s, &until, &claim])
                .await
            {
                Ok(r) => r,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            if let [status, email, from, upto, attempt, visitor] = reply.as_slice()
                && status == "claimed"
            {
                let num = |v: &str| v.parse::<u64>().map_err(|_| corrupt("seq"));
                jobs.push(EmailJob {
                    workspace_id: ws.clone(),
                    // A conversation made before visitors had ids: its id stands for the visitor.
                    visitor_id: if visitor.is_empty() {
                        id.clone()
                    } else {
                        visitor.clone()
                    },
                    conversation_id: id,
                    email: email.clone(),
                    from_seq: num(from)?,
                    upto_seq: num(upto)?,
                    attempt: u32::try_from(num(attempt)?).unwrap_or(u32::MAX),
                    claim,
                });
            }
        }
        Ok(jobs)
    }
}

#[async_trait]
impl FollowUpStore for RedisStore {
    async fn mark_follow_up(
        &self,
        ws: &str,
        id: &str,
        reason: FollowUpReason,
        at: Millis,
    ) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_change(ws, id, "mark", &[reason_name(reason), &at.to_string()])
            .await
    }

    async fn set_follow_up_email(
        &self,
        ws: &str,
        id: &str,
        email: &str,
    ) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_change(ws, id, "email", &[email]).await
    }

    async fn follow_up_answered(
        &self,
        ws: &str,
        id: &str,
        seq: Seq,
        email_due: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError> {
        let due = email_due.map(|d| d.to_string()).unwrap_or_default();
        self.follow_up_change(ws, id, "answered", &[&seq.to_string(), &due])
            .await
    }

    async fn follow_up(&self, ws: &str, id: &str) -> Result<Option<FollowUp>, StoreError> {
        match self.follow_up_step(ws, id, "get", &[]).await {
            Ok(reply) if reply[0] == "ok" => view(&reply[1..]).map(Some),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn follow_ups(
        &self,
        ws: &str,
        limit: usize,
    ) -> Result<Vec<(ConversationMeta, FollowUp)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.of(ws, "followups"))
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if ids.is_empty() {
            // An empty pipeline would wait for replies that never come.
            return Ok(Vec::new());
        }
        // Each conversation's meta and follow-up fields, all in one round trip (one slot).
        let mut pipe = redis::pipe();
        for id in &ids {
            let key = self.keys.meta(ws, id);
            pipe.cmd("HMGET")
                .arg(&key)
                .arg(&super::script::META_FIELDS[..]);
            pipe.cmd("HMGET").arg(&key).arg(&FOLLOW_UP_FIELDS[..]);
        }
        let read: Vec<Vec<Option<String>>> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, pair) in ids.iter().zip(read.chunks(2)) {
            let [values, fields] = pair else {
                return Err(corrupt("reply count"));
            };
            if values.iter().all(Option::is_none) {
                // Gone with its retention: the step below drops its entries.
                let _ = self.follow_up_step(ws, id, "get", &[]).await;
                continue;
            }
            if fields[0].as_deref().unwrap_or_default().is_empty() {
                continue;
            }
            let fields: Vec<String> = fields
                .iter()
                .map(|f| f.clone().unwrap_or_default())
                .collect();
            out.push((super::script::parse_meta(id, values)?, view(&fields)?));
        }
        Ok(out)
    }

    async fn claim_emails(
        &self,
        now: Millis,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<EmailJob>, StoreError> {
        // Up to `limit` per workspace: each was claimed, so all of them are sent.
        self.each_workspace(|ws| self.claim_emails_of(ws, now, lease_ms, limit))
            .await
    }

    async fn email_sent(&self, job: &EmailJob, at: Millis) -> Result<Option<FollowUp>, StoreError> {
        let args = [&*job.claim, &job.upto_seq.to_string(), &at.to_string()];
        self.follow_up_change(&job.workspace_id, &job.conversation_id, "sent", &args)
            .await
    }

    async fn email_failed(
        &self,
        job: &EmailJob,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError> {
        let error = serde_json::to_string(error).map_err(|_| corrupt("error text"))?;
        let retry = retry_at.map(|r| r.to_string()).unwrap_or_default();
        let args = [&*job.claim, &job.attempt.to_string(), &retry, &error];
        self.follow_up_change(&job.workspace_id, &job.conversation_id, "failed", &args)
            .await
    }
}
