//! A conversation's history as the chat messages an LLM reads (pure).
//!
//! Visitors are `user`, the AI is `assistant`. A human teammate's turns are `assistant` turns
//! too (they spoke for the business), labelled with who wrote them, and the takeover and the
//! hand-back are `system` notes. The hand-back note is the marker that stops the well-known
//! loop: the model is told the human session ended and that it should carry on, not ask for a
//! human again unless the visitor asks.
//!
//! Attachments are a text note (`[Attached: shot.png (image)]`). For a model that reads images,
//! [`vision_messages`] adds the visitor's latest images (chosen by [`images_wanted`], read by the
//! node) as `image_url` parts after that note.

use bytes::Bytes;
use protocol::{
    Attachment, AttachmentId, AttachmentKind, Author, ConversationEvent, EventKind,
    HumanRequestedBy,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    fn new(role: &str, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// What the model is told when a teammate hands the conversation back.
pub const HAND_BACK_MARKER: &str = "The human session has ended: the teammate handed the conversation back to you. Continue helping the visitor from here, taking what the teammate said into account. Do not ask for a human again unless the visitor asks for one.";

/// What the model is told when a teammate takes over.
pub fn takeover_note(name: &str) -> String {
    format!(
        "A human teammate, {name}, took over the conversation. The messages marked as theirs were written by them, not by you."
    )
}

/// The messages for a backend: the system prompt, then the history.
pub fn chat_messages(system_prompt: &str, transcript: &[ConversationEvent]) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(transcript.len() + 1);
    if !system_prompt.is_empty() {
        out.push(ChatMessage::new("system", system_prompt));
    }
    out.extend(transcript.iter().map(event_message));
    out
}

/// One event as the one message a model reads of it.
fn event_message(e: &ConversationEvent) -> ChatMessage {
    match &e.kind {
        EventKind::Message {
            author,
            text,
            attachments,
            ..
        } => {
            // A model reads files as a note of what was attached: enough to say "I see you sent
            // a screenshot". (A model that reads images gets them after this note:
            // `vision_messages`.)
            let with_files;
            let text = if attachments.is_empty() {
                text.as_str()
            } else {
                with_files = format!("{text}{}", files_note(attachments))
                    .trim()
                    .to_owned();
                with_files.as_str()
            };
            match author {
                Author::Visitor => ChatMessage::new("user", text),
                Author::Ai => ChatMessage::new("assistant", text),
                Author::Operator(op) => {
                    ChatMessage::new("assistant", format!("[Human teammate {}]: {text}", op.name))
                }
            }
        }
        EventKind::OperatorJoined { operator, .. } => {
            ChatMessage::new("system", takeover_note(&operator.name))
        }
        EventKind::OperatorLeft { .. } => ChatMessage::new("system", HAND_BACK_MARKER),
        // One teammate handed over to another: the model sees the new one join.
        EventKind::OperatorTransferred { to, .. } => {
            ChatMessage::new("system", takeover_note(&to.name))
        }
        EventKind::HumanRequested { by } => ChatMessage::new(
            "system",
            match by {
                HumanRequestedBy::Visitor => "The visitor asked for a human; the team was alerted.",
                HumanRequestedBy::Assistant => "You asked for a human; the team was alerted.",
            },
        ),
        EventKind::HumanRequestExpired { .. } => ChatMessage::new(
            "system",
            "No teammate was available. Keep helping the visitor yourself.",
        ),
        EventKind::OutsideHours { .. } => ChatMessage::new(
            "system",
            "The team is away (outside working hours). Keep helping the visitor yourself.",
        ),
        // The address is the team's business: a model is only told there is one.
        EventKind::FollowUpEmail { .. } => ChatMessage::new(
            "system",
            "The visitor left an email address; the team will answer there.",
        ),
    }
}

/// At most this many images go to a model per request: the visitor's latest. With each image a
/// thumbnail (at most [`protocol::limits::THUMBNAIL_SIDE`] pixels a side) of at most
/// [`MAX_IMAGE_BYTES`], a request carries at most 2 MiB of images (about 2.7 MiB as base64).
pub const MAX_IMAGES: usize = 4;

/// An image larger than this is left as its note. A thumbnail is far smaller (a 320 × 320 RGBA
/// PNG is 400 KiB uncompressed); the bound holds whatever the store returns.
pub const MAX_IMAGE_BYTES: usize = 512 * 1024;

/// An image of the transcript as the node read it for a model that reads images: its stored
/// thumbnail, encoded as the image is (`content_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInput {
    pub id: AttachmentId,
    pub content_type: String,
    pub bytes: Bytes,
}

/// The images a model that reads them may see: the last [`MAX_IMAGES`] images the visitor
/// attached, oldest first. Only the visitor's: a chat-completions request takes images in
/// `user` messages only, and the team's turns are `assistant` ones.
pub fn images_wanted(transcript: &[ConversationEvent]) -> Vec<&Attachment> {
    let mut wanted: Vec<&Attachment> = transcript
        .iter()
        .rev()
        .filter_map(|e| match &e.kind {
            EventKind::Message {
                author: Author::Visitor,
                attachments,
                ..
            } => Some(attachments.iter().rev()),
            _ => None,
        })
        .flatten()
        .filter(|a| a.kind == AttachmentKind::Image)
        .take(MAX_IMAGES)
        .collect();
    wanted.reverse();
    wanted
}

