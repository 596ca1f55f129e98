//! The `backchannel` target's input and app: the layer with the
//! Back-Channel and Front-Channel Logout routes, keys given statically (no
//! network), a fresh [`MemoryIndex`] per input with two indexed sign-ins,
//! and a counting [`EndSessions`]; tokens really signed once per process
//! with the crate's ES256 test key, for the fuzzer to splice and mutate.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::{HeaderValue, Method, Request, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation, crypto, jwk::Jwk};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use serde_json::{Value, json};
use tower::{Layer, service_fn};
use tower_oidc_logout::{OidcLogoutLayer, StateKey, provider_logout::index::EndSessionsFuture, provider_logout::index::{EndSessions, MemoryIndex, SessionIndex, SessionsEnded, SignIn}, provider_logout::{KeySet, LogoutTokenValidator, ProviderLogout}};

use crate::{App, END_SESSION, FuzzBody, InnerResult, block_on, inner, push_pair};

pub const ISSUER: &str = "https://op.example";
pub const CLIENT_ID: &str = "fuzz-client";
pub const BACKCHANNEL: &str = "/logout/backchannel";
pub const FRONTCHANNEL: &str = "/logout/frontchannel";
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const KID: &str = "es256-1";

/// Every code a back-channel refusal may carry.
pub const CODES: &[&str] = &[
    "method_not_allowed",
    "not_a_form",
    "too_large",
    "no_logout_token",
    "replayed",
    "malformed",
    "alg_none",
    "alg_not_allowed",
    "unknown_key",
    "bad_signature",
    "wrong_typ",
    "wrong_issuer",
    "wrong_audience",
    "missing_azp",
    "azp_mismatch",
    "missing_iat",
    "iat_in_future",
    "missing_exp",
    "expired",
    "too_old",
    "missing_events",
    "wrong_event",
    "no_sid_or_sub",
    "nonce_present",
    "missing_jti",
    "empty_jti",
];

fn es256() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("../../tests/data/keys/es256.pk8.der"))
}

fn es256_other() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("../../tests/data/keys/es256-other.pk8.der"))
}

/// The provider's public key as a JWK (`kid` set).
pub fn jwk() -> &'static Jwk {
    static JWK: OnceLock<Jwk> = OnceLock::new();
    JWK.get_or_init(|| {
        let mut value =
            serde_json::to_value(Jwk::from_encoding_key(&es256(), Algorithm::ES256).expect("jwk"))
                .expect("json");
        value["kid"] = json!(KID);
        value["alg"] = json!("ES256");
        serde_json::from_value(value).expect("jwk")
    })
}

fn jwks() -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": [jwk()] })).expect("jwks")
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn sign(header: &Value, claims: &Value, key: &EncodingKey) -> String {
    let message = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).expect("json")),
        b64(&serde_json::to_vec(claims).expect("json"))
    );
    let signature = crypto::sign(message.as_bytes(), key, Algorithm::ES256).expect("sign");
    format!("{message}.{signature}")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// Tokens signed once per process (the validator reads the wall clock):
/// the first two pass, the others each break one rule.
pub fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let now = now();
        let header = json!({ "alg": "ES256", "typ": "logout+jwt", "kid": KID });
        let claims = |jti: &str| {
            json!({
                "iss": ISSUER, "aud": CLIENT_ID, "iat": now - 10, "exp": now + 86_400,
                "jti": jti, "sub": "user-1", "sid": "session-1", "events": { EVENT: {} },
            })
        };
        let with = |jti: &str, name: &str, value: Value| {
            let mut c = claims(jti);
            c[name] = value;
            c
        };
        let without = |jti: &str, name: &str| {
            let mut c = claims(jti);
            c.as_object_mut().expect("object").remove(name);
            c
        };
        let key = es256();
        vec![
            sign(&header, &claims("jti-valid"), &key),
            sign(
                &header,
                &{
                    // Several audiences: `azp` names this client (Core 1.0 section 3.1.3.7).
                    let mut c = with("jti-sub-only", "aud", json!([CLIENT_ID, "other"]));
                    c["azp"] = json!(CLIENT_ID);
                    c
                },
                &key,
            ),
            sign(&header, &without("jti-no-sid", "sid"), &key),
            sign(&header, &with("jti-iss", "iss", json!("https://evil.example")), &key),
            sign(&header, &with("jti-aud", "aud", json!("another-client")), &key),
            sign(&header, &without("jti-events", "events"), &key),
            sign(&header, &with("jti-nonce", "nonce", json!("n")), &key),
            sign(&header, &with("jti-exp", "exp", json!(now - 3600)), &key),
            sign(&header, &claims("jti-other-key"), &es256_other()),
            sign(&json!({ "alg": "ES256", "typ": "JWT", "kid": KID }), &claims("jti-typ"), &key),
        ]
    })
}

