//! The audit log's web page in a real browser: headless Chromium driven
//! through WebDriver against the quickstart's exact service on loopback,
//! recording into a SQLite file seeded with the demo history plus a few
//! events of our own (one with a before/after, one full of markup).
//!
//! Nothing sleeps to wait for work: each step polls a condition with a
//! deadline. Where no Chromium is installed the tests say so and pass;
//! `AUDIT_REQUIRE_BROWSER=1` (CI) makes that a failure.
//! `AUDIT_UPDATE_SCREENSHOTS=1` rewrites the screenshots under `docs/`.

#[allow(
    dead_code,
    unused_macros,
    reason = "each test binary uses a part of the shared support"
)]
#[macro_use]
mod support;
#[path = "web_page/browser.rs"]
mod browser;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use audit_core::{
    Action, Actor, AuditSink, Auditor, Event, EventBuilder, EventContext, IpSource, MemorySink, Snapshot, Target,
    Timestamp,
};
use audit_store::checkpoint::Checkpointer;
use audit_store::http::AdminApi;
use audit_store::{AuditQuery, SigningKey, Store};
use audit_tower::{AuditLayer, Principal};
use browser::{WIDE, js, screenshot, wait_for, with_browser};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::TestDb;
use support::running::Running;

/// The id of the resource whose rename the diff test reads.
const RENAMED_APP: &str = "app_0000web0diff";
/// What the hostile event's fields hold.
const SCRIPT: &str = "<script>window.__pwned=1;alert(1)</script>";
const IMG: &str = "<img src=x onerror=\"window.__pwned=1\">";
const JS_URL: &str = "javascript:alert(1)";

/// The quickstart, seeded, with its database.
struct Site {
    server: Running,
    base: String,
    diff_event: Event,
    hostile_event: Event,
    _db: TestDb,
}

fn at(seconds_ago: i64) -> Timestamp {
    Timestamp::from_unix_micros(Timestamp::now().unix_micros() - seconds_ago * 1_000_000).unwrap()
}

fn context(ip: &str, user_agent: &str, request_id: &str, method: &str, route: &str, status: u16) -> EventContext {
    EventContext {
        client_ip: ip.parse().ok(),
        peer_ip: ip.parse().ok(),
        ip_source: Some(IpSource::Peer),
        user_agent: Some(user_agent.to_owned()),
        request_id: Some(request_id.to_owned()),
        client_request_id: None,
        method: Some(method.to_owned()),
        route: Some(route.to_owned()),
        status: Some(status),
        trace_id: None,
        span_id: None,
    }
}

fn alice() -> Actor {
    Actor::user("user_alice")
        .with_name("Alice")
        .with_email("alice@acme.test")
        .with_role("owner")
}

impl Site {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// The site; with `key`, the quickstart signs checkpoints with it and its
    /// API checks the proofs it hands out.
    async fn start_with(key: Option<SigningKey>) -> Self {
        Self::start_configured(key, |config| config).await
    }

    /// The site, its quickstart configured by `configure` too.
    async fn start_configured(
        key: Option<SigningKey>,
        configure: impl FnOnce(quickstart::Config) -> quickstart::Config,
    ) -> Self {
        let db = TestDb::sqlite();
        let mut config = configure(quickstart::Config::new(db.url()));
        if let (Some(key), TestDb::Sqlite(dir)) = (key, &db) {
            config = config.checkpoints(key, dir.join("checkpoints"), Duration::from_secs(3600));
        }
        let server = Running::start_with(config).await;
        quickstart::seed::seed_demo(&server.store, &server.auditor)
            .await
            .unwrap();
        let renamed = Event::builder(Action::new("app.updated").unwrap(), alice())
            .tenant("acme")
            .occurred_at(at(90))
            .target(Target::new("app", RENAMED_APP).with_name("Invoicing"))
            .before(&Snapshot(&json!({"id": RENAMED_APP, "name": "Billing", "plan": "pro"})))
            .after(&Snapshot(
                &json!({"id": RENAMED_APP, "name": "Invoicing", "plan": "pro"}),
            ))
            .metadata("ticket", "OPS-42")
            .description("Renamed app Billing to Invoicing")
            .context(context(
                "203.0.113.10",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                "req-web-diff",
                "PATCH",
                "/apps/{id}",
                200,
            ));
        let hostile = Event::builder(
            Action::new("app.created").unwrap(),
            Actor::user("user_mallory")
                .with_name(IMG)
                .with_email("mallory@acme.test"),
        )
        .tenant("acme")
        .occurred_at(at(60))
        .target(Target::new("app", "\"><script>window.__pwned=1</script>").with_name(JS_URL))
        .after(&Snapshot(&json!({"name": SCRIPT, "homepage": JS_URL})))
        .metadata("html", "<img src=x onerror=alert(1)>")
        .metadata("link", JS_URL)
        .description(format!("{SCRIPT} created {IMG}"))
        .context(context(
            "198.51.100.66",
            "<svg onload=alert(1)>",
            "req-web-xss",
            "POST",
            "/apps",
            201,
        ));
        let diff_id = record(&server, renamed).await;
        let hostile_id = record(&server, hostile).await;
        let store = server.store.clone();
        let base = server.http.base.clone();
        Self {
            diff_event: store.get(diff_id).await.unwrap().unwrap(),
            hostile_event: store.get(hostile_id).await.unwrap().unwrap(),
            server,
            base,
            _db: db,
        }
    }

    fn page(&self, query: &str) -> String {
        if query.is_empty() {
            format!("{}/audit-logs/ui", self.base)
        } else {
            format!("{}/audit-logs/ui?{query}", self.base)
        }
    }
}

async fn record(server: &Running, builder: EventBuilder) -> uuid::Uuid {
    let event = builder.build();
    let id = event.id();
    server.store.write_batch(&[event]).await.unwrap();
    id
}

/// Signs in through the quickstart's own form, which returns to `next`.
async fn sign_in(client: &Client, base: &str, email: &str, next: &str) {
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    client.goto(&format!("{base}/login?next={encoded}")).await.unwrap();
    fill_login_form(client, email).await;
    let want = format!("{base}{next}");
    wait_for("the sign-in to return", || async {
        (client.current_url().await.ok()?.as_str() == want).then_some(())
    })
    .await;
}

/// On the sign-in form a link led to: signs in as alice and waits until the
/// form has brought the page back to `back`, loaded.
async fn sign_in_and_return(client: &Client, back: &str) {
    wait_for("the sign-in form", || async {
        client.find(Locator::Css("#login")).await.ok()
    })
    .await;
    fill_login_form(client, "alice@acme.test").await;
    wait_for("the way back", || async {
        (client.current_url().await.ok()?.as_str() == back).then_some(())
    })
    .await;
    settled(client, "ready").await;
}

