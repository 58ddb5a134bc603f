//! The command line, built from the store's own parameter table so every
//! query filter is a flag.

use clap::{Arg, ArgAction, ArgMatches, Command};

use audit_store::QUERY_PARAMETERS;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (one line on stderr says what)
  2  usage error
  3  verify found a stream that does not verify (the first bad event, or the
     first checkpoint the database no longer matches, is named); verify-event
     found a proof that does not hold; checkpoint refused to sign a rolled-back
     or rewritten stream
  4  verify-event checked every proof in the file and all hold, but some lines
     are events no signed checkpoint covered yet (an export with proofs made
     before the next checkpoint): they are listed, and prove nothing
  5  stream test: the receiver answered, but not 2xx (its status, Retry-After
     and the start of its body are printed)
  6  stream test: no answer (connection refused or reset, or --timeout passed)
  7  erase refused: a tenant whose events name the subject is under a legal
     hold (audit hold list shows it); nothing was erased

The database URL comes from --database-url or AUDIT_DATABASE_URL:
  sqlite://audit.db, sqlite::memory:, postgres://user:password@host/db

Reads are audited: query and export record audit_log.viewed / audit_log.exported
(metadata.via \"cli\", the filters in metadata.filters) in the store they read,
as the user named by --actor, else $USER, else $LOGNAME, else \"unknown\". The
event is committed before the command exits 0; a read that cannot be recorded
fails with exit 1 (query then prints nothing). A failed read is recorded as a
failure with its reason.";

/// Who is reading, for the read's own audit event.
fn actor() -> Arg {
    Arg::new("actor")
        .long("actor")
        .value_name("NAME")
        .value_parser(crate::reads::ActorName)
        .help(
            "Who is reading: the user this read is recorded as (audit_log.viewed or audit_log.exported) \
             [default: $USER, else $LOGNAME, else \"unknown\"]. Not a filter: that is --actor-id. A name that is empty, holds control or \
             bidirectional-formatting characters, or is longer than an actor id may be is refused (exit 2)",
        )
}

fn database_url() -> Arg {
    Arg::new("database-url")
        .long("database-url")
        .env("AUDIT_DATABASE_URL")
        .hide_env_values(true)
        .required(true)
        .help("The store: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")
}

/// The query filters as flags: `--actor-id`, `--action` (repeatable), …
fn filters(command: Command, paging: bool) -> Command {
    QUERY_PARAMETERS
        .iter()
        .filter(|p| paging || !matches!(p.name, "limit" | "cursor" | "offset"))
        .fold(command, |command, p| {
            let mut arg = Arg::new(p.name)
                .long(p.name.replace('_', "-"))
                .help(p.description)
                .help_heading("Filters");
            // Friendlier long names than the query-string ones.
            match p.name {
                "tenant_id" => arg = arg.long("tenant").visible_alias("tenant-id"),
                "q" => arg = arg.long("text").visible_alias("q"),
                _ => {}
            }
            arg = arg.value_name(p.name.to_uppercase());
            if p.repeatable {
                arg = arg.action(ArgAction::Append);
            }
            if !p.values.is_empty() {
                arg = arg.value_parser(p.values.to_vec());
            }
            command.arg(arg)
        })
}

fn json_flag() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Print JSON instead of a table")
}

