//! The layer over real HTTP on loopback: an axum server with
//! `into_make_service_with_connect_info`, a hyper client, the memory sink.

use std::net::SocketAddr;
use std::time::Duration;

use audit_core::{
    Action, Actor, ActorKind, Auditor, Draft, Event, IpSource, MemorySink, Outcome, OverflowPolicy, REDACTED, Severity,
};
use audit_tower::{
    ApiKeyActor, AuditContext, AuditLayer, ClientIpSource, Delivery, DeniedLimit, ExtractActor, Principal,
    TenantFromHeader,
};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

struct Server {
    address: SocketAddr,
    client: Client<HttpConnector, String>,
}

impl Server {
    async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .unwrap();
        });
        Self {
            address,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, HeaderValue)],
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address));
        for (name, value) in headers {
            request = request.header(*name, value.clone());
        }
        let response = self.client.request(request.body(String::new()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        (parts.status, parts.headers, body)
    }
}

fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

fn quiet_auditor(sink: &MemorySink) -> Auditor {
    Auditor::builder().lifecycle_events(false).start(sink.clone())
}

/// A handler that records `app.deleted` the way `#[audited]` will.
async fn delete_app() -> StatusCode {
    let draft = Draft::open(Action::from_static("app.deleted").unwrap());
    draft.update(|b| b.severity(Severity::Critical));
    draft.complete();
    StatusCode::NO_CONTENT
}

/// The application's own authentication, in front of the audit layer.
async fn bearer_auth(mut request: Request, next: Next) -> Response {
    let principal = match request.headers().get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer acme-owner") => Principal::new(
            Actor::user("user_alice")
                .with_email("alice@acme.test")
                .with_role("owner"),
        )
        .in_tenant("acme"),
        Some("Bearer globex-admin") => Principal::new(Actor::user("user_carol").with_role("admin")).in_tenant("globex"),
        Some("Bearer freelancer") => Principal::new(Actor::user("user_dan")),
        _ => return next.run(request).await,
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

async fn events_after(auditor: &Auditor, sink: &MemorySink) -> Vec<Event> {
    auditor.flush().await.unwrap();
    sink.events()
}

fn app_with(layer: AuditLayer<impl ExtractActor, impl audit_tower::ClaimTenant>) -> Router {
    Router::new()
        .route("/apps/{id}", delete(delete_app))
        .route("/whoami", get(|audit: AuditContext| async move { audit.actor().id }))
        .route(
            "/request-id",
            get(|request: Request| async move { format!("{:?}", request.headers().get("x-request-id")) }),
        )
        .route(
            "/client-request-id",
            get(|audit: AuditContext| async move { format!("{:?}", audit.request().context.client_request_id) }),
        )
        .layer(layer)
        .layer(middleware::from_fn(bearer_auth))
}

#[tokio::test]
async fn event_carries_actor_tenant_ip_user_agent_request_id_route_and_status() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;

    let (status, headers, _) = server
        .send(
            Method::DELETE,
            "/apps/app_42",
            &[
                ("authorization", header("Bearer acme-owner")),
                ("user-agent", header("audit-test/1.0")),
                ("x-request-id", header("req_01HZX")),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let request_id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(request_id).unwrap().get_version_num(),
        7,
        "the layer's own id is echoed, not the client's"
    );

    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.action().as_str(), "app.deleted");
    assert_eq!(event.actor().id, "user_alice");
    assert_eq!(event.actor().email.as_deref(), Some("alice@acme.test"));
    assert_eq!(event.tenant_id(), Some("acme"));
    assert_eq!(event.outcome(), Outcome::Success);
    assert_eq!(event.severity(), Severity::Critical);
    let context = event.context();
    assert_eq!(context.client_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(context.peer_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(context.ip_source, Some(IpSource::Peer));
    assert_eq!(context.user_agent.as_deref(), Some("audit-test/1.0"));
    assert_eq!(context.request_id.as_deref(), Some(request_id));
    assert_eq!(context.client_request_id.as_deref(), Some("req_01HZX"));
    assert_eq!(context.method.as_deref(), Some("DELETE"));
    assert_eq!(
        context.route.as_deref(),
        Some("/apps/{id}"),
        "the template, not the raw path"
    );
    assert_eq!(context.status, Some(204));
}

#[tokio::test]
async fn no_actor_means_anonymous() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;
    server.send(Method::DELETE, "/apps/app_1", &[]).await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events[0].actor().kind, ActorKind::Anonymous);
    assert_eq!(events[0].tenant_id(), None);
}