async fn fill_login_form(client: &Client, email: &str) {
    let form = client.find(Locator::Css("#login")).await.unwrap();
    form.find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    form.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(quickstart::auth::DEMO_PASSWORD)
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn state(client: &Client) -> String {
    js(client, "return document.body.dataset.state;", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the page has settled in `want` (`ready`, `empty`, …).
async fn settled(client: &Client, want: &str) {
    wait_for(&format!("the page to be {want}"), || async {
        let now = state(client).await;
        (now == want).then_some(())
    })
    .await;
}

async fn strings(client: &Client, script: &str) -> Vec<String> {
    let value = js(client, script, vec![]).await;
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn row_ids(client: &Client) -> Vec<String> {
    strings(
        client,
        "return [...document.querySelectorAll('#rows tr.row')].map(r => r.dataset.id);",
    )
    .await
}

/// The resolved `href` of the element `css` selects.
async fn href_of(client: &Client, css: &str) -> String {
    let link = client.find(Locator::Css(css)).await.unwrap();
    link.prop("href")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{css} has no href"))
}

/// Whether the element `css` finds is displayed.
async fn is_shown(client: &Client, css: &str) -> bool {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
}

async fn text_of(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The API parameters the page used for its list, read off the export link.
async fn list_params(client: &Client) -> Vec<(String, String)> {
    let href = client
        .find(Locator::Css("#export-csv"))
        .await
        .unwrap()
        .prop("href")
        .await
        .unwrap()
        .expect("the export link has an address while events are listed");
    let query = href.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(name, _)| name != "format")
        .collect()
}

/// Every id the store holds for acme under `params`, newest first.
async fn expected_ids(store: &Store, params: &[(String, String)]) -> Vec<String> {
    let query = AuditQuery::from_params(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap()
        .tenant("acme");
    let mut scan = store.scan(&query).unwrap();
    let mut events = Vec::new();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        events.extend(batch);
    }
    events.sort_by_key(|e| std::cmp::Reverse((e.occurred_at(), e.id())));
    events.iter().map(|e| e.id().to_string()).collect()
}

/// Clicks "Load more" until the last page is in; returns every listed id.
async fn load_everything(client: &Client) -> Vec<String> {
    loop {
        let more = client.find(Locator::Css("#load-more")).await.unwrap();
        if !more.is_displayed().await.unwrap() {
            return row_ids(client).await;
        }
        let before = row_ids(client).await.len();
        more.click().await.unwrap();
        wait_for("the next page", || async {
            let now = row_ids(client).await.len();
            (now > before && state(client).await == "ready").then_some(())
        })
        .await;
    }
}

async fn fetch_text(client: &Client, url: &str) -> String {
    js(
        client,
        "return fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text());",
        vec![json!(url)],
    )
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

async fn no_horizontal_overflow(client: &Client) -> Value {
    js(
        client,
        "const w = window.innerWidth; return {w, doc: document.documentElement.scrollWidth, body: document.body.scrollWidth};",
        vec![],
    )
    .await
}

fn assert_fits(sizes: &Value) {
    let width = sizes["w"].as_u64().unwrap();
    assert!(sizes["doc"].as_u64().unwrap() <= width, "the page overflows: {sizes}");
    assert!(sizes["body"].as_u64().unwrap() <= width, "the body overflows: {sizes}");
}

macro_rules! browser_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case().await;
            }
        )*
    };
}

mod sqlite {
    browser_tests!(
        filters_by_action_and_date_live_in_the_url_for_reload_and_back,
        a_row_opens_by_keyboard_and_shows_the_diff_with_the_changed_field_marked,
        load_more_appends_the_next_page_without_duplicates_or_gaps,
        csv_and_ndjson_exports_hold_exactly_the_filtered_list,
        markup_in_recorded_values_renders_as_inert_text,
        a_member_is_told_which_roles_may_read_and_may_switch_account,
        a_signed_out_reader_is_sent_to_sign_in_and_back_to_the_same_filters,
        the_column_choice_survives_a_reload,
        at_390_px_the_page_fits_the_screen_with_folded_filters,
        the_page_works_under_any_prefix,
        a_bad_filter_is_named_once_and_deleted_resources_are_marked,
        every_text_has_a_contrast_of_at_least_4_5_to_1,
        log_reads_are_hidden_by_default_and_shown_reads_live_in_the_url,
        active_filters_show_as_chips_that_each_remove_their_filter,
        an_empty_search_offers_to_clear_the_search_and_an_empty_range_to_widen_it,
        at_390_px_a_bad_filter_unfolds_the_filters_and_focuses_its_field,
        at_1280_px_the_time_inputs_show_their_whole_value_in_one_aligned_row,
        a_checkpointed_event_is_verified_in_the_browser_and_its_signature_on_the_server,
        an_event_is_not_covered_before_a_checkpoint_and_does_not_verify_once_edited_in_the_database,
        the_browsers_leaf_hash_equals_the_stores_for_unicode_escapes_numbers_and_changes,
        an_erased_persons_values_read_erased_and_their_events_still_verify,
    );
}

async fn filters_by_action_and_date_live_in_the_url_for_reload_and_back() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        // The default range is the last 30 days, shown in the inputs.
        let since = js(&client, "return document.getElementById('f-since').value;", vec![]).await;
        assert!(since.as_str().is_some_and(|s| s.len() == 16), "{since}");
        assert_eq!(
            js(&client, "return document.querySelector('.preset[aria-pressed=true]').dataset.range;", vec![]).await,
            "30d"
        );
        assert_eq!(row_ids(&client).await.len(), 50);
        screenshot(&client, "ui-list").await;

        // An action from the picker: grouped by prefix, with counts.
        click(&client, "#actions-button").await;
        let label = wait_for("app.updated in the picker", || async {
            let found = client.find(Locator::Css("#actions-list label:has(input[data-action='app.updated'])")).await.ok()?;
            found.text().await.ok()
        })
        .await;
        assert_eq!(label.split_whitespace().next(), Some("app.updated"), "{label}");
        // With the description the quickstart's catalogue gives it.
        assert!(label.contains("Renamed app {target}"), "{label}");
        let groups = strings(&client, "return [...document.querySelectorAll('#actions-list legend')].map(l => l.textContent);").await;
        assert!(groups.iter().any(|g| g.trim_start().starts_with("app.* all ")), "{groups:?}");
        click(&client, "#actions-list input[data-action='app.updated']").await;
        settled(&client, "ready").await;
        assert!(client.current_url().await.unwrap().as_str().ends_with("/audit-logs/ui?action=app.updated"));
        assert_eq!(text_of(&client, "#actions-button").await, "app.updated");
        let by_action = row_ids(&client).await;
        let actions = strings(&client, "return [...document.querySelectorAll('#rows td[data-col=action]')].map(c => c.textContent);").await;
        assert!(!actions.is_empty() && actions.iter().all(|a| a == "app.updated"), "{actions:?}");
        let expected = expected_ids(&site.server.store, &list_params(&client).await).await;
        assert_eq!(by_action, expected[..by_action.len().min(expected.len())]);
        assert_eq!(by_action.len(), expected.len().min(50));
        client.active_element().await.unwrap().send_keys(&Key::Escape).await.unwrap();
        assert!(!is_shown(&client, "#actions-panel").await);

        // And a date range, typed into the inputs (the browser runs in UTC).
        js(
            &client,
            "const local = d => d.toISOString().slice(0, 16);
             // Both ends, then one change event: one step in the history.
             document.getElementById('f-since').value = local(new Date(Date.now() - 20 * 864e5));
             const until = document.getElementById('f-until');
             until.value = local(new Date(Date.now() - 10 * 864e5));
             until.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await;
        settled(&client, "ready").await;
        let url = client.current_url().await.unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["since", "until", "action"], "{url}");
        let in_range = js(
            &client,
            "const p = new URLSearchParams(location.search); const since = Date.parse(p.get('since')), until = Date.parse(p.get('until'));
             const times = [...document.querySelectorAll('#rows time')].map(t => Date.parse(t.getAttribute('datetime')));
             return {count: times.length, inside: times.every(t => t >= since && t < until)};",
            vec![],
        )
        .await;
        assert_eq!(in_range["inside"], true, "{in_range}");
        let dated = row_ids(&client).await;
        let expected = expected_ids(&site.server.store, &list_params(&client).await).await;
        assert!(!dated.is_empty());
        assert_eq!(dated, expected);

        // Reload: the same filters, the same events.
        client.refresh().await.unwrap();
        settled(&client, "ready").await;
        assert_eq!(row_ids(&client).await, dated);
        assert_eq!(text_of(&client, "#actions-button").await, "app.updated");
        assert_eq!(
            js(&client, "return document.getElementById('f-until').value;", vec![]).await,
            js(&client, "return new Date(new URLSearchParams(location.search).get('until')).toISOString().slice(0, 16);", vec![]).await
        );

        // Back: the action alone, then no filter at all; forward again.
        client.back().await.unwrap();
        settled(&client, "ready").await;
        assert!(client.current_url().await.unwrap().as_str().ends_with("?action=app.updated"));
        assert_eq!(row_ids(&client).await, by_action);
        client.back().await.unwrap();
        settled(&client, "ready").await;
        assert_eq!(text_of(&client, "#actions-button").await, "All actions");
        assert_eq!(client.current_url().await.unwrap().query(), None);
        client.forward().await.unwrap();
        settled(&client, "ready").await;
        assert_eq!(row_ids(&client).await, by_action);
    })
    .await;
}