fn seed(n: u8) -> &'static str {
    let seeds = seeds();
    &seeds[usize::from(n) % seeds.len()]
}

fn parts(token: &str) -> [&str; 3] {
    let mut split = token.splitn(3, '.');
    [(); 3].map(|()| split.next().unwrap_or_default())
}

/// Counts the app sessions it is asked to end.
#[derive(Debug, Clone, Default)]
pub struct Counting(pub Arc<AtomicUsize>);

impl EndSessions for Counting {
    fn end_sessions<'a>(&'a self, session_ids: &'a [String]) -> EndSessionsFuture<'a> {
        self.0.fetch_add(session_ids.len(), Ordering::SeqCst);
        let mut ended = SessionsEnded::default();
        ended.deleted = session_ids.to_vec();
        Box::pin(std::future::ready(Ok(ended)))
    }
}

/// A fresh app (empty replay set) and the counter of ended sessions.
pub fn app() -> (App, Arc<AtomicUsize>) {
    let validator = LogoutTokenValidator::builder()
        .issuer(ISSUER)
        .client_id(CLIENT_ID)
        .keys(KeySet::from_jwks(&jwks()).expect("static JWKS"))
        .build()
        .expect("validator");
    let index = Arc::new(MemoryIndex::new());
    let expires = SystemTime::now() + Duration::from_secs(86_400);
    block_on(async {
        let sid = SignIn::new(ISSUER, "user-1", "app-session-1", expires).sid("session-1");
        index.record(&sid).await.expect("index");
        let other = SignIn::new(ISSUER, "user-1", "app-session-2", expires).sid("session-2");
        index.record(&other).await.expect("index");
    });
    let counter = Counting::default();
    let ended = counter.0.clone();
    let logout = ProviderLogout::new(index, counter).validator(validator);
    let layer = OidcLogoutLayer::builder()
        .end_session_endpoint(END_SESSION)
        .client_id(CLIENT_ID)
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(
            StateKey::from_bytes(b"fuzz key: 0123456789abcdef0123456789abcdef").expect("key"),
        )
        .provider_logout(logout)
        .backchannel_logout(BACKCHANNEL)
        .frontchannel_logout(FRONTCHANNEL)
        .build()
        .expect("fuzz configuration is valid");
    let f: fn(Request<FuzzBody>) -> std::future::Ready<InnerResult> = inner;
    (layer.layer(service_fn(f)), ended)
}

