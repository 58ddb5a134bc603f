//! `audit serve`: the admin API on its own, reads recorded in the same store.

use std::net::SocketAddr;
use std::time::Duration;

use audit_core::{Actor, Auditor};
use audit_store::Store;
use audit_store::http::AdminApi;
use audit_tower::{AuditLayer, Principal};
use axum::Router;
use clap::ArgMatches;
use http::request::Parts;

use crate::exit;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub(crate) async fn run(store: Store, sub: &ArgMatches) -> Result<u8> {
    let addr: SocketAddr = sub
        .get_one::<String>("addr")
        .ok_or("--addr is required")?
        .parse()
        .map_err(|e| format!("--addr is not an address: {e}"))?;
    let token = sub
        .get_one::<String>("token")
        .ok_or("--token or AUDIT_SERVE_TOKEN is required")?
        .clone();
    if token.len() < 16 {
        return Err("the serve token must be at least 16 characters".into());
    }
    // The bearer of the token reads every tenant; anyone else is anonymous
    // and refused (and recorded) by the default policy.
    let expected = format!("Bearer {token}");
    let actor = move |parts: &Parts| {
        let given = parts.headers.get(http::header::AUTHORIZATION)?.as_bytes();
        constant_time_eq(given, expected.as_bytes())
            .then(|| Principal::new(Actor::service("audit-serve").with_role("auditor")))
    };
    let auditor = Auditor::builder().start(store.clone());
    let app = AdminApi::new(store)
        .nest_into(Router::new(), "/audit-logs")
        .layer(AuditLayer::new(auditor.clone()).actor(actor));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let stop = stop_signal("answering the requests in flight, then draining the audit queue")?;
    eprintln!("audit: serving the admin API at http://{addr}/audit-logs (Ctrl-C or SIGTERM stops)");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stop)
        .await?;
    // Every request has been answered and its events queued: `audit.stopped`
    // goes in last.
    auditor.shutdown(Duration::from_secs(10)).await?;
    Ok(exit::OK)
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what `kill`, systemd and
/// container runtimes send to stop a service), then says on stderr what
/// stopping does (`stopping`). Listening for SIGTERM starts here, before the
/// work does: a process that could not hear it would be stopped by the
/// SIGKILL that follows, with its queue undrained.
pub(crate) fn stop_signal(stopping: &'static str) -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("audit: stopping: {stopping}");
    })
}

/// Compares without an early exit, so response time says nothing about
/// how much of the token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}
