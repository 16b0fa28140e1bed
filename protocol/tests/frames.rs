//! Round trip of every frame, the documented decoding errors, and never-panic decoding.

use proptest::prelude::*;
use protocol::decode::{self, Limits};
use protocol::*;

fn martin() -> OperatorRef {
    OperatorRef {
        id: "op-martin".into(),
        name: "Martin Keller".into(),
        display_name: Some("Martin from Support".into()),
        avatar_url: Some("/avatars/3f2a.webp".into()),
    }
}

fn control() -> ControlState {
    ControlState {
        holder: Holder::Operator(martin()),
        epoch: 3,
    }
}

fn event(seq: Seq, kind: EventKind) -> ConversationEvent {
    ConversationEvent {
        seq,
        at: 1_764_000_000_000 + seq,
        kind,
    }
}

fn all_events() -> Vec<ConversationEvent> {
    vec![
        event(
            1,
            EventKind::Message {
                author: Author::Visitor,
                text: "Hi, where is my order?".into(),
                client_id: Some("c-1".into()),
                attachments: Vec::new(),
            },
        ),
        event(
            2,
            EventKind::Message {
                author: Author::Ai,
                text: "Let me check.".into(),
                client_id: None,
                attachments: Vec::new(),
            },
        ),
        event(
            3,
            EventKind::HumanRequested {
                by: HumanRequestedBy::Assistant,
            },
        ),
        event(3, EventKind::HumanRequestExpired { waited_ms: 120_000 }),
        event(
            3,
            EventKind::OutsideHours {
                by: HumanRequestedBy::Visitor,
                opens_at: Some(1_764_050_000_000),
            },
        ),
        event(
            3,
            EventKind::FollowUpEmail {
                email: "ana@example.com".into(),
            },
        ),
        event(
            4,
            EventKind::OperatorJoined {
                operator: martin(),
                epoch: 1,
            },
        ),
        event(
            5,
            EventKind::OperatorTransferred {
                from: Box::new(martin()),
                to: Box::new(OperatorRef {
                    id: "op-nora".into(),
                    name: "Nora Lind".into(),
                    display_name: None,
                    avatar_url: None,
                }),
                epoch: 2,
                by: Some("op-owner".into()),
            },
        ),
        event(
            5,
            EventKind::Message {
                author: Author::Operator(martin()),
                text: "Hello, Martin here.".into(),
                client_id: Some("o-1".into()),
                attachments: Vec::new(),
            },
        ),
        event(
            6,
            EventKind::OperatorLeft {
                operator: martin(),
                epoch: 2,
                reason: ReleaseReason::ForceReleased,
                by: Some("op-olivia".into()),
            },
        ),
    ]
}

fn summary() -> ConversationSummary {
    ConversationSummary {
        id: "cv-1".into(),
        visitor_label: "Visitor 7F3A".into(),
        started_at: 1,
        last_activity_at: 2,
        last_message: Some(MessagePreview {
            author: AuthorKind::Visitor,
            text: "Hi".into(),
        }),
        control: control(),
        needs_human: true,
        visitor_online: true,
        last_seq: 6,
    }
}

fn audit() -> AuditEntry {
    AuditEntry {
        at: 1_764_000_000_000,
        actor: Some(AuditActor {
            id: "op-olivia".into(),
            name: "Olivia Owner".into(),
            role: Role::Owner,
        }),
        action: AuditAction::Release,
        conversation_id: Some("cv-1".into()),
        reason: Some(ReleaseReason::ForceReleased),
        holder_id: Some("op-martin".into()),
        to: None,
    }
}

fn widget_frames() -> Vec<WidgetFrame> {
    vec![
        WidgetFrame::Hello {
            protocol: PROTOCOL_VERSION,
            workspace_id: "ws-1".into(),
            visitor_token: Some("tok".into()),
            last_seq: Some(4),
            context: Some(Box::new(VisitorContext {
                url: Some("https://shop.example/a".into()),
                title: None,
                referrer: None,
                language: Some("de-CH".into()),
                time_zone: Some("Europe/Zurich".into()),
            })),
            new_conversation: true,
        },
        WidgetFrame::Page {
            url: "https://shop.example/b".into(),
            title: Some("B".into()),
        },
        WidgetFrame::Hello {
            protocol: PROTOCOL_VERSION,
            workspace_id: "ws-1".into(),
            visitor_token: None,
            last_seq: None,
            context: None,
            new_conversation: false,
        },
        WidgetFrame::Message {
            client_id: "c-1".into(),
            text: "Hi".into(),
            attachments: None,
        },
        WidgetFrame::Message {
            client_id: "c-2".into(),
            text: String::new(),
            attachments: Some(Box::new(vec!["f_abcdefghij0123456789".into()])),
        },
        WidgetFrame::Typing { active: true },
        WidgetFrame::RequestHuman {},
        WidgetFrame::FollowUpEmail {
            email: "ana@example.com".into(),
        },
    ]
}

