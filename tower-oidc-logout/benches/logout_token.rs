//! Cost of validating one ES256 logout token end to end, against the raw cost
//! of jsonwebtoken verifying the same signature with the same key.
//!
//! `cargo bench -p tower-oidc-logout --bench logout_token --features provider-logout`. The difference
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
use jsonwebtoken::{Algorithm, DecodingKey, crypto};
use tower_oidc_logout::provider_logout::{KeySet, LogoutTokenValidator};
use tower_oidc_logout_mock::{LogoutTokenClaims, SigningKey};

const ISSUER: &str = "https://op.example";
const CLIENT_ID: &str = "client-1";
/// The secret of `tests/data/keys/es256.pk8.der`.
const ES256_SECRET: [u8; 32] = [
    0x53, 0x52, 0x77, 0x4a, 0xa0, 0x4b, 0x78, 0x7d, 0x8b, 0xe6, 0x1b, 0xba, 0x5a, 0xcc, 0x04, 0x30,
    0xb4, 0xa6, 0x45, 0x17, 0x6b, 0x5e, 0xc6, 0x25, 0x4e, 0x20, 0x25, 0x77, 0x57, 0xa2, 0xe1, 0x3c,
];

/// Polls a future that completes without waiting (validation with given keys does).
fn run<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("validation with given keys never waits"),
    }
}

fn logout_token(c: &mut Criterion) {
    // The library's test key (tests/data/keys/es256.pk8.der), through the mock's token kit.
    let key = SigningKey::from_secret(ES256_SECRET).unwrap().with_kid("k1");
    let validator = LogoutTokenValidator::builder()
        .issuer(ISSUER)
        .client_id(CLIENT_ID)
        .keys(KeySet::from_jwks(key.jwks().as_bytes()).unwrap())
        .build()
        .unwrap();

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let sid = "08a5019c-17e1-4977-8f42-65a12843ea02";
    let token =
        LogoutTokenClaims::new(ISSUER, CLIENT_ID, sid, "248289761001", now).jti("bWJq").sign(&key);
    let jwk = key.public_jwk();
    let (message, signature) = token.rsplit_once('.').expect("a compact JWS");
    run(validator.validate(&token)).expect("the fixture is a valid logout token");

    let decoding_key =
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
            .unwrap();
    assert!(
        crypto::verify(signature, message.as_bytes(), &decoding_key, Algorithm::ES256).unwrap()
    );

    let mut group = c.benchmark_group("logout_token_es256");
    group.bench_function("jsonwebtoken_crypto_verify", |b| {
        b.iter(|| {
            crypto::verify(
                black_box(signature),
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
            black_box(signature),
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
