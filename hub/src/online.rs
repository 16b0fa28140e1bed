//! The Online list as views, pure: the rows of one workspace's list as a node knows them
//! ([`List`]) and what one dashboard was last sent of it ([`View`]).
//!
//! A dashboard follows a window of the list (a filter, a query, an offset and a limit), not the
//! list: at each tick it is sent one `online_view` with the window's ids and only the rows that
//! are new to it or changed since its previous frame, or nothing when neither they nor the
//! counts changed. What a dashboard receives is so bounded by what it shows, whatever the size
//! of its workspace. No IO here: `node/online.rs` feeds the list from the bus and delivers the
//! frames.

use protocol::{
    ConversationId, ConversationSummary, Holder, OnlineCounts, OnlineFilter, OnlineOrder,
    ServerFrame,
};
use rustc_hash::FxHashMap;

/// One row and its revision, bumped whenever the row changes: a view tells whether the row it
/// sent is still current by its revision, without comparing rows.
#[derive(Debug)]
struct Row {
    summary: ConversationSummary,
    rev: u64,
}

/// The Online list of one workspace, as this node knows it.
#[derive(Debug, Default)]
pub struct List {
    rows: FxHashMap<ConversationId, Row>,
    next_rev: u64,
    /// The counts every view's tabs show, kept as rows change (not recounted per tick).
    tally: Tally,
}

/// How many rows wait for a human, are the AI's, and are each operator's.
#[derive(Debug, Default)]
struct Tally {
    needs_human: u32,
    ai: u32,
    held: FxHashMap<String, u32>,
}

impl Tally {
    fn add(&mut self, row: &ConversationSummary, sign: i8) {
        let step = |n: &mut u32| {
            *n = if sign > 0 {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            }
        };
        if row.waits_for_human() {
            step(&mut self.needs_human);
        }
        match &row.control.holder {
            Holder::Ai => step(&mut self.ai),
            Holder::Operator(op) => {
                if sign > 0 {
                    *self.held.entry(op.id.clone()).or_default() += 1;
                } else if let Some(n) = self.held.get_mut(&op.id) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.held.remove(&op.id);
                    }
                }
            }
        }
    }
}

/// Which of a view's filters a tick's snapshot must list rows for: `all` needs none of them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wanted {
    pub needs_human: bool,
    pub ai: bool,
    pub mine: bool,
}

impl Wanted {
    pub fn add(&mut self, filter: OnlineFilter) {
        match filter {
            OnlineFilter::All => {}
            OnlineFilter::NeedsHuman => self.needs_human = true,
            OnlineFilter::Ai => self.ai = true,
            OnlineFilter::Mine => self.mine = true,
        }
    }

    /// Every filter (tests).
    #[cfg(test)]
    pub fn all() -> Wanted {
        Wanted {
            needs_human: true,
            ai: true,
            mine: true,
        }
    }
}

impl List {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// A row that appeared or changed. Of two copies of a row, the one that saw the later event
    /// wins (rows of one conversation may arrive from several nodes in any order); `false` when
    /// nothing changed.
    pub fn upsert(&mut self, summary: ConversationSummary) -> bool {
        let rev = self.next_rev + 1;
        match self.rows.get_mut(&summary.id) {
            Some(row) if row.summary.last_seq > summary.last_seq || row.summary == summary => false,
            Some(row) => {
                self.tally.add(&row.summary, -1);
                self.tally.add(&summary, 1);
                row.summary = summary;
                row.rev = rev;
                self.next_rev = rev;
                true
            }
            None => {
                self.tally.add(&summary, 1);
                self.rows.insert(summary.id.clone(), Row { summary, rev });
                self.next_rev = rev;
                true
            }
        }
    }

    /// A conversation left the list; `false` when it was not on it.
    pub fn remove(&mut self, id: &str) -> bool {
        match self.rows.remove(id) {
            Some(row) => {
                self.tally.add(&row.summary, -1);
                true
            }
            None => false,
        }
    }