fn operator_frames() -> Vec<OperatorFrame> {
    let id = || "cv-1".to_string();
    vec![
        OperatorFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token: "jwt".into(),
        },
        OperatorFrame::Transfer {
            conversation_id: id(),
            to: "op-nora".into(),
            epoch: 3,
            note: Some("Refund approved, needs the label".into()),
        },
        OperatorFrame::Transfer {
            conversation_id: id(),
            to: "op-nora".into(),
            epoch: 3,
            note: None,
        },
        OperatorFrame::Colleagues {},
        OperatorFrame::Suggest {
            conversation_id: id(),
        },
        OperatorFrame::SubscribeOnline {
            filter: OnlineFilter::All,
            order: OnlineOrder::Activity,
            offset: 0,
            limit: 50,
            query: None,
        },
        OperatorFrame::SubscribeOnline {
            filter: OnlineFilter::Mine,
            order: OnlineOrder::Started,
            offset: 120,
            limit: 200,
            query: Some("anna".into()),
        },
        OperatorFrame::UnsubscribeOnline {},
        OperatorFrame::Open {
            conversation_id: id(),
            after_seq: Some(2),
        },
        OperatorFrame::Open {
            conversation_id: id(),
            after_seq: None,
        },
        OperatorFrame::Close {
            conversation_id: id(),
        },
        OperatorFrame::Takeover {
            conversation_id: id(),
        },
        OperatorFrame::Release {
            conversation_id: id(),
            force: true,
            epoch: None,
        },
        OperatorFrame::Release {
            conversation_id: id(),
            force: false,
            epoch: Some(4),
        },
        OperatorFrame::Message {
            conversation_id: id(),
            client_id: "o-1".into(),
            text: "Hello".into(),
            attachments: None,
        },
        OperatorFrame::Message {
            conversation_id: id(),
            client_id: "o-2".into(),
            text: "Your label".into(),
            attachments: Some(Box::new(vec!["f_abcdefghij0123456789".into()])),
        },
        OperatorFrame::Typing {
            conversation_id: id(),
            active: false,
        },
        OperatorFrame::SubscribeTeam {},
        OperatorFrame::FollowUps {},
    ]
}

fn follow_up() -> FollowUp {
    FollowUp {
        reason: FollowUpReason::Unanswered,
        since: 1_764_000_100_000,
        waiting: true,
        email: Some("ana@example.com".into()),
        delivery: None,
    }
}