/// One part of a message's content, in the chat-completions format for image input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageUrl {
    /// `data:image/png;base64,…`: the model's server never fetches anything from the hub.
    pub url: String,
    /// `low`: the model reads the image at 512 × 512 at most, which a thumbnail already is
    /// under, for a fixed, small token cost.
    pub detail: &'static str,
}

/// A message's content: text, or (a visitor message with images read) its text then its images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisionMessage {
    pub role: String,
    pub content: Content,
}

/// [`chat_messages`] for a model that reads images: each visitor message whose images are in
/// `images` becomes its text part (the same text, the note of every attachment included) and
/// one `image_url` part per image. An image not read (not wanted, or its read failed) or over
/// [`MAX_IMAGE_BYTES`] stays the note alone.
pub fn vision_messages(
    system_prompt: &str,
    transcript: &[ConversationEvent],
    images: &[ImageInput],
) -> Vec<VisionMessage> {
    let mut out = Vec::with_capacity(transcript.len() + 1);
    if !system_prompt.is_empty() {
        out.push(VisionMessage {
            role: "system".into(),
            content: Content::Text(system_prompt.into()),
        });
    }
    for e in transcript {
        let ChatMessage { role, content } = event_message(e);
        let parts: Vec<ContentPart> = match &e.kind {
            EventKind::Message {
                author: Author::Visitor,
                attachments,
                ..
            } => attachments
                .iter()
                .filter_map(|a| images.iter().find(|i| i.id == a.id))
                .filter(|i| i.bytes.len() <= MAX_IMAGE_BYTES)
                .map(|i| ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: data_url(&i.content_type, &i.bytes),
                        detail: "low",
                    },
                })
                .collect(),
            _ => Vec::new(),
        };
        let content = if parts.is_empty() {
            Content::Text(content)
        } else {
            let mut all = vec![ContentPart::Text { text: content }];
            all.extend(parts);
            Content::Parts(all)
        };
        out.push(VisionMessage { role, content });
    }
    out
}

