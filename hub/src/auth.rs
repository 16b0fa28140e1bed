//! Tokens: operators' JWTs (signed by the team's backend) and visitors' tokens (signed by the hub).
//!
//! The two never pass for each other: they carry different audiences, and operator tokens are
//! checked with exactly one pinned algorithm and key. `exp` is always required.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use protocol::{ConversationId, ErrorCode, OperatorId, Role, WorkspaceId};
use serde::{Deserialize, Serialize};

pub const OPERATOR_AUDIENCE: &str = "take-control-operator";
pub const VISITOR_AUDIENCE: &str = "take-control-visitor";

/// Claims of an operator token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorClaims {
    /// Operator id.
    pub sub: OperatorId,
    /// Workspace id.
    pub ws: WorkspaceId,
    pub role: Role,
    /// Account name: shown to the team, and to visitors when the display name is empty.
    pub name: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// Claims of a visitor token: one conversation of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorClaims {
    pub sub: ConversationId,
    pub ws: WorkspaceId,
    pub exp: u64,
    pub aud: String,
    /// The visitor, across their conversations in the workspace (tokens issued before it
    /// existed name none: their conversation's id stands for the visitor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vid: Option<String>,
}

impl VisitorClaims {
    pub fn visitor_id(&self) -> &str {
        self.vid.as_deref().unwrap_or(&self.sub)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl AuthError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Expired => ErrorCode::TokenExpired,
            AuthError::Invalid(_) => ErrorCode::Unauthorized,
        }
    }
}

fn map_err(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".into()),
        ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
        ErrorKind::InvalidAlgorithm => AuthError::Invalid("algorithm not accepted".into()),
        ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
        ErrorKind::MissingRequiredClaim(c) => AuthError::Invalid(format!("missing claim `{c}`")),
        _ => AuthError::Invalid("malformed token".into()),
    }
}

/// How operator tokens are verified.
#[derive(Clone)]
pub struct OperatorVerifier {
    /// One key (no `kid` needed), or a key ring where each token names its key by `kid`.
    keys: Vec<VerifyingKey>,
    /// Only for `--dev`: the hub signs demo operators' tokens with the same HS256 secret.
    signer: Option<EncodingKey>,
}

#[derive(Clone)]
struct VerifyingKey {
    kid: Option<String>,
    key: DecodingKey,
    /// Pins this key's one algorithm.
    validation: Validation,
}

/// An entry of the operator key file (`--operator-jwt-keys`): `{"kid", "alg", "secret"}` for
/// HS256, `{"kid", "alg", "pem"}` for RS256/ES256 (the PEM text itself).
#[derive(Debug, Clone, Deserialize)]
pub struct KeyEntry {
    pub kid: String,
    pub alg: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub pem: Option<String>,
}