fn server_frames() -> Vec<ServerFrame> {
    let id = || "cv-1".to_string();
    let mut frames = vec![
        ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            conversation_id: id(),
            visitor_token: "vt".into(),
            visitor_label: "Visitor 7F3A".into(),
            control: control(),
            heartbeat_ms: 30_000,
            away: Box::new(AwayText {
                message: "We're away right now.".into(),
                email_consent: "We use your address only to answer you.".into(),
            }),
        },
        ServerFrame::Ready {
            protocol: PROTOCOL_VERSION,
            operator: OperatorIdentity {
                id: "op-martin".into(),
                name: "Martin Keller".into(),
                role: Role::Operator,
                workspace_id: "ws-1".into(),
            },
            workspace: WorkspaceInfo {
                id: "ws-1".into(),
                name: "Acme".into(),
                plan: Plan::Pro,
            },
            heartbeat_ms: 30_000,
        },
        ServerFrame::History {
            conversation_id: id(),
            events: all_events(),
            control: control(),
            last_seq: 6,
            visitor_online: false,
            needs_human: true,
            notes: vec![],
            context: None,
            earlier: vec![],
            brief: Some(Box::new(BriefState::Ready {
                brief: Brief {
                    wants: "A refund for boots that leak.".into(),
                    answered: "The AI explained the 30-day return policy.".into(),
                    why_human: Some("The visitor asked for a person.".into()),
                    language: Some("de-DE".into()),
                    made_by: BriefSource::Knowledge,
                },
                at: 1_764_000_000_000,
            })),
            follow_up: Some(Box::new(follow_up())),
        },
        ServerFrame::Ack {
            conversation_id: id(),
            client_id: "c-1".into(),
            seq: 1,
        },
        ServerFrame::Control {
            conversation_id: id(),
            control: ControlState {
                holder: Holder::Ai,
                epoch: 2,
            },
        },
        ServerFrame::Typing {
            conversation_id: id(),
            author: Author::Ai,
            active: true,
        },
        ServerFrame::AiDraft {
            conversation_id: id(),
            draft_id: "d-7".into(),
            epoch: 2,
            offset: 12,
            text: "Your order shipped on".into(),
            state: DraftState::Streaming,
        },
        ServerFrame::AiDraft {
            conversation_id: id(),
            draft_id: "d-7".into(),
            epoch: 2,
            offset: 33,
            text: String::new(),
            state: DraftState::Discarded,
        },
        ServerFrame::OnlineView {
            filter: OnlineFilter::NeedsHuman,
            order: OnlineOrder::Started,
            query: Some("parcel".into()),
            offset: 50,
            total: 4_812,
            ids: vec![id(), "cv-2".into()],
            rows: vec![summary()],
            counts: OnlineCounts {
                all: 4_812,
                needs_human: 12,
                mine: 3,
                ai: 4_700,
            },
        },
        ServerFrame::TeamSnapshot {
            members: vec![TeamMember {
                id: "op-martin".into(),
                name: "Martin Keller".into(),
                role: Role::Operator,
                online: true,
                holding: vec![HeldConversation {
                    conversation_id: id(),
                    visitor_label: "Visitor 7F3A".into(),
                    since: 1_764_000_000_000,
                }],
            }],
        },
        ServerFrame::AuditSnapshot {
            entries: vec![audit()],
        },
        ServerFrame::AuditEntry { entry: audit() },
        ServerFrame::Colleagues {
            operators: vec![Colleague {
                id: "op-nora".into(),
                name: "Nora Lind".into(),
                role: Role::Editor,
            }],
        },
        ServerFrame::Brief {
            conversation_id: id(),
            brief: BriefState::Pending {
                since: 1_764_000_000_000,
            },
        },
        ServerFrame::Brief {
            conversation_id: id(),
            brief: BriefState::Unavailable {
                reason: "the assistant did not answer in time".into(),
                at: 1_764_000_000_000,
            },
        },
        ServerFrame::Suggestion {
            conversation_id: id(),
            text: "Your refund was approved today.".into(),
        },
        ServerFrame::InterruptedReply {
            conversation_id: id(),
            draft_id: "d-7".into(),
            text: "Your order shipped on Monday and should".into(),
        },
        ServerFrame::TransferReceived {
            conversation_id: id(),
            visitor_label: "Visitor 7F3A".into(),
            by: martin(),
            note: Some("Refund approved".into()),
        },
        ServerFrame::ControlWarning {
            conversation_id: id(),
            holder_id: "op-martin".into(),
            reason: ReleaseReason::Idle,
            release_at: 1_764_000_900_000,
        },
        ServerFrame::FollowUps {
            conversations: vec![FollowUpRow {
                conversation: ConversationSummary {
                    id: id(),
                    visitor_label: "Visitor 7F3A".into(),
                    started_at: 1_764_000_000_000,
                    last_activity_at: 1_764_000_100_000,
                    last_message: None,
                    control: control(),
                    needs_human: false,
                    visitor_online: false,
                    last_seq: 6,
                },
                follow_up: follow_up(),
            }],
        },
    ];
    for delivery in [
        EmailDelivery::Scheduled {
            at: 1_764_000_200_000,
        },
        EmailDelivery::Sent {
            at: 1_764_000_200_000,
        },
        EmailDelivery::Retrying {
            attempts: 2,
            next_at: 1_764_000_260_000,
            error: "connection refused".into(),
        },
        EmailDelivery::Failed {
            attempts: 1,
            error: "550 no such user".into(),
        },
    ] {
        let mut f = follow_up();
        f.delivery = Some(delivery);
        frames.push(ServerFrame::FollowUp {
            conversation_id: id(),
            follow_up: Box::new(f),
        });
    }
    for e in all_events() {
        frames.push(ServerFrame::Event {
            conversation_id: id(),
            event: e,
        });
    }
    for code in ErrorCode::ALL {
        let mut e = ErrorFrame::new(*code).conversation("cv-1").client("c-1");
        e.holder = Some(martin());
        e.retry_after_ms = Some(250);
        frames.push(ServerFrame::Error(e));
    }
    frames.push(ServerFrame::Error(ErrorFrame::new(ErrorCode::BadFrame)));
    frames
}

