//! Generation of the TypeScript mirror of this crate (`web-ui/src/protocol/`).
//!
//! `cargo test -p take-control-protocol` fails when the committed files differ from what this
//! produces; `UPDATE_TS=1 cargo test -p take-control-protocol --test typescript` rewrites them.

use ts_rs::{Config, TS};

use crate::canned::{CannedReply, CannedReplyInput, CannedReplyList};
use crate::codes::{CloseCode, ErrorCode};
use crate::frames::*;
use crate::profile::{AvatarUploaded, Problem, ProblemCode, ProfileUpdate, ProfileView};

const HEADER: &str = "// Generated from the Rust `protocol` crate. Do not edit by hand:\n\
// UPDATE_TS=1 cargo test -p take-control-protocol --test typescript\n";

fn decl<T: TS>(cfg: &Config, out: &mut String) {
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push_str("\n\n");
}

/// `frames.ts`: every type that crosses a socket.
pub fn frames_ts() -> String {
    // Sequence numbers and times stay far below 2^53, so plain `number` is exact.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(HEADER);
    out.push_str("import type { ErrorCode, ProblemCode } from \"./codes\";\n\n");
    out.push_str("export type Seq = number;\nexport type Millis = number;\n");
    out.push_str("export type ConversationId = string;\nexport type WorkspaceId = string;\n");
    out.push_str("export type OperatorId = string;\nexport type ClientId = string;\n\n");
    decl::<WidgetFrame>(&cfg, &mut out);
    decl::<OperatorFrame>(&cfg, &mut out);
    decl::<ServerFrame>(&cfg, &mut out);
    decl::<ErrorFrame>(&cfg, &mut out);
    decl::<ConversationEvent>(&cfg, &mut out);
    decl::<EventKind>(&cfg, &mut out);
    decl::<HumanRequestedBy>(&cfg, &mut out);
    decl::<DraftState>(&cfg, &mut out);
    decl::<ReleaseReason>(&cfg, &mut out);
    decl::<Author>(&cfg, &mut out);
    decl::<OperatorRef>(&cfg, &mut out);
    decl::<ControlState>(&cfg, &mut out);
    decl::<Holder>(&cfg, &mut out);
    decl::<AuthorKind>(&cfg, &mut out);
    decl::<ConversationSummary>(&cfg, &mut out);
    decl::<MessagePreview>(&cfg, &mut out);
    decl::<OnlineFilter>(&cfg, &mut out);
    decl::<OnlineOrder>(&cfg, &mut out);
    decl::<OnlineCounts>(&cfg, &mut out);
    decl::<Role>(&cfg, &mut out);
    decl::<Plan>(&cfg, &mut out);
    decl::<OperatorIdentity>(&cfg, &mut out);
    decl::<WorkspaceInfo>(&cfg, &mut out);
    decl::<TeamMember>(&cfg, &mut out);
    decl::<HeldConversation>(&cfg, &mut out);
    decl::<Colleague>(&cfg, &mut out);
    decl::<Brief>(&cfg, &mut out);
    decl::<Attachment>(&cfg, &mut out);
    decl::<AwayText>(&cfg, &mut out);
    decl::<FollowUpReason>(&cfg, &mut out);
    decl::<EmailDelivery>(&cfg, &mut out);
    decl::<FollowUp>(&cfg, &mut out);
    decl::<FollowUpRow>(&cfg, &mut out);
    decl::<AttachmentKind>(&cfg, &mut out);
    decl::<crate::files::FileLinksRequest>(&cfg, &mut out);
    decl::<crate::files::FileLinks>(&cfg, &mut out);
    decl::<crate::files::FileLink>(&cfg, &mut out);
    decl::<BriefSource>(&cfg, &mut out);
    decl::<BriefState>(&cfg, &mut out);
    decl::<AuditEntry>(&cfg, &mut out);
    decl::<AuditActor>(&cfg, &mut out);
    decl::<AuditAction>(&cfg, &mut out);
    decl::<ProfileView>(&cfg, &mut out);
    decl::<ProfileUpdate>(&cfg, &mut out);
    decl::<AvatarUploaded>(&cfg, &mut out);
    decl::<Problem>(&cfg, &mut out);
    decl::<Note>(&cfg, &mut out);
    decl::<VisitorContext>(&cfg, &mut out);
    decl::<CannedReply>(&cfg, &mut out);
    decl::<CannedReplyInput>(&cfg, &mut out);
    decl::<CannedReplyList>(&cfg, &mut out);
    out.push_str(&format!(
        "export const PROTOCOL_VERSION = {};\nexport const DEFAULT_OPERATOR_NAME = {:?};\n",
        crate::PROTOCOL_VERSION,
        DEFAULT_OPERATOR_NAME
    ));
    out.push_str(&format!(
        "export const LIMITS = {{ maxFrameBytes: {}, maxMessageChars: {}, maxClientIdBytes: {}, \
         maxDisplayNameGraphemes: {}, maxMarksPerCharacter: {}, minAvatarSide: {}, maxAvatarSide: {}, maxAvatarBytes: {}, avatarSide: {}, maxNotes: {}, maxUrlChars: {}, maxTitleChars: {}, maxLanguageChars: {}, maxTimeZoneChars: {}, maxQueryChars: {}, maxCannedReplies: {}, maxCannedTitleChars: {}, maxShortcutChars: {}, onlineWindow: {}, maxOnlineWindow: {}, maxOnlineQueryChars: {} }} as const;\n",
        crate::limits::MAX_FRAME_BYTES,
        crate::limits::MAX_MESSAGE_CHARS,
        crate::limits::MAX_CLIENT_ID_BYTES,
        crate::limits::MAX_DISPLAY_NAME_GRAPHEMES,
        crate::limits::MAX_MARKS_PER_CHARACTER,
        crate::limits::MIN_AVATAR_SIDE,
        crate::limits::MAX_AVATAR_SIDE,
        crate::limits::MAX_AVATAR_BYTES,
        crate::limits::AVATAR_SIDE,
        crate::limits::MAX_NOTES,
        crate::limits::MAX_URL_CHARS,
        crate::limits::MAX_TITLE_CHARS,
        crate::limits::MAX_LANGUAGE_CHARS,
        crate::limits::MAX_TIME_ZONE_CHARS,
        crate::limits::MAX_QUERY_CHARS,
        crate::limits::MAX_CANNED_REPLIES,
        crate::limits::MAX_CANNED_TITLE_CHARS,
        crate::limits::MAX_SHORTCUT_CHARS,
        crate::limits::ONLINE_WINDOW,
        crate::limits::MAX_ONLINE_WINDOW,
        crate::limits::MAX_ONLINE_QUERY_CHARS
    ));
    out
}

