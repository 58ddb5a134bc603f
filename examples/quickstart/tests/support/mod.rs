//! The fault-injection suite's tools: the real `quickstart` binary as a
//! child process on a loopback port (its stderr logged and watched), a store
//! of each backend, and a load of concurrent `POST /apps` from two tenants
//! that keeps every answer it got: its request id, how long it took, and
//! why a 503 was refused.

#![allow(dead_code, reason = "each test binary uses part of the support module")]

#[path = "../../../../audit-store/tests/support/postgres.rs"]
pub(crate) mod postgres;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_store::{AuditQuery, Store};
use http::StatusCode;
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::{Notify, watch};

/// A store of one backend, and a work directory (the service's cwd, its
/// spool and its stderr), removed when dropped.
pub(crate) struct TestStore {
    pub(crate) dir: PathBuf,
    pg: Option<postgres::PgDatabase>,
}

impl TestStore {
    fn work_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("quickstart-faults-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A SQLite file in a fresh directory.
    pub(crate) fn sqlite() -> Self {
        Self {
            dir: Self::work_dir(),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (said why) where there is none.
    pub(crate) async fn postgres() -> Option<Self> {
        let pg = postgres::fresh_database().await?;
        Some(Self {
            dir: Self::work_dir(),
            pg: Some(pg),
        })
    }

    pub(crate) fn url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", self.dir.join("audit.db").display()),
        }
    }

    pub(crate) fn backend(&self) -> &'static str {
        if self.pg.is_some() { "postgres" } else { "sqlite" }
    }

    /// What the service wrote to stderr, every run of it.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    pub(crate) async fn connect(&self) -> Store {
        audit_store::connect(&self.url()).await.unwrap()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `quickstart` binary, serving on a loopback port.
pub(crate) struct Service {
    child: Child,
    pub(crate) base: String,
    /// What it wrote to stderr so far; closed once it exited and all of it
    /// is in `stderr.log`.
    stderr: watch::Receiver<String>,
}

impl Service {
    /// Starts the binary on `store` with `args` (e.g. `--delivery
    /// confirmed`), its spool under the store's directory, and waits until
    /// it listens.
    pub(crate) async fn start(store: &TestStore, args: &[&str]) -> Self {
        Self::start_at(&store.url(), &store.dir, args).await
    }

    pub(crate) async fn start_at(url: &str, dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quickstart"))
            .current_dir(dir)
            .args(["--addr", "127.0.0.1:0", "--database-url", url])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the quickstart binary runs");
        let mut stderr = copy_stderr(child.stderr.take().unwrap(), dir.join("stderr.log"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the quickstart says where it listens within a minute")
            .unwrap();
        let Some(first) = first else {
            while stderr.changed().await.is_ok() {}
            panic!("the quickstart exited before listening: {}", *stderr.borrow());
        };
        let base = first
            .rsplit_once(' ')
            .map(|(_, url)| url.to_owned())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        // Keep reading its stdout so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, base, stderr }
    }

    /// Resolves once the service has written `text` to stderr (a log line
    /// is how it says that the store went down or came back).
    ///
    /// # Panics
    /// When it exits without writing it.
    pub(crate) async fn logged(&mut self, text: &str) {
        let found = self.stderr.wait_for(|log| log.contains(text)).await.is_ok();
        assert!(
            found,
            "the quickstart exited without logging {text:?}: {}",
            *self.stderr.borrow()
        );
    }

    /// SIGKILL: no shutdown, no drain, nothing flushed.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.unwrap();
        self.stderr_closed().await;
    }

    /// SIGTERM, then waits for the graceful stop.
    pub(crate) async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("a graceful stop within a minute")
            .unwrap();
        self.stderr_closed().await;
        status
    }

    /// Resolves once all of the exited service's stderr is in `stderr.log`.
    async fn stderr_closed(&mut self) {
        while self.stderr.changed().await.is_ok() {}
    }
}

/// Appends `stderr`, line by line, to the file at `log` (every run of the
/// service adds to the same one) and to the returned watch, which closes
/// once the last line is in the file.
fn copy_stderr(stderr: ChildStderr, log: PathBuf) -> watch::Receiver<String> {
    let (sender, receiver) = watch::channel(String::new());
    tokio::spawn(async move {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .await
            .unwrap();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(mut line)) = lines.next_line().await {
            line.push('\n');
            file.write_all(line.as_bytes()).await.unwrap();
            file.flush().await.unwrap();
            sender.send_modify(|all| all.push_str(&line));
        }
    });
    receiver
}