#[tokio::test]
async fn spoofed_forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let layer = AuditLayer::new(auditor.clone()).trusted_proxies(["10.0.0.0/8".parse().unwrap()]);
    let server = Server::start(app_with(layer)).await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[
                ("x-forwarded-for", header("1.2.3.4")),
                ("forwarded", header("for=5.6.7.8")),
            ],
        )
        .await;
    let event = &events_after(&auditor, &sink).await[0];
    assert_eq!(event.context().client_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(event.context().ip_source, Some(IpSource::Peer));
}

#[tokio::test]
async fn multi_proxy_chain_resolves_to_the_rightmost_untrusted_address() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let proxies = ["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
    let layer = AuditLayer::new(auditor.clone()).trusted_proxies(proxies);
    let server = Server::start(app_with(layer.clone())).await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[
                ("x-forwarded-for", header("6.6.6.6, 203.0.113.7")),
                ("x-forwarded-for", header("10.1.2.3")),
            ],
        )
        .await;
    let behind_forwarded = Server::start(app_with(layer.client_ip_source(ClientIpSource::Forwarded))).await;
    behind_forwarded
        .send(
            Method::DELETE,
            "/apps/app_2",
            &[("forwarded", header(r#"for="[2001:db8::7]:4711", for=10.9.9.9"#))],
        )
        .await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events[0].context().client_ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(events[0].context().ip_source, Some(IpSource::XForwardedFor));
    assert_eq!(events[0].context().peer_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(events[1].context().client_ip, Some("2001:db8::7".parse().unwrap()));
    assert_eq!(events[1].context().ip_source, Some(IpSource::Forwarded));
}

/// Behind a proxy that appends to `X-Forwarded-For` and passes `Forwarded`
/// through (nginx's usual set-up), a `Forwarded` header the client wrote
/// must neither name the client nor hide the proxy's `X-Forwarded-For`.
#[tokio::test]
async fn a_client_sent_forwarded_header_never_beats_the_proxys_x_forwarded_for() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let layer = AuditLayer::new(auditor.clone()).trusted_proxies(["127.0.0.0/8".parse().unwrap()]);
    let server = Server::start(app_with(layer)).await;
    for forwarded in ["for=6.6.6.6", "proto=https"] {
        server
            .send(
                Method::DELETE,
                "/apps/app_1",
                &[
                    ("forwarded", header(forwarded)),
                    ("x-forwarded-for", header("203.0.113.7")),
                ],
            )
            .await;
    }
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event.context().client_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(event.context().ip_source, Some(IpSource::XForwardedFor));
    }
}

#[tokio::test]
async fn behind_an_x_real_ip_proxy_only_that_header_names_the_client() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let layer = AuditLayer::new(auditor.clone())
        .trusted_proxies(["127.0.0.0/8".parse().unwrap()])
        .client_ip_source(ClientIpSource::XRealIp);
    let server = Server::start(app_with(layer)).await;
    let spoofs = [
        ("forwarded", header("for=6.6.6.6")),
        ("x-forwarded-for", header("6.6.6.6")),
    ];
    let mut with_real_ip = spoofs.to_vec();
    with_real_ip.push(("x-real-ip", header("203.0.113.7")));
    server.send(Method::DELETE, "/apps/app_1", &with_real_ip).await;
    // Without the proxy's header, the others are still not read.
    server.send(Method::DELETE, "/apps/app_2", &spoofs).await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events[0].context().client_ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(events[0].context().ip_source, Some(IpSource::XRealIp));
    assert_eq!(events[1].context().client_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(events[1].context().ip_source, Some(IpSource::Peer));
}

#[tokio::test]
async fn hundred_kilobyte_user_agent_is_capped_and_flagged() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;
    let huge = "Mozilla/5.0 ".repeat(100 * 1024 / 12);
    let (status, _, _) = server
        .send(Method::DELETE, "/apps/app_1", &[("user-agent", header(&huge))])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = &events_after(&auditor, &sink).await[0];
    let agent = event.context().user_agent.as_deref().unwrap();
    assert!(agent.len() <= 4096, "{}", agent.len());
    assert!(agent.starts_with("Mozilla/5.0 "));
    assert!(event.truncated());
}