/// `data:{content_type};base64,{bytes}`.
pub fn data_url(content_type: &str, bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// `[Attached: shot.png (image), label.pdf (PDF)]`, after a message's text.
pub fn files_note(attachments: &[Attachment]) -> String {
    let names: Vec<String> = attachments
        .iter()
        .map(|a| {
            let kind = match a.kind {
                AttachmentKind::Image => "image",
                AttachmentKind::Pdf => "PDF",
            };
            format!("{} ({kind})", a.name)
        })
        .collect();
    format!(" [Attached: {}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{OperatorRef, ReleaseReason};

    use crate::assistant::samples::{ev, msg};

    #[test]
    fn a_hand_back_carries_the_operator_turns_and_the_end_marker() {
        let martin = OperatorRef {
            id: "martin".into(),
            name: "Martin Keller".into(),
            display_name: None,
            avatar_url: None,
        };
        let t = [
            msg(1, Author::Visitor, "Where is my order?"),
            msg(2, Author::Ai, "Let me get a human."),
            ev(
                3,
                EventKind::HumanRequested {
                    by: HumanRequestedBy::Assistant,
                },
            ),
            ev(
                4,
                EventKind::OperatorJoined {
                    operator: martin.clone(),
                    epoch: 1,
                },
            ),
            msg(5, Author::Operator(martin.clone()), "It ships tomorrow."),
            ev(
                6,
                EventKind::OperatorLeft {
                    operator: martin,
                    epoch: 1,
                    reason: ReleaseReason::Ended,
                    by: None,
                },
            ),
            msg(7, Author::Visitor, "Thanks! And returns?"),
        ];
        let m = chat_messages("Be nice.", &t);
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(
            roles,
            [
                "system",
                "user",
                "assistant",
                "system",
                "system",
                "assistant",
                "system",
                "user"
            ]
        );
        assert_eq!(
            m[5].content,
            "[Human teammate Martin Keller]: It ships tomorrow."
        );
        assert_eq!(m[6].content, HAND_BACK_MARKER);
        assert_eq!(m[7].content, "Thanks! And returns?");
    }

    #[test]
    fn no_system_prompt_no_system_message() {
        let m = chat_messages("", &[msg(1, Author::Visitor, "hi")]);
        assert_eq!(m, [ChatMessage::new("user", "hi")]);
    }

    fn file(id: &str, kind: AttachmentKind) -> Attachment {
        let (name, content_type) = match kind {
            AttachmentKind::Image => (format!("{id}.png"), "image/png"),
            AttachmentKind::Pdf => (format!("{id}.pdf"), "application/pdf"),
        };
        Attachment {
            id: id.into(),
            name,
            kind,
            content_type: content_type.into(),
            size: 10,
            width: None,
            height: None,
        }
    }

    fn with_files(
        seq: u64,
        author: Author,
        text: &str,
        files: Vec<Attachment>,
    ) -> ConversationEvent {
        ev(
            seq,
            EventKind::Message {
                author,
                text: text.into(),
                client_id: None,
                attachments: files,
            },
        )
    }

    fn read(id: &str, bytes: &[u8]) -> ImageInput {
        ImageInput {
            id: id.into(),
            content_type: "image/png".into(),
            bytes: Bytes::copy_from_slice(bytes),
        }
    }

    fn martin() -> Author {
        Author::Operator(OperatorRef {
            id: "martin".into(),
            name: "Martin".into(),
            display_name: None,
            avatar_url: None,
        })
    }

    #[test]
    fn the_visitors_last_images_are_wanted_oldest_first() {
        let img = |id: &str| file(id, AttachmentKind::Image);
        let t = [
            with_files(1, Author::Visitor, "", vec![img("a"), img("b")]),
            with_files(
                2,
                Author::Visitor,
                "",
                vec![img("c"), file("p", AttachmentKind::Pdf)],
            ),
            // The team's images are theirs: a model reads images in `user` messages only.
            with_files(3, martin(), "label", vec![img("o")]),
            with_files(4, Author::Visitor, "", vec![img("d"), img("e")]),
        ];
        let ids: Vec<&str> = images_wanted(&t).iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "d", "e"]);
        assert!(images_wanted(&[msg(1, Author::Visitor, "hi")]).is_empty());
    }

    #[test]
    fn a_visitor_message_with_images_read_becomes_its_text_then_its_images() {
        let t = [
            with_files(
                1,
                Author::Visitor,
                "It arrived like this",
                vec![
                    file("a", AttachmentKind::Image),
                    file("p", AttachmentKind::Pdf),
                ],
            ),
            with_files(
                2,
                martin(),
                "Sorry!",
                vec![file("o", AttachmentKind::Image)],
            ),
            msg(3, Author::Visitor, "Well?"),
        ];
        let m = vision_messages("Be nice.", &t, &[read("a", b"\x89PNG"), read("o", b"x")]);
        assert_eq!(m[0].content, Content::Text("Be nice.".into()));
        assert_eq!(m[1].role, "user");
        assert_eq!(
            m[1].content,
            Content::Parts(vec![
                ContentPart::Text {
                    text: "It arrived like this [Attached: a.png (image), p.pdf (PDF)]".into()
                },
                ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: "data:image/png;base64,iVBORw==".into(),
                        detail: "low"
                    }
                },
            ])
        );
        // The wire form is the chat-completions one.
        assert_eq!(
            serde_json::to_value(&m[1]).expect("json"),
            serde_json::json!({"role": "user", "content": [
                {"type": "text", "text": "It arrived like this [Attached: a.png (image), p.pdf (PDF)]"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw==", "detail": "low"}}
            ]})
        );
        // A teammate's turn is text whatever was read; so is a message without images.
        assert_eq!(
            m[2].content,
            Content::Text("[Human teammate Martin]: Sorry! [Attached: o.png (image)]".into())
        );
        assert_eq!(
            serde_json::to_value(&m[3]).expect("json"),
            serde_json::json!({"role": "user", "content": "Well?"})
        );
    }

    #[test]
    fn an_image_not_read_or_too_large_stays_its_note() {
        let t = [with_files(
            1,
            Author::Visitor,
            "",
            vec![file("a", AttachmentKind::Image)],
        )];
        let note = Content::Text("[Attached: a.png (image)]".into());
        assert_eq!(vision_messages("", &t, &[])[0].content, note);
        let huge = read("a", &vec![0; MAX_IMAGE_BYTES + 1]);
        assert_eq!(vision_messages("", &t, &[huge])[0].content, note);
        // Without images the messages are exactly the text ones.
        let text = chat_messages("", &t);
        assert_eq!(text[0].content, "[Attached: a.png (image)]");
    }

    /// When nobody was available the model keeps helping, and learns an address was left,
    /// never the address itself.
    #[test]
    fn nobody_available_is_told_to_the_model_without_the_address() {
        let t = [
            msg(1, Author::Visitor, "Anyone there?"),
            ev(
                2,
                EventKind::OutsideHours {
                    by: protocol::HumanRequestedBy::Visitor,
                    opens_at: Some(9),
                },
            ),
            ev(
                3,
                EventKind::FollowUpEmail {
                    email: "ana@example.com".into(),
                },
            ),
        ];
        let m = chat_messages("", &t);
        assert_eq!(m[1].role, "system");
        assert!(
            m[1].content.contains("outside working hours"),
            "{}",
            m[1].content
        );
        assert!(
            m[2].content.contains("left an email address"),
            "{}",
            m[2].content
        );
        assert!(m.iter().all(|c| !c.content.contains("ana@example.com")));
    }
}
