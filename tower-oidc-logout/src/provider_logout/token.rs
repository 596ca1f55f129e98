//! A logout token's rules (Back-Channel Logout 1.0 sections 2.4 and 2.6), in the order they apply.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, crypto};
use serde_json::{Map, Value};

use super::keys::{VerificationKey, accepted_algorithm, decode};

/// The member of `events` that makes a JWT a logout token (section 2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Longest logout token read, in bytes; real ones are well under 2 KiB.
pub const MAX_LOGOUT_TOKEN_LEN: usize = 16 * 1024;

/// A logout token that passed every check of section 2.6 except replay.
///
/// What the replay check needs is here: remember [`jti`](Self::jti) for
/// [`issuer`](Self::issuer) until [`remember_until`](Self::remember_until),
/// and refuse a token whose `(iss, jti)` was seen before (section 2.6, step 8).
/// Which sessions to end: those of [`sid`](Self::sid) when present, else
/// every session of [`sub`](Self::sub) (section 2.4); at least one is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    issuer: String,
    sub: Option<String>,
    sid: Option<String>,
    jti: String,
    issued_at: SystemTime,
    remember_until: SystemTime,
}

impl LogoutToken {
    /// The provider that issued it (`iss`), equal to the configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The user whose sessions end (`sub`), if the token names one.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The provider's session that ended (`sid`), if the token names one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The token's unique identifier (`jti`), for the replay check.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// When the token was issued (`iat`).
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// Until when the `jti` must be remembered: the first moment this token
    /// is no longer accepted, the earlier of `exp` and `iat` plus the
    /// [token max age](super::LogoutTokenValidatorBuilder::token_max_age)
    /// (for a token without `exp`, also `iat` plus the maximum age given to
    /// [`accept_tokens_without_exp`](super::LogoutTokenValidatorBuilder::accept_tokens_without_exp)),
    /// plus the clock skew.
    ///
    /// A token is accepted only before this moment, by the same clock, so a
    /// `jti` forgotten after it cannot be replayed; and it is never more than
    /// the token max age plus the skew after `iat`, whatever `exp` says.
    pub fn remember_until(&self) -> SystemTime {
        self.remember_until
    }
}

/// Why a logout token was refused.
///
/// [`code`](Self::code) is a stable machine-readable reason; the message
/// (`Display`) says what is wrong in words, fit for the `error_description`
/// of the `400 {"error":"invalid_request"}` answer (section 2.8). Neither
/// echoes more than short excerpts of the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// Not a compact JWS of three base64url parts with JSON header and claims.
    #[error("the logout token is malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is `none`: logout tokens must be signed (section 2.6, step 3).
    #[error("the logout token is unsigned (`alg` is `none`); it must be signed by the provider")]
    AlgNone,
    /// `alg` is not an asymmetric signature algorithm this crate accepts, or not the key's.
    #[error("the logout token's algorithm `{alg}` is not accepted: {detail}")]
    AlgorithmNotAllowed {
        /// The token's `alg`.
        alg: String,
        /// Why.
        detail: String,
    },
    /// No key of the provider fits the token's header.
    #[error("no signing key of the provider fits the logout token (alg {alg}): {detail}")]
    UnknownKey {
        /// The token's `kid`, if it has one.
        kid: Option<String>,
        /// The token's `alg`.
        alg: &'static str,
        /// What did not fit.
        detail: &'static str,
    },
    /// The key was not held and fetching the provider's keys failed.
    #[error("the provider's signing keys could not be fetched to check the logout token: {reason}")]
    KeysUnavailable {
        /// Why the fetch failed.
        reason: String,
    },
    /// The signature does not verify with the provider's key.
    #[error("the logout token's signature does not verify with the provider's key")]
    BadSignature,
    /// The header's `typ` is not `logout+jwt` (section 2.4, explicit typing).
    #[error("the logout token's `typ` is `{0}`; a logout token is typed `logout+jwt`")]
    WrongTyp(String),
    /// `iss` is missing or is not the configured issuer.
    #[error("the logout token's `iss` is missing or is not the configured issuer")]
    WrongIssuer {
        /// The token's `iss`, if it is a string.
        found: Option<String>,
    },
    /// `aud` is missing or does not hold the client ID.
    #[error("the logout token's `aud` does not contain this app's client ID")]
    WrongAudience,
    /// `aud` names other audiences beside this app, and the token has no
    /// `azp` (OpenID Connect Core 1.0 section 3.1.3.7, as for ID tokens).
    #[error(
        "the logout token has several audiences but no `azp`: the provider must name this app's client ID as its authorized party"
    )]
    MissingAzp,
    /// `azp` is present and is not this app's client ID.
    #[error("the logout token's `azp` is not this app's client ID")]
    AzpMismatch,
    /// `iat` is missing.
    #[error("the logout token has no `iat`")]
    MissingIat,
    /// `iat` is later than now plus the allowed skew.
    #[error("the logout token's `iat` is {0} s in the future, more than the allowed clock skew")]
    IatInFuture(u64),
    /// `exp` is missing, and tokens without it were not accepted.
    #[error(
        "the logout token has no `exp`; Back-Channel Logout 1.0 requires it (an app may accept such tokens with a maximum age)"
    )]
    MissingExp,
    /// The token expired (`exp`, or for a token accepted without `exp`,
    /// `iat` plus that maximum age), beyond the allowed skew.
    #[error("the logout token expired {0} s ago")]
    Expired(u64),
    /// The token was issued longer ago than the token max age plus the skew,
    /// whatever its `exp` says.
    #[error(
        "the logout token was issued {age} s ago, more than the maximum token age of {max_age} s (`token_max_age`)"
    )]
    TooOld {
        /// Seconds since `iat`.
        age: u64,
        /// The token max age, in seconds.
        max_age: u64,
    },
    /// `events` is missing or not a JSON object.
    #[error("the logout token has no `events` object")]
    MissingEvents,
    /// `events` lacks the back-channel logout member, or its value is not an object.
    #[error(
        "the logout token's `events` has no `http://schemas.openid.net/event/backchannel-logout` object"
    )]
    WrongEvent,
    /// Neither `sid` nor `sub` is present.
    #[error("the logout token has neither `sid` nor `sub`")]
    NoSidOrSub,
    /// `nonce` is present: the token could pass for an ID token (section 2.4).
    #[error("the logout token carries a `nonce`, which logout tokens must not")]
    NoncePresent,
    /// `jti` is missing.
    #[error("the logout token has no `jti`")]
    MissingJti,
    /// `jti` is the empty string, which identifies nothing for the replay check.
    #[error("the logout token's `jti` is empty; it must identify the token")]
    EmptyJti,
}

