//! The logout `state`: minted per sign-out, sealed in a cookie, opened at the callback.
//!
//! The `state` sent to the provider is 128 random bits in base64url. The
//! browser keeps a cookie holding the same bits, their expiry and the return
//! target, authenticated with a keyed BLAKE3 MAC. Nothing in it is secret (the
//! user chose the target, and the bits travel in the URL too), so it is
//! authenticated, not encrypted. No server keeps anything: any instance with
//! the key validates any callback.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{
    base64url,
    error::ConfigError,
    target::{MAX_RETURN_TARGET_LEN, ReturnTarget},
};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + 8 + NONCE_LEN;
const MIN_SECRET_LEN: usize = 32;

/// How long a sign-out may take at the provider unless the app says otherwise:
/// the state, and the cookie that holds it, expire after it.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(300);
/// The shortest state lifetime accepted: a provider's sign-out page needs some seconds.
pub const MIN_STATE_TTL: Duration = Duration::from_secs(10);
/// The longest state lifetime accepted: it bounds how long a copied state
/// cookie stays usable (SECURITY.md, "What single use means").
pub const MAX_STATE_TTL: Duration = Duration::from_secs(3600);

/// The lifetime in whole seconds, if it is within [`MIN_STATE_TTL`]..=[`MAX_STATE_TTL`].
pub(crate) fn ttl_secs(ttl: Duration) -> Result<u64, ConfigError> {
    let secs = ttl.as_secs();
    if (MIN_STATE_TTL.as_secs()..=MAX_STATE_TTL.as_secs()).contains(&secs) {
        Ok(secs)
    } else {
        Err(ConfigError::InvalidStateTtl {
            secs,
            min: MIN_STATE_TTL.as_secs(),
            max: MAX_STATE_TTL.as_secs(),
            default: DEFAULT_STATE_TTL.as_secs(),
        })
    }
}

/// Length of the `state` parameter: 16 bytes in base64url without padding.
pub(crate) const STATE_PARAM_LEN: usize = 22;
/// Longest sealed cookie value we will try to open.
pub(crate) const MAX_SEALED_LEN: usize =
    (HEADER_LEN + MAX_RETURN_TARGET_LEN + TAG_LEN).div_ceil(3) * 4;

/// The secret that seals the logout state.
///
/// Every instance of the app must be given the same key, so that a callback
/// landing on any instance validates. At least 32 bytes of randomness;
/// `Debug` never shows it.
///
/// ```
/// use tower_oidc_logout::StateKey;
///
/// let key = StateKey::from_base64("cGxlYXNlIHVzZSBhIHJlYWwgcmFuZG9tIGtleSBoZXJlIQ==")?;
/// assert!(StateKey::from_bytes(b"too short").is_err());
/// # Ok::<(), tower_oidc_logout::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct StateKey {
    id: [u8; KEY_ID_LEN],
    mac_key: [u8; 32],
}

impl StateKey {
    /// A key from secret bytes (at least 32, not all the same byte).
    pub fn from_bytes(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::WeakStateKey("it is shorter than 32 bytes"));
        }
        if secret.iter().all(|&b| b == secret[0]) {
            return Err(ConfigError::WeakStateKey("all its bytes are the same"));
        }
        let id = blake3::derive_key("tower-oidc-logout 2026-11 state key id", secret);
        Ok(Self {
            id: [id[0], id[1], id[2], id[3]],
            mac_key: blake3::derive_key("tower-oidc-logout 2026-11 state MAC key", secret),
        })
    }

    /// A key from base64 text (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<Self, ConfigError> {
        let text: Vec<u8> = text
            .trim()
            .trim_end_matches('=')
            .bytes()
            .map(|b| match b {
                b'+' => b'-',
                b'/' => b'_',
                other => other,
            })
            .collect();
        let mut secret = vec![0u8; text.len()];
        let len =
            base64url::decode_into(&text, &mut secret).ok_or(ConfigError::StateKeyNotBase64)?;
        Self::from_bytes(&secret[..len])
    }

    /// A fresh random key, for a single instance or a demo.
    ///
    /// Logouts in flight when the process restarts will fail their callback:
    /// for anything that restarts or scales out, load a shared key instead.
    pub fn generate() -> Result<Self, ConfigError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| ConfigError::Randomness)?;
        Self::from_bytes(secret)
    }

    /// A fresh random secret as base64url, ready to store in the app's
    /// settings and read back with [`from_base64`](Self::from_base64).
    pub fn generate_base64() -> Result<String, ConfigError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| ConfigError::Randomness)?;
        Ok(base64url::encode(&secret))
    }

    fn tag(&self, sealed: &[u8]) -> [u8; TAG_LEN] {
        let hash = blake3::keyed_hash(&self.mac_key, sealed);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&hash.as_bytes()[..TAG_LEN]);
        tag
    }
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey").finish_non_exhaustive()
    }
}

