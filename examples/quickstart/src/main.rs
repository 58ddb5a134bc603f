//! `cargo run -p quickstart`: a small multi-tenant API with a full audit
//! trail, on `127.0.0.1:3000`, recording into `sqlite://quickstart-audit.db`.
//!
//! Try it with the demo tokens (`acme-owner`, `acme-member`,
//! `globex-admin`) or the API key `acme-ci-key`, then read the trail at
//! `/audit-logs/ui` in a browser (or `/audit-logs` as JSON); `--seed-demo`
//! fills a month of history first. Ctrl-C (or SIGTERM) stops it gracefully:
//! every answered request's events are in the store before the process
//! exits. `--help` lists the flags; the crate docs (`src/lib.rs`) list the
//! routes.

use std::net::SocketAddr;
use std::process::ExitCode;

use audit_core::SpoolConfig;
use audit_core::format::EventFormat;
use audit_store::checkpoint::SigningKey;
use audit_tower::{ClientIpSource, Delivery};
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use clap::{Arg, ArgAction, ArgMatches, Command};
use quickstart::seed::{self, Seeded};
use quickstart::{Config, DEFAULT_DATABASE_URL, Error, Quickstart, StreamWebhook};

fn command() -> Command {
    Command::new("quickstart")
        .about("An axum service with a full audit trail: a demo API, sign-in, and the admin read side at /audit-logs")
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            Arg::new("addr")
                .long("addr")
                .value_name("ADDR")
                .default_value("127.0.0.1:3000")
                .value_parser(clap::value_parser!(SocketAddr))
                .help("The address to listen on"),
        )
        .arg(
            Arg::new("database-url")
                .long("database-url")
                .value_name("URL")
                .env("AUDIT_DATABASE_URL")
                .hide_env_values(true)
                .default_value(DEFAULT_DATABASE_URL)
                .help("The audit store: sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST/DB"),
        )
        .arg(
            Arg::new("trusted-proxy")
                .long("trusted-proxy")
                .value_name("CIDR")
                .action(ArgAction::Append)
                .value_parser(clap::value_parser!(ipnet::IpNet))
                .help("A proxy range whose client-address header (--client-ip-header) is believed (repeatable; none by default)"),
        )
        .arg(
            Arg::new("client-ip-header")
                .long("client-ip-header")
                .value_name("HEADER")
                .default_value("xff")
                .value_parser(
                    PossibleValuesParser::new(["xff", "forwarded", "x-real-ip"]).map(|name: String| client_ip_source(&name)),
                )
                .help(
                    "The one header the trusted proxies name the client in: xff (X-Forwarded-For), forwarded \
                     (RFC 7239) or x-real-ip; no other is read",
                ),
        )
        .arg(
            Arg::new("signing-key")
                .long("signing-key")
                .value_name("FILE")
                .help(
                    "Sign checkpoints of the audit trail with this key (make one with `audit keygen NAME --out FILE`); \
                     off without it",
                ),
        )
        .arg(
            Arg::new("checkpoint-dir")
                .long("checkpoint-dir")
                .value_name("DIR")
                .default_value("quickstart-checkpoints")
                .help("Where signed checkpoints are written (what `audit verify --checkpoints DIR` reads)"),
        )
        .arg(
            Arg::new("checkpoint-every")
                .long("checkpoint-every")
                .value_name("SECONDS")
                .default_value("60")
                .value_parser(clap::value_parser!(u64).range(1..))
                .help("How often streams whose head moved are signed (and once more on shutdown)"),
        )
        .arg(
            Arg::new("delivery")
                .long("delivery")
                .value_name("MODE")
                .default_value("spooled")
                .value_parser(PossibleValuesParser::new(["buffered", "spooled", "confirmed"]))
                .help(
                    "When a response leaves: once its events are queued (buffered), fsynced to the spool \
                     (spooled), or committed in the store (confirmed)",
                ),
        )
        .arg(
            Arg::new("spool-dir")
                .long("spool-dir")
                .value_name("DIR")
                .default_value("quickstart-audit-spool")
                .help("The durable spool events pass through on their way to the store"),
        )
        .arg(
            Arg::new("no-spool")
                .long("no-spool")
                .action(ArgAction::SetTrue)
                .help("Keep queued events in memory only (spooled delivery then waits for the store)"),
        )
        .arg(
            Arg::new("no-sealing")
                .long("no-sealing")
                .action(ArgAction::SetTrue)
                .help(
                    "Store names, emails and descriptions in the clear (by default they are sealed per person, so \
                     that `audit erase --subject ID` can erase one)",
                ),
        )
        .arg(
            Arg::new("stream-url")
                .long("stream-url")
                .value_name("URL")
                .help(
                    "Also POST every stored event to this http:// webhook (a SIEM, a log pipeline), signed with \
                     $AUDIT_STREAM_SECRET when set; destinations kept in the store (`audit stream add`) are \
                     delivered either way",
                ),
        )
        .arg(
            Arg::new("stream-format")
                .long("stream-format")
                .value_name("FORMAT")
                .default_value("native")
                .value_parser(PossibleValuesParser::new(["native", "ocsf", "cef", "syslog"]))
                .help("The records --stream-url receives"),
        )
        .arg(
            Arg::new("seed-demo")
                .long("seed-demo")
                .action(ArgAction::SetTrue)
                .help("Record a few hundred demo events over the last 30 days first (once per store)"),
        )
        .after_help(
            "Demo credentials: Authorization: Bearer acme-owner | acme-member | globex-admin, \
             or X-Api-Key: acme-ci-key.\nSign in at /login with alice@acme.test, bob@acme.test or \
             carol@globex.test and the password demo-password.",
        )
}

