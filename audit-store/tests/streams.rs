//! Stream sinks over a real store, delivering to real receivers on
//! loopback: an axum server that records each delivery, checks its
//! signature with its own HMAC, and fails on demand (500, 429 with
//! `Retry-After`, no answer, an answer cut off, connections reset).

#![cfg(feature = "http")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_core::format::EventFormat;
use audit_core::{Action, Actor, AuditSink, Event, RetryPolicy};
use audit_store::Store;
use audit_store::http::AdminApi;
use audit_store::stream::{
    Batch, DeliverFuture, Destination, DestinationError, SinkOptions, StartAt, StreamSink, Streamer, WebhookBody,
    WebhookSink,
};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::TestDb;
use support::loopback::Loopback;
use tokio::sync::Notify;

on_both_backends!(
    every_event_arrives_once_through_failures_signed_and_in_order,
    retry_after_is_obeyed,
    a_tenants_destination_receives_only_that_tenants_events,
    a_dead_receiver_is_reported_and_caught_up_from_the_store,
    positions_survive_a_restart_and_a_new_sink_may_start_at_the_heads,
    events_purged_before_delivery_are_counted_as_skipped,
    destinations_are_checked_kept_and_removed_with_their_positions,
);

const SECRET: &[u8] = b"whsec_streams_test_0123456789";
/// Long enough for any test's deliveries on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
    }
}

fn event(tenant: Option<&str>, n: usize) -> Event {
    let builder = Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{n}")));
    match tenant {
        Some(tenant) => builder.tenant(tenant).build(),
        None => builder.build(),
    }
}

async fn write(store: &Store, tenant: Option<&str>, count: usize) -> Vec<String> {
    let events: Vec<Event> = (0..count).map(|n| event(tenant, n)).collect();
    store.write_batch(&events).await.unwrap();
    events.iter().map(|event| event.id().to_string()).collect()
}

/// How the receiver answers one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    Status(u16),
    RetryAfter(u16, u64),
    /// Never answers: the sender's timeout passes.
    Hang,
    /// Answers 200, then breaks the connection in the body.
    Cut,
}

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Delivery {
    at: Instant,
    answer: Answer,
    stream: String,
    seqs: String,
    signature_ok: bool,
    /// Each record's event id, tenant and seq.
    records: Vec<(String, Option<String>, u64)>,
}

#[derive(Debug, Default)]
struct Receiving {
    plan: Mutex<VecDeque<Answer>>,
    log: Mutex<Vec<Delivery>>,
    bell: Notify,
}

/// A receiver on loopback.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<Receiving>,
}

/// `v1` signatures of `header` that are HMAC-SHA256(SECRET, "<t>.<body>"),
/// computed here rather than by the crate under test.
fn signature_ok(header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header else { return false };
    let parts: Vec<(&str, &str)> = header.split(',').filter_map(|part| part.split_once('=')).collect();
    let Some((_, t)) = parts.iter().find(|(key, _)| *key == "t") else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    parts.iter().any(|(key, value)| *key == "v1" && *value == expected)
}

/// The event id, tenant and seq of one record, native or OCSF.
fn record(value: &Value) -> (String, Option<String>, u64) {
    if value["class_uid"].is_number() {
        let metadata = &value["metadata"];
        (
            metadata["uid"].as_str().unwrap().to_owned(),
            metadata["tenant_uid"].as_str().map(str::to_owned),
            metadata["sequence"].as_u64().unwrap(),
        )
    } else {
        (
            value["id"].as_str().unwrap().to_owned(),
            value["tenant_id"].as_str().map(str::to_owned),
            value["integrity"]["seq"].as_u64().unwrap(),
        )
    }
}

/// Accepts TLS connections with the test certificate of `127.0.0.1`
/// (`tests/fixtures/tls`: a throwaway CA and the receiver's certificate
/// and key, made for these tests and trusted nowhere else).
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, address)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses the certificate ends its handshake here.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// With the `tls` feature: HTTPS to a receiver whose CA the sink is told to trust.
#[cfg(feature = "tls")]
mod over_tls {
    use super::*;

    on_both_backends!(deliveries_go_over_https_to_a_receiver_whose_ca_the_sink_trusts);

    const TEST_CA: &[u8] = include_bytes!("fixtures/tls/ca.pem");