#[tokio::test]
async fn secrets_in_header_derived_strings_are_masked() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[
                (
                    "user-agent",
                    header("ci-bot/3 (api_key=k-live-123; +https://ci.example)"),
                ),
                ("x-request-id", header("AKIAIOSFODNN7EXAMPLE")),
            ],
        )
        .await;
    let event = &events_after(&auditor, &sink).await[0];
    assert_eq!(
        event.context().user_agent.as_deref(),
        Some("ci-bot/3 (api_key=[REDACTED]; +https://ci.example)")
    );
    assert_eq!(event.context().client_request_id.as_deref(), Some(REDACTED));
}

#[tokio::test]
async fn non_utf8_header_bytes_are_decoded_lossily_and_flagged() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;
    // `http` refuses control bytes in header values, but obs-text (0x80–0xFF) passes.
    let agent = HeaderValue::from_bytes(b"curl/8.0 \xff\xfe (\xe2\x80\xae)").unwrap();
    server
        .send(Method::DELETE, "/apps/app_1", &[("user-agent", agent)])
        .await;
    let event = &events_after(&auditor, &sink).await[0];
    assert!(event.lossy_utf8());
    // Invalid bytes become U+FFFD; a valid but dangerous U+202E is escaped.
    assert_eq!(
        event.context().user_agent.as_deref(),
        Some("curl/8.0 \u{fffd}\u{fffd} (\\u{202e})")
    );
}

#[tokio::test]
async fn a_claimed_tenant_other_than_the_actors_is_ignored_and_recorded_as_a_warning() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let layer = AuditLayer::new(auditor.clone()).tenant(TenantFromHeader::new("x-tenant-id"));
    let server = Server::start(app_with(layer)).await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[
                ("authorization", header("Bearer acme-owner")),
                ("x-tenant-id", header("globex")),
            ],
        )
        .await;
    // An actor without a tenant may claim one.
    server
        .send(
            Method::DELETE,
            "/apps/app_2",
            &[
                ("authorization", header("Bearer freelancer")),
                ("x-tenant-id", header("globex")),
            ],
        )
        .await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 3);
    let mismatch = &events[0];
    assert_eq!(mismatch.action().as_str(), "tenant.mismatch");
    assert_eq!(mismatch.severity(), Severity::Warning);
    assert_eq!(mismatch.tenant_id(), Some("acme"));
    assert_eq!(mismatch.metadata()["claimed_tenant"], "globex");
    assert_eq!(mismatch.metadata()["claim_source"], "header x-tenant-id");
    assert_eq!(events[1].action().as_str(), "app.deleted");
    assert_eq!(events[1].tenant_id(), Some("acme"), "the claim did not move the event");
    assert_eq!(events[2].tenant_id(), Some("globex"));
}

#[tokio::test]
async fn api_keys_are_recorded_by_public_id_never_by_secret() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let keys = ApiKeyActor::new("x-api-key", |secret: &str| {
        (secret == "sk_live_acme_ci_0123456789")
            .then(|| Principal::new(Actor::api_key("key_acme_ci").with_role("admin")).in_tenant("acme"))
    });
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()).actor(keys))).await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[("x-api-key", header("sk_live_acme_ci_0123456789"))],
        )
        .await;
    server
        .send(Method::DELETE, "/apps/app_2", &[("x-api-key", header("sk_wrong"))])
        .await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events[0].actor().kind, ActorKind::ApiKey);
    assert_eq!(events[0].actor().id, "key_acme_ci");
    assert_eq!(events[0].tenant_id(), Some("acme"));
    assert_eq!(
        events[1].actor().kind,
        ActorKind::Anonymous,
        "an unknown key authenticates nobody"
    );
    assert!(
        !serde_json::to_string(&events).unwrap().contains("sk_live"),
        "the secret is never stored"
    );
}

