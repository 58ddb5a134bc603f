//! Load-benchmark plumbing shared by the benches that measure an HTTP server
//! with `wrk` over loopback: `audit-tower`'s `layer_overhead` and the
//! end-to-end `quickstart_post` (which includes this file by path).
//!
//! A bench binary is its own orchestrator: it starts itself as the server
//! (`taskset -c 0 <exe> --serve <variant> <port-file>`), which publishes its
//! port with [`publish_port`]; [`measure`] warms the server up, runs `wrk`
//! pinned to the other CPU, reads the CPU time the server, `wrk` and every
//! other process used from `/proc`, asks the server for `GET /__stats`
//! (`key=value` counters) and kills it. The machine may be shared: before
//! each attempt it waits for the machine to be idle, and a run that other
//! processes disturbed (more than [`MAX_OTHERS_PERCENT`] of the machine) is
//! repeated, keeping the least disturbed of [`ATTEMPTS`].

#![allow(dead_code)] // Each bench uses its own part of this file.

use std::collections::HashMap;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) type BoxError = Box<dyn Error + Send + Sync>;

/// The CPU of the server, and the CPU of `wrk`.
pub(crate) const SERVER_CPU: &str = "0";
pub(crate) const CLIENT_CPU: &str = "1";
/// A run starts once the machine has been this idle (busy % of all CPUs over
/// a second), waiting at most `QUIET_WAIT`.
const QUIET_BUSY_PERCENT: f64 = 5.0;
const QUIET_WAIT: Duration = Duration::from_secs(60);
/// A run during which other processes used more than this share of the
/// machine is repeated (at most `ATTEMPTS` times in all; the least disturbed
/// attempt is kept).
pub(crate) const MAX_OTHERS_PERCENT: f64 = 3.0;
pub(crate) const ATTEMPTS: usize = 3;

/// How each run loads the server.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// `wrk -c`.
    pub(crate) connections: u32,
    /// `wrk -d` of the measured run, e.g. `10s`.
    pub(crate) measure: String,
    /// `wrk -d` of the warm-up before it.
    pub(crate) warm_up: String,
    /// The path requested.
    pub(crate) path: String,
    /// A `wrk -s` Lua script (method, headers, body), if any.
    pub(crate) script: Option<PathBuf>,
}

/// One measured run of one server variant.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub(crate) requests_per_sec: f64,
    pub(crate) p50_micros: f64,
    pub(crate) p99_micros: f64,
    /// Responses `wrk` counted.
    pub(crate) requests: u64,
    /// Socket errors and non-2xx/3xx responses, as `wrk` reported them.
    pub(crate) problems: Vec<String>,
    /// `GET /__stats` after the run.
    pub(crate) stats: HashMap<String, u64>,
    /// Share of the server's CPU the server used during the measured run.
    pub(crate) server_cpu_percent: f64,
    /// Share of the whole machine used by other processes during the measured run.
    pub(crate) others_percent: f64,
    /// Share of the machine stolen by the hypervisor during the measured run.
    pub(crate) steal_percent: f64,
}

/// The first of `wrk` and `taskset` that is missing, if any.
pub(crate) fn missing_tools() -> Option<&'static str> {
    ["wrk", "taskset"].into_iter().find(|tool| {
        Command::new(tool)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
    })
}

/// Called by the server: writes its port where the orchestrator looks for
/// it, whole, then renamed, so that half a port is never read.
pub(crate) fn publish_port(port_file: &Path, port: u16) -> Result<(), BoxError> {
    let partial = port_file.with_extension("partial");
    std::fs::write(&partial, port.to_string())?;
    std::fs::rename(&partial, port_file)?;
    Ok(())
}

/// Measures the server `exe --serve <variant>` under the bench's load,
/// repeating a run that other processes disturbed; returns the least
/// disturbed attempt.
pub(crate) fn measure(
    exe: &Path,
    dir: &Path,
    variant: &str,
    bench: &Bench,
    cpus: usize,
) -> Result<Measurement, BoxError> {
    let patient = bench.patient;
    let attempts = if patient { ATTEMPTS } else { 1 };
    let mut kept: Option<Measurement> = None;
    for attempt in 1..=attempts {
        let waited = if patient { wait_for_quiet(cpus) } else { Duration::ZERO };
        if waited >= QUIET_WAIT {
            println!(
                "       (the machine stayed busy for {} s; running anyway)",
                waited.as_secs()
            );
        }
        let run = measure_once(exe, dir, variant, bench, cpus)?;
        let disturbed = run.others_percent > MAX_OTHERS_PERCENT;
        if disturbed && attempt < attempts {
            println!(
                "       ({variant}: other processes used {:.1}% of the machine; repeating)",
                run.others_percent
            );
        }
        if kept
            .as_ref()
            .is_none_or(|best| run.others_percent < best.others_percent)
        {
            kept = Some(run);
        }
        if !disturbed {
            break;
        }
    }
    kept.ok_or_else(|| "no attempt was made".into())
}

