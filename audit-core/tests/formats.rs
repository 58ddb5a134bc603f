//! The SIEM formats (`audit_core::format`) are a contract with the tools
//! that ingest them: these golden files pin each mapping.
//!
//! To accept an intended change, run with `UPDATE_GOLDEN=1` and review the
//! diff of `tests/golden/ocsf_*.json`, `event.cef` and `event.syslog` against
//! the module docs' tables like any API change.

use std::net::IpAddr;

use audit_core::format::{EventFormat, FormatOptions, cef, ocsf, syslog};
use audit_core::{Action, Actor, Event, EventContext, Integrity, IpSource, Outcome, Severity, Target, Timestamp};
use serde_json::{Value, json};

/// `event` with the id `id` (ids are random UUIDv7s; golden files need fixed ones).
fn with_id(event: &Event, id: &str) -> Event {
    let mut value = serde_json::to_value(event).unwrap();
    value["id"] = json!(id);
    serde_json::from_value(value).unwrap()
}

fn full_context(method: &str, route: &str, status: u16) -> EventContext {
    EventContext {
        client_ip: Some("203.0.113.7".parse::<IpAddr>().unwrap()),
        peer_ip: Some("10.0.0.2".parse::<IpAddr>().unwrap()),
        ip_source: Some(IpSource::XForwardedFor),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
        request_id: Some("0192f5e4-7c1a-7b3e-9f10-3d2c1b0a9e8f".into()),
        client_request_id: Some("req_01HZX".into()),
        method: Some(method.into()),
        route: Some(route.into()),
        status: Some(status),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        span_id: Some("00f067aa0ba902b7".into()),
    }
}

fn alice() -> Actor {
    Actor::user("user_alice")
        .with_name("Alice")
        .with_email("alice@acme.test")
        .with_role("owner")
        .with_role("billing")
}

fn sealed(mut event: Event, seq: u64) -> Event {
    event.set_recorded_at(Timestamp::from_unix_micros(1_795_000_000_200_000).unwrap());
    event.set_integrity(Integrity {
        stream: "tenant:acme".into(),
        seq,
        leaf_hash: "ab".repeat(32),
    });
    event
}

fn occurred() -> Timestamp {
    Timestamp::from_unix_micros(1_795_000_000_123_456).unwrap()
}

/// API Activity, every field populated.
fn api_event() -> Event {
    let event = Event::builder(Action::new("app.deleted").unwrap(), alice())
        .tenant("acme")
        .target(Target::new("app", "app_42").with_name("Billing"))
        .add_target(Target::new("webhook", "wh_7"))
        .description("Deleted app Billing")
        .severity(Severity::Critical)
        .context(full_context("DELETE", "/apps/{id}", 204))
        .before(&json!({"name": "Billing", "webhook_secret": "whsec_123"}))
        .metadata("plan", "enterprise")
        .occurred_at(occurred())
        .build();
    with_id(&sealed(event, 7), "0192f5e4-7c1a-7000-8000-000000000001")
}

/// Account Change: the event of `golden_event.rs`, a role granted.
fn account_event() -> Event {
    let event = Event::builder(Action::new("member.role_changed").unwrap(), alice())
        .tenant("acme")
        .target(Target::new("member", "mem_42").with_name("bob@acme.test"))
        .add_target(Target::new("user", "user_bob"))
        .description("Changed Bob's role from member to admin")
        .severity(Severity::Notice)
        .context(full_context("PATCH", "/members/{id}/role", 200))
        .before(&json!({"role": "member"}))
        .after(&json!({"role": "admin"}))
        .metadata("via", "admin console")
        .occurred_at(occurred())
        .build();
    with_id(&sealed(event, 8), "0192f5e4-7c1a-7000-8000-000000000002")
}

/// Authentication: a failed login by someone not yet known, for Bob's account.
fn auth_event() -> Event {
    let mut context = full_context("POST", "/login", 401);
    context.trace_id = None;
    context.span_id = None;
    context.client_request_id = None;
    let event = Event::builder(Action::new("auth.login_failed").unwrap(), Actor::anonymous())
        .tenant("acme")
        .target(Target::new("user", "user_bob").with_name("bob@acme.test"))
        .severity(Severity::Warning)
        .outcome(Outcome::Failure)
        .reason("wrong password")
        .context(context)
        .metadata("mfa_verified", &false)
        .occurred_at(occurred())
        .build();
    with_id(&event, "0192f5e4-7c1a-7000-8000-000000000003")
}

