//! Many users signing out at once, several tabs each, over loopback, with two
//! instances of the app that share a key: every callback lands on the
//! instance that did not issue its state.
//!
//! Each user has one cookie jar; each tab sends what the jar holds when it
//! sends (its view). Checked: every callback with its own state and cookie
//! passes and hands back its own return target; every crossed state is
//! refused; a replay by a browser that applied the callback's cookie removal
//! is refused; nothing is lost (every sign-out and every callback counted).

use crate::wire;

use std::{
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio::task::JoinSet;
use wire::{Jar, KEY, Reply, TTL, callback, serve, sign_out, state_cookie_name};

const USERS: usize = 64;
const TABS: usize = 4;
/// The whole test must finish well within this, on 2 cores.
const BUDGET: Duration = Duration::from_secs(30);

/// One tab's sign-out: what the provider was sent, and the cookie it got.
#[derive(Debug, Clone)]
struct Tab {
    user: usize,
    tab: usize,
    state: String,
    cookie_name: String,
    sealed: String,
}

fn return_to(user: usize, tab: usize) -> String {
    format!("/user/{user}/tab/{tab}")
}

/// Runs `count` requests at once and returns the answers in order.
async fn all_at_once<F, Fut>(count: usize, make: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let mut set = JoinSet::new();
    for i in 0..count {
        let request = make(i);
        set.spawn(async move { (i, request.await) });
    }
    let mut replies = vec![None; count];
    while let Some(done) = set.join_next().await {
        let (i, reply) = done.unwrap();
        replies[i] = Some(reply);
    }
    replies.into_iter().map(Option::unwrap).collect()
}

fn refused(reply: &Reply, code: &str, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {reply:?}");
    assert_eq!(reply.code().as_deref(), Some(code), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_sign_outs_across_two_instances() {
    tokio::time::timeout(BUDGET, run()).await.expect("finished within the budget");
}

async fn run() {
    let started = Instant::now();
    // Two instances, separate layers and listeners, one shared key.
    let instances = [serve(KEY).await, serve(KEY).await];
    let addrs = [instances[0].addr, instances[1].addr];
    let jars: Arc<Vec<Mutex<Jar>>> = Arc::new(
        (0..USERS)
            .map(|u| Mutex::new(Jar::with(&[("__Host-session", &format!("session-{u}"))])))
            .collect(),
    );
    let total = USERS * TABS;
    let who = |i: usize| (i / TABS, i % TABS);

    // 1. Every tab of every user signs out at once, on one instance or the other.
    let replies = all_at_once(total, |i| {
        let (user, tab) = who(i);
        let view = jars[user].lock().unwrap().clone();
        let addr = addrs[i % 2];
        async move { sign_out(addr, &view, Some(&return_to(user, tab))).await }
    })
    .await;
    let mut tabs = Vec::with_capacity(total);
    for (i, reply) in replies.iter().enumerate() {
        let (user, tab) = who(i);
        assert_eq!(reply.status, 303, "sign-out {user}/{tab}: {reply:?}");
        let state = reply.sent_state();
        let cookie_name = state_cookie_name(&state);
        let mut jar = jars[user].lock().unwrap();
        jar.apply(reply);
        assert_eq!(jar.get("__Host-session"), None, "session cookie expired");
        let sealed = jar.get(&cookie_name).expect("state cookie set").to_owned();
        tabs.push(Tab { user, tab, state, cookie_name, sealed });
    }
    let mut states: Vec<&str> = tabs.iter().map(|t| t.state.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    assert_eq!(states.len(), total, "every sign-out got a state of its own");
    for (user, jar) in jars.iter().enumerate() {
        assert_eq!(jar.lock().unwrap().state_cookies().len(), TABS, "user {user}");
    }
    let tabs = Arc::new(tabs);

    // 2. Crossed states, all at once, on the other instance; none may pass.
    //    Three per tab: another user's state with this user's cookies;
    //    another tab's state from a view without that tab's cookie; this
    //    tab's state with another tab's (authentic) cookie under its name.
    let crossed = all_at_once(3 * total, |i| {
        let me = &tabs[i / 3];
        let other_user = &tabs[(i / 3 + TABS * 7 + 1) % total];
        let other_tab = &tabs[me.user * TABS + (me.tab + 1) % TABS];
        let mut view = jars[me.user].lock().unwrap().clone();
        let (state, addr) = match i % 3 {
            0 => (other_user.state.clone(), addrs[(i / 3 + 1) % 2]),
            1 => {
                view.remove(&other_tab.cookie_name);
                (other_tab.state.clone(), addrs[i / 3 % 2])
            }
            _ => {
                view.insert(&me.cookie_name, &other_tab.sealed);
                (me.state.clone(), addrs[(i / 3 + 1) % 2])
            }
        };
        async move { callback(addr, &view, &state).await }
    })
    .await;
    for (i, reply) in crossed.iter().enumerate() {
        let me = &tabs[i / 3];
        let what = format!("crossed #{} for {}/{}", i % 3, me.user, me.tab);
        let code = if i % 3 == 2 { "state_mismatch" } else { "state_cookie_missing" };
        refused(reply, code, &what);
    }
    let passed = |instances: &[wire::Server; 2]| {
        instances.iter().map(|s| s.callbacks.load(Ordering::SeqCst)).sum::<usize>()
    };
    assert_eq!(passed(&instances), 0, "no crossed callback reached the app");

    // 3. Every tab's own callback, all at once, on the instance that did not
    //    issue it, with the user's cookies as they are now.
    let replies = all_at_once(total, |i| {
        let tab = &tabs[i];
        let view = jars[tab.user].lock().unwrap().clone();
        let (addr, state) = (addrs[(i + 1) % 2], tab.state.clone());
        async move { callback(addr, &view, &state).await }
    })
    .await;
    for (tab, reply) in tabs.iter().zip(&replies) {
        assert_eq!(reply.status, 200, "callback {}/{}: {reply:?}", tab.user, tab.tab);
        assert_eq!(
            reply.body_text(),
            format!("signed out\n{}", return_to(tab.user, tab.tab)),
            "each callback hands back its own tab's target"
        );
        jars[tab.user].lock().unwrap().apply(reply);
    }
    assert_eq!(passed(&instances), total, "nothing lost");
    for instance in &instances {
        assert_eq!(instance.callbacks.load(Ordering::SeqCst), total / 2, "evenly crossed");
    }
    for (user, jar) in jars.iter().enumerate() {
        assert!(jar.lock().unwrap().state_cookies().is_empty(), "user {user}: all used");
    }

    // 4. Replays by browsers that kept their cookies (and so applied the
    //    removals): all refused, on either instance.
    let replays = all_at_once(total, |i| {
        let tab = &tabs[i];
        let view = jars[tab.user].lock().unwrap().clone();
        let (addr, state) = (addrs[i % 2], tab.state.clone());
        async move { callback(addr, &view, &state).await }
    })
    .await;
    for (tab, reply) in tabs.iter().zip(&replays) {
        refused(reply, "state_cookie_missing", &format!("replay {}/{}", tab.user, tab.tab));
    }
    assert_eq!(passed(&instances), total, "no replay reached the app");
    eprintln!(
        "{total} sign-outs, {} crossed, {total} callbacks, {total} replays in {:?}",
        3 * total,
        started.elapsed()
    );
}

/// "Single use" with no server-side record: the callback expires the
/// cookie, and a browser that obeys cannot replay. A client that copied the
/// cookie value can, until the state's lifetime ends; SECURITY.md explains
/// why that is acceptable for a sign-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_state_cookie_replays_only_within_its_lifetime() {
    let server = serve(KEY).await;
    let mut jar = Jar::default();
    let out = sign_out(server.addr, &jar, Some("/bye")).await;
    jar.apply(&out);
    let state = out.sent_state();
    let copied = jar.clone();

    let first = callback(server.addr, &jar, &state).await;
    assert_eq!(first.status, 200, "{first:?}");
    jar.apply(&first);
    refused(&callback(server.addr, &jar, &state).await, "state_cookie_missing", "obeying browser");

    let within = callback(server.addr, &copied, &state).await;
    assert_eq!(within.status, 200, "a copied cookie replays within the lifetime: {within:?}");
    server.now.fetch_add(TTL, Ordering::SeqCst);
    refused(&callback(server.addr, &copied, &state).await, "state_expired", "after the lifetime");
    assert_eq!(server.callbacks.load(Ordering::SeqCst), 2);
}