    async fn deliveries_go_over_https_to_a_receiver_whose_ca_the_sink_trusts(db: TestDb) {
        let store = db.connect().await;
        let receiver = Receiver::start_tls().await;
        let ids = write(&store, Some("acme"), 3).await;
        // Mozilla's roots alone do not vouch for the test CA: refused, nothing
        // reaches the receiver.
        let untrusting = webhook(&receiver);
        let refused = untrusting
            .post(&Batch::new("tenant:acme", Vec::new()))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("certificate"), "{refused}");
        assert!(receiver.log().is_empty());

        let trusting = webhook(&receiver).root_certificates_pem(TEST_CA).unwrap();
        let streams = Streamer::new(store.clone()).sink("siem", trusting).start();
        receiver.until_accepted(&ids).await;
        streams.delivered_all().await.unwrap();
        assert!(receiver.log().iter().all(|delivery| delivery.signature_ok));
        assert_eq!(receiver.accepted().len(), 3);
        assert!(streams.stats()[0].sink.starts_with("webhook https://127.0.0.1:"));
        streams.shutdown().await;

        let error = WebhookSink::new(&receiver.url)
            .unwrap()
            .root_certificates_pem(b"not a certificate")
            .unwrap_err();
        assert!(error.to_string().contains("no PEM CERTIFICATE"), "{error}");
    }
}

impl Receiver {
    async fn start() -> Self {
        Self::serve(false).await
    }

    /// A receiver over HTTPS.
    async fn start_tls() -> Self {
        Self::serve(true).await
    }

    async fn serve(tls: bool) -> Self {
        let state = Arc::new(Receiving::default());
        let shared = Arc::clone(&state);
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&shared);
                async move { state.receive(&headers, &body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        if tls {
            use rustls::pki_types::pem::PemObject as _;
            use rustls::pki_types::{CertificateDer, PrivateKeyDer};
            let chain = CertificateDer::pem_slice_iter(include_bytes!("fixtures/tls/receiver.pem"))
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/tls/receiver.key")).unwrap();
            #[allow(deprecated, reason = "the receiver's TLS: classical key exchange is fine in a test")]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
            let listener = TlsListener {
                tcp: listener,
                acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            };
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            return Self {
                url: format!("https://{address}/events"),
                state,
            };
        }
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/events"),
            state,
        }
    }

    /// Answers the next deliveries as `answers` say, then accepts.
    fn plan(&self, answers: &[Answer]) {
        self.state.plan.lock().unwrap().extend(answers);
    }

    fn log(&self) -> Vec<Delivery> {
        self.state.log.lock().unwrap().clone()
    }

    /// The ids of the records of the deliveries answered 2xx in full.
    fn accepted(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|delivery| delivery.answer == Answer::Accept)
            .flat_map(|delivery| delivery.records.iter().map(|(id, ..)| id.clone()))
            .collect()
    }

    /// Waits (without polling) until `done` holds of the log.
    async fn until(&self, what: &str, done: impl Fn(&[Delivery]) -> bool) {
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let rung = self.state.bell.notified();
                tokio::pin!(rung);
                rung.as_mut().enable();
                if done(&self.state.log.lock().unwrap()) {
                    return;
                }
                rung.await;
            }
        })
        .await;
        assert!(waited.is_ok(), "the receiver never saw {what}: {:#?}", self.log());
    }

    async fn until_accepted(&self, ids: &[String]) {
        let wanted: HashSet<&String> = ids.iter().collect();
        self.until("every event accepted", |log| {
            let accepted: HashSet<&String> = log
                .iter()
                .filter(|delivery| delivery.answer == Answer::Accept)
                .flat_map(|delivery| delivery.records.iter().map(|(id, ..)| id))
                .collect();
            wanted.is_subset(&accepted)
        })
        .await;
    }
}

impl Receiving {
    async fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let answer = self.plan.lock().unwrap().pop_front().unwrap_or(Answer::Accept);
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let records = match header("content-type").as_deref() {
            Some("application/json") => serde_json::from_slice::<Vec<Value>>(body).unwrap(),
            _ => body
                .split(|&b| b == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| serde_json::from_slice(line).unwrap())
                .collect(),
        };
        self.log.lock().unwrap().push(Delivery {
            at: Instant::now(),
            answer,
            stream: header("audit-stream").unwrap_or_default(),
            seqs: header("audit-seqs").unwrap_or_default(),
            signature_ok: signature_ok(header("audit-signature").as_deref(), body),
            records: records.iter().map(record).collect(),
        });
        self.bell.notify_waiters();
        match answer {
            Answer::Accept => StatusCode::NO_CONTENT.into_response(),
            Answer::Status(status) => (StatusCode::from_u16(status).unwrap(), "planned failure").into_response(),
            Answer::RetryAfter(status, seconds) => (
                StatusCode::from_u16(status).unwrap(),
                [("retry-after", seconds.to_string())],
                "slow down",
            )
                .into_response(),
            Answer::Hang => std::future::pending().await,
            Answer::Cut => {
                let broken = futures_util::stream::once(async { Err::<Bytes, _>(std::io::Error::other("cut")) });
                Response::new(Body::from_stream(broken))
            }
        }
    }
}

