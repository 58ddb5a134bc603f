//! UTC timestamps with microsecond precision.

use std::fmt;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant truncated to whole microseconds.
///
/// Microseconds are what PostgreSQL's `timestamptz` keeps, so a timestamp
/// survives a round trip through any store unchanged — which the integrity
/// hashes depend on. It serialises as RFC 3339 with exactly six fractional
/// digits and a `Z`.
///
/// ```
/// use audit_core::Timestamp;
///
/// let ts: Timestamp = serde_json::from_str("\"2026-11-22T03:17:33.123456789+01:00\"").unwrap();
/// assert_eq!(ts.to_string(), "2026-11-22T02:17:33.123456Z");
/// assert_eq!(Timestamp::from_unix_micros(ts.unix_micros()), Some(ts));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps `at`, dropping anything below a microsecond.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(6))
    }

    /// Microseconds since the Unix epoch; `None` when out of chrono's range.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(micros).map(Self)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The wrapped chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A UUIDv7 for something that happened at `at`: its 48-bit time prefix is
/// `at` in milliseconds, the remaining 74 bits are random.
///
/// The random bits come from a per-thread userspace generator seeded from
/// the OS, not from a system call per id: ids must be unique and sortable
/// by time, not secret, and a `getrandom` call per event was the largest
/// single cost of preparing one (see BENCHMARKS.md).
///
/// ```
/// use audit_core::{Timestamp, new_event_id};
/// let at = Timestamp::now();
/// let id = new_event_id(at);
/// assert_eq!(id.get_version_num(), 7);
/// let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
/// assert_eq!((secs * 1000 + u64::from(nanos) / 1_000_000) as i64, at.unix_micros() / 1000);
/// assert_ne!(new_event_id(at), id);
/// ```
pub fn new_event_id(at: Timestamp) -> uuid::Uuid {
    let millis = u64::try_from(at.unix_micros().div_euclid(1000)).unwrap_or(0);
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&fastrand::u64(..).to_le_bytes());
    random[8..].copy_from_slice(&fastrand::u16(..).to_le_bytes());
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self::from_datetime(at)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 timestamp `{text}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_no_sub_microsecond_part() {
        let now = Timestamp::now();
        assert_eq!(now.as_datetime().timestamp_subsec_nanos() % 1_000, 0);
    }

    #[test]
    fn always_six_fractional_digits() {
        let whole = Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap();
        assert_eq!(whole.to_string(), "2023-11-14T22:13:20.000000Z");
        let json = serde_json::to_string(&whole).unwrap();
        assert_eq!(json, "\"2023-11-14T22:13:20.000000Z\"");
    }

    #[test]
    fn rejects_garbage_with_the_value_in_the_message() {
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("`yesterday`"), "{err}");
    }
}
