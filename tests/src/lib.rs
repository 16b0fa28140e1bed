//! System test harness: several `hub` processes on one real `redis-server`, a real nginx in
//! front of them, and WebSocket clients that talk to either.
//!
//! - [`cluster`]: starts and kills the processes (each on a free port, in a per-test directory);
//! - [`client`]: a WebSocket client that knows which node it landed on, operator tokens, and the
//!   visitor and operator handshakes;
//! - [`participant`]: a client that keeps its own view of a conversation, reconnects through
//!   nginx with backoff, resumes by sequence number and re-sends what was not acknowledged, as
//!   the widget and the dashboard do.
//! - [`prometheus`]: a real Prometheus scraping the nodes, and PromQL over its HTTP API.

pub mod client;
pub mod cluster;
pub mod participant;
pub mod prometheus;

use std::time::Duration;

pub use client::{Client, Incoming, Visitor, http, operator_token, operator_token_as};
pub use cluster::{Cluster, Node, Redis};
pub use participant::{Flow, Participant, Role, View, check};

/// Upper bound on waiting for one frame: a failure guard, never a synchronisation.
pub const WAIT: Duration = Duration::from_secs(10);

/// The demo workspace of `--dev` (Pro plan: Take Control is allowed).
pub const WORKSPACE: &str = "demo-pro";
