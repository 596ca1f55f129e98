//! One home for turning (kind, iss, value) into a fixed-size name, whatever bytes they hold.

/// A 64-hex-digit BLAKE3 digest of `kind`, `iss` and `value`, each
/// length-prefixed, so that no two distinct triples share a name and no byte
/// of theirs (`:`, `{`, newlines, invalid UTF-8 escapes) reaches a key.
pub(crate) fn digest(kind: &str, iss: &str, value: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [kind, iss, value] {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn boundaries_between_parts_matter() {
        assert_ne!(digest("sid", "ab", "c"), digest("sid", "a", "bc"));
        assert_ne!(digest("sid", "a", "b"), digest("sub", "a", "b"));
        let name = digest("sid", "https://op.example\n{x}:", "\u{0}\u{ff}");
        assert_eq!(name.len(), 64);
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
