//! The Online list and the team on this node, for the dashboards connected to it.
//!
//! Per workspace its dashboards follow, the node keeps the list's rows in memory
//! ([`crate::online::List`]): loaded once from the store when the first dashboard subscribes,
//! then fed by the workspace's bus topic (every node publishes the rows it changed there, see
//! `fanout.rs`). Each dashboard's [`View`] is sent, at each tick, only the changes inside its
//! window. Before, every changed row went to every dashboard of the workspace as its own frame:
//! a dashboard's traffic grew with the size of its workspace times its activity.
//!
//! Team changes are coalesced here too: a takeover marks its workspace's team as changed, and
//! the next tick reads the team once and sends the one serialized snapshot to every watcher on
//! this node (it was one store read per watcher per change: O(operators) per takeover).

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use super::Hub;
use super::OperatorSession;
use super::frame_json;
use crate::bus::Topic;
use crate::online::{List, Request, View};
use crate::registry::ConnId;
use crate::registry::Frames;
use crate::registry::Outbound;
use crate::store::ConversationMeta;
use crate::store::StoreError;
use dashmap::DashMap;
use protocol::ConversationId;
use protocol::ConversationSummary;
use protocol::ServerFrame;
use protocol::WorkspaceId;
use std::sync::Arc;
use tracing::warn;

/// A change of the list, as the bus carries it.
#[derive(Debug)]
pub(super) enum Change {
    Rows(Vec<ConversationSummary>),
    Removed(ConversationId),
}

/// One workspace's list on this node and the views of it.
#[derive(Debug, Default)]
struct Followed {
    list: List,
    /// `Some` while a load from the store runs: changes from the bus wait here and are applied
    /// after it, in order, so that none is lost and none is undone by the load.
    loading: Option<Vec<Change>>,
    /// The last load failed (the store was away): the next tick tries again.
    failed: bool,
    views: FxHashMap<ConnId, View>,
    /// The list or a view changed since the last tick.
    dirty: bool,
}

impl Followed {
    fn apply(&mut self, change: Change) {
        let changed = match change {
            Change::Rows(rows) => rows
                .into_iter()
                .fold(false, |c, row| self.list.upsert(row) | c),
            Change::Removed(id) => self.list.remove(&id),
        };
        self.dirty |= changed;
    }
}

/// The lists this node's dashboards follow, and the teams that changed since the last tick.
#[derive(Debug, Default)]
pub struct Followers {
    lists: DashMap<WorkspaceId, Arc<std::sync::Mutex<Followed>>>,
    teams: std::sync::Mutex<HashSet<WorkspaceId>>,
}