/// Where "now" comes from; injectable so expiry is testable without waiting.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Whole seconds since the Unix epoch (0 for a time before it).
pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// Whole seconds since the Unix epoch by `clock`.
#[cfg(feature = "provider-logout")]
pub(crate) fn now_secs(clock: &Clock) -> u64 {
    unix_secs(clock())
}

/// The current key, which seals, and older keys that still open.
#[derive(Clone)]
pub(crate) struct KeyRing {
    current: StateKey,
    previous: Vec<StateKey>,
    ttl_secs: u64,
    clock: Option<Clock>,
}

/// A sign-out's fresh state, drawn before anything changes: 128 random bits,
/// their expiry, and their text for the `state` parameter. Sealed straight
/// into its cookie once the response is written.
pub(crate) struct Minted {
    nonce: [u8; NONCE_LEN],
    expires_at: u64,
    state: [u8; STATE_PARAM_LEN],
}

impl Minted {
    /// The `state` parameter: the random bits in base64url.
    pub(crate) fn state(&self) -> &[u8; STATE_PARAM_LEN] {
        &self.state
    }
}

/// A sealed state that opened: authentic and unexpired.
#[derive(Debug)]
pub(crate) struct Opened {
    nonce: [u8; NONCE_LEN],
    pub(crate) expires_at: u64,
    pub(crate) return_target: Option<ReturnTarget>,
}

/// Why a sealed state did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    Tampered,
    Expired,
}

impl Opened {
    /// Whether `state` (the decoded parameter) is the one sealed, in constant time.
    pub(crate) fn matches(&self, state: &[u8; NONCE_LEN]) -> bool {
        constant_time_eq::constant_time_eq_16(&self.nonce, state)
    }
}

impl KeyRing {
    pub(crate) fn new(
        current: StateKey,
        previous: Vec<StateKey>,
        ttl_secs: u64,
        clock: Option<Clock>,
    ) -> Self {
        Self { current, previous, ttl_secs, clock }
    }

    pub(crate) fn now(&self) -> u64 {
        unix_secs(self.clock.as_ref().map_or_else(SystemTime::now, |clock| clock()))
    }

    /// Draws 128 random bits and fixes their expiry.
    pub(crate) fn mint(&self) -> Result<Minted, getrandom::Error> {
        let nonce = random_nonce()?;
        let mut state = [0u8; STATE_PARAM_LEN];
        base64url::encode_to_slice(&nonce, &mut state);
        Ok(Minted { nonce, expires_at: self.now().saturating_add(self.ttl_secs), state })
    }

    /// Length of the sealed cookie value that [`seal_into`](Self::seal_into)
    /// writes for `return_target`.
    pub(crate) fn sealed_len(return_target: Option<&ReturnTarget>) -> usize {
        let target_len = return_target.map_or(0, |t| t.as_str().len());
        base64url::encoded_len(HEADER_LEN + target_len + TAG_LEN)
    }

    /// Seals the minted bits, their expiry and the return target under the
    /// current key, appending the cookie value (base64url) to `out`.
    pub(crate) fn seal_into(
        &self,
        minted: &Minted,
        return_target: Option<&ReturnTarget>,
        out: &mut Vec<u8>,
    ) {
        let target = return_target.map_or(&[][..], |t| t.as_str().as_bytes());
        let mut buf = [0u8; HEADER_LEN + MAX_RETURN_TARGET_LEN + TAG_LEN];
        let body_len = HEADER_LEN + target.len();
        buf[0] = VERSION;
        buf[1..1 + KEY_ID_LEN].copy_from_slice(&self.current.id);
        buf[1 + KEY_ID_LEN..HEADER_LEN - NONCE_LEN]
            .copy_from_slice(&minted.expires_at.to_be_bytes());
        buf[HEADER_LEN - NONCE_LEN..HEADER_LEN].copy_from_slice(&minted.nonce);
        buf[HEADER_LEN..body_len].copy_from_slice(target);
        let tag = self.current.tag(&buf[..body_len]);
        buf[body_len..body_len + TAG_LEN].copy_from_slice(&tag);
        base64url::encode_into(&buf[..body_len + TAG_LEN], out);
    }

