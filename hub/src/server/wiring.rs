//! The composition root: a configuration becomes a [`Hub`] (its store and bus, Redis or in
//! memory; its directory of workspaces; the operator and visitor token verifiers; each
//! workspace's assistant). Nothing here serves a request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::assistant::Assistant;
use crate::assistant::knowledge::KnowledgeAssistant;
use crate::auth::{OperatorKey, OperatorVerifier, VisitorTokens};
use crate::bus::Bus;
use crate::bus::memory::MemoryBus;
use crate::bus::redis::RedisBus;
use crate::config::{Config, PublicKeyAlg};
use crate::directory::Directory;
use crate::node::{Hub, Parts};
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::topology::Topology;

/// Capacity of the node's bus inbox.
const INBOX: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot connect to Redis: {0}")]
    Redis(String),
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, StartError> {
    std::fs::read(path).map_err(|source| StartError::Read {
        path: path.clone(),
        source,
    })
}

/// Build a hub from its configuration: Redis backends when `--redis-url` is set, else the
/// embedded in-memory ones.
pub async fn build(
    config: Config,
    assistant: Option<Arc<dyn Assistant>>,
) -> Result<Hub, StartError> {
    let mut directory = match &config.workspaces {
        Some(path) => {
            let json = String::from_utf8_lossy(&read_file(path)?).into_owned();
            Directory::from_json(&json).map_err(|e| StartError::Invalid(e.to_string()))?
        }
        None => Directory::default(),
    };
    if config.dev {
        crate::dev::add_demo_workspaces(&mut directory);
    }
    let operators = operator_verifier(&config)?;
    let visitor_secret = match &config.visitor_token_secret {
        Some(s) => s.clone().into_bytes(),
        None => {
            if !config.dev {
                warn!("no --visitor-token-secret: visitors cannot resume after a restart");
            }
            crate::util::random_id("vts_").into_bytes()
        }
    };
    let visitors = VisitorTokens::new(&visitor_secret, config.visitor_token_ttl_secs);
    // File links are signed with a key derived from the same shared secret: every node
    // serves a link any node gave.
    let links = crate::files::LinkSigner::new(&visitor_secret);
    let files = crate::files::FileStore::open(&config.file_store)
        .map_err(|e| StartError::Invalid(format!("--file-store {}: {e}", config.file_store)))?;
    let mailer = match &config.smtp_url {
        Some(url) => Some(
            crate::mail::Mailer::new(
                url,
                &config.smtp_from,
                std::time::Duration::from_millis(config.smtp_timeout_ms),
            )
            .map_err(StartError::Invalid)?,
        ),
        None => None,
    };
    let assistant: Arc<dyn Assistant> = match assistant {
        Some(a) => a,
        None => assistants(&config, &directory)?,
    };
    let (store, bus, inbox): (Arc<dyn Store>, Arc<dyn Bus>, _) = match &config.redis_url {
        Some(url) => {
            let topology = Topology::parse(url).map_err(|e| StartError::Invalid(e.to_string()))?;
            // The store runs on the bus's connection (`bus::redis` says why).
            let (bus, inbox) = RedisBus::connect(&topology, config.redis_prefix.clone(), INBOX)
                .await
                .map_err(|crate::bus::BusError::Unavailable(e)| StartError::Redis(e))?;
            let store = RedisStore::new(
                bus.connection(),
                config.redis_prefix.clone(),
                config.redis_retention_secs,
            )
            .map_err(|e| StartError::Invalid(e.to_string()))?
            .wait_for_replicas(config.redis_wait_replicas, config.redis_wait_timeout_ms);
            (Arc::new(store), Arc::new(bus), inbox)
        }
        None => {
            let (bus, inbox) = MemoryBus::new();
            (Arc::new(MemoryStore::new()), Arc::new(bus), inbox)
        }
    };
    Ok(Hub::new(Parts {
        config,
        store,
        bus,
        inbox,
        directory,
        operators,
        visitors,
        assistant,
        files,
        links,
        mailer,
    }))
}