#[tokio::test]
async fn every_request_gets_a_generated_id_and_a_well_formed_client_id_is_kept_beside_it() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;

    for (sent, kept) in [
        (Some("req_01HZX"), Some("req_01HZX")),
        (Some("bad id; drop table"), None),
        (None, None),
    ] {
        let sent_header: Vec<_> = sent.map(|id| ("x-request-id", header(id))).into_iter().collect();
        let (_, headers, seen_by_handler) = server.send(Method::GET, "/request-id", &sent_header).await;
        let generated = headers["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(
            uuid::Uuid::parse_str(&generated).unwrap().get_version_num(),
            7,
            "{sent:?}"
        );
        assert_eq!(
            seen_by_handler,
            format!("{:?}", Some(header(&generated))),
            "the handler sees the generated id, as the events and logs do"
        );
        let (_, _, client_id_seen_by_handler) = server.send(Method::GET, "/client-request-id", &sent_header).await;
        assert_eq!(client_id_seen_by_handler, format!("{kept:?}"), "{sent:?}");
    }
}

/// Issue 24: a client-chosen `X-Request-Id` became the stored request id,
/// so one id could be put on events of two tenants and link them.
#[tokio::test]
async fn the_same_client_request_id_in_two_tenants_never_links_their_events() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;
    let mut echoed = Vec::new();
    for caller in ["Bearer acme-owner", "Bearer globex-admin", "Bearer acme-owner"] {
        let (status, headers, _) = server
            .send(
                Method::DELETE,
                "/apps/app_1",
                &[("authorization", header(caller)), ("x-request-id", header("replay-1"))],
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        echoed.push(headers["x-request-id"].to_str().unwrap().to_owned());
    }
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 3);
    assert_eq!(
        events.iter().map(Event::tenant_id).collect::<Vec<_>>(),
        [Some("acme"), Some("globex"), Some("acme")]
    );
    for (event, echoed) in events.iter().zip(&echoed) {
        assert_eq!(event.context().request_id.as_deref(), Some(echoed.as_str()));
        assert_eq!(event.context().client_request_id.as_deref(), Some("replay-1"));
    }
    let mut distinct = echoed.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "every request has its own id: {echoed:?}");
}

#[tokio::test]
async fn audit_context_extractor_sees_the_request() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(app_with(AuditLayer::new(auditor.clone()))).await;
    let (_, _, body) = server
        .send(
            Method::GET,
            "/whoami",
            &[("authorization", header("Bearer acme-owner"))],
        )
        .await;
    assert_eq!(body, "user_alice");
}

#[tokio::test]
async fn a_panicking_handler_behind_catch_panic_still_produces_a_failure_event() {
    async fn explode() -> StatusCode {
        let draft = Draft::open(Action::from_static("app.deleted").unwrap());
        let _keep_open = draft.clone();
        panic!("handler bug");
    }
    for catch_panic_outside in [true, false] {
        let sink = MemorySink::new();
        let auditor = quiet_auditor(&sink);
        let router = Router::new().route("/explode", delete(explode));
        let app = if catch_panic_outside {
            router
                .layer(AuditLayer::new(auditor.clone()))
                .layer(tower_http::catch_panic::CatchPanicLayer::new())
        } else {
            router
                .layer(tower_http::catch_panic::CatchPanicLayer::new())
                .layer(AuditLayer::new(auditor.clone()))
        };
        let server = Server::start(app).await;
        let (status, _, _) = server.send(Method::DELETE, "/explode", &[]).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let events = events_after(&auditor, &sink).await;
        assert_eq!(events.len(), 1, "catch_panic_outside={catch_panic_outside}");
        assert_eq!(events[0].outcome(), Outcome::Failure);
        assert!(events[0].reason().is_some());
    }
}