/// The `audit` command.
pub(crate) fn command() -> Command {
    Command::new("audit")
        .about("Query, export, verify and purge an audit store, or serve its admin API")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .after_help(EXIT_CODES)
        .arg(database_url().global(true).required(false))
        .subcommand(
            filters(
                Command::new("query").about(
                    "List events, newest first (a page at a time; --cursor for the next); recorded as \
                     audit_log.viewed",
                ),
                true,
            )
            .arg(json_flag())
            .arg(actor()),
        )
        .subcommand(
            filters(
                Command::new("export").about(
                    "Write every matching event as CSV or NDJSON; recorded as audit_log.exported once it ends, \
                     with how it ended",
                ),
                false,
            )
            .arg(actor())
            .arg(
                Arg::new("format")
                    .long("format")
                    .required(true)
                    .value_parser(["csv", "ndjson"])
                    .help("csv (fixed columns, formula cells neutralised) or ndjson (one event per line)"),
            )
            .arg(
                Arg::new("output")
                    .long("output")
                    .short('o')
                    .help("Write to this file instead of stdout"),
            )
            .arg(
                Arg::new("with-proofs")
                    .long("with-proofs")
                    .action(ArgAction::SetTrue)
                    .help(
                        "With --format ndjson: each line the event's proof against its stream's newest signed \
                         checkpoint (what `audit prove` prints; check with `audit verify-event`), or, for an event \
                         no checkpoint covers yet, {\"event\", \"leaf_index\", \"checkpoint\": null}",
                    ),
            ),
        )
        .subcommand(
            Command::new("verify")
                .about("Recompute every hash and check every stream's sequence; exit 3 on the first bad event")
                .arg(
                    Arg::new("tenant")
                        .long("tenant")
                        .help("Only this tenant's stream (default: every stream)"),
                )
                .arg(Arg::new("known").long("known").value_name("FILE").help(
                    "Streams verified before, and how far (JSON, kept off the database's host): a stream \
                             that is gone or ends earlier than it did is reported (exit 3); updated when all verify",
                ))
                .arg(
                    Arg::new("checkpoints")
                        .long("checkpoints")
                        .value_name("DIR")
                        .requires("key")
                        .help(
                            "Signed checkpoints kept off the database's host (*.checkpoint files, as the \
                             directory sink writes them): each stream is replayed against them, and successive \
                             ones must be provably consistent; exit 3 names the first one the database no longer \
                             matches",
                        ),
                )
                .arg(verifier_key_arg().required(false))
                .arg(json_flag()),
        )
        .subcommand(
            Command::new("keygen")
                .about("Make a checkpoint signing key: the private key to a new file, the verifier key to stdout")
                .arg(
                    Arg::new("name")
                        .required(true)
                        .help("The log's name, e.g. audit.example.com: checkpoint origins are NAME/<stream>"),
                )
                .arg(
                    Arg::new("out")
                        .long("out")
                        .short('o')
                        .default_value("audit-signing.key")
                        .help("Where to write the private key (created readable by you only; never overwritten)"),
                ),
        )
        .subcommand(
            Command::new("checkpoint")
                .about("Sign the head of every stream that moved since its last checkpoint, now")
                .arg(signing_key_file())
                .arg(signing_key_env())
                .arg(
                    Arg::new("out-dir")
                        .long("out-dir")
                        .value_name("DIR")
                        .help("Also write each checkpoint under DIR (what verify --checkpoints reads)"),
                )
                .arg(
                    Arg::new("post")
                        .long("post")
                        .value_name("URL")
                        .help("Also POST each checkpoint to this http:// URL (a witness)"),
                ),
        )
        .subcommand(
            Command::new("prove")
                .about("Print an event's inclusion proof against its stream's newest checkpoint, as JSON")
                .arg(
                    Arg::new("event")
                        .required(true)
                        .value_name("EVENT_ID")
                        .help("The event's id"),
                ),
        )
        .subcommand(
            Command::new("verify-event")
                .about("Check proofs offline (no database): a file from `audit prove`, or an NDJSON export with proofs")
                .arg(Arg::new("file").required(true).value_name("FILE"))
                .arg(verifier_key_arg()),
        )
        .subcommand(
            Command::new("migrate")
                .about("Create or upgrade the store's tables")
                .arg(
                    Arg::new("partition-unit")
                        .long("partition-unit")
                        .value_parser(["day", "week", "month", "year"])
                        .help("PostgreSQL: the period each new partition covers (month by default)"),
                )
                .arg(
                    Arg::new("search-index")
                        .long("search-index")
                        .value_parser(["on", "off"])
                        .help(
                            "Turn the free-text search index off (appends get faster, searches read rows) or on \
                             (rebuilt over every event)",
                        ),
                ),
        )
        .subcommand(
            Command::new("purge")
                .about(
                    "Remove events that occurred before a date, or older than each tenant's retention period \
                     (recorded as audit.purged; the rest still verifies)",
                )
                .arg(
                    Arg::new("before")
                        .long("before")
                        .help("RFC 3339 time or YYYY-MM-DD (midnight UTC)"),
                )
                .arg(
                    Arg::new("keep")
                        .long("keep")
                        .value_name("PERIOD")
                        .conflicts_with("before")
                        .help("Keep this long (e.g. 365d) in every stream without its own --keep-tenant"),
                )
                .arg(
                    Arg::new("keep-tenant")
                        .long("keep-tenant")
                        .value_name("TENANT=PERIOD")
                        .action(ArgAction::Append)
                        .conflicts_with("before")
                        .help("A tenant's own period (e.g. trial-co=90d); repeat for each"),
                )
                .group(
                    clap::ArgGroup::new("cut")
                        .args(["before", "keep", "keep-tenant"])
                        .multiple(true)
                        .required(true),
                )
                .arg(Arg::new("tenant").long("tenant").help("Only this tenant's stream"))
                .arg(
                    Arg::new("yes")
                        .long("yes")
                        .action(ArgAction::SetTrue)
                        .help("Confirm: purged events are gone for good"),
                )
                .arg(json_flag()),
        )
        .subcommand(
            Command::new("serve")
                .about(
                    "Serve the admin API (reads need `Authorization: Bearer <AUDIT_SERVE_TOKEN>`) until Ctrl-C or \
                     SIGTERM, then answer the requests in flight and record audit.stopped",
                )
                .arg(
                    Arg::new("addr")
                        .long("addr")
                        .default_value("127.0.0.1:8080")
                        .help("Address to listen on"),
                )
                .arg(
                    Arg::new("token")
                        .long("token")
                        .env("AUDIT_SERVE_TOKEN")
                        .hide_env_values(true)
                        .required(true)
                        .help("The bearer token that reads every tenant, as the platform role `auditor`"),
                ),
        )
        .subcommand(crate::stream::command())
        .subcommand(crate::catalogue::command())
        .subcommand(crate::erase::erase_command())
        .subcommand(crate::erase::hold_command())
}

/// The log's verifier key, as text or a file holding it.
fn verifier_key_arg() -> Arg {
    Arg::new("key")
        .long("key")
        .value_name("VERIFIER_KEY")
        .required(true)
        .help("The log's verifier key (NAME+HASH+BASE64, as `audit keygen` prints it), or a file holding it")
}

fn signing_key_file() -> Arg {
    Arg::new("key-file")
        .long("key-file")
        .value_name("FILE")
        .conflicts_with("key-env")
        .help("Read the signing key from FILE (as `audit keygen` wrote it)")
}

fn signing_key_env() -> Arg {
    Arg::new("key-env")
        .long("key-env")
        .value_name("VARIABLE")
        .help("Read the signing key from this environment variable [default: AUDIT_SIGNING_KEY]")
}

/// The query-string pairs the filter flags of `matches` spell.
pub(crate) fn filter_pairs(matches: &ArgMatches) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for p in QUERY_PARAMETERS {
        if let Ok(Some(values)) = matches.try_get_many::<String>(p.name) {
            pairs.extend(values.map(|v| (p.name.to_owned(), v.clone())));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        super::command().debug_assert();
    }
}
