//! How the hub reaches Redis: standalone, Sentinel or Cluster, chosen by the scheme of
//! `--redis-url`, behind one connection type that the store and the bus share.
//!
//! | URL | topology |
//! | --- | --- |
//! | `redis://host:6379/` | one primary (`rediss://` for TLS is not built in) |
//! | `redis+sentinel://[user:password@]host:26379[,host:port…]/master-name` | the primary that the sentinels name, followed through failovers |
//! | `redis+cluster://[user:password@]host:port[,host:port…]` | Redis Cluster from seed nodes; pub/sub is sharded (`SSUBSCRIBE`/`SPUBLISH`) |
//!
//! The credentials of the Sentinel form are the Redis servers' (sentinels are asked without).
//!
//! What each topology does when a primary dies:
//! - standalone: requests fail (`unavailable`, retryable) until it is back;
//! - Sentinel: requests fail until the sentinels promote a replica; the bus's heartbeat asks
//!   the sentinels every beat and moves the connection to the new primary ([`RedisConn::follow`]);
//! - Cluster: redis-rs retries a request through the election (MOVED, CLUSTERDOWN, TRYAGAIN)
//!   within [`REQUEST_BUDGET`], then it fails as `unavailable`; once a replica is promoted it
//!   reads the slot map again and resubscribes the sharded channels on their new owners
//!   (`store::redis` and `tests/tests/failover.rs` kill a master to show it).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, PushInfo, RedisFuture, RedisResult, Value,
};

/// How long a request may take in all, retries through a failover included, before the client
/// is told `unavailable`: a retryable answer within about the time a person notices.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(3);

/// Where Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One primary, at this URL.
    Standalone(String),
    /// The primary `master` as the sentinels at `sentinels` name it.
    Sentinel {
        sentinels: Vec<(String, u16)>,
        master: String,
        auth: Auth,
    },
    /// Redis Cluster, found from these seed nodes.
    Cluster {
        seeds: Vec<(String, u16)>,
        auth: Auth,
    },
}

/// Credentials for the Redis servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// A `--redis-url` the hub cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad Redis URL {url:?}: {why}")]
pub struct BadUrl {
    pub url: String,
    pub why: &'static str,
}

impl Topology {
    pub fn parse(url: &str) -> Result<Self, BadUrl> {
        let bad = |why| BadUrl {
            url: url.to_owned(),
            why,
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("expected scheme://…"));
        };
        let hosts_of = |rest: &str, default_port| -> Result<(Auth, Vec<(String, u16)>), BadUrl> {
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((userinfo, hosts)) => {
                    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
                    let auth = Auth {
                        username: some(user),
                        password: some(password),
                    };
                    (auth, hosts)
                }
                None => (Auth::default(), rest),
            };
            let mut out = Vec::new();
            for host in hosts.split(',').filter(|h| !h.is_empty()) {
                let (name, port) = match host.rsplit_once(':') {
                    Some((name, port)) => (
                        name,
                        port.parse::<u16>()
                            .map_err(|_| bad("a port is not a number"))?,
                    ),
                    None => (host, default_port),
                };
                if name.is_empty() {
                    return Err(bad("a host is empty"));
                }
                out.push((name.to_owned(), port));
            }
            if out.is_empty() {
                return Err(bad("no host"));
            }
            Ok((auth, out))
        };
        match scheme {
            "redis" | "rediss" | "unix" | "redis+unix" => Ok(Topology::Standalone(url.to_owned())),
            "redis+sentinel" => {
                let (hosts, master) = rest
                    .split_once('/')
                    .ok_or_else(|| bad("expected …/master-name"))?;
                let master = master.trim_end_matches('/');
                if master.is_empty() {
                    return Err(bad("expected …/master-name"));
                }
                let (auth, sentinels) = hosts_of(hosts, 26379)?;
                Ok(Topology::Sentinel {
                    sentinels,
                    master: master.to_owned(),
                    auth,
                })
            }
            "redis+cluster" => {
                let (auth, seeds) = hosts_of(rest.trim_end_matches('/'), 6379)?;
                Ok(Topology::Cluster { seeds, auth })
            }
            _ => Err(bad(
                "the scheme is none of redis, redis+sentinel, redis+cluster",
            )),
        }
    }
}

