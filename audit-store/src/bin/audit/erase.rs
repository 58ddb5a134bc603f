//! `audit erase` and `audit hold`: erasing a subject's personal data
//! (`Store::erase_subject`) and the legal holds that refuse it.

use std::error::Error;
use std::io::Write as _;

use audit_store::personal::Erasure;
use audit_store::{Store, StoreError};
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::exit;
use crate::reads::{ActorName, reader};
use crate::table::table;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Who asks, recorded as the actor of the event.
fn operator() -> Arg {
    Arg::new("actor")
        .long("actor")
        .value_name("NAME")
        .value_parser(ActorName)
        .help("Who asks: recorded as the event's actor [default: $USER, else $LOGNAME, else \"unknown\"]")
}

fn json_flag() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Print JSON instead of text")
}

/// The `erase` subcommand.
pub(crate) fn erase_command() -> Command {
    Command::new("erase")
        .about(
            "Erase a subject's personal data for good (GDPR Art. 17) by destroying its key: its sealed values read \
             \"[erased]\" everywhere, every proof and checkpoint stays valid, and audit.subject_erased is recorded. \
             Refused (exit 7) while a tenant whose events name the subject is under a legal hold",
        )
        .arg(
            Arg::new("subject")
                .long("subject")
                .value_name("ID")
                .required(true)
                .help("The subject: an actor or target id, e.g. user_bob"),
        )
        .arg(
            Arg::new("reason")
                .long("reason")
                .help("Why (a ticket, the legal basis); recorded with the erasure"),
        )
        .arg(operator())
        .arg(
            Arg::new("yes")
                .long("yes")
                .action(ArgAction::SetTrue)
                .help("Confirm: erased values cannot be brought back"),
        )
        .arg(json_flag())
}

/// The `hold` subcommand.
pub(crate) fn hold_command() -> Command {
    Command::new("hold")
        .about("Legal holds: tenants whose subjects cannot be erased while held")
        .subcommand_required(true)
        .subcommand(
            Command::new("place")
                .about("Hold a tenant (recorded as audit.legal_hold.placed)")
                .arg(
                    Arg::new("tenant")
                        .long("tenant")
                        .required(true)
                        .help("The tenant to hold"),
                )
                .arg(
                    Arg::new("reason")
                        .long("reason")
                        .required(true)
                        .help("Why: the case or matter"),
                )
                .arg(operator()),
        )
        .subcommand(
            Command::new("release")
                .about("Release a tenant's hold (recorded as audit.legal_hold.released)")
                .arg(Arg::new("tenant").long("tenant").required(true).help("The held tenant"))
                .arg(operator()),
        )
        .subcommand(Command::new("list").about("The holds in force").arg(json_flag()))
}

/// Runs `audit erase`.
pub(crate) async fn erase(store: &Store, sub: &ArgMatches) -> Result<u8> {
    if !sub.get_flag("yes") {
        return Err("erase destroys the subject's key for good: add --yes to confirm".into());
    }
    let subject = sub.get_one::<String>("subject").ok_or("--subject is required")?;
    let mut erasure = Erasure::new(subject.clone(), reader(sub));
    if let Some(reason) = sub.get_one::<String>("reason") {
        erasure = erasure.reason(reason.clone());
    }
    let report = match store.erase_subject(&erasure).await {
        Ok(report) => report,
        Err(StoreError::LegalHold { tenant, reason, .. }) => {
            eprintln!(
                "audit: refused: tenant {tenant} is under a legal hold ({reason}); nothing was erased. `audit hold \
                 release --tenant {tenant}` lifts it"
            );
            return Ok(exit::HELD);
        }
        Err(error) => return Err(error.into()),
    };
    let mut out = std::io::stdout().lock();
    if sub.get_flag("json") {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(exit::OK);
    }
    let tenants: Vec<&str> = report
        .tenants
        .iter()
        .map(|t| t.as_deref().unwrap_or("(no tenant)"))
        .collect();
    writeln!(
        out,
        "erased {}: {}; its events are in {}; recorded as {}",
        report.subject,
        if report.key_destroyed {
            "key destroyed"
        } else {
            "it had no key (never sealed, or erased before); it will never get one"
        },
        if tenants.is_empty() {
            "no tenant".to_owned()
        } else {
            tenants.join(", ")
        },
        report
            .events
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    )?;
    Ok(exit::OK)
}

/// Runs `audit hold …`.
pub(crate) async fn hold(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match sub.subcommand() {
        Some(("place", place)) => {
            let tenant = place.get_one::<String>("tenant").ok_or("--tenant is required")?;
            let reason = place.get_one::<String>("reason").ok_or("--reason is required")?;
            let hold = store.place_legal_hold(tenant, reason, &reader(place)).await?;
            if hold.reason == *reason {
                writeln!(out, "held {tenant}: {reason}")?;
            } else {
                writeln!(
                    out,
                    "{tenant} was held already, since {} by {}: {}",
                    hold.placed_at, hold.placed_by, hold.reason
                )?;
            }
            Ok(exit::OK)
        }
        Some(("release", release)) => {
            let tenant = release.get_one::<String>("tenant").ok_or("--tenant is required")?;
            match store.release_legal_hold(tenant, &reader(release)).await? {
                Some(hold) => writeln!(
                    out,
                    "released {tenant} (held since {} for: {})",
                    hold.placed_at, hold.reason
                )?,
                None => {
                    eprintln!("audit: {tenant} is not held");
                    return Ok(exit::ERROR);
                }
            }
            Ok(exit::OK)
        }
        Some(("list", list)) => {
            let holds = store.legal_holds().await?;
            if list.get_flag("json") {
                serde_json::to_writer_pretty(&mut out, &holds)?;
                writeln!(out)?;
            } else {
                let mut rows = vec![["TENANT", "PLACED_AT", "PLACED_BY", "REASON"].map(str::to_owned)];
                rows.extend(holds.iter().map(|h| {
                    [
                        h.tenant.clone(),
                        h.placed_at.to_string(),
                        h.placed_by.clone(),
                        h.reason.clone(),
                    ]
                }));
                out.write_all(table(&rows).as_bytes())?;
            }
            Ok(exit::OK)
        }
        _ => Err("hold needs place, release or list".into()),
    }
}
