//! Configuration: every setting is a flag and an environment variable (`TC_*`).
//! The README's configuration table lists them; keep the two in step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(name = "hub", version, about = "Take Control realtime hub")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a token for a demo operator (`--dev` only), e.g. `hub --dev dev-token martin`.
    DevToken {
        /// Demo operator id: olivia (owner), eddie (editor), martin, nora (operators), bob (basic plan).
        operator: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublicKeyAlg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

#[derive(Debug, Clone, Parser)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port; the bound address is printed).
    #[arg(long, env = "TC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Redis to share among nodes; unset, the hub is one node on in-memory backends. Its
    /// scheme picks the topology: `redis://host:6379/` (one primary),
    /// `redis+sentinel://host:26379,host:26379/master-name` (the primary the sentinels name,
    /// followed through failovers), `redis+cluster://host:7000,host:7001` (Redis Cluster seed
    /// nodes; sharded pub/sub).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// How long Redis keeps a conversation (meta, history, dedupe keys) after its last
    /// activity, seconds.
    #[arg(long, env = "TC_REDIS_RETENTION_SECS", default_value_t = 30 * 24 * 3600)]
    pub redis_retention_secs: u64,

    /// After each message, takeover and release, wait until this many replicas have the write
    /// before acknowledging it (`WAIT`, in the same round trip). Redis replicates
    /// asynchronously: with 0, a write acknowledged just before its primary dies can be lost
    /// when a replica takes over. A write not replicated in time is answered `unavailable`
    /// (retryable; a re-sent message is deduplicated). docs/deployment.md has the cost.
    #[arg(long, env = "TC_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// How long a write may wait for `--redis-wait-replicas`, milliseconds.
    #[arg(long, env = "TC_REDIS_WAIT_TIMEOUT_MS", default_value_t = 500)]
    pub redis_wait_timeout_ms: u64,

    /// Prefix of every Redis key and channel the hub uses (no braces: each workspace's keys
    /// carry the workspace as their Redis Cluster hash tag).
    #[arg(long, env = "TC_REDIS_PREFIX", default_value = "tc:")]
    pub redis_prefix: String,

    /// If set, `GET /metrics` needs `Authorization: Bearer <token>`.
    #[arg(long, env = "TC_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Log format on stderr: `text` for people, `json` (one object per line) for collectors.
    #[arg(long, env = "TC_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Threads running the node's connections; unset: one per core. Several nodes sharing a
    /// machine do better with fewer each (threads beyond the cores only wake each other).
    #[arg(long, env = "TC_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,

    /// Demo workspaces and operators, the dev login endpoint. Never in production.
    #[arg(long, env = "TC_DEV")]
    pub dev: bool,

    /// Directory of the built dashboard (web-ui/dist), served at `/`.
    #[arg(long, env = "TC_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// HS256 secret that signs operator tokens.
    #[arg(long, env = "TC_OPERATOR_JWT_SECRET", hide_env_values = true)]
    pub operator_jwt_secret: Option<String>,

    /// PEM public key that verifies operator tokens (instead of a secret).
    #[arg(long, env = "TC_OPERATOR_JWT_PUBLIC_KEY")]
    pub operator_jwt_public_key: Option<PathBuf>,

    /// Key ring for rotation: a JSON array of `{"kid", "alg", "secret" | "pem"}`; each operator
    /// token names its key in the `kid` header. Instead of a single secret or public key.
    #[arg(long, env = "TC_OPERATOR_JWT_KEYS")]
    pub operator_jwt_keys: Option<PathBuf>,

    /// Algorithm of `--operator-jwt-public-key`.
    #[arg(long, env = "TC_OPERATOR_JWT_ALG", value_enum, default_value = "RS256")]
    pub operator_jwt_alg: PublicKeyAlg,

    /// Required `iss` of operator tokens, if set.
    #[arg(long, env = "TC_OPERATOR_JWT_ISSUER")]
    pub operator_jwt_issuer: Option<String>,

    /// Secret that signs visitor tokens. Random at start when unset (visitors then cannot
    /// resume across a restart); set it, and share it between nodes.
    #[arg(long, env = "TC_VISITOR_TOKEN_SECRET", hide_env_values = true)]
    pub visitor_token_secret: Option<String>,

    /// Lifetime of a visitor token, seconds.
    #[arg(long, env = "TC_VISITOR_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub visitor_token_ttl_secs: u64,

    /// Workspaces file: JSON array of `{id, name, plan}`.
    #[arg(long, env = "TC_WORKSPACES")]
    pub workspaces: Option<PathBuf>,

    /// Knowledge file of the embedded assistant: JSON array of `{question, keywords, answer}`.
    #[arg(long, env = "TC_KNOWLEDGE")]
    pub knowledge: Option<PathBuf>,

    /// The embedded assistant's "thinking" pause before it answers, milliseconds.
    #[arg(long, env = "TC_ASSISTANT_DELAY_MS", default_value_t = 800)]
    pub assistant_delay_ms: u64,

    /// A reply that takes longer than this is abandoned and the visitor gets a short fallback
    /// message, milliseconds.
    #[arg(long, env = "TC_ASSISTANT_TIMEOUT_MS", default_value_t = 30_000)]
    pub assistant_timeout_ms: u64,

    /// How long the assistant may take over a brief (at a request for a human or a takeover) or
    /// a suggestion for the holder, milliseconds; then "no brief" (the takeover never waits).
    #[arg(long, env = "TC_BRIEF_TIMEOUT_MS", default_value_t = 20_000)]
    pub brief_timeout_ms: u64,

    /// After a request for a human, how long to wait for a takeover before the visitor is told
    /// nobody is available and the AI carries on, milliseconds.
    #[arg(long, env = "TC_HUMAN_WAIT_MS", default_value_t = 120_000)]
    pub human_wait_ms: u64,

    /// The mail server for follow-up emails: `smtp://host:port` (add `?tls=required` for
    /// STARTTLS), `smtps://host:port` (TLS), with `user:password@` for a login. Unset: no
    /// emails (visitors are not asked for an address).
    #[arg(long, env = "TC_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of follow-up emails (`support@shop.example`); the name shown is the
    /// workspace's.
    #[arg(long, env = "TC_SMTP_FROM", default_value = "noreply@localhost")]
    pub smtp_from: String,

    /// How long one SMTP delivery may take, milliseconds; a claim on an email lasts twice
    /// as long.
    #[arg(long, env = "TC_SMTP_TIMEOUT_MS", default_value_t = 20_000)]
    pub smtp_timeout_ms: u64,

    /// How long after an operator's answer its email goes, milliseconds: what they write
    /// meanwhile goes in the same email.
    #[arg(long, env = "TC_FOLLOW_UP_DELAY_MS", default_value_t = 60_000)]
    pub follow_up_delay_ms: u64,

    /// The wait before the first retry of an email that failed, milliseconds; it doubles
    /// with each failure, up to an hour.
    #[arg(long, env = "TC_SMTP_RETRY_MS", default_value_t = 30_000)]
    pub smtp_retry_ms: u64,

    /// Tries of one email before it is given up (a refusal by the server gives up at once).
    #[arg(long, env = "TC_SMTP_ATTEMPTS", default_value_t = 6)]
    pub smtp_attempts: u32,

    /// WebSocket connections per second one client IP may open on a node, sustained
    /// (`0`: unlimited). Beyond, the upgrade is answered `429` with `Retry-After`.
    #[arg(long, env = "TC_CONNECT_RATE", default_value_t = 5.0)]
    pub connect_rate: f64,

    /// Connections one client IP may open at once before the rate applies.
    #[arg(long, env = "TC_CONNECT_BURST", default_value_t = 60)]
    pub connect_burst: u32,

    /// The header carrying the client's IP when the hub sits behind a proxy that sets it
    /// (e.g. `X-Real-IP`); unset: the TCP peer address. Only set it behind such a proxy.
    #[arg(long, env = "TC_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,

    /// Visitor messages per second one workspace may receive on a node, sustained (`0`:
    /// unlimited): a flood aimed at one customer cannot starve the others.
    #[arg(long, env = "TC_WORKSPACE_MESSAGE_RATE", default_value_t = 500.0)]
    pub workspace_message_rate: f64,

    /// Visitor messages one workspace may receive at once before its rate applies.
    #[arg(long, env = "TC_WORKSPACE_MESSAGE_BURST", default_value_t = 2000)]
    pub workspace_message_burst: u32,

    /// Largest text frame accepted, bytes.
    #[arg(long, env = "TC_MAX_FRAME_BYTES", default_value_t = protocol::limits::MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,

    /// Longest message text, characters.
    #[arg(long, env = "TC_MAX_MESSAGE_CHARS", default_value_t = protocol::limits::MAX_MESSAGE_CHARS)]
    pub max_message_chars: usize,

    /// Outbound queue per connection, frames. A client that falls this far behind is closed
    /// with `too_slow` (4005) and resumes on reconnect.
    #[arg(long, env = "TC_OUTBOUND_QUEUE", default_value_t = 256)]
    pub outbound_queue: usize,

    /// Chat messages a connection may send per second, sustained (0: unlimited). Over the
    /// limit a message is refused with `rate_limited` and `retry_after_ms`; the client re-sends
    /// it with the same client id.
    #[arg(long, env = "TC_MESSAGE_RATE", default_value_t = 2.0)]
    pub message_rate: f64,

    /// Chat messages a connection may send at once before the rate applies.
    #[arg(long, env = "TC_MESSAGE_BURST", default_value_t = 20)]
    pub message_burst: u32,

    /// Typing frames a connection may send per second, sustained (0: unlimited).
    #[arg(long, env = "TC_TYPING_RATE", default_value_t = 2.0)]
    pub typing_rate: f64,

    /// Typing frames a connection may send at once.
    #[arg(long, env = "TC_TYPING_BURST", default_value_t = 10)]
    pub typing_burst: u32,

    /// Time a client has to send a request's header, from its connection's first byte (or, on
    /// a kept-alive connection, from the previous answer), milliseconds; then the connection
    /// is closed.
    #[arg(long, env = "TC_HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub http_header_timeout_ms: u64,

    /// Time a client has to send a request's body, from the end of its header, milliseconds;
    /// then `408 request_timeout` and the connection is closed.
    #[arg(long, env = "TC_HTTP_BODY_TIMEOUT_MS", default_value_t = 60_000)]
    pub http_body_timeout_ms: u64,

    /// HTTP connections one client IP may hold before their request is answered or their
    /// WebSocket upgraded (`0`: unlimited); beyond, new ones get `429` and are closed. Counted
    /// by TCP peer, so not applied with `--client-ip-header` (the proxy bounds its clients).
    #[arg(long, env = "TC_HTTP_PENDING_PER_IP", default_value_t = 256)]
    pub http_pending_per_ip: usize,

    /// Where attachments are stored: a directory (created if missing), `file:///abs/dir`,
    /// `s3://bucket[/prefix]` (credentials, region and endpoint from the `AWS_*` environment
    /// variables: docs/deployment.md), or `memory:` (lost at exit). Nodes behind one load
    /// balancer share one bucket.
    #[arg(long, env = "TC_FILE_STORE", default_value = "data/files")]
    pub file_store: String,

    /// Largest attachment, bytes.
    #[arg(long, env = "TC_FILE_MAX_BYTES", default_value_t = protocol::limits::MAX_FILE_BYTES)]
    pub file_max_bytes: usize,

    /// Most files one message or note carries.
    #[arg(long, env = "TC_FILES_PER_MESSAGE", default_value_t = protocol::limits::MAX_ATTACHMENTS_PER_MESSAGE)]
    pub files_per_message: usize,

    /// Most files one conversation holds.
    #[arg(long, env = "TC_FILES_PER_CONVERSATION", default_value_t = protocol::limits::MAX_FILES_PER_CONVERSATION)]
    pub files_per_conversation: usize,

    /// How long a signed file link works, seconds.
    #[arg(long, env = "TC_FILE_LINK_TTL_SECS", default_value_t = 300)]
    pub file_link_ttl_secs: u64,

    /// How often a node deletes the files of conversations that are gone, seconds (0: never).
    #[arg(long, env = "TC_FILE_SWEEP_SECS", default_value_t = 3600)]
    pub file_sweep_secs: u64,

    /// Avatar uploads a node decodes at once, on the blocking pool; more wait their turn.
    #[arg(long, env = "TC_AVATAR_DECODES", default_value_t = 2)]
    pub avatar_decodes: usize,

    /// Time a new socket has to send `hello`, milliseconds.
    #[arg(long, env = "TC_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,

    /// Interval of server pings, milliseconds.
    #[arg(long, env = "TC_HEARTBEAT_MS", default_value_t = 25_000)]
    pub heartbeat_ms: u64,

    /// A socket that sends nothing (not even a pong) for this long is closed (4006), ms.
    #[arg(long, env = "TC_IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,

    /// A conversation leaves the Online list after this long without activity once its
    /// visitor has gone, seconds.
    #[arg(long, env = "TC_CONVERSATION_IDLE_SECS", default_value_t = 1800)]
    pub conversation_idle_secs: u64,

    /// How often the Online list is swept for idle conversations, milliseconds.
    #[arg(long, env = "TC_SWEEP_INTERVAL_MS", default_value_t = 10_000)]
    pub sweep_interval_ms: u64,

    /// When every connection of the operator holding a conversation has been gone this long,
    /// control returns to the AI (reason `disconnected`), milliseconds.
    #[arg(long, env = "TC_HOLDER_GRACE_MS", default_value_t = 60_000)]
    pub holder_grace_ms: u64,

    /// When the holder has not acted on a conversation this long, control returns to the AI
    /// (reason `idle`), milliseconds.
    #[arg(long, env = "TC_HOLDER_IDLE_MS", default_value_t = 900_000)]
    pub holder_idle_ms: u64,

    /// How long before an idle release the holder is warned, milliseconds.
    #[arg(long, env = "TC_HOLDER_WARN_MS", default_value_t = 60_000)]
    pub holder_warn_ms: u64,

    /// On shutdown, how long to wait for sessions and replies to finish, milliseconds.
    #[arg(long, env = "TC_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
}

