//! Page cursors: a position in the newest-first order, signed together with
//! the query it belongs to.
//!
//! A cursor is `base64url(version ‖ occurred_at ‖ id ‖ tag)`: one version
//! byte, the last event's `occurred_at` (Unix microseconds, big-endian) and
//! id (16 bytes), and the first 16 bytes of an HMAC-SHA256 over those and the
//! query's filters, under a key the store keeps in its own database. So a
//! cursor that was cut, edited, forged or issued for other filters is
//! refused, never turned into a wrong page.

use audit_core::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::QueryError;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const PAYLOAD_LEN: usize = 1 + 8 + 16;
const CURSOR_LEN: usize = PAYLOAD_LEN + TAG_LEN;

/// The name of the cursor key in `audit_store_keys`.
pub(crate) const KEY_NAME: &str = "page-cursor";

/// The last event of a page: the next page starts strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) occurred_at: Timestamp,
    pub(crate) id: Uuid,
}

/// The store's secret for signing cursors.
#[derive(Clone)]
pub(crate) struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A fresh random key, for a store that has none yet.
    pub(crate) fn generate() -> Result<Vec<u8>, getrandom::Error> {
        let mut key = vec![0; 32];
        getrandom::fill(&mut key)?;
        Ok(key)
    }

    /// The key as stored; `None` when it has the wrong length.
    pub(crate) fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    fn tag(&self, payload: &[u8], fingerprint: &[u8; 32]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(payload);
        mac.update(fingerprint);
        mac
    }

    /// The cursor for the page after `position`, for the query whose filters
    /// have `fingerprint`.
    pub(crate) fn sign(&self, position: Position, fingerprint: &[u8; 32]) -> String {
        let mut bytes = Vec::with_capacity(CURSOR_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&position.occurred_at.unix_micros().to_be_bytes());
        bytes.extend_from_slice(position.id.as_bytes());
        let tag = self.tag(&bytes, fingerprint).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position `cursor` stands for, if this store issued it for a query
    /// with these filters.
    pub(crate) fn open(&self, cursor: &str, fingerprint: &[u8; 32]) -> Result<Position, QueryError> {
        let malformed = || {
            QueryError::new(
                "cursor",
                "is malformed: pass back `next_cursor` exactly as it was returned",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| malformed())?;
        if bytes.len() != CURSOR_LEN || bytes[0] != VERSION {
            return Err(malformed());
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        self.tag(payload, fingerprint).verify_truncated_left(tag).map_err(|_| {
            QueryError::new(
                "cursor",
                "does not belong to this query: it was altered, or issued for other filters or another store",
            )
        })?;
        let micros = i64::from_be_bytes(payload[1..9].try_into().unwrap_or_else(|_| unreachable!("8 bytes")));
        let id = Uuid::from_slice(&payload[9..]).map_err(|_| malformed())?;
        let occurred_at = Timestamp::from_unix_micros(micros).ok_or_else(malformed)?;
        Ok(Position { occurred_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CursorKey {
        CursorKey([byte; 32])
    }

    fn position() -> Position {
        let occurred_at = Timestamp::from_unix_micros(1_790_000_000_123_456).unwrap();
        Position {
            occurred_at,
            id: Uuid::from_u128(0x0199_a0c4_506c_7b71_658e_1302_c985_1f03),
        }
    }

    #[test]
    fn a_cursor_opens_to_the_position_it_was_signed_for() {
        let cursor = key(7).sign(position(), &[1; 32]);
        assert_eq!(cursor.len(), 55);
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(key(7).open(&cursor, &[1; 32]).unwrap(), position());
    }

    #[test]
    fn other_filters_another_key_or_any_edited_byte_are_refused() {
        let cursor = key(7).sign(position(), &[1; 32]);
        let foreign = key(7).open(&cursor, &[2; 32]).unwrap_err();
        assert_eq!(foreign.parameter(), "cursor");
        assert!(foreign.message().contains("does not belong"), "{foreign}");
        assert!(key(8).open(&cursor, &[1; 32]).is_err());
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for i in 0..bytes.len() {
            let mut edited = bytes.clone();
            edited[i] ^= 0x01;
            let error = key(7).open(&URL_SAFE_NO_PAD.encode(&edited), &[1; 32]).unwrap_err();
            assert_eq!(error.parameter(), "cursor", "byte {i}");
        }
    }

    mod properties {
        use chrono::{DateTime, Utc};
        use proptest::prelude::*;

        use super::*;

        /// How many cases: `AUDIT_FUZZ_CASES`, or 50,000 (issue 18).
        fn fuzz_cases() -> u32 {
            std::env::var("AUDIT_FUZZ_CASES")
                .ok()
                .and_then(|cases| cases.parse().ok())
                .unwrap_or(50_000)
        }

        /// Any time a `Timestamp` holds, its two ends included.
        fn any_timestamp() -> impl Strategy<Value = Timestamp> {
            let earliest = Timestamp::from_datetime(DateTime::<Utc>::MIN_UTC).unix_micros();
            let latest = Timestamp::from_datetime(DateTime::<Utc>::MAX_UTC).unix_micros();
            prop_oneof![earliest..=latest, Just(earliest), Just(latest), Just(0)]
                .prop_map(|micros| Timestamp::from_unix_micros(micros).expect("within the range above"))
        }

        fn any_position() -> impl Strategy<Value = Position> {
            (any_timestamp(), any::<u128>()).prop_map(|(occurred_at, id)| Position {
                occurred_at,
                id: Uuid::from_u128(id),
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

            #[test]
            fn any_position_opens_to_itself_under_its_key_and_filters(
                position in any_position(),
                key in any::<[u8; 32]>(),
                fingerprint in any::<[u8; 32]>(),
            ) {
                let key = CursorKey(key);
                let cursor = key.sign(position, &fingerprint);
                prop_assert_eq!(cursor.len(), 55);
                prop_assert_eq!(key.open(&cursor, &fingerprint), Ok(position));
            }

            #[test]
            fn a_payload_the_key_did_not_sign_is_refused(
                payload in prop::collection::vec(any::<u8>(), 0..64),
                version_one in any::<bool>(),
                fingerprint in any::<[u8; 32]>(),
            ) {
                // Any bytes, often of a cursor's length and version: only a
                // forged tag could open them.
                let mut bytes = payload;
                if version_one {
                    bytes.resize(CURSOR_LEN, 0);
                    bytes[0] = VERSION;
                }
                let error = key(7).open(&URL_SAFE_NO_PAD.encode(&bytes), &fingerprint).unwrap_err();
                prop_assert_eq!(error.parameter(), "cursor");
            }
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_page() {
        for garbage in [
            "",
            "abc",
            "!!!!",
            &"A".repeat(55),
            &"A".repeat(400),
            "eyJvZmZzZXQiOjEwMH0",
        ] {
            let error = key(7).open(garbage, &[1; 32]).unwrap_err();
            assert_eq!(error.parameter(), "cursor");
        }
    }
}