fn round_trip<T>(frames: Vec<T>)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for frame in frames {
        let json = serde_json::to_string(&frame).expect("serialize");
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert!(value["type"].is_string(), "no type tag in {json}");
        let back: T = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, frame, "round trip of {json}");
    }
}

#[test]
fn every_widget_frame_round_trips() {
    round_trip(widget_frames());
}

#[test]
fn every_operator_frame_round_trips() {
    round_trip(operator_frames());
}

#[test]
fn every_server_frame_round_trips() {
    round_trip(server_frames());
}

#[test]
fn client_frames_pass_the_decoder() {
    let limits = Limits::default();
    for f in widget_frames() {
        let json = serde_json::to_string(&f).expect("serialize");
        assert_eq!(decode::widget_frame(&json, &limits).expect("decode"), f);
    }
    for f in operator_frames() {
        let json = serde_json::to_string(&f).expect("serialize");
        assert_eq!(decode::operator_frame(&json, &limits).expect("decode"), f);
    }
}

#[test]
fn event_wire_shape_is_flat() {
    let json = serde_json::to_value(&all_events()[0]).expect("serialize");
    assert_eq!(json["seq"], 1);
    assert_eq!(json["type"], "message");
    assert_eq!(json["author"]["kind"], "visitor");
}

#[test]
fn operator_ref_for_visitor_hides_the_account_name() {
    let mut anon = martin();
    anon.display_name = None;
    assert_eq!(anon.for_visitor().name, DEFAULT_OPERATOR_NAME);
    assert_eq!(martin().for_visitor().name, "Martin from Support");
}

fn widget_err(text: &str) -> ErrorCode {
    decode::widget_frame(text, &Limits::default())
        .expect_err("must be refused")
        .code
}

fn operator_err(text: &str) -> ErrorCode {
    decode::operator_frame(text, &Limits::default())
        .expect_err("must be refused")
        .code
}

#[test]
fn malformed_json_is_bad_frame() {
    assert_eq!(widget_err("{\"type\":"), ErrorCode::BadFrame);
    assert_eq!(operator_err("not json"), ErrorCode::BadFrame);
    assert_eq!(operator_err("[1,2]"), ErrorCode::BadFrame);
    assert_eq!(operator_err("{\"type\":7}"), ErrorCode::BadFrame);
}

