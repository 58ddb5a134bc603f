//! `#[derive(Auditable)]` on generic and borrowing types, `#[audited]` on
//! generic functions.
#![deny(warnings)]

use audit_core::{AuditState, Auditable, audited};
use serde::Serialize;

#[derive(Auditable)]
#[audit(target = "document")]
struct Document<'a, Body, Id = u64> {
    #[audit(id)]
    id: Id,
    #[audit(name)]
    title: &'a str,
    body: Body,
}

#[derive(Serialize)]
struct Markdown(String);

#[audited(action = "document.published", target = doc)]
fn publish<B: Serialize, I: Serialize + std::fmt::Display>(doc: &Document<'_, B, I>) -> Result<(), String> {
    let _ = doc;
    Ok(())
}

#[audited(action = "value.parsed")]
fn parse<T: std::str::FromStr>(text: &str) -> Result<T, T::Err>
where
    T::Err: std::fmt::Debug,
{
    text.parse()
}

fn main() {
    let doc = Document {
        id: "doc_1",
        title: "Readme",
        body: Markdown("# Hi".into()),
    };
    assert_eq!(doc.audit_target_ref().id, "doc_1");
    assert_eq!(doc.audit_state()["body"], "# Hi");
    publish(&doc).unwrap();
    assert_eq!(parse::<u8>("7"), Ok(7));
}