/// What is logged when `RUST_LOG` says nothing: the audit pipeline's and
/// the service's warnings and errors, with the store going down and coming
/// back among them, and the web stack only when it fails.
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,hyper=warn,tower=warn";

/// Logs to stderr, filtered by `RUST_LOG` (e.g. `RUST_LOG=debug`) or
/// [`DEFAULT_LOG_FILTER`]. Without a subscriber the auditor's warnings
/// (retries, a store that is down, refused requests) would go nowhere.
fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// The header a `--client-ip-header` value names (one of the parser's possible values).
fn client_ip_source(name: &str) -> ClientIpSource {
    match name {
        "forwarded" => ClientIpSource::Forwarded,
        "x-real-ip" => ClientIpSource::XRealIp,
        _ => ClientIpSource::XForwardedFor,
    }
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    install_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("quickstart: error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&matches)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart: error: {}", error.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(matches: &ArgMatches) -> Result<(), Error> {
    let addr = *matches.get_one::<SocketAddr>("addr").ok_or("--addr is required")?;
    let database_url = matches
        .get_one::<String>("database-url")
        .ok_or("--database-url is required")?;
    let trusted: Vec<ipnet::IpNet> = matches
        .get_many::<ipnet::IpNet>("trusted-proxy")
        .map(|ranges| ranges.copied().collect())
        .unwrap_or_default();
    let client_ip_header = matches
        .get_one::<ClientIpSource>("client-ip-header")
        .copied()
        .unwrap_or_default();

    let delivery = match matches.get_one::<String>("delivery").map(String::as_str) {
        Some("buffered") => Delivery::Buffered,
        Some("confirmed") => Delivery::Confirmed {
            timeout: CONFIRM_TIMEOUT,
        },
        _ => Delivery::Spooled {
            timeout: CONFIRM_TIMEOUT,
        },
    };
    let mut config = Config::new(database_url.clone())
        .trusted_proxies(trusted.iter().copied())
        .client_ip_source(client_ip_header)
        .delivery(delivery);
    if !matches.get_flag("no-sealing") {
        config = config.seal_personal_data(audit_store::personal::PersonalData::new());
    }
    let spool = if matches.get_flag("no-spool") {
        None
    } else {
        let dir = matches
            .get_one::<String>("spool-dir")
            .ok_or("--spool-dir is required")?;
        config = config.spool(SpoolConfig::new(dir));
        Some(dir.as_str())
    };
    let mut signing = None;
    if let Some(path) = matches.get_one::<String>("signing-key") {
        let key = SigningKey::from_file(path)?;
        let dir = matches
            .get_one::<String>("checkpoint-dir")
            .ok_or("--checkpoint-dir is required")?;
        let every = *matches
            .get_one::<u64>("checkpoint-every")
            .ok_or("--checkpoint-every is required")?;
        signing = Some(format!(
            "every {every} s into {dir}/ (verifier key {})",
            key.verifier_key()
        ));
        config = config.checkpoints(key, dir, std::time::Duration::from_secs(every));
    }
    config = config.stream_destinations(STREAM_DESTINATIONS_REFRESH);
    let mut streams = "the store's destinations (`audit stream add`)".to_owned();
    if let Some(url) = matches.get_one::<String>("stream-url") {
        let format: EventFormat = matches
            .get_one::<String>("stream-format")
            .map_or("native", String::as_str)
            .parse()?;
        let secret = std::env::var(STREAM_SECRET_ENV)
            .ok()
            .filter(|secret| !secret.is_empty());
        streams = format!(
            "{url} ({format}, {}) and {streams}",
            if secret.is_some() {
                "signed"
            } else {
                "unsigned: set AUDIT_STREAM_SECRET to sign"
            }
        );
        config = config.stream_to(StreamWebhook {
            url: url.clone(),
            secret,
            format,
        });
    }
    let quickstart = Quickstart::build(config)
        .await
        .map_err(|e| format!("cannot open the audit store: {e}"))?;
    if matches.get_flag("seed-demo") {
        match seed::seed_demo(quickstart.store(), quickstart.auditor()).await? {
            Seeded::Recorded(n) => eprintln!("seeded {n} demo events over the last 30 days"),
            Seeded::AlreadySeeded => eprintln!("the store holds the demo events already; not seeding again"),
        }
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    let shutdown = shutdown_signal();
    let pending = quickstart.auditor().stats().spool_pending;
    print_welcome(
        addr,
        &redact_password(database_url),
        &trusted,
        client_ip_header,
        signing.as_deref(),
        &delivery_summary(delivery, spool, pending),
        &streams,
    );

    let stats = quickstart.serve(listener, shutdown).await?;
    eprintln!(
        "quickstart: stopped; {} events written this run ({} replayed from the spool), {} lost",
        stats.written,
        stats.replayed,
        stats.dropped + stats.rejected
    );
    Ok(())
}

/// How often the store's stream destinations are re-read.
const STREAM_DESTINATIONS_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// The environment variable holding the `--stream-url` secret (never a
/// flag: the command line is visible to every user of the machine).
const STREAM_SECRET_ENV: &str = "AUDIT_STREAM_SECRET";

/// How long a spooled or confirmed response waits for its events.
const CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The delivery line of the welcome text.
fn delivery_summary(delivery: Delivery, spool: Option<&str>, pending: u64) -> String {
    let mode = match delivery {
        Delivery::Buffered => "buffered (answered once queued)",
        Delivery::Confirmed { .. } => "confirmed (answered once stored)",
        _ => "spooled (answered once on disk)",
    };
    match spool {
        Some(dir) if pending > 0 => format!("{mode}; spool {dir}/ ({pending} events from the last run first)"),
        Some(dir) => format!("{mode}; spool {dir}/"),
        None => format!("{mode}; no spool"),
    }
}

fn print_welcome(
    addr: SocketAddr,
    database: &str,
    trusted: &[ipnet::IpNet],
    client_ip_header: ClientIpSource,
    signing: Option<&str>,
    delivery: &str,
    streams: &str,
) {
    let checkpoints = signing.unwrap_or("off (--signing-key FILE signs them)");
    let base = format!("http://{addr}");
    let header = client_ip_header.header_name();
    let proxies = if trusted.is_empty() {
        "none (forwarding headers are ignored)".to_owned()
    } else {
        let ranges = trusted.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        format!("{ranges} (client address from {header} only)")
    };
    println!(
        "\
audit quickstart listening on {base}
  audit store:     {database}
  trusted proxies: {proxies}
  checkpoints:     {checkpoints}
  delivery:        {delivery}
  streamed to:     {streams}

Open:
  {base}/login                      sign in (alice@acme.test / demo-password)
  {base}/audit-logs/ui              the audit log's web page (owners and admins)
  {base}/audit-logs                 the same as JSON
  {base}/audit-logs/openapi.json    the read API

Try:
  curl -i -X POST {base}/apps -H 'Authorization: Bearer acme-owner' -H 'content-type: application/json' -d '{{\"name\":\"Billing\"}}'
  curl -i -X PATCH {base}/members/user_alice/role -H 'Authorization: Bearer acme-member' -H 'content-type: application/json' -d '{{\"role\":\"member\"}}'
  curl -s '{base}/audit-logs?limit=5' -H 'Authorization: Bearer acme-owner'

Ctrl-C stops (every answered request's events are stored first)."
    );
}

/// The URL without its password, for printing.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

/// Resolves when `signal` arrives; never without a handler.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. The handlers are
/// installed by this call, not when the future is first polled: a signal
/// that arrives while the service is still starting stops it gracefully
/// too, instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (interrupt, terminate) = signals;
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        eprintln!("quickstart: shutting down: finishing requests in flight, then draining the audit queue");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_client_ip_header(args: &[&str]) -> Result<ClientIpSource, clap::Error> {
        let matches = command().try_get_matches_from(["quickstart"].iter().chain(args))?;
        Ok(*matches.get_one::<ClientIpSource>("client-ip-header").unwrap())
    }

    #[test]
    fn client_ip_header_flag_names_exactly_one_header() {
        assert_eq!(parsed_client_ip_header(&[]).unwrap(), ClientIpSource::XForwardedFor);
        for (value, source) in [
            ("xff", ClientIpSource::XForwardedFor),
            ("forwarded", ClientIpSource::Forwarded),
            ("x-real-ip", ClientIpSource::XRealIp),
        ] {
            assert_eq!(parsed_client_ip_header(&["--client-ip-header", value]).unwrap(), source);
        }
        let refused = parsed_client_ip_header(&["--client-ip-header", "x-forwarded-for,forwarded"]).unwrap_err();
        assert_eq!(refused.kind(), clap::error::ErrorKind::InvalidValue);
    }
}
