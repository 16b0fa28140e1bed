//! docs/protocol.md stays true: each JSON example decodes as the frame kind its block is
//! labelled with, and every frame type has at least one example.

use std::collections::BTreeSet;

use protocol::{OperatorFrame, ServerFrame, WidgetFrame};

// Exhaustive matches: a new frame variant does not compile until it is listed here.
fn widget_type(f: &WidgetFrame) -> &'static str {
    match f {
        WidgetFrame::Hello { .. } => "hello",
        WidgetFrame::Page { .. } => "page",
        WidgetFrame::Message { .. } => "message",
        WidgetFrame::Typing { .. } => "typing",
        WidgetFrame::RequestHuman {} => "request_human",
        WidgetFrame::FollowUpEmail { .. } => "follow_up_email",
    }
}
use protocol::decode::WIDGET_TYPES as WIDGET;

fn operator_type(f: &OperatorFrame) -> &'static str {
    match f {
        OperatorFrame::Hello { .. } => "hello",
        OperatorFrame::SubscribeOnline { .. } => "subscribe_online",
        OperatorFrame::UnsubscribeOnline {} => "unsubscribe_online",
        OperatorFrame::Open { .. } => "open",
        OperatorFrame::Close { .. } => "close",
        OperatorFrame::Takeover { .. } => "takeover",
        OperatorFrame::Release { .. } => "release",
        OperatorFrame::Transfer { .. } => "transfer",
        OperatorFrame::Colleagues {} => "colleagues",
        OperatorFrame::Suggest { .. } => "suggest",
        OperatorFrame::Message { .. } => "message",
        OperatorFrame::Typing { .. } => "typing",
        OperatorFrame::SubscribeTeam {} => "subscribe_team",
        OperatorFrame::Note { .. } => "note",
        OperatorFrame::Recent { .. } => "recent",
        OperatorFrame::Search { .. } => "search",
        OperatorFrame::FollowUps {} => "follow_ups",
    }
}
use protocol::decode::OPERATOR_TYPES as OPERATOR;

fn server_type(f: &ServerFrame) -> &'static str {
    match f {
        ServerFrame::Welcome { .. } => "welcome",
        ServerFrame::Ready { .. } => "ready",
        ServerFrame::History { .. } => "history",
        ServerFrame::Event { .. } => "event",
        ServerFrame::Ack { .. } => "ack",
        ServerFrame::Control { .. } => "control",
        ServerFrame::Typing { .. } => "typing",
        ServerFrame::AiDraft { .. } => "ai_draft",
        ServerFrame::OnlineView { .. } => "online_view",
        ServerFrame::ControlWarning { .. } => "control_warning",
        ServerFrame::Colleagues { .. } => "colleagues",
        ServerFrame::Brief { .. } => "brief",
        ServerFrame::Suggestion { .. } => "suggestion",
        ServerFrame::InterruptedReply { .. } => "interrupted_reply",
        ServerFrame::TransferReceived { .. } => "transfer_received",
        ServerFrame::TeamSnapshot { .. } => "team_snapshot",
        ServerFrame::AuditSnapshot { .. } => "audit_snapshot",
        ServerFrame::AuditEntry { .. } => "audit_entry",
        ServerFrame::Note { .. } => "note",
        ServerFrame::VisitorContext { .. } => "visitor_context",
        ServerFrame::Recent { .. } => "recent",
        ServerFrame::SearchResults { .. } => "search_results",
        ServerFrame::FollowUps { .. } => "follow_ups",
        ServerFrame::FollowUp { .. } => "follow_up",
        ServerFrame::Error(_) => "error",
    }
}
const SERVER: &[&str] = &[
    "welcome",
    "ready",
    "history",
    "event",
    "ack",
    "control",
    "typing",
    "ai_draft",
    "online_view",
    "control_warning",
    "colleagues",
    "brief",
    "suggestion",
    "interrupted_reply",
    "transfer_received",
    "team_snapshot",
    "audit_snapshot",
    "audit_entry",
    "note",
    "visitor_context",
    "recent",
    "search_results",
    "follow_ups",
    "follow_up",
    "error",
];

fn parse<T: serde::de::DeserializeOwned>(kind: &str, body: &str) -> T {
    serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{kind} example does not decode: {e}\n{body}"))
}

#[test]
fn every_frame_has_a_valid_example_in_the_protocol_doc() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
    let doc = std::fs::read_to_string(path).expect("docs/protocol.md");
    let (mut w, mut o, mut s) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(kind) = line.strip_prefix("```json ") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let body = body.join("\n");
        match kind.trim() {
            "widget" => w.insert(widget_type(&parse(kind, &body))),
            "operator" => o.insert(operator_type(&parse(kind, &body))),
            "server" => s.insert(server_type(&parse(kind, &body))),
            other => panic!("unknown example label `{other}`"),
        };
    }
    // And the decoder's lists of client frame types name exactly the documented ones.
    assert!(w.iter().all(|t| WIDGET.contains(t)) && o.iter().all(|t| OPERATOR.contains(t)));
    let missing = |all: &[&'static str], seen: &BTreeSet<&str>| -> Vec<&'static str> {
        all.iter().copied().filter(|t| !seen.contains(t)).collect()
    };
    assert_eq!(
        missing(WIDGET, &w),
        Vec::<&str>::new(),
        "widget frames without an example"
    );
    assert_eq!(
        missing(OPERATOR, &o),
        Vec::<&str>::new(),
        "operator frames without an example"
    );
    assert_eq!(
        missing(SERVER, &s),
        Vec::<&str>::new(),
        "server frames without an example"
    );
}

#[test]
fn every_error_and_close_code_is_in_the_protocol_doc() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
    let doc = std::fs::read_to_string(path).expect("docs/protocol.md");
    for code in protocol::ErrorCode::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", code.as_str())),
            "{code} not documented"
        );
    }
    for c in protocol::CloseCode::ALL {
        assert!(
            doc.contains(&format!("| {} | `{}` |", c.code, c.name)),
            "close {} not documented",
            c.code
        );
    }
}

#[test]
fn every_problem_code_is_in_the_profile_api_doc_with_its_status() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/profile-api.md");
    let doc = std::fs::read_to_string(path).expect("docs/profile-api.md");
    for code in protocol::profile::ProblemCode::ALL {
        assert!(
            doc.contains(&format!("| `{}` | {} |", code.as_str(), code.status())),
            "{code} not documented with status {}",
            code.status()
        );
        let json = serde_json::to_string(code).expect("json");
        assert_eq!(json, format!("\"{}\"", code.as_str()), "wire spelling");
    }
}
