//! Fuzzing the CSV export (issue 18): exports are opened in spreadsheets,
//! and every text column holds something a client or an actor chose. For
//! any events, built (sanitised) or read back from a store (trusted as
//! stored: raw tabs, line breaks, quotes), the export reads back with the
//! `csv` crate as one row of every column per event, each cell the event's
//! value, a leading `'` before any that would start with a formula trigger
//! (`=`, `+`, `-`, `@`, tab, CR), and no cell starting with one.
//!
//! Cases per property: `AUDIT_FUZZ_CASES` (see `support`).

#[allow(
    dead_code,
    unused_macros,
    reason = "each test binary uses a part of the shared support"
)]
mod support;

use audit_core::{Action, Actor, ActorKind, Event, Target};
use audit_store::{CSV_COLUMNS, ExportFormat};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::csv_rows::expected_row;
use support::fuzz_cases;

/// What spreadsheets run as a formula when a cell starts with it.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Cell text: anything, formula payloads, and what CSV must quote.
fn cell_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[=+\\-@\t\r][ -~]{0,12}",
        "[=+\\-@\t\r'\", \r\na-z]{0,12}",
        Just(String::new()),
    ]
}

/// The text fields of an event that a CSV row shows.
#[derive(Debug, Clone)]
struct Texts {
    actor_id: String,
    actor_name: String,
    actor_email: String,
    tenant: String,
    target: [String; 3],
    description: String,
    user_agent: String,
    request_id: String,
    note: String,
}

fn texts() -> impl Strategy<Value = Texts> {
    (
        (cell_text(), cell_text(), cell_text(), cell_text()),
        [cell_text(), cell_text(), cell_text()],
        (cell_text(), cell_text(), cell_text(), cell_text()),
    )
        .prop_map(
            |((actor_id, actor_name, actor_email, tenant), target, (description, user_agent, request_id, note))| {
                Texts {
                    actor_id,
                    actor_name,
                    actor_email,
                    tenant,
                    target,
                    description,
                    user_agent,
                    request_id,
                    note,
                }
            },
        )
}

/// An event with these texts, through the builder: escaped and capped as
/// every recorded event is.
fn built(texts: &Texts, kind: ActorKind) -> Event {
    let [target_type, target_id, target_name] = texts.target.clone();
    let actor = Actor::new(kind, texts.actor_id.clone())
        .with_name(texts.actor_name.clone())
        .with_email(texts.actor_email.clone());
    let mut builder = Event::builder(Action::new("app.renamed").expect("a valid action"), actor)
        .tenant(texts.tenant.clone())
        .target(Target::new(target_type, target_id).with_name(target_name))
        .description(texts.description.clone())
        .metadata("note", &texts.note);
    let context = builder.context_mut();
    context.user_agent = Some(texts.user_agent.clone());
    context.request_id = Some(texts.request_id.clone());
    builder.build()
}

/// An event with these texts as a store may hand it back: deserialising
/// trusts every string as stored, so nothing is escaped.
fn as_stored(texts: &Texts, kind: ActorKind) -> Event {
    let plain = Event::builder(
        Action::new("app.renamed").expect("a valid action"),
        Actor::new(kind, "x"),
    )
    .build();
    let mut value = serde_json::to_value(plain).expect("events serialise");
    let [target_type, target_id, target_name] = &texts.target;
    value["actor"]["id"] = json!(texts.actor_id);
    value["actor"]["name"] = json!(texts.actor_name);
    value["actor"]["email"] = json!(texts.actor_email);
    value["tenant_id"] = json!(texts.tenant);
    value["target"] = json!({"type": target_type, "id": target_id, "name": target_name});
    value["description"] = json!(texts.description);
    value["context"]["user_agent"] = json!(texts.user_agent);
    value["context"]["request_id"] = json!(texts.request_id);
    value["metadata"] = json!({"note": texts.note});
    serde_json::from_value(value).expect("the event shape is kept")
}

fn event() -> impl Strategy<Value = Event> {
    let kind = prop::sample::select(vec![
        ActorKind::User,
        ActorKind::ApiKey,
        ActorKind::Service,
        ActorKind::System,
        ActorKind::Anonymous,
    ]);
    (texts(), kind, any::<bool>()).prop_map(|(texts, kind, stored)| {
        if stored {
            as_stored(&texts, kind)
        } else {
            built(&texts, kind)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(6_000)))]

    #[test]
    fn any_events_read_back_as_one_full_row_each_with_formulas_neutralised(
        events in prop::collection::vec(event(), 0..6),
    ) {
        let mut csv = ExportFormat::Csv.header();
        ExportFormat::Csv.write(&events, &mut csv);

        let mut reader = csv::Reader::from_reader(&csv[..]);
        let headers = reader.headers().expect("a header row").clone();
        prop_assert_eq!(headers.iter().collect::<Vec<_>>(), CSV_COLUMNS.to_vec());
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("the export is valid CSV of equal-length rows");
        prop_assert_eq!(rows.len(), events.len());
        for (row, event) in rows.iter().zip(&events) {
            prop_assert_eq!(row.len(), CSV_COLUMNS.len());
            for cell in row {
                prop_assert!(!cell.starts_with(FORMULA_TRIGGERS), "{:?}", cell);
            }
            let expected = expected_row(&serde_json::to_value(event).expect("events serialise"));
            prop_assert_eq!(row.iter().collect::<Vec<_>>(), expected.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_cell_changes_only_by_a_quote_before_a_formula_trigger(texts in texts()) {
        let event = as_stored(&texts, ActorKind::User);
        let mut csv = Vec::new();
        ExportFormat::Csv.write(std::slice::from_ref(&event), &mut csv);
        let row = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&csv[..])
            .records()
            .next()
            .expect("one row")
            .expect("valid CSV");
        let [target_type, target_id, target_name] = &texts.target;
        let written = [
            (7, &texts.actor_id),
            (8, &texts.actor_name),
            (9, &texts.actor_email),
            (10, &texts.tenant),
            (11, target_type),
            (12, target_id),
            (13, target_name),
            (14, &texts.description),
            (16, &texts.user_agent),
            (17, &texts.request_id),
        ];
        for (column, original) in written {
            let cell = &row[column];
            if original.starts_with(FORMULA_TRIGGERS) {
                prop_assert_eq!(cell, format!("'{original}"), "{}", CSV_COLUMNS[column]);
            } else {
                prop_assert_eq!(cell, original.as_str(), "{}", CSV_COLUMNS[column]);
            }
        }
        let metadata: Value = serde_json::from_str(&row[18]).expect("the metadata column is JSON");
        prop_assert_eq!(metadata, json!({"note": texts.note}));
    }
}