#[test]
fn unknown_type_is_named() {
    assert_eq!(
        widget_err(r#"{"type":"launch"}"#),
        ErrorCode::UnknownFrameType
    );
    assert_eq!(
        operator_err(r#"{"type":"launch"}"#),
        ErrorCode::UnknownFrameType
    );
}

#[test]
fn known_type_with_wrong_fields_is_invalid() {
    assert_eq!(
        operator_err(r#"{"type":"takeover","conversation_id":5}"#),
        ErrorCode::InvalidFrame
    );
    assert_eq!(widget_err(r#"{"type":"typing"}"#), ErrorCode::InvalidFrame);
}

#[test]
fn an_online_view_is_a_window_with_defaults() {
    let limits = Limits::default();
    match decode::operator_frame(r#"{"type":"subscribe_online"}"#, &limits) {
        Ok(OperatorFrame::SubscribeOnline {
            filter: OnlineFilter::All,
            order: OnlineOrder::Activity,
            offset: 0,
            limit,
            query: None,
        }) => assert_eq!(limit, protocol::limits::ONLINE_WINDOW),
        other => panic!("{other:?}"),
    }
    for bad in [
        r#"{"type":"subscribe_online","limit":0}"#,
        r#"{"type":"subscribe_online","limit":201}"#,
        r#"{"type":"subscribe_online","filter":"everything"}"#,
        r#"{"type":"subscribe_online","order":"alphabetical"}"#,
        r#"{"type":"subscribe_online","offset":-1}"#,
    ] {
        let err = decode::operator_frame(bad, &limits).expect_err(bad);
        assert_eq!(err.code, ErrorCode::InvalidFrame, "{bad}");
    }
    let long = format!(
        r#"{{"type":"subscribe_online","query":"{}"}}"#,
        "q".repeat(protocol::limits::MAX_ONLINE_QUERY_CHARS + 1)
    );
    assert_eq!(
        decode::operator_frame(&long, &limits)
            .expect_err("long")
            .code,
        ErrorCode::InvalidFrame
    );
}

#[test]
fn visitor_sending_operator_frames_is_forbidden() {
    for t in ["takeover", "release", "open", "subscribe_online"] {
        let frame = format!(r#"{{"type":"{t}","conversation_id":"cv"}}"#);
        assert_eq!(widget_err(&frame), ErrorCode::Forbidden, "{t}");
    }
}

#[test]
fn oversized_frames_and_messages_are_refused() {
    let big = format!(
        r#"{{"type":"message","client_id":"c","text":"{}"}}"#,
        "x".repeat(limits::MAX_FRAME_BYTES)
    );
    assert_eq!(widget_err(&big), ErrorCode::FrameTooLarge);
    let long = format!(
        r#"{{"type":"message","client_id":"c","text":"{}"}}"#,
        "é".repeat(limits::MAX_MESSAGE_CHARS + 1)
    );
    assert_eq!(widget_err(&long), ErrorCode::MessageTooLong);
    let exact = format!(
        r#"{{"type":"message","client_id":"c","text":"{}"}}"#,
        "é".repeat(limits::MAX_MESSAGE_CHARS)
    );
    assert!(decode::widget_frame(&exact, &Limits::default()).is_ok());
}

#[test]
fn a_refused_message_names_its_client_id_and_conversation() {
    let limits = Limits::default();
    let long = "x".repeat(limits::MAX_MESSAGE_CHARS + 1);
    let widget = format!(r#"{{"type":"message","client_id":"w-7","text":"{long}"}}"#);
    let e = decode::widget_frame(&widget, &limits).expect_err("too long");
    assert_eq!(e.code, ErrorCode::MessageTooLong);
    assert_eq!(e.client_id.as_deref(), Some("w-7"));
    let frame = ErrorFrame::from(e);
    assert_eq!(frame.client_id.as_deref(), Some("w-7"));
    assert_eq!(frame.conversation_id, None);
    for kind in ["message", "note"] {
        let op = format!(
            r#"{{"type":"{kind}","conversation_id":"cv_1","client_id":"o-3","text":"{long}"}}"#
        );
        let frame = ErrorFrame::from(decode::operator_frame(&op, &limits).expect_err(kind));
        assert_eq!(frame.code, ErrorCode::MessageTooLong, "{kind}");
        assert_eq!(frame.client_id.as_deref(), Some("o-3"), "{kind}");
        assert_eq!(frame.conversation_id.as_deref(), Some("cv_1"), "{kind}");
    }
    let blank = r#"{"type":"message","client_id":"w-8","text":"  "}"#;
    let e = decode::widget_frame(blank, &limits).expect_err("blank");
    assert_eq!(
        (e.code, e.client_id.as_deref()),
        (ErrorCode::EmptyMessage, Some("w-8"))
    );
}

#[test]
fn empty_text_and_bad_client_ids_are_refused() {
    assert_eq!(
        widget_err(r#"{"type":"message","client_id":"c","text":"  \n"}"#),
        ErrorCode::EmptyMessage
    );
    assert_eq!(
        widget_err(r#"{"type":"message","client_id":"","text":"hi"}"#),
        ErrorCode::InvalidClientId
    );
    let long_id = format!(
        r#"{{"type":"message","conversation_id":"cv","client_id":"{}","text":"hi"}}"#,
        "c".repeat(limits::MAX_CLIENT_ID_BYTES + 1)
    );
    assert_eq!(operator_err(&long_id), ErrorCode::InvalidClientId);
}

fn json_fragment() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"type\":".to_string()),
        Just("\"message\"".to_string()),
        Just("\"hello\"".to_string()),
        Just("\"takeover\"".to_string()),
        Just("\"conversation_id\":".to_string()),
        Just("\"text\":".to_string()),
        Just("\"client_id\":".to_string()),
        Just(",".to_string()),
        Just("null".to_string()),
        Just("18446744073709551616".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        "\"[^\"]{0,8}\"".prop_map(|s| s),
    ];
    proptest::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

/// A `message` frame's fields in any order and spelling: the decoder's fast path for frames
/// that start `{"type":"message",` must read exactly what serde's enum reads.
fn message_frame() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "\"[a-z0-9 ]{0,12}\"".prop_map(|s| s),
        Just(r#""é \"q\" \\ \u00e9 \ud83d\ude00""#.to_string()),
        Just(r#""\u0000""#.to_string()),
        Just("\"   \"".to_string()),
        Just("7".to_string()),
        Just("null".to_string()),
        Just("{\"type\":\"hello\"}".to_string()),
    ];
    let key = prop_oneof![
        Just("\"client_id\"".to_string()),
        Just("\"text\"".to_string()),
        Just("\"conversation_id\"".to_string()),
        Just("\"type\"".to_string()),
        Just("\"te\\u0078t\"".to_string()),
        Just("\"other\"".to_string()),
    ];
    let field = (key, value).prop_map(|(k, v)| format!("{k}:{v}"));
    (proptest::collection::vec(field, 0..6), any::<bool>()).prop_map(|(fields, space)| {
        let sep = if space { ", " } else { "," };
        format!("{{\"type\":\"message\",{}}}", fields.join(sep))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_message_frame_decodes_as_serde_reads_it(text in message_frame()) {
        let limits = Limits::default();
        let content = |e: &decode::DecodeError| matches!(
            e.code,
            ErrorCode::InvalidClientId | ErrorCode::EmptyMessage | ErrorCode::MessageTooLong
        );
        match (decode::widget_frame(&text, &limits), serde_json::from_str::<WidgetFrame>(&text)) {
            (Ok(got), Ok(want)) => prop_assert_eq!(got, want),
            (Err(e), Ok(_)) => prop_assert!(content(&e), "{text}: {e:?}"),
            (Ok(got), Err(e)) => prop_assert!(false, "{text}: accepted {got:?}, serde: {e}"),
            (Err(_), Err(_)) => {}
        }
        match (decode::operator_frame(&text, &limits), serde_json::from_str::<OperatorFrame>(&text)) {
            (Ok(got), Ok(want)) => prop_assert_eq!(got, want),
            (Err(e), Ok(_)) => prop_assert!(content(&e), "{text}: {e:?}"),
            (Ok(got), Err(e)) => prop_assert!(false, "{text}: accepted {got:?}, serde: {e}"),
            (Err(_), Err(_)) => {}
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = decode::widget_frame(&text, &Limits::default());
        let _ = decode::operator_frame(&text, &Limits::default());
    }

    #[test]
    fn decoding_json_like_text_never_panics(text in json_fragment()) {
        let w = decode::widget_frame(&text, &Limits::default());
        let o = decode::operator_frame(&text, &Limits::default());
        // Whatever it is, a refusal carries a documented code.
        for e in [w.err(), o.err()].into_iter().flatten() {
            prop_assert!(ErrorCode::ALL.contains(&e.code));
        }
    }
}

#[test]
fn only_events_naming_an_operator_read_differently_for_visitors() {
    let message = |author| EventKind::Message {
        author,
        text: "hi".into(),
        client_id: Some("c1".into()),
        attachments: Vec::new(),
    };
    let kinds = [
        message(Author::Visitor),
        message(Author::Ai),
        message(Author::Operator(martin())),
        EventKind::OperatorJoined {
            operator: martin(),
            epoch: 1,
        },
        EventKind::OperatorLeft {
            operator: martin(),
            epoch: 2,
            reason: ReleaseReason::ForceReleased,
            by: Some("op-owner".into()),
        },
        EventKind::HumanRequested {
            by: HumanRequestedBy::Visitor,
        },
        EventKind::HumanRequestExpired { waited_ms: 5 },
    ];
    for kind in kinds {
        // The hub sends one copy to both audiences when this says so: it must hold.
        if !kind.names_an_operator() {
            assert_eq!(kind.for_visitor(), kind, "{kind:?}");
        } else {
            assert_ne!(kind.for_visitor(), kind, "{kind:?}");
        }
    }
}
