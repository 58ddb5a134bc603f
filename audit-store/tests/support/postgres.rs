//! A PostgreSQL server for the tests (DESIGN.md §8).
//!
//! - `AUDIT_TEST_DATABASE_URL`, if set, names a server to use (connecting as a
//!   role that may create databases); each test gets a fresh database there,
//!   dropped when the test ends.
//! - Otherwise the first test to ask starts a throwaway cluster with `initdb`
//!   and `pg_ctl` (found on `PATH`, else the newest `/usr/lib/postgresql/*/bin`)
//!   in a fresh directory under the temp dir (`/tmp` when running as root),
//!   listening only on a Unix socket in that directory, so no port can clash.
//!   When running as root it runs as the `postgres` OS user (`runuser`, else
//!   `su`). One cluster serves the whole test binary; each test gets a fresh
//!   database in it. A watchdog process stops the cluster and removes its
//!   directory as soon as the test process is gone, however it ends.
//! - Where no PostgreSQL can be had, tests print why and return early;
//!   `AUDIT_REQUIRE_POSTGRES=1` turns that into a failure.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

/// The port the throwaway cluster's socket file is named after; it listens on
/// no TCP port at all.
const PORT: u16 = 5432;

/// The server the tests of this binary use.
#[derive(Debug)]
enum Server {
    /// From `AUDIT_TEST_DATABASE_URL`.
    External { url: String },
    /// Started here, in `dir` with the binaries of `bin` (as the `postgres`
    /// OS user when `root`); the watchdog's stdin is held open until the
    /// process ends.
    Throwaway {
        dir: PathBuf,
        bin: PathBuf,
        root: bool,
        _watchdog: ChildStdin,
    },
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

impl Server {
    /// A URL for `database` on this server.
    fn url(&self, database: &str) -> String {
        match self {
            Self::External { url } => with_database(url, database),
            Self::Throwaway { dir, .. } => format!(
                "postgres://postgres@localhost:{PORT}/{database}?host={}",
                encode_query_value(&dir.to_string_lossy())
            ),
        }
    }

    /// Where to connect to create and drop databases.
    fn admin_url(&self) -> String {
        match self {
            Self::External { url } => url.clone(),
            Self::Throwaway { .. } => self.url("postgres"),
        }
    }
}

/// A fresh, empty database for one test.
#[derive(Debug)]
pub(crate) struct PgDatabase {
    /// The URL to connect to it.
    pub(crate) url: String,
    name: String,
    /// Drop it when the test ends (external servers only: a throwaway cluster
    /// is removed whole).
    drop_after: Option<String>,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let Some(admin_url) = self.drop_after.take() else {
            return;
        };
        let name = self.name.clone();
        // The test's runtime may be gone or busy: drop from a runtime of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// A fresh database, or `None` (after saying why) where PostgreSQL is absent.
///
/// # Panics
/// Where PostgreSQL is absent and `AUDIT_REQUIRE_POSTGRES=1`, or when the
/// server is there but refuses to create a database.
pub(crate) async fn fresh_database() -> Option<PgDatabase> {
    let server = match SERVER.get_or_init(choose_server) {
        Ok(server) => server,
        Err(reason) => {
            skip(reason);
            return None;
        }
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "audit_test_{}_{}_{}",
        std::process::id(),
        nanos() % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let where_ = match server {
        Server::External { .. } => "AUDIT_TEST_DATABASE_URL",
        Server::Throwaway { .. } => "the throwaway cluster",
    };
    let admin_url = server.admin_url();
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {where_}: {e}"));
    sqlx::raw_sql(&format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    ))
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("cannot create a database on {where_}: {e}"));
    let _ = conn.close().await;
    Some(PgDatabase {
        url: server.url(&name),
        drop_after: matches!(server, Server::External { .. }).then_some(admin_url),
        name,
    })
}

fn skip(reason: &str) {
    let required = std::env::var("AUDIT_REQUIRE_POSTGRES").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    if required {
        panic!("PostgreSQL is required (AUDIT_REQUIRE_POSTGRES=1) but unavailable: {reason}");
    }
    // Once per test binary, past libtest's output capture so a plain run shows it.
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "skipping the PostgreSQL tests: {reason}");
    });
    eprintln!("skipped: PostgreSQL unavailable: {reason}");
}

fn choose_server() -> Result<Server, String> {
    match std::env::var("AUDIT_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(Server::External { url }),
        _ => start_cluster(),
    }
}