#[tokio::test]
async fn denied_and_mutating_requests_are_recorded_when_enabled() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let app = Router::new()
        .route("/admin", get(|| async { StatusCode::FORBIDDEN }))
        .route("/login", post(|| async { StatusCode::UNAUTHORIZED }))
        .route("/apps", post(|| async { StatusCode::CREATED }))
        .route(
            "/apps/{id}",
            patch(|| async { StatusCode::NOT_FOUND }).delete(delete_app),
        )
        .layer(
            AuditLayer::new(auditor.clone())
                .record_denied(true)
                .record_mutations(true),
        );
    let server = Server::start(app).await;
    server.send(Method::GET, "/admin", &[]).await;
    server.send(Method::POST, "/apps", &[]).await;
    server.send(Method::PATCH, "/apps/app_9", &[]).await;
    server.send(Method::DELETE, "/apps/app_9", &[]).await;
    let events = events_after(&auditor, &sink).await;
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.action().as_str().to_owned(), e.outcome(), e.category().as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("auth.denied".to_owned(), Outcome::Denied, "auth"),
            ("http.post".to_owned(), Outcome::Success, "create"),
            ("http.patch".to_owned(), Outcome::Failure, "update"),
            // The handler recorded its own event: no http.delete.
            ("app.deleted".to_owned(), Outcome::Success, "delete"),
        ]
    );
    assert_eq!(events[2].reason(), Some("HTTP 404 Not Found"));
    assert_eq!(events[1].description(), Some("POST /apps"));
}

#[tokio::test]
async fn a_returned_success_becomes_denied_when_the_response_is_403() {
    async fn guarded() -> StatusCode {
        let draft = Draft::open(Action::from_static("member.role_changed").unwrap());
        draft.complete_returned(Outcome::Success, None);
        StatusCode::FORBIDDEN
    }
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let server = Server::start(
        Router::new()
            .route("/", patch(guarded))
            .layer(AuditLayer::new(auditor.clone())),
    )
    .await;
    server.send(Method::PATCH, "/", &[]).await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events[0].outcome(), Outcome::Denied);
    assert_eq!(events[0].reason(), Some("HTTP 403 Forbidden"));
}

#[tokio::test]
async fn authentication_inside_the_layer_can_name_the_actor_and_its_401s_are_audited() {
    async fn inner_auth(request: Request, next: Next) -> Response {
        match request.headers().get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer acme-owner") => {
                audit_core::identify(Actor::user("user_alice"), Some("acme".into()));
                next.run(request).await
            }
            _ => StatusCode::UNAUTHORIZED.into_response(),
        }
    }
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let app = Router::new()
        .route("/apps/{id}", delete(delete_app))
        .route_layer(middleware::from_fn(inner_auth))
        .layer(AuditLayer::new(auditor.clone()).record_denied(true));
    let server = Server::start(app).await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[("authorization", header("Bearer acme-owner"))],
        )
        .await;
    server
        .send(
            Method::DELETE,
            "/apps/app_1",
            &[("authorization", header("Bearer stolen"))],
        )
        .await;
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].action().as_str(), events[0].actor().id.as_str()),
        ("app.deleted", "user_alice")
    );
    assert_eq!(events[0].tenant_id(), Some("acme"));
    assert_eq!(
        (events[1].action().as_str(), events[1].outcome()),
        ("auth.denied", Outcome::Denied)
    );
    assert_eq!(events[1].actor().kind, ActorKind::Anonymous);
}