async fn a_row_opens_by_keyboard_and_shows_the_diff_with_the_changed_field_marked() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        client
            .goto(&site.page(&format!("target_id={RENAMED_APP}")))
            .await
            .unwrap();
        settled(&client, "ready").await;
        let event = &site.diff_event;
        assert_eq!(row_ids(&client).await, [event.id().to_string()]);
        assert_eq!(
            js(&client, "return document.getElementById('f-target-id').value;", vec![]).await,
            RENAMED_APP
        );

        // Tab order reaches the row's button; Enter opens it.
        js(&client, "document.querySelector('#rows .toggle').focus();", vec![]).await;
        let toggle = client.active_element().await.unwrap();
        assert_eq!(toggle.attr("aria-expanded").await.unwrap().as_deref(), Some("false"));
        toggle.send_keys(&Key::Enter).await.unwrap();
        wait_for("the details", || async {
            client
                .find(Locator::Css("#rows tr.details:not([hidden]) .diff"))
                .await
                .ok()
        })
        .await;
        assert_eq!(toggle.attr("aria-expanded").await.unwrap().as_deref(), Some("true"));
        let diff = js(
            &client,
            "return [...document.querySelectorAll('#rows .diff tbody tr')].map(r => ({
               path: r.dataset.path, changed: r.classList.contains('changed'),
               old: r.querySelector('.old').textContent, new: r.querySelector('.new').textContent,
               mark: r.querySelector('.change-mark')?.textContent ?? null,
               highlight: getComputedStyle(r.querySelector('.new')).backgroundColor }));",
            vec![],
        )
        .await;
        let rows = diff.as_array().unwrap();
        let name = rows.iter().find(|r| r["path"] == "/name").unwrap();
        assert_eq!(name["changed"], true);
        assert_eq!(
            (name["old"].as_str(), name["new"].as_str()),
            (Some("Billing"), Some("Invoicing"))
        );
        assert_eq!(name["mark"], "changed");
        let plan = rows.iter().find(|r| r["path"] == "/plan").unwrap();
        assert_eq!(plan["changed"], false);
        assert_eq!(plan["mark"], Value::Null);
        assert_ne!(name["highlight"], plan["highlight"], "the changed field is highlighted");

        let details = text_of(&client, "#rows tr.details").await;
        for expected in [
            "OPS-42",
            "req-web-diff",
            "PATCH /apps/{id}",
            "203.0.113.10",
            "Firefox/128.0",
            "acme",
            RENAMED_APP,
            &event.id().to_string(),
        ] {
            assert!(details.contains(expected), "{expected} in {details}");
        }
        let integrity = event.integrity().unwrap();
        assert_eq!(
            text_of(&client, "#rows [data-field=seq]").await,
            integrity.seq.to_string()
        );
        assert_eq!(
            text_of(&client, "#rows [data-field=leaf-hash]").await,
            integrity.leaf_hash
        );
        let link = href_of(&client, "#rows a.event-link").await;
        assert_eq!(link, format!("{}/audit-logs/{}", site.base, event.id()));
        let single: Value = serde_json::from_str(&fetch_text(&client, &link).await).unwrap();
        assert_eq!(single["id"], event.id().to_string());
        screenshot(&client, "ui-details").await;

        // Space closes it again; focus stays on the button.
        toggle.send_keys(" ").await.unwrap();
        wait_for("the details to close", || async {
            (toggle.attr("aria-expanded").await.ok()?.as_deref() == Some("false")).then_some(())
        })
        .await;
        assert!(!is_shown(&client, "#rows tr.details").await);
        assert_eq!(
            js(
                &client,
                "return document.activeElement.classList.contains('toggle');",
                vec![]
            )
            .await,
            true
        );
    })
    .await;
}

async fn load_more_appends_the_next_page_without_duplicates_or_gaps() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        let first = row_ids(&client).await;
        assert_eq!(first.len(), 50);
        let everything = load_everything(&client).await;
        assert!(everything.len() > 100, "{} events", everything.len());
        assert_eq!(everything[..50], first, "pages are appended, not replaced");
        let unique: HashSet<&String> = everything.iter().collect();
        assert_eq!(unique.len(), everything.len(), "no event twice");
        let expected = expected_ids(&site.server.store, &list_params(&client).await).await;
        assert_eq!(everything, expected, "every event once, in order");
        assert!(
            text_of(&client, "#status")
                .await
                .starts_with(&format!("{} events", everything.len()))
        );
    })
    .await;
}

async fn csv_and_ndjson_exports_hold_exactly_the_filtered_list() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(
            &client,
            &site.base,
            "alice@acme.test",
            "/audit-logs/ui?action=app.*&outcome=success",
        )
        .await;
        settled(&client, "ready").await;
        let listed = load_everything(&client).await;
        assert!(listed.len() > 50, "{} events: more than one page", listed.len());

        let csv_url = href_of(&client, "#export-csv").await;
        assert!(csv_url.starts_with(&format!("{}/audit-logs/export?format=csv&", site.base)));
        assert!(!csv_url.contains("cursor") && !csv_url.contains("limit"));
        let csv = fetch_text(&client, &csv_url).await;
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let id_column = reader.headers().unwrap().iter().position(|h| h == "id").unwrap();
        let exported: Vec<String> = reader.records().map(|r| r.unwrap()[id_column].to_owned()).collect();
        assert_eq!(exported, listed);

        let ndjson_url = href_of(&client, "#export-ndjson").await;
        let ndjson = fetch_text(&client, &ndjson_url).await;
        let exported: Vec<String> = ndjson
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(exported, listed);

        // Nothing matches: the empty state, and nothing to export.
        let search = client.find(Locator::Css("#f-q")).await.unwrap();
        search.send_keys("no-event-says-this").await.unwrap();
        settled(&client, "empty").await;
        assert!(
            client
                .current_url()
                .await
                .unwrap()
                .as_str()
                .contains("q=no-event-says-this")
        );
        let empty = text_of(&client, "#empty").await;
        assert!(empty.contains("No events match these filters"), "{empty}");
        for link in ["#export-csv", "#export-ndjson"] {
            let link = client.find(Locator::Css(link)).await.unwrap();
            assert_eq!(link.attr("href").await.unwrap(), None);
            assert_eq!(link.attr("aria-disabled").await.unwrap().as_deref(), Some("true"));
        }
    })
    .await;
}

