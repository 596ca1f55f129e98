//! Reading `application/x-www-form-urlencoded` pairs (queries and form
//! bodies), once for every route: each parameter a route reads may appear at
//! most once.

use std::borrow::Cow;

use http::{HeaderMap, header::CONTENT_TYPE};
use url::form_urlencoded;

/// A parameter a route reads appeared more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repeated;

/// The values of `names` in `pairs`, each at most once (a second one is
/// [`Repeated`]); other parameters are skipped.
///
/// Decodes as [`form_urlencoded::parse`] does (pairs split at `&`, each at its
/// first `=`, `+` and `%XX` decoded, invalid UTF-8 replaced). Text that is
/// UTF-8 is read by [`params_once_str`].
pub(crate) fn params_once<'a, const N: usize>(
    pairs: &'a [u8],
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], Repeated> {
    match std::str::from_utf8(pairs) {
        Ok(text) => params_once_str(text, names),
        Err(_) => take_once(form_urlencoded::parse(pairs), names),
    }
}

/// [`params_once`] for text already known to be UTF-8 (a URI's query), in
/// one pass, borrowing the pairs that need no decoding: providers send ours
/// as is, so the callback's `state` is never copied.
pub(crate) fn params_once_str<'a, const N: usize>(
    pairs: &'a str,
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], Repeated> {
    // One pass over the bytes: pairs split at `&`, each at its first `=`,
    // noting whether it holds an escape. The callback's hot path: `split`,
    // `any` and `split_once` (three passes) cost ~380 instructions more per
    // callback under callgrind (BENCHMARKS.md).
    let bytes = pairs.as_bytes();
    let mut next = 0;
    let decoded = std::iter::from_fn(|| {
        while next < bytes.len() {
            let start = next;
            let (mut end, mut eq, mut escaped) = (start, None, false);
            while let Some(&b) = bytes.get(end).filter(|&&b| b != b'&') {
                match b {
                    b'=' if eq.is_none() => eq = Some(end),
                    b'%' | b'+' => escaped = true,
                    _ => {}
                }
                end += 1;
            }
            next = end + 1;
            let pair = &pairs[start..end];
            if pair.is_empty() {
                continue;
            }
            return Some(if escaped {
                form_urlencoded::parse(pair.as_bytes()).next().unwrap_or_default()
            } else {
                let (name, value) = match eq {
                    Some(eq) => (&pairs[start..eq], &pairs[eq + 1..end]),
                    None => (pair, ""),
                };
                (Cow::Borrowed(name), Cow::Borrowed(value))
            });
        }
        None
    });
    take_once(decoded, names)
}

/// The first value of each of `names` among `pairs`; [`Repeated`] on a second.
fn take_once<'a, const N: usize>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N], Repeated> {
    let mut found = [const { None }; N];
    for (name, value) in pairs {
        let Some(slot) = names.iter().position(|n| *n == name) else { continue };
        if found[slot].replace(value).is_some() {
            return Err(Repeated);
        }
    }
    Ok(found)
}

/// Whether `Content-Type` says `application/x-www-form-urlencoded` (any
/// case, parameters such as `charset` ignored).
pub(crate) fn has_form_body(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| {
        let essence = value.as_bytes().split(|&b| b == b';').next().unwrap_or_default();
        essence.trim_ascii().eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The reading every route had before this reader: `form_urlencoded::parse`, first match per name.
    fn reference<const N: usize>(
        pairs: &[u8],
        names: [&str; N],
    ) -> Result<[Option<String>; N], Repeated> {
        let mut found = [const { None }; N];
        for (name, value) in form_urlencoded::parse(pairs) {
            if let Some(slot) = names.iter().position(|n| *n == name) {
                if found[slot].is_some() {
                    return Err(Repeated);
                }
                found[slot] = Some(value.into_owned());
            }
        }
        Ok(found)
    }

    fn owned<const N: usize>(
        read: Result<[Option<Cow<'_, str>>; N], Repeated>,
    ) -> Result<[Option<String>; N], Repeated> {
        read.map(|values| values.map(|v| v.map(Cow::into_owned)))
    }

    /// Bytes that stress the reader: separators, escapes (valid or not), `+`, non-UTF-8.
    fn hostile() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"state".to_vec()),
            Just(b"logout".to_vec()),
            Just(b"st%61te".to_vec()),
            Just(b"=".to_vec()),
            Just(b"&".to_vec()),
            Just(b"+".to_vec()),
            Just(b"%".to_vec()),
            Just(b"%2".to_vec()),
            Just(b"%zz".to_vec()),
            Just(b"%C3%A9".to_vec()),
            Just("é".as_bytes().to_vec()),
            Just(b"\xff\xfe".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn reads_exactly_as_form_urlencoded_does(pairs in hostile()) {
            prop_assert_eq!(
                owned(params_once(&pairs, ["state", "logout"])),
                reference(&pairs, ["state", "logout"])
            );
        }
    }

    #[test]
    fn plain_values_are_borrowed_and_repeats_refused() {
        let [state, other] = params_once(b"x=1&state=abc&logout=&y", ["state", "nothing"]).unwrap();
        assert!(matches!(state, Some(Cow::Borrowed("abc"))));
        assert_eq!(other, None);
        assert_eq!(params_once(b"state=a&st%61te=b", ["state"]), Err(Repeated));
        let [decoded] = params_once(b"logout=a+b%21", ["logout"]).unwrap();
        assert_eq!(decoded.as_deref(), Some("a b!"));
    }
}