fn webhook(receiver: &Receiver) -> WebhookSink {
    WebhookSink::new(&receiver.url)
        .unwrap()
        .secret(SECRET)
        .timeout(Duration::from_millis(500))
}

async fn every_event_arrives_once_through_failures_signed_and_in_order(db: TestDb) {
    let store = db.connect().await;
    let receiver = Receiver::start().await;
    receiver.plan(&[
        Answer::Status(500),
        Answer::Hang,
        Answer::Cut,
        Answer::Status(400),
        Answer::Accept,
        Answer::Status(503),
    ]);
    let mut ids = write(&store, Some("acme"), 7).await;
    ids.extend(write(&store, None, 3).await);
    let options = SinkOptions::default().batch_size(4).retry(fast_retry());
    let streams = Streamer::new(store.clone())
        .sink_with("siem", webhook(&receiver), options)
        .start();
    ids.extend(write(&store, Some("acme"), 2).await);
    receiver.until_accepted(&ids).await;
    streams.delivered_all().await.unwrap();

    let log = receiver.log();
    // Each event was accepted exactly once: a failed delivery is not a
    // delivery, and a delivery is retried only until it is accepted.
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), ids.len(), "{log:#?}");
    assert_eq!(
        accepted.iter().collect::<HashSet<_>>(),
        ids.iter().collect::<HashSet<_>>()
    );
    // The hung and cut deliveries reached the receiver and came again: what
    // a receiver that had processed them drops by event id.
    for failed in log.iter().filter(|d| matches!(d.answer, Answer::Hang | Answer::Cut)) {
        let (id, ..) = &failed.records[0];
        assert!(accepted.contains(id), "{failed:?} was never delivered again");
    }
    for delivery in &log {
        assert!(delivery.signature_ok, "{delivery:?}");
        assert!(delivery.records.len() <= 4, "{delivery:?}");
        let seqs: Vec<u64> = delivery.records.iter().map(|(_, _, seq)| *seq).collect();
        assert!(seqs.windows(2).all(|pair| pair[1] == pair[0] + 1), "{seqs:?}");
        assert_eq!(delivery.seqs, format!("{}-{}", seqs[0], seqs[seqs.len() - 1]));
        let tenant = delivery.stream.strip_prefix("tenant:").map(str::to_owned);
        assert!(delivery.records.iter().all(|(_, t, _)| *t == tenant), "{delivery:?}");
    }
    // Per stream, accepted batches run in seq order without a gap.
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    for delivery in log.iter().filter(|d| d.answer == Answer::Accept) {
        let expected = next.entry(&delivery.stream).or_insert(1);
        assert_eq!(delivery.records[0].2, *expected, "{log:#?}");
        *expected = delivery.records.last().unwrap().2 + 1;
    }
    let stats = &streams.stats()[0];
    assert_eq!((stats.name.as_str(), stats.delivered, stats.lag), ("siem", 12, 0));
    assert_eq!(stats.retried, 5, "{stats:?}");
    assert!(!stats.failing && stats.last_error.is_none(), "{stats:?}");
    assert!(stats.last_delivered_at.is_some());
    streams.shutdown().await;
}

async fn retry_after_is_obeyed(db: TestDb) {
    let store = db.connect().await;
    let receiver = Receiver::start().await;
    receiver.plan(&[Answer::RetryAfter(429, 1)]);
    let ids = write(&store, Some("acme"), 2).await;
    let options = SinkOptions::default().retry(fast_retry());
    let streams = Streamer::new(store.clone())
        .sink_with("siem", webhook(&receiver), options)
        .start();
    receiver.until_accepted(&ids).await;
    let log = receiver.log();
    assert_eq!(log.len(), 2, "{log:#?}");
    let waited = log[1].at - log[0].at;
    // The policy alone would have retried within 5 ms.
    assert!(waited >= Duration::from_millis(950), "retried after {waited:?}");
    streams.shutdown().await;
}

