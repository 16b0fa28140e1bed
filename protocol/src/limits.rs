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
/// Most combining marks a display name may stack on one character: enough for Vietnamese,
/// Hebrew with points or Thai (two or three), far below "Zalgo" text, whose stacked marks draw
/// over the lines above and below.
pub const MAX_MARKS_PER_CHARACTER: usize = 4;
/// Smallest avatar side, in pixels.
pub const MIN_AVATAR_SIDE: u32 = 150;
/// Largest avatar side the hub decodes, in pixels (a 4,096² RGBA image is 64 MiB decoded).
pub const MAX_AVATAR_SIDE: u32 = 4096;
/// Largest avatar upload, in bytes.
pub const MAX_AVATAR_BYTES: usize = 5 * 1024 * 1024;
/// Side of the stored avatar, in pixels: every upload is re-encoded to this.
pub const AVATAR_SIDE: u32 = 256;

/// Rows of an Online view when `subscribe_online` names no `limit`.
pub const ONLINE_WINDOW: u32 = 50;
/// Most rows one Online view may ask for: a window is what a dashboard shows, not the list.
pub const MAX_ONLINE_WINDOW: u32 = 200;
/// Longest Online view query (Unicode scalar values).
pub const MAX_ONLINE_QUERY_CHARS: usize = 100;

/// Internal notes kept per conversation; more are refused with `limit_reached`.
pub const MAX_NOTES: usize = 500;

/// The most rows a `follow_ups` answer carries (the longest waiting first).
pub const MAX_FOLLOW_UPS: usize = 200;
/// Longest page URL or referrer a widget may report (Unicode scalar values).
pub const MAX_URL_CHARS: usize = 2048;
/// Longest page title a widget may report.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest language tag a widget may report.
pub const MAX_LANGUAGE_CHARS: usize = 35;
/// Longest time zone name a widget may report.
pub const MAX_TIME_ZONE_CHARS: usize = 64;
/// Longest part of a brief (what the visitor wants, what the AI answered, why a human was asked
/// for), in characters: a brief is read at a glance, and a backend's longer text is cut.
pub const MAX_BRIEF_PART_CHARS: usize = 600;
/// Longest search query (Unicode scalar values).
pub const MAX_QUERY_CHARS: usize = 200;
/// Conversations per `recent` page.
pub const RECENT_PAGE: usize = 25;
/// Most conversations a search answers with.
pub const SEARCH_RESULTS: usize = 50;
/// Saved replies kept per workspace.
pub const MAX_CANNED_REPLIES: usize = 500;
/// Longest saved reply title (Unicode scalar values).
pub const MAX_CANNED_TITLE_CHARS: usize = 80;
/// Longest saved reply shortcut: lowercase letters, digits, `-` and `_`.
pub const MAX_SHORTCUT_CHARS: usize = 32;

/// Largest file a message may carry, in bytes (the hub's default; `--file-max-bytes`).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Most files one message (or note) carries (the hub's default; `--files-per-message`).
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 5;
/// Most files one conversation holds (the hub's default; `--files-per-conversation`).
pub const MAX_FILES_PER_CONVERSATION: usize = 50;
/// Longest file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 120;
/// Longest side of an attached image, in pixels, and its most pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;
pub const MAX_IMAGE_PIXELS: u64 = 25_000_000;
/// Longest side of an image's thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
