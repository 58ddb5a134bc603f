//! The provable side of the `audit` command, run as a real process: keys,
//! checkpoints, proofs checked without the database, and the offline
//! `verify --checkpoints` catching every attack of an attacker who can
//! write the database but does not hold the signing key.

#![cfg(feature = "cli")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit_core::{Action, Actor, AuditSink, Event};
use audit_store::checkpoint::{Checkpoint, SigningKey};
use support::{TestDb, attacker};

on_both_backends!(
    keygen_checkpoint_prove_and_verify_event,
    verify_checkpoints_names_the_checkpoint_an_edited_row_breaks,
    verify_checkpoints_catches_truncation_deletion_and_swaps,
    a_forged_checkpoint_is_refused_by_name,
    a_rolled_back_database_is_refused_by_the_checkpointer_and_caught,
    the_signing_key_appears_in_no_output_database_file_or_export,
);

const STREAM: &str = "tenant:acme";
const LOG: &str = "audit.example.com";

/// A working directory with a signing key, removed when dropped.
struct Keys {
    dir: PathBuf,
    verifier: String,
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Keys {
    fn new(db: &TestDb) -> Self {
        let dir = std::env::temp_dir().join(format!("audit-cli-proofs-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("signing.key");
        let output = audit(db, &["keygen", LOG, "--out", key_file.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        let verifier = stdout(&output).trim().to_owned();
        Self { dir, verifier }
    }

    fn key_file(&self) -> String {
        self.dir.join("signing.key").display().to_string()
    }

    fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// `audit checkpoint`, into the checkpoint directory.
    fn checkpoint(&self, db: &TestDb) -> Output {
        audit(
            db,
            &[
                "checkpoint",
                "--key-file",
                &self.key_file(),
                "--out-dir",
                self.checkpoints().to_str().unwrap(),
            ],
        )
    }

    /// `audit verify --checkpoints DIR --key KEY`.
    fn verify(&self, db: &TestDb) -> Output {
        audit(
            db,
            &[
                "verify",
                "--checkpoints",
                self.checkpoints().to_str().unwrap(),
                "--key",
                &self.verifier,
            ],
        )
    }

    fn checkpoint_file(&self, size: u64) -> String {
        self.checkpoints()
            .join("tenant%3Aacme")
            .join(format!("{size:020}.checkpoint"))
            .display()
            .to_string()
    }
}

fn audit(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .env("AUDIT_DATABASE_URL", &db.urls()[0])
        .env_remove("AUDIT_SIGNING_KEY")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Ten refunds of acme (and one of globex).
async fn refunds(db: &TestDb, from: i64) {
    let store = db.connect().await;
    let mut events: Vec<Event> = (from..from + 10)
        .map(|n| {
            Event::builder(Action::new("refund.issued").unwrap(), Actor::user("clerk"))
                .tenant("acme")
                .metadata("amount", &(100 * n))
                .build()
        })
        .collect();
    events.push(
        Event::builder(Action::new("refund.issued").unwrap(), Actor::user("clerk"))
            .tenant("globex")
            .build(),
    );
    store.write_batch(&events).await.unwrap();
}

/// Forty acme refunds, checkpointed after every ten.
async fn checkpointed(db: &TestDb, keys: &Keys) {
    for round in 0..4 {
        refunds(db, round * 10).await;
        let output = keys.checkpoint(db);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains(&format!("{STREAM}: signed at {} events", (round + 1) * 10)),
            "{}",
            stdout(&output)
        );
    }
    let output = keys.verify(db);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    assert!(
        stdout(&output).contains(&format!("{STREAM}: intact, 40 events, matching 4 signed checkpoints")),
        "{}",
        stdout(&output)
    );
}

fn assert_tampered(output: &Output, naming: &str) {
    assert_eq!(output.status.code(), Some(3), "{}{}", stdout(output), stderr(output));
    let message = stderr(output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains(naming), "expected {naming} in: {message}");
}

async fn keygen_checkpoint_prove_and_verify_event(db: TestDb) {
    let keys = Keys::new(&db);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(keys.key_file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner may read the key");
    }
    let again = audit(&db, &["keygen", LOG, "--out", &keys.key_file()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("not overwriting a key"), "{}", stderr(&again));
    assert!(keys.verifier.starts_with(&format!("{LOG}+")), "{}", keys.verifier);

    refunds(&db, 0).await;
    let id = db
        .strings("SELECT CAST(id AS TEXT) FROM audit_events WHERE stream = 'tenant:acme' AND seq = 4")
        .await
        .remove(0);
    // No checkpoint yet: prove says what to do.
    let output = audit(&db, &["prove", &id]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("run `audit checkpoint`"),
        "{}",
        stderr(&output)
    );

    let output = keys.checkpoint(&db);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(Path::new(&keys.checkpoint_file(10)).is_file());
    let output = keys.checkpoint(&db);
    assert!(stdout(&output).contains("nothing moved"), "{}", stdout(&output));

    let output = audit(&db, &["prove", &id]);
    assert!(output.status.success(), "{}", stderr(&output));
    let proof: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (proof["leaf_index"].as_u64(), proof["tree_size"].as_u64()),
        (Some(3), Some(10))
    );
    let file = keys.dir.join("proof.json");
    std::fs::write(&file, stdout(&output)).unwrap();
    let file = file.to_str().unwrap();
    // Offline: no database is needed (an unreachable one is given).
    let offline = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_audit"))
            .args(args)
            .env("AUDIT_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap()
    };
    let output = offline(&["verify-event", file, "--key", &keys.verifier]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("(seq 4) is in the signed tree of 10 events"),
        "{}",
        stdout(&output)
    );

    // The refund's amount changed in the file: caught.
    let mut edited = proof.clone();
    edited["event"]["metadata"]["amount"] = 1.into();
    std::fs::write(file, edited.to_string()).unwrap();
    assert_tampered(
        &offline(&["verify-event", file, "--key", &keys.verifier]),
        "does not verify",
    );
    // Another log's key: refused.
    let other = Keys::new(&db);
    std::fs::write(file, proof.to_string()).unwrap();
    assert_tampered(
        &offline(&["verify-event", file, "--key", &other.verifier]),
        "not signed by the key",
    );
}

async fn verify_checkpoints_names_the_checkpoint_an_edited_row_breaks(db: TestDb) {
    let keys = Keys::new(&db);
    checkpointed(&db, &keys).await;
    let store = db.connect().await;
    let events = attacker::events(&db, &store, STREAM).await;
    db.drop_append_only_triggers().await;
    attacker::edit_amount(&db, &events, 15, 1).await;
    let store = attacker::rebuild_tree(&db, STREAM).await;
    assert!(store.verify(STREAM).await.unwrap().is_intact(), "verify alone passes");
    let output = keys.verify(&db);
    assert_tampered(&output, &keys.checkpoint_file(20));
    assert!(stdout(&output).contains("tenant:globex: intact"), "{}", stdout(&output));
}

async fn verify_checkpoints_catches_truncation_deletion_and_swaps(db: TestDb) {
    type Attack = for<'a> fn(&'a TestDb, &'a [Event]) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;
    let attacks: [(Attack, u64); 3] = [
        (|db, _| Box::pin(attacker::truncate(db, STREAM, 35)), 40),
        (
            |db, events| Box::pin(attacker::delete_and_renumber(db, STREAM, events, 25)),
            30,
        ),
        (|db, events| Box::pin(attacker::swap(db, events, 33, 38)), 40),
    ];
    for (attack, broken) in attacks {
        let db = db.another().await;
        let keys = Keys::new(&db);
        checkpointed(&db, &keys).await;
        let store = db.connect().await;
        let events = attacker::events(&db, &store, STREAM).await;
        db.drop_append_only_triggers().await;
        attack(&db, &events).await;
        let store = attacker::rebuild_tree(&db, STREAM).await;
        assert!(store.verify(STREAM).await.unwrap().is_intact(), "verify alone passes");
        assert_tampered(&keys.verify(&db), &keys.checkpoint_file(broken));
    }
}

async fn a_forged_checkpoint_is_refused_by_name(db: TestDb) {
    let keys = Keys::new(&db);
    checkpointed(&db, &keys).await;
    // A checkpoint of the stream's true head, signed with another key of
    // the same name, slipped into the directory.
    let store = db.connect().await;
    let head = store.tree_head(STREAM, None).await.unwrap();
    let forger = SigningKey::generate(LOG).unwrap();
    let note = Checkpoint::new(Checkpoint::origin(LOG, STREAM), head.size, head.root)
        .sign(&forger)
        .unwrap();
    let forged = keys.checkpoints().join("tenant%3Aacme").join("forged.checkpoint");
    std::fs::write(&forged, note).unwrap();
    assert_tampered(&keys.verify(&db), "forged.checkpoint");
    let output = keys.verify(&db);
    assert!(stdout(&output).contains("no signature by"), "{}", stdout(&output));
}

async fn a_rolled_back_database_is_refused_by_the_checkpointer_and_caught(db: TestDb) {
    let keys = Keys::new(&db);
    checkpointed(&db, &keys).await;
    // The database goes back to 30 events (a restored backup): the
    // checkpointer, whose record says 40, refuses to sign.
    db.drop_append_only_triggers().await;
    attacker::truncate(&db, STREAM, 30).await;
    attacker::rebuild_tree(&db, STREAM).await;
    assert_tampered(&keys.checkpoint(&db), "below its newest checkpoint (40)");
    // It grows again to 40 other events: not an extension of what was
    // signed.
    refunds(&db, 100).await;
    assert_tampered(&keys.checkpoint(&db), "history was rewritten");
    // With the store's record of checkpoints gone too, the checkpointer
    // signs; the directory keeps both checkpoints of 40 and says so.
    db.exec("DELETE FROM audit_checkpoints").await.unwrap();
    let output = keys.checkpoint(&db);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("the log forked"), "{}", stderr(&output));
    // Offline, the checkpoint the database no longer matches is named.
    assert_tampered(&keys.verify(&db), &keys.checkpoint_file(40));
}

/// Every form the key's secret could leak in: its text, the base64 of its
/// seed (with and without the type byte), the seed in hex.
fn secret_forms(key_file: &str) -> Vec<String> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(key_file).unwrap().trim().to_owned();
    // `PRIVATE+KEY+<name>+<hash>+<base64>`: the base64 may itself hold `+`.
    let encoded = text.splitn(5, '+').nth(4).unwrap().to_owned();
    let bytes = base64::engine::general_purpose::STANDARD.decode(&encoded).unwrap();
    let seed = &bytes[1..];
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        text,
        encoded,
        base64::engine::general_purpose::STANDARD.encode(seed),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed),
        hex,
    ]
}

async fn the_signing_key_appears_in_no_output_database_file_or_export(db: TestDb) {
    let keys = Keys::new(&db);
    checkpointed(&db, &keys).await;
    refunds(&db, 50).await;
    let mut seen = Vec::<u8>::new();
    let id = db
        .strings("SELECT CAST(id AS TEXT) FROM audit_events WHERE stream = 'tenant:acme' AND seq = 4")
        .await
        .remove(0);
    let export = keys.dir.join("export.ndjson");
    for args in [
        vec!["checkpoint", "--key-file", &keys.key_file()],
        vec!["prove", &id],
        vec!["export", "--format", "ndjson", "--output", export.to_str().unwrap()],
        vec!["verify"],
        vec!["checkpoint", "--key-file", "/nonexistent/key"],
    ] {
        // With every log line the command can write.
        let output = Command::new(env!("CARGO_BIN_EXE_audit"))
            .args(&args)
            .env("AUDIT_DATABASE_URL", &db.urls()[0])
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        seen.extend(output.stdout);
        seen.extend(output.stderr);
    }
    // A key in the environment that is not a key: the error does not echo it.
    let secret = std::fs::read_to_string(keys.key_file()).unwrap();
    let mangled = secret.replacen("PRIVATE+KEY+", "PRIVATE+KEY+x+", 1);
    let output = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(["checkpoint"])
        .env("AUDIT_DATABASE_URL", &db.urls()[0])
        .env("AUDIT_SIGNING_KEY", &mangled)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    seen.extend(output.stdout);
    seen.extend(output.stderr);
    seen.extend(std::fs::read(&export).unwrap());
    let mut folders = vec![keys.checkpoints()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                seen.extend(std::fs::read(path).unwrap());
            }
        }
    }
    match &db {
        #[cfg(feature = "sqlite")]
        TestDb::Sqlite(dir) => {
            for entry in std::fs::read_dir(dir).unwrap() {
                seen.extend(std::fs::read(entry.unwrap().path()).unwrap());
            }
        }
        #[cfg(feature = "postgres")]
        TestDb::Postgres(_) => {
            for table in [
                "audit_events",
                "audit_streams",
                "audit_checkpoints",
                "audit_tree_nodes",
                "audit_store_keys",
            ] {
                let rows = db.strings(&format!("SELECT CAST(t AS TEXT) FROM {table} AS t")).await;
                seen.extend(rows.concat().into_bytes());
            }
        }
    }
    let seen = String::from_utf8_lossy(&seen);
    assert!(
        seen.contains("signed at 50 events") && seen.contains("intact"),
        "the commands ran: {seen}"
    );
    for form in secret_forms(&keys.key_file()) {
        assert!(!seen.contains(&form), "the signing key leaked as {form}");
    }
}
