//! `audit stream …`, run as a real process against a real SQLite file or
//! PostgreSQL database, delivering to a real receiver on loopback.

#![cfg(feature = "cli")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::collections::HashSet;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use audit_core::{Action, Actor, AuditSink as _, Event};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::Sha256;
use support::TestDb;
use tokio::sync::watch;

on_both_backends!(
    test_posts_one_signed_sample_the_receiver_verifies,
    test_without_a_secret_sends_unsigned_and_says_so,
    test_of_a_refusing_receiver_names_its_status_and_retry_after,
    test_without_an_answer_has_its_own_exit_code,
    add_prints_a_generated_secret_once_and_list_never_shows_it,
    invalid_destinations_are_usage_errors_naming_the_field_and_store_nothing,
    remove_takes_a_destination_away_and_refuses_an_unknown_name,
    run_delivers_until_sigterm_then_exits_0,
);

/// How long a test waits for the receiver or the child.
const PATIENCE: Duration = Duration::from_secs(30);

/// A secret long enough for a destination.
const SECRET: &str = "whsec_cli_stream_test_0123456789";

/// `audit ARGS` on `db`, with the environment's user names left out.
fn command(db: &TestDb, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audit"));
    command
        .args(args)
        .env("AUDIT_DATABASE_URL", &db.urls()[0])
        .env_remove("USER")
        .env_remove("LOGNAME");
    command
}

/// Runs the command off the runtime's workers, which serve the receiver.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn audit(db: &TestDb, args: &[&str]) -> Output {
    run(command(db, args)).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// The records of a `lines` body of a JSON format.
    fn records(&self) -> Vec<Value> {
        std::str::from_utf8(&self.body)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// A receiver on loopback: records every request, answers each with
/// `status` (and `Retry-After` when given).
#[derive(Clone)]
struct Receiver {
    url: String,
    log: Arc<watch::Sender<Vec<Received>>>,
}

#[derive(Clone)]
struct Answering {
    log: Arc<watch::Sender<Vec<Received>>>,
    status: StatusCode,
    retry_after: Option<&'static str>,
}

async fn receive(State(answering): State<Answering>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    answering.log.send_modify(|log| log.push(Received { headers, body }));
    let mut response = (answering.status, "receiver says hello").into_response();
    if let Some(delay) = answering.retry_after {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, delay.parse().unwrap());
    }
    response
}

