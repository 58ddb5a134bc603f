//! Request ids: generated for every request; a client's own id, when
//! well-formed, is kept beside it (`client_request_id`), never instead.

use http::HeaderValue;

/// The longest request id accepted from a client.
pub(crate) const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a client-supplied id is safe to record: 1–128 visible ASCII
/// characters from a conservative set (letters, digits, `-_.:/+=@`).
pub(crate) fn is_well_formed(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b))
}

/// A fresh id: a UUIDv7, so ids sort by time.
pub(crate) fn generate() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let id = audit_core::new_event_id(audit_core::Timestamp::now());
    let text = id.hyphenated().encode_lower(&mut buffer);
    HeaderValue::from_str(text).unwrap_or_else(|e| unreachable!("a UUID is a valid header value: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_id_formats() {
        for ok in ["req_01HZX", "0f8fad5b-d9cb-469f-a165-70867728950e", "abc.def:1/2+3=@x"] {
            assert!(is_well_formed(&HeaderValue::from_static(ok)), "{ok}");
        }
    }

    #[test]
    fn rejects_empty_long_and_odd_ids() {
        assert!(!is_well_formed(&HeaderValue::from_static("")));
        assert!(!is_well_formed(&HeaderValue::from_str(&"a".repeat(129)).unwrap()));
        for bad in ["has space", "quote\"", "semi;colon", "<script>"] {
            assert!(!is_well_formed(&HeaderValue::from_str(bad).unwrap()), "{bad}");
        }
        assert!(!is_well_formed(&HeaderValue::from_bytes(b"id\xff").unwrap()));
    }

    #[test]
    fn generated_ids_are_uuid_v7() {
        let id = generate();
        let parsed = uuid::Uuid::parse_str(id.to_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }
}