    /// Opens a sealed cookie value: authentic under a known key, then unexpired.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Opened, OpenError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(OpenError::Tampered);
        }
        let mut buf = [0u8; MAX_SEALED_LEN];
        let len = base64url::decode_into(sealed, &mut buf).ok_or(OpenError::Tampered)?;
        let bytes = &buf[..len];
        if len < HEADER_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(OpenError::Tampered);
        }
        let (body, tag) = bytes.split_at(len - TAG_LEN);
        // The 4-byte id only narrows the search: two keys may share one, so
        // every key that has it is tried.
        let key_id = &body[1..1 + KEY_ID_LEN];
        let authentic = std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|key| key.id == key_id)
            .any(|key| constant_time_eq::constant_time_eq(&key.tag(body), tag));
        if !authentic {
            return Err(OpenError::Tampered);
        }

        let mut expires = [0u8; 8];
        expires.copy_from_slice(&body[1 + KEY_ID_LEN..1 + KEY_ID_LEN + 8]);
        let expires_at = u64::from_be_bytes(expires);
        if self.now() >= expires_at {
            return Err(OpenError::Expired);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&body[HEADER_LEN - NONCE_LEN..HEADER_LEN]);
        let target = &body[HEADER_LEN..];
        let return_target = if target.is_empty() {
            None
        } else {
            // Authentic, so it passed the check when sealed; re-check anyway.
            let target = std::str::from_utf8(target).map_err(|_| OpenError::Tampered)?;
            Some(ReturnTarget::parse(target).ok_or(OpenError::Tampered)?)
        };
        Ok(Opened { nonce, expires_at, return_target })
    }
}

/// Bytes of operating-system randomness fetched per system call and handed
/// out 16 at a time: the same CSPRNG output, one syscall per 32 states.
const POOL_LEN: usize = NONCE_LEN * 32;

struct RandomPool {
    bytes: [u8; POOL_LEN],
    next: usize,
}

thread_local! {
    static POOL: std::cell::RefCell<RandomPool> =
        const { std::cell::RefCell::new(RandomPool { bytes: [0; POOL_LEN], next: POOL_LEN }) };
}