impl LogoutTokenError {
    /// A stable, machine-readable reason: `malformed`, `alg_none`,
    /// `alg_not_allowed`, `unknown_key`, `keys_unavailable`,
    /// `bad_signature`, `wrong_typ`, `wrong_issuer`, `wrong_audience`,
    /// `missing_azp`, `azp_mismatch`, `missing_iat`, `iat_in_future`,
    /// `missing_exp`, `expired`, `too_old`, `missing_events`, `wrong_event`,
    /// `no_sid_or_sub`, `nonce_present`, `missing_jti`, `empty_jti`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::AlgNone => "alg_none",
            Self::AlgorithmNotAllowed { .. } => "alg_not_allowed",
            Self::UnknownKey { .. } => "unknown_key",
            Self::KeysUnavailable { .. } => "keys_unavailable",
            Self::BadSignature => "bad_signature",
            Self::WrongTyp(_) => "wrong_typ",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingAzp => "missing_azp",
            Self::AzpMismatch => "azp_mismatch",
            Self::MissingIat => "missing_iat",
            Self::IatInFuture(_) => "iat_in_future",
            Self::MissingExp => "missing_exp",
            Self::Expired(_) => "expired",
            Self::TooOld { .. } => "too_old",
            Self::MissingEvents => "missing_events",
            Self::WrongEvent => "wrong_event",
            Self::NoSidOrSub => "no_sid_or_sub",
            Self::NoncePresent => "nonce_present",
            Self::MissingJti => "missing_jti",
            Self::EmptyJti => "empty_jti",
        }
    }
}

/// The parts of a compact JWS whose header passed its checks.
#[derive(Debug)]
pub(crate) struct SignedToken<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    /// `header.payload`, the signed message.
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// Splits the token and checks its header: three parts, `alg` accepted, `typ`, no `crit`.
pub(crate) fn parse(token: &str) -> Result<SignedToken<'_>, LogoutTokenError> {
    use LogoutTokenError::Malformed;
    if token.len() > MAX_LOGOUT_TOKEN_LEN {
        return Err(Malformed("it is longer than 16 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed(
            "it is not a compact JWS of three parts (encrypted logout tokens are not supported)",
        ));
    };
    let signing_input = &token[..header.len() + 1 + payload.len()];
    let header = json_object(header).ok_or(Malformed("its header is not base64url JSON"))?;

    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg,
        _ => return Err(Malformed("its header has no `alg` string")),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(LogoutTokenError::AlgNone);
    }
    let Some(alg) = accepted_algorithm(alg) else {
        let detail = if alg.starts_with("HS") {
            "a logout token is signed with the provider's private key, never an HMAC secret"
        } else {
            "accepted: ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA"
        };
        return Err(LogoutTokenError::AlgorithmNotAllowed {
            alg: excerpt(alg),
            detail: detail.to_owned(),
        });
    };
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if is_logout_typ(typ) => {}
        Some(Value::String(typ)) => return Err(LogoutTokenError::WrongTyp(excerpt(typ))),
        Some(_) => return Err(Malformed("its header's `typ` is not a string")),
    }
    // RFC 7515 section 4.1.11: an extension the recipient does not understand makes it invalid.
    if header.contains_key("crit") {
        return Err(Malformed("its header lists `crit` extensions, none of which is supported"));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(Malformed("its header's `kid` is not a string")),
    };
    Ok(SignedToken { alg, kid, signing_input, payload, signature })
}

