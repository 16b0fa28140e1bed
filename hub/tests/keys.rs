//! Operator tokens signed with public-key algorithms: RS256 and ES256 accepted when configured,
//! the algorithm pinned (no HS/RS confusion, no `none`).

use hub::auth::{OPERATOR_AUDIENCE, OperatorClaims, OperatorKey, OperatorVerifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use protocol::Role;

const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa-public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("fixtures/ec-private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("fixtures/ec-public.pem");

fn claims() -> OperatorClaims {
    OperatorClaims {
        sub: "martin".into(),
        ws: "demo-pro".into(),
        role: Role::Operator,
        name: "Martin Keller".into(),
        exp: hub::util::now_secs() + 600,
        aud: Some(OPERATOR_AUDIENCE.into()),
        iss: Some("https://acme.example".into()),
    }
}

fn sign(alg: Algorithm, key: &EncodingKey) -> String {
    sign_claims(alg, key, &claims())
}

fn sign_claims(alg: Algorithm, key: &EncodingKey, claims: &OperatorClaims) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).expect("sign")
}

#[test]
fn rs256_tokens_verify_with_the_public_key() {
    let v = OperatorVerifier::new(
        OperatorKey::RsaPem(RSA_PUBLIC.to_vec()),
        Some("https://acme.example"),
    )
    .expect("key");
    // The claims as signed: `claims()` again could land in the next second (`exp`).
    let signed = claims();
    let token = sign_claims(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("pem"),
        &signed,
    );
    assert_eq!(v.verify(&token).expect("valid"), signed);
}

#[test]
fn es256_tokens_verify_with_the_public_key() {
    let v = OperatorVerifier::new(OperatorKey::EcPem(EC_PUBLIC.to_vec()), None).expect("key");
    let token = sign(
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(EC_PRIVATE).expect("pem"),
    );
    assert_eq!(v.verify(&token).expect("valid").sub, "martin");
}

#[test]
fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    // The classic confusion attack: sign with HS256 using the (public) RSA key as the secret.
    let v = OperatorVerifier::new(OperatorKey::RsaPem(RSA_PUBLIC.to_vec()), None).expect("key");
    let token = sign(Algorithm::HS256, &EncodingKey::from_secret(RSA_PUBLIC));
    assert!(v.verify(&token).is_err());
}

#[test]
fn a_wrong_issuer_is_refused() {
    let v = OperatorVerifier::new(
        OperatorKey::RsaPem(RSA_PUBLIC.to_vec()),
        Some("https://other.example"),
    )
    .expect("key");
    let token = sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("pem"),
    );
    assert!(v.verify(&token).is_err());
}

#[test]
fn a_malformed_public_key_is_a_start_error() {
    assert!(OperatorVerifier::new(OperatorKey::RsaPem(b"not a key".to_vec()), None).is_err());
}

fn ring() -> OperatorVerifier {
    let json = serde_json::json!([
        {"kid": "2026-11", "alg": "HS256", "secret": "current-secret"},
        {"kid": "2026-05", "alg": "ES256", "pem": String::from_utf8_lossy(EC_PUBLIC)},
    ]);
    OperatorVerifier::from_key_file(&json.to_string(), None).expect("key ring")
}

fn sign_kid(alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims(), key).expect("sign")
}

#[test]
fn a_key_ring_picks_each_tokens_key_by_kid() {
    let v = ring();
    let hs = sign_kid(
        Algorithm::HS256,
        Some("2026-11"),
        &EncodingKey::from_secret(b"current-secret"),
    );
    let es = sign_kid(
        Algorithm::ES256,
        Some("2026-05"),
        &EncodingKey::from_ec_pem(EC_PRIVATE).expect("pem"),
    );
    assert_eq!(v.verify(&hs).expect("current key").sub, "martin");
    assert_eq!(v.verify(&es).expect("previous key").sub, "martin");
}

#[test]
fn a_key_ring_refuses_unknown_missing_and_mismatched_kids() {
    let v = ring();
    let secret = EncodingKey::from_secret(b"current-secret");
    assert!(
        v.verify(&sign_kid(Algorithm::HS256, Some("2020-01"), &secret))
            .is_err(),
        "unknown kid"
    );
    assert!(
        v.verify(&sign_kid(Algorithm::HS256, None, &secret))
            .is_err(),
        "no kid"
    );
    // The EC key's kid on an HS256 token keyed with the public PEM: algorithm pinned per key.
    let confused = sign_kid(
        Algorithm::HS256,
        Some("2026-05"),
        &EncodingKey::from_secret(EC_PUBLIC),
    );
    assert!(v.verify(&confused).is_err(), "HS/ES confusion");
}

#[test]
fn a_bad_key_file_is_a_start_error() {
    for bad in [
        "[]",
        "{",
        r#"[{"kid": "x", "alg": "none", "secret": "s"}]"#,
        r#"[{"kid": "x", "alg": "HS256"}]"#,
    ] {
        assert!(OperatorVerifier::from_key_file(bad, None).is_err(), "{bad}");
    }
}