impl std::fmt::Debug for OperatorVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorVerifier")
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|k| (k.kid.clone(), k.validation.algorithms.clone()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Where the operator key comes from.
#[derive(Debug, Clone)]
pub enum OperatorKey {
    Hs256Secret(Vec<u8>),
    RsaPem(Vec<u8>),
    EcPem(Vec<u8>),
}

fn decoding_key(
    key: OperatorKey,
    issuer: Option<&str>,
) -> Result<(Algorithm, DecodingKey, Validation, Option<EncodingKey>), AuthError> {
    let bad = |e: jsonwebtoken::errors::Error| AuthError::Invalid(format!("bad key: {e}"));
    let (alg, key, signer) = match key {
        OperatorKey::Hs256Secret(s) => (
            Algorithm::HS256,
            DecodingKey::from_secret(&s),
            Some(EncodingKey::from_secret(&s)),
        ),
        OperatorKey::RsaPem(p) => (
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(&p).map_err(bad)?,
            None,
        ),
        OperatorKey::EcPem(p) => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(&p).map_err(bad)?,
            None,
        ),
    };
    // `Validation::new` pins the one algorithm; `exp` is required by default.
    let mut validation = Validation::new(alg);
    validation.set_audience(&[OPERATOR_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    if let Some(iss) = issuer {
        validation.set_issuer(&[iss]);
    }
    Ok((alg, key, validation, signer))
}

impl OperatorVerifier {
    pub fn new(key: OperatorKey, issuer: Option<&str>) -> Result<Self, AuthError> {
        let (_, key, validation, signer) = decoding_key(key, issuer)?;
        Ok(Self {
            keys: vec![VerifyingKey {
                kid: None,
                key,
                validation,
            }],
            signer,
        })
    }

    /// A key ring for rotation: each token's header names its key by `kid`, and each key
    /// accepts only its own algorithm.
    pub fn from_key_file(json: &str, issuer: Option<&str>) -> Result<Self, AuthError> {
        let entries: Vec<KeyEntry> = serde_json::from_str(json)
            .map_err(|e| AuthError::Invalid(format!("bad key file: {e}")))?;
        if entries.is_empty() {
            return Err(AuthError::Invalid("the key file lists no key".into()));
        }
        let mut keys = Vec::with_capacity(entries.len());
        for e in entries {
            let missing = |what: &str| AuthError::Invalid(format!("key {}: no {what}", e.kid));
            let key = match e.alg.as_str() {
                "HS256" => OperatorKey::Hs256Secret(
                    e.secret
                        .clone()
                        .ok_or_else(|| missing("secret"))?
                        .into_bytes(),
                ),
                "RS256" => {
                    OperatorKey::RsaPem(e.pem.clone().ok_or_else(|| missing("pem"))?.into_bytes())
                }
                "ES256" => {
                    OperatorKey::EcPem(e.pem.clone().ok_or_else(|| missing("pem"))?.into_bytes())
                }
                other => {
                    return Err(AuthError::Invalid(format!(
                        "key {}: algorithm {other} is not one of HS256, RS256, ES256",
                        e.kid
                    )));
                }
            };
            let (_, key, validation, _) = decoding_key(key, issuer)?;
            keys.push(VerifyingKey {
                kid: Some(e.kid),
                key,
                validation,
            });
        }
        Ok(Self { keys, signer: None })
    }

    pub fn verify(&self, token: &str) -> Result<OperatorClaims, AuthError> {
        let key = match self.keys.as_slice() {
            [only] if only.kid.is_none() => only,
            ring => {
                let header = jsonwebtoken::decode_header(token).map_err(map_err)?;
                let kid = header
                    .kid
                    .ok_or_else(|| AuthError::Invalid("token names no key (`kid`)".into()))?;
                ring.iter()
                    .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                    .ok_or_else(|| AuthError::Invalid(format!("unknown key `{kid}`")))?
            }
        };
        jsonwebtoken::decode::<OperatorClaims>(token, &key.key, &key.validation)
            .map(|d| d.claims)
            .map_err(map_err)
    }

    /// Sign an operator token (HS256 keys only; used by `--dev` and tests).
    pub fn sign(&self, claims: &OperatorClaims) -> Option<String> {
        let signer = self.signer.as_ref()?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, signer).ok()
    }
}

/// Signs and checks visitor tokens.
#[derive(Clone)]
pub struct VisitorTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl std::fmt::Debug for VisitorTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorTokens")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl VisitorTokens {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[VISITOR_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    pub fn issue(
        &self,
        conversation_id: &str,
        workspace_id: &str,
        visitor_id: &str,
        now_secs: u64,
    ) -> String {
        let claims = VisitorClaims {
            sub: conversation_id.to_owned(),
            ws: workspace_id.to_owned(),
            exp: now_secs + self.ttl_secs,
            aud: VISITOR_AUDIENCE.to_owned(),
            vid: Some(visitor_id.to_owned()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Result<VisitorClaims, AuthError> {
        jsonwebtoken::decode::<VisitorClaims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        crate::util::now_secs()
    }

    fn claims(exp: u64) -> OperatorClaims {
        OperatorClaims {
            sub: "op".into(),
            ws: "ws".into(),
            role: Role::Editor,
            name: "Olga".into(),
            exp,
            aud: Some(OPERATOR_AUDIENCE.into()),
            iss: None,
        }
    }

    fn verifier(secret: &str) -> OperatorVerifier {
        OperatorVerifier::new(OperatorKey::Hs256Secret(secret.into()), None).expect("key")
    }

    #[test]
    fn operator_token_round_trip() {
        let v = verifier("s");
        let t = v.sign(&claims(now() + 60)).expect("sign");
        assert_eq!(v.verify(&t).expect("valid"), claims(now() + 60));
    }

    #[test]
    fn expired_forged_and_wrong_audience_are_refused() {
        let v = verifier("s");
        let expired = v.sign(&claims(now() - 3600)).expect("sign");
        assert_eq!(v.verify(&expired), Err(AuthError::Expired));
        let forged = verifier("other").sign(&claims(now() + 60)).expect("sign");
        assert!(matches!(v.verify(&forged), Err(AuthError::Invalid(_))));
        let mut c = claims(now() + 60);
        c.aud = Some(VISITOR_AUDIENCE.into());
        let wrong_aud = v.sign(&c).expect("sign");
        assert!(matches!(v.verify(&wrong_aud), Err(AuthError::Invalid(_))));
        assert!(matches!(v.verify("not.a.jwt"), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        // header {"alg":"none","typ":"JWT"}
        let v = verifier("s");
        let body = "eyJzdWIiOiJvcCIsIndzIjoid3MiLCJyb2xlIjoib3duZXIiLCJuYW1lIjoieCIsImV4cCI6OTk5OTk5OTk5OSwiYXVkIjoidGFrZS1jb250cm9sLW9wZXJhdG9yIn0";
        let token = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");
        assert!(matches!(v.verify(&token), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn visitor_and_operator_tokens_never_pass_for_each_other() {
        // Even when both sides happened to share a secret, the audiences differ.
        let v = verifier("shared");
        let visitors = VisitorTokens::new(b"shared", 3600);
        let vt = visitors.issue("c1", "ws", "v1", now());
        assert!(matches!(v.verify(&vt), Err(AuthError::Invalid(_))));
        let ot = v.sign(&claims(now() + 60)).expect("sign");
        assert!(matches!(visitors.verify(&ot), Err(AuthError::Invalid(_))));
        assert_eq!(visitors.verify(&vt).expect("valid").sub, "c1");
    }
}
