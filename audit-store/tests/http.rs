//! The admin API end to end: a real axum server on loopback behind the real
//! `AuditLayer`, a real HTTP client, and a real SQLite file or PostgreSQL
//! database underneath. The layer's auditor writes the API's own
//! `audit_log.*` events to a memory sink, so the tests can look at them
//! apart from the fixture.

#![cfg(feature = "http")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use audit_core::{Action, Actor, ActorKind, AuditSink, Event, Outcome, Target, Timestamp};
use audit_store::checkpoint::Checkpointer;
use audit_store::{CSV_COLUMNS, EventProof, QUERY_PARAMETERS, SigningKey, Store};
use http::StatusCode;
use http_body_util::BodyExt as _;
use serde_json::Value;
use support::TestDb;
use support::csv_rows::expected_row;
use support::loopback::Loopback;

on_both_backends!(
    cursor_pages_walk_every_event_of_the_tenant_once,
    each_filter_gives_what_the_store_gives,
    tenants_never_see_each_other,
    refused_and_failed_reads_are_recorded,
    hostile_values_in_every_filter_are_an_empty_page_or_a_400,
    csv_export_reparses_to_the_rows_of_the_list_with_formulas_neutralised,
    ndjson_export_is_the_list_one_event_per_line,
    actions_are_counted_with_their_category,
    the_openapi_document_covers_every_route_and_parameter,
    not_action_leaves_events_out_of_the_list_the_export_and_the_counts,
    empty_values_and_other_methods_are_refused_by_name,
    read_events_say_what_was_read,
    an_event_proof_verifies_offline_and_its_read_is_recorded,
    a_proof_is_404_for_another_tenant_409_before_a_checkpoint_and_400_for_a_bad_checkpoint,
    an_export_the_client_cuts_off_is_recorded_as_a_failure_and_a_complete_one_as_a_success,
    an_export_the_store_fails_mid_way_is_recorded_as_a_failure,
    the_catalogue_adds_declared_actions_to_the_counts_and_the_openapi_document,
);

/// The fixture application's catalogue: app.created, app.deleted (events
/// have them) and member.role_changed (none has).
mod actions {
    audit_core::catalogue!("fixtures/catalogue.toml");
}

/// The same application's next release.
mod actions_v2 {
    audit_core::catalogue!("fixtures/catalogue_v2.toml");
}

struct Server {
    /// The API served on loopback; `server.get(..)` and `server.recorded()` are its.
    api: Loopback,
    store: Store,
    events: Vec<Event>,
}

impl std::ops::Deref for Server {
    type Target = Loopback;

    fn deref(&self) -> &Loopback {
        &self.api
    }
}

const ACME_ADMIN: &str = "u_admin admin acme";
/// The second tenant's id is itself a formula payload.
const GLOBEX_OWNER: &str = "u_owner owner =globex";
const AUDITOR: &str = "u_auditor auditor";
const ACME_MEMBER: &str = "u_member member acme";

/// Payloads a spreadsheet would run, one per text column.
const FORMULAS: [&str; 6] = [
    "=1+1",
    "+SUM(A1)",
    "-2+3",
    "@cmd",
    "\tTAB",
    "=HYPERLINK(\"http://x\",\"y\")",
];

impl Server {
    async fn start(db: &TestDb) -> Self {
        let store = db.connect().await;
        let now = Timestamp::now().unix_micros();
        let mut events = Vec::new();
        for i in 0..90_i64 {
            let tenant = ["acme", "=globex", "acme"][usize::try_from(i % 3).unwrap()];
            let formula = FORMULAS[usize::try_from(i % 6).unwrap()];
            let action = ["app.created", "app.deleted", "member.invited", "billing.invoice.paid"]
                [usize::try_from(i % 4).unwrap()];
            let mut actor = Actor::new(
                if i % 5 == 0 { ActorKind::ApiKey } else { ActorKind::User },
                // Every third actor id is a formula payload too.
                if i % 3 == 1 {
                    format!("-u_{}", i % 4)
                } else {
                    format!("u_{}", i % 4)
                },
            )
            .with_email(format!("{formula}@acme.test"))
            .with_name(format!("{formula} name, \"quoted\"\nline"));
            if i % 7 == 0 {
                actor = actor.with_name(formula);
            }
            let mut builder = Event::builder(Action::new(action).unwrap(), actor)
                .tenant(tenant)
                .occurred_at(Timestamp::from_unix_micros(now - (i + 1) * 60_000_000).unwrap())
                .target(Target::new(formula, format!("{formula}{}", i % 5)).with_name(formula))
                .description(format!("{formula} event {i}, with \"quotes\", commas and ü"))
                .outcome(if i % 9 == 0 { Outcome::Failure } else { Outcome::Success })
                .metadata("note", formula);
            if i % 2 == 0 {
                builder = builder
                    .before(&serde_json::json!({"plan": "free"}))
                    .after(&serde_json::json!({"plan": formula}));
            }
            let context = builder.context_mut();
            context.client_ip = Some(format!("10.0.0.{}", i % 4).parse().unwrap());
            context.request_id = Some(format!("{}req-{}", if i % 2 == 1 { "+" } else { "" }, i % 10));
            context.user_agent = Some(format!("{formula} agent"));
            events.push(builder.build());
        }
        store.write_batch(&events).await.unwrap();
        Self {
            api: Loopback::start(store.clone()).await,
            store,
            events,
        }
    }