/// Kills the server when dropped, whatever happened.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn measure_once(exe: &Path, dir: &Path, variant: &str, bench: &Bench, cpus: usize) -> Result<Measurement, BoxError> {
    let load = &bench.load;
    let database_ticks = || bench.server.database_pid.map_or(Some(0), process_tree_ticks);
    let port_file = dir.join(format!("{variant}.port"));
    let _ = std::fs::remove_file(&port_file);
    let mut server = Server(
        Command::new("taskset")
            .args(["-c", SERVER_CPU])
            .arg(exe)
            .args(["--serve", variant])
            .arg(&port_file)
            .envs(bench.server.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    let port = wait_for_port(&port_file, &mut server.0)?;
    let _ = std::fs::remove_file(&port_file);
    let url = format!("http://127.0.0.1:{port}{}", load.path);
    let connections = load.connections.to_string();
    let mut common = vec!["-t1", "-c", connections.as_str()];
    if let Some(script) = &load.script {
        common.push("-s");
        common.push(script.to_str().ok_or("the wrk script's path is not UTF-8")?);
    }
    let warm_up = [common.as_slice(), &["-d", load.warm_up.as_str(), url.as_str()]].concat();
    wrk(&warm_up)?;

    let server_pid = server.0.id();
    let started = Instant::now();
    let machine_before = machine_ticks();
    let server_before = process_ticks(server_pid);
    let database_before = database_ticks();
    let measured = [
        common.as_slice(),
        &["-d", load.measure.as_str(), "--latency", url.as_str()],
    ]
    .concat();
    let (output, wrk_ticks) = wrk(&measured)?;
    let server_after = process_ticks(server_pid);
    let database_after = database_ticks();
    let machine_after = machine_ticks();
    let elapsed = started.elapsed().as_secs_f64();
    let stats = fetch_stats(port)?;
    drop(server);

    let mut run = parse_wrk(&output).ok_or_else(|| format!("could not read wrk's output for {variant}:\n{output}"))?;
    run.stats = stats;
    // Clock ticks (USER_HZ, 100 a second on Linux) → percentages.
    let ticks_per_cpu = elapsed * 100.0;
    if let (Some(before), Some(after), Some(server_before), Some(server_after), Some(wrk_ticks)) =
        (machine_before, machine_after, server_before, server_after, wrk_ticks)
    {
        let database = match (database_before, database_after) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => 0,
        };
        let server = server_after.saturating_sub(server_before) + database;
        let busy = after.busy.saturating_sub(before.busy);
        let others = busy.saturating_sub(server + wrk_ticks);
        run.server_cpu_percent = 100.0 * server as f64 / ticks_per_cpu;
        run.others_percent = 100.0 * others as f64 / (ticks_per_cpu * cpus as f64);
        run.steal_percent = 100.0 * after.steal.saturating_sub(before.steal) as f64 / (ticks_per_cpu * cpus as f64);
    } else {
        run.problems.push("could not read CPU accounting from /proc".to_owned());
    }
    Ok(run)
}

