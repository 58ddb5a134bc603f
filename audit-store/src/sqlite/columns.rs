//! How SQLite's columns read back as [`EventRow`](crate::row::EventRow)'s
//! types: times are Unix microseconds (`INTEGER`), ids are text.

use audit_core::Timestamp;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Sqlite, Type};

use crate::row::{StoredId, StoredTime};

impl Type<Sqlite> for StoredTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for StoredTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        Timestamp::from_unix_micros(micros)
            .map(Self)
            .ok_or_else(|| format!("{micros} microseconds since 1970 is out of range").into())
    }
}

impl Type<Sqlite> for StoredId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for StoredId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<Sqlite>>::decode(value).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use audit_core::{Action, Actor, AuditSink, Event};

    use crate::row::COLUMNS;
    use crate::{SqliteStore, StoreError};

    #[tokio::test]
    async fn a_time_out_of_range_is_reported_as_a_corrupt_event_naming_it() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let event = Event::builder(Action::new("app.created").unwrap(), Actor::user("u1"))
            .tenant("acme")
            .build();
        store.write_batch(std::slice::from_ref(&event)).await.unwrap();
        // A copy of the row under another id and seq, with a time no
        // Timestamp holds (inserting is what the append-only triggers allow).
        let forged = uuid::Uuid::now_v7();
        let copied: Vec<String> = COLUMNS
            .split(", ")
            .map(|column| match column {
                "id" => format!("'{forged}'"),
                "seq" => "seq + 1".to_owned(),
                "occurred_at" => i64::MAX.to_string(),
                other => other.to_owned(),
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO audit_events ({COLUMNS}) SELECT {} FROM audit_events WHERE id = ?",
            copied.join(", ")
        ))
        .bind(event.id().to_string())
        .execute(store.pool())
        .await
        .unwrap();

        // The intact event still reads back; the forged one names itself.
        let intact = store
            .get(event.id())
            .await
            .unwrap()
            .expect("the intact event is stored");
        assert_eq!(intact.id(), event.id());
        match store.get(forged).await {
            Err(StoreError::Corrupt { id, reason }) => {
                assert_eq!(id, forged.to_string());
                assert!(
                    reason.contains("occurred_at") && reason.contains("out of range"),
                    "{reason}"
                );
            }
            other => panic!("expected a corrupt event, got {other:?}"),
        }
    }
}