/// The assistant of each workspace: its own backend from the workspaces file, else the
/// knowledge-file assistant (`--knowledge`, or the built-in demo).
fn assistants(config: &Config, directory: &Directory) -> Result<Arc<dyn Assistant>, StartError> {
    use crate::assistant::openai::OpenAiAssistant;
    use crate::assistant::webhook::WebhookAssistant;
    use crate::directory::AssistantConfig;

    let delay = Duration::from_millis(config.assistant_delay_ms);
    let knowledge = |path: &PathBuf| -> Result<Arc<dyn Assistant>, StartError> {
        let json = String::from_utf8_lossy(&read_file(path)?).into_owned();
        Ok(Arc::new(
            KnowledgeAssistant::from_json(&json, delay)
                .map_err(|e| StartError::Invalid(e.to_string()))?,
        ))
    };
    // Secrets come from the environment, named in the file; a missing one stops the start
    // rather than failing every visitor later.
    let env = |workspace: &str, name: &str| {
        std::env::var(name).map_err(|_| {
            StartError::Invalid(format!(
                "workspace {workspace}: environment variable {name} is not set"
            ))
        })
    };
    let default = match &config.knowledge {
        Some(path) => knowledge(path)?,
        None => Arc::new(KnowledgeAssistant::demo(delay)),
    };
    let mut by_workspace = std::collections::HashMap::new();
    for (workspace, backend) in directory.assistants() {
        let invalid = |e: crate::assistant::AssistantError| {
            StartError::Invalid(format!("workspace {workspace}: {e}"))
        };
        let a: Arc<dyn Assistant> = match backend {
            AssistantConfig::Knowledge { file } => knowledge(file)?,
            AssistantConfig::Openai(c) => {
                let key = match &c.api_key_env {
                    Some(name) => Some(env(workspace, name)?),
                    None => None,
                };
                Arc::new(OpenAiAssistant::new(c.clone(), key).map_err(invalid)?)
            }
            AssistantConfig::Webhook(c) => {
                let secret = match (&c.secret_env, &c.secret_file) {
                    (Some(name), None) => env(workspace, name)?.into_bytes(),
                    (None, Some(path)) => {
                        let mut s = read_file(path)?;
                        // A trailing newline of the file is not part of the secret.
                        while s.last().is_some_and(u8::is_ascii_whitespace) {
                            s.pop();
                        }
                        s
                    }
                    _ => {
                        return Err(StartError::Invalid(format!(
                            "workspace {workspace}: the webhook needs secret_env or secret_file"
                        )));
                    }
                };
                Arc::new(WebhookAssistant::new(c.clone(), secret).map_err(invalid)?)
            }
        };
        by_workspace.insert(workspace.to_owned(), a);
    }
    if by_workspace.is_empty() {
        return Ok(default);
    }
    Ok(Arc::new(crate::assistant::Assistants {
        default,
        by_workspace,
    }))
}

/// The operator token verifier the configuration asks for.
pub fn operator_verifier(config: &Config) -> Result<OperatorVerifier, StartError> {
    if let Some(path) = &config.operator_jwt_keys {
        if config.operator_jwt_secret.is_some() || config.operator_jwt_public_key.is_some() {
            return Err(StartError::Invalid(
                "set --operator-jwt-keys or a single key, not both".into(),
            ));
        }
        let json = String::from_utf8_lossy(&read_file(path)?).into_owned();
        return OperatorVerifier::from_key_file(&json, config.operator_jwt_issuer.as_deref())
            .map_err(|e| StartError::Invalid(e.to_string()));
    }
    let key = match (&config.operator_jwt_secret, &config.operator_jwt_public_key) {
        (Some(_), Some(_)) => {
            return Err(StartError::Invalid(
                "set either --operator-jwt-secret or --operator-jwt-public-key, not both".into(),
            ));
        }
        (Some(secret), None) => OperatorKey::Hs256Secret(secret.clone().into_bytes()),
        (None, Some(path)) => match config.operator_jwt_alg {
            PublicKeyAlg::Rs256 => OperatorKey::RsaPem(read_file(path)?),
            PublicKeyAlg::Es256 => OperatorKey::EcPem(read_file(path)?),
        },
        (None, None) if config.dev => {
            OperatorKey::Hs256Secret(crate::dev::DEV_OPERATOR_SECRET.as_bytes().to_vec())
        }
        (None, None) => {
            return Err(StartError::Invalid(
                "no operator key: set --operator-jwt-secret or --operator-jwt-public-key (or use --dev)"
                    .into(),
            ));
        }
    };
    OperatorVerifier::new(key, config.operator_jwt_issuer.as_deref())
        .map_err(|e| StartError::Invalid(e.to_string()))
}