/// `logout+jwt`, case-insensitively, with or without `application/` (RFC 7515 section 4.1.9).
fn is_logout_typ(typ: &str) -> bool {
    let typ = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    typ.eq_ignore_ascii_case("logout+jwt")
}

/// Checks the signature with `key`, which allows `token.alg`.
pub(crate) fn verify_signature(
    token: &SignedToken<'_>,
    key: &VerificationKey,
) -> Result<(), LogoutTokenError> {
    match crypto::verify(
        token.signature,
        token.signing_input.as_bytes(),
        key.decoding_key(),
        token.alg,
    ) {
        Ok(true) => Ok(()),
        _ => Err(LogoutTokenError::BadSignature),
    }
}

/// What the claims are checked against.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) skew_secs: u64,
    /// Refuse tokens older than this (seconds since `iat`), whatever `exp` says.
    pub(crate) max_age_secs: u64,
    /// Accept tokens without `exp` that are at most this old (seconds since `iat`).
    pub(crate) without_exp_max_age_secs: Option<u64>,
}

/// Checks the claims of a token whose signature verified; `now` in seconds since the epoch.
pub(crate) fn check_claims(
    token: &SignedToken<'_>,
    rules: &ClaimRules,
    now: u64,
) -> Result<LogoutToken, LogoutTokenError> {
    use LogoutTokenError::Malformed;
    let claims =
        json_object(token.payload).ok_or(Malformed("its claims are not base64url JSON"))?;
    let optional_string = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Malformed(match name {
            "sub" => "its `sub` is not a string",
            "sid" => "its `sid` is not a string",
            _ => "its `jti` is not a string",
        })),
    };

    // Step 4: iss, aud, iat and exp as for ID tokens (Core 1.0 section 3.1.3.7).
    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == rules.issuer => {}
        Some(Value::String(iss)) => {
            return Err(LogoutTokenError::WrongIssuer { found: Some(excerpt(iss)) });
        }
        _ => return Err(LogoutTokenError::WrongIssuer { found: None }),
    }
    let audience_holds_client = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == rules.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(&rules.client_id)),
        _ => false,
    };
    if !audience_holds_client {
        return Err(LogoutTokenError::WrongAudience);
    }
    // Core 1.0 section 3.1.3.7: with several audiences, `azp` names this
    // client; when present, it is this client.
    let other_audiences = matches!(claims.get("aud"), Some(Value::Array(auds))
        if auds.iter().any(|aud| aud.as_str() != Some(&rules.client_id)));
    match claims.get("azp") {
        None if other_audiences => return Err(LogoutTokenError::MissingAzp),
        None => {}
        Some(Value::String(azp)) if *azp == rules.client_id => {}
        Some(_) => return Err(LogoutTokenError::AzpMismatch),
    }
    let iat = numeric_date(&claims, "iat")?.ok_or(LogoutTokenError::MissingIat)?;
    if iat > now.saturating_add(rules.skew_secs) {
        return Err(LogoutTokenError::IatInFuture(iat - now));
    }
    let last_valid = match (numeric_date(&claims, "exp")?, rules.without_exp_max_age_secs) {
        (Some(exp), _) => exp,
        (None, Some(max_age)) => iat.saturating_add(max_age),
        (None, None) => return Err(LogoutTokenError::MissingExp),
    };
    // Valid while now < exp + skew (Core: "the current time MUST be before the time in exp").
    let expires = last_valid.saturating_add(rules.skew_secs);
    if now >= expires {
        return Err(LogoutTokenError::Expired(now - last_valid));
    }
    // And while now < iat + max age + skew, whatever `exp` says.
    let too_old = iat.saturating_add(rules.max_age_secs).saturating_add(rules.skew_secs);
    if now >= too_old {
        return Err(LogoutTokenError::TooOld { age: now - iat, max_age: rules.max_age_secs });
    }
    // Accepted only before this moment, so the replay check need remember the jti no longer.
    let remember_until = expires.min(too_old);

    // Section 2.4: jti is required, and identifies the token.
    let jti = optional_string("jti")?.ok_or(LogoutTokenError::MissingJti)?;
    if jti.is_empty() {
        return Err(LogoutTokenError::EmptyJti);
    }
    // Step 6: events holds the back-channel logout member, an object.
    let Some(Value::Object(events)) = claims.get("events") else {
        return Err(LogoutTokenError::MissingEvents);
    };
    if !matches!(events.get(BACKCHANNEL_LOGOUT_EVENT), Some(Value::Object(_))) {
        return Err(LogoutTokenError::WrongEvent);
    }
    // Step 5: sub, sid, or both.
    let sub = optional_string("sub")?;
    let sid = optional_string("sid")?;
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::NoSidOrSub);
    }
    // Step 7: no nonce.
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::NoncePresent);
    }

    Ok(LogoutToken {
        issuer: rules.issuer.clone(),
        sub,
        sid,
        jti,
        issued_at: epoch_plus(iat),
        remember_until: epoch_plus(remember_until),
    })
}