    /// The tabs' counts for `operator`.
    pub fn counts(&self, operator: &str) -> OnlineCounts {
        OnlineCounts {
            all: u32::try_from(self.rows.len()).unwrap_or(u32::MAX),
            needs_human: self.tally.needs_human,
            mine: self.tally.held.get(operator).copied().unwrap_or(0),
            ai: self.tally.ai,
        }
    }

    /// The list as the store has it now (a load, or a reload after the bus lost messages):
    /// rows that did not change keep their revision, so views are sent only what did.
    pub fn reset(&mut self, rows: Vec<ConversationSummary>) {
        let mut old = std::mem::take(&mut self.rows);
        self.tally = Tally::default();
        for summary in rows {
            self.tally.add(&summary, 1);
            let rev = match old.remove(&summary.id) {
                Some(row) if row.summary == summary => row.rev,
                _ => {
                    self.next_rev += 1;
                    self.next_rev
                }
            };
            self.rows.insert(summary.id.clone(), Row { summary, rev });
        }
    }

    /// The list in `order`, with the rows of each filter some view `wanted`: computed once per
    /// tick and order for every view.
    pub fn snapshot(&self, order: OnlineOrder, wanted: Wanted) -> Snapshot<'_> {
        // Sorted by keys laid out side by side, not through the rows: the rows sit wherever
        // the map put them, and comparing through them costs a cache miss per comparison (a
        // 5,000-row list sorted twice a tick was most of a big team's tick). The key orders as
        // `ConversationSummary::online_order` does (a test checks they agree).
        let mut keyed: Vec<(OrderKey<'_>, &Row)> = self
            .rows
            .values()
            .map(|r| (OrderKey::of(&r.summary, order), r))
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let ordered: Vec<&Row> = keyed.into_iter().map(|(_, r)| r).collect();
        let (mut needs_human, mut ai) = (Vec::new(), Vec::new());
        let mut mine: FxHashMap<&str, Vec<&Row>> = FxHashMap::default();
        if wanted.needs_human || wanted.ai || wanted.mine {
            for row in &ordered {
                if wanted.needs_human && row.summary.waits_for_human() {
                    needs_human.push(*row);
                }
                match &row.summary.control.holder {
                    Holder::Ai if wanted.ai => ai.push(*row),
                    Holder::Operator(op) if wanted.mine => {
                        mine.entry(op.id.as_str()).or_default().push(*row);
                    }
                    _ => {}
                }
            }
        }
        Snapshot {
            list: self,
            ordered,
            needs_human,
            ai,
            mine,
        }
    }
}

/// A row's place in the list: waiting for a human first, then the later time first, then by
/// id.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey<'a> {
    waits: std::cmp::Reverse<bool>,
    at: std::cmp::Reverse<u64>,
    id: &'a str,
}

impl<'a> OrderKey<'a> {
    fn of(row: &'a ConversationSummary, order: OnlineOrder) -> Self {
        OrderKey {
            waits: std::cmp::Reverse(row.waits_for_human()),
            at: std::cmp::Reverse(match order {
                OnlineOrder::Activity => row.last_activity_at,
                OnlineOrder::Started => row.started_at,
            }),
            id: &row.id,
        }
    }
}

/// The list in order and split by filter, borrowed for one tick.
#[derive(Debug)]
pub struct Snapshot<'a> {
    list: &'a List,
    ordered: Vec<&'a Row>,
    needs_human: Vec<&'a Row>,
    ai: Vec<&'a Row>,
    /// Rows held by each operator, by operator id.
    mine: FxHashMap<&'a str, Vec<&'a Row>>,
}

impl<'a> Snapshot<'a> {
    fn rows(&self, filter: OnlineFilter, operator: &str) -> &[&'a Row] {
        match filter {
            OnlineFilter::All => &self.ordered,
            OnlineFilter::NeedsHuman => &self.needs_human,
            OnlineFilter::Ai => &self.ai,
            OnlineFilter::Mine => self.mine.get(operator).map_or(&[], Vec::as_slice),
        }
    }

    pub fn counts(&self, operator: &str) -> OnlineCounts {
        self.list.counts(operator)
    }
}

