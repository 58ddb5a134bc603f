//! `audit stream`: webhook destinations kept in the store (add, list,
//! remove, status), a test delivery to a receiver, and a standalone
//! deliverer (`run`) beside the database.
//!
//! A destination's secret is never read from the command line (argv is
//! visible in `ps`) and never shown after `add` generated it: `list` and
//! `status` show every field but it. URLs are shown without user info or
//! query string, where receivers such as Splunk HEC take their token.

use std::error::Error;
use std::io::Write as _;
use std::time::Duration;

use audit_core::format::EventFormat;
use audit_core::{Action, Event, Integrity, Timestamp};
use audit_store::Store;
use audit_store::stream::{
    Batch, DEFAULT_POLL_INTERVAL, DEFAULT_WEBHOOK_TIMEOUT, Destination, DestinationError, MIN_SECRET_LEN, StartAt,
    StreamPosition, StreamSink as _, Streamer, WebhookBody, WebhookSink, redact_url,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::table::{printable, table};
use serde_json::json;

use crate::exit;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The action of `stream test`'s sample event.
const TESTED_ACTION: &str = "audit.stream_tested";

/// How often `run` looks at its sinks' stats to report failures and
/// recoveries.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// The `audit stream` command and its subcommands.
pub(crate) fn command() -> Command {
    Command::new("stream")
        .about("Webhook destinations the store's events are streamed to: add, list, remove, status, test, run")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("test")
                .about(
                    "POST one sample event (audit.stream_tested, not stored) to a receiver and print its answer; \
                     exit 5 when it answers other than 2xx, 6 when it does not answer",
                )
                .arg(
                    Arg::new("url")
                        .required(true)
                        .value_name("URL")
                        .help("An http:// or https:// URL"),
                )
                .arg(secret_env())
                .arg(format_arg())
                .arg(body_arg())
                .arg(header_arg())
                .arg(header_env_arg())
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..=300))
                        .help(format!(
                            "Give up on an answer after SECS [default: {}]",
                            DEFAULT_WEBHOOK_TIMEOUT.as_secs()
                        )),
                )
                .arg(
                    Arg::new("tenant")
                        .long("tenant")
                        .help("The sample event's tenant (default: none, the global stream)"),
                )
                .arg(
                    Arg::new("actor")
                        .long("actor")
                        .value_name("NAME")
                        .value_parser(crate::reads::ActorName)
                        .help("The sample event's actor [default: $USER, else $LOGNAME, else \"unknown\"]"),
                ),
        )
        .subcommand(
            Command::new("add")
                .about(
                    "Keep a webhook destination in the store; `audit stream run` (or an app's Streamer) delivers to it",
                )
                .arg(
                    Arg::new("name")
                        .required(true)
                        .value_name("NAME")
                        .help("1 to 100 letters, digits, `.`, `_` or `-`"),
                )
                .arg(
                    Arg::new("url")
                        .long("url")
                        .required(true)
                        .value_name("URL")
                        .help("An http:// or https:// URL (https trusts the web's public certificate authorities)"),
                )
                .arg(
                    Arg::new("tenant")
                        .long("tenant")
                        .help("Only this tenant's events (default: every stream, the platform's SIEM)"),
                )
                .arg(format_arg())
                .arg(body_arg())
                .arg(header_arg().help(
                    "Also send this header with every delivery (repeat for more); visible in `ps`: a token goes \
                     through --header-env",
                ))
                .arg(header_env_arg())
                .arg(
                    Arg::new("from")
                        .long("from")
                        .value_parser(["now", "beginning"])
                        .default_value("now")
                        .help(
                            "now: only events written from now on; beginning: also every event the store keeps \
                             (a backfill of everything retained)",
                        ),
                )
                .arg(secret_env().help(format!(
                    "Sign with the secret in this environment variable (at least {MIN_SECRET_LEN} bytes) [default: a \
                     new random secret, printed once]"
                ))),
        )
        .subcommand(
            Command::new("list")
                .about("The destinations kept, with how many events wait for each (never their secrets)")
                .arg(json_flag()),
        )
        .subcommand(
            Command::new("remove")
                .about("Remove a destination and its positions (a running streamer stops at its next refresh)")
                .arg(Arg::new("name").required(true).value_name("NAME")),
        )
        .subcommand(
            Command::new("status")
                .about("Where each destination stands in each stream: delivered, head, lag")
                .arg(json_flag()),
        )
        .subcommand(
            Command::new("run")
                .about(
                    "Deliver to every destination kept in the store until Ctrl-C or SIGTERM (a standalone deliverer \
                     beside the database)",
                )
                .arg(
                    Arg::new("poll")
                        .long("poll")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..=3600))
                        .help(format!(
                            "Look for new events every SECS [default: {}]",
                            DEFAULT_POLL_INTERVAL.as_secs()
                        )),
                )
                .arg(
                    Arg::new("refresh")
                        .long("refresh")
                        .value_name("SECS")
                        .value_parser(value_parser!(u64).range(1..=3600))
                        .default_value("10")
                        .help("Re-read the destinations every SECS: added ones start, removed ones stop"),
                ),
        )
}

