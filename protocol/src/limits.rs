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

/// A display name must be shorter than 50 characters as a person counts them (grapheme clusters).
pub const MAX_DISPLAY_NAME_GRAPHEMES: usize = 49;
/// Smallest avatar side, in pixels.
pub const MIN_AVATAR_SIDE: u32 = 150;
/// Largest avatar side the hub decodes, in pixels (a 4,096² RGBA image is 64 MiB decoded).
pub const MAX_AVATAR_SIDE: u32 = 4096;
/// Largest avatar upload, in bytes.
pub const MAX_AVATAR_BYTES: usize = 5 * 1024 * 1024;
/// Side of the stored avatar, in pixels: every upload is re-encoded to this.
pub const AVATAR_SIDE: u32 = 256;
