//! The Take Control hub: lets a human operator take a live conversation over from the AI
//! assistant, answer the visitor, and hand it back.
//!
//! Where each concern lives:
//! - [`control`]: the control rules (pure);
//! - [`store`], [`bus`]: the backends, as traits with in-memory implementations;
//! - [`node`]: turns client actions into store steps and bus messages, and bus messages into
//!   deliveries; runs the assistant;
//! - [`drafts`]: the node's AI fence (no AI draft or typing after a takeover it delivered) and
//!   the drafts it assembles from their pieces;
//! - [`online`]: the Online list as views (pure): what each dashboard's window is sent;
//! - [`registry`]: this node's connections and their bounded outbound queues;
//! - [`session`]: one task per socket (generic over the transport);
//! - [`server`]: the HTTP edge (wiring, route table, WebSocket upgrade, accept loop);
//!   [`config`]: flags and environment; [`auth`]: tokens;
//! - [`profile`]: operator display names and avatars (pure); [`images`]: untrusted images,
//!   decoded within bounds (pure); [`files`]: attachments (vetting, the object store, signed
//!   links); [`api`]: their HTTP API;
//! - [`assistant`]: the assistant trait and the embedded knowledge-file assistant;
//! - [`dev`]: demo data for `--dev`, and its routes.

pub mod api;
pub mod assistant;
pub mod auth;
pub mod bus;
pub mod config;
pub mod control;
pub mod dev;
pub mod directory;
pub mod drafts;
pub mod files;
pub mod hours;
pub mod images;
pub mod mail;
pub mod metrics;
pub mod node;
pub mod online;
pub mod profile;
pub mod ratelimit;
pub mod registry;
pub mod server;
pub mod session;
pub mod store;
pub mod topology;
pub mod util;

pub use config::Config;
pub use node::Hub;