fn nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Starts the throwaway cluster, synchronously (tests run on many runtimes).
fn start_cluster() -> Result<Server, String> {
    let bin = find_bin_dir().ok_or("no `initdb` and `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin")?;
    let root = is_root();
    if root && !succeeds(Command::new("id").args(["-u", "postgres"])) {
        return Err("running as root, and there is no `postgres` OS user to run the server as".to_owned());
    }
    // The `postgres` user must reach the directory, and a socket path is
    // limited to about 100 bytes: keep it short and world-traversable.
    let mut base = if root {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    if base.as_os_str().len() > 60 {
        base = PathBuf::from("/tmp");
    }
    let dir = base.join(format!("audit-pg-{}-{}", std::process::id(), nanos() % 1_000_000_000));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let data = dir.join("data");

    // From here on the watchdog removes the directory when this process ends
    // (or as soon as this function fails: the pipe closes with it).
    let watchdog = spawn_watchdog(&dir, &stop_argv(root, &bin, &dir))
        .map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;

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
    // Nothing is flushed to disk (fsync off), but a commit is written to the
    // WAL before it is acknowledged (synchronous_commit stays on, a write(2)
    // per commit without fsync): a server stopped with `-m immediate`, the
    // crash of the fault-injection tests, keeps every commit it acknowledged.
    let settings = format!(
        "\n# audit-store tests: a throwaway cluster on a Unix socket only\n\
         listen_addresses = ''\n\
         unix_socket_directories = '{}'\n\
         port = {PORT}\n\
         max_connections = 150\n\
         fsync = off\n\
         full_page_writes = off\n",
        dir.display()
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut conf| conf.write_all(settings.as_bytes()))
        .map_err(|e| format!("cannot configure the cluster: {e}"))?;
    start(root, &bin, &dir)?;
    Ok(Server::Throwaway {
        dir,
        bin,
        root,
        _watchdog: watchdog,
    })
}

/// Starts the cluster in `dir` and waits until it accepts connections.
fn start(root: bool, bin: &Path, dir: &Path) -> Result<(), String> {
    let log = dir.join("server.log");
    run(
        dir,
        server_argv(
            root,
            &bin.join("pg_ctl"),
            &[
                "start".into(),
                "-D".into(),
                dir.join("data").into(),
                "-l".into(),
                log.clone().into(),
                "-w".into(),
                "-t".into(),
                "60".into(),
            ],
        ),
    )
    .map_err(|e| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        format!("{e}; server log: {}", tail(&log))
    })
}

/// The command line stopping the cluster in `dir` at once: every backend is
/// killed, nothing is flushed, and the next start recovers from the WAL.
fn stop_argv(root: bool, bin: &Path, dir: &Path) -> Vec<OsString> {
    server_argv(
        root,
        &bin.join("pg_ctl"),
        &[
            "stop".into(),
            "-D".into(),
            dir.join("data").into(),
            "-m".into(),
            "immediate".into(),
        ],
    )
}

/// The throwaway cluster, for the tests that stop it and start it again.
#[allow(dead_code, reason = "only the fault-injection tests stop the server")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cluster {
    dir: &'static Path,
    bin: &'static Path,
    root: bool,
}

/// The cluster this test binary started, or `None` where its tests use a
/// server named by `AUDIT_TEST_DATABASE_URL` (not theirs to stop) or none:
/// ask after [`fresh_database`].
#[allow(dead_code, reason = "only the fault-injection tests stop the server")]
pub(crate) fn throwaway_cluster() -> Option<Cluster> {
    match SERVER.get() {
        Some(Ok(Server::Throwaway { dir, bin, root, .. })) => Some(Cluster { dir, bin, root: *root }),
        _ => None,
    }
}

#[allow(dead_code, reason = "only the fault-injection tests stop the server")]
impl Cluster {
    /// Stops the server at once (`pg_ctl stop -m immediate`), as a crash
    /// would: every connection to it breaks.
    pub(crate) fn stop_immediately(self) -> Result<(), String> {
        run(self.dir, stop_argv(self.root, self.bin, self.dir))
    }

    /// Starts the server again and waits until it accepts connections.
    pub(crate) fn start(self) -> Result<(), String> {
        start(self.root, self.bin, self.dir)
    }
}

/// The directory holding `initdb` and `pg_ctl`: `PATH` first, then Debian's
/// `/usr/lib/postgresql/<major>/bin`, newest major first.
fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if has_both(&dir) {
            // A symlink farm (e.g. /usr/local/bin) is fine, but report the real place.
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

/// The command line running `program args` as the server's OS user: this
/// user, or `postgres` when running as root.
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
    let name = argv
        .iter()
        .map(|a| a.to_string_lossy())
        .find(|a| a.ends_with("initdb") || a.ends_with("pg_ctl"))
        .map_or_else(
            || "command".to_owned(),
            |a| a.rsplit('/').next().unwrap_or_default().to_owned(),
        );
    let output = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut said = String::from_utf8_lossy(&output.stderr).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(format!("{name} failed ({}): {}", output.status, tail(&said)))
}

/// The last few lines of `text`, on one line.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

/// Spawns `sh` waiting on a pipe whose only writer is this process: when the
/// process ends, however it ends, the read returns, the cluster is stopped
/// (`stop`) and `dir` removed. Its own process group keeps a Ctrl-C aimed at
/// the tests from killing it first.
fn spawn_watchdog(dir: &Path, stop: &[OsString]) -> std::io::Result<ChildStdin> {
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"dir="$1"; shift; read -r _ignored; "$@" >/dev/null 2>&1; rm -rf -- "$dir""#)
        .arg("audit-pg-watchdog")
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

/// `url` with its database (path) replaced by `database`, query kept.
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

/// Percent-encodes what a URL query value cannot hold as is.
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
