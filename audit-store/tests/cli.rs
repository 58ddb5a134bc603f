//! The `audit` command, run as a real process against a real SQLite file or
//! PostgreSQL database.

#![cfg(feature = "cli")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::process::{Command, Output};

use audit_core::{Action, Actor, ActorKind, AuditSink, Event, Outcome, Timestamp};
use audit_store::{ActionFilter, AuditQuery};
use support::TestDb;

on_both_backends!(
    query_lists_events_as_a_table_or_json_with_filters,
    export_writes_every_matching_event,
    verify_exits_3_and_names_the_first_bad_event,
    verify_known_reports_a_stream_gone_or_shortened_with_its_head,
    purge_needs_confirmation_then_leaves_a_verifiable_stream,
    errors_are_one_line_with_the_documented_exit_code,
    serve_answers_the_token_bearer_and_refuses_everyone_else,
    serve_stops_on_sigterm_and_records_audit_stopped_last,
    query_is_recorded_as_viewed_by_the_os_user,
    actor_names_who_reads_over_the_os_user,
    export_is_recorded_with_its_filters_and_how_it_ended,
    a_hostile_actor_name_is_a_usage_error_and_nothing_is_read,
    a_read_the_store_will_not_record_fails_the_command,
    migrate_sets_the_partition_unit_on_postgres_only,
    migrate_turns_the_search_index_off_and_on,
    catalogue_prints_the_published_actions_and_their_metadata_schemas,
    erase_is_refused_under_a_hold_then_erases_and_is_recorded,
);

/// The fixture application's catalogue (see `fixtures/catalogue.toml`).
mod actions {
    audit_core::catalogue!("fixtures/catalogue.toml");
}

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

fn audit(db: &TestDb, args: &[&str]) -> Output {
    command(db, args).output().unwrap()
}

