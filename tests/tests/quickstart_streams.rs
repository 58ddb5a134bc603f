//! The quickstart streaming its trail: its exact service, with a SIEM
//! webhook (`Config::stream_to`, OCSF, signed) and a tenant's destination
//! kept in the store, each a real receiver on loopback. Nothing sleeps: the
//! test waits on the receivers' bells.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_core::format::EventFormat;
use audit_store::stream::{Destination, StartAt, verify_signature};
use axum::body::Bytes;
use axum::http::HeaderMap;
use http::{Method, StatusCode};
use quickstart::{Config, StreamWebhook};
use serde_json::{Value, json};
use support::TestDb;
use support::running::Running;
use tokio::sync::Notify;

on_both_backends!(the_siem_and_a_tenants_destination_receive_the_stored_events);

const ALICE: (&str, &str) = ("authorization", "Bearer acme-owner");
const CAROL: (&str, &str) = ("authorization", "Bearer globex-admin");
const DANA: (&str, &str) = ("authorization", "Bearer platform-auditor");
const SIEM_SECRET: &str = "whsec_quickstart_siem_0001";
const GLOBEX_SECRET: &str = "whsec_quickstart_globex_01";

/// A receiver on loopback keeping each record whose delivery's signature
/// verifies under its secret (and counting those that do not).
#[derive(Clone, Default)]
struct Receiver {
    records: Arc<Mutex<Vec<Value>>>,
    forged: Arc<Mutex<usize>>,
    bell: Arc<Notify>,
}

impl Receiver {
    async fn start(secret: &'static str) -> (Self, String) {
        let receiver = Self::default();
        let kept = receiver.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let kept = kept.clone();
                async move {
                    let signature = headers.get("audit-signature").and_then(|v| v.to_str().ok());
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let signed = signature.is_some_and(|signature| {
                        verify_signature(secret.as_bytes(), signature, &body, now, Duration::from_secs(300)).is_ok()
                    });
                    if signed {
                        let lines = body.split(|&b| b == b'\n').filter(|line| !line.is_empty());
                        kept.records
                            .lock()
                            .unwrap()
                            .extend(lines.map(|line| serde_json::from_slice::<Value>(line).unwrap()));
                    } else {
                        *kept.forged.lock().unwrap() += 1;
                    }
                    kept.bell.notify_waiters();
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    /// Waits until `count` records satisfy `matches`.
    async fn until(&self, count: usize, matches: impl Fn(&Value) -> bool) {
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let rung = self.bell.notified();
                tokio::pin!(rung);
                rung.as_mut().enable();
                if self.records.lock().unwrap().iter().filter(|r| matches(r)).count() >= count {
                    return;
                }
                rung.await;
            }
        })
        .await;
        assert!(waited.is_ok(), "records so far: {:#?}", self.records.lock().unwrap());
    }
}

async fn the_siem_and_a_tenants_destination_receive_the_stored_events(db: TestDb) {
    let (siem, siem_url) = Receiver::start(SIEM_SECRET).await;
    let (globex, globex_url) = Receiver::start(GLOBEX_SECRET).await;
    // Globex's admin asked for their own copy: kept in the store.
    let store = audit_store::connect(&db.url()).await.unwrap();
    let destination = Destination::new("globex-siem", &globex_url, GLOBEX_SECRET).tenant("globex");
    store
        .add_stream_destination(&destination, StartAt::Heads)
        .await
        .unwrap();

    let config = Config::new(db.url())
        .stream_to(StreamWebhook {
            url: siem_url,
            secret: Some(SIEM_SECRET.to_owned()),
            format: EventFormat::Ocsf,
        })
        .stream_destinations(Duration::from_secs(3600));
    let server = Running::start_with(config).await;
    for (who, name) in [(ALICE, "Acme Billing"), (CAROL, "Globex Plan")] {
        let created = server
            .send(Method::POST, "/apps", &[who], Some(json!({ "name": name })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    // The SIEM gets both tenants' app.created as OCSF API Activity.
    let created = |record: &Value| record["api"]["operation"] == "app.created";
    siem.until(2, created).await;
    // Globex's endpoint gets Globex's event, in the event's own JSON.
    let globex_created = |record: &Value| record["action"] == "app.created";
    globex.until(1, globex_created).await;

    let siem_records = siem.records.lock().unwrap().clone();
    let tenants: Vec<&str> = siem_records
        .iter()
        .filter(|r| created(r))
        .map(|r| r["metadata"]["tenant_uid"].as_str().unwrap())
        .collect();
    assert_eq!(tenants.len(), 2, "{siem_records:#?}");
    assert!(tenants.contains(&"acme") && tenants.contains(&"globex"), "{tenants:?}");
    assert!(
        siem_records.iter().all(|r| r["class_uid"].is_number()),
        "{siem_records:#?}"
    );
    let globex_records = globex.records.lock().unwrap().clone();
    assert!(
        globex_records.iter().all(|r| r["tenant_id"] == "globex"),
        "another tenant's event reached Globex: {globex_records:#?}"
    );
    assert_eq!((*siem.forged.lock().unwrap(), *globex.forged.lock().unwrap()), (0, 0));

    // The platform's health names both sinks.
    let health = server.send(Method::GET, "/audit-logs/health", &[DANA], None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    let body = health.json();
    let mut names: Vec<&str> = body["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sink| sink["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["destination:globex-siem", "quickstart-webhook"], "{body:#}");
    server.stop().await;
}
