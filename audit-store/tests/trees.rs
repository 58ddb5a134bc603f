//! Each stream's Merkle tree, as the store keeps it on both backends: tree
//! heads, inclusion and consistency proofs equal those computed in memory
//! from the stream's leaves, at every size and across purges.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use audit_core::{Action, Actor, AuditSink, Event, Timestamp};
use audit_store::merkle::{self, Hash, ProofError};
use audit_store::{Problem, Purge, Store, StoreError};
use support::TestDb;

on_both_backends!(
    tree_heads_and_proofs_match_the_tree_of_the_leaves_at_every_size,
    proofs_still_verify_after_purges,
    sizes_a_stream_cannot_answer_are_refused_by_name,
    tree_rows_are_append_only,
    verify_rebuilds_the_tree_and_names_a_tampered_subtree,
    a_stream_written_before_trees_gets_its_tree_on_connect,
    a_store_written_with_256_wide_tiles_gets_the_levels_it_lacks_on_connect,
);

const DAY: i64 = 86_400_000_000;
/// 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600_000_000;

fn event(tenant: &str, day: i64, n: usize) -> Event {
    Event::builder(Action::new("app.updated").unwrap(), Actor::user(format!("u{n}")))
        .tenant(tenant)
        .occurred_at(Timestamp::from_unix_micros(START + day * DAY).unwrap())
        .description(format!("day {day} #{n}"))
        .build()
}

/// Writes `count` events of day `day` in batches of the given sizes (cycled),
/// so tiles straddle batches.
async fn write_day(store: &Store, tenant: &str, day: i64, count: usize, batches: &[usize]) {
    let events: Vec<Event> = (0..count).map(|n| event(tenant, day, n)).collect();
    let mut rest = events.as_slice();
    for size in batches.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, tail) = rest.split_at((*size).min(rest.len()));
        store.write_batch(batch).await.unwrap();
        rest = tail;
    }
}

/// The stream's leaves as stored, in seq order.
async fn leaves(db: &TestDb, stream: &str) -> Vec<Hash> {
    db.strings(&format!(
        "SELECT leaf_hash FROM audit_events WHERE stream = '{stream}' ORDER BY seq"
    ))
    .await
    .iter()
    .map(|hex| hex_hash(hex))
    .collect()
}

