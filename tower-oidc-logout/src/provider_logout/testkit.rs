//! Test keys, tokens and clocks for the back-channel tests (no wall-clock waits).
//!
//! The private keys under `tests/data/keys/` were generated once with `openssl genpkey`
//! (PKCS#8 DER; RSA as PKCS#1 DER) and are for these tests only.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, EncodingKey, crypto, jwk::Jwk};
use serde_json::{Value, json};

use super::{BACKCHANNEL_LOGOUT_EVENT, KeySet, LogoutTokenValidator, LogoutTokenValidatorBuilder};
use crate::base64url;

pub(crate) const ISSUER: &str = "https://op.example";
pub(crate) const CLIENT_ID: &str = "client-1";
/// The tests' "now", in seconds since the epoch.
pub(crate) const NOW: u64 = 1_800_000_000;
pub(crate) const KID: &str = "es256-1";

pub(crate) fn es256() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("../../tests/data/keys/es256.pk8.der"))
}

pub(crate) fn es256_other() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("../../tests/data/keys/es256-other.pk8.der"))
}

pub(crate) fn es384() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("../../tests/data/keys/es384.pk8.der"))
}

pub(crate) fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_der(include_bytes!("../../tests/data/keys/rsa2048.pkcs1.der"))
}

pub(crate) fn ed25519() -> EncodingKey {
    EncodingKey::from_ed_der(include_bytes!("../../tests/data/keys/ed25519.pk8.der"))
}

/// The public JWK of `key`, with `kid`, and `alg` only when given.
pub(crate) fn public_jwk(
    key: &EncodingKey,
    family_alg: Algorithm,
    kid: &str,
    alg: Option<&str>,
) -> Value {
    let jwk = Jwk::from_encoding_key(key, family_alg).unwrap();
    let mut value = serde_json::to_value(jwk).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("alg");
    object.insert("kid".into(), json!(kid));
    if let Some(alg) = alg {
        object.insert("alg".into(), json!(alg));
    }
    value
}

pub(crate) fn jwks(keys: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

/// The provider's key set: the ES256 test key under [`KID`].
pub(crate) fn es256_jwks() -> Vec<u8> {
    jwks(&[public_jwk(&es256(), Algorithm::ES256, KID, Some("ES256"))])
}

pub(crate) fn header() -> Value {
    json!({ "alg": "ES256", "typ": "logout+jwt", "kid": KID })
}

/// Claims that pass every rule at [`NOW`].
pub(crate) fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": NOW - 10,
        "exp": NOW + 110,
        "jti": "jti-1",
        "sub": "user-1",
        "sid": "session-1",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

fn part(value: &Value) -> String {
    base64url::encode(&serde_json::to_vec(value).unwrap())
}

/// `header.claims.signature`, signed with `key` under `alg`.
pub(crate) fn sign_as(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", part(header), part(claims));
    let signature = crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// Signed with the ES256 test key.
pub(crate) fn sign(header: &Value, claims: &Value) -> String {
    sign_as(header, claims, &es256(), Algorithm::ES256)
}

/// `header.claims.` with an empty signature, whatever the header says.
pub(crate) fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", part(header), part(claims))
}

/// A clock the test moves by hand, starting at [`NOW`].
pub(crate) fn clock() -> (impl Fn() -> SystemTime + Send + Sync + 'static, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(NOW));
    let read = now.clone();
    (move || UNIX_EPOCH + Duration::from_secs(read.load(Ordering::SeqCst)), now)
}

/// Issuer, client and the ES256 key set given statically, clock at [`NOW`].
pub(crate) fn builder() -> LogoutTokenValidatorBuilder {
    LogoutTokenValidator::builder()
        .issuer(ISSUER)
        .client_id(CLIENT_ID)
        .keys(KeySet::from_jwks(&es256_jwks()).unwrap())
        .clock(clock().0)
}

pub(crate) fn validator() -> LogoutTokenValidator {
    builder().build().unwrap()
}