fn wait_for_port(port_file: &Path, server: &mut Child) -> Result<u16, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(port_file) {
            return Ok(text.trim().parse()?);
        }
        if let Some(status) = server.try_wait()? {
            return Err(format!("the server exited before listening: {status}").into());
        }
        if Instant::now() > deadline {
            return Err("the server did not start listening within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `wrk` on the client CPU; returns its output and the CPU time it used
/// (read from `/proc` after it exits, before it is reaped).
fn wrk(args: &[&str]) -> Result<(String, Option<u64>), BoxError> {
    let mut child = Command::new("taskset")
        .args(["-c", CLIENT_CPU, "wrk"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut output = String::new();
    child
        .stdout
        .take()
        .ok_or("wrk's output is not piped")?
        .read_to_string(&mut output)?;
    // Its output is closed: it has exited (or is exiting); its times are final once it is a zombie.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ticks = None;
    while Instant::now() < deadline {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            && stat_state(&stat) == Some('Z')
        {
            ticks = stat_ticks(&stat);
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("wrk {} failed ({status})", args.join(" ")).into());
    }
    Ok((output, ticks))
}

/// The process state letter in a `/proc/<pid>/stat` line.
fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// utime + stime (all threads) from a `/proc/<pid>/stat` line.
fn stat_ticks(stat: &str) -> Option<u64> {
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn process_ticks(pid: u32) -> Option<u64> {
    stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The CPU time of `root`, of its reaped children (cutime + cstime) and of
/// its live children: a child that exits between two readings moves its
/// time from the third sum to the second, so differences stay right.
fn process_tree_ticks(root: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{root}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // After the command name: utime 14, stime 15, cutime 16, cstime 17.
    let own = field(11) + field(12) + field(13) + field(14);
    Some(
        own + children(root)
            .iter()
            .filter_map(|(_, stat)| stat_ticks(stat))
            .sum::<u64>(),
    )
}

/// The live children of `root`, with their `/proc/<pid>/stat` lines.
fn children(root: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The parent's pid is the second field after the command name.
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse::<u32>()
                .ok()?;
            (parent == root).then_some((pid, stat))
        })
        .collect()
}

/// Pins `root` and its children to the server's CPU: a database server
/// the service uses shares the service's CPU, as SQLite's threads do
/// (children it forks later inherit the pinning).
pub(crate) fn pin_to_server_cpu(root: u32) -> Result<(), BoxError> {
    let pids = std::iter::once(root).chain(children(root).into_iter().map(|(pid, _)| pid));
    for pid in pids {
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", SERVER_CPU, &pid.to_string()])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("taskset could not pin process {pid} ({status})").into());
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct MachineTicks {
    /// user + nice + system + irq + softirq, all CPUs (what tasks are charged for).
    busy: u64,
    steal: u64,
}

fn machine_ticks() -> Option<MachineTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    Some(MachineTicks {
        busy: field(0) + field(1) + field(2) + field(5) + field(6),
        steal: field(7),
    })
}

/// Waits until the machine is idle (other engineers may be compiling);
/// returns how long it waited.
fn wait_for_quiet(cpus: usize) -> Duration {
    let started = Instant::now();
    while started.elapsed() < QUIET_WAIT {
        let before = machine_ticks();
        let sampled = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        let (Some(before), Some(after)) = (before, machine_ticks()) else {
            break;
        };
        let busy = 100.0 * after.busy.saturating_sub(before.busy) as f64
            / (sampled.elapsed().as_secs_f64() * 100.0 * cpus as f64);
        if busy < QUIET_BUSY_PERCENT {
            break;
        }
    }
    started.elapsed()
}

/// `GET /__stats` over a plain socket: `key=value` counters.
fn fetch_stats(port: u16) -> Result<HashMap<String, u64>, BoxError> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(b"GET /__stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .ok_or("no body in the /__stats response")?;
    Ok(body
        .split_whitespace()
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect())
}

/// Reads `Requests/sec`, the request count, the 50% and 99% latencies and
/// any errors from `wrk --latency` output.
fn parse_wrk(output: &str) -> Option<Measurement> {
    let mut requests_per_sec = None;
    let mut requests = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut problems = Vec::new();
    for line in output.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = rate.trim().parse::<f64>().ok();
        } else if line.contains(" requests in ") {
            requests = line.split_whitespace().next().and_then(|n| n.parse::<u64>().ok());
        } else if let Some(latency) = line.strip_prefix("50%") {
            p50 = parse_micros(latency.trim());
        } else if let Some(latency) = line.strip_prefix("99%") {
            p99 = parse_micros(latency.trim());
        } else if line.starts_with("Socket errors") || line.starts_with("Non-2xx") {
            problems.push(line.to_owned());
        }
    }
    Some(Measurement {
        requests_per_sec: requests_per_sec?,
        p50_micros: p50?,
        p99_micros: p99?,
        requests: requests?,
        problems,
        stats: HashMap::new(),
        server_cpu_percent: f64::NAN,
        others_percent: f64::NAN,
        steal_percent: f64::NAN,
    })
}

/// A `wrk` duration (`225.00us`, `1.20ms`, `2.00s`, `1.00m`) in microseconds.
fn parse_micros(text: &str) -> Option<f64> {
    let units = [("us", 1.0), ("ms", 1e3), ("s", 1e6), ("m", 60e6), ("h", 3600e6)];
    units.iter().find_map(|&(unit, scale)| {
        let number = text.strip_suffix(unit)?;
        number.parse::<f64>().ok().map(|n| n * scale)
    })
}

/// The median (the mean of the middle two for an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => f64::midpoint(values[n / 2 - 1], values[n / 2]),
    }
}

/// The CPU model, from `/proc/cpuinfo`.
pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The 1, 5 and 15-minute load averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The machine's CPU count, checked against the two the benches pin to.
pub(crate) fn cpus() -> Result<usize, String> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus < 2 {
        return Err(format!(
            "needs two CPUs (server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}); found {cpus}"
        ));
    }
    Ok(cpus)
}

