//! An attacker with write access to the database and this library, but not
//! the signing key: they change the stream, then rebuild every hash, seq
//! and tree so that `verify` alone finds nothing wrong. Only checkpoints
//! signed before the change (and kept off the box) can tell.

use audit_core::Event;
use audit_store::Store;

use super::TestDb;

/// The stream's events in seq order.
pub(crate) async fn events(db: &TestDb, store: &Store, stream: &str) -> Vec<Event> {
    let ids = db
        .strings(&format!(
            "SELECT CAST(id AS TEXT) FROM audit_events WHERE stream = '{stream}' ORDER BY seq"
        ))
        .await;
    let mut events = Vec::new();
    for id in ids {
        events.push(store.get(id.parse().unwrap()).await.unwrap().unwrap());
    }
    events
}

/// The leaf hash `event` would have at `seq` (with the JSON edits `edit`
/// applied), as the store would have computed it.
pub(crate) fn resealed(event: &Event, seq: u64, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut json = serde_json::to_value(event).unwrap();
    json["integrity"]["seq"] = seq.into();
    edit(&mut json);
    let event: Event = serde_json::from_value(json).unwrap();
    audit_store::leaf_hash(&event)
}

/// Throws the stream's tree away and lets the store build it again from
/// the (altered) leaves on the next connect.
pub(crate) async fn rebuild_tree(db: &TestDb, stream: &str) -> Store {
    db.exec(&format!(
        "DELETE FROM audit_tree_nodes WHERE stream = '{stream}'; \
         UPDATE audit_streams SET tree_frontier = NULL WHERE stream = '{stream}';"
    ))
    .await
    .unwrap();
    db.connect().await
}

/// Moves the stream's head to its last remaining row.
pub(crate) async fn move_head(db: &TestDb, stream: &str) {
    db.exec(&format!(
        "UPDATE audit_streams SET head_seq = (SELECT max(seq) FROM audit_events WHERE stream = '{stream}'), \
         head_hash = (SELECT leaf_hash FROM audit_events WHERE stream = '{stream}' ORDER BY seq DESC LIMIT 1) \
         WHERE stream = '{stream}';"
    ))
    .await
    .unwrap();
}

/// Edits the `amount` in event `seq`'s metadata and rebuilds its hash.
pub(crate) async fn edit_amount(db: &TestDb, events: &[Event], seq: u64, amount: i64) {
    let event = &events[seq as usize - 1];
    let hash = resealed(event, seq, |json| json["metadata"]["amount"] = amount.into());
    db.exec(&format!(
        "UPDATE audit_events SET metadata = '{{\"amount\":{amount}}}', leaf_hash = '{hash}' WHERE id = '{}'",
        event.id()
    ))
    .await
    .unwrap();
}

/// Deletes the events after `keep` and moves the head back to it.
pub(crate) async fn truncate(db: &TestDb, stream: &str, keep: u64) {
    db.exec(&format!(
        "DELETE FROM audit_events WHERE stream = '{stream}' AND seq > {keep}"
    ))
    .await
    .unwrap();
    move_head(db, stream).await;
}

/// Deletes event `seq` and renumbers (and rehashes) every later one.
pub(crate) async fn delete_and_renumber(db: &TestDb, stream: &str, events: &[Event], seq: u64) {
    let mut sql = format!(
        "DELETE FROM audit_events WHERE id = '{}';",
        events[seq as usize - 1].id()
    );
    for (index, event) in events.iter().enumerate().skip(seq as usize) {
        let new_seq = index as u64;
        let hash = resealed(event, new_seq, |_| {});
        sql.push_str(&format!(
            "UPDATE audit_events SET seq = {new_seq}, leaf_hash = '{hash}' WHERE id = '{}';",
            event.id()
        ));
    }
    db.exec(&sql).await.unwrap();
    move_head(db, stream).await;
}

/// Swaps events `a` and `b` (seqs) and rehashes both at their new places.
pub(crate) async fn swap(db: &TestDb, events: &[Event], a: u64, b: u64) {
    let (first, second) = (&events[a as usize - 1], &events[b as usize - 1]);
    let first_hash = resealed(first, b, |_| {});
    let second_hash = resealed(second, a, |_| {});
    db.exec(&format!(
        "UPDATE audit_events SET seq = -1 WHERE id = '{first}'; \
         UPDATE audit_events SET seq = {a}, leaf_hash = '{second_hash}' WHERE id = '{second}'; \
         UPDATE audit_events SET seq = {b}, leaf_hash = '{first_hash}' WHERE id = '{first}';",
        first = first.id(),
        second = second.id(),
    ))
    .await
    .unwrap();
}