/// The two tenants' demo tokens the load alternates between.
const TOKENS: [&str; 2] = ["acme-owner", "globex-admin"];

/// What a load saw: the request ids of the `201`s, every answer, and how
/// many requests got no answer.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) acknowledged: Vec<String>,
    pub(crate) answers: Vec<Answer>,
    pub(crate) unanswered: usize,
}

impl Seen {
    /// How many requests were answered 503.
    pub(crate) fn refused(&self) -> usize {
        self.answers.iter().filter(|a| a.refused_because.is_some()).count()
    }
}

/// One answered request: when it was sent, how long its answer took, and
/// for a 503 the `audit-unavailable-reason` it gave.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) sent: Instant,
    pub(crate) took: Duration,
    pub(crate) refused_because: Option<String>,
}

/// Concurrent `POST /apps` against `base` until `stop` is notified or the
/// service stops answering.
#[derive(Clone)]
pub(crate) struct Load {
    seen: Arc<Mutex<Seen>>,
    /// Signalled at every acknowledgement.
    progress: Arc<Notify>,
    stop: Arc<watch::Sender<bool>>,
}

impl Load {
    /// Starts `workers` clients against `base`.
    pub(crate) fn start(base: &str, workers: usize) -> (Self, tokio::task::JoinSet<()>) {
        let load = Self {
            seen: Arc::default(),
            progress: Arc::new(Notify::new()),
            stop: Arc::new(watch::Sender::new(false)),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..workers {
            let load = load.clone();
            let base = base.to_owned();
            tasks.spawn(async move { load.run(worker, &base).await });
        }
        (load, tasks)
    }

    async fn run(&self, worker: usize, base: &str) {
        let client: Client<HttpConnector, String> = Client::builder(TokioExecutor::new()).build_http();
        let mut stop = self.stop.subscribe();
        for n in 0.. {
            if *stop.borrow() {
                return;
            }
            let token = TOKENS[(worker + n) % TOKENS.len()];
            let request = http::Request::post(format!("{base}/apps"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(format!(r#"{{"name":"load {worker}-{n}"}}"#))
                .unwrap();
            let sent = Instant::now();
            let answer = tokio::select! {
                answer = client.request(request) => answer,
                _ = stop.changed() => return,
            };
            let Ok(response) = answer else {
                self.seen().unanswered += 1;
                return;
            };
            let status = response.status();
            let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
            let request_id = header("x-request-id");
            let reason = header("audit-unavailable-reason");
            // The body must arrive whole for the answer to count.
            if response.into_body().collect().await.is_err() {
                self.seen().unanswered += 1;
                return;
            }
            let took = sent.elapsed();
            let refused_because = match status {
                StatusCode::CREATED => None,
                StatusCode::SERVICE_UNAVAILABLE => Some(reason.expect("a 503 names its reason")),
                other => panic!("unexpected {other} from POST /apps"),
            };
            let mut seen = self.seen();
            if refused_because.is_none() {
                seen.acknowledged
                    .push(request_id.expect("every answer has a request id"));
                self.progress.notify_waiters();
            }
            seen.answers.push(Answer {
                sent,
                took,
                refused_because,
            });
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// How many requests were acknowledged so far.
    pub(crate) fn acknowledged(&self) -> usize {
        self.seen().acknowledged.len()
    }

    /// Resolves once `n` requests are acknowledged in all.
    pub(crate) async fn wait_for(&self, n: usize) {
        loop {
            let progress = self.progress.notified();
            if self.acknowledged() >= n {
                return;
            }
            progress.await;
        }
    }

    /// Stops the workers and returns what they saw.
    pub(crate) async fn finish(self, mut tasks: tokio::task::JoinSet<()>) -> Seen {
        self.stop.send_replace(true);
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        std::mem::take(&mut *self.seen())
    }
}

/// The request ids of every `app.created` event in the store.
pub(crate) async fn stored_request_ids(store: &Store) -> HashSet<String> {
    let created = audit_core::Action::from_static("app.created").unwrap();
    let mut scan = store.scan(&AuditQuery::new().action(created)).unwrap();
    let mut ids = HashSet::new();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        for event in batch {
            if let Some(id) = &event.context().request_id {
                ids.insert(id.clone());
            }
        }
    }
    ids
}

/// Every stream of the store verifies.
pub(crate) async fn assert_every_stream_verifies(store: &Store) {
    for stream in store.streams().await.unwrap() {
        let report = store.verify(&stream).await.unwrap();
        assert!(report.problem.is_none(), "{stream}: {report:?}");
    }
}