/// A connection to Redis in any topology: cheap to clone, shared by the store and the bus.
#[derive(Clone)]
pub enum RedisConn {
    Standalone(ConnectionManager),
    Sentinel(Arc<Followed>),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisConn::Standalone(_) => "RedisConn::Standalone",
            RedisConn::Sentinel(_) => "RedisConn::Sentinel",
            RedisConn::Cluster(_) => "RedisConn::Cluster",
        })
    }
}

/// The primary that the sentinels name, and the way to the next one.
pub struct Followed {
    current: RwLock<(ConnectionManager, ConnectionAddr)>,
    watch: tokio::sync::Mutex<Watch>,
    config: ConnectionManagerConfig,
}

/// How a node asks the sentinels, every heartbeat, who the primary is.
struct Watch {
    client: SentinelClient,
    master: String,
    /// A kept connection to one sentinel, for the heartbeat's question (dropped on an error,
    /// made again at the next).
    conn: Option<redis::aio::MultiplexedConnection>,
}

impl Watch {
    /// The primary's address as one sentinel names it, on the kept connection: one command,
    /// no new connection. `None` when no sentinel answered in time.
    async fn named(&mut self) -> Option<(String, u16)> {
        if self.conn.is_none() {
            let client = self.client.async_get_sentinel_client().await.ok()?;
            self.conn = client.get_multiplexed_async_connection().await.ok();
        }
        let conn = self.conn.as_mut()?;
        let mut ask = redis::cmd("SENTINEL");
        ask.arg("GET-MASTER-ADDR-BY-NAME").arg(&self.master);
        match tokio::time::timeout(Duration::from_millis(500), ask.query_async(conn)).await {
            Ok(Ok(Some(addr))) => Some(addr),
            _ => {
                self.conn = None;
                None
            }
        }
    }
}

impl std::fmt::Debug for Followed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("Followed")
            .field("primary", &current.1.to_string())
            .finish_non_exhaustive()
    }
}

/// A connection manager that fails a request within about a second when Redis is away
/// (clients get `unavailable` and retry) rather than holding it through a long backoff.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
}

/// Nagle's algorithm off. redis-rs leaves it on by default; with several requests in flight on
/// one multiplexed connection, a small write then waits for the ACK of the previous one, which
/// Redis delays up to 40 ms: the three-node benchmark showed a sixth of all store calls at
/// 25–100 ms and operators' queues overflowing behind them (docs/benchmarks.md).
fn tcp() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

/// A client for `info` speaking RESP3 (pushes share the connection with replies only in RESP3),
/// Nagle off.
fn client(info: impl IntoConnectionInfo) -> RedisResult<redis::Client> {
    let info = info.into_connection_info()?.set_tcp_settings(tcp());
    let redis = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(redis))
}

/// What the bus does with each push (pub/sub messages, disconnections): called in the
/// connection's own task, so it must not block.
pub type Pushes = Arc<dyn Fn(PushInfo) + Send + Sync>;

fn push_sender(pushes: Pushes) -> impl Fn(PushInfo) -> Result<(), std::convert::Infallible> {
    move |push| {
        pushes(push);
        Ok(())
    }
}

