//! Escaping for the examples' pages: every value written into HTML goes through it.

/// `text` made safe for HTML text and quoted attribute values.
///
/// A `ReturnTarget` holds no `<`, `>`, `"`, `'` or backtick, but its `&`
/// still needs escaping, and the provider's `logout` value is anything at all.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