/// The log's own `audit_log.*` events, oldest first.
async fn reads(db: &TestDb) -> Vec<Event> {
    let query = AuditQuery::new()
        .action(ActionFilter::prefix("audit_log").unwrap())
        .limit(200);
    let mut events = db.connect().await.query(&query).await.unwrap().events;
    events.reverse();
    events
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Twenty events: acme and globex alternating, ten days apart from 2026-01-01.
async fn twenty(db: &TestDb) -> Vec<Event> {
    let store = db.connect().await;
    let events: Vec<Event> = (0..20_i64)
        .map(|n| {
            Event::builder(
                Action::new(if n % 4 == 0 { "app.deleted" } else { "app.created" }).unwrap(),
                Actor::user(format!("u_{n}")),
            )
            .tenant(if n % 2 == 0 { "acme" } else { "globex" })
            .description(format!("event number {n}"))
            .occurred_at(Timestamp::from_unix_micros(1_767_225_600_000_000 + n * 86_400_000_000).unwrap())
            .build()
        })
        .collect();
    store.write_batch(&events).await.unwrap();
    events
}

async fn query_lists_events_as_a_table_or_json_with_filters(db: TestDb) {
    twenty(&db).await;
    let output = audit(&db, &["query", "--tenant", "acme", "--action", "app.deleted"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("OCCURRED_AT"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains("app.deleted")).count(), 5, "{text}");
    assert!(text.contains("\n5 events"), "{text}");

    let output = audit(&db, &["query", "--json", "--limit", "3", "--text", "number 1"]);
    let page: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let output = audit(
        &db,
        &[
            "query", "--json", "--limit", "3", "--text", "number 1", "--cursor", cursor,
        ],
    );
    let next: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    // "number 1" matches 1 and 10 to 19: eleven events, three per page.
    assert_eq!(next["data"].as_array().unwrap().len(), 3);
    assert_ne!(next["data"][0]["id"], page["data"][0]["id"]);
}

async fn export_writes_every_matching_event(db: TestDb) {
    twenty(&db).await;
    let dir = std::env::temp_dir().join(format!("audit-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("acme.csv");
    let output = audit(
        &db,
        &[
            "export",
            "--format",
            "csv",
            "--tenant",
            "acme",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output).trim(), "exported 10 events");
    let csv = std::fs::read_to_string(&file).unwrap();
    assert_eq!(csv::Reader::from_reader(csv.as_bytes()).records().count(), 10);
    let output = audit(&db, &["export", "--format", "ndjson", "--since", "2026-01-10"]);
    // Eleven events, and the record of the first export, newest.
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12);
    assert!(lines[0].contains("\"audit_log.exported\""), "{}", lines[0]);
    std::fs::remove_dir_all(dir).unwrap();
}

async fn verify_exits_3_and_names_the_first_bad_event(db: TestDb) {
    let events = twenty(&db).await;
    let output = audit(&db, &["verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("tenant:acme: intact, 10 events"),
        "{}",
        stdout(&output)
    );

    db.drop_append_only_triggers().await;
    let victim = events.iter().find(|e| e.tenant_id() == Some("globex")).unwrap().id();
    db.exec(&format!(
        "UPDATE audit_events SET description = 'nothing happened' WHERE id = '{victim}'"
    ))
    .await
    .unwrap();
    let output = audit(&db, &["verify"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout(&output).contains("tenant:acme: intact"));
    assert!(stderr(&output).contains(&victim.to_string()), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().count(), 1);
    let output = audit(&db, &["verify", "--tenant", "acme"]);
    assert_eq!(output.status.code(), Some(0));
}

async fn verify_known_reports_a_stream_gone_or_shortened_with_its_head(db: TestDb) {
    twenty(&db).await;
    let dir = std::env::temp_dir().join(format!("audit-known-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let known = dir.join("known.json");
    let known_arg = known.to_str().unwrap();
    let output = audit(&db, &["verify", "--known", known_arg]);
    assert!(output.status.success(), "{}", stderr(&output));
    let recorded: serde_json::Value = serde_json::from_slice(&std::fs::read(&known).unwrap()).unwrap();
    assert_eq!(
        recorded["streams"],
        serde_json::json!({"tenant:acme": 10, "tenant:globex": 10})
    );

    // Someone who owns the database removes globex's events and its head row,
    // and acme's three newest events with its head and its Merkle tree
    // rebuilt to match.
    db.drop_append_only_triggers().await;
    db.exec(
        "DELETE FROM audit_events WHERE stream = 'tenant:globex'; \
         DELETE FROM audit_streams WHERE stream = 'tenant:globex'; \
         DELETE FROM audit_events WHERE stream = 'tenant:acme' AND seq > 7; \
         UPDATE audit_streams SET head_seq = 7, head_hash = (SELECT leaf_hash FROM audit_events \
             WHERE stream = 'tenant:acme' AND seq = 7) WHERE stream = 'tenant:acme';",
    )
    .await
    .unwrap();
    support::attacker::rebuild_tree(&db, "tenant:acme").await;
    let output = audit(&db, &["verify"]);
    assert!(
        output.status.success(),
        "the database alone cannot tell: {}",
        stdout(&output)
    );

    let output = audit(&db, &["verify", "--known", known_arg]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains("tenant:globex: TAMPERED: verified up to seq 10 before, the stream is gone"),
        "{text}"
    );
    assert!(
        text.contains("tenant:acme: TAMPERED: verified up to seq 10 before, the stream now ends at seq 7"),
        "{text}"
    );
    // A failed run leaves the evidence in the file.
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&known).unwrap()).unwrap();
    assert_eq!(after, recorded);

    let output = audit(&db, &["verify", "--json", "--known", known_arg, "--tenant", "acme"]);
    assert_eq!(output.status.code(), Some(3));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "acme's report and its loss only: {rows:?}");
    assert_eq!(rows[1]["intact"], false);
}

async fn purge_needs_confirmation_then_leaves_a_verifiable_stream(db: TestDb) {
    twenty(&db).await;
    let output = audit(&db, &["purge", "--before", "2026-01-05", "--tenant", "acme"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--yes"));
    assert_eq!(db.count().await, 20);

    let output = audit(&db, &["purge", "--before", "2026-01-05", "--tenant", "acme", "--yes"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("tenant:acme: removed 2 events"),
        "{}",
        stdout(&output)
    );
    // Acme's events of 1 and 3 January go; the purge records itself.
    assert_eq!(db.count().await, 20 - 2 + 1);
    assert_eq!(audit(&db, &["verify"]).status.code(), Some(0));
    let output = audit(&db, &["purge", "--before", "2099-01-01", "--yes"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("future"), "{}", stderr(&output));

    // Per-tenant periods: globex keeps 30 days (its events are all older),
    // every other stream is kept for ever.
    let output = audit(&db, &["purge", "--keep-tenant", "globex=30d", "--yes", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let outcome: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(outcome["streams"].as_array().unwrap().len(), 1, "{outcome}");
    assert_eq!(outcome["streams"][0]["stream"], "tenant:globex");
    assert_eq!(outcome["streams"][0]["removed"], 10);
    assert_eq!(db.count().await, 20 - 2 + 1 - 10 + 1);
    assert_eq!(audit(&db, &["verify"]).status.code(), Some(0));
    for (args, says) in [
        (
            &["purge", "--keep", "3w", "--yes"][..],
            "--keep \"3w\": expected a number of days",
        ),
        (
            &["purge", "--keep-tenant", "acme", "--yes"][..],
            "expected TENANT=PERIOD",
        ),
        (
            &["purge", "--keep-tenant", "=30d", "--yes"][..],
            "expected TENANT=PERIOD",
        ),
        (&["purge", "--keep", "0d", "--yes"][..], "from 1 to 36500"),
    ] {
        let output = audit(&db, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(stderr(&output).contains(says), "{args:?}: {}", stderr(&output));
    }
    // A cut is required, and a date and periods do not mix.
    assert_eq!(audit(&db, &["purge", "--yes"]).status.code(), Some(2));
    let output = audit(&db, &["purge", "--before", "2026-01-05", "--keep", "30d", "--yes"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(db.count().await, 20 - 2 + 1 - 10 + 1);
}

async fn errors_are_one_line_with_the_documented_exit_code(db: TestDb) {
    twenty(&db).await;
    let output = audit(&db, &["query", "--limit", "500"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).trim(),
        "audit: error: `limit` must be between 1 and 200, got 500"
    );
    let output = audit(&db, &["query", "--severity", "loud"]);
    assert_eq!(output.status.code(), Some(2), "clap refuses unknown values");
    let output = audit(&db, &["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    let output = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(["migrate", "--database-url", "mysql://root:hunter2@db/audit"])
        .env_remove("AUDIT_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        !message.contains("hunter2") && message.contains("unsupported database URL"),
        "{message}"
    );
}

/// One HTTP/1.0 GET (so the body is not chunked); the status line and body.
fn http_get(addr: &str, path: &str, token: Option<&str>) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

const SERVE_TOKEN: &str = "a-long-enough-serve-token";

/// `audit serve` running on a free loopback port of `db`.
struct Serve {
    child: std::process::Child,
    addr: String,
    /// The rest of its stderr, held open: it may still write.
    stderr: std::io::BufReader<std::process::ChildStderr>,
}

/// `audit serve` on a free loopback port of `db`, once it listens.
fn serve(db: &TestDb) -> Serve {
    use std::io::BufRead as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = command(db, &["serve", "--addr", &addr])
        .env("AUDIT_SERVE_TOKEN", SERVE_TOKEN)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It says where it listens once the socket is bound.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains(&format!("http://{addr}/audit-logs")), "{line}");
    Serve { child, addr, stderr }
}

async fn serve_answers_the_token_bearer_and_refuses_everyone_else(db: TestDb) {
    twenty(&db).await;
    let Serve { mut child, addr, .. } = serve(&db);
    let token = SERVE_TOKEN;

    let (status, body) = http_get(&addr, "/audit-logs/?since=2000-01-01&limit=200", Some(token));
    assert!(status.contains("200"), "{status} {body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    let (status, _) = http_get(&addr, "/audit-logs", Some("wrong-token-of-some-length"));
    assert!(status.contains("403"), "{status}");
    let (status, _) = http_get(&addr, "/audit-logs", None);
    assert!(status.contains("403"), "{status}");
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn serve_stops_on_sigterm_and_records_audit_stopped_last(db: TestDb) {
    twenty(&db).await;
    use std::io::Read as _;
    let Serve {
        mut child,
        addr,
        stderr: mut rest,
    } = serve(&db);
    let (status, _) = http_get(&addr, "/audit-logs/?limit=1", Some(SERVE_TOKEN));
    assert!(status.contains("200"), "{status}");
    let pid = child.id().to_string();
    let kill = |signal: &str| Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(kill("-TERM").success());
    let (exited, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait().unwrap()));
    let Ok(status) = waited.recv_timeout(std::time::Duration::from_secs(20)) else {
        kill("-KILL");
        panic!("audit serve still ran 20 s after SIGTERM");
    };
    let mut said = String::new();
    rest.read_to_string(&mut said).unwrap();
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(said.starts_with("audit: stopping"), "{said}");
    // The serve's own events, in the order they were stored.
    let actions = db
        .strings("SELECT action FROM audit_events WHERE stream = 'global' ORDER BY seq")
        .await;
    assert_eq!(actions, ["audit.started", "audit_log.viewed", "audit.stopped"]);
}

async fn query_is_recorded_as_viewed_by_the_os_user(db: TestDb) {
    twenty(&db).await;
    let output = command(&db, &["query", "--tenant", "acme", "--action", "app.deleted"])
        .env("USER", "ops_ada")
        .env("LOGNAME", "ops_not_ada")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let recorded = reads(&db).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let read = &recorded[0];
    assert_eq!(read.action().as_str(), "audit_log.viewed");
    assert_eq!(read.outcome(), Outcome::Success);
    assert_eq!(
        (read.actor().kind, read.actor().id.as_str()),
        (ActorKind::User, "ops_ada")
    );
    assert_eq!(
        read.metadata()["filters"],
        serde_json::json!({"tenant_id": "acme", "action": "app.deleted"})
    );
    assert_eq!(read.metadata()["via"], "cli");
    assert_eq!(
        read.description(),
        Some("Viewed the audit log, filtered by tenant_id, action")
    );
    assert_eq!(
        read.tenant_id(),
        None,
        "the operator reads every tenant: the global stream"
    );

    // Without $USER, $LOGNAME; a $USER that is no name is passed over; with neither, "unknown".
    command(&db, &["query"]).env("LOGNAME", "ops_bob").output().unwrap();
    command(&db, &["query"])
        .env("USER", "ops\u{1b}[2Jeve")
        .env("LOGNAME", "ops_carol")
        .output()
        .unwrap();
    command(&db, &["query"]).output().unwrap();
    let actors: Vec<String> = reads(&db).await.iter().map(|e| e.actor().id.clone()).collect();
    assert_eq!(actors, ["ops_ada", "ops_bob", "ops_carol", "unknown"]);
}

async fn actor_names_who_reads_over_the_os_user(db: TestDb) {
    twenty(&db).await;
    let output = command(&db, &["query", "--actor", "alice", "--actor-id", "u_3", "--json"])
        .env("USER", "ops_ada")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let page: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        page["data"][0]["actor"]["id"], "u_3",
        "--actor is not a filter; --actor-id is"
    );
    let recorded = reads(&db).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].actor().id, "alice");
    assert_eq!(
        recorded[0].metadata()["filters"],
        serde_json::json!({"actor_id": "u_3"})
    );
}

async fn export_is_recorded_with_its_filters_and_how_it_ended(db: TestDb) {
    twenty(&db).await;
    let dir = std::env::temp_dir().join(format!("audit-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("acme.ndjson");
    let output = audit(
        &db,
        &[
            "export",
            "--format",
            "ndjson",
            "--tenant",
            "acme",
            "--action",
            "app.*",
            "--output",
            file.to_str().unwrap(),
            "--actor",
            "alice",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    // Exporting to a file that cannot be created is a failed export, recorded too.
    let output = audit(
        &db,
        &[
            "export",
            "--format",
            "csv",
            "--output",
            dir.join("missing/acme.csv").to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot create"), "{}", stderr(&output));
    std::fs::remove_dir_all(dir).unwrap();

    let recorded = reads(&db).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let (done, failed) = (&recorded[0], &recorded[1]);
    assert_eq!(done.action().as_str(), "audit_log.exported");
    assert_eq!((done.outcome(), done.actor().id.as_str()), (Outcome::Success, "alice"));
    assert_eq!(
        done.metadata()["filters"],
        serde_json::json!({"tenant_id": "acme", "action": "app.*", "format": "ndjson"})
    );
    assert_eq!(done.metadata()["events"], 10);
    assert_eq!(done.metadata()["via"], "cli");
    assert_eq!(
        done.description(),
        Some("Exported the audit log as NDJSON, filtered by tenant_id, action")
    );
    assert_eq!(failed.outcome(), Outcome::Failure);
    assert!(
        failed.reason().unwrap().starts_with("cannot create"),
        "{:?}",
        failed.reason()
    );
    assert_eq!(failed.metadata()["events"], 0);
    assert_eq!(failed.actor().id, "unknown", "no --actor, no $USER, no $LOGNAME");
}

async fn a_hostile_actor_name_is_a_usage_error_and_nothing_is_read(db: TestDb) {
    twenty(&db).await;
    let long = "a".repeat(513);
    for (name, shown) in [
        ("", "''"),
        ("   ", "'   '"),
        ("alice\nforged: entry", "'alice\\nforged: entry'"),
        ("alice\u{1b}[31m", "'alice\\u{1b}[31m'"),
        ("\u{202e}ecila", "'\\u{202e}ecila'"),
        // (No NUL: an argument cannot hold one.)
        ("alice\tbob", "'alice\\tbob'"),
        (long.as_str(), "at most 512 bytes"),
    ] {
        for read in [&["query"][..], &["export", "--format", "csv"]] {
            let output = audit(&db, &[read, &["--actor", name]].concat());
            assert_eq!(output.status.code(), Some(2), "{name:?}: {}", stderr(&output));
            let message = stderr(&output);
            assert!(
                message.starts_with("error: invalid value") && message.contains(shown),
                "{name:?}: {message}"
            );
            assert!(
                !message.contains('\u{1b}') && !message.contains('\u{202e}'),
                "echoed raw: {message:?}"
            );
            assert!(stdout(&output).is_empty());
        }
    }
    assert!(reads(&db).await.is_empty(), "refused before anything was read");
}

async fn a_read_the_store_will_not_record_fails_the_command(db: TestDb) {
    twenty(&db).await;
    // The store takes no more events: a full disk, a role that may only read.
    db.exec(if db.is_postgres() {
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'no more events here'; END $$; \
         CREATE TRIGGER refuse_events BEFORE INSERT ON audit_events FOR EACH ROW \
         EXECUTE FUNCTION refuse_events();"
    } else {
        "CREATE TRIGGER refuse_events BEFORE INSERT ON audit_events \
         BEGIN SELECT RAISE(ABORT, 'no more events here'); END;"
    })
    .await
    .unwrap();
    let output = audit(&db, &["query", "--tenant", "acme"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty(), "nothing shown: {}", stdout(&output));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("audit: error: the read could not be recorded in the audit log, so nothing is shown")
            && message.contains("no more events here"),
        "{message}"
    );
    let output = audit(&db, &["export", "--format", "csv", "--tenant", "acme"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output)
            .starts_with("audit: error: exported 10 events, but the export could not be recorded in the audit log"),
        "{}",
        stderr(&output)
    );
    // A failed read that cannot be recorded says both.
    let output = audit(&db, &["query", "--limit", "500"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with(
            "audit: error: `limit` must be between 1 and 200, got 500; and this failed read could not be recorded"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(db.count().await, 20);
}

async fn migrate_sets_the_partition_unit_on_postgres_only(db: TestDb) {
    let output = audit(&db, &["migrate", "--partition-unit", "week"]);
    if !db.is_postgres() {
        assert_eq!(output.status.code(), Some(1));
        assert!(
            stderr(&output).contains("only a PostgreSQL store is partitioned"),
            "{}",
            stderr(&output)
        );
        return;
    }
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("new partitions cover a week"),
        "{}",
        stdout(&output)
    );
    let output = audit(&db, &["migrate"]);
    assert!(
        stdout(&output).contains("new partitions cover a week"),
        "{}",
        stdout(&output)
    );
    let output = audit(&db, &["migrate", "--partition-unit", "fortnight"]);
    assert_eq!(output.status.code(), Some(2), "clap names the units");
    assert!(
        stderr(&output).contains("day, week, month, year"),
        "{}",
        stderr(&output)
    );
}

async fn migrate_turns_the_search_index_off_and_on(db: TestDb) {
    let state = |args: &[&str]| {
        let output = audit(&db, args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    assert!(state(&["migrate"]).contains("free-text search index: on"));
    assert!(state(&["migrate", "--search-index", "off"]).contains("free-text search index: off"));
    // A setting of the database: the next process sees it.
    assert!(state(&["migrate"]).contains("free-text search index: off"));
    assert!(state(&["migrate", "--search-index", "on"]).contains("free-text search index: on"));
    let output = audit(&db, &["migrate", "--search-index", "maybe"]);
    assert_eq!(output.status.code(), Some(2), "clap names the settings");
    assert!(stderr(&output).contains("on, off"), "{}", stderr(&output));
}

async fn catalogue_prints_the_published_actions_and_their_metadata_schemas(db: TestDb) {
    let output = audit(&db, &["catalogue"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("no catalogue published"),
        "{}",
        stdout(&output)
    );

    db.connect().await.publish_catalogue(&actions::CATALOGUE).await.unwrap();
    let output = audit(&db, &["catalogue"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ACTION") && lines[0].ends_with("DESCRIPTION"),
        "{table}"
    );
    let created: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        created[..4],
        ["app.created", "create", "-", "plan:string,seats:integer"],
        "{table}"
    );
    assert!(lines[1].ends_with("Created app {target} on the {plan} plan"), "{table}");
    assert!(lines[2].contains("critical"), "{table}");
    assert!(table.ends_with("\n3 actions\n"), "{table}");

    let output = audit(&db, &["catalogue", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(entries[2]["action"], "member.role_changed");
    assert_eq!(entries[2]["metadata"], serde_json::json!({"role": "string"}));
    assert_eq!(entries[2]["severity"], "notice");

    let output = audit(&db, &["catalogue", "--schema"]);
    let schemas: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(schemas.as_object().unwrap().len(), 3);
    assert_eq!(schemas["app.created"]["properties"]["seats"]["type"], "integer");
    let output = audit(&db, &["catalogue", "--schema", "app.deleted"]);
    let schema: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (schema["title"].as_str(), schema["type"].as_str()),
        (Some("app.deleted"), Some("object"))
    );

    let output = audit(&db, &["catalogue", "--schema", "app.deletd"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--schema app.deletd: no such action"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

async fn erase_is_refused_under_a_hold_then_erases_and_is_recorded(db: TestDb) {
    let store = db
        .connect()
        .await
        .with_personal_data(audit_store::personal::PersonalData::new());
    let bob = Actor::user("user_bob").with_email("bob.cli@example.com");
    store
        .write_batch(&[Event::builder(Action::new("app.created").unwrap(), bob)
            .tenant("acme")
            .build()])
        .await
        .unwrap();
    let emails = |args: &[&str]| stdout(&audit(&db, args));

    let unconfirmed = audit(&db, &["erase", "--subject", "user_bob"]);
    assert_eq!(unconfirmed.status.code(), Some(1));
    assert!(stderr(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));

    let held = audit(
        &db,
        &[
            "hold", "place", "--tenant", "acme", "--reason", "case 17", "--actor", "counsel",
        ],
    );
    assert!(held.status.success(), "{}", stderr(&held));
    let list = emails(&["hold", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["tenant"], "acme");
    assert_eq!(list[0]["placed_by"], "counsel");

    let refused = audit(&db, &["erase", "--subject", "user_bob", "--yes"]);
    assert_eq!(refused.status.code(), Some(7), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("legal hold (case 17)"),
        "{}",
        stderr(&refused)
    );
    assert!(emails(&["query", "--tenant", "acme", "--json"]).contains("bob.cli@example.com"));

    assert!(audit(&db, &["hold", "release", "--tenant", "acme"]).status.success());
    let not_held = audit(&db, &["hold", "release", "--tenant", "acme"]);
    assert_eq!(not_held.status.code(), Some(1));
    let erased = audit(
        &db,
        &[
            "erase",
            "--subject",
            "user_bob",
            "--reason",
            "ticket 9",
            "--actor",
            "dpo",
            "--yes",
            "--json",
        ],
    );
    assert!(erased.status.success(), "{}", stderr(&erased));
    let report: serde_json::Value = serde_json::from_str(&stdout(&erased)).unwrap();
    assert_eq!(report["key_destroyed"], true);
    assert_eq!(report["tenants"], serde_json::json!(["acme"]));

    let listed = emails(&["query", "--tenant", "acme", "--json"]);
    assert!(!listed.contains("bob.cli@example.com"), "{listed}");
    assert!(listed.contains("[erased]"), "{listed}");
    let exported = emails(&["export", "--tenant", "acme", "--format", "csv"]);
    assert!(
        !exported.contains("bob.cli@example.com") && exported.contains("[erased]"),
        "{exported}"
    );
    let actions: Vec<String> = store
        .query(
            &AuditQuery::new()
                .tenant("acme")
                .action(ActionFilter::prefix("audit").unwrap()),
        )
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| format!("{} by {}", e.action().as_str(), e.actor().id))
        .collect();
    assert_eq!(
        actions,
        [
            "audit.subject_erased by dpo",
            "audit.legal_hold.released by unknown",
            "audit.legal_hold.placed by counsel",
        ]
    );
}