/// Nothing optional: no tenant, no target, no context, not stored.
fn minimal_event() -> Event {
    let event = Event::builder(Action::new("report.generated").unwrap(), Actor::system("billing-cron"))
        .occurred_at(occurred())
        .build();
    with_id(&event, "0192f5e4-7c1a-7000-8000-000000000004")
}

fn options() -> FormatOptions {
    FormatOptions::default()
        .with_vendor("Acme")
        .with_product("Billing")
        .with_version("2.4.1")
        .with_hostname("api-1.acme.test")
        .with_app_name("billing")
}

/// Compares `actual` with the golden file `name` (rewritten with `UPDATE_GOLDEN=1`).
fn assert_golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).expect("golden file exists (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        actual, expected,
        "{name} changed; if intended, rerun with UPDATE_GOLDEN=1 and review the diff"
    );
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

#[test]
fn ocsf_api_activity_matches_the_golden_file() {
    let record = ocsf(&api_event(), &options());
    assert_eq!(record["class_uid"], 6003);
    assert_eq!(record["type_uid"], 600304);
    assert_golden("ocsf_api_activity.json", &pretty(&record));
}

#[test]
fn ocsf_account_change_matches_the_golden_file() {
    let record = ocsf(&account_event(), &options());
    assert_eq!(record["class_uid"], 3001);
    assert_eq!(record["activity_id"], 7, "a role change attaches a policy");
    assert_eq!(record["user"]["uid"], "mem_42");
    assert_golden("ocsf_account_change.json", &pretty(&record));
}

#[test]
fn ocsf_authentication_matches_the_golden_file() {
    let record = ocsf(&auth_event(), &options());
    assert_eq!(record["class_uid"], 3002);
    assert_eq!(record["activity_id"], 1);
    assert_eq!(record["status_id"], 2);
    assert_eq!(record["is_mfa"], false);
    assert_golden("ocsf_authentication.json", &pretty(&record));
}

#[test]
fn ocsf_minimal_matches_the_golden_file() {
    let record = ocsf(&minimal_event(), &FormatOptions::default());
    for absent in ["src_endpoint", "http_request", "resources", "message", "status_detail"] {
        assert!(record.get(absent).is_none(), "{absent} should be left out");
    }
    for absent in ["correlation_uid", "tenant_uid", "log_name", "sequence", "logged_time"] {
        assert!(
            record["metadata"].get(absent).is_none(),
            "metadata.{absent} should be left out"
        );
    }
    assert_eq!(record["api"], json!({"operation": "report.generated"}));
    assert_eq!(record["metadata"]["product"]["version"], env!("CARGO_PKG_VERSION"));
    // The version changes with every release: pin the rest.
    let mut pinned = record;
    pinned["metadata"]["product"]["version"] = json!("<CARGO_PKG_VERSION>");
    assert_golden("ocsf_minimal.json", &pretty(&pinned));
}

/// No OCSF record holds a `null`, an empty object or an empty array: absent
/// values are left out, `changes.after` of a deletion included.
#[test]
fn ocsf_leaves_absent_fields_out() {
    fn check(value: &Value, path: &str) {
        match value {
            Value::Null => panic!("null at {path}"),
            Value::Object(map) => {
                assert!(!map.is_empty(), "empty object at {path}");
                for (key, value) in map {
                    check(value, &format!("{path}/{key}"));
                }
            }
            Value::Array(items) => {
                assert!(!items.is_empty(), "empty array at {path}");
                for (index, value) in items.iter().enumerate() {
                    check(value, &format!("{path}/{index}"));
                }
            }
            _ => {}
        }
    }
    // The fixtures' own state and metadata hold no nulls either.
    for event in all_events() {
        check(&ocsf(&event, &options()), "");
    }
}

fn all_events() -> [Event; 4] {
    [api_event(), account_event(), auth_event(), minimal_event()]
}

#[test]
fn cef_matches_the_golden_file() {
    let records: String = all_events().iter().map(|e| cef(e, &options()) + "\n").collect();
    assert_golden("event.cef", &records);
}

#[test]
fn syslog_matches_the_golden_file() {
    let records: String = all_events().iter().map(|e| syslog(e, &options()) + "\n").collect();
    assert_golden("event.syslog", &records);
}