/// What a dashboard asks to see (`subscribe_online`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub filter: OnlineFilter,
    pub order: OnlineOrder,
    pub offset: u32,
    pub limit: u32,
    pub query: Option<String>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            filter: OnlineFilter::All,
            order: OnlineOrder::Activity,
            offset: 0,
            limit: protocol::limits::ONLINE_WINDOW,
            query: None,
        }
    }
}

/// Whether `row` matches a query, already lowercased: its visitor label, id or last message
/// contains it.
fn matches(row: &ConversationSummary, query: &str) -> bool {
    let has = |s: &str| s.to_lowercase().contains(query);
    has(&row.visitor_label)
        || has(&row.id)
        || row.last_message.as_ref().is_some_and(|m| has(&m.text))
}

/// One dashboard's view: what it asks for, and what it was last sent.
#[derive(Debug)]
pub struct View {
    operator: String,
    request: Request,
    /// The request's query, lowercased once (blank: none).
    query: Option<String>,
    /// The revisions of the last frame's window (a revision names one row in one state, so
    /// a row is current for the dashboard exactly when its revision is here), in order.
    sent: rustc_hash::FxHashSet<u64>,
    sent_ids: Vec<u64>,
    sent_total: u32,
    /// `None` until the first frame, and after the request changed: a frame is due then even
    /// if the window looks the same.
    sent_counts: Option<OnlineCounts>,
}

impl View {
    /// The order this view's frames are computed in (see [`List::snapshot`]).
    pub fn order(&self) -> OnlineOrder {
        self.request.order
    }

    /// The filter whose rows its snapshot must list (see [`Wanted`]).
    pub fn filter(&self) -> OnlineFilter {
        self.request.filter
    }

    pub fn new(operator: impl Into<String>, request: Request) -> View {
        let mut view = View {
            operator: operator.into(),
            request: Request::default(),
            query: None,
            sent: rustc_hash::FxHashSet::default(),
            sent_ids: Vec::new(),
            sent_total: 0,
            sent_counts: None,
        };
        view.ask(request);
        view
    }

    /// The dashboard moved or changed its view. What it was sent stays known: rows it has
    /// already are not sent again.
    pub fn ask(&mut self, request: Request) {
        self.query = request
            .query
            .as_deref()
            .filter(|q| !protocol::visible::is_blank(q))
            .map(|q| q.trim().to_lowercase());
        self.request = request;
        self.sent_counts = None;
    }

    /// The frame that brings the dashboard up to date with the list, or `None` when it is.
    /// `snapshot`: the list in this view's order. (The node uses [`View::next`].)
    #[cfg(test)]
    pub fn frame(&mut self, snapshot: &Snapshot<'_>) -> Option<ServerFrame> {
        self.next(snapshot).map(|f| f.to_server_frame())
    }

    /// [`View::frame`], borrowing its rows from the list: [`Frame::json`] writes each row's JSON
    /// once per tick for every view that sends it (the views of a big team share most rows).
    pub fn next<'a>(&mut self, snapshot: &Snapshot<'a>) -> Option<Frame<'a>> {
        let Request {
            filter,
            order,
            offset,
            limit,
            ..
        } = self.request;
        let rows = snapshot.rows(filter, &self.operator);
        let (start, end) = (offset as usize, offset as usize + limit as usize);
        let (total, window): (usize, Vec<&Row>) = match &self.query {
            None => {
                let window = rows.get(start.min(rows.len())..end.min(rows.len()));
                (rows.len(), window.unwrap_or_default().to_vec())
            }
            Some(q) => {
                let (mut total, mut window) = (0, Vec::new());
                for row in rows.iter().filter(|r| matches(&r.summary, q)) {
                    if (start..end).contains(&total) {
                        window.push(*row);
                    }
                    total += 1;
                }
                (total, window)
            }
        };
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        let counts = snapshot.counts(&self.operator);
        let changed: Vec<&'a Row> = window
            .iter()
            .filter(|r| !self.sent.contains(&r.rev))
            .copied()
            .collect();
        // With no row changed, the same revisions in the same order are the same ids.
        let same_ids = window.len() == self.sent_ids.len()
            && window
                .iter()
                .zip(&self.sent_ids)
                .all(|(r, rev)| r.rev == *rev);
        if changed.is_empty()
            && same_ids
            && total == self.sent_total
            && self.sent_counts == Some(counts)
        {
            return None;
        }
        self.sent = window.iter().map(|r| r.rev).collect();
        self.sent_ids = window.iter().map(|r| r.rev).collect();
        self.sent_total = total;
        self.sent_counts = Some(counts);
        Some(Frame {
            filter,
            order,
            query: self.request.query.clone(),
            offset,
            total,
            ids: window.iter().map(|r| r.summary.id.as_str()).collect(),
            rows: changed,
            counts,
        })
    }
}