async fn markup_in_recorded_values_renders_as_inert_text() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        let hostile = site.hostile_event.id().to_string();
        // Signing in recorded newer events; the hostile one is further down.
        assert!(row_ids(&client).await.contains(&hostile), "the hostile event is listed");
        let row_css = format!("#rows tr.row[data-id='{hostile}']");
        let details_css = format!("{row_css} + tr.details");
        click(&client, &format!("{row_css} .toggle")).await;
        wait_for("the details", || async {
            client.find(Locator::Css(&format!("{details_css}:not([hidden]) .diff"))).await.ok()
        })
        .await;

        let row = text_of(&client, &row_css).await;
        assert!(row.contains(IMG), "the actor's name, literally: {row}");
        assert!(row.contains(SCRIPT), "the description, literally: {row}");
        assert!(row.contains(JS_URL), "the resource's name, literally: {row}");
        let details = text_of(&client, &details_css).await;
        for literal in ["<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", SCRIPT, JS_URL] {
            assert!(details.contains(literal), "{literal} in {details}");
        }

        let dom = js(
            &client,
            "return {
               pwned: window.__pwned === undefined ? null : window.__pwned,
               scripts: document.scripts.length,
               images: [...document.images].map(i => i.getAttribute('src')),
               handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
               svgs: document.querySelectorAll('svg').length,
               javascriptLinks: [...document.querySelectorAll('a[href]')].filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
               links: [...document.querySelectorAll('#rows a[href]')].map(a => a.getAttribute('href')),
             };",
            vec![],
        )
        .await;
        assert_eq!(dom["pwned"], Value::Null, "{dom}");
        assert_eq!(dom["scripts"], 1, "only the page's own script: {dom}");
        assert_eq!(dom["images"], json!(["ui/icon.svg"]), "only the page's own logo: {dom}");
        assert_eq!(dom["handlers"], 0, "{dom}");
        assert_eq!(dom["svgs"], 0, "{dom}");
        assert_eq!(dom["javascriptLinks"], 0, "{dom}");
        assert_eq!(dom["links"], json!([format!("/audit-logs/{hostile}")]), "{dom}");
        assert!(client.get_alert_text().await.is_err(), "no dialog opened");
    })
    .await;
}

async fn a_member_is_told_which_roles_may_read_and_may_switch_account() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "bob@acme.test", "/audit-logs/ui?category=update").await;
        settled(&client, "forbidden").await;
        assert_eq!(
            text_of(&client, "#notice-title").await,
            "You may not read the audit log"
        );
        // The API's message, capitalised, its `names` as code: no backticks.
        let message = text_of(&client, "#notice-message").await;
        assert!(message.starts_with("Reading the audit log needs"), "{message}");
        assert!(message.contains("owner or admin"), "{message}");
        assert!(!message.contains('`'), "{message}");
        let code = strings(
            &client,
            "return [...document.querySelectorAll('#notice-message code')].map(c => c.textContent);",
        )
        .await;
        assert_eq!(code, ["owner", "admin", "auditor"]);
        for hidden in ["#workspace", "#events thead"] {
            assert!(!is_shown(&client, hidden).await, "{hidden}");
        }
        // Another account may read: to the sign-in, and back to the same filters.
        let switch = client.find(Locator::Css("#switch-account")).await.unwrap();
        assert_eq!(switch.text().await.unwrap(), "Switch account");
        assert_eq!(
            switch.prop("href").await.unwrap().unwrap(),
            format!("{}/login?next=%2Faudit-logs%2Fui%3Fcategory%3Dupdate", site.base)
        );
        screenshot(&client, "ui-denied").await;
        switch.click().await.unwrap();
        sign_in_and_return(&client, &site.page("category=update")).await;
        assert!(!row_ids(&client).await.is_empty());
        assert!(!is_shown(&client, "#notice").await);
    })
    .await;
}

async fn a_signed_out_reader_is_sent_to_sign_in_and_back_to_the_same_filters() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        client
            .goto(&site.page("action=app.created&severity=info"))
            .await
            .unwrap();
        settled(&client, "unauthorized").await;
        assert_eq!(text_of(&client, "#notice-title").await, "You are not signed in");
        assert!(!is_shown(&client, "#events thead").await);
        let link = client.find(Locator::Css("#sign-in")).await.unwrap();
        assert_eq!(
            link.prop("href").await.unwrap().unwrap(),
            format!(
                "{}/login?next=%2Faudit-logs%2Fui%3Faction%3Dapp.created%26severity%3Dinfo",
                site.base
            )
        );
        screenshot(&client, "ui-signed-out").await;
        link.click().await.unwrap();
        sign_in_and_return(&client, &site.page("action=app.created&severity=info")).await;
        assert_eq!(text_of(&client, "#actions-button").await, "app.created");
        assert_eq!(
            js(&client, "return document.getElementById('f-severity').value;", vec![]).await,
            "info"
        );
        let actions = strings(
            &client,
            "return [...document.querySelectorAll('#rows td[data-col=action]')].map(c => c.textContent);",
        )
        .await;
        assert!(
            !actions.is_empty() && actions.iter().all(|a| a == "app.created"),
            "{actions:?}"
        );
    })
    .await;
}

async fn the_column_choice_survives_a_reload() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        let shown = |css: &'static str| {
            let client = client.clone();
            async move { is_shown(&client, css).await }
        };
        assert!(shown("th[data-col=ip]").await);
        click(&client, "#columns summary").await;
        click(&client, "input[data-column=ip]").await;
        assert!(!shown("th[data-col=ip]").await);
        assert!(!shown("#rows td[data-col=ip]").await);
        assert!(shown("#rows td[data-col=actor]").await);

        client.refresh().await.unwrap();
        settled(&client, "ready").await;
        assert!(!shown("th[data-col=ip]").await);
        assert!(!shown("#rows td[data-col=ip]").await);
        let checked = js(
            &client,
            "return document.querySelector('input[data-column=ip]').checked;",
            vec![],
        )
        .await;
        assert_eq!(checked, false);

        click(&client, "#columns summary").await;
        click(&client, "input[data-column=ip]").await;
        assert!(shown("th[data-col=ip]").await);
    })
    .await;
}

async fn at_390_px_the_page_fits_the_screen_with_folded_filters() {
    let site = Site::start().await;
    with_browser((390, 844), move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui?outcome=success").await;
        settled(&client, "ready").await;
        assert_eq!(js(&client, "return window.innerWidth;", vec![]).await, 390);
        assert_fits(&no_horizontal_overflow(&client).await);
        // The filters fold away behind one button, which counts them: the
        // count sits next to its label, inside the button.
        let fields = client.find(Locator::Css("#filter-fields")).await.unwrap();
        assert!(!fields.is_displayed().await.unwrap());
        let toggle = client.find(Locator::Css("#filters-toggle")).await.unwrap();
        assert_eq!(toggle.attr("aria-expanded").await.unwrap().as_deref(), Some("false"));
        assert_eq!(text_of(&client, "#filter-count").await, "1 active");
        let badge = js(
            &client,
            "const button = document.getElementById('filters-toggle').getBoundingClientRect();
             const count = document.getElementById('filter-count').getBoundingClientRect();
             const label = document.createRange(); label.selectNodeContents(document.querySelector('.filters-toggle-label').firstChild);
             const word = label.getBoundingClientRect();
             return {inside: count.left >= button.left && count.right <= button.right && count.top >= button.top && count.bottom <= button.bottom,
                     gap: count.left - word.right, middle: Math.abs((count.top + count.bottom) / 2 - (button.top + button.bottom) / 2)};",
            vec![],
        )
        .await;
        assert_eq!(badge["inside"], true, "{badge}");
        assert!(badge["gap"].as_f64().unwrap() < 12.0, "next to the label: {badge}");
        assert!(badge["middle"].as_f64().unwrap() < 2.0, "vertically centred: {badge}");
        // Rows are compact cards: at least four to a screen.
        let cards = js(
            &client,
            "const rows = [...document.querySelectorAll('#rows tr.row')];
             rows[0].scrollIntoView();
             const heights = rows.map(r => r.getBoundingClientRect().height);
             return {display: getComputedStyle(rows[0]).display, tallest: Math.max(...heights),
                     onScreen: rows.filter(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= window.innerHeight; }).length};",
            vec![],
        )
        .await;
        assert_eq!(cards["display"], "grid", "{cards}");
        assert!(cards["tallest"].as_f64().unwrap() <= 160.0, "{cards}");
        assert!(cards["onScreen"].as_u64().unwrap() >= 4, "{cards}");
        js(&client, "window.scrollTo(0, 0);", vec![]).await;
        screenshot(&client, "ui-narrow").await;

        toggle.click().await.unwrap();
        assert!(fields.is_displayed().await.unwrap());
        assert_fits(&no_horizontal_overflow(&client).await);
        toggle.click().await.unwrap();

        click(&client, "#rows tr.row .toggle").await;
        wait_for("the details", || async {
            client
                .find(Locator::Css("#rows tr.details:not([hidden]) .detail"))
                .await
                .ok()
        })
        .await;
        assert_fits(&no_horizontal_overflow(&client).await);
    })
    .await;
}

