//! The provable side of the command line: `keygen`, `checkpoint`, `prove`,
//! `verify --checkpoints` and `verify-event`.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use audit_store::checkpoint::{Checkpoint, Checkpointer, DirectorySink, HttpSink, SigningKey, VerifierKey};
use audit_store::proof::EventProof;
use audit_store::{Problem, Store, TreeHead};
use audit_store::{ProofLine, UncoveredEvent};
use clap::ArgMatches;

use crate::exit;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// `audit keygen NAME`: a new signing key, written to a file only its owner
/// may read; the verifier key on stdout.
pub(crate) fn keygen(sub: &ArgMatches) -> Result<u8> {
    let name = sub.get_one::<String>("name").ok_or("a key name is required")?;
    let path = PathBuf::from(sub.get_one::<String>("out").ok_or("--out is required")?);
    let key = SigningKey::generate(name)?;
    write_secret(&path, key.expose_private_text().as_bytes())?;
    println!("{}", key.verifier_key());
    eprintln!(
        "signing key written to {} (keep it secret, off the database's host if you can); the verifier key above is public",
        path.display()
    );
    Ok(exit::OK)
}

/// Creates `path` readable by its owner only, refusing to overwrite a key.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} exists: not overwriting a key", path.display()),
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

/// The signing key of `--key-file` or `--key-env`.
fn signing_key(sub: &ArgMatches) -> Result<SigningKey> {
    if let Some(path) = sub.get_one::<String>("key-file") {
        return Ok(SigningKey::from_file(path)?);
    }
    let variable = sub
        .get_one::<String>("key-env")
        .map_or("AUDIT_SIGNING_KEY", String::as_str);
    Ok(SigningKey::from_env(variable)?)
}

/// A verifier key given as its text or as a file holding it.
fn verifier_key(sub: &ArgMatches) -> Result<VerifierKey> {
    let given = sub.get_one::<String>("key").ok_or("--key is required")?;
    match given.parse::<VerifierKey>() {
        Ok(key) => Ok(key),
        Err(_) if Path::new(given).is_file() => Ok(VerifierKey::from_file(given)?),
        Err(error) => Err(format!("--key is neither a verifier key nor a file: {error}").into()),
    }
}

/// `audit checkpoint`: signs every stream whose head moved, now.
pub(crate) async fn checkpoint(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let mut checkpointer = Checkpointer::new(store.clone(), signing_key(sub)?);
    if let Some(dir) = sub.get_one::<String>("out-dir") {
        checkpointer = checkpointer.sink(DirectorySink::new(dir));
    }
    if let Some(url) = sub.get_one::<String>("post") {
        checkpointer = checkpointer.sink(HttpSink::new(url)?);
    }
    let run = checkpointer.checkpoint_now().await?;
    for checkpoint in &run.signed {
        println!("{}: signed at {} events", checkpoint.stream, checkpoint.size);
    }
    if run.signed.is_empty() && run.refused.is_empty() {
        println!("nothing moved since the last checkpoints");
    }
    if let Some(error) = run.refused.first() {
        eprintln!("audit: {error}");
        return Ok(exit::TAMPERED);
    }
    if let Some(failure) = run.sink_failures.first() {
        return Err(format!(
            "{} did not take the checkpoint of {} at {}: {}",
            failure.sink, failure.stream, failure.size, failure.error
        )
        .into());
    }
    Ok(exit::OK)
}

/// `audit prove EVENT_ID`: the event, its audit path and the checkpoint that
/// covers it, as JSON.
pub(crate) async fn prove(store: &Store, sub: &ArgMatches) -> Result<u8> {
    let id = sub.get_one::<String>("event").ok_or("an event id is required")?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| format!("`{id}` is not an event id (a UUID)"))?;
    let proof = store
        .event_proof(id, None)
        .await?
        .ok_or_else(|| format!("no event {id}"))?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(exit::OK)
}