fn lock(f: &std::sync::Mutex<Followed>) -> std::sync::MutexGuard<'_, Followed> {
    // A panic while holding it left a list that the next load or change repairs.
    f.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Followers {
    /// The teams that changed since the last tick (a set of ids: poisoning cannot break it).
    fn teams(&self) -> std::sync::MutexGuard<'_, HashSet<WorkspaceId>> {
        self.teams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Hub {
    /// Follow (or move) `conn`'s view of its workspace's Online list: its first `online_view`
    /// is queued at once when the list is loaded, else as soon as the load is done.
    pub async fn follow_online(
        &self,
        conn: ConnId,
        op: &OperatorSession,
        request: Request,
    ) -> Result<(), StoreError> {
        let ws = &op.workspace.id;
        // Subscribe first: a change racing the load arrives after it and is applied on top.
        self.subscribe(conn, Topic::Workspace(ws.clone())).await;
        let (followed, load) = {
            let mut fresh = false;
            let followed = self
                .inner
                .online
                .lists
                .entry(ws.clone())
                .or_insert_with(|| {
                    fresh = true;
                    Arc::new(std::sync::Mutex::new(Followed {
                        loading: Some(Vec::new()),
                        ..Followed::default()
                    }))
                })
                .clone();
            (followed, fresh)
        };
        {
            let mut f = lock(&followed);
            match f.views.get_mut(&conn) {
                Some(view) => view.ask(request),
                None => {
                    f.views
                        .insert(conn, View::new(op.claims.sub.clone(), request));
                }
            }
            f.dirty = true;
        }
        if load {
            self.load_list(ws, &followed).await?;
            self.send_views(&followed, None);
        } else {
            // This view only: the others keep their tick.
            self.send_views(&followed, Some(conn));
        }
        Ok(())
    }

    /// Stop following the Online list (unsubscribed, or the connection closed).
    pub async fn unfollow_online(&self, conn: ConnId, ws: &str) {
        if let Some(followed) = self.inner.online.lists.get(ws).map(|f| f.clone()) {
            let empty = {
                let mut f = lock(&followed);
                f.views.remove(&conn);
                f.views.is_empty()
            };
            if empty {
                self.inner
                    .online
                    .lists
                    .remove_if(ws, |_, f| lock(f).views.is_empty());
            }
        }
        self.unsubscribe(conn, Topic::Workspace(ws.to_owned()))
            .await;
    }

    /// Read the list from the store and apply what the bus brought meanwhile.
    async fn load_list(
        &self,
        ws: &str,
        followed: &std::sync::Mutex<Followed>,
    ) -> Result<(), StoreError> {
        let loaded = self.inner.conversations.active(ws).await;
        let mut f = lock(followed);
        match loaded {
            Ok(metas) => {
                f.list
                    .reset(metas.iter().map(ConversationMeta::summary).collect());
                for change in f.loading.take().unwrap_or_default() {
                    f.apply(change);
                }
                f.failed = false;
                f.dirty = true;
                Ok(())
            }
            Err(e) => {
                warn!(workspace_id = ws, error = %e, "online list not loaded; retrying");
                f.failed = true;
                Err(e)
            }
        }
    }

    /// A change of `ws`'s list from the bus (this node's own publications included).
    pub(super) fn online_changed(&self, ws: &str, change: Change) {
        let Some(followed) = self.inner.online.lists.get(ws).map(|f| f.clone()) else {
            return;
        };
        let mut f = lock(&followed);
        match &mut f.loading {
            Some(pending) => pending.push(change),
            None => f.apply(change),
        }
    }

    /// The bus may have lost changes: every list is read again (views are then sent only what
    /// differs), and every team.
    pub(super) fn online_resync(&self) {
        for entry in &self.inner.online.lists {
            let mut f = lock(entry.value());
            if f.loading.is_none() {
                f.loading = Some(Vec::new());
            }
            f.failed = true;
        }
        let mut teams = self.inner.online.teams();
        for topic in self.inner.registry.topics() {
            if let Topic::Team(ws) = topic {
                teams.insert(ws);
            }
        }
    }

    /// A workspace's team changed: its watchers here get the new team at the next tick.
    pub(super) fn team_dirty(&self, ws: WorkspaceId) {
        self.inner.online.teams().insert(ws);
    }

    /// Bring every view and team watcher of this node up to date.
    pub(super) async fn online_tick(&self) {
        let lists: Vec<(WorkspaceId, Arc<std::sync::Mutex<Followed>>)> = self
            .inner
            .online
            .lists
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        for (ws, followed) in lists {
            let reload = {
                let mut f = lock(&followed);
                std::mem::take(&mut f.failed)
            };
            if reload {
                // A failure is logged and marked for the next tick.
                let _ = self.load_list(&ws, &followed).await;
            }
            self.send_views(&followed, None);
        }
        let teams: Vec<WorkspaceId> = self.inner.online.teams().drain().collect();
        for ws in teams {
            let topic = Topic::Team(ws.clone());
            if !self.inner.registry.has_subscribers(&topic) {
                continue;
            }
            // One read and one serialization per workspace and tick, whoever watches.
            let frame = match self.team(&ws).await {
                Ok(members) => frame_json(&ServerFrame::TeamSnapshot { members }),
                Err(e) => {
                    warn!(workspace_id = %ws, error = %e, "team not read; retrying");
                    self.team_dirty(ws);
                    continue;
                }
            };
            self.fan_out(
                &topic,
                &Outbound::frame(Frames {
                    for_operators: frame,
                    for_visitors: None,
                }),
            );
        }
    }

    /// Queue the frame of each view of a list that is behind (`only`: of that view alone, which
    /// just asked).
    fn send_views(&self, followed: &std::sync::Mutex<Followed>, only: Option<ConnId>) {
        let frames: Vec<(ConnId, String)> = {
            let mut f = lock(followed);
            if f.loading.is_some() || !f.dirty {
                return;
            }
            let Followed { list, views, .. } = &mut *f;
            let mut frames = Vec::new();
            // Each row's JSON once per tick, whichever views send it: a big team's dashboards
            // mostly show the same rows.
            let mut rows = crate::online::RowJson::default();
            // One sort per order some view uses.
            for order in protocol::OnlineOrder::ALL {
                let mut wanted = crate::online::Wanted::default();
                let mut any = false;
                for (conn, view) in views.iter() {
                    if view.order() == order && only.is_none_or(|c| c == *conn) {
                        wanted.add(view.filter());
                        any = true;
                    }
                }
                if !any {
                    continue;
                }
                let snapshot = list.snapshot(order, wanted);
                let of_order = views.iter_mut().filter(|(conn, view)| {
                    view.order() == order && only.is_none_or(|c| c == **conn)
                });
                for (conn, view) in of_order {
                    if let Some(frame) = view.next(&snapshot) {
                        frames.push((*conn, frame.json(&mut rows)));
                    }
                }
            }
            if only.is_none() {
                f.dirty = false;
            }
            frames
        };
        let m = &self.inner.metrics;
        for (conn, frame) in frames {
            let item = Outbound::frame(Frames {
                for_operators: frame.into(),
                for_visitors: None,
            });
            let out = self.inner.registry.send_to(conn, &item);
            m.bump(&m.slow_closes, out.kicked as u64);
        }
    }
}