/// A NumericDate claim (RFC 7519 section 2) in whole seconds; fractions are dropped.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, LogoutTokenError> {
    let Some(value) = claims.get(name) else { return Ok(None) };
    let seconds = match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            number.as_f64().filter(|secs| secs.is_finite() && *secs >= 0.0).map(|secs| {
                // Saturates at u64::MAX; far beyond any real date.
                secs as u64
            })
        }),
        _ => None,
    };
    seconds.map(Some).ok_or(LogoutTokenError::Malformed(match name {
        "iat" => "its `iat` is not a NumericDate (non-negative seconds since 1970)",
        _ => "its `exp` is not a NumericDate (non-negative seconds since 1970)",
    }))
}

/// `UNIX_EPOCH + secs`, saturating far in the future.
fn epoch_plus(secs: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or_else(|| UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 64))
}

/// A base64url part decoded and parsed as a JSON object.
fn json_object(part: &str) -> Option<Map<String, Value>> {
    serde_json::from_slice(&decode(part)?).ok()
}

/// At most 64 characters of an untrusted value, for a message.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{Algorithm, EncodingKey, crypto};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{LogoutTokenError, MAX_LOGOUT_TOKEN_LEN};
    use crate::provider_logout::{
        KeySet, LogoutTokenValidator, keys::decode, testkit::*, token::BACKCHANNEL_LOGOUT_EVENT,
    };

    async fn validate(
        token: &str,
    ) -> Result<crate::provider_logout::LogoutToken, LogoutTokenError> {
        validator().validate(token).await
    }

    /// Validates the standard header and these claims, signed with the test key.
    async fn with_claims(
        edit: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) -> Result<crate::provider_logout::LogoutToken, LogoutTokenError> {
        let mut claims = claims();
        edit(claims.as_object_mut().unwrap());
        validate(&sign(&header(), &claims)).await
    }

    async fn with_header(
        edit: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) -> Result<crate::provider_logout::LogoutToken, LogoutTokenError> {
        let mut header = header();
        edit(header.as_object_mut().unwrap());
        validate(&sign(&header, &claims())).await
    }

    fn code<T: std::fmt::Debug>(result: Result<T, LogoutTokenError>) -> &'static str {
        result.expect_err("the token must be refused").code()
    }

    #[tokio::test]
    async fn a_valid_token_gives_what_the_replay_check_and_the_index_need() {
        let token = validate(&sign(&header(), &claims())).await.unwrap();
        assert_eq!(token.issuer(), ISSUER);
        assert_eq!(token.sub(), Some("user-1"));
        assert_eq!(token.sid(), Some("session-1"));
        assert_eq!(token.jti(), "jti-1");
        assert_eq!(token.issued_at(), std::time::UNIX_EPOCH + Duration::from_secs(NOW - 10));
        // Accepted until exp + skew, so remembered until then.
        assert_eq!(
            token.remember_until(),
            std::time::UNIX_EPOCH + Duration::from_secs(NOW + 110 + 60)
        );
    }

    // Section 2.6 step 3: never `none`.
    #[tokio::test]
    async fn alg_none_is_refused() {
        for none in ["none", "None", "NONE"] {
            let token = unsigned(&json!({ "alg": none, "kid": KID }), &claims());
            assert_eq!(code(validate(&token).await), "alg_none");
        }
    }

    // Key confusion: the public key used as an HMAC secret.
    #[tokio::test]
    async fn hmac_signed_with_the_public_key_is_refused() {
        let jwk =
            crate::provider_logout::testkit::public_jwk(&es256(), Algorithm::ES256, KID, None);
        let x = decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = decode(jwk["y"].as_str().unwrap()).unwrap();
        let sec1 = [&[4u8][..], &x, &y].concat();
        let secrets: [&[u8]; 2] = [&sec1, &es256_jwks()];
        for (secret, alg) in secrets.iter().zip([Algorithm::HS256, Algorithm::HS512]) {
            let name = format!("{alg:?}");
            let token = sign_as(
                &json!({ "alg": name, "kid": KID }),
                &claims(),
                &EncodingKey::from_secret(secret).unwrap(),
                alg,
            );
            assert_eq!(code(validate(&token).await), "alg_not_allowed", "{name}");
        }
    }

    #[tokio::test]
    async fn an_unknown_alg_is_refused() {
        let token = unsigned(&json!({ "alg": "ES512", "kid": KID }), &claims());
        assert_eq!(code(validate(&token).await), "alg_not_allowed");
    }

    // The token's alg must be one the key allows, even within the asymmetric allow-list.
    #[tokio::test]
    async fn the_alg_must_be_the_keys() {
        let keys = KeySet::from_jwks(&jwks(&[
            public_jwk(&es256(), Algorithm::ES256, "ec", None),
            public_jwk(&rsa(), Algorithm::RS256, "rsa-rs256", Some("RS256")),
        ]))
        .unwrap();
        let validator = builder().keys(keys).build().unwrap();
        // ES384 and RS256 under the P-256 key's kid.
        for alg in ["ES384", "RS256", "EdDSA"] {
            let token = unsigned(&json!({ "alg": alg, "kid": "ec" }), &claims());
            assert_eq!(code(validator.validate(&token).await), "alg_not_allowed", "{alg}");
        }
        // PS256 is an RSA algorithm, but this RSA key states RS256.
        let token = sign_as(
            &json!({ "alg": "PS256", "kid": "rsa-rs256" }),
            &claims(),
            &rsa(),
            Algorithm::PS256,
        );
        assert_eq!(code(validator.validate(&token).await), "alg_not_allowed");
        let token = sign_as(
            &json!({ "alg": "RS256", "kid": "rsa-rs256" }),
            &claims(),
            &rsa(),
            Algorithm::RS256,
        );
        validator.validate(&token).await.unwrap();
    }

    #[tokio::test]
    async fn keys_without_alg_allow_what_their_type_implies() {
        let keys = KeySet::from_jwks(&jwks(&[
            public_jwk(&es256(), Algorithm::ES256, "p256", None),
            public_jwk(&es384(), Algorithm::ES384, "p384", None),
            public_jwk(&rsa(), Algorithm::RS256, "rsa", None),
            public_jwk(&ed25519(), Algorithm::EdDSA, "ed", None),
        ]))
        .unwrap();
        let validator = builder().keys(keys).build().unwrap();
        let cases = [
            ("p256", es256(), Algorithm::ES256, "ES256"),
            ("p384", es384(), Algorithm::ES384, "ES384"),
            ("rsa", rsa(), Algorithm::RS256, "RS256"),
            ("rsa", rsa(), Algorithm::PS512, "PS512"),
            ("ed", ed25519(), Algorithm::EdDSA, "EdDSA"),
        ];
        for (kid, key, alg, name) in cases {
            let token = sign_as(&json!({ "alg": name, "kid": kid }), &claims(), &key, alg);
            validator.validate(&token).await.unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    #[tokio::test]
    async fn a_signature_by_another_key_or_over_other_claims_is_refused() {
        let token = sign_as(&header(), &claims(), &es256_other(), Algorithm::ES256);
        assert_eq!(code(validate(&token).await), "bad_signature");

        let genuine = sign(&header(), &claims());
        let mut forged_claims = claims();
        forged_claims["sub"] = json!("admin");
        let forged = sign(&header(), &forged_claims);
        let (genuine_message, genuine_signature) = genuine.rsplit_once('.').unwrap();
        let (forged_message, _) = forged.rsplit_once('.').unwrap();
        assert_ne!(genuine_message, forged_message);
        let spliced = format!("{forged_message}.{genuine_signature}");
        assert_eq!(code(validate(&spliced).await), "bad_signature");

        let garbage = format!("{genuine_message}.!!!");
        assert_eq!(code(validate(&garbage).await), "bad_signature");
    }

    #[tokio::test]
    async fn a_kid_the_provider_does_not_have_is_refused() {
        let result = with_header(|header| {
            header.insert("kid".into(), json!("rotated-away"));
        })
        .await;
        assert_eq!(code(result), "unknown_key");
    }

    #[tokio::test]
    async fn without_kid_the_only_key_for_the_alg_is_used_and_several_are_refused() {
        with_header(|header| {
            header.remove("kid");
        })
        .await
        .unwrap();

        let two = KeySet::from_jwks(&jwks(&[
            public_jwk(&es256(), Algorithm::ES256, KID, None),
            public_jwk(&es256_other(), Algorithm::ES256, "other", None),
        ]))
        .unwrap();
        let validator = builder().keys(two).build().unwrap();
        let mut header = header();
        header.as_object_mut().unwrap().remove("kid");
        assert_eq!(code(validator.validate(&sign(&header, &claims())).await), "unknown_key");
    }

    #[tokio::test]
    async fn the_issuer_must_match_exactly() {
        for iss in [json!("https://op.example/"), json!("https://OP.example"), json!(["x"])] {
            let result = with_claims(|claims| {
                claims.insert("iss".into(), iss.clone());
            })
            .await;
            assert_eq!(code(result), "wrong_issuer", "{iss}");
        }
        let result = with_claims(|claims| {
            claims.remove("iss");
        })
        .await;
        assert_eq!(code(result), "wrong_issuer");
    }

    #[tokio::test]
    async fn the_audience_must_contain_the_client_id() {
        for aud in [json!("client-2"), json!(["client-2", "client-3"]), json!([]), json!(7)] {
            let result = with_claims(|claims| {
                claims.insert("aud".into(), aud.clone());
            })
            .await;
            assert_eq!(code(result), "wrong_audience", "{aud}");
        }
        let result = with_claims(|claims| {
            claims.remove("aud");
        })
        .await;
        assert_eq!(code(result), "wrong_audience");
        with_claims(|claims| {
            claims.insert("aud".into(), json!([CLIENT_ID]));
        })
        .await
        .unwrap();
    }

    // Core 1.0 section 3.1.3.7, as for ID tokens: several audiences need `azp`, the client.
    #[tokio::test]
    async fn with_other_audiences_azp_must_name_the_client() {
        let result = with_claims(|claims| {
            claims.insert("aud".into(), json!(["other", CLIENT_ID]));
        })
        .await;
        assert_eq!(code(result), "missing_azp");
        let result = with_claims(|claims| {
            claims.insert("aud".into(), json!(["other", CLIENT_ID]));
            claims.insert("azp".into(), json!("other"));
        })
        .await;
        assert_eq!(code(result), "azp_mismatch");
        with_claims(|claims| {
            claims.insert("aud".into(), json!(["other", CLIENT_ID]));
            claims.insert("azp".into(), json!(CLIENT_ID));
        })
        .await
        .unwrap();
        // Only this client, however written: no `azp` needed; when present, it is the client.
        with_claims(|claims| {
            claims.insert("aud".into(), json!([CLIENT_ID, CLIENT_ID]));
        })
        .await
        .unwrap();
        for azp in [json!("other"), json!(""), json!([CLIENT_ID]), json!(null)] {
            let result = with_claims(|claims| {
                claims.insert("azp".into(), azp.clone());
            })
            .await;
            assert_eq!(code(result), "azp_mismatch", "{azp}");
        }
        with_claims(|claims| {
            claims.insert("azp".into(), json!(CLIENT_ID));
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn iat_is_required_and_not_in_the_future_beyond_the_skew() {
        let result = with_claims(|claims| {
            claims.remove("iat");
        })
        .await;
        assert_eq!(code(result), "missing_iat");
        let result = with_claims(|claims| {
            claims.insert("iat".into(), json!(NOW + 61));
        })
        .await;
        assert_eq!(code(result), "iat_in_future");
        with_claims(|claims| {
            claims.insert("iat".into(), json!(NOW + 60));
        })
        .await
        .unwrap();
        let result = with_claims(|claims| {
            claims.insert("iat".into(), json!("yesterday"));
        })
        .await;
        assert_eq!(code(result), "malformed");
    }

    #[tokio::test]
    async fn exp_is_required_and_not_passed_beyond_the_skew() {
        let result = with_claims(|claims| {
            claims.remove("exp");
        })
        .await;
        assert_eq!(code(result), "missing_exp");
        for exp in [NOW - 60, NOW - 3600] {
            let result = with_claims(|claims| {
                claims.insert("exp".into(), json!(exp));
            })
            .await;
            assert_eq!(code(result), "expired", "{exp}");
        }
        with_claims(|claims| {
            claims.insert("exp".into(), json!(NOW - 59));
        })
        .await
        .unwrap();
        // Fractional NumericDate.
        with_claims(|claims| {
            claims.insert("exp".into(), json!((NOW + 10) as f64 + 0.5));
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn without_exp_only_an_opted_in_maximum_age_bounds_the_token() {
        let validator =
            builder().accept_tokens_without_exp(Duration::from_secs(120)).build().unwrap();
        let mut claims = claims();
        let object = claims.as_object_mut().unwrap();
        object.remove("exp");
        object.insert("iat".into(), json!(NOW - 100));
        let token = validator.validate(&sign(&header(), &claims)).await.unwrap();
        assert_eq!(
            token.remember_until(),
            std::time::UNIX_EPOCH + Duration::from_secs(NOW - 100 + 120 + 60)
        );
        claims["iat"] = json!(NOW - 200);
        let result = validator.validate(&sign(&header(), &claims)).await;
        assert_eq!(code(result), "expired");
    }

    #[tokio::test]
    async fn events_must_hold_the_backchannel_logout_object() {
        let result = with_claims(|claims| {
            claims.remove("events");
        })
        .await;
        assert_eq!(code(result), "missing_events");
        let result = with_claims(|claims| {
            claims.insert("events".into(), json!([BACKCHANNEL_LOGOUT_EVENT]));
        })
        .await;
        assert_eq!(code(result), "missing_events");
        for events in [
            json!({}),
            json!({ "http://schemas.openid.net/event/backchannel-logout/": {} }),
            json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" }),
            json!({ BACKCHANNEL_LOGOUT_EVENT: true }),
        ] {
            let result = with_claims(|claims| {
                claims.insert("events".into(), events.clone());
            })
            .await;
            assert_eq!(code(result), "wrong_event", "{events}");
        }
        with_claims(|claims| {
            claims.insert(
                "events".into(),
                json!({ BACKCHANNEL_LOGOUT_EVENT: { "reason": "x" }, "other": 1 }),
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn sid_or_sub_or_both_must_be_present() {
        let result = with_claims(|claims| {
            claims.remove("sid");
            claims.remove("sub");
        })
        .await;
        assert_eq!(code(result), "no_sid_or_sub");
        let only_sid = with_claims(|claims| {
            claims.remove("sub");
        })
        .await
        .unwrap();
        assert_eq!((only_sid.sid(), only_sid.sub()), (Some("session-1"), None));
        let only_sub = with_claims(|claims| {
            claims.remove("sid");
        })
        .await
        .unwrap();
        assert_eq!((only_sub.sid(), only_sub.sub()), (None, Some("user-1")));
        let result = with_claims(|claims| {
            claims.insert("sid".into(), json!(42));
        })
        .await;
        assert_eq!(code(result), "malformed");
    }

    #[tokio::test]
    async fn a_nonce_is_refused() {
        let result = with_claims(|claims| {
            claims.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
        })
        .await;
        assert_eq!(code(result), "nonce_present");
    }

    #[tokio::test]
    async fn jti_is_required() {
        let result = with_claims(|claims| {
            claims.remove("jti");
        })
        .await;
        assert_eq!(code(result), "missing_jti");
        let result = with_claims(|claims| {
            claims.insert("jti".into(), json!(1));
        })
        .await;
        assert_eq!(code(result), "malformed");
        // An empty `jti` would make every such token a replay of the first, or none of them.
        let result = with_claims(|claims| {
            claims.insert("jti".into(), json!(""));
        })
        .await;
        assert_eq!(code(result), "empty_jti");
        with_claims(|claims| {
            claims.insert("jti".into(), json!(" "));
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_token_older_than_the_max_age_is_refused_whatever_its_exp() {
        let max_age = super::super::DEFAULT_TOKEN_MAX_AGE.as_secs();
        assert_eq!(max_age, 600);
        let result = with_claims(|claims| {
            claims.insert("iat".into(), json!(NOW - max_age - 60));
            claims.insert("exp".into(), json!(NOW + 3600));
        })
        .await;
        assert_eq!(code(result), "too_old");
        let token = with_claims(|claims| {
            claims.insert("iat".into(), json!(NOW - max_age - 59));
            claims.insert("exp".into(), json!(NOW + 3600));
        })
        .await
        .unwrap();
        assert_eq!(token.remember_until(), std::time::UNIX_EPOCH + Duration::from_secs(NOW + 1));
        // Configurable.
        let validator = builder().token_max_age(Duration::from_secs(120)).build().unwrap();
        let mut claims = claims();
        claims["iat"] = json!(NOW - 180);
        claims["exp"] = json!(NOW + 3600);
        let result = validator.validate(&sign(&header(), &claims)).await;
        assert_eq!(code(result), "too_old");
        claims["iat"] = json!(NOW - 179);
        validator.validate(&sign(&header(), &claims)).await.unwrap();
    }

    /// Issue 18: `exp: 1e300` kept a `jti` remembered for about 8 700 years.
    #[tokio::test]
    async fn a_far_exp_does_not_make_the_jti_remembered_longer_than_the_max_age() {
        for exp in [json!(1e300), json!(u64::MAX), json!(NOW + 86_400 * 365)] {
            let token = with_claims(|claims| {
                claims.insert("exp".into(), exp.clone());
            })
            .await
            .unwrap();
            // iat (NOW - 10) + 10 minutes + the skew.
            assert_eq!(
                token.remember_until(),
                std::time::UNIX_EPOCH + Duration::from_secs(NOW - 10 + 600 + 60),
                "{exp}"
            );
        }
    }

    #[tokio::test]
    async fn typ_when_present_is_logout_jwt() {
        for typ in ["JWT", "at+jwt", "logout+jwt2", "application/jwt"] {
            let result = with_header(|header| {
                header.insert("typ".into(), json!(typ));
            })
            .await;
            assert_eq!(code(result), "wrong_typ", "{typ}");
        }
        for typ in ["logout+jwt", "Logout+JWT", "application/logout+jwt", "APPLICATION/Logout+Jwt"]
        {
            with_header(|header| {
                header.insert("typ".into(), json!(typ));
            })
            .await
            .unwrap_or_else(|error| panic!("{typ}: {error}"));
        }
        with_header(|header| {
            header.remove("typ");
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn critical_extensions_are_refused() {
        let result = with_header(|header| {
            header.insert("crit".into(), json!(["exp"]));
        })
        .await;
        assert_eq!(code(result), "malformed");
    }

    #[tokio::test]
    async fn anything_but_a_compact_jws_is_malformed() {
        let token = sign(&header(), &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let oversized = format!("{token}{}", "A".repeat(MAX_LOGOUT_TOKEN_LEN));
        let not_json_header =
            format!("{}.{}.{}", crate::base64url::encode(b"[1,2]"), parts[1], parts[2]);
        let not_json_claims =
            format!("{}.{}.{}", parts[0], crate::base64url::encode(b"nope"), parts[2]);
        let cases = [
            String::new(),
            "a.b".to_owned(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{token}.x.y"), // five parts: JWE
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("+{}", &token[1..]),
            not_json_header,
            oversized,
        ];
        for case in &cases {
            assert_eq!(code(validate(case).await), "malformed", "{case:.40}");
        }
        // Claims are read only after the signature verified.
        assert_eq!(code(validate(&not_json_claims).await), "bad_signature");
        let signed_not_json = {
            let message = format!("{}.{}", parts[0], crate::base64url::encode(b"nope"));
            let signature = crypto::sign(message.as_bytes(), &es256(), Algorithm::ES256).unwrap();
            format!("{message}.{signature}")
        };
        assert_eq!(code(validate(&signed_not_json).await), "malformed");
    }

    #[test]
    fn every_refusal_has_its_own_code_and_a_message() {
        let errors = [
            LogoutTokenError::Malformed("x"),
            LogoutTokenError::AlgNone,
            LogoutTokenError::AlgorithmNotAllowed { alg: "HS256".into(), detail: "x".into() },
            LogoutTokenError::UnknownKey { kid: None, alg: "ES256", detail: "x" },
            LogoutTokenError::KeysUnavailable { reason: "x".into() },
            LogoutTokenError::BadSignature,
            LogoutTokenError::WrongTyp("JWT".into()),
            LogoutTokenError::WrongIssuer { found: None },
            LogoutTokenError::WrongAudience,
            LogoutTokenError::MissingAzp,
            LogoutTokenError::AzpMismatch,
            LogoutTokenError::MissingIat,
            LogoutTokenError::IatInFuture(1),
            LogoutTokenError::MissingExp,
            LogoutTokenError::Expired(1),
            LogoutTokenError::TooOld { age: 700, max_age: 600 },
            LogoutTokenError::MissingEvents,
            LogoutTokenError::WrongEvent,
            LogoutTokenError::NoSidOrSub,
            LogoutTokenError::NoncePresent,
            LogoutTokenError::MissingJti,
            LogoutTokenError::EmptyJti,
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), errors.len());
        for error in &errors {
            assert!(error.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(error.to_string().starts_with("the ") || error.to_string().starts_with("no "));
        }
    }

    /// One runtime and validator for every case: building them is most of a case's cost.
    fn shared() -> &'static (tokio::runtime::Runtime, LogoutTokenValidator) {
        static SHARED: std::sync::OnceLock<(tokio::runtime::Runtime, LogoutTokenValidator)> =
            std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            (runtime, validator())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_input_panics_and_none_passes(token in ".{0,300}") {
            let (runtime, validator) = shared();
            let result = runtime.block_on(validator.validate(&token));
            prop_assert!(result.is_err());
        }

        #[test]
        fn no_three_part_input_panics_and_none_passes(
            header in "[A-Za-z0-9_-]{0,80}",
            claims in "[A-Za-z0-9_-]{0,200}",
            signature in "[A-Za-z0-9_+/=-]{0,120}",
        ) {
            let (runtime, validator) = shared();
            let token = format!("{header}.{claims}.{signature}");
            prop_assert!(runtime.block_on(validator.validate(&token)).is_err());
        }

        /// A token is accepted only before `remember_until`, so a `jti` forgotten then
        /// cannot be replayed, and `remember_until` is never later than `iat` plus the
        /// max age plus the skew, whatever `exp` says.
        #[test]
        fn a_token_is_never_accepted_once_its_jti_may_be_forgotten(
            iat_ago in 0u64..2_000,
            exp_in in prop::option::of(-2_000i64..100_000),
            without_exp_max_age in prop::option::of(1u64..=600),
            later in 0u64..2_000,
        ) {
            let rules = super::ClaimRules {
                issuer: ISSUER.to_owned(),
                client_id: CLIENT_ID.to_owned(),
                skew_secs: 60,
                max_age_secs: 600,
                without_exp_max_age_secs: without_exp_max_age,
            };
            let iat = NOW - iat_ago;
            let mut claims = claims();
            claims["iat"] = json!(iat);
            match exp_in {
                Some(exp_in) => claims["exp"] = json!(NOW.saturating_add_signed(exp_in)),
                None => {
                    claims.as_object_mut().unwrap().remove("exp");
                }
            }
            let token = unsigned(&header(), &claims);
            let signed = super::parse(&token).unwrap();
            let accepted_at = |now: u64| super::check_claims(&signed, &rules, now);
            if let Ok(accepted) = accepted_at(NOW) {
                let until = crate::state::unix_secs(accepted.remember_until());
                prop_assert!(NOW < until);
                prop_assert!(until <= iat + 600 + 60);
                // Accepted at every moment before `until`, at none from it on.
                prop_assert!(accepted_at(until - 1).is_ok());
                prop_assert!(accepted_at(until + later).is_err());
            }
        }

        #[test]
        fn no_json_header_panics_and_none_passes(
            header in prop::collection::vec(("alg|typ|kid|crit|[a-z]{1,4}", ".{0,24}"), 0..6),
        ) {
            let (runtime, validator) = shared();
            let header: serde_json::Map<String, Value> =
                header.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let token = unsigned(&Value::Object(header), &claims());
            prop_assert!(runtime.block_on(validator.validate(&token)).is_err());
        }
    }

    #[test]
    fn the_validator_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let validator: LogoutTokenValidator = validator();
        assert_send(&validator.validate("x"));
    }
}
