//! A PostgreSQL server for the benchmarks.
//!
//! `AUDIT_BENCH_DATABASE_URL`, if set, names a server (connecting as a role
//! that may create databases); each measurement gets a fresh database there,
//! dropped afterwards. Otherwise the bench starts a throwaway cluster, as the
//! test harness does (`initdb` and `pg_ctl` from `PATH`, else the newest
//! `/usr/lib/postgresql/*/bin`; as the `postgres` OS user when running as
//! root; listening only on a Unix socket in a fresh directory under `/tmp`),
//! and a watchdog stops it and removes the directory when the bench process
//! ends, however it ends. Unlike the tests' cluster this one keeps
//! PostgreSQL's durability defaults (`fsync`, `synchronous_commit` and
//! `full_page_writes` on): the store's figures are meant with them.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection, PgPool};

use super::BoxError;

const PORT: u16 = 5432;

/// The server.
#[derive(Debug)]
pub(crate) enum Server {
    External { url: String },
    Throwaway { dir: PathBuf, _watchdog: ChildStdin },
}

impl Server {
    /// `AUDIT_BENCH_DATABASE_URL`, or a throwaway cluster.
    pub(crate) fn start() -> Result<Self, BoxError> {
        match std::env::var("AUDIT_BENCH_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(Self::External { url }),
            _ => start_cluster().map_err(Into::into),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Self::External { .. } => "the server at AUDIT_BENCH_DATABASE_URL".to_owned(),
            Self::Throwaway { .. } => {
                "a throwaway cluster started by the bench (default settings: fsync, synchronous_commit and \
                 full_page_writes on, shared_buffers 128 MB)"
                    .to_owned()
            }
        }
    }

    pub(crate) fn url(&self, database: &str) -> String {
        match self {
            Self::External { url } => with_database(url, database),
            Self::Throwaway { dir, .. } => format!(
                "postgres://postgres@localhost:{PORT}/{database}?host={}",
                encode_query_value(&dir.to_string_lossy())
            ),
        }
    }

    /// The postmaster's process id, for a throwaway cluster.
    pub(crate) fn postmaster_pid(&self) -> Option<u32> {
        match self {
            Self::External { .. } => None,
            Self::Throwaway { dir, .. } => std::fs::read_to_string(dir.join("data").join("postmaster.pid"))
                .ok()?
                .lines()
                .next()?
                .trim()
                .parse()
                .ok(),
        }
    }

    fn admin_url(&self) -> String {
        match self {
            Self::External { url } => url.clone(),
            Self::Throwaway { .. } => self.url("postgres"),
        }
    }