impl RedisConn {
    /// Connect to `topology`, handing every push to `pushes`.
    pub async fn connect(topology: &Topology, pushes: Pushes) -> RedisResult<Self> {
        match topology {
            Topology::Standalone(url) => {
                let config = manager_config()
                    .set_push_sender(push_sender(pushes.clone()))
                    .set_automatic_resubscription();
                let conn =
                    ConnectionManager::new_with_config(client(url.as_str())?, config).await?;
                Ok(RedisConn::Standalone(conn))
            }
            Topology::Sentinel {
                sentinels,
                master,
                auth,
            } => {
                let addrs = sentinels
                    .iter()
                    .map(|(host, port)| ConnectionAddr::Tcp(host.clone(), *port));
                let mut builder =
                    SentinelClientBuilder::new(addrs, master.clone(), SentinelServerType::Master)?
                        .set_client_to_redis_protocol(redis::ProtocolVersion::RESP3)
                        .set_client_to_redis_tcp_settings(tcp())
                        .set_client_to_sentinel_tcp_settings(tcp());
                if let Some(user) = &auth.username {
                    builder = builder.set_client_to_redis_username(user);
                }
                if let Some(password) = &auth.password {
                    builder = builder.set_client_to_redis_password(password);
                }
                let mut sentinel = builder.build()?;
                let config = manager_config()
                    .set_push_sender(push_sender(pushes.clone()))
                    .set_automatic_resubscription();
                let primary = sentinel.async_get_client().await?;
                let addr = primary.get_connection_info().addr().clone();
                let conn = ConnectionManager::new_with_config(
                    client(primary.get_connection_info().clone())?,
                    config.clone(),
                )
                .await?;
                Ok(RedisConn::Sentinel(Arc::new(Followed {
                    current: RwLock::new((conn, addr)),
                    watch: tokio::sync::Mutex::new(Watch {
                        client: sentinel,
                        master: master.clone(),
                        conn: None,
                    }),
                    config,
                })))
            }
            Topology::Cluster { seeds, auth } => {
                let nodes: Vec<redis::ConnectionInfo> = seeds
                    .iter()
                    .map(|(host, port)| {
                        ConnectionAddr::Tcp(host.clone(), *port).into_connection_info()
                    })
                    .collect::<RedisResult<_>>()?;
                let mut builder = redis::cluster::ClusterClient::builder(nodes)
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(push_sender(pushes.clone()))
                    .tcp_settings(tcp())
                    .connection_timeout(Duration::from_secs(1))
                    .response_timeout(Duration::from_secs(1))
                    .overall_response_timeout(Some(REQUEST_BUDGET))
                    .min_retry_wait(50)
                    .max_retry_wait(500);
                if let Some(user) = &auth.username {
                    builder = builder.username(user);
                }
                if let Some(password) = &auth.password {
                    builder = builder.password(password);
                }
                let conn = builder.build()?.get_async_connection().await?;
                Ok(RedisConn::Cluster(conn))
            }
        }
    }

    /// Redis Cluster: pub/sub is sharded, and every multi-key step stays in one slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConn::Cluster(_))
    }

    /// Answer a PING: on Cluster, every primary must.
    pub async fn ping(&self) -> RedisResult<()> {
        let mut conn = self.clone();
        let _: Value = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Subscribe to `channel` (sharded on Cluster).
    pub async fn subscribe(&self, channel: &str) -> RedisResult<()> {
        match self {
            RedisConn::Cluster(c) => c.clone().ssubscribe(channel).await,
            RedisConn::Standalone(m) => m.clone().subscribe(channel).await,
            RedisConn::Sentinel(f) => f.manager().subscribe(channel).await,
        }
    }

    pub async fn unsubscribe(&self, channel: &str) -> RedisResult<()> {
        match self {
            RedisConn::Cluster(c) => c.clone().sunsubscribe(channel).await,
            RedisConn::Standalone(m) => m.clone().unsubscribe(channel).await,
            RedisConn::Sentinel(f) => f.manager().unsubscribe(channel).await,
        }
    }

    /// Sentinel: ask the sentinels who the primary is and move there if it changed. `true`
    /// when it moved: the new connection has none of the old one's subscriptions, and what was
    /// published meanwhile is lost (the bus resubscribes and resyncs). The other topologies
    /// follow by themselves: `false`.
    pub async fn follow(&self) -> RedisResult<bool> {
        match self {
            RedisConn::Sentinel(f) => f.follow().await,
            RedisConn::Standalone(_) | RedisConn::Cluster(_) => Ok(false),
        }
    }
}

