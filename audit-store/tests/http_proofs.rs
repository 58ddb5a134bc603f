//! The provable side of the admin API end to end: `/checkpoints`,
//! `/consistency` and exports with proofs, on a real loopback server over a
//! real SQLite file or PostgreSQL database, checked with the verifier key
//! alone (the library's verifier, and the `audit verify-event` command).

#![cfg(feature = "cli")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::process::{Command, Output};

use audit_core::{Action, Actor, AuditSink, Event, Outcome, Target};
use audit_store::checkpoint::{Checkpoint, Checkpointer, SigningKey, VerifierKey};
use audit_store::{ConsistencyProof, EventProof, Store, serde_hash};
use http::StatusCode;
use serde_json::Value;
use support::TestDb;
use support::loopback::Loopback;

on_both_backends!(
    checkpoints_and_consistency_proofs_verify_with_the_verifier_key,
    a_tenant_reader_gets_only_its_own_stream,
    bad_input_is_a_400_naming_the_parameter,
    export_with_proofs_verifies_offline_until_a_line_is_tampered,
);

const LOG: &str = "audit.example.com";
const ACME_ADMIN: &str = "u_admin admin acme";
const GLOBEX_OWNER: &str = "u_owner owner globex";
const ACME_MEMBER: &str = "u_member member acme";
const AUDITOR: &str = "u_auditor auditor";

/// `count` events of `tenant` (`None`: the global stream).
async fn write(store: &Store, tenant: Option<&str>, count: usize) {
    let events: Vec<Event> = (0..count)
        .map(|n| {
            let builder = Event::builder(Action::new("refund.issued").unwrap(), Actor::user("clerk"))
                .metadata("amount", &(100 * n));
            match tenant {
                Some(tenant) => builder.tenant(tenant).build(),
                None => builder.build(),
            }
        })
        .collect();
    store.write_batch(&events).await.unwrap();
}

/// The API over a store whose acme stream was signed at 12 and 20 events
/// and has 3 more since; globex signed at 5, global at 3.
async fn signed_fixture(db: &TestDb) -> (Loopback, Store, VerifierKey) {
    let store = db.connect().await;
    let key = SigningKey::generate(LOG).unwrap();
    let checkpointer = Checkpointer::new(store.clone(), key.clone());
    write(&store, Some("acme"), 12).await;
    write(&store, Some("globex"), 5).await;
    write(&store, None, 3).await;
    checkpointer.checkpoint_now().await.unwrap();
    write(&store, Some("acme"), 8).await;
    checkpointer.checkpoint_now().await.unwrap();
    write(&store, Some("acme"), 3).await;
    (Loopback::start(store.clone()).await, store, key.verifier_key())
}

async fn ok_json(api: &Loopback, actor: &str, path: &str) -> Value {
    let (status, _, body) = api.get(actor, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The `error` object of a refused request, after checking its status.
async fn refused(api: &Loopback, actor: &str, path: &str, status: StatusCode) -> Value {
    let (got, _, body) = api.get(actor, path).await;
    assert_eq!(got, status, "{path}: {body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{path}: {body}"
    );
    error["error"].clone()
}

/// Each listed checkpoint opened with the key: its size, and the checkpoint.
fn opened(list: &Value, key: &VerifierKey, stream: &str) -> Vec<(u64, Checkpoint)> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert_eq!(row["stream"], stream);
            let checkpoint = Checkpoint::open(row["checkpoint"].as_str().unwrap(), key).unwrap();
            assert_eq!(checkpoint.origin, Checkpoint::origin(LOG, stream));
            assert_eq!(Some(checkpoint.size), row["tree_size"].as_u64());
            assert_eq!(
                serde_hash::decode(row["root"].as_str().unwrap()).unwrap(),
                checkpoint.root
            );
            assert!(row["signed_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{row}");
            (checkpoint.size, checkpoint)
        })
        .collect()
}

