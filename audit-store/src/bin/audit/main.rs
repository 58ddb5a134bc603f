//! `audit`: query, export, verify, purge, serve and stream an audit store from the
//! command line. See `audit --help`; exit codes are listed there.

mod args;
mod catalogue;
mod commands;
mod erase;
mod known;
mod proofs;
mod reads;
mod serve;
mod stream;
mod table;

use std::process::ExitCode;

/// Exit codes, as `audit --help` documents them.
pub(crate) mod exit {
    /// Everything went as asked.
    pub(crate) const OK: u8 = 0;
    /// An error (one line on stderr says what).
    pub(crate) const ERROR: u8 = 1;
    /// The command line was wrong.
    pub(crate) const USAGE: u8 = 2;
    /// `verify` found a stream that does not verify.
    pub(crate) const TAMPERED: u8 = 3;
    /// `verify-event`: every proof holds, but some events are not covered
    /// by a signed checkpoint yet.
    pub(crate) const NOT_COVERED: u8 = 4;
    /// `stream test`: the receiver answered, other than 2xx.
    pub(crate) const REFUSED: u8 = 5;
    /// `stream test`: no answer (connection refused or reset, or the
    /// timeout passed).
    pub(crate) const NO_ANSWER: u8 = 6;
    /// `erase`: refused, a tenant whose events name the subject is under
    /// a legal hold.
    pub(crate) const HELD: u8 = 7;
}

fn main() -> ExitCode {
    let matches = match args::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => {
            let code = if error.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("audit: error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(commands::run(&matches)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // One line, whatever went wrong.
            let message = error.to_string().replace('\n', " ");
            eprintln!("audit: error: {message}");
            ExitCode::from(exit::ERROR)
        }
    }
}
