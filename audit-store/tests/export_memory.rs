//! A 1,000,000-event export streams in flat memory: its own test binary, so
//! no other test's allocations show in the process's resident set.

#![cfg(all(feature = "http", feature = "sqlite"))]

#[allow(
    dead_code,
    unused_macros,
    reason = "each test binary uses a part of the shared support"
)]
mod support;

use std::net::SocketAddr;

use audit_core::{Action, Actor, AuditSink, Auditor, Event, MemorySink, Target, Timestamp};
use audit_store::http::AdminApi;
use audit_tower::{AuditLayer, Principal};
use axum::Router;
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::TestDb;

const EVENTS: i64 = 1_000_000;

/// Anonymous resident memory of this process, in bytes (Linux): what the
/// export holds. File pages are left out: SQLite reads the database
/// through a memory map, so every page the export reads shows in the
/// resident set as (reclaimable) page cache.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("RssAnon:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// One real event through the store, then a million copies of its row made
/// by SQL (fresh ids, times and seqs): the export reads rows, it does not
/// check hashes, and building a million events in a debug build would take
/// minutes.
async fn a_million_events(db: &TestDb) {
    let store = db.connect().await;
    let template = Event::builder(
        Action::new("member.role_changed").unwrap(),
        Actor::user("u_1").with_email("a@acme.test"),
    )
    .tenant("acme")
    .target(Target::new("member", "m_1").with_name("Ada \"the admin\", =cmd"))
    .description("Changed the role of Ada from viewer to admin")
    .before(&serde_json::json!({"role": "viewer", "teams": ["core", "ops"]}))
    .after(&serde_json::json!({"role": "admin", "teams": ["core", "ops"]}))
    .metadata("ticket", "SEC-1234")
    .occurred_at(Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap())
    .build();
    store.write_batch(&[template]).await.unwrap();
    // The search index is not what this test is about: off for the bulk copy.
    store.set_search_index(false).await.unwrap();
    db.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i <= {EVENTS}) \
         INSERT INTO audit_events (id, stream, seq, leaf_hash, occurred_at, recorded_at, tenant_id, action, \
           category, severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, \
           target_id, target_name, description, client_ip, request_id, truncated, lossy_utf8, actor, target, \
           targets, context, changes, metadata, search_text) \
         SELECT printf('0199a0c4-0000-7000-8000-%012x', i), stream, i, leaf_hash, occurred_at + i, recorded_at, \
           tenant_id, action, category, severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, \
           target_type, target_id, target_name, description, client_ip, request_id, truncated, lossy_utf8, actor, \
           target, targets, context, changes, metadata, search_text \
         FROM n, audit_events WHERE audit_events.seq = 1"
    ))
    .await
    .unwrap();
    assert_eq!(db.count().await, EVENTS + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_event_export_streams_in_flat_memory() {
    let db = TestDb::sqlite();
    let started = std::time::Instant::now();
    a_million_events(&db).await;
    println!("filled in {:?}", started.elapsed());
    let store = db.connect().await;
    let auditor = Auditor::builder().lifecycle_events(false).start(MemorySink::new());
    let app = AdminApi::new(store).nest_into(Router::new(), "/audit-logs").layer(
        AuditLayer::new(auditor)
            .actor(|_: &http::request::Parts| Some(Principal::new(Actor::user("u_auditor").with_role("auditor")))),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    let client = Client::builder(TokioExecutor::new()).build_http::<String>();
    let request = http::Request::get(format!(
        "http://{address}/audit-logs/export?format=csv&since=2000-01-01"
    ))
    .body(String::new())
    .unwrap();
    let mut body = client.request(request).await.unwrap().into_body();

    let mut lines = 0_i64;
    let mut bytes = 0_u64;
    let mut rss_at_tenth = 0;
    let mut peak = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        let Some(chunk) = frame.data_ref() else { continue };
        bytes += chunk.len() as u64;
        // Rows hold quoted line breaks only inside the JSON columns, which
        // this fixture has none of: one line per row.
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as i64;
        let rss = resident_bytes();
        peak = peak.max(rss);
        if rss_at_tenth == 0 && lines >= EVENTS / 10 {
            rss_at_tenth = rss;
        }
    }
    assert_eq!(lines, EVENTS + 2, "a header and every event");
    println!("exported in {:?}", started.elapsed());
    assert!(
        bytes > 300_000_000,
        "{bytes} bytes: the export is far larger than any memory allowance below"
    );
    let growth = peak.saturating_sub(rss_at_tenth);
    println!("exported {bytes} bytes; resident at 10 %: {rss_at_tenth} B, peak: {peak} B, growth {growth} B");
    assert!(
        growth < 32 << 20,
        "memory grew by {growth} bytes between 10 % and the end of the export"
    );
}