fn header_arg() -> Arg {
    Arg::new("header")
        .long("header")
        .value_name("'NAME: VALUE'")
        .action(ArgAction::Append)
        .help("Also send this header (repeat for more); visible in `ps`, like any argument")
}

fn header_env_arg() -> Arg {
    Arg::new("header-env")
        .long("header-env")
        .value_name("NAME=VARIABLE")
        .action(ArgAction::Append)
        .help(
            "Also send header NAME with the value in this environment variable (a collector's token: \
             `--header-env Authorization=SPLUNK_AUTH`); repeat for more",
        )
}

/// The headers `--header` and `--header-env` name, in that order, or a
/// message naming the argument that is wrong.
fn headers_of(sub: &ArgMatches) -> std::result::Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for header in sub.get_many::<String>("header").into_iter().flatten() {
        let Some((name, value)) = header.split_once(':') else {
            return Err(format!("--header {header:?}: expected 'NAME: VALUE'"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    for header in sub.get_many::<String>("header-env").into_iter().flatten() {
        let Some((name, variable)) = header.split_once('=') else {
            return Err(format!("--header-env {header:?}: expected NAME=VARIABLE"));
        };
        let value = std::env::var(variable).map_err(|e| format!("--header-env {name}={variable}: {e}"))?;
        headers.push((name.trim().to_owned(), value));
    }
    Ok(headers)
}

fn secret_env() -> Arg {
    Arg::new("secret-env")
        .long("secret-env")
        .value_name("VARIABLE")
        .help("Sign with the secret in this environment variable (never on the command line: argv shows in `ps`)")
}

fn format_arg() -> Arg {
    Arg::new("format")
        .long("format")
        .value_parser(EventFormat::ALL.map(EventFormat::as_str))
        .default_value("native")
        .help("Each event as its own JSON (native), OCSF, CEF or RFC 5424 syslog")
}

fn body_arg() -> Arg {
    Arg::new("body")
        .long("body")
        .value_parser([WebhookBody::Lines.as_str(), WebhookBody::JsonArray.as_str()])
        .default_value("lines")
        .help("lines: one record per line (NDJSON for the JSON formats); json-array: one JSON array")
}

fn json_flag() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Print JSON instead of a table")
}

/// `audit stream test`, which needs no database.
pub(crate) async fn test(sub: &ArgMatches) -> Result<u8> {
    let url = sub.get_one::<String>("url").ok_or("URL is required")?;
    let mut sink = match WebhookSink::new(url) {
        Ok(sink) => sink,
        Err(error) => return Ok(usage(&error.to_string())),
    };
    let secret = match sub.get_one::<String>("secret-env") {
        Some(variable) => match secret_from(variable) {
            Ok(secret) => Some(secret),
            Err(message) => return Ok(usage(&message)),
        },
        None => None,
    };
    if let Some(secret) = &secret {
        sink = sink.secret(secret);
    }
    sink = sink.format(format_of(sub)?).body(body_of(sub)?);
    let headers = match headers_of(sub) {
        Ok(headers) => headers,
        Err(message) => return Ok(usage(&message)),
    };
    for (name, value) in headers {
        sink = match sink.header(&name, &value) {
            Ok(sink) => sink,
            Err(error) => return Ok(usage(&format!("--header: {error}"))),
        };
    }
    if let Some(&seconds) = sub.get_one::<u64>("timeout") {
        sink = sink.timeout(Duration::from_secs(seconds));
    }
    let event = sample_event(sub)?;
    let batch = Batch::new(event.stream(), vec![event]);
    let mut out = std::io::stdout().lock();
    writeln!(out, "POST {} of one {TESTED_ACTION} event", sink.describe())?;
    match sub.get_one::<String>("secret-env") {
        Some(variable) => writeln!(out, "signed with the secret in ${variable}")?,
        None => writeln!(out, "unsigned: no --secret-env, so no audit-signature header")?,
    }
    let answer = match sink.post(&batch).await {
        Ok(answer) => answer,
        Err(error) => {
            writeln!(out, "no answer")?;
            eprintln!("audit: error: no answer from the receiver: {error}");
            return Ok(exit::NO_ANSWER);
        }
    };
    writeln!(out, "status: {}", answer.status)?;
    if let Some(delay) = answer.retry_after {
        writeln!(out, "retry-after: {} s", delay.as_secs())?;
    }
    let body = printable(answer.body.trim());
    if !body.is_empty() {
        writeln!(out, "body: {body}")?;
    }
    out.flush()?;
    if answer.status.is_success() {
        return Ok(exit::OK);
    }
    let retry = answer
        .retry_after
        .map(|delay| format!(" (Retry-After: {} s)", delay.as_secs()))
        .unwrap_or_default();
    eprintln!("audit: error: the receiver answered {}{retry}", answer.status);
    Ok(exit::REFUSED)
}

/// The sample event: `audit.stream_tested` by the operator, sealed as if
/// it were seq 0 of its stream (it is not stored).
fn sample_event(sub: &ArgMatches) -> Result<Event> {
    let mut builder = Event::builder(Action::new(TESTED_ACTION)?, crate::reads::reader(sub))
        .description("A test delivery from `audit stream test`; this event is not stored")
        .metadata("via", "cli");
    if let Some(tenant) = sub.get_one::<String>("tenant") {
        builder = builder.tenant(tenant.clone());
    }
    let mut event = builder.build();
    event.set_recorded_at(Timestamp::now());
    let stream = event.stream();
    event.set_integrity(Integrity {
        stream: stream.clone(),
        seq: 0,
        leaf_hash: String::new(),
    });
    let leaf_hash = audit_store::leaf_hash(&event);
    event.set_integrity(Integrity {
        stream,
        seq: 0,
        leaf_hash,
    });
    Ok(event)
}

/// The stream subcommands that need the store.
pub(crate) async fn run(store: &Store, sub: &ArgMatches) -> Result<u8> {
    match sub.subcommand() {
        Some(("add", sub)) => add(store, sub).await,
        Some(("list", sub)) => list(store, sub).await,
        Some(("remove", sub)) => remove(store, sub).await,
        Some(("status", sub)) => status(store, sub).await,
        Some(("run", sub)) => deliver(store, sub).await,
        Some((other, _)) => Err(format!("unknown command `stream {other}`").into()),
        None => Err("no stream subcommand".into()),
    }
}

async fn add(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let name = sub.get_one::<String>("name").ok_or("NAME is required")?;
    let url = sub.get_one::<String>("url").ok_or("--url is required")?;
    let (secret, generated) = match sub.get_one::<String>("secret-env") {
        Some(variable) => match secret_from(variable) {
            Ok(secret) => (secret, false),
            Err(message) => return Ok(usage(&message)),
        },
        None => {
            let mut bytes = [0_u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| format!("cannot generate a secret: {e}"))?;
            (format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes)), true)
        }
    };
    let mut destination = Destination::new(name.clone(), url.clone(), secret.clone())
        .format(format_of(sub)?)
        .body(body_of(sub)?);
    if let Some(tenant) = sub.get_one::<String>("tenant") {
        destination = destination.tenant(tenant.clone());
    }
    match headers_of(sub) {
        Ok(headers) => {
            for (name, value) in headers {
                destination = destination.header(name, value);
            }
        }
        Err(message) => return Ok(usage(&message)),
    }
    let beginning = sub.get_one::<String>("from").is_some_and(|from| from == "beginning");
    let start = if beginning { StartAt::Beginning } else { StartAt::Heads };
    match store.add_stream_destination(&destination, start).await {
        Ok(()) => {}
        Err(error @ DestinationError::Invalid { .. }) => return Ok(usage(&error.to_string())),
        // Exists, or the store failed: exit 1.
        Err(error) => return Err(error.into()),
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "added destination {name}: {} to {} ({}, {}), {}",
        destination
            .tenant_id()
            .map_or_else(|| "every stream".to_owned(), |t| format!("tenant {t}'s events")),
        printable_url(destination.url()),
        destination.event_format(),
        destination.webhook_body().as_str(),
        if beginning {
            "from the beginning: every event the store keeps will be delivered"
        } else {
            "from now: events written from now on"
        },
    )?;
    if generated {
        writeln!(
            out,
            "its signing secret follows; it will not be shown again, so give it to the receiver now:"
        )?;
        writeln!(out, "{secret}")?;
    }
    writeln!(
        out,
        "deliveries start once `audit stream run` (or an app's Streamer with destinations_from_store) runs"
    )?;
    Ok(exit::OK)
}

