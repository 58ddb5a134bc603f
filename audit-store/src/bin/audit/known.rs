//! `audit verify --known FILE`: what earlier runs verified, kept where the
//! database cannot rewrite it.
//!
//! A stream whose rows and head row were both deleted leaves nothing in the
//! database to verify against; only a record kept elsewhere notices it is
//! gone, or that it now ends earlier than it did. Signed checkpoints will
//! make such records verifiable by anyone; until then this file is that
//! record, for whoever runs `audit verify` on a schedule.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;

use audit_store::VerifyReport;

/// Each stream verified before and the last seq it held then.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Known {
    streams: BTreeMap<String, u64>,
}

/// A stream that ends earlier than an earlier run saw, or is gone.
#[derive(Debug)]
pub(crate) struct Lost {
    pub(crate) stream: String,
    known_seq: u64,
    /// Where it ends now, if it still exists.
    now: Option<u64>,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.now {
            None => write!(f, "verified up to seq {} before, the stream is gone", self.known_seq),
            Some(now) => write!(
                f,
                "verified up to seq {} before, the stream now ends at seq {now}",
                self.known_seq
            ),
        }
    }
}

/// Reads `path`; a file that does not exist yet knows nothing.
pub(crate) fn read(path: &str) -> Result<Known, Box<dyn Error>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("--known {path}: {e}").into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Known::default()),
        Err(e) => Err(format!("--known {path}: {e}").into()),
    }
}

impl Known {
    /// The streams (all, or only `only`) that `reports` show gone or shorter.
    pub(crate) fn lost(&self, reports: &[VerifyReport], only: Option<&str>) -> Vec<Lost> {
        self.streams
            .iter()
            .filter(|(stream, _)| only.is_none_or(|only| only == stream.as_str()))
            .filter_map(|(stream, &known_seq)| {
                let now = reports
                    .iter()
                    .find(|r| &r.stream == stream)
                    .map(|r| r.last_seq)
                    .filter(|&seq| seq > 0);
                (now.unwrap_or(0) < known_seq).then(|| Lost {
                    stream: stream.clone(),
                    known_seq,
                    now,
                })
            })
            .collect()
    }

    /// What is known after `reports` verified: every stream's newest seq.
    pub(crate) fn updated(mut self, reports: &[VerifyReport]) -> Self {
        for report in reports {
            let seq = self.streams.entry(report.stream.clone()).or_default();
            *seq = (*seq).max(report.last_seq);
        }
        self
    }

    /// Writes the file whole, through a temporary file and a rename, so a
    /// crash never leaves half of it.
    pub(crate) fn write(&self, path: &str) -> Result<(), Box<dyn Error>> {
        let temporary = format!("{path}.tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)
            .map_err(|e| format!("--known {temporary}: {e}"))?;
        std::fs::rename(&temporary, path).map_err(|e| format!("--known {path}: {e}"))?;
        Ok(())
    }
}
