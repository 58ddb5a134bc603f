//! UTC timestamps with microsecond precision.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, SecondsFormat, SubsecRound, Timelike, Utc};
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
        // Read as whole microseconds from the system clock: `Utc::now()` and
        // then `trunc_subsecs` come to the same with more arithmetic, and a
        // request reads the clock twice (its id, its event).
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok();
        since_epoch
            .and_then(|since| {
                let secs = i64::try_from(since.as_secs()).ok()?;
                DateTime::from_timestamp(secs, since.subsec_micros() * 1000)
            })
            .map_or_else(|| Self::from_datetime(Utc::now()), Self)
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

impl Timestamp {
    /// The RFC 3339 form written into a fixed buffer, without chrono's
    /// formatting machinery or an allocation: every event writes two of
    /// these. `None` for the forms this does not cover (a year outside
    /// 0..=9999, a leap second), which chrono writes.
    fn fixed_form(&self) -> Option<[u8; 27]> {
        let (date, time) = (self.0.date_naive(), self.0.time());
        let year = u32::try_from(date.year()).ok().filter(|year| *year <= 9999)?;
        let nanos = time.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        let mut form = *b"0000-00-00T00:00:00.000000Z";
        put_digits(&mut form[0..4], year);
        put_digits(&mut form[5..7], date.month());
        put_digits(&mut form[8..10], date.day());
        put_digits(&mut form[11..13], time.hour());
        put_digits(&mut form[14..16], time.minute());
        put_digits(&mut form[17..19], time.second());
        put_digits(&mut form[20..26], nanos / 1_000);
        Some(form)
    }

    /// Appends the form as a JSON string (it never needs escaping).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        match self.fixed_form() {
            Some(form) => {
                out.push(b'"');
                out.extend_from_slice(&form);
                out.push(b'"');
            }
            None => crate::canonical::write_string(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true), out),
        }
    }
}

/// Writes `value` as decimal digits filling `digits`, zero-padded.
fn put_digits(digits: &mut [u8], mut value: u32) {
    for digit in digits.iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fixed_form() {
            // The form is ASCII digits and punctuation, so this never fails.
            Some(form) => f.write_str(std::str::from_utf8(&form).map_err(|_| fmt::Error)?),
            None => f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true)),
        }
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
    fn now_reads_the_same_clock_as_chrono() {
        let before = Timestamp::from_datetime(Utc::now());
        let now = Timestamp::now();
        let after = Timestamp::from_datetime(Utc::now());
        assert!(before <= now && now <= after, "{before} <= {now} <= {after}");
    }

    #[test]
    fn always_six_fractional_digits() {
        let whole = Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap();
        assert_eq!(whole.to_string(), "2023-11-14T22:13:20.000000Z");
        let json = serde_json::to_string(&whole).unwrap();
        assert_eq!(json, "\"2023-11-14T22:13:20.000000Z\"");
    }

    /// What `Display` wrote before it had its own fast path.
    fn chrono_form(at: &Timestamp) -> String {
        at.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    #[test]
    fn fixed_form_agrees_with_chrono_at_the_edges() {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 1_234_567))
            .unwrap()
            .and_utc();
        let edges = [
            Timestamp::from_datetime(leap),
            Timestamp::from_unix_micros(0).unwrap(),
            Timestamp::from_unix_micros(-1).unwrap(),
            Timestamp::from_unix_micros(-62_167_219_200_000_000).unwrap(), // 0000-01-01
            Timestamp::from_unix_micros(-62_167_219_200_000_001).unwrap(), // year -1
            Timestamp::from_unix_micros(253_402_300_799_999_999).unwrap(), // 9999-12-31
            Timestamp::from_unix_micros(253_402_300_800_000_000).unwrap(), // year 10000
            Timestamp::from_datetime(DateTime::<Utc>::MIN_UTC),
            Timestamp::from_datetime(DateTime::<Utc>::MAX_UTC),
        ];
        for at in edges {
            assert_eq!(at.to_string(), chrono_form(&at));
            let mut json = Vec::new();
            at.write_json(&mut json);
            assert_eq!(json, serde_json::to_vec(&at).unwrap(), "{at}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fixed_form_agrees_with_chrono(micros in proptest::prelude::any::<i64>(), near in -1i64 << 55..1i64 << 55) {
            for micros in [micros, near] {
                if let Some(at) = Timestamp::from_unix_micros(micros) {
                    proptest::prop_assert_eq!(at.to_string(), chrono_form(&at));
                    let mut json = Vec::new();
                    at.write_json(&mut json);
                    proptest::prop_assert_eq!(json, serde_json::to_vec(&chrono_form(&at)).unwrap());
                }
            }
        }
    }

    #[test]
    fn rejects_garbage_with_the_value_in_the_message() {
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("`yesterday`"), "{err}");
    }
}
