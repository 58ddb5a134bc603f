//! The quickstart end to end: its exact service (`Quickstart::build`), served
//! by `Quickstart::serve` on loopback with real TCP connections and a real
//! HTTP client, recording into a real SQLite file or PostgreSQL database.
//! Every test runs on both backends. Nothing sleeps: a test flushes the
//! auditor (or shuts the service down) before it reads the store.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::net::IpAddr;

use audit_core::{ActorKind, Category, Event, IpSource, Outcome, Severity};
use audit_store::CSV_COLUMNS;
use audit_tower::ClientIpSource;
use http::{Method, StatusCode};
use quickstart::Config;
use serde_json::{Value, json};
use support::TestDb;
use support::running::{Reply, Running, USER_AGENT, all_events, events_with_request_id};

on_both_backends!(
    every_route_records_its_event_with_the_request_context,
    sign_in_gives_a_token_and_a_session_cookie_that_authenticate,
    missing_or_unknown_credentials_are_401_and_recorded,
    tenants_see_neither_each_others_apps_nor_their_events,
    forwarded_headers_count_only_from_a_trusted_peer,
    a_client_sent_forwarded_header_never_beats_the_proxys_x_forwarded_for,
    a_client_request_id_reused_across_tenants_links_no_events,
    a_traced_request_links_its_event_to_the_trace,
    only_the_configured_client_ip_header_is_read,
    a_members_role_change_is_403_and_recorded_denied,
    a_failed_login_is_recorded_in_the_accounts_tenant_without_the_password,
    graceful_shutdown_stores_the_events_of_every_answered_request,
    seeding_fills_the_read_side_once,
    an_unsupported_method_is_405_before_401_and_the_openapi_document_is_public,
    with_a_signing_key_the_last_checkpoints_cover_every_event_at_shutdown,
    the_platform_auditor_reads_every_tenant_and_the_pipelines_health,
    every_action_of_a_run_is_declared_in_the_quickstart_catalogue,
);

const ALICE: (&str, &str) = ("authorization", "Bearer acme-owner");
const BOB: (&str, &str) = ("authorization", "Bearer acme-member");
const CAROL: (&str, &str) = ("authorization", "Bearer globex-admin");
const CI_KEY: (&str, &str) = ("x-api-key", "acme-ci-key");
const DANA: (&str, &str) = ("authorization", "Bearer platform-auditor");

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// The request context every event of `reply` must carry.
fn assert_context(event: &Event, reply: &Reply, method: &str, route: &str) {
    let context = event.context();
    assert_eq!(context.client_ip, Some(loopback()), "{}", event.action());
    assert_eq!(context.peer_ip, Some(loopback()));
    assert_eq!(context.ip_source, Some(IpSource::Peer));
    assert_eq!(context.method.as_deref(), Some(method));
    assert_eq!(context.route.as_deref(), Some(route));
    assert_eq!(context.status, Some(reply.status.as_u16()));
    assert_eq!(context.user_agent.as_deref(), Some(USER_AGENT));
    assert_eq!(context.request_id.as_deref(), Some(reply.request_id()));
}

fn assert_alice(event: &Event) {
    let actor = event.actor();
    assert_eq!(actor.kind, ActorKind::User);
    assert_eq!(actor.id, "user_alice");
    assert_eq!(actor.email.as_deref(), Some("alice@acme.test"));
    assert_eq!(actor.roles, ["owner"]);
    assert_eq!(event.tenant_id(), Some("acme"));
}