async fn a_tenants_destination_receives_only_that_tenants_events(db: TestDb) {
    let store = db.connect().await;
    let (acme, globex, platform) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let secret = std::str::from_utf8(SECRET).unwrap();
    let destinations = [
        Destination::new("acme-siem", &acme.url, secret)
            .tenant("acme")
            .format(EventFormat::Ocsf),
        Destination::new("globex-siem", &globex.url, secret)
            .tenant("globex")
            .body(WebhookBody::JsonArray),
        Destination::new("platform", &platform.url, secret),
    ];
    for destination in &destinations {
        store
            .add_stream_destination(destination, StartAt::Beginning)
            .await
            .unwrap();
    }
    let acme_ids = write(&store, Some("acme"), 3).await;
    let globex_ids = write(&store, Some("globex"), 2).await;
    let global_ids = write(&store, None, 1).await;
    let streams = Streamer::new(store.clone())
        .destinations_from_store(Duration::from_secs(3600))
        .start();
    acme.until_accepted(&acme_ids).await;
    globex.until_accepted(&globex_ids).await;
    let all: Vec<String> = [&acme_ids[..], &globex_ids, &global_ids].concat();
    platform.until_accepted(&all).await;
    streams.delivered_all().await.unwrap();

    let tenants = |receiver: &Receiver| -> HashSet<Option<String>> {
        receiver
            .log()
            .iter()
            .flat_map(|d| d.records.iter().map(|(_, tenant, _)| tenant.clone()))
            .collect()
    };
    assert_eq!(tenants(&acme), HashSet::from([Some("acme".to_owned())]));
    assert_eq!(tenants(&globex), HashSet::from([Some("globex".to_owned())]));
    assert_eq!(acme.accepted().len(), 3);
    assert_eq!(globex.accepted().len(), 2);
    assert_eq!(platform.accepted().len(), 6);
    assert!(acme.log().iter().chain(&globex.log()).all(|d| d.signature_ok));
    let mut names: Vec<String> = streams.stats().into_iter().map(|stats| stats.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "destination:acme-siem",
            "destination:globex-siem",
            "destination:platform"
        ]
    );
    streams.shutdown().await;
}

/// Accepts connections and closes them at once, unanswered, ringing for each.
async fn dead_receiver() -> (SocketAddr, Arc<Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let bell = Arc::new(Notify::new());
    let ring = Arc::clone(&bell);
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            drop(connection);
            ring.notify_one();
        }
    });
    (address, bell)
}

