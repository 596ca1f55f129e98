//! Cost of validating one ES256 logout token end to end, against the raw cost
//! of jsonwebtoken verifying the same signature with the same key.
//!
//! `cargo bench --bench logout_token --features backchannel`. The difference
//! is this crate's own work: splitting, base64url, the header and claims as
//! JSON, key selection, every rule of section 2.6 and the result's strings.

use std::{
    future::Future,
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, crypto, jwk::Jwk};
use serde_json::json;
use tower_oidc_logout::provider_logout::{KeySet, LogoutTokenValidator};

const ISSUER: &str = "https://op.example";
const CLIENT_ID: &str = "client-1";

/// Polls a future that completes without waiting (validation with given keys does).
fn run<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("validation with given keys never waits"),
    }
}

fn encode(value: &serde_json::Value) -> String {
    use std::fmt::Write;
    // base64url without padding, enough for a benchmark's fixture.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = serde_json::to_vec(value).unwrap();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            let _ = out.write_char(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn logout_token(c: &mut Criterion) {
    let key = EncodingKey::from_ec_der(include_bytes!("../tests/data/keys/es256.pk8.der"));
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
    jwk["kid"] = json!("k1");
    let jwks = serde_json::to_vec(&json!({ "keys": [jwk.clone()] })).unwrap();
    let validator = LogoutTokenValidator::builder()
        .issuer(ISSUER)
        .client_id(CLIENT_ID)
        .keys(KeySet::from_jwks(&jwks).unwrap())
        .build()
        .unwrap();

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let header = json!({ "alg": "ES256", "typ": "logout+jwt", "kid": "k1" });
    let claims = json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 3600,
        "jti": "bWJq",
        "sub": "248289761001",
        "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let message = format!("{}.{}", encode(&header), encode(&claims));
    let signature = crypto::sign(message.as_bytes(), &key, Algorithm::ES256).unwrap();
    let token = format!("{message}.{signature}");
    run(validator.validate(&token)).expect("the fixture is a valid logout token");

    let decoding_key =
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
            .unwrap();
    assert!(
        crypto::verify(&signature, message.as_bytes(), &decoding_key, Algorithm::ES256).unwrap()
    );

    let mut group = c.benchmark_group("logout_token_es256");
    group.bench_function("jsonwebtoken_crypto_verify", |b| {
        b.iter(|| {
            crypto::verify(
                black_box(&signature),
                black_box(message.as_bytes()),
                &decoding_key,
                Algorithm::ES256,
            )
        })
    });
    group.bench_function("validate_end_to_end", |b| {
        b.iter(|| run(validator.validate(black_box(&token))))
    });
    group.finish();

    // On a shared machine the two figures above drift with the load between their runs.
    // Alternating the two calls, and comparing medians, cancels most of that drift.
    const PAIRS: usize = 3000;
    let (mut raw, mut ours) = (Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS));
    for _ in 0..PAIRS {
        let started = Instant::now();
        black_box(crypto::verify(
            black_box(&signature),
            black_box(message.as_bytes()),
            &decoding_key,
            Algorithm::ES256,
        ))
        .ok();
        let between = Instant::now();
        black_box(run(validator.validate(black_box(&token)))).ok();
        raw.push(between - started);
        ours.push(between.elapsed());
    }
    raw.sort();
    ours.sort();
    let (raw, ours) = (raw[PAIRS / 2], ours[PAIRS / 2]);
    println!(
        "interleaved medians over {PAIRS} pairs: crypto::verify {raw:?}, validate {ours:?}, \
         the crate's own work {:+.1}%",
        (ours.as_secs_f64() / raw.as_secs_f64() - 1.0) * 100.0
    );
}

criterion_group!(benches, logout_token);
criterion_main!(benches);