/// 128 bits from the operating system's CSPRNG.
fn random_nonce() -> Result<[u8; NONCE_LEN], getrandom::Error> {
    POOL.with_borrow_mut(|pool| {
        if pool.next == POOL_LEN {
            getrandom::fill(&mut pool.bytes)?;
            pool.next = 0;
        }
        let taken = &mut pool.bytes[pool.next..pool.next + NONCE_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(taken);
        // Handed out once: wipe it so it cannot be handed out or read again.
        taken.fill(0);
        pool.next += NONCE_LEN;
        Ok(nonce)
    })
}

/// Decodes a `state` parameter into the 16 bytes it must carry.
pub(crate) fn decode_state(state: &str) -> Option<[u8; NONCE_LEN]> {
    if state.len() != STATE_PARAM_LEN {
        return None;
    }
    let mut nonce = [0u8; NONCE_LEN];
    base64url::decode_into(state.as_bytes(), &mut nonce)?;
    Some(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ring_at(now: Arc<std::sync::atomic::AtomicU64>, keys: &[&[u8]]) -> KeyRing {
        let mut keys = keys.iter().map(|k| StateKey::from_bytes(k).unwrap());
        let current = keys.next().unwrap();
        let clock: Clock = Arc::new(move || {
            UNIX_EPOCH + Duration::from_secs(now.load(std::sync::atomic::Ordering::SeqCst))
        });
        KeyRing::new(current, keys.collect(), DEFAULT_STATE_TTL.as_secs(), Some(clock))
    }

    const KEY_A: &[u8] = b"0123456789abcdef0123456789abcdef";
    const KEY_B: &[u8] = b"fedcba9876543210fedcba9876543210";

    /// Mints and seals, checking the sealed length promised for the buffer.
    fn seal(ring: &KeyRing, target: Option<&ReturnTarget>) -> (Minted, String) {
        let minted = ring.mint().unwrap();
        let mut out = b"prefix=".to_vec();
        ring.seal_into(&minted, target, &mut out);
        let sealed = String::from_utf8(out.split_off(7)).unwrap();
        assert_eq!(sealed.len(), KeyRing::sealed_len(target));
        (minted, sealed)
    }

    fn clock() -> Arc<std::sync::atomic::AtomicU64> {
        Arc::new(std::sync::atomic::AtomicU64::new(1_800_000_000))
    }

    #[test]
    fn round_trips_with_target() {
        let ring = ring_at(clock(), &[KEY_A]);
        let target = ReturnTarget::parse("/bye?x=1").unwrap();
        let (minted, sealed) = seal(&ring, Some(&target));
        assert_eq!(minted.state().len(), STATE_PARAM_LEN);
        let opened = ring.open(sealed.as_bytes()).unwrap();
        assert!(
            opened.matches(&decode_state(std::str::from_utf8(minted.state()).unwrap()).unwrap())
        );
        assert_eq!(opened.return_target, Some(target));
        assert_eq!(opened.expires_at, 1_800_000_300);
    }

    #[test]
    fn states_are_unique_and_unguessable() {
        let ring = ring_at(clock(), &[KEY_A]);
        let (a, a_sealed) = seal(&ring, None);
        let (b, _) = seal(&ring, None);
        assert_ne!(a.state(), b.state());
        let opened = ring.open(a_sealed.as_bytes()).unwrap();
        assert!(!opened.matches(&decode_state(std::str::from_utf8(b.state()).unwrap()).unwrap()));
    }

    #[test]
    fn expires_after_ttl() {
        let now = clock();
        let ring = ring_at(now.clone(), &[KEY_A]);
        let (_, sealed) = seal(&ring, None);
        now.fetch_add(299, std::sync::atomic::Ordering::SeqCst);
        assert!(ring.open(sealed.as_bytes()).is_ok());
        now.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(ring.open(sealed.as_bytes()).unwrap_err(), OpenError::Expired);
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let ring = ring_at(clock(), &[KEY_A]);
        let target = ReturnTarget::parse("/t").unwrap();
        let (_, sealed) = seal(&ring, Some(&target));
        let raw = {
            let mut raw = vec![0u8; MAX_SEALED_LEN];
            let len = base64url::decode_into(sealed.as_bytes(), &mut raw).unwrap();
            raw.truncate(len);
            raw
        };
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let bad = base64url::encode(&bad);
            assert_eq!(ring.open(bad.as_bytes()).unwrap_err(), OpenError::Tampered, "byte {i}");
        }
        assert_eq!(ring.open(b"").unwrap_err(), OpenError::Tampered);
        assert_eq!(ring.open(b"!!!").unwrap_err(), OpenError::Tampered);
        let huge = "A".repeat(MAX_SEALED_LEN + 1);
        assert_eq!(ring.open(huge.as_bytes()).unwrap_err(), OpenError::Tampered);
    }

    #[test]
    fn rotation_keeps_old_states_valid_until_the_key_is_dropped() {
        let now = clock();
        let old = ring_at(now.clone(), &[KEY_A]);
        let (_, sealed) = seal(&old, None);
        let rotated = ring_at(now.clone(), &[KEY_B, KEY_A]);
        assert!(rotated.open(sealed.as_bytes()).is_ok());
        let dropped = ring_at(now, &[KEY_B]);
        assert_eq!(dropped.open(sealed.as_bytes()).unwrap_err(), OpenError::Tampered);
    }

    #[test]
    fn keys_sharing_an_id_both_open_their_states() {
        // Found by a birthday search: two secrets whose 4-byte key ids collide.
        const A: &[u8] = b"0000000000000000000000000001fde5";
        const B: &[u8] = b"000000000000000000000000000327dd";
        let (a, b) = (StateKey::from_bytes(A).unwrap(), StateKey::from_bytes(B).unwrap());
        assert_eq!(a.id, b.id, "the pair no longer collides");
        let now = clock();
        let (_, sealed_a) = seal(&ring_at(now.clone(), &[A]), None);
        let (_, sealed_b) = seal(&ring_at(now.clone(), &[B]), None);
        for ring in [ring_at(now.clone(), &[A, B]), ring_at(now, &[B, A])] {
            assert!(ring.open(sealed_a.as_bytes()).is_ok(), "state sealed under A refused");
            assert!(ring.open(sealed_b.as_bytes()).is_ok(), "state sealed under B refused");
        }
    }

    #[test]
    fn keys_must_be_strong() {
        assert!(StateKey::from_bytes([7u8; 64]).is_err());
        assert!(StateKey::from_bytes([1u8; 31]).is_err());
        assert!(StateKey::from_base64("not base64 !").is_err());
        let text = StateKey::generate_base64().unwrap();
        assert!(StateKey::from_base64(&text).is_ok());
        assert_eq!(format!("{:?}", StateKey::generate().unwrap()), "StateKey { .. }");
    }

    #[test]
    fn decode_state_is_strict() {
        assert!(decode_state("AAAAAAAAAAAAAAAAAAAAAA").is_some());
        assert!(decode_state("AAAAAAAAAAAAAAAAAAAAA").is_none());
        assert!(decode_state("AAAAAAAAAAAAAAAAAAAAAAA").is_none());
        assert!(decode_state("AAAAAAAAAAAAAAAAAAAAA+").is_none());
        // Trailing bits that do not fit 16 bytes are rejected by the decoder.
        assert!(decode_state("AAAAAAAAAAAAAAAAAAAAAB").is_none());
    }
}
