//! `audit catalogue`: the actions the applications writing to the store
//! declared (their `audit.toml`, published with
//! `Store::publish_catalogue`), as a table, JSON, or JSON Schemas of each
//! action's metadata for SIEM field mappings.

use std::error::Error;
use std::io::Write as _;

use audit_store::Store;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Map, Value};

use crate::exit;
use crate::table::table;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The `catalogue` subcommand.
pub(crate) fn command() -> Command {
    Command::new("catalogue")
        .about(
            "The actions the applications declared (audit.toml, published by Store::publish_catalogue): category, \
             severity, metadata and description",
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .conflicts_with("schema")
                .help("Print the entries as JSON instead of a table"),
        )
        .arg(
            Arg::new("schema")
                .long("schema")
                .value_name("ACTION")
                .num_args(0..=1)
                .default_missing_value("")
                .help(
                    "Print a JSON Schema (draft 2020-12) of each action's metadata, as {action: schema}; of ACTION \
                     alone when named",
                ),
        )
}

/// Runs `audit catalogue`.
pub(crate) async fn run(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let entries = store.catalogue().await?;
    let mut out = std::io::stdout().lock();
    if let Some(only) = sub.get_one::<String>("schema") {
        if only.is_empty() {
            let schemas: Map<String, Value> = entries
                .iter()
                .map(|entry| (entry.action.clone(), entry.metadata_schema()))
                .collect();
            serde_json::to_writer_pretty(&mut out, &schemas)?;
        } else {
            let Some(entry) = entries.iter().find(|entry| &entry.action == only) else {
                eprintln!(
                    "audit: error: --schema {only}: no such action in the catalogue ({} declared: `audit catalogue` \
                     lists them)",
                    entries.len()
                );
                return Ok(exit::USAGE);
            };
            serde_json::to_writer_pretty(&mut out, &entry.metadata_schema())?;
        }
        writeln!(out)?;
        return Ok(exit::OK);
    }
    if sub.get_flag("json") {
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(exit::OK);
    }
    if entries.is_empty() {
        writeln!(
            out,
            "no catalogue published: an application publishes its audit.toml with Store::publish_catalogue when it \
             starts"
        )?;
        return Ok(exit::OK);
    }
    let mut rows = vec![["ACTION", "CATEGORY", "SEVERITY", "METADATA", "DESCRIPTION"].map(str::to_owned)];
    for entry in &entries {
        let metadata: Vec<String> = entry
            .metadata
            .iter()
            .map(|(key, kind)| format!("{key}:{kind}"))
            .collect();
        rows.push([
            entry.action.clone(),
            entry.category.as_str().to_owned(),
            entry.severity.map_or("-", |severity| severity.as_str()).to_owned(),
            if metadata.is_empty() {
                "-".to_owned()
            } else {
                metadata.join(",")
            },
            entry.description.clone(),
        ]);
    }
    out.write_all(table(&rows).as_bytes())?;
    let count = entries.len();
    writeln!(out, "\n{count} action{}", if count == 1 { "" } else { "s" })?;
    Ok(exit::OK)
}