#[tokio::test]
async fn anonymous_denials_past_the_limit_are_counted_into_one_summary_event() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let app = Router::new()
        .route("/admin", get(|| async { StatusCode::UNAUTHORIZED }))
        .layer(
            AuditLayer::new(auditor.clone())
                .record_denied(true)
                .denied_limit(DeniedLimit::new(3, Duration::from_secs(3600))),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let client = Client::builder(TokioExecutor::new()).build_http::<String>();
    for _ in 0..8 {
        let request = http::Request::get(format!("http://{address}/admin"))
            .body(String::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "every request is still answered"
        );
    }
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 3, "the first three in full, the rest counted");
    assert!(events.iter().all(|e| e.action().as_str() == "auth.denied"));
    assert!(
        events
            .iter()
            .all(|e| e.context().client_ip == Some("127.0.0.1".parse().unwrap()))
    );

    // The window is an hour; stopping the server drops the layer, which
    // queues the summary it holds rather than losing the count.
    drop(client);
    stop.send(()).unwrap();
    serving.await.unwrap();
    let events = events_after(&auditor, &sink).await;
    assert_eq!(events.len(), 4);
    let summary = &events[3];
    assert_eq!(
        summary.description(),
        Some("5 more denied requests from 127.0.0.1 within 3600 s")
    );
    assert_eq!(summary.metadata()["suppressed"], serde_json::json!(5));
    assert_eq!(summary.outcome(), Outcome::Denied);
    assert_eq!(summary.context().status, Some(401));
}

#[tokio::test]
async fn a_full_queue_answers_503_before_the_handler_acts_with_a_clear_body_and_never_hangs() {
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(1)
        .batch_size(1)
        .linger(Duration::ZERO)
        .overflow(OverflowPolicy::Block {
            timeout: Duration::from_millis(50),
        })
        .start(sink.clone());
    let actions = std::sync::Arc::default();
    let server = Server::start(acting_app(AuditLayer::new(auditor.clone()), &actions)).await;

    let mut statuses = Vec::new();
    let mut unavailable_body = None;
    for _ in 0..4 {
        let (status, headers, body) = server.send(Method::DELETE, "/apps/app_1", &[]).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(headers["retry-after"], "1");
            assert!(headers.contains_key("x-request-id"));
            unavailable_body = Some(body);
        }
        statuses.push(status);
    }
    // One event in the stalled writer's hands, one in the queue, then no room.
    assert_eq!(
        statuses,
        [
            StatusCode::NO_CONTENT,
            StatusCode::NO_CONTENT,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::SERVICE_UNAVAILABLE
        ]
    );
    let body: serde_json::Value = serde_json::from_str(&unavailable_body.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "audit_unavailable");
    assert_eq!(auditor.stats().refused, 2);
    assert_eq!(
        actions.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the refused requests never ran their handler"
    );

    sink.resume();
    let (status, _, _) = server.send(Method::DELETE, "/apps/app_1", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "service recovers with the sink");
    assert_eq!(
        events_after(&auditor, &sink).await.len(),
        3,
        "every answered request's event is stored"
    );
}

#[tokio::test]
async fn confirmed_delivery_answers_only_after_the_sink_has_the_event() {
    let sink = MemorySink::new();
    let auditor = quiet_auditor(&sink);
    let layer = AuditLayer::new(auditor.clone()).delivery(Delivery::Confirmed {
        timeout: Duration::from_secs(5),
    });
    let server = Server::start(app_with(layer)).await;
    let (status, _, _) = server.send(Method::DELETE, "/apps/app_1", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        sink.len(),
        1,
        "stored before the response left, without any flush by the test"
    );

    sink.pause();
    let layer = AuditLayer::new(auditor.clone()).delivery(Delivery::Confirmed {
        timeout: Duration::from_millis(100),
    });
    let server = Server::start(app_with(layer)).await;
    let (status, headers, body) = server.send(Method::DELETE, "/apps/app_2", &[]).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "unconfirmed within the timeout"
    );
    assert_unavailable_because(&headers, &body, "timeout");
    sink.resume();
}

