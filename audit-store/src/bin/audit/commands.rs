//! What each subcommand does.

use std::error::Error;
use std::io::{IsTerminal as _, Write as _};

use audit_core::Timestamp;
use audit_store::log_read;
use audit_store::{AuditQuery, ExportFormat, Page, ProofLine, Purge, RetentionPolicy, Store};
use clap::ArgMatches;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::reads::Read;
use crate::{args, catalogue, erase, exit, known, proofs, serve, stream, table};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Runs the chosen subcommand; the exit code on success.
pub(crate) async fn run(matches: &ArgMatches) -> Result<u8> {
    let (name, sub) = matches.subcommand().ok_or("no subcommand")?;
    // These need no database.
    match name {
        "keygen" => return proofs::keygen(sub),
        "verify-event" => return proofs::verify_event(sub),
        "stream" => {
            if let Some(("test", test)) = sub.subcommand() {
                return stream::test(test).await;
            }
        }
        _ => {}
    }
    let url = sub
        .get_one::<String>("database-url")
        .or_else(|| matches.get_one::<String>("database-url"))
        .ok_or("no database: pass --database-url or set AUDIT_DATABASE_URL")?;
    if name == "purge" && !sub.get_flag("yes") {
        return Err("purge removes events for good: add --yes to confirm".into());
    }
    let store = audit_store::connect(url).await?;
    match name {
        "query" => query(&store, sub).await,
        "export" => export(&store, sub).await,
        "verify" => match sub.get_one::<String>("checkpoints") {
            Some(dir) => proofs::verify_checkpoints(&store, sub, dir).await,
            None => verify(&store, sub).await,
        },
        "checkpoint" => proofs::checkpoint(&store, sub).await,
        "prove" => proofs::prove(&store, sub).await,
        "migrate" => migrate(&store, sub).await,
        "purge" => purge(&store, sub).await,
        "serve" => serve::run(store, sub).await,
        "stream" => stream::run(&store, sub).await,
        "catalogue" => catalogue::run(&store, sub).await,
        "erase" => erase::erase(&store, sub).await,
        "hold" => erase::hold(&store, sub).await,
        other => Err(format!("unknown command `{other}`").into()),
    }
}

fn query_of(sub: &ArgMatches) -> Result<AuditQuery> {
    let pairs = args::filter_pairs(sub);
    Ok(AuditQuery::from_params(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )?)
}

/// A progress bar on stderr when it is a terminal, else nothing.
fn progress(length: Option<u64>, message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match length {
        Some(length) => ProgressBar::new(length).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} events ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.with_message(message)
}

async fn query(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let read = Read::new(sub, log_read::VIEWED, log_read::LISTED, &args::filter_pairs(sub));
    let page = match read_page(store, sub).await {
        Ok(page) => page,
        Err(error) => return Err(read.failed(store, error.to_string(), error).await),
    };
    // On record before anything is shown: a read that cannot be audited shows nothing.
    read.succeeded(store)
        .await
        .map_err(|e| format!("the read could not be recorded in the audit log, so nothing is shown: {e}"))?;
    let mut out = std::io::stdout().lock();
    if sub.get_flag("json") {
        serde_json::to_writer_pretty(&mut out, &json!({"data": page.events, "next_cursor": page.next_cursor}))?;
        writeln!(out)?;
    } else {
        out.write_all(table::events(&page.events).as_bytes())?;
        match &page.next_cursor {
            Some(cursor) => writeln!(out, "\n{} events; more with --cursor {cursor}", page.events.len())?,
            None => writeln!(out, "\n{} events", page.events.len())?,
        }
    }
    Ok(exit::OK)
}

async fn read_page(store: &Store, sub: &ArgMatches) -> Result<Page> {
    Ok(store.query(&query_of(sub)?).await?)
}

/// An export, recorded once it has ended, with how it ended and how many
/// events it wrote.
async fn export(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let format: ExportFormat = sub.get_one::<String>("format").ok_or("--format is required")?.parse()?;
    let with_proofs = sub.get_flag("with-proofs");
    // The parameters as the admin API's export takes them.
    let mut params = args::filter_pairs(sub);
    params.push(("format".to_owned(), format.extension().to_owned()));
    if with_proofs {
        params.push(("with_proofs".to_owned(), "true".to_owned()));
    }
    let read = Read::new(
        sub,
        log_read::EXPORTED,
        &log_read::exported(format, with_proofs),
        &params,
    );
    let mut written = Written::default();
    if let Err(error) = write_export(store, sub, format, with_proofs, &mut written).await {
        let reason = if written.started {
            log_read::stopped(written.events, &error.to_string())
        } else {
            error.to_string()
        };
        return Err(read.counted(written.events).failed(store, reason, error).await);
    }
    read.counted(written.events).succeeded(store).await.map_err(|e| {
        format!(
            "exported {} events, but the export could not be recorded in the audit log: {e}",
            written.events
        )
    })?;
    if sub.get_one::<String>("output").is_some() {
        eprintln!("exported {} events", written.events);
    }
    Ok(exit::OK)
}

