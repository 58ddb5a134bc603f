//! The admin API under a property-based OpenAPI fuzzer: schemathesis
//! (from PyPI; `.ci/run` installs it) reads the quickstart's own
//! `/audit-logs/openapi.json` and sends what it describes, and what it does
//! not: every parameter's valid values and edge cases, invalid ones,
//! unsupported methods, requests without credentials, and the links
//! between operations (an event of the list, the next page).
//!
//! Its checks, all but one: no 5xx, every status, content type, header and
//! body as documented, invalid input refused, 405 with `Allow` for other
//! methods, 401 without credentials. Left out is `positive_data_acceptance`
//! ("every schema-valid request is a 2xx"): a schema cannot say that `until`
//! must be later than `since`, that `offset` and `cursor` exclude each other,
//! or which cursors the server issued, and those 400s are right.
//!
//! `tests/schemathesis.toml` holds what the command line cannot say (the
//! stateful phase follows the document's links, not guessed ones).
//!
//! Where `st` is missing the test says so and passes;
//! `AUDIT_REQUIRE_SCHEMATHESIS=1` (CI) makes that a failure. The run is
//! reproducible: `AUDIT_FUZZ_SEED` (default 1) and `AUDIT_FUZZ_EXAMPLES`
//! (default 100 per operation).

#[allow(
    dead_code,
    unused_macros,
    reason = "each test binary uses a part of the shared support"
)]
#[macro_use]
mod support;

use std::path::PathBuf;

use audit_store::checkpoint::{Checkpointer, SigningKey};
use support::TestDb;
use support::running::{Running, all_events};

/// The schemathesis command: `st` on `PATH`.
fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("st"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let why = "no schemathesis `st` on PATH (pip install schemathesis)";
        assert!(
            std::env::var_os("AUDIT_REQUIRE_SCHEMATHESIS").is_none(),
            "{why}, and AUDIT_REQUIRE_SCHEMATHESIS is set"
        );
        eprintln!("skipped: {why}");
    }
    found
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_wrong_with_the_admin_api() {
    let Some(st) = schemathesis() else { return };
    let db = TestDb::sqlite();
    let server = Running::start(&db).await;
    quickstart::seed::seed_demo(&server.store, &server.auditor)
        .await
        .unwrap();
    // Signed checkpoints over the seeded events, so that the proofs the
    // fuzzer asks for are answered (200), not only refused (409, 404).
    let key = SigningKey::generate("fuzz.test").unwrap();
    Checkpointer::new(server.store.clone(), key)
        .checkpoint_now()
        .await
        .unwrap();
    let seeded = all_events(&server.store).await;
    let before = seeded.len();
    // An event the fuzzer's credentials may read and that a checkpoint
    // covers: `tests/schemathesis.toml` hands it to `GET /{id}/proof`, whose
    // random ids would otherwise all be 404s (and the events the list links
    // to are the fuzzer's own reads, newer than any checkpoint).
    let provable = seeded
        .iter()
        .find(|event| event.tenant_id() == Some("acme"))
        .expect("the demo seeds acme's events")
        .id()
        .to_string();
    let proof = server
        .send(
            http::Method::GET,
            &format!("/audit-logs/{provable}/proof"),
            &[("authorization", "Bearer acme-owner")],
            None,
        )
        .await;
    assert_eq!(proof.status, http::StatusCode::OK, "{}", proof.body);
    let work = tempfile_dir();
    let seed = setting("AUDIT_FUZZ_SEED", "1");
    let examples = setting("AUDIT_FUZZ_EXAMPLES", "100");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");
    let output = tokio::process::Command::new(&st)
        .current_dir(&work)
        .env("AUDIT_FUZZ_PROVABLE_EVENT", &provable)
        .args([
            "--config-file",
            config,
            "run",
            &format!("{}/audit-logs/openapi.json", server.http.base),
        ])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--generation-database", "none", "--no-color"])
        .output()
        .await
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures (seed {seed}):\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
    // It tested every data operation, and read events were recorded for its
    // requests: the fuzzing reached the API, not only its authentication.
    assert!(report.contains("Tested: 8"), "{report}");
    let store = server.store.clone();
    server.stop().await;
    let after = all_events(&store).await;
    assert!(
        after.len() > before + 100,
        "{} events before, {} after",
        before,
        after.len()
    );
    // Nothing recorded was harmed: every stream still verifies.
    for stream in store.streams().await.unwrap() {
        let report = store.verify(&stream).await.unwrap();
        assert!(report.is_intact(), "{stream}: {report:?}");
    }
    let _ = std::fs::remove_dir_all(work);
}

/// A fresh directory for schemathesis's own files.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audit-fuzz-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