/// `codes.ts`: the error and close code table, values included.
pub fn codes_ts() -> String {
    let cfg = Config::new();
    let mut out = String::from(HEADER);
    out.push('\n');
    decl::<ErrorCode>(&cfg, &mut out);
    out.push_str("export interface ErrorCodeInfo { retryable: boolean; description: string }\n\n");
    out.push_str("export const ERROR_CODES: Record<ErrorCode, ErrorCodeInfo> = {\n");
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "  {}: {{ retryable: {}, description: {:?} }},\n",
            code.as_str(),
            code.retryable(),
            code.description()
        ));
    }
    out.push_str("};\n\n");
    out.push_str(
        "export interface CloseCodeInfo { code: number; name: string; reconnect: boolean; description: string }\n\n",
    );
    out.push_str("export const CLOSE_CODES: Record<number, CloseCodeInfo> = {\n");
    for c in CloseCode::ALL {
        out.push_str(&format!(
            "  {}: {{ code: {}, name: {:?}, reconnect: {}, description: {:?} }},\n",
            c.code, c.code, c.name, c.reconnect, c.description
        ));
    }
    out.push_str("};\n\n");
    out.push_str("export const CloseCode = {\n");
    for c in CloseCode::ALL {
        out.push_str(&format!("  {}: {},\n", c.name.to_uppercase(), c.code));
    }
    out.push_str("} as const;\n\n");
    decl::<ProblemCode>(&cfg, &mut out);
    out.push_str("export interface ProblemCodeInfo { status: number; title: string }\n\n");
    out.push_str("export const PROBLEM_CODES: Record<ProblemCode, ProblemCodeInfo> = {\n");
    for code in ProblemCode::ALL {
        out.push_str(&format!(
            "  {}: {{ status: {}, title: {:?} }},\n",
            code.as_str(),
            code.status(),
            code.title()
        ));
    }
    out.push_str("};\n");
    out
}
