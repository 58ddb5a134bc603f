//! One spool record on disk: a length, a checksum, the payload.
//!
//! ```text
//! ┌────────────────┬──────────────────────────┬─────────────────────┐
//! │ len: u32 LE    │ crc: u32 LE              │ payload: len bytes  │
//! │ payload length │ CRC-32C of len ‖ payload │ the event as JSON   │
//! └────────────────┴──────────────────────────┴─────────────────────┘
//! ```
//!
//! The checksum covers the length too, so a torn or flipped length is
//! caught even when the bytes after it happen to be readable. Eight zero
//! bytes where a header should be are not a record (the CRC-32C of a zero
//! length is not zero): they are the end, the zeros the appender writes
//! ahead of itself so that a sync need not update the file's size. A length
//! above [`MAX_PAYLOAD`] is corrupt without reading further, so a garbage
//! length never makes the reader allocate gigabytes.

use crc::{CRC_32_ISCSI, Crc, Table};

/// CRC-32C (Castagnoli), the checksum of iSCSI, ext4 metadata and most
/// write-ahead logs: better error detection than the zlib CRC-32 on short
/// records. Slice-by-16 tables (16 KiB): several times the byte-at-a-time
/// table's speed, and the checksum runs over every event spooled.
const CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// Bytes before the payload.
pub(crate) const HEADER: usize = 8;

/// The largest payload a record may have: far above any event the policy's
/// caps let through (64 KiB of metadata by default), far below what a
/// garbage length could ask for.
pub(crate) const MAX_PAYLOAD: usize = 16 << 20;

/// Appends one record holding `payload` to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or_else(|_| unreachable!("payloads are capped at MAX_PAYLOAD"));
    let len = len.to_le_bytes();
    let mut digest = CRC32C.digest();
    digest.update(&len);
    digest.update(payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&digest.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// What [`decode`] found at the start of its input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A whole record: its payload and how many bytes it took.
    Record { payload: &'a [u8], len: usize },
    /// Nothing left: the input is empty, or the rest starts with a zero
    /// header (space written ahead that no record has reached yet).
    End,
    /// The input ends inside a record: a write the process did not finish
    /// (killed mid-append). Nothing after it can be trusted.
    Torn,
    /// The record's checksum or length is wrong: the bytes were damaged.
    Corrupt,
}

/// Reads the record at the start of `bytes`. Never panics, whatever the bytes.
pub(crate) fn decode(bytes: &[u8]) -> Decoded<'_> {
    if bytes.is_empty() {
        return Decoded::End;
    }
    let Some((header, rest)) = bytes.split_first_chunk::<HEADER>() else {
        return Decoded::Torn;
    };
    if header == &[0; HEADER] {
        return Decoded::End;
    }
    let (len_bytes, crc_bytes) = header.split_at(4);
    let len = u32::from_le_bytes(len_bytes.try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(crc_bytes.try_into().unwrap_or_default());
    if len > MAX_PAYLOAD {
        return Decoded::Corrupt;
    }
    let Some(payload) = rest.get(..len) else {
        return Decoded::Torn;
    };
    let mut digest = CRC32C.digest();
    digest.update(len_bytes);
    digest.update(payload);
    if digest.finalize() != crc {
        return Decoded::Corrupt;
    }
    Decoded::Record {
        payload,
        len: HEADER + len,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn records(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            encode(payload, &mut out);
        }
        out
    }

    #[test]
    fn a_record_round_trips_and_the_next_one_follows() {
        let bytes = records(&[b"first", b"", b"third"]);
        let Decoded::Record { payload, len } = decode(&bytes) else {
            panic!("first record");
        };
        assert_eq!((payload, len), (&b"first"[..], HEADER + 5));
        let rest = &bytes[len..];
        assert_eq!(
            decode(rest),
            Decoded::Record {
                payload: b"",
                len: HEADER
            }
        );
        assert!(matches!(
            decode(&rest[HEADER..]),
            Decoded::Record { payload: b"third", .. }
        ));
        assert_eq!(decode(&[]), Decoded::End);
    }

    #[test]
    fn zeros_after_the_records_are_the_end_and_an_empty_record_is_not_zeros() {
        let mut bytes = records(&[b"first", b""]);
        bytes.extend_from_slice(&[0; 64]);
        let Decoded::Record { len, .. } = decode(&bytes) else {
            panic!("first record");
        };
        let empty = &bytes[len..];
        assert_ne!(&empty[..HEADER], &[0; HEADER], "an empty record has a checksum");
        assert_eq!(
            decode(empty),
            Decoded::Record {
                payload: b"",
                len: HEADER
            }
        );
        assert_eq!(decode(&empty[HEADER..]), Decoded::End);
    }

    #[test]
    fn every_cut_of_a_record_is_torn_never_a_record() {
        let bytes = records(&[b"{\"id\":\"0190\"}"]);
        for cut in 1..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Decoded::Torn, "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_is_corrupt_or_torn() {
        let bytes = records(&[b"payload of an event"]);
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                let decoded = decode(&damaged);
                assert!(
                    matches!(decoded, Decoded::Corrupt | Decoded::Torn),
                    "bit {bit} of byte {byte}: {decoded:?}"
                );
            }
        }
    }

    #[test]
    fn a_garbage_length_is_corrupt_before_any_allocation() {
        let mut bytes = vec![0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        bytes.extend_from_slice(b"short");
        assert_eq!(decode(&bytes), Decoded::Corrupt);
    }

    fn cases() -> u32 {
        std::env::var("AUDIT_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2_000)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// The decoder sees whatever is on disk after a crash or damage:
        /// any bytes at all must decode to something, without a panic, and
        /// a record it accepts must lie within the input.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Decoded::Record { payload, len } = decode(&bytes) {
                prop_assert!(len <= bytes.len());
                prop_assert_eq!(payload.len() + HEADER, len);
            }
        }

        /// What was encoded is what is decoded, record after record.
        #[test]
        fn encoded_records_decode_in_order(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8)) {
            let mut bytes = Vec::new();
            for payload in &payloads {
                encode(payload, &mut bytes);
            }
            let mut rest = &bytes[..];
            for payload in &payloads {
                let Decoded::Record { payload: found, len } = decode(rest) else {
                    return Err(TestCaseError::fail("record expected"));
                };
                prop_assert_eq!(found, &payload[..]);
                rest = &rest[len..];
            }
            prop_assert_eq!(decode(rest), Decoded::End);
        }
    }
}