impl Receiver {
    async fn start(status: StatusCode, retry_after: Option<&'static str>) -> Self {
        let log = Arc::new(watch::Sender::new(Vec::new()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Answering {
                log: Arc::clone(&log),
                status,
                retry_after,
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/hook"),
            log,
        }
    }

    async fn accepting() -> Self {
        Self::start(StatusCode::OK, None).await
    }

    fn received(&self) -> Vec<Received> {
        self.log.borrow().clone()
    }

    /// Waits (rung by each request, no polling) until the records the
    /// receiver holds carry every id in `ids`.
    async fn until_holds(&self, ids: &HashSet<String>) {
        let mut changes = self.log.subscribe();
        let waited = tokio::time::timeout(
            PATIENCE,
            changes.wait_for(|log| {
                let held: HashSet<String> = log
                    .iter()
                    .flat_map(Received::records)
                    .filter_map(|record| record["id"].as_str().map(str::to_owned))
                    .collect();
                ids.is_subset(&held)
            }),
        )
        .await;
        assert!(
            waited.is_ok(),
            "the receiver never held every event: {:#?}",
            self.received()
        );
    }
}

/// Whether `header` is `t=<secs>,v1=<hex>` with the HMAC-SHA256 of
/// `<t>.<body>` under `secret`, computed here from the documented recipe.
fn signed_by(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: Vec<(&str, &str)> = header.split(',').filter_map(|part| part.split_once('=')).collect();
    let Some((_, t)) = parts.iter().find(|(key, _)| *key == "t") else {
        return false;
    };
    let sent: u64 = t.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(sent) < 300, "signed at {sent}, now {now}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    parts.iter().any(|(key, value)| *key == "v1" && *value == expected)
}

async fn test_posts_one_signed_sample_the_receiver_verifies(db: TestDb) {
    let store = db.connect().await;
    let receiver = Receiver::accepting().await;
    let mut test = command(
        &db,
        &[
            "stream",
            "test",
            &receiver.url,
            "--secret-env",
            "AUDIT_TEST_STREAM_SECRET",
            "--format",
            "ocsf",
            "--tenant",
            "acme",
            "--actor",
            "alice",
            "--header",
            "X-Receiver-Token: letmein",
        ],
    );
    test.env("AUDIT_TEST_STREAM_SECRET", SECRET);
    let output = run(test).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(said.contains("status: 200 OK"), "{said}");
    assert!(said.contains("body: receiver says hello"), "{said}");
    assert!(!said.contains(SECRET) && !stderr(&output).contains(SECRET));

    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let delivery = &received[0];
    let signature = delivery.header("audit-signature").expect("a signature header");
    assert!(signed_by(SECRET, signature, &delivery.body), "{signature}");
    assert!(!signed_by("whsec_another_secret_0123456", signature, &delivery.body));
    assert_eq!(delivery.header("audit-stream"), Some("tenant:acme"));
    assert_eq!(delivery.header("audit-seqs"), Some("0-0"));
    assert_eq!(delivery.header("x-receiver-token"), Some("letmein"));
    let records = delivery.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    // OCSF: a class, and the event's own fields under OCSF's names.
    assert!(record["class_uid"].is_number(), "{record}");
    assert_eq!(record["metadata"]["tenant_uid"], "acme", "{record}");
    assert!(record.to_string().contains("alice"), "{record}");
    assert!(record.to_string().contains("audit.stream_tested"), "{record}");
    // A test, not an event of the log.
    assert_eq!(db.count().await, 0);
    drop(store);
}

async fn test_without_a_secret_sends_unsigned_and_says_so(db: TestDb) {
    let receiver = Receiver::accepting().await;
    let output = audit(&db, &["stream", "test", &receiver.url, "--body", "json-array"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("unsigned"), "{}", stdout(&output));
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("audit-signature"), None);
    assert_eq!(received[0].header("audit-stream"), Some("global"));
    let array: Vec<Value> = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(array[0]["action"], "audit.stream_tested", "{array:?}");
    // No --actor and no $USER or $LOGNAME.
    assert_eq!(array[0]["actor"]["id"], "unknown", "{array:?}");

    // A secret too short for a destination is refused before anything is sent.
    let mut short = command(&db, &["stream", "test", &receiver.url, "--secret-env", "SHORT"]);
    short.env("SHORT", "tiny");
    let output = run(short).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("secret"), "{}", stderr(&output));
    assert_eq!(receiver.received().len(), 1);
}

async fn test_of_a_refusing_receiver_names_its_status_and_retry_after(db: TestDb) {
    let receiver = Receiver::start(StatusCode::SERVICE_UNAVAILABLE, Some("7")).await;
    let mut test = command(&db, &["stream", "test", &receiver.url, "--secret-env", "S"]);
    test.env("S", SECRET);
    let output = run(test).await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(said.contains("status: 503 Service Unavailable"), "{said}");
    assert!(said.contains("retry-after: 7 s"), "{said}");
    let error = stderr(&output);
    assert!(error.contains("503") && error.contains("Retry-After: 7 s"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
    assert_eq!(receiver.received().len(), 1);
}

async fn test_without_an_answer_has_its_own_exit_code(db: TestDb) {
    // A port nothing listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let output = audit(&db, &["stream", "test", &url]).await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("no answer") && error.contains("refused"), "{error}");

    // A port that takes the connection and never answers: the timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let output = audit(&db, &["stream", "test", &url, "--timeout", "1"]).await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("no answer within 1000 ms"), "{error}");
    drop(silent);
}

fn event(n: usize, tenant: &str) -> Event {
    Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u_{n}")))
        .tenant(tenant)
        .build()
}

async fn add_prints_a_generated_secret_once_and_list_never_shows_it(db: TestDb) {
    let store = db.connect().await;
    store
        .write_batch(&[event(1, "acme"), event(2, "globex")])
        .await
        .unwrap();
    let output = audit(
        &db,
        &[
            "stream",
            "add",
            "siem",
            "--url",
            "http://127.0.0.1:9/collector?token=hec-token",
            "--format",
            "ocsf",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(said.contains("will not be shown again"), "{said}");
    let secrets: Vec<&str> = said.lines().filter(|line| line.starts_with("whsec_")).collect();
    assert_eq!(secrets.len(), 1, "{said}");
    let secret = secrets[0].to_owned();
    assert!(secret.len() >= "whsec_".len() + 43, "32 random bytes: {secret}");
    let kept = db
        .strings("SELECT secret FROM audit_stream_destinations WHERE name = 'siem'")
        .await;
    assert_eq!(kept, std::slice::from_ref(&secret));

    // A tenant's own, with its secret from the environment: not printed.
    let mut add = command(
        &db,
        &[
            "stream",
            "add",
            "acme-siem",
            "--url",
            "http://127.0.0.1:9/acme",
            "--tenant",
            "acme",
            "--format",
            "cef",
            "--body",
            "json-array",
            "--from",
            "beginning",
            "--secret-env",
            "ACME_SECRET",
        ],
    );
    add.env("ACME_SECRET", SECRET);
    let output = run(add).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stdout(&output).contains(SECRET) && !stdout(&output).contains("whsec_"));
    assert!(stdout(&output).contains("from the beginning"), "{}", stdout(&output));

    // Twice the same name.
    let output = audit(&db, &["stream", "add", "siem", "--url", "http://127.0.0.1:9/"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("exists already"), "{}", stderr(&output));

    // Three more events: siem (from now) waits for all three, acme-siem
    // (from the beginning, acme only) for acme's three.
    store
        .write_batch(&[event(3, "acme"), event(4, "acme"), event(5, "globex")])
        .await
        .unwrap();
    let output = audit(&db, &["stream", "list"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(!table.contains(&secret) && !table.contains(SECRET), "{table}");
    assert!(!table.contains("hec-token"), "{table}");
    let siem = table.lines().find(|line| line.starts_with("siem ")).unwrap();
    let cells: Vec<&str> = siem.split_whitespace().collect();
    assert_eq!(
        cells,
        ["siem", "*", "http://127.0.0.1:9/collector?…", "ocsf", "lines", "-", "3"],
        "{table}"
    );
    let acme = table.lines().find(|line| line.starts_with("acme-siem ")).unwrap();
    let cells: Vec<&str> = acme.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "acme-siem",
            "acme",
            "http://127.0.0.1:9/acme",
            "cef",
            "json-array",
            "-",
            "3"
        ],
        "{table}"
    );

    let output = audit(&db, &["stream", "list", "--json"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains(&secret) && !text.contains(SECRET), "{text}");
    let listed: Vec<Value> = serde_json::from_str(&text).unwrap();
    let by_name = |name: &str| listed.iter().find(|d| d["name"] == name).unwrap().clone();
    assert_eq!(by_name("siem")["tenant"], Value::Null);
    assert_eq!(by_name("siem")["lag"], 3);
    assert_eq!(by_name("acme-siem")["tenant"], "acme");
    assert_eq!(by_name("acme-siem")["format"], "cef");
    assert_eq!(listed.len(), 2);
    assert!(table.ends_with("\n2 destinations\n"), "{table}");

    // Per stream: siem started at the heads (acme 1, globex 1).
    let output = audit(&db, &["stream", "status", "--json"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains(&secret) && !text.contains(SECRET), "{text}");
    let status: Vec<Value> = serde_json::from_str(&text).unwrap();
    let siem = status.iter().find(|d| d["destination"] == "siem").unwrap();
    let acme_stream = siem["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "tenant:acme")
        .unwrap();
    assert_eq!(
        (&acme_stream["delivered"], &acme_stream["head"], &acme_stream["lag"]),
        (&Value::from(1), &Value::from(3), &Value::from(2)),
        "{text}"
    );
    let acme = status.iter().find(|d| d["destination"] == "acme-siem").unwrap();
    assert_eq!(acme["streams"].as_array().unwrap().len(), 1, "{text}");
    assert_eq!(acme["streams"][0]["stream"], "tenant:acme");
    assert_eq!(acme["streams"][0]["delivered"], 0);
}

async fn invalid_destinations_are_usage_errors_naming_the_field_and_store_nothing(db: TestDb) {
    for (url, named) in [
        ("mailto:siem@example.com", "expected an absolute http://"),
        ("ftp://siem.example.com/", "expected an absolute http://"),
        ("not a url", "destination url"),
    ] {
        let output = audit(&db, &["stream", "add", "siem", "--url", url]).await;
        assert_eq!(output.status.code(), Some(2), "{url}: {}", stderr(&output));
        let error = stderr(&output);
        assert!(error.contains("destination url") && error.contains(named), "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(!stdout(&output).contains("whsec_"), "no secret for what was not kept");
    }
    let mut short = command(
        &db,
        &[
            "stream",
            "add",
            "siem",
            "--url",
            "http://127.0.0.1:9/",
            "--secret-env",
            "SHORT",
        ],
    );
    short.env("SHORT", "whsec_short");
    let output = run(short).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("destination secret"), "{}", stderr(&output));
    let output = audit(
        &db,
        &[
            "stream",
            "add",
            "siem",
            "--url",
            "http://127.0.0.1:9/",
            "--secret-env",
            "AUDIT_TEST_UNSET_VARIABLE",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--secret-env AUDIT_TEST_UNSET_VARIABLE"),
        "{}",
        stderr(&output)
    );
    let output = audit(&db, &["stream", "add", "bad name", "--url", "http://127.0.0.1:9/"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("destination name"), "{}", stderr(&output));
    for (header, named) in [
        (
            ["--header", "Content-Type: text/plain"],
            "webhook header Content-Type: set by the sink itself",
        ),
        (
            ["--header", "Audit-Stream: forged"],
            "webhook header Audit-Stream: set by the sink itself",
        ),
        (
            ["--header", "no colon"],
            "--header \"no colon\": expected 'NAME: VALUE'",
        ),
        (
            ["--header", "Bad Name: x"],
            "webhook header Bad Name: not a header name",
        ),
        (
            ["--header-env", "Authorization=AUDIT_TEST_UNSET_VARIABLE"],
            "--header-env Authorization=AUDIT_TEST_UNSET_VARIABLE",
        ),
        (["--header-env", "Authorization"], "expected NAME=VARIABLE"),
    ] {
        let mut args = vec!["stream", "add", "siem", "--url", "http://127.0.0.1:9/"];
        args.extend(header);
        let output = audit(&db, &args).await;
        assert_eq!(output.status.code(), Some(2), "{header:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(named), "{header:?}: {}", stderr(&output));
        assert!(!stdout(&output).contains("whsec_"), "no secret for what was not kept");
    }

    let output = audit(&db, &["stream", "list", "--json"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&output)).unwrap(),
        serde_json::json!([])
    );
    assert!(db.connect().await.stream_destinations().await.unwrap().is_empty());
}

async fn remove_takes_a_destination_away_and_refuses_an_unknown_name(db: TestDb) {
    let output = audit(&db, &["stream", "remove", "nope"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no destination named \"nope\""),
        "{}",
        stderr(&output)
    );

    let output = audit(&db, &["stream", "add", "siem", "--url", "http://127.0.0.1:9/"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = audit(&db, &["stream", "remove", "siem"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("removed destination siem"),
        "{}",
        stdout(&output)
    );
    assert!(db.connect().await.stream_destinations().await.unwrap().is_empty());
    let output = audit(&db, &["stream", "remove", "siem"]).await;
    assert_eq!(output.status.code(), Some(1));
}

/// Sends SIGKILL to a child still running when dropped.
struct KillOnDrop(Option<String>);

impl KillOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = &self.0 {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
}

async fn run_delivers_until_sigterm_then_exits_0(db: TestDb) {
    let store = db.connect().await;
    let receiver = Receiver::accepting().await;
    let mut add = command(
        &db,
        &[
            "stream",
            "add",
            "siem",
            "--url",
            &receiver.url,
            "--from",
            "beginning",
            "--secret-env",
            "SIEM_SECRET",
            "--header-env",
            "Authorization=SIEM_TOKEN",
            "--header",
            "X-Source: audit",
        ],
    );
    add.env("SIEM_SECRET", SECRET).env("SIEM_TOKEN", "Splunk tok-0123");
    let output = run(add).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The header names are listed, never the token.
    let output = audit(&db, &["stream", "list", "--json"]).await;
    let listed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(listed[0]["headers"], serde_json::json!(["X-Source", "Authorization"]));
    let output = audit(&db, &["stream", "list"]).await;
    assert!(
        stdout(&output).contains("X-Source,Authorization"),
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains("tok-0123"), "{}", stdout(&output));

    let mut child = command(&db, &["stream", "run", "--poll", "1", "--refresh", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let kill = |signal: &str| Command::new("kill").args([signal, &pid]).status().unwrap();
    // Killed if the test fails before it is stopped.
    let guard = KillOnDrop(Some(pid.clone()));
    let events = [event(1, "acme"), event(2, "acme"), event(3, "globex")];
    store.write_batch(&events).await.unwrap();
    let ids: HashSet<String> = events.iter().map(|event| event.id().to_string()).collect();
    receiver.until_holds(&ids).await;
    for delivery in receiver.received() {
        let signature = delivery.header("audit-signature").expect("signed");
        assert!(signed_by(SECRET, signature, &delivery.body), "{signature}");
        assert_eq!(delivery.header("authorization"), Some("Splunk tok-0123"));
        assert_eq!(delivery.header("x-source"), Some("audit"));
    }

    assert!(kill("-TERM").success());
    let mut said = String::new();
    let mut pipe = child.stderr.take().unwrap();
    let waited = tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || {
            use std::io::Read as _;
            pipe.read_to_string(&mut said).unwrap();
            (child.wait().unwrap(), said)
        }),
    )
    .await;
    let Ok(waited) = waited else {
        kill("-KILL");
        panic!("audit stream run still ran {PATIENCE:?} after SIGTERM");
    };
    let (status, said) = waited.unwrap();
    guard.disarm();
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(said.contains("streaming to 1 destination ("), "{said}");
    assert!(said.contains("stopping"), "{said}");

    // Its positions were kept: nothing waits.
    let output = audit(&db, &["stream", "list", "--json"]).await;
    let listed: Vec<Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(listed[0]["lag"], 0, "{listed:?}");
}