async fn checkpoints_and_consistency_proofs_verify_with_the_verifier_key(db: TestDb) {
    let (api, _store, key) = signed_fixture(&db).await;
    let list = ok_json(&api, ACME_ADMIN, "/checkpoints").await;
    let checkpoints = opened(&list, &key, "tenant:acme");
    let sizes: Vec<u64> = checkpoints.iter().map(|(size, _)| *size).collect();
    assert_eq!(sizes, [12, 20], "smallest tree first");
    let (old, new) = (&checkpoints[0].1, &checkpoints[1].1);

    let proof: ConsistencyProof =
        serde_json::from_value(ok_json(&api, ACME_ADMIN, "/consistency?from=12&to=20").await).unwrap();
    assert_eq!(
        (proof.stream.as_str(), proof.old_size, proof.new_size),
        ("tenant:acme", 12, 20)
    );
    proof.verify(old, new).unwrap();
    // The same proof does not join other trees.
    assert!(proof.verify(new, old).is_err());
    // Any sizes up to the head: 20 → 23, the head past the last checkpoint.
    let ahead: ConsistencyProof =
        serde_json::from_value(ok_json(&api, ACME_ADMIN, "/consistency?from=20&to=23").await).unwrap();
    assert!(!ahead.proof.is_empty());
    let same = ok_json(&api, ACME_ADMIN, "/consistency?tenant_id=acme&from=20&to=20").await;
    assert_eq!(same["proof"], serde_json::json!([]));

    // Paging: limit, and since (inclusive) from the last signed_at.
    let first = ok_json(&api, ACME_ADMIN, "/checkpoints?limit=1").await;
    assert_eq!(opened(&first, &key, "tenant:acme")[0].0, 12);
    let second_at = list["data"][1]["signed_at"].as_str().unwrap();
    let since = ok_json(
        &api,
        ACME_ADMIN,
        &format!(
            "/checkpoints?since={}",
            form_urlencoded::byte_serialize(second_at.as_bytes()).collect::<String>()
        ),
    )
    .await;
    assert_eq!(opened(&since, &key, "tenant:acme")[0].0, 20);
    assert_eq!(since["data"].as_array().unwrap().len(), 1);

    // A platform reader: `global` without tenant_id, any tenant with it.
    let global = ok_json(&api, AUDITOR, "/checkpoints").await;
    assert_eq!(opened(&global, &key, "global")[0].0, 3);
    let globex = ok_json(&api, AUDITOR, "/checkpoints?tenant_id=globex").await;
    assert_eq!(opened(&globex, &key, "tenant:globex")[0].0, 5);
    let global_proof = ok_json(&api, AUDITOR, "/consistency?from=1&to=3").await;
    assert_eq!(global_proof["stream"], "global");

    // Every read was recorded, saying which stream.
    let recorded = api.recorded().await;
    assert_eq!(recorded.len(), 9);
    assert!(
        recorded
            .iter()
            .all(|e| e.action().as_str() == "audit_log.viewed" && e.outcome() == Outcome::Success)
    );
    assert_eq!(recorded[0].target(), Some(&Target::new("audit_stream", "tenant:acme")));
    assert_eq!(
        recorded[0].description(),
        Some("Viewed the signed checkpoints of tenant:acme")
    );
    assert_eq!(
        recorded[1].description(),
        Some("Viewed the consistency proof of tenant:acme from 12 to 20 events")
    );
    assert_eq!(recorded[1].metadata()["filters"]["from"], "12");
    assert_eq!(recorded[6].target(), Some(&Target::new("audit_stream", "global")));
}

async fn a_tenant_reader_gets_only_its_own_stream(db: TestDb) {
    let (api, _store, key) = signed_fixture(&db).await;
    for path in [
        "/checkpoints?tenant_id=globex",
        "/consistency?tenant_id=globex&from=1&to=2",
    ] {
        let error = refused(&api, ACME_ADMIN, path, StatusCode::FORBIDDEN).await;
        assert_eq!(
            (error["code"].as_str(), error["param"].as_str()),
            (Some("forbidden"), Some("tenant_id"))
        );
    }
    let error = refused(&api, ACME_MEMBER, "/checkpoints", StatusCode::FORBIDDEN).await;
    assert!(
        error["message"].as_str().unwrap().contains("`owner` or `admin`"),
        "{error}"
    );
    refused(&api, "", "/consistency?from=1&to=2", StatusCode::FORBIDDEN).await;
    // globex's owner reads globex's stream, also when naming it.
    let own = ok_json(&api, GLOBEX_OWNER, "/checkpoints").await;
    assert_eq!(opened(&own, &key, "tenant:globex").len(), 1);
    let named = ok_json(&api, GLOBEX_OWNER, "/checkpoints?tenant_id=globex").await;
    assert_eq!(named, own);
    let outcomes: Vec<Outcome> = api.recorded().await.iter().map(Event::outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Denied,
            Outcome::Denied,
            Outcome::Denied,
            Outcome::Denied,
            Outcome::Success,
            Outcome::Success
        ]
    );
}

