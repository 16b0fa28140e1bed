//! Default limits. The hub can lower or raise them by configuration; these are what the
//! clients assume when they validate before sending.

/// Largest text frame the hub decodes, in bytes. Larger frames get `frame_too_large`.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest message text, in Unicode scalar values (what a JavaScript `[...text].length` counts).
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest client id (bytes). Client ids are the idempotency keys of sent messages.
pub const MAX_CLIENT_ID_BYTES: usize = 64;
/// Longest preview of a last message in the Online list (Unicode scalar values).
pub const PREVIEW_CHARS: usize = 120;