    async fn json(&self, actor: &str, path: &str) -> Value {
        let (status, _, body) = self.get(actor, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Every event id of a list, following `next_cursor` to the end.
    async fn all_ids(&self, actor: &str, params: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.json(actor, &format!("?limit=7{params}{cursor}")).await;
            ids.extend(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return ids,
            }
        }
    }

    /// The first fixture event of `tenant`.
    fn first_of(&self, tenant: &str) -> &Event {
        self.events.iter().find(|e| e.tenant_id() == Some(tenant)).unwrap()
    }

    fn ids_of(&self, keep: impl Fn(&Event) -> bool) -> Vec<String> {
        let mut events: Vec<&Event> = self.events.iter().filter(|e| keep(e)).collect();
        events.sort_by_key(|e| std::cmp::Reverse((e.occurred_at(), e.id())));
        events.iter().map(|e| e.id().to_string()).collect()
    }
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn cursor_pages_walk_every_event_of_the_tenant_once(db: TestDb) {
    let server = Server::start(&db).await;
    let expected = server.ids_of(|e| e.tenant_id() == Some("acme"));
    assert_eq!(expected.len(), 60);
    assert_eq!(server.all_ids(ACME_ADMIN, "").await, expected);
    // At the nest path itself, and with a trailing slash.
    let (status, _, _) = server.get(ACME_ADMIN, "").await;
    assert_eq!(status, StatusCode::OK);
    let page = server.json(ACME_ADMIN, "/").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string());
    // Each list read was recorded, with its filters.
    let recorded = server.recorded().await;
    assert!(
        recorded
            .iter()
            .all(|e| e.action().as_str() == "audit_log.viewed" && e.tenant_id() == Some("acme"))
    );
    assert!(recorded.iter().any(|e| e.metadata()["filters"]["cursor"] == true));
    assert!(recorded.iter().all(|e| e.outcome() == Outcome::Success));
}

async fn each_filter_gives_what_the_store_gives(db: TestDb) {
    let server = Server::start(&db).await;
    let cases: [&[(&str, &str)]; 14] = [
        &[("action", "app.created")],
        &[("not_action", "billing.*"), ("not_action", "app.created")],
        &[("action", "billing.*"), ("action", "app.deleted")],
        &[("category", "delete")],
        &[("severity", "info")],
        &[("outcome", "failure")],
        &[("actor_id", "u_1")],
        &[("actor_kind", "api_key")],
        &[("actor_email", "=1+1@acme.test")],
        &[("target_type", "@cmd"), ("target_id", "@cmd3")],
        &[("ip", "10.0.0.2"), ("request_id", "req-4")],
        &[("request_id", "+req-5")],
        &[("q", "\"event 1\"")],
        &[("since", "2000-01-01"), ("until", "2100-01-01T00:00:00Z")],
    ];
    for case in cases {
        let params: String = case.iter().map(|(k, v)| format!("&{k}={}", encode(v))).collect();
        let over_http = server.all_ids(ACME_ADMIN, &params).await;
        let query = audit_store::AuditQuery::from_params(case.iter().copied())
            .unwrap()
            .tenant("acme")
            .limit(200);
        let direct: Vec<String> = server
            .store
            .query(&query)
            .await
            .unwrap()
            .events
            .iter()
            .map(|e| e.id().to_string())
            .collect();
        assert_eq!(over_http, direct, "{case:?}");
        assert!(!direct.is_empty(), "{case:?} selects nothing");
    }
    // Without since/until only the last 30 days show: an old event is hidden.
    let old = Event::builder(Action::new("app.created").unwrap(), Actor::user("u_9"))
        .tenant("acme")
        .occurred_at(Timestamp::from_unix_micros(Timestamp::now().unix_micros() - 31 * 86_400_000_000).unwrap())
        .build();
    server.store.write_batch(std::slice::from_ref(&old)).await.unwrap();
    assert!(!server.all_ids(ACME_ADMIN, "").await.contains(&old.id().to_string()));
    assert!(
        server
            .all_ids(ACME_ADMIN, "&since=2000-01-01")
            .await
            .contains(&old.id().to_string())
    );
}

async fn tenants_never_see_each_other(db: TestDb) {
    let server = Server::start(&db).await;
    let globex_event = server
        .events
        .iter()
        .find(|e| e.tenant_id() == Some("=globex"))
        .unwrap()
        .id();
    let acme_event = server
        .events
        .iter()
        .find(|e| e.tenant_id() == Some("acme"))
        .unwrap()
        .id();

    // By id: another tenant's event is exactly as absent as an unknown one.
    let (status, _, body) = server.get(ACME_ADMIN, &format!("/{globex_event}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (unknown, _, unknown_body) = server.get(ACME_ADMIN, &format!("/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        serde_json::from_str::<Value>(&unknown_body).unwrap()["error"]["code"]
    );
    let own = server.json(ACME_ADMIN, &format!("/{acme_event}")).await;
    assert_eq!(own["id"], acme_event.to_string());
    assert_eq!(own["tenant_id"], "acme");

    // The tenant_id parameter never widens access: list, actions, export.
    for path in [
        "?tenant_id=%3Dglobex",
        "/actions?tenant_id=%3Dglobex",
        "/export?format=csv&tenant_id=%3Dglobex",
    ] {
        let (status, _, body) = server.get(ACME_ADMIN, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["param"],
            "tenant_id"
        );
    }
    // Naming one's own tenant is fine.
    assert_eq!(server.all_ids(ACME_ADMIN, "&tenant_id=acme").await.len(), 60);
    // The owner of globex sees globex only; exports too.
    assert_eq!(
        server.all_ids(GLOBEX_OWNER, "").await,
        server.ids_of(|e| e.tenant_id() == Some("=globex"))
    );
    let (_, _, csv) = server.get(GLOBEX_OWNER, "/export?format=ndjson").await;
    assert_eq!(csv.lines().count(), 30);
    assert!(csv.lines().all(|line| line.contains("\"tenant_id\":\"=globex\"")));
    // A platform auditor reads every tenant, and may narrow to one.
    assert_eq!(server.all_ids(AUDITOR, "").await.len(), 90);
    assert_eq!(server.all_ids(AUDITOR, "&tenant_id=%3Dglobex").await.len(), 30);
    let (status, _, _) = server.get(AUDITOR, &format!("/{globex_event}")).await;
    assert_eq!(status, StatusCode::OK);
}

async fn refused_and_failed_reads_are_recorded(db: TestDb) {
    let server = Server::start(&db).await;
    let (status, _, body) = server.get(ACME_MEMBER, "?action=app.created").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "forbidden");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`owner` or `admin`"),
        "{body}"
    );
    let (status, _, _) = server.get("", "/export?format=csv").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "anonymous");
    let (status, _, _) = server.get(ACME_ADMIN, "?limit=500").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = server.get(ACME_ADMIN, &format!("/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = server.get(ACME_ADMIN, "?tenant_id=nothing-to-see").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let recorded = server.recorded().await;
    let summary: Vec<(&str, Outcome, &str)> = recorded
        .iter()
        .map(|e| (e.action().as_str(), e.outcome(), e.actor().id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("audit_log.viewed", Outcome::Denied, "u_member"),
            ("audit_log.exported", Outcome::Denied, "anonymous"),
            ("audit_log.viewed", Outcome::Failure, "u_admin"),
            ("audit_log.viewed", Outcome::Failure, "u_admin"),
            ("audit_log.viewed", Outcome::Denied, "u_admin"),
        ]
    );
    assert_eq!(recorded[0].metadata()["filters"]["action"], "app.created");
    assert!(recorded[0].reason().unwrap().contains("`owner` or `admin`"));
    assert!(recorded[2].reason().unwrap().contains("`limit`"));
    assert_eq!(
        recorded[3].target().map(|t| t.target_type.as_str()),
        Some("audit_event")
    );
    assert_eq!(recorded[4].metadata()["filters"]["tenant_id"], "nothing-to-see");
}

async fn hostile_values_in_every_filter_are_an_empty_page_or_a_400(db: TestDb) {
    let server = Server::start(&db).await;
    let long = "x".repeat(10 * 1024);
    let hostile = [
        "'",
        "\"",
        "' OR 1=1--",
        "%",
        "_",
        "\\",
        "\0",
        "%00",
        ";DROP TABLE audit_events;",
        long.as_str(),
    ];
    for parameter in QUERY_PARAMETERS.iter().map(|p| p.name).chain(["format"]) {
        for value in hostile {
            for route in ["", "/export?format=csv", "/actions"] {
                let sep = if route.contains('?') { '&' } else { '?' };
                let path = format!("{route}{sep}{parameter}={}", encode(value));
                let (status, _, body) = server.get(ACME_ADMIN, &path).await;
                match status {
                    StatusCode::OK => {
                        if route.is_empty() {
                            let page: Value = serde_json::from_str(&body).unwrap();
                            // Only `q` with a one-character term can match the fixture.
                            if parameter != "q" {
                                assert!(page["data"].as_array().unwrap().is_empty(), "{path}");
                            }
                        }
                    }
                    StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
                        let error: Value = serde_json::from_str(&body).unwrap();
                        assert!(
                            error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
                            "{path}: {body}"
                        );
                    }
                    other => panic!("{path}: {other} {body}"),
                }
            }
        }
    }
    assert_eq!(db.count().await, 90);
    assert!(server.store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn csv_export_reparses_to_the_rows_of_the_list_with_formulas_neutralised(db: TestDb) {
    let server = Server::start(&db).await;
    // A platform auditor's export spans both tenants, so every text column
    // (the tenant id included) carries a formula payload somewhere.
    let (status, headers, body) = server.get(AUDITOR, "/export?format=csv&since=2000-01-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"audit-log-all-")
    );
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), CSV_COLUMNS);
    // The JSON columns are compared as JSON: key order is not part of CSV.
    let normalise = |mut row: Vec<String>| {
        for cell in &mut row[18..] {
            if !cell.is_empty() {
                *cell = serde_json::from_str::<Value>(cell).unwrap().to_string();
            }
        }
        row
    };
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| normalise(r.unwrap().iter().map(str::to_owned).collect()))
        .collect();
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = server
            .json(AUDITOR, &format!("?limit=200&since=2000-01-01{cursor}"))
            .await;
        listed.extend(page["data"].as_array().unwrap().iter().map(expected_row));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(rows.len(), 90);
    assert_eq!(rows, listed);
    // No cell a spreadsheet would evaluate.
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
        }
    }
    // The formulas are all there, neutralised, in text columns.
    assert!(rows.iter().any(|r| r[14].starts_with("'=1+1 event")));
    assert!(rows.iter().any(|r| r[11] == "'@cmd" && r[13] == "'@cmd"));
    // Every text column had a payload in some row, and it arrived neutralised.
    for (column, name) in CSV_COLUMNS.iter().enumerate() {
        let text_column = !matches!(
            *name,
            "id" | "occurred_at"
                | "action"
                | "category"
                | "severity"
                | "outcome"
                | "actor_kind"
                | "client_ip"
                | "metadata"
                | "changes"
        );
        if text_column {
            assert!(
                rows.iter().any(|r| r[column].starts_with('\'')),
                "no neutralised payload in {name}"
            );
        }
    }
    // Filters hold for exports exactly as for the list.
    let (_, _, filtered) = server.get(ACME_ADMIN, "/export?format=csv&action=app.deleted").await;
    let expected = server
        .ids_of(|e| e.tenant_id() == Some("acme") && e.action().as_str() == "app.deleted")
        .len();
    assert_eq!(
        csv::Reader::from_reader(filtered.as_bytes()).records().count(),
        expected
    );
    // Paging parameters do not apply to an export.
    let (status, _, body) = server.get(ACME_ADMIN, "/export?format=csv&limit=5").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = server.get(ACME_ADMIN, "/export").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("\"param\":\"format\""), "{body}");
    let exported = server
        .recorded()
        .await
        .into_iter()
        .filter(|e| e.action().as_str() == "audit_log.exported")
        .count();
    assert_eq!(exported, 4);
}