/// Whether `token` verifies under the test key with the right `iss`, `aud`
/// (and `azp` beside other audiences), a non-empty `jti` and `events`,
/// written with jsonwebtoken independently of the crate.
pub fn verifies(token: &str) -> bool {
    let Ok(key) = DecodingKey::from_jwk(jwk()) else { return false };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let Ok(data) = jsonwebtoken::decode::<Value>(token, &key, &validation) else { return false };
    let claims = data.claims;
    let other_audience = claims["aud"]
        .as_array()
        .is_some_and(|auds| auds.iter().any(|aud| aud.as_str() != Some(CLIENT_ID)));
    let azp_fits = match claims.get("azp") {
        None => !other_audience,
        Some(azp) => azp.as_str() == Some(CLIENT_ID),
    };
    claims["events"][EVENT].is_object()
        && claims["jti"].as_str().is_some_and(|jti| !jti.is_empty())
        && azp_fits
        && claims.get("nonce").is_none()
        && (claims["sid"].is_string() || claims["sub"].is_string())
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Token {
    /// A signed seed as is.
    Seed(u8),
    /// Header, claims and signature each from a seed.
    Spliced { header: u8, claims: u8, signature: u8 },
    /// A seed with one byte replaced.
    Edited { seed: u8, at: u16, byte: u8 },
    /// A seed cut short.
    Truncated { seed: u8, len: u16 },
    /// Own header JSON, a seed's claims and signature.
    OwnHeader { header: String, seed: u8 },
    /// A seed's header, own claims JSON, the seed's signature.
    OwnClaims { claims: String, seed: u8 },
    /// The seed's header and claims, no signature (`alg` as the header says).
    Unsigned(u8),
    /// Any text.
    Text(String),
}

impl Token {
    pub fn render(&self) -> String {
        match *self {
            Self::Seed(n) => seed(n).to_owned(),
            Self::Spliced { header, claims, signature } => {
                format!(
                    "{}.{}.{}",
                    parts(seed(header))[0],
                    parts(seed(claims))[1],
                    parts(seed(signature))[2]
                )
            }
            Self::Edited { seed: n, at, byte } => {
                let mut bytes = seed(n).as_bytes().to_vec();
                let at = usize::from(at) % bytes.len();
                bytes[at] = byte;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Self::Truncated { seed: n, len } => {
                let token = seed(n);
                token[..usize::from(len) % token.len()].to_owned()
            }
            Self::OwnHeader { ref header, seed: n } => {
                let [_, claims, signature] = parts(seed(n));
                format!("{}.{claims}.{signature}", b64(header.as_bytes()))
            }
            Self::OwnClaims { ref claims, seed: n } => {
                let [header, _, signature] = parts(seed(n));
                format!("{header}.{}.{signature}", b64(claims.as_bytes()))
            }
            Self::Unsigned(n) => {
                let [header, claims, _] = parts(seed(n));
                format!("{header}.{claims}.")
            }
            Self::Text(ref text) => text.clone(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FormPart {
    Token(Token),
    Pair(String, String),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Body {
    Form(Vec<FormPart>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum ContentType {
    Form,
    FormCharset,
    FormOddCase,
    Json,
    Missing,
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum QueryPart {
    Iss,
    Sid(String),
    Pair(String, String),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Route {
    Backchannel,
    Frontchannel(Vec<QueryPart>),
}

/// One request to one of the provider-logout routes.
#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub route: Route,
    /// `None`: POST at the back channel, GET at the front channel.
    pub method: Option<u8>,
    pub content_type: ContentType,
    pub body: Body,
}

impl Input {
    /// The request, and the body bytes it carries.
    pub fn request(&self) -> Option<(Request<FuzzBody>, Vec<u8>)> {
        let body = match &self.body {
            Body::Raw(bytes) => bytes.clone(),
            Body::Form(parts) => {
                let mut form = String::new();
                let mut raw = Vec::new();
                for part in parts {
                    match part {
                        FormPart::Token(token) => {
                            push_pair(&mut form, "logout_token", &token.render())
                        }
                        FormPart::Pair(name, value) => push_pair(&mut form, name, value),
                        FormPart::Raw(bytes) => {
                            raw.push(b'&');
                            raw.extend_from_slice(bytes);
                        }
                    }
                }
                let mut form = form.into_bytes();
                form.extend_from_slice(&raw);
                form
            }
        };
        let content_type = match &self.content_type {
            ContentType::Form => {
                Some(HeaderValue::from_static("application/x-www-form-urlencoded"))
            }
            ContentType::FormCharset => {
                Some(HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"))
            }
            ContentType::FormOddCase => {
                Some(HeaderValue::from_static(" Application/X-WWW-Form-URLEncoded ;x=y"))
            }
            ContentType::Json => Some(HeaderValue::from_static("application/json")),
            ContentType::Missing => None,
            ContentType::Text(text) => Some(HeaderValue::from_str(text).ok()?),
            ContentType::Bytes(bytes) => Some(HeaderValue::from_bytes(bytes).ok()?),
        };
        let headers = content_type.map(|v| (header::CONTENT_TYPE, v)).into_iter().collect();
        let others = [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::PATCH,
            Method::POST,
        ];
        let (path, query, default) = match &self.route {
            Route::Backchannel => (BACKCHANNEL, Vec::new(), Method::POST),
            Route::Frontchannel(parts) => {
                let mut query = String::new();
                let mut raw = Vec::new();
                for part in parts {
                    match part {
                        QueryPart::Iss => push_pair(&mut query, "iss", ISSUER),
                        QueryPart::Sid(sid) => push_pair(&mut query, "sid", sid),
                        QueryPart::Pair(name, value) => push_pair(&mut query, name, value),
                        QueryPart::Raw(bytes) => {
                            raw.push(b'&');
                            raw.extend_from_slice(bytes);
                        }
                    }
                }
                let mut query = query.into_bytes();
                query.extend_from_slice(&raw);
                (FRONTCHANNEL, query, Method::GET)
            }
        };
        let method = self.method.map_or(default, |n| others[usize::from(n) % others.len()].clone());
        let request = crate::request(method, path, &query, headers, body.clone())?;
        Some((request, body))
    }
}