fn hex_hash(hex: &str) -> Hash {
    let mut hash = [0; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    hash
}

/// The ids of the stream's events, in seq order.
async fn ids(db: &TestDb, stream: &str) -> Vec<uuid::Uuid> {
    db.strings(&format!(
        "SELECT CAST(id AS TEXT) FROM audit_events WHERE stream = '{stream}' ORDER BY seq"
    ))
    .await
    .iter()
    .map(|id| id.parse().unwrap())
    .collect()
}

const SIZES: [u64; 9] = [1, 2, 3, 255, 256, 257, 512, 513, 600];

async fn tree_heads_and_proofs_match_the_tree_of_the_leaves_at_every_size(db: TestDb) {
    let store = db.connect().await;
    write_day(&store, "acme", 0, 600, &[1, 254, 1, 3, 300, 41]).await;
    write_day(&store, "globex", 0, 5, &[5]).await;
    let leaves = leaves(&db, "tenant:acme").await;
    let ids = ids(&db, "tenant:acme").await;
    assert_eq!(leaves.len(), 600);
    let in_memory = |node| merkle::node_of(&leaves, node);

    let head = store.tree_head("tenant:acme", None).await.unwrap();
    assert_eq!((head.size, head.root), (600, merkle::root(&leaves)));
    assert_eq!(
        store.tree_head("tenant:none", None).await.unwrap().root,
        merkle::empty_root()
    );
    for size in SIZES {
        let head = store.tree_head("tenant:acme", Some(size)).await.unwrap();
        assert_eq!(head.root, merkle::root(&leaves[..size as usize]), "size {size}");
        for index in [0, size / 2, size - 1, size.saturating_sub(257)] {
            let proof = store
                .inclusion_proof(ids[index as usize], Some(size))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((proof.leaf_index, proof.tree_size), (index, size));
            assert_eq!(proof.event.id(), ids[index as usize]);
            let expected = merkle::inclusion_proof(index, size, in_memory).unwrap();
            assert_eq!(proof.audit_path, expected, "leaf {index} of {size}");
            merkle::verify_inclusion(&leaves[index as usize], index, size, &proof.audit_path, &head.root).unwrap();
        }
        for old in SIZES.into_iter().filter(|old| *old <= size) {
            let proof = store.consistency_proof("tenant:acme", old, size).await.unwrap();
            assert_eq!(
                proof,
                merkle::consistency_proof(old, size, in_memory).unwrap(),
                "{old}..{size}"
            );
            let old_root = merkle::root(&leaves[..old as usize]);
            merkle::verify_consistency(old, size, &old_root, &head.root, &proof).unwrap();
        }
    }
    // Many leaves at once, as an export asks: the same paths.
    let indexes = [599, 598, 300, 255, 0];
    let (size, paths) = store
        .audit_paths("tenant:acme", Some(513), &indexes[2..])
        .await
        .unwrap();
    assert_eq!(size, 513);
    for (index, path) in indexes[2..].iter().zip(&paths) {
        assert_eq!(path, &merkle::inclusion_proof(*index, 513, in_memory).unwrap());
    }
    let (size, _) = store.audit_paths("tenant:acme", None, &indexes).await.unwrap();
    assert_eq!(size, 600);
    let error = store.audit_paths("tenant:acme", Some(513), &indexes).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Proof {
                error: ProofError::LeafOutOfRange { index: 599, size: 513 },
                ..
            }
        ),
        "{error:?}"
    );
    // The head proof is the default.
    let proof = store.inclusion_proof(ids[7], None).await.unwrap().unwrap();
    assert_eq!(proof.tree_size, 600);
    assert!(
        store
            .inclusion_proof(uuid::Uuid::now_v7(), None)
            .await
            .unwrap()
            .is_none()
    );
    // The perfect subtrees of 16 and 256 leaves complete in 600: 37 at
    // level 4, 2 at level 8, nothing else.
    assert_eq!(
        db.integers(
            "SELECT count(*) FILTER (WHERE level = 4), count(*) FILTER (WHERE level = 8), count(*) \
             FROM audit_tree_nodes WHERE stream = 'tenant:acme'"
        )
        .await,
        [37, 2, 39]
    );
}