/// An `online_view` frame whose rows are borrowed from the list.
#[derive(Debug)]
pub struct Frame<'a> {
    filter: OnlineFilter,
    order: OnlineOrder,
    query: Option<String>,
    offset: u32,
    total: u32,
    ids: Vec<&'a str>,
    rows: Vec<&'a Row>,
    counts: OnlineCounts,
}

/// Rows written as JSON during one tick, by revision (a revision names one row's one state).
pub type RowJson = FxHashMap<u64, String>;

impl Frame<'_> {
    pub fn to_server_frame(&self) -> ServerFrame {
        ServerFrame::OnlineView {
            filter: self.filter,
            order: self.order,
            query: self.query.clone(),
            offset: self.offset,
            total: self.total,
            ids: self.ids.iter().map(|id| (*id).to_owned()).collect(),
            rows: self.rows.iter().map(|r| r.summary.clone()).collect(),
            counts: self.counts,
        }
    }

    /// The frame's JSON, as serde writes [`Frame::to_server_frame`] (a test compares them),
    /// each row's from `cache` or written into it.
    pub fn json(&self, cache: &mut RowJson) -> String {
        let head = ServerFrame::OnlineView {
            filter: self.filter,
            order: self.order,
            query: self.query.clone(),
            offset: self.offset,
            total: self.total,
            ids: Vec::new(),
            rows: Vec::new(),
            counts: self.counts,
        };
        let head = serde_json::to_string(&head).unwrap_or_default();
        // `"ids":[]` and `"rows":[]` are written once each, in that order, after the query
        // (whose quotes are escaped): the ids, borrowed from the rows, and the rows go inside.
        const IDS: &str = r#""ids":["#;
        const ROWS: &str = r#""rows":["#;
        let (Some(at_ids), Some(at_rows)) = (head.find(r#""ids":[]"#), head.find(r#""rows":[]"#))
        else {
            return serde_json::to_string(&self.to_server_frame()).unwrap_or_default();
        };
        let mut out =
            String::with_capacity(head.len() + self.ids.len() * 24 + self.rows.len() * 400);
        out.push_str(&head[..at_ids + IDS.len()]);
        for (i, id) in self.ids.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Ids are the hub's own (letters, digits, `_`), but written as JSON all the same.
            out.push_str(&serde_json::to_string(id).unwrap_or_default());
        }
        out.push_str(&head[at_ids + IDS.len()..at_rows + ROWS.len()]);
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let json = cache
                .entry(row.rev)
                .or_insert_with(|| serde_json::to_string(&row.summary).unwrap_or_default());
            out.push_str(json);
        }
        out.push_str(&head[at_rows + ROWS.len()..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{ControlState, MessagePreview, OperatorRef};

    fn row(id: &str, at: u64) -> ConversationSummary {
        ConversationSummary {
            id: id.into(),
            visitor_label: format!("Visitor {id}"),
            started_at: 0,
            last_activity_at: at,
            last_message: Some(MessagePreview {
                author: protocol::AuthorKind::Visitor,
                text: format!("hello from {id}"),
            }),
            control: ControlState {
                holder: Holder::Ai,
                epoch: 0,
            },
            needs_human: false,
            visitor_online: true,
            last_seq: at,
        }
    }

    fn held_by(mut r: ConversationSummary, op: &str) -> ConversationSummary {
        r.control = ControlState {
            holder: Holder::Operator(OperatorRef {
                id: op.into(),
                name: op.into(),
                display_name: None,
                avatar_url: None,
            }),
            epoch: 1,
        };
        r
    }

    fn request(filter: OnlineFilter, offset: u32, limit: u32) -> Request {
        Request {
            filter,
            order: OnlineOrder::Activity,
            offset,
            limit,
            query: None,
        }
    }

    /// (ids, ids of the rows sent, total) of a frame.
    fn parts(frame: Option<ServerFrame>) -> (Vec<String>, Vec<String>, u32, OnlineCounts) {
        match frame {
            Some(ServerFrame::OnlineView {
                ids,
                rows,
                total,
                counts,
                ..
            }) => (ids, rows.into_iter().map(|r| r.id).collect(), total, counts),
            other => panic!("not a view: {other:?}"),
        }
    }

    /// The counts kept as rows change are the counts of the rows, whatever the changes.
    #[test]
    fn the_kept_counts_are_a_recount() {
        let mut list = List::default();
        let recount = |list: &List, op: &str| {
            let rows: Vec<&ConversationSummary> = list.rows.values().map(|r| &r.summary).collect();
            OnlineCounts {
                all: rows.len() as u32,
                needs_human: rows.iter().filter(|r| r.waits_for_human()).count() as u32,
                mine: rows
                    .iter()
                    .filter(|r| matches!(&r.control.holder, Holder::Operator(o) if o.id == op))
                    .count() as u32,
                ai: rows
                    .iter()
                    .filter(|r| r.control.holder == Holder::Ai)
                    .count() as u32,
            }
        };
        let mut x = 7u64;
        for step in 0..3_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let id = format!("c{}", (x >> 33) % 40);
            match (x >> 20) % 9 {
                0 => {
                    list.remove(&id);
                }
                1 if step % 500 == 0 => {
                    let rows: Vec<_> = list.rows.values().map(|r| r.summary.clone()).collect();
                    list.reset(rows);
                }
                k => {
                    let mut r = row(&id, step);
                    r.last_seq = step;
                    r.needs_human = k % 2 == 0;
                    if k > 5 {
                        r = held_by(r, ["ana", "ben"][(k % 2) as usize]);
                    }
                    list.upsert(r);
                }
            }
            for op in ["ana", "ben", "cy"] {
                assert_eq!(list.counts(op), recount(&list, op), "step {step}");
            }
        }
    }

    /// The sort key orders rows exactly as the protocol's `online_order` does.
    #[test]
    fn the_sort_key_is_the_protocols_order() {
        let mut rows = Vec::new();
        for i in 0..40u64 {
            let mut r = row(&format!("c{:02}", i % 13), 1_000 + (i * 7) % 5);
            r.started_at = (i * 3) % 4;
            r.needs_human = i % 3 == 0;
            if i % 5 == 0 {
                r = held_by(r, "op");
            }
            rows.push(r);
        }
        for order in protocol::OnlineOrder::ALL {
            for a in &rows {
                for b in &rows {
                    assert_eq!(
                        OrderKey::of(a, order).cmp(&OrderKey::of(b, order)),
                        a.online_order(b, order),
                        "{a:?} {b:?}"
                    );
                }
            }
        }
    }

    fn list_of(n: u64) -> List {
        let mut list = List::default();
        for i in 0..n {
            list.upsert(row(&format!("c{i:04}"), 1_000 + i));
        }
        list
    }

    /// The frame written with shared row JSON is the protocol's frame, byte for byte, with a
    /// query (which may hold `"rows":[]` itself) and without.
    #[test]
    fn a_frame_written_from_shared_rows_is_the_protocols() {
        let list = list_of(20);
        let mut cache = RowJson::default();
        for query in [
            None,
            Some(r#""rows":[]"#.to_owned()),
            Some("c001".to_owned()),
        ] {
            let mut view = View::new(
                "martin",
                Request {
                    query,
                    limit: 5,
                    ..Request::default()
                },
            );
            let snapshot = list.snapshot(OnlineOrder::Activity, Wanted::all());
            let frame = view.next(&snapshot).expect("a frame");
            let owned = serde_json::to_string(&frame.to_server_frame()).expect("json");
            assert_eq!(frame.json(&mut cache), owned);
            // Again, from the cache.
            assert_eq!(frame.json(&mut cache), owned);
        }
    }

    #[test]
    fn a_window_is_sent_once_then_only_its_changes() {
        let mut list = list_of(5_000);
        let mut view = View::new("martin", request(OnlineFilter::All, 0, 3));
        let (ids, rows, total, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        // Most recently active first.
        assert_eq!(ids, ["c4999", "c4998", "c4997"]);
        assert_eq!(rows, ids);
        assert_eq!(total, 5_000);
        // Nothing changed: nothing to send.
        assert!(
            view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all()))
                .is_none()
        );
        // A change outside the window (and keeping the order) sends nothing either.
        let mut quiet = row("c0000", 1_000);
        quiet.visitor_online = false;
        assert!(list.upsert(quiet));
        assert!(
            view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all()))
                .is_none()
        );
        // One conversation inside it changes: its row only.
        let mut busy = row("c4998", 1_000 + 4_998);
        busy.last_message = Some(MessagePreview {
            author: protocol::AuthorKind::Ai,
            text: "on its way".into(),
        });
        busy.last_seq += 1;
        list.upsert(busy);
        let (ids, rows, _, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        assert_eq!(ids, ["c4999", "c4998", "c4997"]);
        assert_eq!(rows, ["c4998"]);
        // One from far down becomes the most recent: it enters, the last one leaves.
        list.upsert(row("c0001", 10_000));
        let (ids, rows, _, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        assert_eq!(ids, ["c0001", "c4999", "c4998"]);
        assert_eq!(rows, ["c0001"]);
    }

    #[test]
    fn what_a_view_is_sent_does_not_grow_with_the_list() {
        // The same activity per conversation on 500 and on 5,000 conversations: each
        // conversation writes once per round. The window's frame carries at most its rows.
        for n in [500, 5_000] {
            let mut list = list_of(n);
            let mut view = View::new("martin", request(OnlineFilter::All, 0, 50));
            view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all()));
            let mut sent = 0;
            for round in 0..4 {
                for i in 0..n {
                    let mut r = row(&format!("c{i:04}"), 20_000 + round * n + i);
                    r.last_seq = 20_000 + round * n + i;
                    list.upsert(r);
                }
                let (ids, rows, _, _) =
                    parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
                assert_eq!(ids.len(), 50);
                sent += rows.len();
            }
            assert_eq!(sent, 4 * 50, "{n} conversations");
        }
    }

    /// In `started` order the window holds the same conversations whatever their activity:
    /// what a view is sent follows the activity of its own rows, at the same per-conversation
    /// activity the same on 500 conversations as on 5,000.
    #[test]
    fn in_started_order_a_view_is_sent_its_own_rows_changes_only() {
        let mut sent_by_size = Vec::new();
        for n in [500, 5_000] {
            let mut list = List::default();
            for i in 0..n {
                let mut r = row(&format!("c{i:04}"), 1_000);
                r.started_at = i;
                list.upsert(r);
            }
            let mut view = View::new(
                "martin",
                Request {
                    order: OnlineOrder::Started,
                    ..Request::default()
                },
            );
            let first = parts(view.frame(&list.snapshot(OnlineOrder::Started, Wanted::all())));
            // The newest first.
            assert_eq!(first.0[0], format!("c{:04}", n - 1));
            // A tenth of the conversations write each round, spread over the list.
            let mut sent = 0;
            for round in 0..10u64 {
                for i in (round..n).step_by(10) {
                    let mut r = row(&format!("c{i:04}"), 2_000 + round);
                    r.started_at = i;
                    r.last_seq = 2_000 + round;
                    list.upsert(r);
                }
                if let Some(frame) = view.frame(&list.snapshot(OnlineOrder::Started, Wanted::all()))
                {
                    let (ids, rows, _, _) = parts(Some(frame));
                    assert_eq!(ids, first.0, "the window stays in place");
                    sent += rows.len();
                }
            }
            sent_by_size.push(sent);
        }
        // Each row of the window changed once: 50 rows sent, for either size.
        assert_eq!(sent_by_size, [50, 50]);
    }

    #[test]
    fn filters_counts_and_the_operators_own() {
        let mut list = list_of(10);
        let mut waiting = row("c0002", 1_002);
        waiting.needs_human = true;
        list.upsert(waiting);
        list.upsert(held_by(row("c0005", 1_005), "martin"));
        list.upsert(held_by(row("c0006", 1_006), "nora"));
        let snapshot = list.snapshot(OnlineOrder::Activity, Wanted::all());
        let mut needs = View::new("martin", request(OnlineFilter::NeedsHuman, 0, 50));
        let (ids, _, total, counts) = parts(needs.frame(&snapshot));
        assert_eq!((ids, total), (vec!["c0002".to_owned()], 1));
        assert_eq!(
            counts,
            OnlineCounts {
                all: 10,
                needs_human: 1,
                mine: 1,
                ai: 8
            }
        );
        let mut mine = View::new("martin", request(OnlineFilter::Mine, 0, 50));
        assert_eq!(parts(mine.frame(&snapshot)).0, ["c0005"]);
        let mut ai = View::new("nora", request(OnlineFilter::Ai, 0, 50));
        let (ids, _, total, counts) = parts(ai.frame(&snapshot));
        assert_eq!(total, 8);
        assert!(!ids.contains(&"c0005".to_owned()) && !ids.contains(&"c0006".to_owned()));
        assert_eq!(counts.mine, 1);
        // Waiting for a human comes first in everyone's list.
        let mut all = View::new("nora", request(OnlineFilter::All, 0, 2));
        assert_eq!(parts(all.frame(&snapshot)).0, ["c0002", "c0009"]);
    }

    #[test]
    fn scrolling_sends_only_rows_the_dashboard_does_not_have() {
        let list = list_of(1_000);
        let mut view = View::new("martin", request(OnlineFilter::All, 0, 40));
        view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all()));
        // Scrolled down by ten rows: thirty rows it had, ten new ones.
        view.ask(request(OnlineFilter::All, 10, 40));
        let (ids, rows, _, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        assert_eq!(ids.len(), 40);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows, ids[30..]);
        // Asked again for the same window: a frame (the dashboard asked), with no rows.
        view.ask(request(OnlineFilter::All, 10, 40));
        let (_, rows, _, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        assert!(rows.is_empty());
        // Past the end: an empty window, the total still told.
        view.ask(request(OnlineFilter::All, 5_000, 40));
        let (ids, _, total, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        assert!(ids.is_empty());
        assert_eq!(total, 1_000);
    }

    #[test]
    fn a_query_matches_label_id_or_last_message_in_any_case() {
        let mut list = list_of(100);
        let mut anna = row("c0042", 1_042);
        anna.visitor_label = "Anna Müller".into();
        list.upsert(anna);
        let mut parcel = row("c0007", 1_007);
        parcel.last_message = Some(MessagePreview {
            author: protocol::AuthorKind::Visitor,
            text: "Where is my PARCEL?".into(),
        });
        list.upsert(parcel);
        let snapshot = list.snapshot(OnlineOrder::Activity, Wanted::all());
        for (query, want) in [
            ("anna", vec!["c0042"]),
            (" MÜLLER ", vec!["c0042"]),
            ("parcel", vec!["c0007"]),
            ("c0099", vec!["c0099"]),
            ("nobody", vec![]),
        ] {
            let mut view = View::new(
                "martin",
                Request {
                    query: Some(query.into()),
                    ..Request::default()
                },
            );
            let (ids, _, total, counts) = parts(view.frame(&snapshot));
            assert_eq!(ids, want, "{query}");
            assert_eq!(total as usize, want.len());
            // The counts are the list's, not the query's.
            assert_eq!(counts.all, 100);
        }
    }

    #[test]
    fn a_stale_copy_never_replaces_a_newer_row_and_a_reset_keeps_revisions() {
        let mut list = List::default();
        let mut newer = row("c1", 10);
        newer.last_seq = 5;
        list.upsert(newer.clone());
        let mut older = row("c1", 9);
        older.last_seq = 4;
        assert!(!list.upsert(older));
        let mut view = View::new("martin", Request::default());
        view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all()));
        // Reloaded from the store: unchanged rows are not sent again, a swept one leaves.
        list.upsert(row("c2", 11));
        view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all()));
        list.reset(vec![newer, row("c3", 12)]);
        let (ids, rows, _, _) =
            parts(view.frame(&list.snapshot(OnlineOrder::Activity, Wanted::all())));
        assert_eq!(ids, ["c3", "c1"]);
        assert_eq!(rows, ["c3"]);
        assert!(list.remove("c3") && !list.remove("c3"));
        assert_eq!(list.len(), 1);
    }
}