/// An auditor, whoever asks: the page under a prefix other than the quickstart's.
fn always_an_auditor(_: &http::request::Parts) -> Option<Principal> {
    Some(Principal::new(Actor::user("u_auditor").with_role("auditor")))
}

async fn the_page_works_under_any_prefix() {
    let db = TestDb::sqlite();
    let store = audit_store::connect(&db.url()).await.unwrap();
    let mut events = Vec::new();
    for i in 0..7_i64 {
        events.push(
            Event::builder(Action::new("app.created").unwrap(), alice())
                .tenant("acme")
                .occurred_at(at(600 + i))
                .target(Target::new("app", format!("app_{i}")))
                .description(format!("Created app {i}"))
                .build(),
        );
    }
    store.write_batch(&events).await.unwrap();
    let auditor = Auditor::builder().lifecycle_events(false).start(MemorySink::new());
    // One nested with nest_into, one with the plain router under axum's nest.
    let app = AdminApi::new(store.clone()).nest_into(axum::Router::new(), "/ops/audit-trail");
    let app = app.nest("/x/y", AdminApi::new(store).router());
    let app = app.layer(AuditLayer::new(auditor).actor(always_an_auditor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    let newest = events[0].id().to_string();
    with_browser(WIDE, move |client| async move {
        for prefix in ["/ops/audit-trail", "/x/y"] {
            client.goto(&format!("{base}{prefix}/ui")).await.unwrap();
            settled(&client, "ready").await;
            assert_eq!(row_ids(&client).await.len(), 7, "{prefix}");
            let csv = href_of(&client, "#export-csv").await;
            assert!(csv.starts_with(&format!("{base}{prefix}/export?format=csv&")), "{csv}");
            click(&client, "#rows tr.row .toggle").await;
            let link = wait_for("the event link", || async {
                client
                    .find(Locator::Css("#rows a.event-link"))
                    .await
                    .ok()?
                    .prop("href")
                    .await
                    .ok()?
            })
            .await;
            assert_eq!(link, format!("{base}{prefix}/{newest}"));
            // `/ui/` is the same page.
            client
                .goto(&format!("{base}{prefix}/ui/?category=create"))
                .await
                .unwrap();
            settled(&client, "ready").await;
            assert_eq!(
                client.current_url().await.unwrap().as_str(),
                format!("{base}{prefix}/ui?category=create")
            );
        }
    })
    .await;
    drop(db);
}

async fn a_bad_filter_is_named_once_and_deleted_resources_are_marked() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;

        // A link with a malformed date: the error names the field once, by
        // its label, shows the API's `names` as code, and marks the input;
        // nothing is listed or exportable, and no empty table is left.
        client.goto(&site.page("since=last-tuesday")).await.unwrap();
        settled(&client, "error").await;
        assert_eq!(text_of(&client, "#notice-title").await, "These filters cannot be used");
        let message = text_of(&client, "#notice-message").await;
        assert!(message.starts_with("From: last-tuesday is not a time"), "{message}");
        assert!(!message.contains('`') && !message.contains("since"), "{message}");
        let code = strings(&client, "return [...document.querySelectorAll('#notice-message code')].map(c => c.textContent);").await;
        assert_eq!(code.first().map(String::as_str), Some("last-tuesday"), "{code:?}");
        let since = client.find(Locator::Css("#f-since")).await.unwrap();
        assert_eq!(since.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
        assert_eq!(js(&client, "return document.activeElement.id;", vec![]).await, "f-since");
        assert!(row_ids(&client).await.is_empty());
        let csv = client.find(Locator::Css("#export-csv")).await.unwrap();
        assert_eq!(csv.attr("aria-disabled").await.unwrap().as_deref(), Some("true"));
        let shown = js(
            &client,
            "const visible = e => e.getClientRects().length > 0;
             return {
               resets: [...document.querySelectorAll('button')].filter(b => visible(b) && b.textContent.trim() === 'Reset filters').length,
               header: visible(document.querySelector('#events thead')),
               results: visible(document.getElementById('results')),
             };",
            vec![],
        )
        .await;
        assert_eq!(shown, json!({"resets": 1, "header": false, "results": false}));
        // The notice offers to drop just that filter.
        assert_eq!(text_of(&client, "#remove-bad-filter").await, "Back to the last 30 days");
        click(&client, "#remove-bad-filter").await;
        settled(&client, "ready").await;
        assert_eq!(client.current_url().await.unwrap().query(), None);
        assert!(is_shown(&client, "#events thead").await);

        // Deleted apps: shown from the event's own record, marked deleted,
        // with the delete colour; times relative, exact on hover.
        client.goto(&site.page("action=app.deleted")).await.unwrap();
        settled(&client, "ready").await;
        let rows = js(
            &client,
            "return [...document.querySelectorAll('#rows tr.row')].map(r => ({
               deleted: [...r.querySelectorAll('.badge.deleted')].map(b => b.textContent.trim().toLowerCase()),
               resource: r.querySelector('td[data-col=resource]').textContent,
               action: r.querySelector('td[data-col=action] .badge').className,
               time: r.querySelector('time').textContent,
               datetime: r.querySelector('time').getAttribute('datetime'),
               hover: r.querySelector('time').getAttribute('title'),
             }));",
            vec![],
        )
        .await;
        let rows = rows.as_array().unwrap();
        assert!(!rows.is_empty(), "the demo history deletes apps");
        for row in rows {
            assert_eq!(row["deleted"], json!(["deleted"]), "{row}");
            assert!(row["resource"].as_str().unwrap().starts_with("app"), "{row}");
            assert!(row["action"].as_str().unwrap().contains("cat-delete"), "{row}");
            let hover = row["hover"].as_str().unwrap();
            assert_eq!(Some(hover), row["datetime"].as_str(), "{row}");
            assert!(
                serde_json::from_value::<Timestamp>(json!(hover)).is_ok(),
                "ISO 8601 on hover: {row}"
            );
            let time = row["time"].as_str().unwrap();
            assert!(time.contains(" ago") || time.contains("just now"), "relative: {row}");
        }
    })
    .await;
}

