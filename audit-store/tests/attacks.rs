//! What a signed checkpoint kept off the box catches that `verify` alone
//! cannot: an attacker with database access (and this library, but not the
//! signing key) changes a stream and rebuilds every hash, seq and tree
//! consistently. `verify` then finds nothing; the tree heads of checkpoints
//! signed before the change do not match.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use audit_core::{Action, Actor, AuditSink, Event};
use audit_store::{Problem, Store, TreeHead};
use support::{TestDb, attacker};

on_both_backends!(
    an_edited_row_with_rebuilt_hashes_is_caught_by_an_earlier_checkpoint,
    truncated_newest_events_are_caught_by_a_checkpoint_past_the_head,
    a_deleted_row_with_renumbered_seqs_is_caught,
    two_swapped_rows_with_rebuilt_hashes_are_caught,
    an_untouched_stream_meets_every_checkpoint,
);

const STREAM: &str = "tenant:acme";

/// 40 refunds in four batches, with tree heads taken after each: what the
/// checkpointer would have signed.
async fn refunds(db: &TestDb) -> (Store, Vec<TreeHead>) {
    let store = db.connect().await;
    let mut heads = Vec::new();
    for batch in 0..4 {
        let events: Vec<Event> = (0..10)
            .map(|n| {
                Event::builder(Action::new("refund.issued").unwrap(), Actor::user("clerk"))
                    .tenant("acme")
                    .metadata("amount", &(100 * (batch * 10 + n + 1)))
                    .build()
            })
            .collect();
        store.write_batch(&events).await.unwrap();
        heads.push(store.tree_head(STREAM, None).await.unwrap());
    }
    (store, heads)
}

/// Runs the attack, rebuilds the tree, and checks that `verify` alone
/// passes (the attack is consistent); returns the store after it.
async fn consistent_attack(db: &TestDb, store: &Store, attack: impl AsyncFnOnce(&[Event])) -> Store {
    let events = attacker::events(db, store, STREAM).await;
    db.drop_append_only_triggers().await;
    attack(&events).await;
    let store = attacker::rebuild_tree(db, STREAM).await;
    let report = store.verify(STREAM).await.unwrap();
    assert!(report.is_intact(), "the attack was not consistent: {report:?}");
    store
}

async fn an_edited_row_with_rebuilt_hashes_is_caught_by_an_earlier_checkpoint(db: TestDb) {
    let (store, heads) = refunds(&db).await;
    let store = consistent_attack(&db, &store, async |events| {
        attacker::edit_amount(&db, events, 15, 1).await;
    })
    .await;
    let report = store.verify_against(STREAM, &heads).await.unwrap();
    // The checkpoint at 10 is met; the one at 20 covers the edited row.
    assert_eq!(report.problem, Some(Problem::CheckpointMismatch { size: 20 }));
    assert!(
        report
            .problem
            .unwrap()
            .to_string()
            .contains("changed after it was signed")
    );
}

async fn truncated_newest_events_are_caught_by_a_checkpoint_past_the_head(db: TestDb) {
    let (store, heads) = refunds(&db).await;
    let store = consistent_attack(&db, &store, async |_| attacker::truncate(&db, STREAM, 33).await).await;
    let report = store.verify_against(STREAM, &heads).await.unwrap();
    assert_eq!(report.problem, Some(Problem::BehindCheckpoint { size: 40, head: 33 }));
}

async fn a_deleted_row_with_renumbered_seqs_is_caught(db: TestDb) {
    let (store, heads) = refunds(&db).await;
    let store = consistent_attack(&db, &store, async |events| {
        attacker::delete_and_renumber(&db, STREAM, events, 25).await;
    })
    .await;
    let report = store.verify_against(STREAM, &heads).await.unwrap();
    assert_eq!(report.problem, Some(Problem::CheckpointMismatch { size: 30 }));
}

async fn two_swapped_rows_with_rebuilt_hashes_are_caught(db: TestDb) {
    let (store, heads) = refunds(&db).await;
    let store = consistent_attack(&db, &store, async |events| attacker::swap(&db, events, 3, 4).await).await;
    let report = store.verify_against(STREAM, &heads).await.unwrap();
    assert_eq!(report.problem, Some(Problem::CheckpointMismatch { size: 10 }));
}

async fn an_untouched_stream_meets_every_checkpoint(db: TestDb) {
    let (store, heads) = refunds(&db).await;
    let report = store.verify_against(STREAM, &heads).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checkpoints_met, 4);
    // A checkpoint that matches no tree this stream ever had.
    let forged = TreeHead {
        root: [7; 32],
        ..heads[1].clone()
    };
    let report = store.verify_against(STREAM, &[heads[0].clone(), forged]).await.unwrap();
    assert_eq!(report.problem, Some(Problem::CheckpointMismatch { size: 20 }));
}