/// What one tick costs a node, for a big team's list and a small one's (a benchmark, not a
/// timed test: `cargo test --release -p take-control-hub --lib tick_cost -- --ignored
/// --nocapture`). The (a) and (b) shapes of `./scripts/bench.sh team`, per node: 5,000 rows
/// with 33 views (half newest first) against 500 rows with 3 views, 900 and 90 rows changed
/// per tick (3,000 visitor messages a second over three nodes).
#[cfg(test)]
mod tick_cost {
    use super::*;
    use protocol::{ControlState, MessagePreview, OperatorRef};

    fn summary(i: u64, at: u64) -> ConversationSummary {
        ConversationSummary {
            id: format!("cv_{i:06}abcdefabcdef"),
            visitor_label: format!("Visitor {i:04X}"),
            started_at: i,
            last_activity_at: at,
            last_message: Some(MessagePreview {
                author: protocol::AuthorKind::Visitor,
                text: format!("message {at}: a question about an order that did not arrive"),
            }),
            control: ControlState {
                holder: Holder::Operator(OperatorRef {
                    id: format!("op{}", i % 100),
                    name: "Martin Keller".into(),
                    display_name: Some("Martin from Support".into()),
                    avatar_url: Some("/avatars/demo/3f2a.png".into()),
                }),
                epoch: 1,
            },
            needs_human: false,
            visitor_online: true,
            last_seq: at,
        }
    }