/// What `list` and `status` say about one destination.
struct Standing {
    destination: Destination,
    positions: Vec<StreamPosition>,
}

impl Standing {
    fn lag(&self) -> u64 {
        self.positions.iter().map(StreamPosition::lag).sum()
    }
}

async fn standings(store: &Store) -> Result<Vec<Standing>> {
    let mut standings = Vec::new();
    for destination in store.stream_destinations().await? {
        let stream = destination.stream();
        let positions = store
            .stream_positions(&destination.sink_name(), stream.as_deref())
            .await?;
        standings.push(Standing { destination, positions });
    }
    Ok(standings)
}

async fn list(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let standings = standings(store).await?;
    let mut out = std::io::stdout().lock();
    if sub.get_flag("json") {
        let rows: Vec<_> = standings
            .iter()
            .map(|s| {
                let d = &s.destination;
                json!({"name": d.name(), "tenant": d.tenant_id(), "url": printable_url(d.url()),
                    "format": d.event_format().as_str(), "body": d.webhook_body().as_str(),
                    "headers": d.header_names().collect::<Vec<_>>(), "lag": s.lag()})
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(exit::OK);
    }
    let mut rows = vec![["NAME", "TENANT", "URL", "FORMAT", "BODY", "HEADERS", "LAG"].map(str::to_owned)];
    for s in &standings {
        let d = &s.destination;
        rows.push([
            d.name().to_owned(),
            d.tenant_id().unwrap_or("*").to_owned(),
            printable_url(d.url()),
            d.event_format().as_str().to_owned(),
            d.webhook_body().as_str().to_owned(),
            // Names only: the values are credentials.
            match d.header_names().collect::<Vec<_>>().join(",") {
                names if names.is_empty() => "-".to_owned(),
                names => names,
            },
            s.lag().to_string(),
        ]);
    }
    out.write_all(table(&rows).as_bytes())?;
    writeln!(out, "\n{}", destinations_count(standings.len()))?;
    Ok(exit::OK)
}

async fn remove(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let name = sub.get_one::<String>("name").ok_or("NAME is required")?;
    if !store.remove_stream_destination(name).await? {
        return Err(format!("no destination named {name:?}: `audit stream list` shows those kept").into());
    }
    println!(
        "removed destination {name} and its positions; a running streamer stops delivering to it at its next refresh"
    );
    Ok(exit::OK)
}

async fn status(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let standings = standings(store).await?;
    let mut out = std::io::stdout().lock();
    if sub.get_flag("json") {
        let rows: Vec<_> = standings
            .iter()
            .map(|s| {
                let streams: Vec<_> = s
                    .positions
                    .iter()
                    .map(|p| {
                        json!({"stream": p.stream, "base": p.base, "delivered": p.delivered, "head": p.head,
                            "lag": p.lag()})
                    })
                    .collect();
                json!({"destination": s.destination.name(), "sink": s.destination.sink_name(),
                    "lag": s.lag(), "streams": streams})
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(exit::OK);
    }
    let mut rows = vec![["DESTINATION", "STREAM", "DELIVERED", "HEAD", "LAG"].map(str::to_owned)];
    for s in &standings {
        for p in &s.positions {
            rows.push([
                s.destination.name().to_owned(),
                p.stream.clone(),
                p.delivered.to_string(),
                p.head.to_string(),
                p.lag().to_string(),
            ]);
        }
        if s.positions.is_empty() {
            rows.push([
                s.destination.name().to_owned(),
                "-".into(),
                "-".into(),
                "-".into(),
                "0".into(),
            ]);
        }
    }
    out.write_all(table(&rows).as_bytes())?;
    Ok(exit::OK)
}

/// `audit stream run`: a streamer of the store's destinations until Ctrl-C
/// or SIGTERM. It reports each destination starting to fail, and
/// recovering, on stderr.
async fn deliver(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let poll = sub
        .get_one::<u64>("poll")
        .map_or(DEFAULT_POLL_INTERVAL, |&seconds| Duration::from_secs(seconds));
    let refresh = Duration::from_secs(sub.get_one::<u64>("refresh").copied().unwrap_or(10));
    let destinations = store.stream_destinations().await?.len();
    let stop = crate::serve::stop_signal("finishing the deliveries in flight")?;
    let streams = Streamer::new(store.clone())
        .poll_interval(poll)
        .destinations_from_store(refresh)
        .start();
    eprintln!(
        "audit: streaming to {} (re-read every {} s; the store looked at every {} s); \
         Ctrl-C or SIGTERM stops",
        destinations_count(destinations),
        refresh.as_secs(),
        poll.as_secs()
    );
    tokio::pin!(stop);
    let mut failing: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut report = tokio::time::interval(REPORT_EVERY);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = report.tick() => {
                for stats in streams.stats() {
                    let was = failing.insert(stats.name.clone(), stats.failing).unwrap_or(false);
                    match (was, stats.failing) {
                        (false, true) => eprintln!(
                            "audit: {} failing (retried with backoff): {}",
                            stats.name,
                            printable(stats.last_error.as_deref().unwrap_or("unknown error"))
                        ),
                        (true, false) => eprintln!("audit: {} delivering again", stats.name),
                        _ => {}
                    }
                }
            }
        }
    }
    streams.shutdown().await;
    Ok(exit::OK)
}

/// The secret in `variable`, or why not.
fn secret_from(variable: &str) -> std::result::Result<String, String> {
    let secret = std::env::var(variable).map_err(|e| format!("--secret-env {variable}: {e}"))?;
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!(
            "destination secret: the secret in ${variable} is shorter than {MIN_SECRET_LEN} bytes"
        ));
    }
    Ok(secret)
}