async fn a_dead_receiver_is_reported_and_caught_up_from_the_store(db: TestDb) {
    let store = db.connect().await;
    let (dead, attempts) = dead_receiver().await;
    let mut ids = write(&store, Some("acme"), 5).await;
    let options = SinkOptions::default().retry(fast_retry()).max_lag(3);
    let sink = WebhookSink::new(&format!("http://{dead}/events"))
        .unwrap()
        .secret(SECRET);
    let streams = Streamer::new(store.clone())
        .sink_with("siem", sink, options.clone())
        .start();
    for _ in 0..3 {
        tokio::time::timeout(PATIENCE, attempts.notified()).await.unwrap();
    }
    // The admin API's health reports it: degraded, not down.
    let server = Loopback::serve(AdminApi::new(store.clone()).streams(streams.clone())).await;
    let (status, _, body) = server.get("u_audit auditor", "/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "degraded", "{health:#}");
    let sink = &health["streams"][0];
    assert_eq!(
        (sink["name"].as_str(), sink["failing"].as_bool()),
        (Some("siem"), Some(true)),
        "{health:#}"
    );
    assert_eq!(
        (sink["lag"].as_u64(), sink["behind"].as_bool()),
        (Some(5), Some(true)),
        "{health:#}"
    );
    assert_eq!(sink["delivered"], 0);
    assert!(
        sink["last_error"].as_str().unwrap().contains(&dead.to_string()),
        "{health:#}"
    );
    assert!(sink["retried"].as_u64().unwrap() >= 2, "{health:#}");
    streams.shutdown().await;

    // Events keep coming while it is down; a live receiver under the same
    // sink name receives everything from where the dead one stood.
    ids.extend(write(&store, Some("acme"), 2).await);
    let receiver = Receiver::start().await;
    let streams = Streamer::new(store.clone())
        .sink_with("siem", webhook(&receiver), options)
        .start();
    receiver.until_accepted(&ids).await;
    streams.delivered_all().await.unwrap();
    assert_eq!(receiver.accepted().len(), 7);
    let stats = &streams.stats()[0];
    assert!(!stats.failing && !stats.behind && stats.lag == 0, "{stats:?}");
    streams.shutdown().await;
}

/// Keeps the stream and seq of each event it is given.
#[derive(Debug, Clone, Default)]
struct Collect {
    seqs: Arc<Mutex<Vec<(String, u64)>>>,
}

impl StreamSink for Collect {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
        Box::pin(async move {
            let mut seqs = self.seqs.lock().unwrap();
            seqs.extend(
                batch
                    .events
                    .iter()
                    .map(|event| (batch.stream.clone(), event.integrity().unwrap().seq)),
            );
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "a collector".to_owned()
    }
}

impl Collect {
    fn seqs(&self) -> Vec<(String, u64)> {
        self.seqs.lock().unwrap().clone()
    }
}

async fn positions_survive_a_restart_and_a_new_sink_may_start_at_the_heads(db: TestDb) {
    let store = db.connect().await;
    write(&store, Some("acme"), 3).await;
    let first = Collect::default();
    let streams = Streamer::new(store.clone()).sink("collect", first.clone()).start();
    streams.delivered_all().await.unwrap();
    streams.shutdown().await;
    assert_eq!(first.seqs().len(), 3);

    write(&store, Some("acme"), 2).await;
    write(&store, Some("globex"), 1).await;
    let again = Collect::default();
    let late = Collect::default();
    let streams = Streamer::new(store.clone())
        .sink("collect", again.clone())
        .sink_with("late", late.clone(), SinkOptions::default().start_at(StartAt::Heads))
        .start();
    streams.delivered_all().await.unwrap();
    // Only what the first run had not delivered.
    let acme = |seqs: &[u64]| {
        seqs.iter()
            .map(|&seq| ("tenant:acme".to_owned(), seq))
            .collect::<Vec<_>>()
    };
    let mut expected = acme(&[4, 5]);
    expected.push(("tenant:globex".to_owned(), 1));
    assert_eq!(again.seqs(), expected);
    // The late sink starts at the heads as they were when it first ran.
    assert!(late.seqs().is_empty(), "{:?}", late.seqs());
    write(&store, Some("acme"), 1).await;
    write(&store, Some("initech"), 1).await;
    streams.delivered_all().await.unwrap();
    assert_eq!(
        late.seqs(),
        [("tenant:acme".to_owned(), 6), ("tenant:initech".to_owned(), 1)]
    );
    streams.shutdown().await;

    // Starting at the heads happens once: after a restart it resumes.
    write(&store, Some("acme"), 1).await;
    let resumed = Collect::default();
    let streams = Streamer::new(store.clone())
        .sink_with("late", resumed.clone(), SinkOptions::default().start_at(StartAt::Heads))
        .start();
    streams.delivered_all().await.unwrap();
    assert_eq!(resumed.seqs(), acme(&[7]));
    let positions = store.stream_positions("late", Some("tenant:acme")).await.unwrap();
    assert_eq!(
        (positions[0].delivered, positions[0].head, positions[0].lag()),
        (7, 7, 0)
    );
    streams.shutdown().await;
}

async fn events_purged_before_delivery_are_counted_as_skipped(db: TestDb) {
    let store = db.connect().await;
    let old: Vec<Event> = (0..4)
        .map(|n| {
            Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{n}")))
                .tenant("acme")
                .occurred_at(audit_core::Timestamp::from_unix_micros(1_600_000_000_000_000 + n as i64).unwrap())
                .build()
        })
        .collect();
    store.write_batch(&old).await.unwrap();
    let purge = audit_store::Purge::before(audit_core::Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap());
    let outcome = store.purge(&purge).await.unwrap();
    assert_eq!(outcome.streams[0].removed, 4, "{outcome:?}");
    // A sink that had delivered none of them starts after the purge.
    let sink = Collect::default();
    let streams = Streamer::new(store.clone()).sink("collect", sink.clone()).start();
    streams.delivered_all().await.unwrap();
    // The purge's own audit.purged event (seq 5) is delivered; 1..=4 are
    // counted as skipped, not silently lost.
    assert_eq!(sink.seqs(), [("tenant:acme".to_owned(), 5)]);
    let stats = &streams.stats()[0];
    assert_eq!((stats.skipped, stats.delivered, stats.lag), (4, 1, 0), "{stats:?}");
    streams.shutdown().await;
}

async fn destinations_are_checked_kept_and_removed_with_their_positions(db: TestDb) {
    let store = db.connect().await;
    let secret = std::str::from_utf8(SECRET).unwrap();
    for (destination, field) in [
        (Destination::new("bad name", "http://127.0.0.1:9/", secret), "name"),
        (Destination::new("", "http://127.0.0.1:9/", secret), "name"),
        (Destination::new("ok", "mailto:siem@example.com", secret), "url"),
        (Destination::new("ok", "ftp://siem.example.com/", secret), "url"),
        (Destination::new("ok", "http://127.0.0.1:9/", "short"), "secret"),
        (
            Destination::new("ok", "http://127.0.0.1:9/", secret).tenant(""),
            "tenant",
        ),
    ] {
        match store.add_stream_destination(&destination, StartAt::Heads).await {
            Err(DestinationError::Invalid { field: named, .. }) => assert_eq!(named, field, "{destination:?}"),
            other => panic!("{destination:?}: {other:?}"),
        }
    }
    assert!(store.stream_destinations().await.unwrap().is_empty());

    write(&store, Some("acme"), 3).await;
    let acme = Destination::new("acme-siem", "http://127.0.0.1:9/", secret)
        .tenant("acme")
        .format(EventFormat::Cef)
        .body(WebhookBody::JsonArray);
    store.add_stream_destination(&acme, StartAt::Heads).await.unwrap();
    let error = store
        .add_stream_destination(&acme.clone().tenant("globex"), StartAt::Beginning)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DestinationError::Exists(ref name) if name == "acme-siem"),
        "{error}"
    );
    // Kept as given (the second add changed nothing), starting at the head.
    assert_eq!(store.stream_destinations().await.unwrap(), std::slice::from_ref(&acme));
    let positions = store
        .stream_positions(&acme.sink_name(), Some("tenant:acme"))
        .await
        .unwrap();
    assert_eq!((positions[0].delivered, positions[0].lag()), (3, 0));

    assert!(store.remove_stream_destination("acme-siem").await.unwrap());
    assert!(!store.remove_stream_destination("acme-siem").await.unwrap());
    assert!(store.stream_destinations().await.unwrap().is_empty());
    // Its positions went with it: one added again under the name starts afresh.
    let positions = store.stream_positions(&acme.sink_name(), None).await.unwrap();
    assert_eq!(positions[0].delivered, 0);
}

/// What a `tracing` subscriber saw at target `audit`: each event's fields.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields<'a>(&'a mut BTreeMap<String, String>);
        impl tracing::field::Visit for Fields<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_owned(), format!("{value:?}"));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.insert(field.name().to_owned(), value.to_owned());
            }
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                self.0.insert(field.name().to_owned(), value.to_string());
            }
        }
        if event.metadata().target() != "audit" {
            return;
        }
        let mut fields = BTreeMap::new();
        fields.insert("level".to_owned(), event.metadata().level().to_string());
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