    /// A fresh, empty database; returns its URL.
    pub(crate) async fn create_database(&self, name: &str) -> Result<String, BoxError> {
        let mut conn = PgConnection::connect(&self.admin_url()).await?;
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        sqlx::raw_sql(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(self.url(name))
    }

    pub(crate) async fn drop_database(&self, name: &str) -> Result<(), BoxError> {
        let mut conn = PgConnection::connect(&self.admin_url()).await?;
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }
}

/// Reads `audit_events` (every partition) and its indexes once into the OS
/// page cache with `pg_prewarm` (contrib), as on a server that keeps its
/// working set cached (see the queries bench's header for why: this
/// machine evicts file pages left idle for a minute). The tables first,
/// then the indexes, so that when they do not all fit, the indexes are what
/// stays. Returns the bytes read; without the extension, says so and goes
/// on cold (`None`).
pub(crate) async fn prewarm(pool: &PgPool) -> Result<Option<u64>, BoxError> {
    if let Err(error) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        .execute(pool)
        .await
    {
        println!("PostgreSQL: no pg_prewarm ({error}); queries start on a cold cache");
        return Ok(None);
    }
    // A partitioned table and its partitioned indexes have no storage of
    // their own (pg_prewarm refuses them): their leaves do.
    let leaves = "SELECT relid FROM pg_partition_tree('audit_events') WHERE isleaf";
    let mut blocks = 0;
    for relations in [
        format!("SELECT relid AS oid FROM ({leaves}) AS leaves"),
        format!("SELECT indexrelid AS oid FROM pg_index WHERE indrelid IN ({leaves})"),
    ] {
        blocks += sqlx::query_scalar::<_, i64>(&format!(
            "SELECT coalesce(sum(pg_prewarm(oid, 'read')), 0)::bigint FROM ({relations}) AS r"
        ))
        .fetch_one(pool)
        .await?;
    }
    let block_size: String = sqlx::query_scalar("SHOW block_size").fetch_one(pool).await?;
    Ok(Some(
        u64::try_from(blocks).unwrap_or(0) * block_size.parse::<u64>().unwrap_or(8192),
    ))
}

fn nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn start_cluster() -> Result<Server, String> {
    let bin = find_bin_dir().ok_or("no `initdb` and `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin")?;
    let root = is_root();
    if root && !succeeds(Command::new("id").args(["-u", "postgres"])) {
        return Err("running as root, and there is no `postgres` OS user to run the server as".to_owned());
    }
    let base = if root {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let base = if base.as_os_str().len() > 60 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    let dir = base.join(format!(
        "audit-bench-pg-{}-{}",
        std::process::id(),
        nanos() % 1_000_000_000
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let data = dir.join("data");
    let pg_ctl = bin.join("pg_ctl");
    let stop = server_argv(
        root,
        &pg_ctl,
        &[
            "stop".into(),
            "-D".into(),
            data.clone().into(),
            "-m".into(),
            "immediate".into(),
        ],
    );
    let watchdog = spawn_watchdog(&dir, &stop).map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;
    if root && !succeeds(Command::new("chown").arg("postgres").arg(&dir)) {
        return Err(format!("cannot chown {} to the postgres user", dir.display()));
    }
    run(
        &dir,
        server_argv(
            root,
            &bin.join("initdb"),
            &[
                "-D".into(),
                data.clone().into(),
                "-U".into(),
                "postgres".into(),
                "--auth=trust".into(),
                "-E".into(),
                "UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ],
        ),
    )?;
    // Only where to listen: every performance and durability setting is
    // PostgreSQL's default.
    let settings = format!(
        "\n# audit-store benchmarks: a throwaway cluster on a Unix socket only\n\
         listen_addresses = ''\n\
         unix_socket_directories = '{}'\n\
         port = {PORT}\n",
        dir.display()
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut conf| conf.write_all(settings.as_bytes()))
        .map_err(|e| format!("cannot configure the cluster: {e}"))?;
    let log = dir.join("server.log");
    run(
        &dir,
        server_argv(
            root,
            &pg_ctl,
            &[
                "start".into(),
                "-D".into(),
                data.into(),
                "-l".into(),
                log.clone().into(),
                "-w".into(),
                "-t".into(),
                "60".into(),
            ],
        ),
    )
    .map_err(|e| format!("{e}; server log: {}", std::fs::read_to_string(&log).unwrap_or_default()))?;
    Ok(Server::Throwaway {
        dir,
        _watchdog: watchdog,
    })
}

fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if has_both(&dir) {
            return std::fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
                .filter(|real| has_both(real))
                .or(Some(dir));
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn find_runuser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into(), "/bin".into()])
        .map(|dir| dir.join("runuser"))
        .find(|candidate| candidate.is_file())
}

fn server_argv(root: bool, program: &Path, args: &[OsString]) -> Vec<OsString> {
    let mut argv: Vec<OsString> = Vec::new();
    if root {
        if let Some(runuser) = find_runuser() {
            argv.extend([runuser.into(), "-u".into(), "postgres".into(), "--".into()]);
        } else {
            let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
            let mut script = format!("exec {}", quote(program.as_os_str()));
            for arg in args {
                script.push(' ');
                script.push_str(&quote(arg));
            }
            argv.extend([
                "su".into(),
                "postgres".into(),
                "-s".into(),
                "/bin/sh".into(),
                "-c".into(),
            ]);
            argv.push(script.into());
            return argv;
        }
    }
    argv.push(program.into());
    argv.extend(args.iter().cloned());
    argv
}

fn run(dir: &Path, argv: Vec<OsString>) -> Result<(), String> {
    let output = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", argv[0]))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{:?} failed ({}): {}{}",
        argv,
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    ))
}

/// `sh` waiting on a pipe whose only writer is this process: when the
/// process ends the read returns, the cluster is stopped and `dir` removed.
fn spawn_watchdog(dir: &Path, stop: &[OsString]) -> std::io::Result<ChildStdin> {
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"dir="$1"; shift; read -r _ignored; "$@" >/dev/null 2>&1; rm -rf -- "$dir""#)
        .arg("audit-bench-pg-watchdog")
        .arg(dir)
        .args(stop)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the watchdog has no stdin"))
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
