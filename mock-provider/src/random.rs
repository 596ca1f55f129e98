//! Random identifiers: session IDs, codes, tokens.

use std::fmt::Write as _;

/// `bytes` random bytes from the OS, as lowercase hex; `None` if it has no randomness.
pub(crate) fn random_hex(bytes: usize) -> Option<String> {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).ok()?;
    Some(random.iter().fold(String::with_capacity(bytes * 2), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}