fn format_of(sub: &ArgMatches) -> Result<EventFormat> {
    Ok(sub
        .get_one::<String>("format")
        .map_or("native", String::as_str)
        .parse()?)
}

fn body_of(sub: &ArgMatches) -> Result<WebhookBody> {
    Ok(sub.get_one::<String>("body").map_or("lines", String::as_str).parse()?)
}

/// `1 destination`, `2 destinations`.
fn destinations_count(n: usize) -> String {
    format!("{n} destination{}", if n == 1 { "" } else { "s" })
}

/// Says what is wrong with the command line, on one line; exit 2.
fn usage(message: &str) -> u8 {
    eprintln!("audit: error: {}", message.replace('\n', " "));
    exit::USAGE
}

/// `url` as it may be shown ([`redact_url`]), printable.
fn printable_url(url: &str) -> String {
    printable(&redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            printable_url("http://user:pw@siem.internal:8088/collector?token=s3cret"),
            "http://siem.internal:8088/collector?…"
        );
        assert_eq!(printable_url("http://127.0.0.1/hook"), "http://127.0.0.1/hook");
    }

    #[test]
    fn a_receivers_control_characters_are_escaped() {
        assert_eq!(printable("ok\u{1b}[31m\n"), "ok\\u{1b}[31m\\n");
    }
}