#[test]
fn encode_is_the_building_blocks() {
    let options = options();
    for event in all_events() {
        assert_eq!(
            EventFormat::Native.encode(&event, &options),
            serde_json::to_string(&event).unwrap()
        );
        let ocsf_text = EventFormat::Ocsf.encode(&event, &options);
        assert_eq!(
            serde_json::from_str::<Value>(&ocsf_text).unwrap(),
            ocsf(&event, &options)
        );
        assert_eq!(EventFormat::Cef.encode(&event, &options), cef(&event, &options));
        assert_eq!(EventFormat::Syslog.encode(&event, &options), syslog(&event, &options));
    }
}

/// The syslog MSG is the event, whole: it reads back to the same event.
#[test]
fn the_syslog_msg_is_the_native_event() {
    for event in all_events() {
        let message = syslog(&event, &options());
        let (_, msg) = message.split_once("] \u{feff}").unwrap();
        let back: Event = serde_json::from_str(msg).unwrap();
        assert_eq!(back, event);
    }
}

// --- Hostile input -------------------------------------------------------

const HOSTILE: &str = "a|b=c\\d\ne\rf]g\"h \u{1b}[31m é";

/// An event that skipped the builder's sanitising (read back from JSON a
/// tool other than this crate wrote), with hostile text everywhere.
fn hostile_event() -> Event {
    let event = Event::builder(Action::new("member.role_changed").unwrap(), Actor::user("u1"))
        .occurred_at(occurred())
        .build();
    let mut value = serde_json::to_value(&event).unwrap();
    value["id"] = json!("0192f5e4-7c1a-7000-8000-000000000009");
    value["tenant_id"] = json!(HOSTILE);
    value["description"] = json!(HOSTILE);
    value["reason"] = json!(HOSTILE);
    value["actor"]["id"] = json!(HOSTILE);
    value["actor"]["name"] = json!(HOSTILE);
    value["target"] = json!({"type": "user", "id": HOSTILE, "name": HOSTILE});
    value["context"]["user_agent"] = json!(HOSTILE);
    value["context"]["route"] = json!(HOSTILE);
    value["context"]["request_id"] = json!(HOSTILE);
    serde_json::from_value(value).unwrap()
}

fn hostile_options() -> FormatOptions {
    FormatOptions::default()
        .with_vendor(HOSTILE)
        .with_product(HOSTILE)
        .with_version(HOSTILE)
        .with_hostname(HOSTILE)
        .with_app_name(HOSTILE)
        .with_sd_id(HOSTILE)
}

/// `HOSTILE` as the formats must give it back: control characters other
/// than the line breaks CEF extensions may carry become visible text.
fn visible(keep_breaks: bool) -> String {
    let escaped = HOSTILE.replace('\u{1b}', "\\u{1b}");
    if keep_breaks {
        escaped
    } else {
        escaped.replace('\n', "\\u{a}").replace('\r', "\\u{d}")
    }
}

/// Splits a CEF record into its 7 header fields (unescaped) and its
/// extension (unescaped key/value pairs): the parse a SIEM does.
fn parse_cef(record: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut header = vec![String::new()];
    let mut chars = record.char_indices();
    let mut rest = "";
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => header.last_mut().unwrap().push(chars.next().unwrap().1),
            '|' if header.len() == 7 => {
                rest = &record[at + 1..];
                break;
            }
            '|' => header.push(String::new()),
            _ => header.last_mut().unwrap().push(c),
        }
    }
    assert_eq!(header.len(), 7, "{record}");
    // Unescaped `=` separate keys from values; a key is the word before one.
    let bytes = rest.as_bytes();
    let mut separators = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 1,
            b'=' => separators.push(index),
            _ => {}
        }
        index += 1;
    }
    let key_start = |eq: usize| rest[..eq].rfind(' ').map_or(0, |space| space + 1);
    let mut pairs = Vec::new();
    for (n, &eq) in separators.iter().enumerate() {
        let end = separators.get(n + 1).map_or(rest.len(), |&next| key_start(next) - 1);
        let raw = &rest[eq + 1..end];
        let mut value = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next().unwrap() {
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    other => value.push(other),
                }
            } else {
                value.push(c);
            }
        }
        pairs.push((rest[key_start(eq)..eq].to_owned(), value));
    }
    (header, pairs)
}

