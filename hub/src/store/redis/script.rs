//! The scripts' plumbing: their text (with the meta fields substituted), and how their
//! replies are read back (one packed string, parsed without copies on the hot path).

use protocol::{ControlState, Holder, MessagePreview, OperatorRef};

use crate::control::ControlError;
use crate::store::{ConversationMeta, StoreError};

/// The version function, then what every conversation script shares.
pub(super) const COMMON: &str = concat!(
    include_str!("../lua/version.lua"),
    include_str!("../lua/common.lua")
);

/// follow_up.lua, which has keys of its own (no common.lua), after the version function: it
/// changes a slow-changing field (`fu`).
pub(super) const FOLLOW_UP: &str = concat!(
    include_str!("../lua/version.lua"),
    include_str!("../lua/follow_up.lua")
);

/// The meta hash fields the hub reads, in the order every read returns them (`HMGET` here and
/// in the scripts, where this list is substituted for `__META__`). Fields only the scripts use
/// (`holder_act`, `vseen`, `human_at`, `warned`, `kept_at`, `listed_at`, the `d:` dedupe
/// entries) stay in Redis: every value read is parsed on every message.
pub(super) const META_FIELDS: [&str; 14] = [
    "id",
    "ws",
    "label",
    "started",
    "last_act",
    "last_msg",
    "holder_id",
    "holder",
    "epoch",
    "needs_human",
    "vconn",
    "seq",
    "active",
    // "1" while the conversation has a follow-up that an operator's message changes (it is
    // waiting, or the visitor left an email): see `store::follow_up`.
    "fu",
];

/// A meta hash as read: [`META_FIELDS`]' values, `None` where a field is missing.
pub(super) type MetaValues = Vec<Option<String>>;

/// A script's text with the meta fields substituted: `__META__` is the list, `__META_N__` its
/// length, `__AT_{field}__` a field's position in it. Constants, not Lua tables: a script's top
/// level runs on every call, and a table built there cost Redis more than the `HMGET` it saved.
pub(super) fn lua(body: &str) -> String {
    let fields: Vec<String> = META_FIELDS.iter().map(|f| format!("'{f}'")).collect();
    let mut body = body
        .replace("__META__", &fields.join(", "))
        .replace("__META_N__", &META_FIELDS.len().to_string());
    for (i, f) in META_FIELDS.iter().enumerate() {
        body = body.replace(&format!("__AT_{f}__"), &(i + 1).to_string());
    }
    body
}

/// A conversation script: its text, and the SHA-1 that `EVALSHA` names it by.
pub(super) struct Lua {
    pub(super) hash: String,
    pub(super) source: String,
}

pub(super) fn script(body: &str, retention_secs: u64) -> Lua {
    // Renewed a tenth of the period after the last renewal, to 1.1 periods (common.lua: record).
    let period_ms = retention_secs.max(1) * 1000;
    let common = COMMON
        .replace("__RENEW_MS__", &(period_ms / 10).to_string())
        .replace("__TTL_MS__", &(period_ms + period_ms / 10).to_string());
    let source = lua(&format!("{}\n{body}", used_common(&common, body)));
    Lua {
        hash: redis::Script::new(&source).get_hash().to_owned(),
        source,
    }
}

