//! The action catalogue at run time: the constants of `catalogue!()`, the
//! `Catalogue` they form, and what `#[audited]` takes from a declared action.

use audit_core::catalogue::MetadataType;
use audit_core::{Action, Actor, AuditScope, Category, Event, RequestContext, Severity, audited};
use serde_json::json;

mod actions {
    audit_core::catalogue!("catalogues/ordered.toml");
}

#[test]
fn the_catalogue_keeps_the_files_order() {
    assert_eq!(
        actions::CATALOGUE.names().collect::<Vec<_>>(),
        ["member.invited", "app.archived", "auth.login"]
    );
    let constants = [actions::MEMBER_INVITED, actions::APP_ARCHIVED, actions::AUTH_LOGIN];
    assert!(actions::CATALOGUE.iter().eq(constants.iter()));
    assert!((&actions::CATALOGUE).into_iter().eq(constants.iter()));
}

#[test]
fn lookups_find_declared_names_only() {
    assert_eq!(actions::CATALOGUE.get("app.archived"), Some(&actions::APP_ARCHIVED));
    assert!(actions::CATALOGUE.contains("auth.login"));
    assert!(!actions::CATALOGUE.contains("app.archive"));
    assert_eq!(actions::CATALOGUE.get(""), None);
}

#[test]
fn constants_carry_what_the_file_declares() {
    let archived = actions::APP_ARCHIVED;
    assert_eq!(archived.name(), "app.archived");
    assert_eq!(archived.category(), Category::Delete, "declared");
    assert_eq!(archived.severity(), Some(Severity::Warning));
    assert_eq!(archived.description(), "Archived app {target}");
    assert!(archived.metadata().is_empty());
    assert_eq!(actions::AUTH_LOGIN.category(), Category::Auth, "derived from the name");
    assert_eq!(actions::AUTH_LOGIN.severity(), None);
    assert_eq!(
        actions::MEMBER_INVITED.metadata(),
        [
            ("email", MetadataType::String),
            ("role", MetadataType::String),
            ("seats", MetadataType::Integer),
            ("ratio", MetadataType::Number),
            ("trial", MetadataType::Boolean),
            ("limits", MetadataType::Object),
            ("tags", MetadataType::Array),
        ]
    );
}

#[test]
fn a_constant_is_the_same_action_as_its_name() {
    let action: Action = actions::MEMBER_INVITED.into();
    assert_eq!(action, Action::new("member.invited").unwrap());
    assert_eq!(action.verb(), "invited");
    assert_eq!(actions::APP_ARCHIVED.to_string(), "app.archived");
    let event = Event::builder(actions::AUTH_LOGIN, Actor::user("user_alice")).build();
    assert_eq!(event.action().as_str(), "auth.login");
}

#[test]
fn serialises_for_the_export() {
    assert_eq!(
        serde_json::to_value(actions::APP_ARCHIVED).unwrap(),
        json!({
            "action": "app.archived",
            "category": "delete",
            "severity": "warning",
            "description": "Archived app {target}",
            "metadata": {},
        })
    );
    let all = serde_json::to_value(actions::CATALOGUE).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[2]["severity"], serde_json::Value::Null);
    // Keys in the file's order, not sorted.
    let text = serde_json::to_string(&actions::MEMBER_INVITED).unwrap();
    assert!(
        text.contains(r#""metadata":{"email":"string","role":"string","seats":"integer","ratio":"number","trial":"boolean","limits":"object","tags":"array"}"#),
        "{text}"
    );
}

#[test]
fn the_json_schema_types_each_declared_key() {
    let schema = actions::CATALOGUE.json_schema("member.invited").unwrap();
    assert_eq!(
        schema,
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "member.invited",
            "description": "Invited {email} as {role}",
            "type": "object",
            "properties": {
                "email": {"type": "string"},
                "role": {"type": "string"},
                "seats": {"type": "integer"},
                "ratio": {"type": "number"},
                "trial": {"type": "boolean"},
                "limits": {"type": "object"},
                "tags": {"type": "array"},
            },
        })
    );
    assert_eq!(actions::CATALOGUE.json_schema("member.removed"), None);
}

#[audited(action = "app.archived", catalogue = "catalogues/ordered.toml")]
fn archive() {}

#[audited(
    action = "app.archived",
    severity = "info",
    category = "update",
    catalogue = "catalogues/ordered.toml"
)]
fn archive_overriding() {}

#[audited(action = "auth.login", catalogue = "catalogues/ordered.toml")]
fn sign_in() {}

#[tokio::test(flavor = "current_thread")]
async fn audited_takes_declared_severity_and_category_unless_it_sets_its_own() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    scope
        .run(async {
            archive();
            archive_overriding();
            sign_in();
        })
        .await;
    let events: Vec<Event> = scope
        .take_completed()
        .into_iter()
        .map(|draft| draft.into_builder(scope.request()).build())
        .collect();
    let seen: Vec<_> = events.iter().map(|e| (e.severity(), e.category())).collect();
    assert_eq!(
        seen,
        [
            (Severity::Warning, Category::Delete),
            (Severity::Info, Category::Update),
            (Severity::Info, Category::Auth),
        ]
    );
}