/// WCAG's contrast ratio between each visible text and the background it
/// sits on (the nearest opaque background of its ancestors), for every
/// element with text of its own, expanded details included.
async fn every_text_has_a_contrast_of_at_least_4_5_to_1() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        // A filter, so its chip is checked too.
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui?range=90d").await;
        settled(&client, "ready").await;
        click(&client, "#rows tr.row .toggle").await;
        wait_for("the details", || async {
            client.find(Locator::Css("#rows tr.details:not([hidden])")).await.ok()
        })
        .await;
        let low = js(
            &client,
            "const rgb = c => (c.match(/[0-9.]+/g) || []).map(Number);
             const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
               .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
             const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
               if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3); } return [255, 255, 255]; };
             const low = [];
             let checked = 0;
             for (const e of document.querySelectorAll('body *')) {
               const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
               if (!own || !e.getClientRects().length || getComputedStyle(e).visibility !== 'visible') continue;
               if (e.closest('[disabled], [aria-disabled=true], input::placeholder')) continue;
               const fg = lum(rgb(getComputedStyle(e).color)), bg = lum(background(e));
               const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
               checked++;
               if (ratio < 4.5) low.push(`${e.tagName.toLowerCase()}.${e.className}: ${ratio.toFixed(2)} \"${e.textContent.trim().slice(0, 30)}\"`);
             }
             return {checked, low};",
            vec![],
        )
        .await;
        assert!(low["checked"].as_u64().unwrap() > 100, "{low}");
        assert_eq!(low["low"], json!([]), "{low}");
    })
    .await;
}

/// The action of each listed row.
async fn row_actions(client: &Client) -> Vec<String> {
    strings(
        client,
        "return [...document.querySelectorAll('#rows td[data-col=action]')].map(c => c.textContent);",
    )
    .await
}

/// The ids of a CSV export.
fn csv_ids(csv: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let id_column = reader.headers().unwrap().iter().position(|h| h == "id").unwrap();
    reader.records().map(|r| r.unwrap()[id_column].to_owned()).collect()
}

async fn log_reads_are_hidden_by_default_and_shown_reads_live_in_the_url() {
    let site = Site::start().await;
    // A read of the log, recorded before the page opens (the page's own
    // reads are recorded too, but asynchronously).
    let read = Event::builder(Action::new("audit_log.viewed").unwrap(), alice())
        .tenant("acme")
        .occurred_at(at(30))
        .description("Read the audit log");
    let read_id = record(&site.server, read).await.to_string();
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        let toggle = client.find(Locator::Css("#hide-reads")).await.unwrap();
        assert_eq!(toggle.prop("checked").await.unwrap().as_deref(), Some("true"));
        assert_eq!(
            client.current_url().await.unwrap().query(),
            None,
            "the default keeps the URL clean"
        );
        let params = list_params(&client).await;
        assert!(
            params.contains(&("not_action".to_owned(), "audit_log.*".to_owned())),
            "{params:?}"
        );
        let listed = row_ids(&client).await;
        assert!(!listed.contains(&read_id));
        assert!(row_actions(&client).await.iter().all(|a| !a.starts_with("audit_log.")));
        let expected = expected_ids(&site.server.store, &params).await;
        assert_eq!(listed, expected[..listed.len()]);
        // The export holds what the list shows, reads left out too.
        let exported = csv_ids(&fetch_text(&client, &href_of(&client, "#export-csv").await).await);
        assert_eq!(exported, expected);
        // The picker counts no log reads either.
        click(&client, "#actions-button").await;
        wait_for("the picker's actions", || async {
            client
                .find(Locator::Css("#actions-list input[data-action='app.updated']"))
                .await
                .ok()
        })
        .await;
        assert_eq!(
            js(
                &client,
                "return document.querySelectorAll('#actions-list input[data-action^=\"audit_log.\"]').length;",
                vec![]
            )
            .await,
            0
        );
        click(&client, "#actions-done").await;

        // Off: the URL says so, and the reads are listed.
        toggle.click().await.unwrap();
        settled(&client, "ready").await;
        assert_eq!(client.current_url().await.unwrap().query(), Some("reads=show"));
        assert!(list_params(&client).await.iter().all(|(name, _)| name != "not_action"));
        let with_reads = row_ids(&client).await;
        assert!(with_reads.contains(&read_id), "the recorded read is listed");
        assert!(row_actions(&client).await.iter().any(|a| a == "audit_log.viewed"));

        // Reload keeps it off; back turns it on again.
        client.refresh().await.unwrap();
        settled(&client, "ready").await;
        let toggle = client.find(Locator::Css("#hide-reads")).await.unwrap();
        assert_eq!(toggle.prop("checked").await.unwrap().as_deref(), Some("false"));
        assert!(row_ids(&client).await.contains(&read_id));
        client.back().await.unwrap();
        settled(&client, "ready").await;
        assert_eq!(client.current_url().await.unwrap().query(), None);
        let toggle = client.find(Locator::Css("#hide-reads")).await.unwrap();
        assert_eq!(toggle.prop("checked").await.unwrap().as_deref(), Some("true"));
        assert!(!row_ids(&client).await.contains(&read_id));
    })
    .await;
}

async fn chip_texts(client: &Client) -> Vec<String> {
    strings(
        client,
        "return [...document.querySelectorAll('#chips .chip')].filter(c => c.getClientRects().length)
           .map(c => c.textContent.replace('✕', '').trim());",
    )
    .await
}

async fn active_filters_show_as_chips_that_each_remove_their_filter() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        assert_eq!(chip_texts(&client).await, Vec::<String>::new(), "no filter, no chip");

        client
            .goto(&site.page("range=90d&action=app.updated&actor_email=alice%40acme.test&ip=203.0.113.10"))
            .await
            .unwrap();
        settled(&client, "ready").await;
        assert_eq!(
            chip_texts(&client).await,
            [
                "Time: last 90 days",
                "Action: app.updated",
                "Actor: alice@acme.test",
                "Client IP: 203.0.113.10"
            ]
        );
        assert!(row_ids(&client).await.contains(&site.diff_event.id().to_string()));
        assert!(row_actions(&client).await.iter().all(|a| a == "app.updated"));

        // Each chip removes its own filter, from the URL and the list.
        click(&client, "#chips .chip[data-param=ip]").await;
        settled(&client, "ready").await;
        assert_eq!(
            client.current_url().await.unwrap().query(),
            Some("range=90d&actor_email=alice%40acme.test&action=app.updated")
        );
        assert_eq!(chip_texts(&client).await.len(), 3);
        let listed = row_ids(&client).await;
        assert!(listed.len() > 1, "{listed:?}");
        assert_eq!(
            listed,
            expected_ids(&site.server.store, &list_params(&client).await).await[..listed.len()]
        );

        click(&client, "#chips .chip[data-param=action]").await;
        settled(&client, "ready").await;
        assert_eq!(
            client.current_url().await.unwrap().query(),
            Some("range=90d&actor_email=alice%40acme.test")
        );
        assert_eq!(text_of(&client, "#actions-button").await, "All actions");
        assert!(row_actions(&client).await.iter().any(|a| a != "app.updated"));

        click(&client, "#chips .chip[data-param=range]").await;
        settled(&client, "ready").await;
        assert_eq!(
            client.current_url().await.unwrap().query(),
            Some("actor_email=alice%40acme.test")
        );
        assert_eq!(
            js(
                &client,
                "return document.querySelector('.preset[aria-pressed=true]').dataset.range;",
                vec![]
            )
            .await,
            "30d"
        );
        assert_eq!(chip_texts(&client).await, ["Actor: alice@acme.test"]);
        click(&client, "#chips .chip").await;
        settled(&client, "ready").await;
        assert_eq!(client.current_url().await.unwrap().query(), None);
        assert_eq!(
            js(&client, "return document.getElementById('f-actor').value;", vec![]).await,
            ""
        );
        assert!(!is_shown(&client, "#chips").await);
    })
    .await;
}