impl Config {
    /// Defaults for embedding and tests: a free port, no assistant delay, dev data.
    pub fn for_tests() -> Self {
        let mut c = Cli::parse_from(["hub"]).config;
        c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        c.dev = true;
        c.assistant_delay_ms = 0;
        // Tests drive traffic far above a person's pace; the rate-limit tests turn limits on.
        c.message_rate = 0.0;
        c.typing_rate = 0.0;
        c.connect_rate = 0.0;
        c.workspace_message_rate = 0.0;
        // Tests open hundreds of sockets at once from one address; the limit tests turn it on.
        c.http_pending_per_ip = 0;
        c.file_store = "memory:".into();
        c
    }

    pub fn http_header_timeout(&self) -> Duration {
        Duration::from_millis(self.http_header_timeout_ms.max(1))
    }

    pub fn http_body_timeout(&self) -> Duration {
        Duration::from_millis(self.http_body_timeout_ms.max(1))
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(1))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.max(1))
    }

    pub fn hold_limits(&self) -> crate::control::HoldLimits {
        crate::control::HoldLimits {
            grace_ms: self.holder_grace_ms,
            idle_ms: self.holder_idle_ms,
            warn_ms: self.holder_warn_ms,
        }
    }

    /// How often a node refreshes presence, checks holdings and expires requests for a human:
    /// well inside the grace and the human wait, so neither runs late by more than a fraction.
    pub fn housekeeping_interval(&self) -> Duration {
        let tightest = (self.holder_grace_ms / 3).min(self.human_wait_ms / 4);
        Duration::from_millis(tightest.clamp(10, self.sweep_interval_ms.max(10)))
    }

    pub fn decode_limits(&self) -> protocol::decode::Limits {
        protocol::decode::Limits {
            max_frame_bytes: self.max_frame_bytes,
            max_message_chars: self.max_message_chars,
            max_attachments: self.files_per_message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn housekeeping_keeps_up_with_the_grace_and_the_human_wait() {
        let mut c = Config::for_tests();
        c.holder_grace_ms = 60_000;
        c.sweep_interval_ms = 10_000;
        c.human_wait_ms = 120_000;
        assert_eq!(
            c.housekeeping_interval(),
            Duration::from_secs(10),
            "the sweep caps it"
        );
        c.human_wait_ms = 2_000;
        assert_eq!(c.housekeeping_interval(), Duration::from_millis(500));
        c.holder_grace_ms = 900;
        assert_eq!(c.housekeeping_interval(), Duration::from_millis(300));
        c.holder_grace_ms = 0;
        assert_eq!(
            c.housekeeping_interval(),
            Duration::from_millis(10),
            "never a busy loop"
        );
    }
}