/// `audit verify-event FILE --key KEY`: checks exported proofs (one JSON
/// object, or NDJSON lines of an export with proofs) without a database.
/// Exit 3 at the first proof that does not hold; after all hold, exit 4 when
/// some lines are events no checkpoint covered yet (`"checkpoint": null`).
pub(crate) fn verify_event(sub: &ArgMatches) -> Result<u8> {
    let key = verifier_key(sub)?;
    let path = sub.get_one::<String>("file").ok_or("a file is required")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let lines: Vec<ProofLine> = match serde_json::from_str(&text) {
        Ok(one) => vec![ProofLine::Covered(one)],
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(number, line)| {
                proof_line(line).map_err(|e| format!("{path}:{}: not an event proof: {e}", number + 1))
            })
            .collect::<std::result::Result<_, _>>()?,
    };
    let mut uncovered = 0_usize;
    for line in &lines {
        let proof = match line {
            ProofLine::Covered(proof) => proof,
            ProofLine::Uncovered(event) => {
                uncovered += 1;
                let seq = event.leaf_index.saturating_add(1);
                println!(
                    "{}: event {} (seq {seq}) is not covered by a signed checkpoint yet",
                    event.event.stream(),
                    event.event.id()
                );
                continue;
            }
            _ => return Err("an export line of a kind this version does not know".into()),
        };
        match proof.verify(&key, key.name()) {
            Ok(verified) => println!(
                "{}: event {} (seq {}) is in the signed tree of {} events",
                verified.stream,
                proof.event.id(),
                verified.seq,
                verified.checkpoint.size
            ),
            Err(error) => {
                println!("event {}: DOES NOT VERIFY: {error}", proof.event.id());
                eprintln!("audit: event {} does not verify: {error}", proof.event.id());
                return Ok(exit::TAMPERED);
            }
        }
    }
    if uncovered > 0 {
        eprintln!(
            "audit: {} proofs hold; {uncovered} events are not covered by a signed checkpoint yet (export again after the next `audit checkpoint`)",
            lines.len() - uncovered
        );
        return Ok(exit::NOT_COVERED);
    }
    Ok(exit::OK)
}

/// One line of an export with proofs: a proof, or (`"checkpoint": null`)
/// an event no checkpoint covers yet.
fn proof_line(line: &str) -> serde_json::Result<ProofLine> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    if value.get("checkpoint").is_some_and(serde_json::Value::is_null) {
        Ok(ProofLine::Uncovered(serde_json::from_value::<UncoveredEvent>(value)?))
    } else {
        Ok(ProofLine::Covered(serde_json::from_value::<EventProof>(value)?))
    }
}

/// One checkpoint file, opened.
struct CheckpointFile {
    path: PathBuf,
    checkpoint: Checkpoint,
}

/// Every `*.checkpoint` file under `dir`, opened with `key`, by stream.
fn read_checkpoints(dir: &Path, key: &VerifierKey) -> Result<BTreeMap<String, Vec<CheckpointFile>>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| format!("cannot read {}: {e}", folder.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "checkpoint") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut by_stream: BTreeMap<String, Vec<CheckpointFile>> = BTreeMap::new();
    for path in files {
        let note = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let checkpoint = Checkpoint::open(&note, key).map_err(|e| format!("{}: {e}", path.display()))?;
        let stream = Checkpoint::stream_of_origin(key.name(), &checkpoint.origin).ok_or_else(|| {
            format!(
                "{}: its origin `{}` is not of the log `{}`",
                path.display(),
                checkpoint.origin,
                key.name()
            )
        })?;
        by_stream
            .entry(stream)
            .or_default()
            .push(CheckpointFile { path, checkpoint });
    }
    for files in by_stream.values_mut() {
        files.sort_by_key(|file| file.checkpoint.size);
    }
    Ok(by_stream)
}