/// Events the server's sink must have received per request it served (after a flush, all of them).
const MIN_EVENTS_PER_REQUEST: f64 = 0.99;

/// A load benchmark: server variants measured in interleaved rounds.
#[derive(Debug, Clone)]
pub(crate) struct Bench {
    /// The bench's name, for messages.
    pub(crate) name: &'static str,
    /// The variants, as `--serve` names them; the first is the baseline.
    pub(crate) variants: &'static [&'static str],
    /// Measured runs per variant; the figures are their medians.
    pub(crate) rounds: usize,
    /// Wait for an idle machine before each run, and repeat disturbed runs
    /// (off for a quick check of the set-up).
    pub(crate) patient: bool,
    pub(crate) load: Load,
    /// What the server is started with besides its variant.
    pub(crate) server: ServerSide,
}

/// What each server process is started with, and what else counts as the
/// server when CPU time is shared out.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerSide {
    /// Environment variables set for the server process (where its
    /// database is, say).
    pub(crate) env: Vec<(String, String)>,
    /// A database server the service uses on this machine: the process
    /// (a PostgreSQL postmaster) whose own CPU time, its children's, and
    /// its reaped children's count as the server's, not as other
    /// processes'.
    pub(crate) database_pid: Option<u32>,
}

impl Bench {
    /// The method: 32 connections, five interleaved rounds of 10 s
    /// each after a 1 s warm-up, waiting for an idle machine; or, `quick`,
    /// one 2 s round without waiting, to check the set-up.
    pub(crate) fn standard(
        name: &'static str,
        variants: &'static [&'static str],
        quick: bool,
        path: &str,
        script: Option<PathBuf>,
    ) -> Self {
        Self {
            name,
            variants,
            rounds: if quick { 1 } else { 5 },
            patient: !quick,
            load: Load {
                connections: 32,
                measure: if quick { "2s" } else { "10s" }.to_owned(),
                warm_up: "1s".to_owned(),
                path: path.to_owned(),
                script,
            },
            server: ServerSide::default(),
        }
    }
}

/// One measured run of a variant.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) variant: &'static str,
    pub(crate) round: usize,
    pub(crate) run: Measurement,
}

/// A variant's medians, against the baseline's.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) variant: &'static str,
    pub(crate) requests_per_sec: f64,
    pub(crate) p50_micros: f64,
    pub(crate) p99_micros: f64,
    /// requests/s ÷ the baseline's.
    pub(crate) ratio: f64,
    /// p99 − the baseline's p99.
    pub(crate) added_p99_micros: f64,
}

