//! The node's periodic work: presence, auto-release of gone or idle holders (with a warning
//! first), expiry of unanswered requests for a human, and the sweep of idle conversations off
//! the Online list.

use super::Hub;
use crate::bus::BusMessage;
use crate::bus::Topic;
use crate::control::HoldCheck;
use crate::store::StoreError;
use crate::util::now_ms;
use protocol::AuditAction;
use protocol::AuditEntry;
use std::time::Duration;
use tracing::debug;
use tracing::info;
use tracing::warn;

/// How often at most the bus's heartbeat runs.
const BUS_HEARTBEAT: Duration = Duration::from_millis(250);

impl Hub {
    /// The node's periodic work: refresh the presence of its clients, release holdings whose
    /// holder is gone or idle (and warn before), count vanished visitors offline, and take idle
    /// conversations off the Online list. Every node does it; the store steps are atomic and
    /// exact, so doing it on several nodes at once changes nothing twice.
    pub(super) async fn housekeeping(self) {
        let every = self.inner.config.housekeeping_interval();
        let sweep_every = Duration::from_millis(self.inner.config.sweep_interval_ms.max(10));
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = std::time::Instant::now();
            self.inner.connect_limits.prune(now);
            self.inner.workspace_limits.prune(now);
            self.inner.upload_limits.prune(now);
            if let Err(e) = self.refresh_presence().await {
                warn!(error = %e, "presence not refreshed");
            }
            if let Err(e) = self.check_holdings().await {
                warn!(error = %e, "holdings not checked");
            }
            if let Err(e) = self.expire_human_requests().await {
                warn!(error = %e, "human requests not checked");
            }
            if last_sweep.elapsed() >= sweep_every {
                last_sweep = tokio::time::Instant::now();
                if let Err(e) = self.sweep_idle().await {
                    warn!(error = %e, "idle sweep failed");
                }
            }
            let m = &self.inner.metrics;
            m.bump(&m.housekeeping_rounds, 1);
        }
    }

    /// The bus's heartbeat, on its own clock: the rounds above wait on the store, which takes
    /// seconds to fail while a Redis primary is down, and the heartbeat is what moves the node
    /// to the new primary and resyncs its clients. Subscriptions that failed while the bus was
    /// away are retried as soon as a beat succeeds again, and otherwise once a housekeeping
    /// interval: walking every topic on every beat would cost an idle node for nothing.
    pub(super) async fn bus_watch(self) {
        let retry_every = self.inner.config.housekeeping_interval();
        let mut ticker = tokio::time::interval(retry_every.min(BUS_HEARTBEAT));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut was_up, mut last_retry) = (true, tokio::time::Instant::now());
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let up = match self.inner.bus.heartbeat().await {
                Ok(()) => true,
                Err(e) => {
                    debug!(error = %e, "bus heartbeat failed");
                    false
                }
            };
            if up && (!was_up || last_retry.elapsed() >= retry_every) {
                last_retry = tokio::time::Instant::now();
                for topic in self.inner.registry.topics() {
                    self.sync_topic(topic).await;
                }
            }
            was_up = up;
        }
    }

    /// Tell the store this node's operators and visitors are still here.
    pub async fn refresh_presence(&self) -> Result<(), StoreError> {
        let (operators, visitors) = self.inner.registry.present();
        let now = now_ms();
        self.inner.team.operators_seen(&operators, now).await?;
        let conversations = &self.inner.conversations;
        conversations.visitors_seen(&visitors, now).await?;
        let cutoff = now.saturating_sub(self.inner.config.holder_grace_ms);
        for meta in conversations.expire_visitors(cutoff).await? {
            self.publish_summary(&meta).await;
        }
        Ok(())
    }

    pub(super) async fn check_holdings(&self) -> Result<(), StoreError> {
        let limits = self.inner.config.hold_limits();
        let store = &self.inner.conversations;
        for h in store.holdings().await? {
            let now = now_ms();
            match crate::control::check_hold(now, h.seen, h.active, &limits) {
                HoldCheck::Keep => {}
                HoldCheck::Warn { release_at } => {
                    if store
                        .mark_warned(&h.workspace_id, &h.conversation_id, h.epoch)
                        .await?
                    {
                        let msg = BusMessage::ControlWarning {
                            conversation_id: h.conversation_id.clone(),
                            holder_id: h.holder_id.clone(),
                            release_at,
                        };
                        self.publish(&Topic::conversation(h.workspace_id, h.conversation_id), msg)
                            .await;
                    }
                }
                HoldCheck::Release(reason) => {
                    let change = store
                        .auto_release(
                            &h.workspace_id,
                            &h.conversation_id,
                            &h.holder_id,
                            h.epoch,
                            reason,
                            now,
                        )
                        .await?;
                    // `None`: another node got there first, or the holder acted meanwhile.
                    if let Some(event) = &change.event {
                        info!(
                            conversation_id = h.conversation_id,
                            ?reason,
                            "control returned to the AI"
                        );
                        self.inner.metrics.release(reason);
                        self.audit(
                            &h.workspace_id,
                            AuditEntry {
                                at: now,
                                actor: None,
                                action: AuditAction::Release,
                                conversation_id: Some(h.conversation_id.clone()),
                                reason: Some(reason),
                                holder_id: Some(h.holder_id.clone()),
                                to: None,
                            },
                        )
                        .await;
                        self.team_changed(&h.workspace_id).await;
                        self.publish_event(&change.meta, event, None).await;
                        self.resume_ai(&change.meta);
                    }
                }
            }
        }
        Ok(())
    }

    /// Requests for a human nobody answered in time: the visitor is told (the event), the
    /// conversation stops waiting, and the AI carries on with the next message.
    pub(super) async fn expire_human_requests(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let cutoff = now.saturating_sub(self.inner.config.human_wait_ms);
        for (meta, event) in self
            .inner
            .conversations
            .expire_human_requests(cutoff, now)
            .await?
        {
            let m = &self.inner.metrics;
            m.bump(&m.human_requests_expired, 1);
            info!(
                conversation_id = meta.id,
                "nobody answered the request for a human"
            );
            self.publish_event(&meta, &event, None).await;
            self.mark_follow_up(&meta, protocol::FollowUpReason::Unanswered, now)
                .await;
        }
        Ok(())
    }

    pub(super) async fn sweep_idle(&self) -> Result<(), StoreError> {
        let idle_ms = self.inner.config.conversation_idle_secs * 1000;
        let cutoff = now_ms().saturating_sub(idle_ms);
        for meta in self.inner.conversations.deactivate_idle(cutoff).await? {
            let msg = BusMessage::Removed {
                workspace_id: meta.workspace_id.clone(),
                conversation_id: meta.id.clone(),
            };
            self.publish(&Topic::Workspace(meta.workspace_id), msg)
                .await;
        }
        Ok(())
    }
}