async fn every_route_records_its_event_with_the_request_context(db: TestDb) {
    let server = Running::start(&db).await;

    // POST /apps → app.created
    let created = server
        .send(Method::POST, "/apps", &[ALICE], Some(json!({"name": "Billing"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let app = created.json();
    let app_id = app["id"].as_str().unwrap().to_owned();
    assert!(app_id.starts_with("app_"));
    assert_eq!(app, json!({"id": app_id, "name": "Billing"}));
    let event = server.event_of(&created, "app.created").await;
    assert_eq!(event.category(), Category::Create);
    assert_eq!(event.severity(), Severity::Info);
    assert_eq!(event.outcome(), Outcome::Success);
    assert_alice(&event);
    let target = event.target().unwrap();
    assert_eq!(
        (target.target_type.as_str(), target.id.as_str(), target.name.as_deref()),
        ("app", app_id.as_str(), Some("Billing"))
    );
    let changes = event.changes().unwrap();
    assert_eq!(changes.before, None);
    assert_eq!(changes.after, Some(json!({"id": app_id, "name": "Billing"})));
    assert_eq!(event.description(), Some("Created app Billing"));
    assert_context(&event, &created, "POST", "/apps");
    assert!(event.integrity().is_some(), "sealed by the store");

    // GET /apps/{id} → 200, not audited; the request id is the service's
    // own, whatever the client sent.
    let shown = server
        .send(
            Method::GET,
            &format!("/apps/{app_id}"),
            &[ALICE, ("x-request-id", "req-e2e-show-1")],
            None,
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json(), app);
    assert_ne!(shown.request_id(), "req-e2e-show-1");
    assert_eq!(uuid::Uuid::parse_str(shown.request_id()).unwrap().get_version_num(), 7);
    assert!(
        server.events_of(&shown).await.is_empty(),
        "reads of apps are not audited"
    );

    // PATCH /apps/{id} → app.updated with before/after and the diff
    let renamed = server
        .send(
            Method::PATCH,
            &format!("/apps/{app_id}"),
            &[ALICE],
            Some(json!({"name": "Invoicing"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.json(), json!({"id": app_id, "name": "Invoicing"}));
    let event = server.event_of(&renamed, "app.updated").await;
    assert_eq!(event.category(), Category::Update);
    assert_eq!(event.outcome(), Outcome::Success);
    assert_alice(&event);
    assert_eq!(event.target().unwrap().name.as_deref(), Some("Invoicing"));
    let changes = event.changes().unwrap();
    assert_eq!(changes.before, Some(json!({"id": app_id, "name": "Billing"})));
    assert_eq!(changes.after, Some(json!({"id": app_id, "name": "Invoicing"})));
    assert_eq!(changes.diff.len(), 1);
    assert_eq!(changes.diff[0].path, "/name");
    assert_eq!(changes.diff[0].old, Some(json!("Billing")));
    assert_eq!(changes.diff[0].new, Some(json!("Invoicing")));
    assert_context(&event, &renamed, "PATCH", "/apps/{id}");

    // POST /members with the API key → member.invited, the key itself nowhere
    let invited = server
        .send(
            Method::POST,
            "/members",
            &[CI_KEY],
            Some(json!({"email": "dave@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let member = invited.json();
    let member_id = member["id"].as_str().unwrap().to_owned();
    assert_eq!(
        member,
        json!({"id": member_id, "email": "dave@acme.test", "role": "member"})
    );
    let event = server.event_of(&invited, "member.invited").await;
    assert_eq!(event.category(), Category::Create);
    assert_eq!(event.outcome(), Outcome::Success);
    let actor = event.actor();
    assert_eq!((actor.kind, actor.id.as_str()), (ActorKind::ApiKey, "key_acme_ci"));
    assert_eq!(actor.roles, ["admin"]);
    assert_eq!(event.tenant_id(), Some("acme"));
    let target = event.target().unwrap();
    assert_eq!(
        (target.target_type.as_str(), target.id.as_str(), target.name.as_deref()),
        ("member", member_id.as_str(), Some("dave@acme.test"))
    );
    assert_eq!(event.changes().unwrap().after, Some(member.clone()));
    assert_context(&event, &invited, "POST", "/members");
    let stored = serde_json::to_string(&event).unwrap();
    assert!(!stored.contains("acme-ci-key"), "the API key is never stored: {stored}");

    // PATCH /members/{id}/role → member.role_changed with before/after roles
    let promoted = server
        .send(
            Method::PATCH,
            &format!("/members/{member_id}/role"),
            &[ALICE],
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.json()["role"], "admin");
    let event = server.event_of(&promoted, "member.role_changed").await;
    assert_eq!(event.category(), Category::Update);
    assert_eq!(event.severity(), Severity::Notice);
    assert_eq!(event.outcome(), Outcome::Success);
    assert_alice(&event);
    assert_eq!(event.target().unwrap().id, member_id);
    let changes = event.changes().unwrap();
    assert_eq!(changes.before.as_ref().unwrap()["role"], "member");
    assert_eq!(changes.after.as_ref().unwrap()["role"], "admin");
    assert_eq!(changes.diff.len(), 1);
    assert_eq!(changes.diff[0].path, "/role");
    assert_eq!(event.metadata()["requested_role"], "admin");
    assert_context(&event, &promoted, "PATCH", "/members/{id}/role");

    // DELETE /apps/{id} → 204, app.deleted, critical, the state before
    let deleted = server
        .send(Method::DELETE, &format!("/apps/{app_id}"), &[ALICE], None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let event = server.event_of(&deleted, "app.deleted").await;
    assert_eq!(event.category(), Category::Delete);
    assert_eq!(event.severity(), Severity::Critical);
    assert_eq!(event.outcome(), Outcome::Success);
    assert_alice(&event);
    assert_eq!(event.target().unwrap().name.as_deref(), Some("Invoicing"));
    let changes = event.changes().unwrap();
    assert_eq!(changes.before, Some(json!({"id": app_id, "name": "Invoicing"})));
    assert_eq!(changes.after, None);
    assert_context(&event, &deleted, "DELETE", "/apps/{id}");
    let gone = server
        .send(Method::GET, &format!("/apps/{app_id}"), &[ALICE], None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // A refused rename of the deleted app is a failure naming the app.
    let missing = server
        .send(
            Method::PATCH,
            &format!("/apps/{app_id}"),
            &[ALICE],
            Some(json!({"name": "Again"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let event = server.event_of(&missing, "app.updated").await;
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(event.reason(), Some("no such app"));
    assert_eq!(event.target().unwrap().id, app_id);

    // POST /login → auth.login, the actor named by the sign-in
    let login = server
        .send(
            Method::POST,
            "/login",
            &[],
            Some(json!({"email": "alice@acme.test", "password": "demo-password"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let event = server.event_of(&login, "auth.login").await;
    assert_eq!(event.category(), Category::Auth);
    assert_eq!(event.outcome(), Outcome::Success);
    assert_alice(&event);
    assert_eq!(event.target().unwrap().id, "user_alice");
    assert_context(&event, &login, "POST", "/login");
    assert!(!serde_json::to_string(&event).unwrap().contains("demo-password"));

    let stats = server.stop().await;
    assert_eq!(stats.dropped + stats.rejected, 0);
}

async fn sign_in_gives_a_token_and_a_session_cookie_that_authenticate(db: TestDb) {
    let server = Running::start(&db).await;
    let form = server.send(Method::GET, "/login", &[], None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(form.body.contains("<form") && form.body.contains("type=\"password\""));

    let login = server
        .send(
            Method::POST,
            "/login",
            &[],
            Some(json!({"email": "Carol@Globex.test", "password": "demo-password"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token = login.json()["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32);
    let cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("quickstart_session={token};")), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // The token as a bearer token, and the cookie as a browser sends it.
    let bearer = format!("Bearer {token}");
    let by_token = server
        .send(
            Method::POST,
            "/apps",
            &[("authorization", &bearer)],
            Some(json!({"name": "Radar"})),
        )
        .await;
    assert_eq!(by_token.status, StatusCode::CREATED, "{}", by_token.body);
    let session = format!("theme=dark; quickstart_session={token}");
    let by_cookie = server
        .send(
            Method::POST,
            "/apps",
            &[("cookie", &session)],
            Some(json!({"name": "Sonar"})),
        )
        .await;
    assert_eq!(by_cookie.status, StatusCode::CREATED, "{}", by_cookie.body);
    for reply in [&by_token, &by_cookie] {
        let event = server.event_of(reply, "app.created").await;
        assert_eq!(event.actor().id, "user_carol");
        assert_eq!(event.actor().roles, ["admin"]);
        assert_eq!(event.tenant_id(), Some("globex"));
        let stored = serde_json::to_string(&event).unwrap();
        assert!(!stored.contains(&token), "the session token is never stored");
    }
    // The cookie reads the audit log in a browser (carol is an admin).
    let read = server
        .send(
            Method::GET,
            "/audit-logs?action=app.created",
            &[("cookie", &session)],
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.json()["data"].as_array().unwrap().len(), 2);
    server.stop().await;
}

async fn missing_or_unknown_credentials_are_401_and_recorded(db: TestDb) {
    let server = Running::start(&db).await;
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("authorization", "Bearer acme-owner-nope")],
        &[("authorization", "Basic YWxpY2U6ZGVtby1wYXNzd29yZA==")],
        &[("x-api-key", "acme-ci-key-guess")],
        &[("cookie", "quickstart_session=0123456789abcdef")],
    ];
    let mut denied = 0;
    for headers in cases {
        for (method, path, body) in [
            (Method::POST, "/apps", Some(json!({"name": "x"}))),
            (Method::GET, "/apps/app_1", None),
            (Method::GET, "/audit-logs", None),
        ] {
            let reply = server.send(method.clone(), path, headers, body).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {headers:?}"
            );
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
            let events = server.events_of(&reply).await;
            denied += 1;
            if denied > 10 {
                // Past the layer's default limit (10 per client per minute)
                // a denial is counted, not stored on its own.
                assert_eq!(events, [], "denial {denied} of one client within a minute");
                continue;
            }
            assert_eq!(events.len(), 1, "{events:?}");
            assert_eq!(events[0].action().as_str(), "auth.denied");
            assert_eq!(events[0].outcome(), Outcome::Denied);
            assert_eq!(events[0].actor().kind, ActorKind::Anonymous);
            assert_eq!(events[0].tenant_id(), None);
            let stored = serde_json::to_string(&events[0]).unwrap();
            assert!(!stored.contains("guess") && !stored.contains("nope"), "{stored}");
        }
    }
    let store = server.store.clone();
    server.stop().await;
    // The count is stored when the window ends, or (here) when the server
    // stops before it does.
    let summaries: Vec<_> = all_events(&store)
        .await
        .into_iter()
        .filter(|e| e.action().as_str() == "auth.denied" && e.metadata().contains_key("suppressed"))
        .collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert_eq!(summaries[0].metadata()["suppressed"], json!(5));
    assert_eq!(
        summaries[0].description(),
        Some("5 more denied requests from 127.0.0.1 within 60 s")
    );
    let stored = serde_json::to_string(&summaries[0]).unwrap();
    assert!(!stored.contains("guess") && !stored.contains("nope"), "{stored}");
}

async fn tenants_see_neither_each_others_apps_nor_their_events(db: TestDb) {
    let server = Running::start(&db).await;
    let acme_app = server
        .send(Method::POST, "/apps", &[ALICE], Some(json!({"name": "Acme Secret"})))
        .await
        .json();
    let acme_id = acme_app["id"].as_str().unwrap();
    let globex_app = server
        .send(Method::POST, "/apps", &[CAROL], Some(json!({"name": "Globex Plan"})))
        .await
        .json();
    let globex_id = globex_app["id"].as_str().unwrap();

    // Another tenant's app is a 404 for every route, exactly as an unknown id.
    let path = format!("/apps/{acme_id}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "pwned"}))),
        (Method::DELETE, None),
    ] {
        let reply = server.send(method.clone(), &path, &[CAROL], body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(reply.json()["error"]["code"], "not_found");
        // Any event of the attempt belongs to the caller's tenant.
        for event in server.events_of(&reply).await {
            assert_eq!(event.tenant_id(), Some("globex"));
            assert_eq!(event.outcome(), Outcome::Failure);
        }
    }
    let still = server.send(Method::GET, &path, &[ALICE], None).await;
    assert_eq!(still.json(), acme_app, "untouched");
    let other = server
        .send(Method::GET, &format!("/apps/{globex_id}"), &[ALICE], None)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // The read side: each admin sees their own tenant only.
    server.auditor.flush().await.unwrap();
    let carol_sees = server.send(Method::GET, "/audit-logs?limit=200", &[CAROL], None).await;
    assert_eq!(carol_sees.status, StatusCode::OK, "{}", carol_sees.body);
    let events = carol_sees.json()["data"].as_array().unwrap().clone();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["tenant_id"] == "globex"), "{events:?}");
    assert!(!carol_sees.body.contains("Acme Secret"));
    let alice_sees = server
        .send(Method::GET, "/audit-logs?limit=200", &[ALICE], None)
        .await
        .json();
    let alice_events = alice_sees["data"].as_array().unwrap();
    assert!(alice_events.iter().all(|e| e["tenant_id"] == "acme"));
    let acme_created = alice_events.iter().find(|e| e["action"] == "app.created").unwrap();
    assert_eq!(acme_created["target"]["id"], acme_id);
    // An acme event by id is a 404 for carol; naming acme is a 403.
    let by_id = format!("/audit-logs/{}", acme_created["id"].as_str().unwrap());
    assert_eq!(
        server.send(Method::GET, &by_id, &[CAROL], None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.send(Method::GET, &by_id, &[ALICE], None).await.status,
        StatusCode::OK
    );
    let naming = server
        .send(Method::GET, "/audit-logs?tenant_id=acme", &[CAROL], None)
        .await;
    assert_eq!(naming.status, StatusCode::FORBIDDEN);
    let export = server
        .send(Method::GET, "/audit-logs/export?format=ndjson", &[CAROL], None)
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let exported: Vec<Value> = export.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!exported.is_empty());
    assert!(exported.iter().all(|e| e["tenant_id"] == "globex"));
    assert!(!export.body.contains("Acme Secret"));
    // A member reads nothing.
    let bob = server.send(Method::GET, "/audit-logs", &[BOB], None).await;
    assert_eq!(bob.status, StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn forwarded_headers_count_only_from_a_trusted_peer(db: TestDb) {
    let spoof = ("x-forwarded-for", "198.51.100.66, 203.0.113.9");

    // Nothing trusted (the default): the header is ignored.
    let untrusted = Running::start(&db).await;
    let reply = untrusted
        .send(Method::POST, "/apps", &[ALICE, spoof], Some(json!({"name": "Edge"})))
        .await;
    let event = untrusted.event_of(&reply, "app.created").await;
    assert_context(&event, &reply, "POST", "/apps");
    untrusted.stop().await;

    // Loopback trusted (--trusted-proxy 127.0.0.0/8): the right-most
    // untrusted address of X-Forwarded-For is the client.
    let trusted = Running::start_with(Config::new(db.url()).trusted_proxies(["127.0.0.0/8".parse().unwrap()])).await;
    let reply = trusted
        .send(Method::POST, "/apps", &[ALICE, spoof], Some(json!({"name": "Edge"})))
        .await;
    let event = trusted.event_of(&reply, "app.created").await;
    let context = event.context();
    assert_eq!(context.client_ip, Some("203.0.113.9".parse().unwrap()));
    assert_eq!(context.peer_ip, Some(loopback()));
    assert_eq!(context.ip_source, Some(IpSource::XForwardedFor));
    // Trusted hops are skipped too.
    let reply = trusted
        .send(
            Method::POST,
            "/apps",
            &[ALICE, ("x-forwarded-for", "203.0.113.77, 127.0.0.5")],
            Some(json!({"name": "Edge 2"})),
        )
        .await;
    let event = trusted.event_of(&reply, "app.created").await;
    assert_eq!(event.context().client_ip, Some("203.0.113.77".parse().unwrap()));
    // And the read side can filter by it.
    let by_ip = trusted
        .send(Method::GET, "/audit-logs?ip=203.0.113.9", &[ALICE], None)
        .await;
    assert_eq!(by_ip.status, StatusCode::OK, "{}", by_ip.body);
    assert_eq!(by_ip.json()["data"].as_array().unwrap().len(), 1, "{}", by_ip.body);
    trusted.stop().await;
}

/// The quickstart behind a proxy on loopback that appends to
/// `X-Forwarded-For` and passes `Forwarded` through from the client (nginx's
/// usual set-up): the client's `Forwarded` must not name the client (it
/// did: `for=6.6.6.6` was recorded) nor hide the proxy's header (it did:
/// `proto=https` made the proxy's own address the client).
async fn a_client_sent_forwarded_header_never_beats_the_proxys_x_forwarded_for(db: TestDb) {
    let proxy = ["127.0.0.0/8".parse().unwrap()];
    let server = Running::start_with(Config::new(db.url()).trusted_proxies(proxy)).await;
    for forwarded in ["for=6.6.6.6", "proto=https"] {
        let reply = server
            .send(
                Method::POST,
                "/apps",
                &[ALICE, ("forwarded", forwarded), ("x-forwarded-for", "203.0.113.9")],
                Some(json!({"name": "Edge"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let context = server.event_of(&reply, "app.created").await.context().clone();
        assert_eq!(context.client_ip, Some("203.0.113.9".parse().unwrap()), "{forwarded}");
        assert_eq!(context.ip_source, Some(IpSource::XForwardedFor), "{forwarded}");
        assert_eq!(context.peer_ip, Some(loopback()));
    }
    server.stop().await;
}

/// `--client-ip-header x-real-ip` and `forwarded`: the configured header
/// names the client, the others a client may send are never read, and a
/// header the proxy did not set as it should falls back to the peer.
async fn only_the_configured_client_ip_header_is_read(db: TestDb) {
    let proxy = ["127.0.0.0/8".parse().unwrap()];
    let spoofs = [
        ("forwarded", "for=6.6.6.6"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-real-ip", "6.6.6.6"),
    ];
    // What reaches the service: the client's spoofs, then the proxy's own
    // header (appended to a client's `Forwarded`; an `X-Real-Ip` the proxy
    // sets replaces the client's).
    let behind_x_real_ip = [spoofs[0], spoofs[1], ("x-real-ip", "203.0.113.10")];
    let behind_forwarded = [spoofs[0], spoofs[1], spoofs[2], ("forwarded", "for=203.0.113.10")];
    for (source, forwarded, header, recorded) in [
        (
            ClientIpSource::XRealIp,
            &behind_x_real_ip[..],
            "x-real-ip",
            IpSource::XRealIp,
        ),
        (
            ClientIpSource::Forwarded,
            &behind_forwarded[..],
            "forwarded",
            IpSource::Forwarded,
        ),
    ] {
        let config = Config::new(db.url()).trusted_proxies(proxy).client_ip_source(source);
        let server = Running::start_with(config).await;
        let headers: Vec<_> = [ALICE].into_iter().chain(forwarded.iter().copied()).collect();
        let reply = server
            .send(Method::POST, "/apps", &headers, Some(json!({"name": "Edge"})))
            .await;
        let context = server.event_of(&reply, "app.created").await.context().clone();
        assert_eq!(context.client_ip, Some("203.0.113.10".parse().unwrap()), "{source:?}");
        assert_eq!(context.ip_source, Some(recorded), "{source:?}");

        // Only the others: none of them is read, the peer is the client.
        let others: Vec<_> = [ALICE]
            .into_iter()
            .chain(spoofs.into_iter().filter(|(name, _)| *name != header))
            .collect();
        let reply = server
            .send(Method::POST, "/apps", &others, Some(json!({"name": "Edge"})))
            .await;
        let context = server.event_of(&reply, "app.created").await.context().clone();
        assert_eq!(context.client_ip, Some(loopback()), "{source:?}");
        assert_eq!(context.ip_source, Some(IpSource::Peer), "{source:?}");
        server.stop().await;
    }

    // X-Real-Ip sent by the client and set again by a proxy that appends
    // instead of replacing: two lines, neither believed.
    let config = Config::new(db.url())
        .trusted_proxies(proxy)
        .client_ip_source(ClientIpSource::XRealIp);
    let server = Running::start_with(config).await;
    let reply = server
        .send(
            Method::POST,
            "/apps",
            &[ALICE, ("x-real-ip", "6.6.6.6"), ("x-real-ip", "203.0.113.10")],
            Some(json!({"name": "Edge"})),
        )
        .await;
    let context = server.event_of(&reply, "app.created").await.context().clone();
    assert_eq!(context.client_ip, Some(loopback()));
    assert_eq!(context.ip_source, Some(IpSource::Peer));
    server.stop().await;
}

/// Issue 24: three events in two tenants shared the client-chosen
/// `X-Request-Id: replay-1`, so a forged id could link unrelated events.
/// Each request now has the service's own id; the client's is kept beside it.
async fn a_client_request_id_reused_across_tenants_links_no_events(db: TestDb) {
    let server = Running::start(&db).await;
    let mut replies = Vec::new();
    for (caller, name) in [(ALICE, "Acme One"), (CAROL, "Globex One"), (ALICE, "Acme Two")] {
        let reply = server
            .send(
                Method::POST,
                "/apps",
                &[caller, ("x-request-id", "replay-1")],
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_ne!(
            reply.request_id(),
            "replay-1",
            "the client's id is not echoed as the request id"
        );
        replies.push(reply);
    }
    let mut tenants = Vec::new();
    for reply in &replies {
        let event = server.event_of(reply, "app.created").await;
        assert_eq!(event.context().request_id.as_deref(), Some(reply.request_id()));
        assert_eq!(event.context().client_request_id.as_deref(), Some("replay-1"));
        tenants.push(event.tenant_id().map(str::to_owned));
    }
    assert_eq!(
        tenants,
        [Some("acme".into()), Some("globex".into()), Some("acme".into())]
    );
    let mut ids: Vec<&str> = replies.iter().map(|reply| reply.request_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three requests, three request ids");
    // The read side finds nothing under the forged id, and the stored JSON
    // (what the API, exports and the hash cover) carries both.
    assert!(events_with_request_id(&server.store, "replay-1").await.is_empty());
    let shown = server
        .send(Method::GET, "/audit-logs?request_id=replay-1", &[ALICE], None)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.json()["data"], json!([]));
    let acme = server
        .send(
            Method::GET,
            &format!("/audit-logs?request_id={}", replies[0].request_id()),
            &[ALICE],
            None,
        )
        .await
        .json();
    assert_eq!(acme["data"][0]["context"]["client_request_id"], "replay-1");
    assert_eq!(acme["data"][0]["context"]["request_id"], replies[0].request_id());
    server.stop().await;
}

/// Issue 21: a request carrying a W3C `traceparent` records its trace id
/// and the caller's span id in the event context, stored, hashed and shown
/// by the API; a malformed header records neither.
async fn a_traced_request_links_its_event_to_the_trace(db: TestDb) {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let server = Running::start(&db).await;
    let traced = server
        .send(
            Method::POST,
            "/apps",
            &[ALICE, ("traceparent", &format!("00-{TRACE}-00f067aa0ba902b7-01"))],
            Some(json!({ "name": "Traced" })),
        )
        .await;
    assert_eq!(traced.status, StatusCode::CREATED, "{}", traced.body);
    let malformed = server
        .send(
            Method::POST,
            "/apps",
            &[
                ALICE,
                (
                    "traceparent",
                    &format!("00-{}-00f067aa0ba902b7-01", TRACE.to_uppercase()),
                ),
            ],
            Some(json!({ "name": "Untraced" })),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::CREATED, "{}", malformed.body);

    let event = server.event_of(&traced, "app.created").await;
    assert_eq!(event.context().trace_id.as_deref(), Some(TRACE));
    assert_eq!(event.context().span_id.as_deref(), Some("00f067aa0ba902b7"));
    let untraced = server.event_of(&malformed, "app.created").await;
    assert_eq!(untraced.context().trace_id, None);
    assert_eq!(untraced.context().span_id, None);
    // The hash covers the trace id: the stream still verifies as stored.
    assert!(server.store.verify("tenant:acme").await.unwrap().is_intact());
    let shown = server
        .send(
            Method::GET,
            &format!("/audit-logs?request_id={}", traced.request_id()),
            &[ALICE],
            None,
        )
        .await
        .json();
    assert_eq!(shown["data"][0]["context"]["trace_id"], TRACE);
    assert_eq!(shown["data"][0]["context"]["span_id"], "00f067aa0ba902b7");
    server.stop().await;
}

/// The sign-in page takes a password, so it gets the audit page's
/// protection: it was served without a Content-Security-Policy or
/// `X-Frame-Options`, with inline script and style.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_forbids_framing_and_inline_script() {
    let db = TestDb::sqlite();
    let server = Running::start(&db).await;
    let page = server.send(Method::GET, "/login?next=/audit-logs/ui", &[], None).await;
    let script = server.send(Method::GET, "/login/login.js", &[], None).await;
    let style = server.send(Method::GET, "/login/login.css", &[], None).await;
    for (reply, content_type) in [
        (&page, "text/html; charset=utf-8"),
        (&script, "text/javascript; charset=utf-8"),
        (&style, "text/css; charset=utf-8"),
    ] {
        assert_eq!(reply.status, StatusCode::OK, "{content_type}");
        assert_eq!(reply.headers["content-type"], content_type);
        let policy = reply.headers["content-security-policy"].to_str().unwrap();
        let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(directives.contains(&directive), "{directive} in {policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["referrer-policy"], "no-referrer");
    }
    // Under that policy an inline script or style would not run: the page
    // must have none, and load its own files instead.
    assert!(page.body.contains(r#"<script src="/login/login.js""#), "{}", page.body);
    assert!(page.body.contains(r#"<link rel="stylesheet" href="/login/login.css">"#));
    assert_eq!(page.body.matches("<script").count(), 1, "{}", page.body);
    for inline in ["<style", "style=", "javascript:", " onsubmit=", " onclick=", " onload="] {
        assert!(!page.body.contains(inline), "{inline} in {}", page.body);
    }
    assert!(script.body.contains("fetch(\"/login\""), "{}", script.body);
    assert!(style.body.contains("#result"), "{}", style.body);
    server.stop().await;
}

async fn a_members_role_change_is_403_and_recorded_denied(db: TestDb) {
    let server = Running::start(&db).await;
    let reply = server
        .send(
            Method::PATCH,
            "/members/user_alice/role",
            &[BOB],
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "forbidden");
    let event = server.event_of(&reply, "member.role_changed").await;
    assert_eq!(event.outcome(), Outcome::Denied);
    assert_eq!(event.reason(), Some("only an owner or admin of the tenant may do this"));
    assert_eq!(event.actor().id, "user_bob");
    assert_eq!(event.actor().roles, ["member"]);
    assert_eq!(event.tenant_id(), Some("acme"));
    let target = event.target().unwrap();
    assert_eq!(
        (target.target_type.as_str(), target.id.as_str(), target.name.as_deref()),
        ("member", "user_alice", Some("alice@acme.test"))
    );
    assert!(event.changes().is_none(), "nothing changed");
    assert_eq!(event.metadata()["requested_role"], "member");
    assert_context(&event, &reply, "PATCH", "/members/{id}/role");
    // The layer's own record of the 403, in the same request.
    let events = server.events_of(&reply).await;
    assert!(events.iter().any(|e| e.action().as_str() == "auth.denied"));

    // Alice is still the owner: she can promote bob, who then may.
    let promoted = server
        .send(
            Method::PATCH,
            "/members/user_bob/role",
            &[ALICE],
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    let now_allowed = server
        .send(
            Method::POST,
            "/members",
            &[BOB],
            Some(json!({"email": "erin@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(now_allowed.status, StatusCode::CREATED, "{}", now_allowed.body);
    let event = server.event_of(&now_allowed, "member.invited").await;
    assert_eq!(event.actor().roles, ["admin"], "the new role counts at once");
    server.stop().await;
}

async fn a_failed_login_is_recorded_in_the_accounts_tenant_without_the_password(db: TestDb) {
    let server = Running::start(&db).await;
    let password = format!("Tr0ub4dor&3-{}", uuid::Uuid::now_v7().simple());
    let failed = server
        .send(
            Method::POST,
            "/login",
            &[],
            Some(json!({"email": "bob@acme.test", "password": password})),
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(failed.headers.get("set-cookie").is_none());
    assert!(!failed.body.contains(&password));
    let event = server.event_of(&failed, "auth.login").await;
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(event.reason(), Some("invalid email or password"));
    assert_eq!(event.severity(), Severity::Warning);
    assert_eq!(event.category(), Category::Auth);
    assert_eq!(event.tenant_id(), Some("acme"), "in the tenant of the account");
    assert_eq!(event.actor().kind, ActorKind::Anonymous);
    assert_eq!(event.target().unwrap().id, "user_bob");
    assert_eq!(event.metadata()["email"], "bob@acme.test");
    assert_context(&event, &failed, "POST", "/login");
    for event in server.events_of(&failed).await {
        let stored = serde_json::to_string(&event).unwrap();
        assert!(
            !stored.contains(&password),
            "the password never reaches the store: {stored}"
        );
    }

    // An unknown email: the same answer, recorded without a tenant.
    let unknown = server
        .send(
            Method::POST,
            "/login",
            &[],
            Some(json!({"email": "mallory@evil.test", "password": password})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, failed.body);
    let event = server.event_of(&unknown, "auth.login").await;
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(event.tenant_id(), None);

    // Acme's owner sees the failure in an export; no password in it.
    server.auditor.flush().await.unwrap();
    let export = server
        .send(
            Method::GET,
            "/audit-logs/export?format=csv&action=auth.login",
            &[ALICE],
            None,
        )
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert!(!export.body.contains(&password));
    let mut rows = csv::Reader::from_reader(export.body.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, CSV_COLUMNS);
    let column = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "acme's one login attempt");
    assert_eq!(&rows[0][column("outcome")], "failure");
    assert_eq!(&rows[0][column("target_id")], "user_bob");
    assert_eq!(&rows[0][column("request_id")], failed.request_id());
    // Globex's admin does not see it.
    let globex = server
        .send(Method::GET, "/audit-logs?action=auth.login", &[CAROL], None)
        .await
        .json();
    assert!(globex["data"].as_array().unwrap().is_empty());

    // Nor is it in the stored rows at all, whatever the column.
    let url = db.url();
    server.stop().await;
    let store = audit_store::connect(&url).await.unwrap();
    let everything = all_events(&store).await;
    assert!(everything.iter().any(|e| e.action().as_str() == "auth.login"));
    assert!(
        everything
            .iter()
            .all(|e| !serde_json::to_string(e).unwrap().contains(&password))
    );
}

async fn graceful_shutdown_stores_the_events_of_every_answered_request(db: TestDb) {
    const N: usize = 80;
    let server = Running::start(&db).await;
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..N {
        let http = server.http.clone();
        let answers = answers.clone();
        tokio::spawn(async move {
            let who = if n % 2 == 0 { ALICE } else { CI_KEY };
            let reply = http
                .try_send(Method::POST, "/apps", &[who], Some(json!({"name": format!("App {n}")})))
                .await;
            let _ = answers.send(reply.ok());
        });
    }
    drop(answers);
    // Shut down (as Ctrl-C does) once a few are answered, the rest still
    // arriving or in flight: those the server took are finished first.
    let mut replies = Vec::new();
    while replies.len() < 10 {
        replies.push(answered.recv().await.unwrap());
    }
    let stats = server.stop().await;
    assert_eq!(stats.dropped + stats.rejected, 0, "{stats:?}");
    while let Some(reply) = answered.recv().await {
        replies.push(reply);
    }
    assert_eq!(replies.len(), N);
    let answered: Vec<Reply> = replies.into_iter().flatten().collect();
    assert!(answered.len() >= 10);
    assert!(answered.iter().all(|r| r.status == StatusCode::CREATED));

    // A fresh connection after the process would have exited: every
    // answered request's event is there.
    let store = audit_store::connect(&db.url()).await.unwrap();
    let stored = all_events(&store).await;
    for reply in &answered {
        let app_id = reply.json()["id"].as_str().unwrap().to_owned();
        let event = stored
            .iter()
            .find(|e| e.context().request_id.as_deref() == Some(reply.request_id()))
            .unwrap_or_else(|| panic!("the event of answered request {} is missing", reply.request_id()));
        assert_eq!(event.action().as_str(), "app.created");
        assert_eq!(event.target().unwrap().id, app_id);
        assert_eq!(event.outcome(), Outcome::Success);
    }
    let created = stored.iter().filter(|e| e.action().as_str() == "app.created").count();
    assert!(created >= answered.len());
    assert_eq!(
        stored.last().unwrap().action().as_str(),
        "audit.stopped",
        "drained, then stopped"
    );
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn seeding_fills_the_read_side_once(db: TestDb) {
    let server = Running::start(&db).await;
    let seeded = quickstart::seed::seed_demo(&server.store, &server.auditor)
        .await
        .unwrap();
    assert_eq!(
        seeded,
        quickstart::seed::Seeded::Recorded(quickstart::seed::SEED_EVENTS)
    );
    let again = quickstart::seed::seed_demo(&server.store, &server.auditor)
        .await
        .unwrap();
    assert_eq!(again, quickstart::seed::Seeded::AlreadySeeded);

    let events = all_events(&server.store).await;
    let demo: Vec<&Event> = events
        .iter()
        .filter(|e| e.action().as_str() != "audit.started")
        .collect();
    assert_eq!(demo.len(), quickstart::seed::SEED_EVENTS);
    let tenants: std::collections::BTreeSet<_> = demo.iter().filter_map(|e| e.tenant_id()).collect();
    assert_eq!(tenants.into_iter().collect::<Vec<_>>(), ["acme", "globex", "initech"]);
    let actors: std::collections::BTreeSet<_> = demo.iter().map(|e| e.actor().id.as_str()).collect();
    assert!(actors.len() >= 6, "{actors:?}");
    for outcome in [Outcome::Success, Outcome::Failure, Outcome::Denied] {
        assert!(demo.iter().any(|e| e.outcome() == outcome), "{outcome:?}");
    }
    for severity in [Severity::Info, Severity::Notice, Severity::Warning, Severity::Critical] {
        assert!(demo.iter().any(|e| e.severity() == severity), "{severity:?}");
    }
    let now = audit_core::Timestamp::now().unix_micros();
    let oldest = demo.iter().map(|e| e.occurred_at().unix_micros()).min().unwrap();
    assert!(now - oldest > 20 * 86_400_000_000 && now - oldest <= 30 * 86_400_000_000);

    // The read side's default 30-day window shows acme's share.
    let page = server
        .send(Method::GET, "/audit-logs?limit=200", &[ALICE], None)
        .await
        .json();
    assert!(page["data"].as_array().unwrap().len() > 50);
    let counts = server
        .send(Method::GET, "/audit-logs/actions", &[ALICE], None)
        .await
        .json();
    assert!(counts.as_array().unwrap().len() >= 6, "{counts}");
    for stream in server.store.streams().await.unwrap() {
        assert!(server.store.verify(&stream).await.unwrap().is_intact(), "{stream}");
    }
    server.stop().await;
}

async fn an_unsupported_method_is_405_before_401_and_the_openapi_document_is_public(db: TestDb) {
    let server = Running::start(&db).await;
    for path in [
        "/apps",
        "/apps/app_1",
        "/members/user_bob/role",
        "/audit-logs",
        "/audit-logs/export",
    ] {
        for method in [Method::TRACE, Method::PUT, Method::OPTIONS] {
            let reply = server.send(method.clone(), path, &[], None).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                reply.body
            );
            assert!(reply.headers.contains_key("allow"), "{method} {path}");
            // A 405 is no denial: nothing is recorded for it.
            assert_eq!(server.events_of(&reply).await, [], "{method} {path}");
        }
    }
    // Signed out, the document loads, and says where the API lives and
    // which credentials the quickstart takes.
    let reply = server.send(Method::GET, "/audit-logs/openapi.json", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let doc = reply.json();
    assert_eq!(doc["servers"][0]["url"], "/audit-logs");
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut names: Vec<&str> = schemes.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["bearer", "cookie_quickstart_session", "header_x_api_key"]);
    assert_eq!(schemes["header_x_api_key"]["name"], "X-Api-Key");
    // The data behind it still needs credentials.
    let reply = server.send(Method::GET, "/audit-logs", &[], None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn with_a_signing_key_the_last_checkpoints_cover_every_event_at_shutdown(db: TestDb) {
    use audit_store::checkpoint::{Checkpoint, SigningKey};

    let dir = std::env::temp_dir().join(format!("quickstart-checkpoints-{}", uuid::Uuid::now_v7()));
    let key = SigningKey::generate("quickstart.test").unwrap();
    // An hour apart: only the round at shutdown signs in this test.
    let config = Config::new(db.url()).checkpoints(key.clone(), &dir, std::time::Duration::from_secs(3600));
    let server = Running::start_with(config).await;
    for n in 0..3 {
        let reply = server
            .send(
                Method::POST,
                "/apps",
                &[ALICE],
                Some(json!({"name": format!("App {n}")})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    server.stop().await;

    let store = audit_store::connect(&db.url()).await.unwrap();
    for stream in store.streams().await.unwrap() {
        let head = store.tree_head(&stream, None).await.unwrap();
        let file = audit_store::checkpoint::DirectorySink::new(&dir).path_of(&stream, head.size);
        let note = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no checkpoint of {stream} at its head {}: {e}", head.size));
        let checkpoint = Checkpoint::open(&note, &key.verifier_key()).unwrap();
        assert_eq!(checkpoint.root, head.root, "{stream}");
        let report = store
            .verify_against(
                &stream,
                &[audit_store::TreeHead {
                    stream: stream.clone(),
                    size: checkpoint.size,
                    root: checkpoint.root,
                }],
            )
            .await
            .unwrap();
        assert_eq!(report.checkpoints_met, 1, "{report:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn the_platform_auditor_reads_every_tenant_and_the_pipelines_health(db: TestDb) {
    let server = Running::start(&db).await;
    for (who, name) in [(ALICE, "Acme Billing"), (CAROL, "Globex Plan")] {
        let created = server
            .send(Method::POST, "/apps", &[who], Some(json!({ "name": name })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    server.auditor.flush().await.unwrap();
    let dana_sees = server
        .send(Method::GET, "/audit-logs?action=app.created", &[DANA], None)
        .await;
    assert_eq!(dana_sees.status, StatusCode::OK, "{}", dana_sees.body);
    let tenants: Vec<Value> = dana_sees.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["tenant_id"].clone())
        .collect();
    assert!(
        tenants.contains(&json!("acme")) && tenants.contains(&json!("globex")),
        "{tenants:?}"
    );

    // The pipeline's health is hers alone: a tenant's owner gets 403.
    let health = server.send(Method::GET, "/audit-logs/health", &[DANA], None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    assert_eq!(health.json()["status"], "ok", "{}", health.body);
    let alice = server.send(Method::GET, "/audit-logs/health", &[ALICE], None).await;
    assert_eq!(alice.status, StatusCode::FORBIDDEN, "{}", alice.body);
    assert!(alice.body.contains("platform role `auditor`"), "{}", alice.body);

    // Her reads are recorded under her name, in no tenant.
    server.auditor.flush().await.unwrap();
    let viewed = server.events_of(&dana_sees).await;
    let viewed = viewed
        .iter()
        .find(|e| e.action().as_str() == "audit_log.viewed")
        .expect("her read is recorded");
    assert_eq!(viewed.actor().id, "user_dana");
    assert_eq!(viewed.tenant_id(), None);
    server.stop().await;
}

/// `#[audited]` actions are checked against `examples/quickstart/audit.toml`
/// at compile time; this covers the rest of a run: the events the seed builds
/// by hand and those the audit crates record (denials, reads of the log, the
/// auditor's start and stop). It also fails when the file declares an action
/// the run never records, so the catalogue cannot go stale.
async fn every_action_of_a_run_is_declared_in_the_quickstart_catalogue(db: TestDb) {
    use quickstart::actions::CATALOGUE;

    let server = Running::start(&db).await;
    quickstart::seed::seed_demo(&server.store, &server.auditor)
        .await
        .unwrap();
    let created = server
        .send(Method::POST, "/apps", &[ALICE], Some(json!({"name": "Catalogue"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let app = format!("/apps/{}", created.json()["id"].as_str().unwrap());
    let renamed = server
        .send(Method::PATCH, &app, &[ALICE], Some(json!({"name": "Catalogue 2"})))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(
        server.send(Method::DELETE, &app, &[ALICE], None).await.status,
        StatusCode::NO_CONTENT
    );
    let invited = server
        .send(
            Method::POST,
            "/members",
            &[ALICE],
            Some(json!({"email": "erin@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let role = format!("/members/{}/role", invited.json()["id"].as_str().unwrap());
    let promoted = server
        .send(Method::PATCH, &role, &[ALICE], Some(json!({"role": "admin"})))
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    for password in ["demo-password", "wrong"] {
        server
            .send(
                Method::POST,
                "/login",
                &[],
                Some(json!({"email": "alice@acme.test", "password": password})),
            )
            .await;
    }
    assert_eq!(
        server
            .send(Method::POST, "/apps", &[], Some(json!({"name": "Anonymous"})))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.send(Method::GET, "/audit-logs", &[ALICE], None).await.status,
        StatusCode::OK
    );
    let export = server
        .send(Method::GET, "/audit-logs/export?format=ndjson", &[ALICE], None)
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let stats = server.stop().await;
    assert_eq!(stats.dropped + stats.rejected, 0, "{stats:?}");

    let store = audit_store::connect(&db.url()).await.unwrap();
    let recorded: std::collections::BTreeSet<String> = all_events(&store)
        .await
        .iter()
        .map(|event| event.action().as_str().to_owned())
        .collect();
    let undeclared: Vec<&String> = recorded.iter().filter(|action| !CATALOGUE.contains(action)).collect();
    assert!(undeclared.is_empty(), "recorded but not in audit.toml: {undeclared:?}");
    let unused: Vec<&str> = CATALOGUE.names().filter(|name| !recorded.contains(*name)).collect();
    assert!(
        unused.is_empty(),
        "declared in audit.toml but never recorded: {unused:?}"
    );
}
