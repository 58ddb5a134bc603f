use audit_core::audited;

#[audited(action = "App.Deleted")]
fn uppercase() {}

#[audited(action = "member.roleChanged")]
fn camel_case() {}

#[audited(action = "deleted")]
fn single_segment() {}

#[audited(action = "app..deleted")]
fn empty_segment() {}

#[audited(action = "api-key.rotated")]
fn dash() {}

#[audited(action = "app.2fa_enabled")]
fn digit_first() {}

#[audited(action = ACTION)]
fn not_a_literal() {}

const ACTION: &str = "app.deleted";

fn main() {
    uppercase();
    camel_case();
    single_segment();
    empty_segment();
    dash();
    digit_first();
    not_a_literal();
    let _ = ACTION;
}
