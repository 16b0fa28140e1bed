//! Everything that crosses a Take Control hub socket: frames, ids, limits and codes.
//!
//! This crate does no IO. The hub (`hub/`) and the TypeScript clients (`web-ui/`, whose types are
//! generated from these) both depend on it, so the wire format is defined exactly once.
//!
//! - [`frames`]: the JSON text frames, tagged by a `type` field, for both endpoints;
//! - [`codes`]: the table of error codes and close codes;
//! - [`draft`]: how an AI draft's pieces are cut and put together again;
//! - [`decode`]: size-checked, never-panicking decoding with a precise [`ErrorCode`] on failure;
//! - [`limits`]: the default limits a hub enforces;
//! - [`visible`]: whether a text shows anything (blank messages and names are refused);
//! - [`profile`]: the operator profile HTTP API's bodies and problem codes;
//! - [`canned`]: the saved replies HTTP API's bodies and rules;
//! - [`files`]: attachments, and the files HTTP API's bodies;
//! - [`follow_up`]: when nobody is available: the away text, follow-ups and their emails.

pub mod canned;
pub mod codes;
pub mod decode;
pub mod draft;
pub mod files;
pub mod follow_up;
pub mod frames;
pub mod limits;
pub mod profile;
pub mod typescript;
pub mod visible;

pub use codes::{CloseCode, ErrorCode};
pub use frames::*;

/// Version of the wire protocol; sent by clients in `hello` and echoed by the hub.
pub const PROTOCOL_VERSION: u32 = 1;