async fn empty_text_and_offers(client: &Client) -> (String, Vec<String>) {
    let offers = strings(
        client,
        "return [...document.querySelectorAll('#empty-actions button')].map(b => b.textContent);",
    )
    .await;
    (text_of(client, "#empty-message").await, offers)
}

async fn an_empty_search_offers_to_clear_the_search_and_an_empty_range_to_widen_it() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(
            &client,
            &site.base,
            "alice@acme.test",
            "/audit-logs/ui?q=no-event-says-this",
        )
        .await;
        settled(&client, "empty").await;
        // The search is the cause: clear it, not a wider range.
        let (message, offers) = empty_text_and_offers(&client).await;
        assert!(message.contains("no-event-says-this"), "{message}");
        assert_eq!(offers, ["Clear the search"]);
        click(&client, "#empty-actions button").await;
        settled(&client, "ready").await;
        assert_eq!(client.current_url().await.unwrap().query(), None);
        assert_eq!(
            js(&client, "return document.getElementById('f-q').value;", vec![]).await,
            ""
        );

        // The term is echoed in the message and its chip as text only.
        let term = "<img src=nothing onerror=\"window.__pwned=2\">";
        let hostile: String = form_urlencoded::byte_serialize(term.as_bytes()).collect();
        client.goto(&site.page(&format!("q={hostile}"))).await.unwrap();
        settled(&client, "empty").await;
        let (message, offers) = empty_text_and_offers(&client).await;
        assert!(message.contains(term), "{message}");
        assert_eq!(offers, ["Clear the search"]);
        assert_eq!(chip_texts(&client).await, [format!("Search: {term}")]);
        let inert = js(
            &client,
            "return {pwned: window.__pwned === undefined ? null : window.__pwned, images: document.images.length};",
            vec![],
        )
        .await;
        assert_eq!(inert, json!({"pwned": null, "images": 1}));

        // One other filter: remove that one.
        client.goto(&site.page("target_id=no-such-app")).await.unwrap();
        settled(&client, "empty").await;
        let (message, offers) = empty_text_and_offers(&client).await;
        assert!(message.contains("Resource id: no-such-app"), "{message}");
        assert_eq!(offers, ["Remove the Resource id filter"]);

        // Only the range narrows it: widen the range (or show the log's reads).
        client
            .goto(&site.page("since=2001-01-01T00%3A00%3A00Z&until=2001-01-02T00%3A00%3A00Z"))
            .await
            .unwrap();
        settled(&client, "empty").await;
        assert_eq!(text_of(&client, "#empty-title").await, "No events in this time range");
        let (message, offers) = empty_text_and_offers(&client).await;
        assert!(message.contains("reads of the log are hidden"), "{message}");
        assert_eq!(offers, ["Show the last 90 days", "Show log reads"]);
        click(&client, "#empty-actions button").await;
        settled(&client, "ready").await;
        assert_eq!(client.current_url().await.unwrap().query(), Some("range=90d"));
    })
    .await;
}

async fn at_390_px_a_bad_filter_unfolds_the_filters_and_focuses_its_field() {
    let site = Site::start().await;
    with_browser((390, 844), move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui?since=last-tuesday").await;
        settled(&client, "error").await;
        let toggle = client.find(Locator::Css("#filters-toggle")).await.unwrap();
        assert_eq!(toggle.attr("aria-expanded").await.unwrap().as_deref(), Some("true"));
        assert!(is_shown(&client, "#filter-fields").await);
        let field = js(
            &client,
            "const input = document.getElementById('f-since'); const r = input.getBoundingClientRect();
             return {focused: document.activeElement === input, invalid: input.getAttribute('aria-invalid'),
                     border: getComputedStyle(input).borderTopColor, plain: getComputedStyle(document.getElementById('f-until')).borderTopColor,
                     inView: r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth};",
            vec![],
        )
        .await;
        assert_eq!(field["focused"], true, "{field}");
        assert_eq!(field["invalid"], "true", "{field}");
        assert_eq!(field["inView"], true, "{field}");
        assert_ne!(field["border"], field["plain"], "highlighted: {field}");
        let message = text_of(&client, "#notice-message").await;
        assert!(message.starts_with("From: "), "{message}");
        assert_fits(&no_horizontal_overflow(&client).await);
    })
    .await;
}

async fn at_1280_px_the_time_inputs_show_their_whole_value_in_one_aligned_row() {
    let site = Site::start().await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        settled(&client, "ready").await;
        assert_eq!(js(&client, "return window.innerWidth;", vec![]).await, 1280);
        // Both ends set, so both show a date and a time with AM/PM.
        client
            .goto(&site.page("since=2001-01-01T21%3A45%3A00Z&until=2001-01-02T22%3A45%3A00Z"))
            .await
            .unwrap();
        settled(&client, "empty").await;
        let fit = js(
            &client,
            "const rect = id => document.getElementById(id).getBoundingClientRect();
             // The width each input needs for its whole value: a copy at its natural size.
             const natural = id => { const copy = document.getElementById(id).cloneNode();
               copy.removeAttribute('id'); copy.style.width = 'auto'; copy.style.position = 'absolute';
               document.body.append(copy); const width = copy.getBoundingClientRect().width; copy.remove(); return width; };
             return {since: rect('f-since'), until: rect('f-until'), category: rect('f-category'),
                     sinceNeeds: natural('f-since'), untilNeeds: natural('f-until'),
                     value: document.getElementById('f-since').value};",
            vec![],
        )
        .await;
        let num = |v: &Value| v.as_f64().unwrap();
        assert_eq!(fit["value"], "2001-01-01T21:45", "{fit}");
        assert!(num(&fit["sinceNeeds"]) > 100.0, "{fit}");
        assert!(num(&fit["since"]["width"]) >= num(&fit["sinceNeeds"]), "From is cut: {fit}");
        assert!(num(&fit["until"]["width"]) >= num(&fit["untilNeeds"]), "Until is cut: {fit}");
        // One row: From and Until side by side, level with the other filters.
        assert!((num(&fit["since"]["top"]) - num(&fit["until"]["top"])).abs() < 1.0, "{fit}");
        assert!((num(&fit["since"]["bottom"]) - num(&fit["category"]["bottom"])).abs() < 1.0, "{fit}");
        assert_fits(&no_horizontal_overflow(&client).await);
    })
    .await;
}

/// The log's name in the proof tests: its signing key's.
const LOG: &str = "audit.example.com/log";

/// Signs a checkpoint of every stream of `store` with `key`.
async fn checkpoint(store: &Store, key: &SigningKey) {
    Checkpointer::new(store.clone(), key.clone())
        .checkpoint_now()
        .await
        .unwrap();
}

/// Opens the details of the one row listed for resource `target_id`.
async fn open_details_of(client: &Client, site: &Site, target_id: &str) {
    client
        .goto(&site.page(&format!("target_id={target_id}")))
        .await
        .unwrap();
    settled(client, "ready").await;
    click(client, "#rows tr.row .toggle").await;
    wait_for("the details", || async {
        client
            .find(Locator::Css("#rows tr.details:not([hidden]) .verify-button"))
            .await
            .ok()
    })
    .await;
}