async fn proofs_still_verify_after_purges(db: TestDb) {
    let store = db.connect().await;
    for day in 0..6 {
        write_day(&store, "acme", day, 137, &[100, 37]).await;
    }
    let before = leaves(&db, "tenant:acme").await;
    let pre_purge = store.tree_head("tenant:acme", None).await.unwrap();
    assert_eq!(pre_purge.size, 6 * 137);

    // Cuts at 274 (past the first tile, odd) and 685: the second purge
    // needs what the first kept of the leaves it removed.
    for (through_day, cut) in [(2, 274u64), (5, 685)] {
        let purge = Purge::before(Timestamp::from_unix_micros(START + through_day * DAY).unwrap());
        let reports = store.purge(&purge).await.unwrap().streams;
        assert_eq!(reports.iter().map(|r| r.through_seq).collect::<Vec<_>>(), [cut]);
    }
    // The purges appended their own events: the leaves are the old ones
    // plus those.
    let mut all = before.clone();
    let kept = leaves(&db, "tenant:acme").await;
    all.extend_from_slice(&kept[kept.len() - 2..]);
    let head = store.tree_head("tenant:acme", None).await.unwrap();
    assert_eq!((head.size, head.root), (all.len() as u64, merkle::root(&all)));

    // Every kept event proves against the new head.
    let ids = ids(&db, "tenant:acme").await;
    for (offset, id) in ids.iter().enumerate() {
        let proof = store.inclusion_proof(*id, None).await.unwrap().unwrap();
        let index = 685 + offset as u64;
        assert_eq!(proof.leaf_index, index);
        merkle::verify_inclusion(&all[index as usize], index, head.size, &proof.audit_path, &head.root).unwrap();
    }
    // The pre-purge tree head is consistent with the post-purge one, and so
    // are sizes inside the removed range.
    for old in [pre_purge.size, 685, 686, 700] {
        let proof = store.consistency_proof("tenant:acme", old, head.size).await.unwrap();
        let old_root = merkle::root(&all[..old as usize]);
        merkle::verify_consistency(old, head.size, &old_root, &head.root, &proof).unwrap();
    }
    assert_eq!(
        store.tree_head("tenant:acme", Some(pre_purge.size)).await.unwrap(),
        pre_purge
    );
    // A tree that ends among the removed leaves cannot be folded from what
    // was kept: the store says so rather than answer wrongly.
    let error = store
        .consistency_proof("tenant:acme", 300, head.size)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn sizes_a_stream_cannot_answer_are_refused_by_name(db: TestDb) {
    let store = db.connect().await;
    write_day(&store, "acme", 0, 10, &[10]).await;
    let ids = ids(&db, "tenant:acme").await;
    let refused = |error: StoreError| match error {
        StoreError::Proof { stream, error } => {
            assert_eq!(stream, "tenant:acme");
            error
        }
        other => panic!("expected a proof error, got {other:?}"),
    };
    let error = store.inclusion_proof(ids[5], Some(11)).await.unwrap_err();
    assert_eq!(refused(error), ProofError::BeyondHead { size: 11, head: 10 });
    let error = store.inclusion_proof(ids[5], Some(5)).await.unwrap_err();
    assert_eq!(refused(error), ProofError::LeafOutOfRange { index: 5, size: 5 });
    let error = store.consistency_proof("tenant:acme", 0, 5).await.unwrap_err();
    assert_eq!(refused(error), ProofError::EmptyTree);
    let error = store.consistency_proof("tenant:acme", 6, 5).await.unwrap_err();
    assert_eq!(refused(error), ProofError::SizesOutOfOrder { old: 6, new: 5 });
    let error = store.tree_head("tenant:acme", Some(12)).await.unwrap_err();
    assert!(error.to_string().contains("12 leaves does not exist yet"), "{error}");
    assert!(store.consistency_proof("tenant:acme", 10, 10).await.unwrap().is_empty());
}

async fn tree_rows_are_append_only(db: TestDb) {
    let store = db.connect().await;
    write_day(&store, "acme", 0, 300, &[300]).await;
    for sql in [
        "UPDATE audit_tree_nodes SET hash = hash",
        "DELETE FROM audit_tree_nodes",
        "UPDATE audit_streams SET tree_frontier = NULL",
    ] {
        let error = db.exec(sql).await.unwrap_err().to_string();
        assert!(
            error.contains("append-only") || error.contains("only moves forward"),
            "{sql}: {error}"
        );
    }
    // The frontier may not change without the head.
    let error = db
        .exec("UPDATE audit_streams SET tree_frontier = substr(tree_frontier, 1, 32) WHERE stream = 'tenant:acme'")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("a tree frontier may not be rewritten"), "{error}");
}

async fn a_stream_written_before_trees_gets_its_tree_on_connect(db: TestDb) {
    let store = db.connect().await;
    write_day(&store, "acme", 0, 520, &[520]).await;
    let expected = store.tree_head("tenant:acme", None).await.unwrap();
    drop(store);
    // As a database migrated from the release before trees: no frontier,
    // no nodes.
    db.drop_append_only_triggers().await;
    db.exec("DELETE FROM audit_tree_nodes; UPDATE audit_streams SET tree_frontier = NULL")
        .await
        .unwrap();
    let store = db.connect().await;
    assert_eq!(store.tree_head("tenant:acme", None).await.unwrap(), expected);
    assert_eq!(
        db.integers("SELECT count(*) FROM audit_tree_nodes").await,
        [520 / 16 + 520 / 256],
        "the level-4 and level-8 nodes are stored again"
    );
    write_day(&store, "acme", 1, 3, &[3]).await;
    let leaves = leaves(&db, "tenant:acme").await;
    assert_eq!(
        store.tree_head("tenant:acme", None).await.unwrap().root,
        merkle::root(&leaves)
    );
}

/// How many nodes `stream` has stored: below level 4, at 4, 8, 12, and
/// in all.
async fn nodes_per_level(db: &TestDb, stream: &str) -> Vec<i64> {
    db.integers(&format!(
        "SELECT count(*) FILTER (WHERE level < 4), count(*) FILTER (WHERE level = 4), \
         count(*) FILTER (WHERE level = 8), count(*) FILTER (WHERE level = 12), count(*) \
         FROM audit_tree_nodes WHERE stream = '{stream}'"
    ))
    .await
}