/// A 503 names its reason in the header and the default body.
fn assert_unavailable_because(headers: &http::HeaderMap, body: &str, reason: &str) {
    assert_eq!(headers["audit-unavailable-reason"], reason, "{body}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "audit_unavailable");
    assert_eq!(body["error"]["reason"], reason);
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn confirming_modes_answer_503_when_the_store_rejects_the_event() {
    for delivery in [
        Delivery::Confirmed {
            timeout: Duration::from_secs(5),
        },
        // Without a spool, spooled delivery waits for the store.
        Delivery::Spooled {
            timeout: Duration::from_secs(5),
        },
    ] {
        let sink = MemorySink::new();
        let auditor = quiet_auditor(&sink);
        let server = Server::start(app_with(AuditLayer::new(auditor.clone()).delivery(delivery))).await;
        sink.reject_next(1);
        let (status, headers, body) = server.send(Method::DELETE, "/apps/app_1", &[]).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{delivery:?}: a rejected event is not confirmed"
        );
        assert_unavailable_because(&headers, &body, "rejected");
        let (status, _, _) = server.send(Method::DELETE, "/apps/app_2", &[]).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{delivery:?}");
        assert_eq!(sink.len(), 1);
    }
}

#[tokio::test]
async fn confirming_modes_never_act_when_drop_and_count_would_drop_the_event() {
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(1)
        .batch_size(1)
        .linger(Duration::ZERO)
        .overflow(OverflowPolicy::DropAndCount)
        .start(sink.clone());
    let actions = std::sync::Arc::default();
    let confirmed = AuditLayer::new(auditor.clone()).delivery(Delivery::Confirmed {
        timeout: Duration::from_millis(100),
    });
    let server = Server::start(acting_app(confirmed, &actions)).await;
    // Fill the queue for good: the writer holds one event (its write
    // stalls on the paused sink), the queue of one the next.
    loop {
        let _ = auditor.record(event_builder()).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        if auditor.try_reserve().is_err() {
            break;
        }
    }
    let (status, headers, body) = server.send(Method::DELETE, "/apps/app_1", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_unavailable_because(&headers, &body, "queue_full");
    assert_eq!(
        actions.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the handler never ran: its event would have been dropped"
    );
    // Buffered stays fail-open under DropAndCount: it acts, the drop is counted.
    let buffered = Server::start(acting_app(AuditLayer::new(auditor.clone()), &actions)).await;
    let (status, _, _) = buffered.send(Method::DELETE, "/apps/app_1", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(actions.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(auditor.stats().dropped >= 1);
    sink.resume();
}

fn event_builder() -> audit_core::EventBuilder {
    Event::builder(Action::from_static("app.seeded").unwrap(), Actor::system("test"))
}

/// A route whose handler acts (counts) and records `app.deleted`: what a
/// refused request must not do.
fn acting_app(layer: AuditLayer, actions: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Router {
    let actions = std::sync::Arc::clone(actions);
    Router::new()
        .route(
            "/apps/{id}",
            delete(move || {
                let actions = std::sync::Arc::clone(&actions);
                async move {
                    actions.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    delete_app().await
                }
            }),
        )
        .layer(layer)
}

#[tokio::test]
async fn confirmed_delivery_refuses_before_acting_while_the_sink_is_down() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .linger(Duration::ZERO)
        .retry(audit_core::RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
        })
        .start(sink.clone());
    let layer = AuditLayer::new(auditor.clone()).delivery(Delivery::Confirmed {
        timeout: Duration::from_millis(200),
    });
    let actions = std::sync::Arc::default();
    let server = Server::start(acting_app(layer, &actions)).await;

    sink.fail_next(u64::MAX);
    // Nobody knows the sink is down yet: this request acts, and is answered
    // 503 because its event is not confirmed.
    let (status, _, _) = server.send(Method::DELETE, "/apps/app_1", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(auditor.is_sink_down() && auditor.stats().sink_down);
    // Now it is known: refused before the handler runs.
    let (status, headers, body) = server.send(Method::DELETE, "/apps/app_2", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_unavailable_because(&headers, &body, "store_down");
    assert_eq!(actions.load(std::sync::atomic::Ordering::SeqCst), 1);

    sink.fail_next(0);
    auditor.flush().await.unwrap();
    assert!(!auditor.is_sink_down(), "recovered with the first successful write");
    let (status, _, _) = server.send(Method::DELETE, "/apps/app_3", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(actions.load(std::sync::atomic::Ordering::SeqCst), 2);
    // The first request's event waited in the queue and is stored too.
    assert_eq!(sink.len(), 2);
}
