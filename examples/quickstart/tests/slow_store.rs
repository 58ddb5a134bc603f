//! Fault injection with real processes: a slow store. A proxy in the test
//! sits between the quickstart and PostgreSQL and holds every chunk the
//! server sends for 200 ms (one added round trip delay), and the latency of
//! `POST /apps` at a moderate load (4 clients, 500 answers after 20 to warm
//! up) is measured against the fast store and against the slow one, in the
//! same run:
//!
//! - `buffered` and `spooled` responses do not wait for the store: with the
//!   slow store their median and p90 stay within 2 × the fast store's plus
//!   5 ms, a floor without which sub-millisecond medians would make the
//!   ratio a measure of scheduling noise;
//! - `confirmed` responses wait for the commit, so they slow down by
//!   design: measured and printed, not asserted.
//!
//! How each run stopped is printed too, not asserted: a PostgreSQL write
//! is a dozen round trips (about 2.5 s here), and the spool's drainer
//! stores the batches handed to it one transaction each, so after a
//! buffered or spooled run against the slow store the graceful stop can
//! outlast the quickstart's 10 s shutdown deadline; what is left stays in
//! the spool, stored at the next start.
//!
//! The proxy forwards to the server's Unix socket (the throwaway cluster's,
//! or `AUDIT_TEST_DATABASE_URL`'s if it names one; otherwise the test says
//! so and skips).

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use support::{Load, Service, TestStore};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UnixStream};

/// What the proxy adds to every chunk from the server.
const DELAY: Duration = Duration::from_millis(200);

/// The latency allowed to buffered and spooled responses with the slow
/// store: `RATIO` × the fast store's, plus `FLOOR`.
const RATIO: u32 = 2;
const FLOOR: Duration = Duration::from_millis(5);

const CLIENTS: usize = 4;
const WARM_UP: usize = 20;

/// A URL for the same database through a proxy that delays everything the
/// server sends by [`DELAY`], or `None` when `url` names no Unix socket.
async fn slow_url(url: &str) -> Option<String> {
    let options: PgConnectOptions = url.parse().unwrap();
    let socket = options.get_socket()?.join(format!(".s.PGSQL.{}", options.get_port()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client, socket.clone()));
        }
    });
    let user = options.get_username();
    let database = options.get_database().unwrap_or(user);
    Some(format!("postgres://{user}@127.0.0.1:{port}/{database}"))
}

/// Forwards between `client` and the server at `socket` until either side
/// closes.
async fn forward(client: TcpStream, socket: PathBuf) {
    let Ok(server) = UnixStream::connect(socket).await else {
        return;
    };
    // The quickstart's own requests must not wait for Nagle either.
    client.set_nodelay(true).unwrap();
    let (mut from_client, mut to_client) = client.into_split();
    let (from_server, mut to_server) = server.into_split();
    tokio::select! {
        _ = tokio::io::copy(&mut from_client, &mut to_server) => {}
        () = delayed_copy(from_server, &mut to_client) => {}
    }
}

/// Copies `from` to `to`, each chunk [`DELAY`] after it was read: a delay
/// line, so that chunks read together leave together instead of each
/// waiting for the delays of those before it.
async fn delayed_copy(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) {
    let (chunks, mut due) = tokio::sync::mpsc::unbounded_channel();
    let reading = async move {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = from.read(&mut buffer).await {
            let _ = chunks.send((tokio::time::Instant::now() + DELAY, buffer[..read].to_vec()));
        }
    };
    let writing = async move {
        while let Some((at, chunk)) = due.recv().await {
            // The fault itself: the server's answer arrives late.
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(reading, writing);
}

/// The median and p90 latency of `POST /apps`, how many were refused, and
/// how the quickstart stopped.
struct Latency {
    median: Duration,
    p90: Duration,
    refused: usize,
    stopped: String,
}

impl Latency {
    /// Whether both figures stay within [`RATIO`] × `fast`'s plus [`FLOOR`].
    fn within_bound_of(&self, fast: &Self) -> bool {
        self.median <= fast.median * RATIO + FLOOR && self.p90 <= fast.p90 * RATIO + FLOOR
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            median,
            p90,
            refused,
            stopped,
        } = self;
        write!(
            f,
            "median {median:.2?}, p90 {p90:.2?}, {refused} refused; then {stopped:?}"
        )
    }
}

/// Serves the quickstart on `url` in `delivery` mode, measures `answers`
/// answers after [`WARM_UP`] under [`CLIENTS`] concurrent clients, then
/// stops it gracefully.
async fn measure(url: &str, store: &TestStore, delivery: &str, answers: usize) -> Latency {
    let service = Service::start_at(url, &store.dir, &["--delivery", delivery]).await;
    let (load, tasks) = Load::start(&service.base, CLIENTS);
    load.wait_for(WARM_UP).await;
    let measured_from = Instant::now();
    load.wait_for(WARM_UP + answers).await;
    let seen = load.finish(tasks).await;
    // Not asserted: against the slow store the drain may outlast the
    // quickstart's shutdown deadline, which keeps the rest in the spool.
    service.terminate().await;
    let measured: Vec<_> = seen.answers.iter().filter(|a| a.sent >= measured_from).collect();
    let mut took: Vec<Duration> = measured.iter().map(|a| a.took).collect();
    took.sort_unstable();
    Latency {
        median: took[took.len() / 2],
        p90: took[took.len() * 9 / 10],
        refused: measured.iter().filter(|a| a.refused_because.is_some()).count(),
        stopped: store.stderr().lines().last().unwrap_or_default().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_confirmed_responses_wait_for_a_slow_store() {
    // Confirmed waits for a dozen round trips per batch: fewer answers.
    for (delivery, answers) in [("buffered", 500), ("spooled", 500), ("confirmed", 20)] {
        // A database and spool per mode: what one run leaves in its spool
        // is not replayed into the next one's measurement.
        let Some(store) = TestStore::postgres().await else {
            return;
        };
        let Some(slow) = slow_url(&store.url()).await else {
            eprintln!("skipped: the slow store is a proxy to a Unix socket, and the server has none");
            return;
        };
        let fast = measure(&store.url(), &store, delivery, answers).await;
        let slowed = measure(&slow, &store, delivery, answers).await;
        eprintln!("postgres {delivery}, {answers} answers:\n  fast store: {fast}\n  slow store (+{DELAY:?}): {slowed}");
        if delivery != "confirmed" {
            assert!(slowed.within_bound_of(&fast), "{delivery} waits for the slow store");
            assert_eq!(slowed.refused, 0, "{delivery} refused requests");
        }
    }
}