/// A database written when tiles were 256 wide kept levels 8, 16, … only.
/// On connect the store adds levels 4, 12, … from the leaves (past a purge
/// too), after checking them against the frontier; a stream whose leaves
/// no longer match gets nothing, and its proofs are refused.
async fn a_store_written_with_256_wide_tiles_gets_the_levels_it_lacks_on_connect(db: TestDb) {
    let store = db.connect().await;
    write_day(&store, "globex", 0, 512, &[512]).await;
    for tenant in ["acme", "globex", "initech"] {
        write_day(&store, tenant, 1, 600, &[250, 350]).await;
    }
    // globex's first 512 leaves are purged: its subtrees are rebuilt from
    // the base on.
    let purge = Purge::before(Timestamp::from_unix_micros(START + DAY).unwrap());
    let reports = store.purge(&purge).await.unwrap().streams;
    assert_eq!(reports.iter().map(|r| r.through_seq).collect::<Vec<_>>(), [512]);
    let streams = ["tenant:acme", "tenant:globex", "tenant:initech"];
    let mut expected = Vec::new();
    for stream in streams {
        let head = store.tree_head(stream, None).await.unwrap();
        expected.push((head, nodes_per_level(&db, stream).await));
    }
    drop(store);
    db.drop_append_only_triggers().await;
    db.exec("DELETE FROM audit_tree_nodes WHERE level IN (4, 12)")
        .await
        .unwrap();
    // initech's leaf 5 was rewritten since: its tree no longer rebuilds to
    // its frontier.
    db.exec(&format!(
        "UPDATE audit_events SET leaf_hash = '{}' WHERE stream = 'tenant:initech' AND seq = 5",
        "00".repeat(32)
    ))
    .await
    .unwrap();

    let store = db.connect().await;
    for (stream, (head, mut levels)) in streams.into_iter().zip(expected).take(2) {
        if stream == "tenant:globex" {
            // The level-4 subtrees of the 512 purged leaves cannot come
            // back (no proof needs them: level 8 covers the purged range).
            levels[1] -= 512 / 16;
            levels[4] -= 512 / 16;
        }
        assert_eq!(nodes_per_level(&db, stream).await, levels, "{stream}");
        assert_eq!(store.tree_head(stream, None).await.unwrap(), head);
        let ids = ids(&db, stream).await;
        let all = leaves(&db, stream).await;
        let first = head.size - all.len() as u64;
        for offset in [0, 17, all.len() - 1] {
            let proof = store.inclusion_proof(ids[offset], None).await.unwrap().unwrap();
            assert_eq!(proof.leaf_index, first + offset as u64);
            merkle::verify_inclusion(&all[offset], proof.leaf_index, head.size, &proof.audit_path, &head.root).unwrap();
        }
        assert!(store.verify(stream).await.unwrap().is_intact(), "{stream}");
    }
    assert!(
        db.integers("SELECT count(*) FROM audit_tree_nodes WHERE stream = 'tenant:initech' AND level = 4")
            .await
            == [0],
        "nothing is built on rewritten leaves"
    );
    let ids = ids(&db, "tenant:initech").await;
    let error = store.inclusion_proof(ids[20], None).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(!store.verify("tenant:initech").await.unwrap().is_intact());
}

async fn verify_rebuilds_the_tree_and_names_a_tampered_subtree(db: TestDb) {
    let store = db.connect().await;
    write_day(&store, "acme", 0, 600, &[600]).await;
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
    db.drop_append_only_triggers().await;
    let zeros = if db.is_postgres() {
        "decode(repeat('00', 32), 'hex')"
    } else {
        "zeroblob(32)"
    };
    db.exec(&format!(
        "UPDATE audit_tree_nodes SET hash = {zeros} WHERE stream = 'tenant:acme' AND level = 8 AND idx = 1"
    ))
    .await
    .unwrap();
    let problem = store.verify("tenant:acme").await.unwrap().problem.unwrap();
    assert_eq!(
        problem,
        Problem::TreeMismatch {
            first_seq: 257,
            last_seq: 512
        }
    );
    assert!(problem.to_string().contains("seqs 257..=512"), "{problem}");
}