/// common.lua with only the functions `body` uses (directly or through another). A script's
/// top level runs on every call, and each `local function` there makes a closure each time: the
/// append script paid for three it never called (about 8 % of its time in Redis, measured with
/// store/redis/cost.rs). A function starts at a line `local function name(` and ends at the
/// next line `end`; everything else is kept.
fn used_common(common: &str, body: &str) -> String {
    // (name, text) of each function, and the text between them.
    let mut parts: Vec<(Option<&str>, String)> = Vec::new();
    let mut current: Option<(&str, String)> = None;
    for line in common.lines() {
        if let Some((name, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
            if line == "end" {
                parts.push((Some(*name), std::mem::take(text)));
                current = None;
            }
        } else if let Some(rest) = line.strip_prefix("local function ") {
            let name = rest.split('(').next().unwrap_or(rest);
            current = Some((name, format!("{line}\n")));
        } else {
            parts.push((None, format!("{line}\n")));
        }
    }
    // A function is used when the body calls it, or a used function does: to a fixed point.
    let calls = |text: &str, name: &str| text.contains(&format!("{name}("));
    let mut used: Vec<&str> = Vec::new();
    loop {
        let more: Vec<&str> = parts
            .iter()
            .filter_map(|(name, _)| *name)
            .filter(|name| !used.contains(name))
            .filter(|name| {
                calls(body, name)
                    || parts.iter().any(|(other, text)| {
                        other.is_some_and(|o| used.contains(&o)) && calls(text, name)
                    })
            })
            .collect();
        if more.is_empty() {
            break;
        }
        used.extend(more);
    }
    parts
        .into_iter()
        .filter(|(name, _)| name.is_none_or(|n| used.contains(&n)))
        .map(|(_, text)| text)
        .collect()
}

/// What every script returns (`result` in common.lua): status, event JSON, the meta fields packed
/// (see [`unpack`]) and an extra value, in one string, [`REPLY_SEPARATOR`] between them. One bulk
/// string, not an array of four: redis-rs's reply parser costs about 1,400 instructions per
/// value, whatever its length (docs/benchmarks.md, "What made it fast").
pub(super) struct ScriptReply(String);

/// Between the parts of a script's reply: like [`META_SEPARATOR`], a control character none of
/// them can hold.
pub(super) const REPLY_SEPARATOR: char = '\u{1e}';

impl ScriptReply {
    /// A script's reply, checked: `NotFound` for a missing conversation (the script's whole
    /// reply then), an error unless it has its four parts.
    pub(super) fn new(text: String) -> Result<Self, StoreError> {
        if text == "not_found" {
            return Err(StoreError::NotFound);
        }
        if text.matches(REPLY_SEPARATOR).count() != 3 {
            return Err(StoreError::Unavailable(format!(
                "malformed script reply of {} bytes",
                text.len()
            )));
        }
        Ok(Self(text))
    }

    /// Status, event JSON, packed meta, extra.
    pub(super) fn parts(&self) -> [&str; 4] {
        let mut parts = self.0.splitn(4, REPLY_SEPARATOR);
        std::array::from_fn(|_| parts.next().unwrap_or_default())
    }
}

/// Between the packed meta values of a script's reply: a control character, which none of them
/// can hold (ids and labels are the hub's own, the rest numbers or JSON, which escapes it).
pub(super) const META_SEPARATOR: char = '\u{1f}';

/// The meta values a script packed into one string (`pack` in common.lua): one bulk
/// string costs the reply parser (redis-rs) far less than thirteen. Empty is missing.
pub(super) fn unpack(packed: &str) -> Vec<Option<&str>> {
    packed
        .split(META_SEPARATOR)
        .map(|v| (!v.is_empty()).then_some(v))
        .collect()
}

/// A meta from its values in [`META_FIELDS`] order: owned as `HMGET` replies come, or borrowed
/// from a script's packed reply (no copy of each value on the hot path). `id` names it in
/// errors and in the result.
pub(super) fn parse_meta<S: AsRef<str>>(
    id: &str,
    values: &[Option<S>],
) -> Result<ConversationMeta, StoreError> {
    let corrupt =
        |what: &str| StoreError::Unavailable(format!("corrupt conversation {id}: {what}"));
    let [
        _id,
        ws,
        label,
        started,
        last_act,
        last_msg,
        holder_id,
        holder,
        epoch,
        needs_human,
        vconn,
        seq,
        active,
        fu,
    ] = values
    else {
        return Err(corrupt("field count"));
    };
    fn text<S: AsRef<str>>(v: &Option<S>) -> Option<&str> {
        v.as_ref().map(AsRef::as_ref)
    }
    let num = |v: &Option<S>, k: &str| -> Result<u64, StoreError> {
        text(v)
            .and_then(|v| v.parse::<i64>().ok())
            .map(|v| v.max(0) as u64)
            .ok_or_else(|| corrupt(k))
    };
    let holder = match text(holder_id) {
        None | Some("") => Holder::Ai,
        Some(_) => {
            let op: OperatorRef =
                serde_json::from_str(text(holder).ok_or_else(|| corrupt("holder"))?)
                    .map_err(|_| corrupt("holder"))?;
            Holder::Operator(op)
        }
    };
    let last_message: Option<MessagePreview> = match text(last_msg) {
        None | Some("") => None,
        Some(json) => Some(serde_json::from_str(json).map_err(|_| corrupt("last_msg"))?),
    };
    Ok(ConversationMeta {
        id: id.to_owned(),
        workspace_id: text(ws).ok_or_else(|| corrupt("ws"))?.to_owned(),
        visitor_label: text(label).unwrap_or_default().to_owned(),
        started_at: num(started, "started")?,
        last_activity_at: num(last_act, "last_act")?,
        last_message,
        control: ControlState {
            holder,
            epoch: num(epoch, "epoch")?,
        },
        needs_human: text(needs_human) == Some("1"),
        visitor_connections: u32::try_from(num(vconn, "vconn")?).unwrap_or(u32::MAX),
        last_seq: num(seq, "seq")?,
        active: text(active) == Some("1"),
        follow_up: text(fu) == Some("1"),
    })
}

pub(super) fn control_error(status: &str, extra: &str) -> Option<StoreError> {
    let e = match status {
        "stale_epoch" => ControlError::StaleEpoch,
        "not_controlled" => ControlError::NotControlled,
        "not_holder" => ControlError::NotHolder,
        "role_required" => ControlError::RoleRequired,
        "transfer_to_self" => ControlError::TransferToSelf,
        "control_changed" => ControlError::ControlChanged,
        "already_controlled" => match serde_json::from_str::<OperatorRef>(extra) {
            Ok(holder) => ControlError::AlreadyControlled(holder),
            Err(_) => return Some(StoreError::Unavailable("corrupt holder".into())),
        },
        _ => return None,
    };
    Some(StoreError::Control(e))
}