/// `audit verify --checkpoints DIR --key KEY`: replays every stream that
/// has checkpoints against them; exit 3 naming the first checkpoint the
/// database no longer matches.
pub(crate) async fn verify_checkpoints(store: &Store, sub: &ArgMatches, dir: &str) -> Result<u8> {
    let key = verifier_key(sub)?;
    let by_stream = read_checkpoints(Path::new(dir), &key).map_err(|e| {
        // A file that does not open under the key is itself the finding.
        format!("{e}")
    });
    let by_stream = match by_stream {
        Ok(by_stream) => by_stream,
        Err(error) => {
            println!("checkpoints: TAMPERED: {error}");
            eprintln!("audit: {error}");
            return Ok(exit::TAMPERED);
        }
    };
    if by_stream.is_empty() {
        return Err(format!("no *.checkpoint files under {dir}").into());
    }
    let mut first_bad = None;
    for (stream, files) in &by_stream {
        // Successive checkpoints must be consistent with each other (the
        // store proves it; the proof is checked here against their roots).
        let mut problem = None;
        for pair in files.windows(2) {
            let (old, new) = (&pair[0].checkpoint, &pair[1].checkpoint);
            if old.size == new.size && old.root != new.root {
                problem = Some(format!(
                    "checkpoint {} no longer matches: it and another of the same size have different roots: the log forked",
                    pair[1].path.display()
                ));
                break;
            }
            if old.size == new.size {
                continue;
            }
            let consistent = match store.consistency_proof(stream, old.size, new.size).await {
                Ok(proof) => {
                    audit_store::merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof).is_ok()
                }
                Err(_) => false,
            };
            if !consistent {
                problem = Some(format!(
                    "checkpoint {} no longer matches: the database cannot prove it extends the checkpoint of {} events",
                    pair[1].path.display(),
                    old.size
                ));
                break;
            }
        }
        let heads: Vec<TreeHead> = files
            .iter()
            .map(|file| TreeHead {
                stream: stream.clone(),
                size: file.checkpoint.size,
                root: file.checkpoint.root,
            })
            .collect();
        let report = store.verify_against(stream, &heads).await?;
        if let Some(found) = &report.problem {
            // The replay finds the earliest checkpoint the events no longer
            // meet, which comes no later than any inconsistency between
            // checkpoints: it is the one to name.
            let seq = first_bad_seq(found);
            let covering = files
                .iter()
                .find(|file| seq.is_some_and(|seq| file.checkpoint.size >= seq));
            let what = match covering {
                Some(file) => format!("checkpoint {} no longer matches: {found}", file.path.display()),
                None => format!("after its newest checkpoint: {found}"),
            };
            problem = Some(what);
        }
        match problem {
            None => println!(
                "{stream}: intact, {} events, matching {} signed checkpoint{}",
                report.checked,
                report.checkpoints_met,
                if report.checkpoints_met == 1 { "" } else { "s" }
            ),
            Some(what) => {
                println!("{stream}: TAMPERED: {what}");
                first_bad.get_or_insert(format!("stream {stream}: {what}"));
            }
        }
    }
    match first_bad {
        Some(what) => {
            eprintln!("audit: {what}");
            Ok(exit::TAMPERED)
        }
        None => Ok(exit::OK),
    }
}

/// The first seq a problem says is wrong.
fn first_bad_seq(problem: &Problem) -> Option<u64> {
    match *problem {
        Problem::CheckpointMismatch { size } | Problem::BehindCheckpoint { size, .. } => Some(size),
        Problem::HashMismatch { seq, .. } | Problem::Moved { seq, .. } | Problem::Inconsistent { seq, .. } => Some(seq),
        Problem::Gap { expected, .. } => Some(expected),
        Problem::MissingTail { last_stored, .. } => Some(last_stored + 1),
        Problem::TreeMismatch { first_seq, .. } => Some(first_seq),
        _ => None,
    }
}
