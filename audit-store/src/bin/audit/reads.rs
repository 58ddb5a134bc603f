//! Reads of the log are themselves recorded in it, as the admin API records
//! its own: `query` as `audit_log.viewed`, `export` as `audit_log.exported`,
//! in the shape of `audit_store::log_read` with `metadata.via: "cli"`, by
//! the operator who ran the command, in the store that was read.
//!
//! The event is committed before the command exits 0. A read that cannot
//! be recorded fails the command (exit 1): `query` then prints nothing;
//! `export` has written its events by then, and says the export is not on
//! record. There is no flag to skip it: the database user needs to insert
//! events as well as read them.

use std::error::Error;
use std::ffi::OsStr;

use audit_core::{Action, Actor, AuditSink as _, Event, EventBuilder, Limits, Outcome};
use audit_store::Store;
use audit_store::log_read::{self, Via};
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, ArgMatches, Command};

/// The environment variables that name the operator, in order.
const USER_VARIABLES: [&str; 2] = ["USER", "LOGNAME"];

/// `--actor`'s value parser: [`actor_name`]'s check, with the refused
/// value shown escaped in the usage error (exit 2), not echoed raw into the
/// terminal as clap's own message would.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActorName;

impl TypedValueParser for ActorName {
    type Value = String;

    fn parse_ref(&self, command: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<String, clap::Error> {
        let refuse = |why: &str| {
            let flag = arg.map_or_else(|| "--actor".to_owned(), ToString::to_string);
            let shown = value.to_string_lossy().escape_debug().to_string();
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid value '{shown}' for '{flag}': {why}"),
            )
            .format(&mut command.clone())
        };
        let text = value.to_str().ok_or_else(|| refuse("must be UTF-8 text"))?;
        actor_name(text).map_err(|why| refuse(&why))
    }
}

/// Whether `name` may name who reads, as `--actor` or from the environment:
/// not empty, no character the event would have to escape (controls,
/// bidirectional overrides; see `audit_core::sanitize_str`) and not longer
/// than an actor id may be, so the name recorded is the name given.
fn actor_name(name: &str) -> Result<String, String> {
    if name.trim().is_empty() {
        return Err("must name who is reading (it is empty)".into());
    }
    if audit_core::sanitize_str(name, usize::MAX).0 != name {
        return Err("must not hold control or bidirectional-formatting characters".into());
    }
    let limit = Limits::default().field_bytes;
    if name.len() > limit {
        return Err(format!("must be at most {limit} bytes"));
    }
    Ok(name.to_owned())
}

/// Who reads: `--actor`, else the first of `$USER` and `$LOGNAME` that is a
/// valid name, else `unknown`; a person, so `Actor::user`.
pub(crate) fn reader(sub: &ArgMatches) -> Actor {
    let name = sub.get_one::<String>("actor").cloned().or_else(|| {
        USER_VARIABLES
            .iter()
            .filter_map(|variable| std::env::var(variable).ok())
            .find_map(|name| actor_name(&name).ok())
    });
    Actor::user(name.unwrap_or_else(|| "unknown".to_owned()))
}

type BoxError = Box<dyn Error>;

/// The event of one read, written to the store when the read has ended.
pub(crate) struct Read(EventBuilder);

impl Read {
    /// The read `action` (`log_read::VIEWED` or `EXPORTED`) of `what`, with
    /// `params` as its filters, by the operator `sub` names.
    pub(crate) fn new(sub: &ArgMatches, action: &'static str, what: &str, params: &[(String, String)]) -> Self {
        let action = Action::new(action).unwrap_or_else(|e| unreachable!("a valid action: {e}"));
        Self(log_read::describe(
            Event::builder(action, reader(sub)),
            Via::Cli,
            what,
            params,
        ))
    }

    /// How many events an export wrote.
    pub(crate) fn counted(self, events: u64) -> Self {
        Self(log_read::counted(self.0, events))
    }

    /// Records that the read succeeded.
    ///
    /// # Errors
    /// The store refused the event: the read is not on record.
    pub(crate) async fn succeeded(self, store: &Store) -> Result<(), BoxError> {
        store.write_batch(&[self.0.build()]).await?;
        Ok(())
    }

    /// Records that the read failed because of `reason`, and hands back
    /// `error` for the command to fail with; when the failure could not be
    /// recorded either, the error says so too.
    pub(crate) async fn failed(self, store: &Store, reason: String, error: BoxError) -> BoxError {
        let event = self.0.outcome(Outcome::Failure).reason(reason).build();
        match store.write_batch(&[event]).await {
            Ok(()) => error,
            Err(unrecorded) => {
                format!("{error}; and this failed read could not be recorded in the audit log: {unrecorded}").into()
            }
        }
    }
}