#[test]
fn cef_reads_back_hostile_text_exactly() {
    let record = cef(&hostile_event(), &hostile_options());
    assert!(!record.contains(['\n', '\r', '\u{1b}']), "{record:?}");
    let (header, pairs) = parse_cef(&record);
    let in_header = visible(false);
    assert_eq!(header[0], "CEF:0");
    assert_eq!(header[1..4], [in_header.as_str(); 3], "vendor, product, version");
    assert_eq!(header[4], "member.role_changed");
    assert_eq!(header[5], in_header, "the description is the name");
    assert_eq!(header[6], "1");
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let in_extension = visible(true);
    for key in [
        "reason",
        "suser",
        "suid",
        "duser",
        "duid",
        "request",
        "requestClientApplication",
        "cs1",
        "cs2",
    ] {
        assert_eq!(get(key).as_deref(), Some(in_extension.as_str()), "{key} in {record}");
    }
    assert_eq!(get("cs3"), Some(format!("user:{in_extension}")));
    assert_eq!(get("cs1Label").as_deref(), Some("tenant"));
    assert_eq!(get("dvchost").as_deref(), Some(in_extension.as_str()));
}

/// The structured data of a syslog message: the SD-ID and unescaped params.
fn parse_sd(message: &str) -> (String, Vec<(String, String)>) {
    let start = message.find(" [").unwrap() + 2;
    let mut chars = message[start..].chars();
    let mut sd_id = String::new();
    for c in chars.by_ref() {
        if c == ' ' {
            break;
        }
        sd_id.push(c);
    }
    let mut params = Vec::new();
    loop {
        let mut name = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            name.push(c);
        }
        assert_eq!(chars.next(), Some('"'), "after {name}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().unwrap()),
                '"' => break,
                _ => value.push(c),
            }
        }
        params.push((name, value));
        match chars.next() {
            Some(' ') => continue,
            Some(']') => break,
            other => panic!("unexpected {other:?} after a param in {message:?}"),
        }
    }
    assert_eq!(chars.next(), Some(' '));
    assert_eq!(chars.next(), Some('\u{feff}'), "the MSG starts with a BOM");
    (sd_id, params)
}

#[test]
fn syslog_reads_back_hostile_text_exactly() {
    let event = hostile_event();
    let message = syslog(&event, &hostile_options());
    assert!(!message.contains(['\n', '\r', '\u{1b}']), "{message:?}");
    let header: Vec<&str> = message.splitn(7, ' ').collect();
    assert_eq!(header[0], "<110>1", "facility 13, severity info");
    assert_eq!(header[1], "2026-11-18T11:06:40.123456Z");
    for (field, max) in [(header[2], 255), (header[3], 48)] {
        assert!(field.chars().all(|c| c.is_ascii_graphic()), "{field:?}");
        assert!(field.len() <= max);
        assert_eq!(field, "a|b=c\\d_e_f]g\"h__[31m__");
    }
    assert_eq!(header[4], "-");
    assert_eq!(header[5], "member.role_changed");
    let (sd_id, params) = parse_sd(&message);
    assert_eq!(sd_id, "a|b_c\\d_e_f_g_h__[31m__");
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let expected = visible(false);
    for key in ["tenant", "actor", "request_id"] {
        assert_eq!(get(key).as_deref(), Some(expected.as_str()), "{key}");
    }
    assert_eq!(get("target"), Some(format!("user:{expected}")));
    // The MSG is JSON, which escapes control characters itself.
    let (_, msg) = message.split_once('\u{feff}').unwrap();
    assert_eq!(serde_json::from_str::<Event>(msg).unwrap(), event);
}

#[test]
fn a_long_action_is_cut_to_32_characters_in_the_msgid_only() {
    let action = format!("a.{}", "b".repeat(120));
    let event = Event::builder(Action::new(action.clone()).unwrap(), Actor::anonymous()).build();
    let message = syslog(&event, &FormatOptions::default());
    let msgid = message.split(' ').nth(5).unwrap();
    assert_eq!(msgid.len(), 32);
    assert!(action.starts_with(msgid));
    let (_, params) = parse_sd(&message);
    assert!(params.contains(&("action".to_owned(), action.clone())));
    assert!(cef(&event, &FormatOptions::default()).contains(&format!("|{action}|{action}|")));
}