async fn ndjson_export_is_the_list_one_event_per_line(db: TestDb) {
    let server = Server::start(&db).await;
    let (status, headers, body) = server.get(AUDITOR, "/export?format=ndjson").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let exported: Vec<Value> = body.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let page = server.json(AUDITOR, "?limit=200").await;
    assert_eq!(&exported, page["data"].as_array().unwrap());
    assert_eq!(exported.len(), 90);
}

async fn actions_are_counted_with_their_category(db: TestDb) {
    let server = Server::start(&db).await;
    let rows = server.json(ACME_ADMIN, "/actions").await;
    let rows: Vec<(String, String, u64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().into(),
                r["category"].as_str().unwrap().into(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let count = |action: &str| {
        server
            .events
            .iter()
            .filter(|e| e.tenant_id() == Some("acme") && e.action().as_str() == action)
            .count() as u64
    };
    assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), 60);
    for (action, category, n) in &rows {
        assert_eq!(*n, count(action), "{action}");
        let expected = audit_core::Category::for_action(&Action::new(action.clone()).unwrap());
        assert_eq!(category, expected.as_str());
    }
    let (status, _, body) = server.get(ACME_ADMIN, "/actions?action=app.created").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn the_openapi_document_covers_every_route_and_parameter(db: TestDb) {
    let server = Server::start(&db).await;
    let mut doc = server.json(ACME_ADMIN, "/openapi.json").await;
    // Served, it names where the router is nested as its server.
    assert_eq!(doc["servers"][0]["url"], "/audit-logs");
    doc["servers"] = audit_store::http::openapi()["servers"].clone();
    assert_eq!(doc, audit_store::http::openapi());
    let some_id = server.events[0].id().to_string();
    // A global event, so the auditor's `/consistency` (the global stream) has a tree.
    let global = Event::builder(Action::new("app.created").unwrap(), Actor::system("cron")).build();
    server.store.write_batch(&[global]).await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 9);
    // So that `/{id}/proof` answers 200 too.
    Checkpointer::new(server.store.clone(), SigningKey::generate(LOG).unwrap())
        .checkpoint_now()
        .await
        .unwrap();
    for (path, item) in paths {
        // The health route reads an auditor, not the store; this server
        // has none attached (tests/health.rs covers it).
        if path == "/health" {
            continue;
        }
        let concrete = path.replace("{id}", &some_id);
        let base = match path.as_str() {
            "/export" => format!("{concrete}?format=csv"),
            "/consistency" => format!("{concrete}?from=1&to=1"),
            _ => concrete.clone(),
        };
        let (status, _, body) = server.get(AUDITOR, &base).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let documented: Vec<&str> = item["get"]["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        // Every parameter the route accepts is documented, and every
        // documented one is accepted.
        for parameter in QUERY_PARAMETERS
            .iter()
            .map(|p| p.name)
            .chain(["format", "page", "sort"])
        {
            let value = match parameter {
                "limit" | "offset" => "5",
                "since" | "until" => "2026-01-01",
                "ip" => "10.0.0.1",
                "action" | "not_action" => "app.created",
                "cursor" => "AAAA",
                "format" => "csv",
                "category" => "create",
                "actor_kind" => "user",
                "severity" => "info",
                "outcome" => "success",
                _ => "x",
            };
            let sep = if base.contains('?') { '&' } else { '?' };
            let (status, _, body) = server.get(AUDITOR, &format!("{base}{sep}{parameter}={value}")).await;
            let refused_param = status == StatusCode::BAD_REQUEST
                && serde_json::from_str::<Value>(&body).unwrap()["error"]["param"] == parameter
                && !body.contains("is malformed");
            if parameter == "format" && path == "/export" {
                assert!(documented.contains(&"format"));
                continue;
            }
            assert_eq!(
                !refused_param,
                documented.contains(&parameter),
                "{path} ?{parameter}: {status} {body}"
            );
        }
    }
}

async fn not_action_leaves_events_out_of_the_list_the_export_and_the_counts(db: TestDb) {
    let server = Server::start(&db).await;
    let hidden = |e: &Event| e.action().as_str().starts_with("billing.") || e.action().as_str() == "member.invited";
    let expected = server.ids_of(|e| e.tenant_id() == Some("acme") && !hidden(e));
    let params = "&not_action=billing.*,member.invited";
    assert_eq!(server.all_ids(ACME_ADMIN, params).await, expected);
    assert!(!expected.is_empty());
    let (status, _, body) = server.get(ACME_ADMIN, &format!("/export?format=ndjson{params}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let exported: Vec<String> = body
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(exported, expected);
    let counts = server.json(ACME_ADMIN, &format!("/actions?{}", &params[1..])).await;
    let actions: Vec<&str> = counts
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|a| a.starts_with("app.")), "{actions:?}");
}

async fn empty_values_and_other_methods_are_refused_by_name(db: TestDb) {
    let server = Server::start(&db).await;
    for parameter in [
        "outcome",
        "severity",
        "category",
        "actor_kind",
        "q",
        "limit",
        "since",
        "not_action",
    ] {
        let (status, _, body) = server.get(ACME_ADMIN, &format!("?{parameter}=")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{parameter}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["param"], parameter);
        assert!(
            error["error"]["message"].as_str().unwrap().contains("is empty"),
            "{body}"
        );
    }
    let (status, _, body) = server.get(ACME_ADMIN, "?outcome=success,").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Any other method is a 405 naming what is allowed, on every route.
    for path in ["", "/", "/export", "/actions", "/openapi.json", "/ui"] {
        for method in ["TRACE", "POST", "DELETE", "PUT"] {
            let request = http::Request::builder()
                .method(method)
                .uri(format!("http://{}/audit-logs{path}", server.address))
                .header("x-test-actor", ACME_ADMIN)
                .body(String::new())
                .unwrap();
            let response = server.client.request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(response.headers()["allow"], "GET,HEAD", "{method} {path}");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let error: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(error["error"]["code"], "method_not_allowed", "{method} {path}");
            assert!(error["error"]["message"].as_str().unwrap().starts_with(method));
        }
    }
    // Nothing recorded was lost to the refusals.
    let total = server.json(AUDITOR, "?limit=200").await["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(total, server.events.len());
}

async fn read_events_say_what_was_read(db: TestDb) {
    let server = Server::start(&db).await;
    let some_id = server.events[0].id().to_string();
    server.json(ACME_ADMIN, "").await;
    server.json(ACME_ADMIN, "?action=app.*&q=event&limit=5").await;
    server.get(ACME_ADMIN, &format!("/{some_id}")).await;
    server.json(ACME_ADMIN, "/actions?not_action=audit_log.*").await;
    server.get(ACME_ADMIN, "/export?format=csv&outcome=failure").await;
    let recorded = server.recorded().await;
    assert!(recorded.iter().all(|e| e.metadata()["via"] == "http"), "{recorded:?}");
    let descriptions: Vec<String> = recorded
        .iter()
        .map(|e| e.description().unwrap_or("—").to_owned())
        .collect();
    assert_eq!(
        descriptions,
        [
            "Viewed the audit log",
            "Viewed the audit log, filtered by action, q",
            "Viewed one audit event",
            "Viewed the audit log's action counts, filtered by not_action",
            "Exported the audit log as CSV, filtered by outcome",
        ]
    );
}

/// The log's name in the proof tests: its signing key's.
const LOG: &str = "audit.example.com/log";

async fn an_event_proof_verifies_offline_and_its_read_is_recorded(db: TestDb) {
    let server = Server::start(&db).await;
    let key = SigningKey::generate(LOG).unwrap();
    Checkpointer::new(server.store.clone(), key.clone())
        .checkpoint_now()
        .await
        .unwrap();
    let event = server.first_of("acme");
    let path = format!("/{}/proof", event.id());

    let (status, headers, body) = server.get(ACME_ADMIN, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let proof: EventProof = serde_json::from_str(&body).unwrap();
    assert_eq!(
        &proof.event,
        server.store.get(event.id()).await.unwrap().as_ref().unwrap()
    );
    let verified = proof.verify(&key.verifier_key(), LOG).unwrap();
    assert_eq!(verified.checkpoint.size, 60, "acme's stream holds 60 events");
    assert_eq!(proof.leaf_index + 1, event_seq(&proof));
    // Without a verifier key the server claims no check of its own.
    let raw: Value = serde_json::from_str(&body).unwrap();
    assert!(raw.get("signature_checked_by").is_none() && raw.get("server_verify_error").is_none());
    // The same as the store's own proof, and so what `audit prove` prints.
    let direct = server.store.event_proof(event.id(), None).await.unwrap().unwrap();
    assert_eq!(proof, direct);

    // A named checkpoint: the one kept at 60; `latest` is the default.
    let (status, _, named) = server.get(ACME_ADMIN, &format!("{path}?checkpoint=60")).await;
    assert_eq!(status, StatusCode::OK, "{named}");
    assert_eq!(named, body);
    let (status, _, latest) = server.get(ACME_ADMIN, &format!("{path}?checkpoint=latest")).await;
    assert_eq!((status, latest), (StatusCode::OK, body.clone()));
    // A platform auditor gets it too.
    let (status, _, _) = server.get(AUDITOR, &path).await;
    assert_eq!(status, StatusCode::OK);

    // `audit verify-event` accepts the answer as it is.
    #[cfg(feature = "cli")]
    {
        let file = std::env::temp_dir().join(format!("audit-http-proof-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(&file, &body).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_audit"))
            .args([
                "verify-event",
                file.to_str().unwrap(),
                "--key",
                &key.verifier_key().to_string(),
            ])
            .env("AUDIT_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&file);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("is in the signed tree of 60 events"), "{stdout}");
    }

    let recorded = server.recorded().await;
    let proof_reads: Vec<&Event> = recorded
        .iter()
        .filter(|e| {
            e.description()
                .is_some_and(|d| d.starts_with("Viewed the proof of one audit event, against"))
        })
        .collect();
    assert_eq!(proof_reads.len(), 4, "{recorded:#?}");
    for read in &proof_reads {
        assert_eq!(read.action().as_str(), "audit_log.viewed");
        assert_eq!(read.outcome(), Outcome::Success);
        let target = read.target().unwrap();
        assert_eq!(
            (target.target_type.as_str(), target.id.clone()),
            ("audit_event", event.id().to_string())
        );
    }
    assert_eq!(proof_reads[1].metadata()["filters"]["checkpoint"], "60");
    assert_eq!(
        proof_reads[1].description(),
        Some("Viewed the proof of one audit event, against its stream's checkpoint of 60 events")
    );
    assert_eq!(
        proof_reads[0].description(),
        Some("Viewed the proof of one audit event, against its stream's latest checkpoint")
    );
}

fn event_seq(proof: &EventProof) -> u64 {
    proof.event.integrity().unwrap().seq
}

async fn a_proof_is_404_for_another_tenant_409_before_a_checkpoint_and_400_for_a_bad_checkpoint(db: TestDb) {
    let server = Server::start(&db).await;
    let acme = server.first_of("acme").id();
    let globex = server.first_of("=globex").id();
    let error = |body: &str| serde_json::from_str::<Value>(body).unwrap()["error"].clone();

    // Before any checkpoint: 409, saying what to do; another tenant's event
    // is a 404 all the same, exactly as an unknown one.
    let (status, _, body) = server.get(ACME_ADMIN, &format!("/{acme}/proof")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error(&body)["code"], "not_checkpointed");
    assert!(
        error(&body)["message"].as_str().unwrap().contains("audit checkpoint"),
        "{body}"
    );
    let (status, _, other) = server.get(ACME_ADMIN, &format!("/{globex}/proof")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
    let (status, _, unknown) = server
        .get(ACME_ADMIN, &format!("/{}/proof", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    assert_eq!(error(&other)["code"], error(&unknown)["code"]);

    Checkpointer::new(server.store.clone(), SigningKey::generate(LOG).unwrap())
        .checkpoint_now()
        .await
        .unwrap();
    let (status, _, other) = server.get(ACME_ADMIN, &format!("/{globex}/proof")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "checkpointed, still another tenant's: {other}"
    );
    // No checkpoint kept at that size: 409 naming it.
    let (status, _, body) = server.get(ACME_ADMIN, &format!("/{acme}/proof?checkpoint=7")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(error(&body)["message"].as_str().unwrap().contains("7 leaves"), "{body}");

    for (query, param) in [
        ("checkpoint=", "checkpoint"),
        ("checkpoint=0", "checkpoint"),
        ("checkpoint=newest", "checkpoint"),
        ("checkpoint=-3", "checkpoint"),
        ("checkpoint=99999999999999999999", "checkpoint"),
        ("checkpoint=60&checkpoint=60", "checkpoint"),
        ("limit=5", "limit"),
        ("format=json", "format"),
    ] {
        let (status, _, body) = server.get(ACME_ADMIN, &format!("/{acme}/proof?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(error(&body)["code"], "invalid_parameter", "{query}");
        assert_eq!(error(&body)["param"], param, "{query}: {body}");
    }
    let (status, _, body) = server.get(ACME_ADMIN, "/not-a-uuid/proof").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error(&body)["param"], "id");
    // A member may not read proofs either.
    let (status, _, _) = server.get(ACME_MEMBER, &format!("/{acme}/proof")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Each was recorded, the 409 as a failure with its reason.
    let recorded = server.recorded().await;
    let first = &recorded[0];
    assert_eq!(
        first.description(),
        Some("Viewed the proof of one audit event, against its stream's latest checkpoint")
    );
    assert_eq!(first.outcome(), Outcome::Failure);
    assert!(
        first.reason().unwrap().contains("no signed checkpoint covers"),
        "{:?}",
        first.reason()
    );
    assert_eq!(recorded.last().unwrap().outcome(), Outcome::Denied);
}

/// Events in the exports that outgrow the sockets: 6,000 of about 3 kB
/// each as CSV (a padding in their metadata, which no search index reads),
/// some 18 MB, many times what the loopback socket buffers and hyper's
/// write buffer hold together.
const LARGE_EXPORT: usize = 6_000;

/// A store holding [`LARGE_EXPORT`] events, served on loopback.
async fn large_export(db: &TestDb) -> Loopback {
    let store = db.connect().await;
    let action = Action::new("app.viewed").unwrap();
    let padding = "p".repeat(3_000);
    let events: Vec<Event> = (0..LARGE_EXPORT)
        .map(|n| {
            Event::builder(action.clone(), Actor::user(format!("u_{n}")))
                .tenant("acme")
                .metadata("padding", &padding)
                .build()
        })
        .collect();
    store.write_batch(&events).await.unwrap();
    Loopback::start(store).await
}

/// Starts `GET /audit-logs{path}` as a platform auditor on a connection
/// with a small receive buffer, and reads the response head and the first
/// bytes of the body only: the server is then stalled mid-export, waiting
/// for the client to read on.
async fn stalled_export(api: &Loopback, path: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(api.address).await.unwrap();
    let request = format!(
        "GET /audit-logs{path} HTTP/1.1\r\nHost: {}\r\nx-test-actor: {AUDITOR}\r\n\r\n",
        api.address
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 4096];
    // The head, and some of the body after it.
    while seen
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .is_none_or(|head| seen.len() < head + 1024)
    {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(
            read > 0,
            "the server closed the export early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
    assert!(seen.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&seen));
    stream
}

/// The API's events once there are `n`: an export's arrives when its body
/// ends, which the server notices on its own time.
async fn recorded_when(api: &Loopback, n: usize) -> Vec<Event> {
    tokio::time::timeout(std::time::Duration::from_secs(30), api.recorded.wait_for(n))
        .await
        .unwrap_or_else(|_| panic!("{n} events recorded in 30 s: {:?}", api.recorded.actions()));
    api.recorded().await
}

async fn an_export_the_client_cuts_off_is_recorded_as_a_failure_and_a_complete_one_as_a_success(db: TestDb) {
    let api = large_export(&db).await;
    let (status, _, body) = api.get(AUDITOR, "/export?format=csv&since=2000-01-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        csv::Reader::from_reader(body.as_bytes()).records().count(),
        LARGE_EXPORT
    );
    let complete = api.recorded().await;
    assert_eq!(complete.len(), 1, "recorded before the body's end reached the client");
    assert_eq!(complete[0].action().as_str(), "audit_log.exported");
    assert_eq!(complete[0].outcome(), Outcome::Success);
    assert_eq!(complete[0].metadata()["events"], LARGE_EXPORT);
    assert_eq!(complete[0].metadata()["via"], "http");

    // The client reads a little and goes away: closing a socket with unread
    // data resets the connection, and the server's next write fails.
    drop(stalled_export(&api, "/export?format=csv&since=2000-01-01").await);
    let recorded = recorded_when(&api, 2).await;
    let cut = &recorded[1];
    assert_eq!(cut.action().as_str(), "audit_log.exported");
    assert_eq!(cut.outcome(), Outcome::Failure, "{:?}", cut.reason());
    let reason = cut.reason().unwrap();
    assert!(reason.contains("the connection closed before the end"), "{reason}");
    let sent = cut.metadata()["events"].as_u64().unwrap();
    assert!(sent < LARGE_EXPORT as u64, "{sent} events");
    assert!(reason.starts_with(&format!("stopped after {sent} events")), "{reason}");
    assert_eq!(cut.actor().id, "u_auditor");
    assert_eq!(cut.context().status, Some(200), "the status line had gone out");
}

async fn an_export_the_store_fails_mid_way_is_recorded_as_a_failure(db: TestDb) {
    use tokio::io::AsyncReadExt as _;
    let api = large_export(&db).await;
    let mut client = stalled_export(&api, "/export?format=ndjson&since=2000-01-01").await;
    // While the server waits for the client, the events' table goes away
    // under it: its next batch fails.
    db.exec("ALTER TABLE audit_events RENAME TO audit_events_elsewhere")
        .await
        .unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(
        !rest.ends_with(b"0\r\n\r\n"),
        "a broken transfer, not the chunked body's end"
    );
    let recorded = recorded_when(&api, 1).await;
    assert_eq!(recorded.len(), 1);
    let failed = &recorded[0];
    assert_eq!(failed.action().as_str(), "audit_log.exported");
    assert_eq!(failed.outcome(), Outcome::Failure);
    let reason = failed.reason().unwrap();
    assert!(reason.contains("the audit store failed"), "{reason}");
    assert!(reason.contains("audit_events"), "names what failed: {reason}");
    let sent = failed.metadata()["events"].as_u64().unwrap();
    assert!(sent > 0 && sent < LARGE_EXPORT as u64, "{sent} events");
}

async fn the_catalogue_adds_declared_actions_to_the_counts_and_the_openapi_document(db: TestDb) {
    let server = Server::start(&db).await;
    // Before any publish: only what events have, none declared.
    let rows = server.json(ACME_ADMIN, "/actions").await;
    assert!(
        rows.as_array().unwrap().iter().all(|row| row["declared"] == false),
        "{rows}"
    );
    server.store.publish_catalogue(&actions::CATALOGUE).await.unwrap();

    let rows = server.json(ACME_ADMIN, "/actions").await;
    let rows = rows.as_array().unwrap();
    let row = |action: &str| rows.iter().find(|row| row["action"] == action).cloned();
    let created = row("app.created").unwrap();
    assert_eq!(created["declared"], true);
    assert_eq!(created["description"], "Created app {target} on the {plan} plan");
    assert!(created["count"].as_u64().unwrap() > 0);
    assert_eq!(row("app.deleted").unwrap()["severity"], "critical");
    // Declared, no event: listed last with a count of 0.
    let changed = rows.last().unwrap();
    assert_eq!(changed["action"], "member.role_changed");
    assert_eq!(
        (changed["count"].as_u64(), changed["category"].as_str()),
        (Some(0), Some("update"))
    );
    // Not declared: counted, without a description.
    let invited = row("member.invited").unwrap();
    assert_eq!(invited["declared"], false);
    assert!(invited.get("description").is_none(), "{invited}");

    // The query's category and excluded actions apply to the declared ones.
    let rows = server.json(ACME_ADMIN, "/actions?category=delete").await;
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["action"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app.deleted"]);
    let rows = server.json(ACME_ADMIN, "/actions?not_action=member.*").await;
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|row| row["action"] != "member.role_changed"),
        "{rows}"
    );

    // The next release's catalogue: its entries written over, the action it
    // no longer declares kept (its events may remain).
    server.store.publish_catalogue(&actions_v2::CATALOGUE).await.unwrap();
    let entries = server.store.catalogue().await.unwrap();
    let names: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(names, ["app.created", "app.deleted", "member.role_changed"]);
    assert_eq!(entries[0].description, "Created app {target}");
    assert_eq!(entries[0].metadata.keys().collect::<Vec<_>>(), ["region"]);
    assert_eq!(entries[2].description, "Changed {target}'s role");
    assert!(entries[0].published_at >= entries[2].published_at);

    let doc = server.json(ACME_ADMIN, "/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["DeclaredAction"]["enum"],
        serde_json::json!(["app.created", "app.deleted", "member.role_changed"])
    );
    // The newest publish's metadata.
    assert_eq!(
        schemas["Metadata.app.created"]["properties"]["region"]["type"],
        "string"
    );
    assert!(schemas["Metadata.app.created"]["properties"].get("seats").is_none());
    assert_eq!(schemas["Metadata.member.role_changed"]["title"], "member.role_changed");
}