/// How far an export got.
#[derive(Default)]
struct Written {
    /// Whether it began writing events (anything failing before is not an
    /// export that stopped, but one that never started).
    started: bool,
    events: u64,
}

async fn write_export(
    store: &Store,
    sub: &ArgMatches,
    format: ExportFormat,
    with_proofs: bool,
    written: &mut Written,
) -> Result<()> {
    if with_proofs && format != ExportFormat::Ndjson {
        return Err("--with-proofs needs --format ndjson: a proof is a JSON object per line".into());
    }
    let mut scan = store.scan(&query_of(sub)?)?;
    let mut out: Box<dyn std::io::Write> = match sub.get_one::<String>("output") {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    written.started = true;
    let bar = progress(None, "exporting");
    out.write_all(&format.header())?;
    let mut chunk = Vec::new();
    if with_proofs {
        let mut proofs = scan.with_proofs();
        while let Some(lines) = proofs.next_batch().await? {
            chunk.clear();
            ProofLine::write_ndjson(&lines, &mut chunk);
            out.write_all(&chunk)?;
            written.events += lines.len() as u64;
            bar.inc(lines.len() as u64);
        }
    } else {
        while let Some(events) = scan.next_batch().await? {
            chunk.clear();
            format.write(&events, &mut chunk);
            out.write_all(&chunk)?;
            written.events += events.len() as u64;
            bar.inc(events.len() as u64);
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}

async fn verify(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let streams = match sub.get_one::<String>("tenant") {
        Some(tenant) => vec![format!("tenant:{tenant}")],
        None => store.streams().await?,
    };
    let bar = progress(Some(streams.len() as u64), "verifying");
    let mut reports = Vec::new();
    for stream in &streams {
        reports.push(store.verify(stream).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let known_file = sub.get_one::<String>("known");
    let known = match known_file {
        Some(path) => known::read(path)?,
        None => known::Known::default(),
    };
    let only = sub.get_one::<String>("tenant").map(|tenant| format!("tenant:{tenant}"));
    let lost = known.lost(&reports, only.as_deref());
    let bad = reports.iter().find(|r| !r.is_intact());
    if sub.get_flag("json") {
        let mut rows: Vec<_> = reports
            .iter()
            .map(|r| {
                json!({"stream": r.stream, "checked": r.checked, "last_seq": r.last_seq, "intact": r.is_intact(),
                    "problem": r.problem.as_ref().map(ToString::to_string)})
            })
            .collect();
        rows.extend(
            lost.iter()
                .map(|l| json!({"stream": l.stream, "checked": 0, "intact": false, "problem": l.to_string()})),
        );
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for report in &reports {
            match &report.problem {
                None => println!("{}: intact, {} events", report.stream, report.checked),
                Some(problem) => println!(
                    "{}: TAMPERED after {} good events: {problem}",
                    report.stream, report.checked
                ),
            }
        }
        for lost in &lost {
            println!("{}: TAMPERED: {lost}", lost.stream);
        }
    }
    match (bad, lost.first()) {
        (Some(report), _) => {
            let problem = report.problem.as_ref().map(ToString::to_string).unwrap_or_default();
            eprintln!("audit: stream {} does not verify: {problem}", report.stream);
            Ok(exit::TAMPERED)
        }
        (None, Some(lost)) => {
            eprintln!("audit: stream {} does not verify: {lost}", lost.stream);
            Ok(exit::TAMPERED)
        }
        (None, None) => {
            if let Some(path) = known_file {
                // Only a clean run moves what is known forward: after a
                // failed one the file still holds the evidence.
                known.updated(&reports).write(path)?;
            }
            Ok(exit::OK)
        }
    }
}

async fn migrate(store: &Store, sub: &ArgMatches) -> Result<u8> {
    if let Some(unit) = sub.get_one::<String>("partition-unit") {
        #[cfg(feature = "postgres")]
        if let Store::Postgres(pg) = store {
            pg.set_partition_unit(unit.parse()?).await?;
        } else {
            return Err("--partition-unit: only a PostgreSQL store is partitioned".into());
        }
        #[cfg(not(feature = "postgres"))]
        return Err(format!("--partition-unit {unit}: only a PostgreSQL store is partitioned").into());
    }
    if let Some(setting) = sub.get_one::<String>("search-index") {
        store.set_search_index(setting == "on").await?;
    }
    println!("migrations applied; {} streams", store.streams().await?.len());
    println!(
        "free-text search index: {}",
        if store.search_index().await? { "on" } else { "off" }
    );
    #[cfg(feature = "postgres")]
    if let Store::Postgres(pg) = store {
        println!("new partitions cover a {}", pg.partition_unit().await?);
    }
    Ok(exit::OK)
}

async fn purge(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let purge = match sub.get_one::<String>("before") {
        Some(before) => {
            // The query parser reads dates and times the same way everywhere.
            let since = AuditQuery::from_params([("since", before.as_str())])
                .map_err(|e| format!("--before {}", e.message()))?;
            Purge::before(since_of(&since).ok_or("--before is required")?)
        }
        None => Purge::by_policy(retention_policy(sub)?),
    };
    let mut purge = purge.actor(audit_core::Actor::system("audit-cli"));
    if let Some(tenant) = sub.get_one::<String>("tenant") {
        purge = purge.tenant(tenant.clone());
    }
    let bar = progress(None, "purging");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let outcome = store.purge(&purge).await?;
    bar.finish_and_clear();
    if sub.get_flag("json") {
        let streams: Vec<_> = outcome
            .streams
            .iter()
            .map(|r| {
                json!({"stream": r.stream, "removed": r.removed, "through_seq": r.through_seq,
                "event_id": r.event.id()})
            })
            .collect();
        let body = json!({"streams": streams, "dropped_partitions": outcome.dropped_partitions,
            "deleted_from_partitions": outcome.deleted_from_partitions});
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(exit::OK);
    }
    if outcome.streams.is_empty() {
        println!("nothing to purge");
    }
    for r in &outcome.streams {
        println!(
            "{}: removed {} events (through seq {}), recorded as {}",
            r.stream,
            r.removed,
            r.through_seq,
            r.event.id()
        );
    }
    for partition in &outcome.dropped_partitions {
        println!("dropped partition {partition} (every event in it was purged)");
    }
    for partition in &outcome.deleted_from_partitions {
        println!("deleted the purged events of partition {partition} row by row (it holds events still kept)");
    }
    Ok(exit::OK)
}

/// The policy `--keep` and `--keep-tenant` describe.
fn retention_policy(sub: &ArgMatches) -> Result<RetentionPolicy> {
    let mut policy = RetentionPolicy::keep_forever();
    if let Some(period) = sub.get_one::<String>("keep") {
        policy = policy.default_period(period_of(period).map_err(|e| format!("--keep {period:?}: {e}"))?);
    }
    for entry in sub.get_many::<String>("keep-tenant").into_iter().flatten() {
        let (tenant, period) = entry
            .split_once('=')
            .filter(|(tenant, _)| !tenant.is_empty())
            .ok_or_else(|| format!("--keep-tenant {entry:?}: expected TENANT=PERIOD, e.g. acme=365d"))?;
        let period = period_of(period).map_err(|e| format!("--keep-tenant {entry:?}: {e}"))?;
        policy = policy.tenant(tenant, period);
    }
    Ok(policy)
}

/// A retention period: a whole number of days, `365d`.
fn period_of(text: &str) -> std::result::Result<std::time::Duration, String> {
    let days: u64 = text
        .strip_suffix('d')
        .and_then(|days| days.parse().ok())
        .filter(|days| (1..=36_500).contains(days))
        .ok_or("expected a number of days from 1 to 36500 followed by d, e.g. 90d")?;
    Ok(std::time::Duration::from_secs(days * 86_400))
}

/// The `since` bound a one-filter query carries.
fn since_of(query: &AuditQuery) -> Option<Timestamp> {
    query
        .to_params()
        .into_iter()
        .find(|(name, _)| *name == "since")
        .and_then(|(_, value)| chrono::DateTime::parse_from_rfc3339(&value).ok())
        .map(|at| Timestamp::from_datetime(at.to_utc()))
}