/// The `tracing` bridge: every stored event once, at target `audit`, with
/// its fields and its whole JSON.
#[tokio::test(flavor = "current_thread")]
async fn the_tracing_bridge_emits_each_stored_event_at_target_audit() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let mut ids = write(&store, Some("acme"), 2).await;
    ids.extend(write(&store, None, 1).await);
    let streams = Streamer::new(store.clone())
        .sink("logs", audit_store::stream::TracingSink)
        .start();
    streams.delivered_all().await.unwrap();
    streams.shutdown().await;

    let seen = captured.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let seen_ids: Vec<&str> = seen.iter().map(|fields| fields["id"].as_str()).collect();
    assert_eq!(
        seen_ids.iter().copied().collect::<HashSet<_>>(),
        ids.iter().map(String::as_str).collect()
    );
    for fields in &seen {
        assert_eq!(fields["level"], "INFO");
        assert_eq!(fields["action"], "app.created");
        let event: Value = serde_json::from_str(&fields["event"]).unwrap();
        assert_eq!(event["id"].as_str(), Some(fields["id"].as_str()));
        assert_eq!(event["integrity"]["seq"].to_string(), fields["seq"]);
        assert_eq!(event["integrity"]["stream"].as_str(), Some(fields["stream"].as_str()));
    }
    let acme = seen
        .iter()
        .filter(|fields| fields.get("tenant").map(String::as_str) == Some("acme"))
        .count();
    assert_eq!(acme, 2, "{seen:#?}");
}