/// Clicks "Verify" in the open details; the mark's result and text once it settled.
async fn verify_in_page(client: &Client) -> (String, String) {
    click(client, "#rows tr.details:not([hidden]) .verify-button").await;
    wait_for("the verification mark", || async {
        let found = js(
            client,
            "const panel = document.querySelector('#rows tr.details:not([hidden]) .verify');
             return [panel.dataset.result, panel.querySelector('.verify-mark').textContent];",
            vec![],
        )
        .await;
        let result = found[0].as_str()?.to_owned();
        (result != "idle" && result != "checking").then(|| (result, found[1].as_str().unwrap_or_default().to_owned()))
    })
    .await
}

async fn a_checkpointed_event_is_verified_in_the_browser_and_its_signature_on_the_server() {
    let key = SigningKey::generate(LOG).unwrap();
    let site = Site::start_with(Some(key.clone())).await;
    checkpoint(&site.server.store, &key).await;
    let size = site
        .server
        .store
        .latest_checkpoint("tenant:acme")
        .await
        .unwrap()
        .unwrap()
        .size;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        open_details_of(&client, &site, RENAMED_APP).await;
        let (result, mark) = verify_in_page(&client).await;
        assert_eq!(result, "verified", "{mark}");
        assert_eq!(mark, format!("✓ Verified: in the signed tree of {size} events"));
        let integrity = site.diff_event.integrity().unwrap();
        assert_eq!(
            text_of(&client, "#rows [data-field=computed-leaf-hash]").await,
            integrity.leaf_hash
        );
        let note = text_of(&client, "#rows .verify-signature").await;
        assert!(
            note.contains(&format!("checked on the server with the key {LOG}")),
            "{note}"
        );
        assert!(note.contains("audit verify-event"), "{note}");
        let link = href_of(&client, "#rows a.proof-link").await;
        assert_eq!(link, format!("{}/audit-logs/{}/proof", site.base, site.diff_event.id()));
        let proof: audit_store::EventProof = serde_json::from_str(&fetch_text(&client, &link).await).unwrap();
        proof.verify(&key.verifier_key(), LOG).unwrap();
        js(
            &client,
            "document.querySelector('#rows tr.details:not([hidden]) .verify').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await;
        screenshot(&client, "ui-verified").await;
    })
    .await;
}

async fn an_event_is_not_covered_before_a_checkpoint_and_does_not_verify_once_edited_in_the_database() {
    let site = std::sync::Arc::new(Site::start().await);
    let before = site.clone();
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &before.base, "alice@acme.test", "/audit-logs/ui").await;
        open_details_of(&client, &before, RENAMED_APP).await;
        let (result, mark) = verify_in_page(&client).await;
        assert_eq!(result, "not-checkpointed", "{mark}");
        assert!(mark.contains("Not covered by a checkpoint yet"), "{mark}");
        assert!(mark.contains("audit checkpoint"), "{mark}");
    })
    .await;

    // Signed, then an attacker with the database (not the key) rewrites
    // the description, leaving the leaf hash as it was.
    let event = site.diff_event.clone();
    checkpoint(&site.server.store, &SigningKey::generate(LOG).unwrap()).await;
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&site._db.url()).await.unwrap();
    sqlx::raw_sql(&format!(
        "DROP TRIGGER audit_events_reject_update; \
         UPDATE audit_events SET description = 'Renamed app Billing to Payroll' WHERE id = '{}'",
        event.id()
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        open_details_of(&client, &site, RENAMED_APP).await;
        assert!(
            text_of(&client, "#rows tr.details")
                .await
                .contains("Billing to Payroll")
        );
        let (result, mark) = verify_in_page(&client).await;
        assert_eq!(result, "failed", "{mark}");
        assert!(
            mark.starts_with("✕ Does not verify: the event's content does not hash to its leaf hash"),
            "{mark}"
        );
        let computed = text_of(&client, "#rows [data-field=computed-leaf-hash]").await;
        assert_ne!(computed, event.integrity().unwrap().leaf_hash);
        let note = text_of(&client, "#rows .verify-signature").await;
        assert!(note.contains("not checked here"), "{note}");
    })
    .await;
}

async fn the_browsers_leaf_hash_equals_the_stores_for_unicode_escapes_numbers_and_changes() {
    let site = Site::start().await;
    let tricky = Event::builder(Action::new("app.updated").unwrap(), alice())
        .tenant("acme")
        .occurred_at(at(30))
        .target(Target::new("app", "app_jcs").with_name("Café ☕ \"quoted\" \\ back"))
        .before(&Snapshot(
            &json!({"name": "naïve", "tags": ["a", "b"], "limits": {"seats": 5}}),
        ))
        .after(&Snapshot(
            &json!({"name": "naïve → wise 😀", "tags": ["a"], "limits": {"seats": 6, "ratio": 0.1}}),
        ))
        .metadata(
            "nested",
            &json!({
                // UTF-16 order puts the emoji (a surrogate pair) before U+E000.
                "\u{e000}": "private use",
                "😀": "emoji",
                "é": {"deep": [1, 1e21, 1e-7, -0.0, 333_333_333.333_333_3, 4.5e-300, 9_007_199_254_740_993_u64]},
                "line\nbreak": "tab\there \u{2028} \u{7f} \u{1} </script>",
                "quote\"": "back\\slash",
                "": [null, true, false, {}, []],
            }),
        )
        .metadata("zh", "审计日志")
        .description("Renamed app naïve → wise 😀 with \"quotes\" and \\ backslashes")
        .context(context(
            "2001:db8::1",
            "Agent/1.0 (ünïcode)",
            "req-jcs",
            "PATCH",
            "/apps/{id}",
            200,
        ));
    let id = record(&site.server, tricky).await;
    let stored = site.server.store.get(id).await.unwrap().unwrap();
    checkpoint(&site.server.store, &SigningKey::generate(LOG).unwrap()).await;
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        open_details_of(&client, &site, "app_jcs").await;
        let (result, mark) = verify_in_page(&client).await;
        assert_eq!(
            text_of(&client, "#rows [data-field=computed-leaf-hash]").await,
            stored.integrity().unwrap().leaf_hash,
            "the browser's JCS differs from the store's: {mark}"
        );
        assert_eq!(result, "verified", "{mark}");
    })
    .await;
}

async fn an_erased_persons_values_read_erased_and_their_events_still_verify() {
    let key = SigningKey::generate(LOG).unwrap();
    let site = Site::start_configured(None, |config| {
        config.seal_personal_data(audit_store::personal::PersonalData::new())
    })
    .await;
    let bob = Actor::user("user_bob")
        .with_name("Bob Stone")
        .with_email("bob.stone@acme.test");
    record(
        &site.server,
        Event::builder(Action::new("app.created").unwrap(), bob)
            .tenant("acme")
            .target(Target::new("app", "app_bobs").with_name("Ledger of the north"))
            .description("Bob Stone created the Ledger of the north")
            .metadata("contact", "bob.stone@acme.test")
            .personal_key("contact"),
    )
    .await;
    checkpoint(&site.server.store, &key).await;
    site.server
        .store
        .erase_subject(&audit_store::personal::Erasure::new("user_bob", alice()))
        .await
        .unwrap();
    with_browser(WIDE, move |client| async move {
        sign_in(&client, &site.base, "alice@acme.test", "/audit-logs/ui").await;
        open_details_of(&client, &site, "app_bobs").await;
        let shown = text_of(&client, "#rows").await;
        assert!(shown.contains("[erased]"), "{shown}");
        for value in ["Bob Stone", "bob.stone@acme.test"] {
            assert!(!shown.contains(value), "{value} is shown: {shown}");
        }
        assert!(
            shown.contains("Ledger of the north"),
            "an app's name is not personal: {shown}"
        );
        // The proof holds for the event as it was sealed and hashed.
        let (result, mark) = verify_in_page(&client).await;
        assert_eq!(result, "verified", "{mark}");
    })
    .await;
}