    #[test]
    #[ignore]
    fn tick_cost() {
        for (n, views_n, mixed) in [(5_000u64, 33usize, true), (500, 3, false)] {
            let mut list = List::default();
            for i in 0..n {
                list.upsert(summary(i, i));
            }
            let mut views: Vec<View> = (0..views_n)
                .map(|v| {
                    let order = if mixed && v % 2 == 1 {
                        OnlineOrder::Started
                    } else {
                        OnlineOrder::Activity
                    };
                    View::new(
                        format!("op{v}"),
                        Request {
                            order,
                            ..Request::default()
                        },
                    )
                })
                .collect();
            let (ticks, changed) = (300u64, 900 * n / 5_000);
            let mut at = n;
            let mut spent = std::time::Duration::ZERO;
            for t in 0..ticks {
                for k in 0..changed {
                    at += 1;
                    list.upsert(summary((at * 7_919 + k) % n, at));
                }
                let started = std::time::Instant::now();
                let mut rows = RowJson::default();
                for order in OnlineOrder::ALL {
                    if !views.iter().any(|v| v.order() == order) {
                        continue;
                    }
                    let mut wanted = Wanted::default();
                    for v in views.iter().filter(|v| v.order() == order) {
                        wanted.add(v.filter());
                    }
                    let snapshot = list.snapshot(order, wanted);
                    for v in views.iter_mut().filter(|v| v.order() == order) {
                        if let Some(f) = v.next(&snapshot) {
                            std::hint::black_box(f.json(&mut rows));
                        }
                    }
                }
                if t >= 20 {
                    spent += started.elapsed();
                }
            }
            println!(
                "tick: {n} rows, {views_n} views: {:.0} µs per tick",
                spent.as_secs_f64() * 1e6 / (ticks - 20) as f64
            );
        }
    }
}