impl Followed {
    fn manager(&self) -> ConnectionManager {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    async fn follow(&self) -> RedisResult<bool> {
        // One question to the sentinels at a time; whoever waited finds the answer applied.
        let mut watch = self.watch.lock().await;
        let known = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone();
        // The heartbeat's usual case, the primary unchanged, costs one command on a kept
        // connection; only a change (or no answer) takes the full lookup, which connects to the
        // named primary to check its role.
        if let (Some((host, port)), ConnectionAddr::Tcp(known_host, known_port)) =
            (watch.named().await, &known)
            && host == *known_host
            && port == *known_port
        {
            return Ok(false);
        }
        let primary = watch.client.async_get_client().await?;
        let addr = primary.get_connection_info().addr().clone();
        if addr == known {
            return Ok(false);
        }
        let conn = ConnectionManager::new_with_config(
            client(primary.get_connection_info().clone())?,
            self.config.clone(),
        )
        .await?;
        tracing::warn!(primary = %addr, was = %known, "Redis primary moved: following it");
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (conn, addr);
        Ok(true)
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Standalone(m) => m.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
            RedisConn::Sentinel(f) => {
                let mut m = f.manager();
                Box::pin(async move { m.req_packed_command(cmd).await })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Standalone(m) => m.req_packed_commands(cmd, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            RedisConn::Sentinel(f) => {
                let mut m = f.manager();
                Box::pin(async move { m.req_packed_commands(cmd, offset, count).await })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Standalone(m) => m.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
            RedisConn::Sentinel(f) => f.manager().get_db(),
        }
    }
}

#[cfg(test)]
impl RedisConn {
    /// A connection to a test server's `url` (`testkit`) as the hub makes it (RESP3, Nagle
    /// off), pushes ignored, so that the store's and the bus's tests read replies as the hub
    /// reads them.
    pub(crate) async fn for_tests(url: &str) -> RedisConn {
        let topology = Topology::parse(url).expect("a test server's URL");
        RedisConn::connect(&topology, Arc::new(|_| {}))
            .await
            .expect("connect to the test Redis")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_connections_have_nagle_off_and_speak_resp3() {
        for url in [
            "redis://127.0.0.1:6390/",
            "redis://127.0.0.1:6390/?protocol=resp2",
        ] {
            let c = client(url).expect("a valid url");
            let info = c.get_connection_info();
            assert!(info.tcp_settings().nodelay(), "{url}");
            assert_eq!(
                info.redis_settings().protocol(),
                redis::ProtocolVersion::RESP3
            );
        }
    }

    /// The heartbeat asks the sentinels on a kept connection: following an unchanged primary
    /// opens no connection to it (the full lookup would, to check its role, every 250 ms).
    #[tokio::test]
    async fn following_an_unchanged_sentinel_primary_opens_no_connection() {
        let set = testkit::RedisSentinels::start().await;
        let conn = RedisConn::for_tests(&set.url()).await;
        let mut admin = set.primary.manager().await;
        let received = async |admin: &mut ConnectionManager| -> u64 {
            let info: String = redis::cmd("INFO")
                .arg("stats")
                .query_async(admin)
                .await
                .expect("info");
            info.lines()
                .find_map(|l| l.strip_prefix("total_connections_received:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("total_connections_received")
        };
        // The first question makes the kept connection (to a sentinel, not the primary).
        assert!(!conn.follow().await.expect("follow"));
        let before = received(&mut admin).await;
        for _ in 0..10 {
            assert!(!conn.follow().await.expect("follow"));
        }
        assert_eq!(received(&mut admin).await, before);
    }

    #[test]
    fn the_url_scheme_picks_the_topology() {
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379/"),
            Ok(Topology::Standalone("redis://127.0.0.1:6379/".into()))
        );
        assert_eq!(
            Topology::parse("redis+sentinel://s1:26379,s2/mymaster"),
            Ok(Topology::Sentinel {
                sentinels: vec![("s1".into(), 26379), ("s2".into(), 26379)],
                master: "mymaster".into(),
                auth: Auth::default(),
            })
        );
        assert_eq!(
            Topology::parse("redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001/"),
            Ok(Topology::Cluster {
                seeds: vec![("10.0.0.1".into(), 7000), ("10.0.0.2".into(), 7001)],
                auth: Auth {
                    username: None,
                    password: Some("secret".into()),
                },
            })
        );
        for bad in [
            "127.0.0.1:6379",
            "http://x",
            "redis+sentinel://s1:26379",
            "redis+sentinel://s1:26379/",
            "redis+cluster://",
            "redis+cluster://h:port",
            "redis+cluster://:7000",
        ] {
            assert!(Topology::parse(bad).is_err(), "{bad}");
        }
    }
}