async fn bad_input_is_a_400_naming_the_parameter(db: TestDb) {
    let (api, _store, _key) = signed_fixture(&db).await;
    let cases = [
        ("/checkpoints?from=1", "from"),
        ("/checkpoints?since=yesterday", "since"),
        ("/checkpoints?since=", "since"),
        ("/checkpoints?limit=0", "limit"),
        ("/checkpoints?limit=201", "limit"),
        ("/checkpoints?limit=ten", "limit"),
        ("/checkpoints?tenant_id=", "tenant_id"),
        ("/checkpoints?limit=1&limit=2", "limit"),
        ("/consistency?from=2", "to"),
        ("/consistency?to=2", "from"),
        ("/consistency?from=0&to=2", "from"),
        ("/consistency?from=-1&to=2", "from"),
        ("/consistency?from=a&to=2", "from"),
        ("/consistency?from=&to=2", "from"),
        ("/consistency?from=1&from=2&to=3", "from"),
        ("/consistency?from=5&to=3", "from"),
        ("/consistency?from=1&to=24", "to"),
        ("/consistency?from=1&to=99999999999999999999", "to"),
        ("/consistency?from=1&to=2&limit=3", "limit"),
        ("/export?format=csv&with_proofs=true", "with_proofs"),
        ("/export?format=ndjson&with_proofs=yes", "with_proofs"),
        ("/export?format=ndjson&with_proofs=true&with_proofs=true", "with_proofs"),
    ];
    for (path, param) in cases {
        let error = refused(&api, ACME_ADMIN, path, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["code"], "invalid_parameter", "{path}: {error}");
        assert_eq!(error["param"], param, "{path}: {error}");
    }
    // Past the head says how far the stream goes.
    let error = refused(&api, ACME_ADMIN, "/consistency?from=1&to=24", StatusCode::BAD_REQUEST).await;
    assert!(error["message"].as_str().unwrap().contains("has 23"), "{error}");
    // Every refusal was recorded as a failed read.
    let recorded = api.recorded().await;
    assert_eq!(recorded.len(), cases.len() + 1);
    assert!(
        recorded
            .iter()
            .all(|e| e.outcome() == Outcome::Failure && e.reason().is_some())
    );
}

fn audit(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .env("AUDIT_DATABASE_URL", &db.urls()[0])
        .env_remove("AUDIT_SIGNING_KEY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn export_with_proofs_verifies_offline_until_a_line_is_tampered(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("audit-http-proofs-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("signing.key").display().to_string();
    let output = audit(&db, &["keygen", LOG, "--out", &key_file]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let verifier = text(&output.stdout).trim().to_owned();

    let store = db.connect().await;
    write(&store, Some("acme"), 600).await; // more than one export batch
    write(&store, Some("globex"), 4).await;
    let output = audit(&db, &["checkpoint", "--key-file", &key_file]);
    assert!(
        text(&output.stdout).contains("tenant:acme: signed at 600 events"),
        "{}",
        text(&output.stdout)
    );
    write(&store, Some("acme"), 3).await; // not covered yet
    let api = Loopback::start(store.clone()).await;

    let (status, headers, body) = api.get(ACME_ADMIN, "/export?format=ndjson&with_proofs=true").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = body.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 603);
    let (uncovered, covered): (Vec<&Value>, Vec<&Value>) = lines.iter().partition(|line| line["checkpoint"].is_null());
    assert_eq!(uncovered.len(), 3);
    for line in &uncovered {
        let mut keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["checkpoint", "event", "leaf_index"], "{line}");
        assert!(line["leaf_index"].as_u64().unwrap() >= 600);
    }
    for line in &covered {
        let proof: EventProof = serde_json::from_value((*line).clone()).unwrap();
        assert_eq!(proof.tree_size, 600);
        let verifier_key: VerifierKey = verifier.parse().unwrap();
        proof.verify(&verifier_key, LOG).unwrap();
    }
    let exported = api.recorded().await;
    assert_eq!(
        exported[0].description(),
        Some("Exported the audit log as NDJSON with proofs")
    );

    // The command checks every covered line, then names the uncovered ones: exit 4.
    let file = dir.join("export.ndjson");
    std::fs::write(&file, &body).unwrap();
    let file = file.to_str().unwrap();
    let output = audit(&db, &["verify-event", file, "--key", &verifier]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert_eq!(report.matches("is in the signed tree of 600 events").count(), 600);
    assert_eq!(report.matches("not covered by a signed checkpoint yet").count(), 3);
    assert!(
        text(&output.stderr).contains("3 events are not covered"),
        "{}",
        text(&output.stderr)
    );

    // Only the covered lines: all verify, exit 0.
    let covered_only: String = body
        .lines()
        .filter(|line| !line.ends_with("\"checkpoint\":null}"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(covered_only.lines().count(), 600);
    std::fs::write(file, &covered_only).unwrap();
    let output = audit(&db, &["verify-event", file, "--key", &verifier]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // One amount edited in one line: exit 3, naming the event.
    let mut tampered: Vec<Value> = covered.iter().map(|line| (*line).clone()).collect();
    tampered[250]["event"]["metadata"]["amount"] = 1.into();
    let tampered_text: String = tampered.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(file, tampered_text).unwrap();
    let output = audit(&db, &["verify-event", file, "--key", &verifier]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stdout));
    let id = tampered[250]["event"]["id"].as_str().unwrap();
    assert!(
        text(&output.stderr).contains(&format!("event {id} does not verify")),
        "{}",
        text(&output.stderr)
    );

    // The command line writes the same export.
    let cli_file = dir.join("cli.ndjson");
    let output = audit(
        &db,
        &[
            "export",
            "--format",
            "ndjson",
            "--with-proofs",
            "--tenant",
            "acme",
            "--output",
            cli_file.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(&cli_file).unwrap(), body);
    let output = audit(&db, &["export", "--format", "csv", "--with-proofs"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("--with-proofs needs --format ndjson"),
        "{}",
        text(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
