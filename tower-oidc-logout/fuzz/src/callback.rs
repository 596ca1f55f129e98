//! The `callback` target's input: a query of real, edited and made-up
//! states, and any cookies. Here rather than in the target so that a test
//! can decode the committed corpus (`tests/corpus.rs`).

use http::{Method, Request, header::COOKIE};
use libfuzzer_sys::arbitrary::{self, Arbitrary};

use crate::{CALLBACK_PATH, CookiePart, FuzzBody, Seed, cookie_headers, issued, push_pair};

/// One pair of the callback's query.
#[derive(Arbitrary, Debug)]
pub enum QueryPart {
    State(Seed),
    EditedState { seed: Seed, at: u8, ch: u8 },
    StateText(String),
    Logout(String),
    Pair(String, String),
    Raw(Vec<u8>),
}

/// A post-logout callback as the fuzzer describes it.
#[derive(Arbitrary, Debug)]
pub struct Input {
    pub not_get: Option<u8>,
    pub query: Vec<QueryPart>,
    pub cookies: Vec<CookiePart>,
    pub cookies_per_header: u8,
}

impl Input {
    /// The request at the callback path; `None` if the parts form no valid URI.
    pub fn request(&self) -> Option<Request<FuzzBody>> {
        let mut query = String::new();
        let mut raw = Vec::new();
        for part in &self.query {
            match part {
                QueryPart::State(seed) => push_pair(&mut query, "state", &issued(*seed).state),
                QueryPart::EditedState { seed, at, ch } => {
                    let mut state = issued(*seed).state.clone().into_bytes();
                    let at = usize::from(*at) % state.len();
                    state[at] = *ch;
                    push_pair(&mut query, "state", &String::from_utf8_lossy(&state));
                }
                QueryPart::StateText(text) => push_pair(&mut query, "state", text),
                QueryPart::Logout(text) => push_pair(&mut query, "logout", text),
                QueryPart::Pair(name, value) => push_pair(&mut query, name, value),
                QueryPart::Raw(bytes) => {
                    raw.push(b'&');
                    raw.extend_from_slice(bytes);
                }
            }
        }
        let mut query = query.into_bytes();
        query.extend_from_slice(&raw);

        let method = match self.not_get {
            None => Method::GET,
            Some(n) => [Method::POST, Method::HEAD, Method::PUT, Method::OPTIONS]
                [usize::from(n) % 4]
                .clone(),
        };
        let headers = cookie_headers(&self.cookies, self.cookies_per_header)
            .into_iter()
            .map(|value| (COOKIE, value))
            .collect();
        crate::request(method, CALLBACK_PATH, &query, headers, Vec::new())
    }
}
