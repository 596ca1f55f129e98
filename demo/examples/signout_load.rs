//! The load client `scripts/signout-bench.sh` runs against the demo: each
//! measured sign-out needs a live session, so sessions are made first.
//!
//! ```text
//! signout_load sign-in  <demo base URL> <count> <concurrency>  > sessions.txt
//! signout_load sign-out <demo base URL> <concurrency>          < sessions.txt
//! ```
//!
//! `sign-in` calls `GET /login` `count` times and prints one session cookie a
//! line. `sign-out` sends `POST /logout` once per cookie read, times the
//! whole batch and prints `sign-outs=N seconds=S per_second=R`; any answer
//! other than `303` fails the run. Loopback only; at most 1,000,000 a run.

use std::{
    io::{BufRead, Write},
    process::ExitCode,
    sync::Arc,
    time::Instant,
};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio::sync::Semaphore;

const MAX_COUNT: usize = 1_000_000;
/// The demo's session cookie.
const SESSION_COOKIE: &str = "demo_session=";

type Http = Client<HttpConnector, Empty<Bytes>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let Ok(runtime) = runtime else {
        eprintln!("signout_load: could not start the runtime");
        return ExitCode::FAILURE;
    };
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["sign-in", base, count, concurrency] => {
            match (checked(base), number(count), number(concurrency)) {
                (Ok(base), Ok(count), Ok(concurrency)) => {
                    runtime.block_on(sign_in(base, count, concurrency))
                }
                (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => Err(e),
            }
        }
        ["sign-out", base, concurrency] => match (checked(base), number(concurrency)) {
            (Ok(base), Ok(concurrency)) => runtime.block_on(sign_out(base, concurrency)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        _ => Err("usage: signout_load sign-in <base URL> <count> <concurrency> \
                  | signout_load sign-out <base URL> <concurrency>"
            .to_owned()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("signout_load: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The base URL, if it is on the loopback interface.
fn checked(base: &str) -> Result<String, String> {
    let url = url::Url::parse(base).map_err(|e| format!("`{base}`: {e}"))?;
    match url.host_str() {
        Some("127.0.0.1" | "localhost" | "[::1]") => Ok(base.trim_end_matches('/').to_owned()),
        _ => Err(format!("`{base}` is not on loopback (127.0.0.1, localhost, [::1])")),
    }
}

fn number(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a count from 1 to {MAX_COUNT}")),
    }
}

fn client(concurrency: usize) -> Http {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(concurrency).build_http()
}

/// Sends one request; returns its status and `Set-Cookie` lines.
async fn send(
    http: &Http,
    method: Method,
    url: &str,
    cookie: Option<&str>,
) -> Result<(StatusCode, Vec<String>), String> {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
    let response = http.request(request).await.map_err(|e| format!("{url}: {e}"))?;
    let (parts, body) = response.into_parts();
    body.collect().await.map_err(|e| e.to_string())?;
    let cookies = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    Ok((parts.status, cookies))
}

/// Runs `work` on each item, `concurrency` at a time; the results in order.
async fn each<T, R, F>(items: Vec<T>, concurrency: usize, work: F) -> Result<Vec<R>, String>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> std::pin::Pin<Box<dyn Future<Output = Result<R, String>> + Send>>,
{
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(items.len());
    for item in items {
        let permit = permits.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        let future = work(item);
        tasks.push(tokio::spawn(async move {
            let result = future.await;
            drop(permit);
            result
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(results)
}

async fn sign_in(base: String, count: usize, concurrency: usize) -> Result<(), String> {
    let http = client(concurrency);
    let url = format!("{base}/login");
    let cookies = each(vec![(); count], concurrency, |()| {
        let (http, url) = (http.clone(), url.clone());
        Box::pin(async move {
            let (status, set) = send(&http, Method::GET, &url, None).await?;
            if status != StatusCode::SEE_OTHER {
                return Err(format!("GET /login answered {status}"));
            }
            set.iter()
                .find(|c| c.starts_with(SESSION_COOKIE))
                .and_then(|c| c.split(';').next())
                .map(str::to_owned)
                .ok_or_else(|| "GET /login set no session cookie".to_owned())
        })
    })
    .await?;
    let mut out = std::io::stdout().lock();
    for cookie in cookies {
        writeln!(out, "{cookie}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn sign_out(base: String, concurrency: usize) -> Result<(), String> {
    let sessions: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|line| line.starts_with(SESSION_COOKIE))
        .take(MAX_COUNT)
        .collect();
    if sessions.is_empty() {
        return Err("no session cookies on standard input".to_owned());
    }
    let http = client(concurrency);
    let url = format!("{base}/logout");
    let count = sessions.len();
    let started = Instant::now();
    each(sessions, concurrency, |cookie| {
        let (http, url) = (http.clone(), url.clone());
        Box::pin(async move {
            let (status, _) = send(&http, Method::POST, &url, Some(&cookie)).await?;
            if status == StatusCode::SEE_OTHER {
                Ok(())
            } else {
                Err(format!("POST /logout answered {status}"))
            }
        })
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!("sign-outs={count} seconds={seconds:.3} per_second={:.0}", count as f64 / seconds);
    Ok(())
}