/// Runs every variant once per round (order reversed every other round),
/// printing each run; the caller checks the tools and CPUs first.
pub(crate) fn run_rounds(bench: &Bench, cpus: usize) -> Result<Vec<Row>, BoxError> {
    let exe = std::env::current_exe()?;
    let dir = std::env::temp_dir().join(format!("{}-{}", bench.name, std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("  cpu: {} ({cpus} CPUs)", cpu_model());
    println!("  load average before: {}", load_average());
    println!(
        "  server: taskset -c {SERVER_CPU}, one current-thread Tokio runtime; load: taskset -c {CLIENT_CPU} wrk -t1 -c{} -d{} --latency {}{} (after a {} warm-up); {} round(s), variants interleaved",
        bench.load.connections,
        bench.load.measure,
        bench.load.path,
        if bench.load.script.is_some() {
            " (a wrk script sets method, headers and body)"
        } else {
            ""
        },
        bench.load.warm_up,
        bench.rounds
    );
    println!();
    println!(
        "{:<6} {:<20} {:>12} {:>9} {:>9} {:>10} {:>10} {:>10} {:>7} {:>7} {:>7}",
        "round", "variant", "req/s", "p50 µs", "p99 µs", "responses", "served", "events", "srv cpu", "others", "steal"
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    for round in 1..=bench.rounds {
        let mut order = bench.variants.to_vec();
        if round % 2 == 0 {
            order.reverse();
        }
        for variant in order {
            let run = measure(&exe, &dir, variant, bench, cpus)?;
            let counter = |name: &str| run.stats.get(name).map_or_else(|| "-".to_owned(), u64::to_string);
            println!(
                "{:<6} {:<20} {:>12.0} {:>9.1} {:>9.1} {:>10} {:>10} {:>10} {:>6.1}% {:>6.1}% {:>6.1}%",
                round,
                variant,
                run.requests_per_sec,
                run.p50_micros,
                run.p99_micros,
                run.requests,
                counter("served"),
                counter("events"),
                run.server_cpu_percent,
                run.others_percent,
                run.steal_percent,
            );
            for problem in &run.problems {
                println!("       ! {problem}");
            }
            rows.push(Row { variant, round, run });
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "  load average after: {} ({:.0} s in all)",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    Ok(rows)
}

/// Prints each variant's medians against the baseline (the first variant),
/// how disturbed the runs were, and whether every run is sane: no `wrk`
/// errors, and where the server counts events (`events=` in its stats),
/// every request it served produced one, none dropped or refused, and the
/// flush before counting succeeded. Returns the summaries and that verdict.
pub(crate) fn summarise(bench: &Bench, rows: &[Row]) -> (Vec<Summary>, bool) {
    let medians = |variant: &str| {
        let runs: Vec<&Measurement> = rows
            .iter()
            .filter(|row| row.variant == variant)
            .map(|row| &row.run)
            .collect();
        (
            median(runs.iter().map(|run| run.requests_per_sec).collect()),
            median(runs.iter().map(|run| run.p50_micros).collect()),
            median(runs.iter().map(|run| run.p99_micros).collect()),
        )
    };
    let (base_rate, _, base_p99) = medians(bench.variants[0]);
    println!();
    println!("summary: medians of {} run(s) per variant", bench.rounds);
    println!(
        "{:<20} {:>12} {:>9} {:>9} {:>8} {:>13}",
        "variant", "req/s", "p50 µs", "p99 µs", "ratio", "added p99 µs"
    );
    let mut summaries = Vec::new();
    for &variant in bench.variants {
        let (rate, p50, p99) = medians(variant);
        let summary = Summary {
            variant,
            requests_per_sec: rate,
            p50_micros: p50,
            p99_micros: p99,
            ratio: rate / base_rate,
            added_p99_micros: p99 - base_p99,
        };
        println!(
            "{:<20} {:>12.0} {:>9.1} {:>9.1} {:>8.3} {:>+13.1}",
            variant,
            summary.requests_per_sec,
            summary.p50_micros,
            summary.p99_micros,
            summary.ratio,
            summary.added_p99_micros
        );
        summaries.push(summary);
    }
    println!();

    let mut sane = true;
    let mut worst = f64::INFINITY;
    for row in rows {
        let stats = &row.run.stats;
        let mut problems = row.run.problems.clone();
        if let Some(&events) = stats.get("events") {
            let per_request = events as f64 / stats.get("served").copied().unwrap_or(0).max(1) as f64;
            worst = worst.min(per_request);
            if per_request < MIN_EVENTS_PER_REQUEST {
                problems.push(format!("{per_request:.4} events per request served"));
            }
        }
        if stats.get("flushed").is_some_and(|&flushed| flushed != 1) {
            problems.push("the auditor could not be flushed".to_owned());
        }
        for counter in ["dropped", "refused"] {
            if let Some(&n) = stats.get(counter)
                && n > 0
            {
                problems.push(format!("{n} events {counter}"));
            }
        }
        for problem in &problems {
            println!("! round {} {}: {problem}", row.round, row.variant);
        }
        sane &= problems.is_empty();
    }
    let max_of = |f: fn(&Measurement) -> f64| rows.iter().map(|row| f(&row.run)).fold(0.0, f64::max);
    println!(
        "disturbance: other processes used at most {:.1}% of the machine during a measured run (steal at most {:.1}%); the server used at least {:.1}% of CPU {SERVER_CPU}",
        max_of(|run| run.others_percent),
        max_of(|run| run.steal_percent),
        rows.iter()
            .map(|row| row.run.server_cpu_percent)
            .fold(f64::INFINITY, f64::min),
    );
    let disturbed = rows
        .iter()
        .filter(|row| row.run.others_percent > MAX_OTHERS_PERCENT)
        .count();
    if disturbed > 0 {
        println!(
            "WARNING: {disturbed} run(s) kept although other processes used more than {MAX_OTHERS_PERCENT}% of the machine; rerun on an idle machine before trusting the figures"
        );
    }
    if worst.is_finite() {
        println!(
            "sanity: events received per request served, worst run: {worst:.4} (must be >= {MIN_EVENTS_PER_REQUEST})"
        );
    }
    if !sane {
        println!("sanity check FAILED: the figures above are not trustworthy");
    }
    (summaries, sane)
}
