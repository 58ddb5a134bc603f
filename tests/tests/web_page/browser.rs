//! Headless Chromium through chromedriver, for the web page's tests.
//!
//! - One chromedriver per test binary, on a free loopback port, started by
//!   the first test that asks. A small shell watchdog holds it: when this
//!   process ends, however it ends, its stdin pipe closes and the watchdog
//!   stops chromedriver.
//! - Each test gets its own browser session (a fresh profile directory), run
//!   one at a time: the machines are small, and two Chromiums at once only
//!   make each test slower.
//! - Where Chromium or chromedriver is missing the tests print why and
//!   return early; `AUDIT_REQUIRE_BROWSER=1` turns that into a failure.

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long any one condition may take to become true.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// The desktop window the tests use unless they resize.
pub(crate) const WIDE: (u32, u32) = (1280, 900);

struct Driver {
    url: String,
    chromium: PathBuf,
    _watchdog: ChildStdin,
}

static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn start_driver() -> Result<Driver, String> {
    let chromedriver = on_path(&["chromedriver"]).ok_or("no `chromedriver` on PATH (Debian: chromium-driver)")?;
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"])
        .ok_or("no `chromium` on PATH (Debian: chromium)")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    // The watchdog: chromedriver runs until our end of its stdin closes.
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(r#""$1" --port="$2" --allowed-ips=127.0.0.1 --log-level=SEVERE & pid=$!; cat >/dev/null; kill "$pid" 2>/dev/null; wait "$pid""#)
        .arg("sh")
        .arg(&chromedriver)
        .arg(port.to_string())
        // The page shows local times; the tests reason in UTC.
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start chromedriver: {e}"))?;
    let stdin = watchdog.stdin.take().ok_or("no stdin for the chromedriver watchdog")?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > DEADLINE {
            return Err(format!(
                "chromedriver did not listen on port {port} within {DEADLINE:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Driver {
        url: format!("http://127.0.0.1:{port}"),
        chromium,
        _watchdog: stdin,
    })
}

fn skip(reason: &str) {
    let required = std::env::var("AUDIT_REQUIRE_BROWSER").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    if required {
        panic!("a browser is required (AUDIT_REQUIRE_BROWSER=1) but unavailable: {reason}");
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "skipping the browser tests: {reason}");
    });
    eprintln!("skipped: no browser: {reason}");
}

/// Runs `test` with a fresh headless Chromium at `size`, then closes it
/// (also when the test panics, whose panic then continues). Returns without
/// running it where no browser can be had.
pub(crate) async fn with_browser<F, Fut>(size: (u32, u32), test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let driver = match DRIVER.get_or_init(start_driver) {
        Ok(driver) => driver,
        Err(reason) => return skip(reason),
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let profile = std::env::temp_dir().join(format!("audit-web-page-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&profile).unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": driver.chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--lang=en-US",
                format!("--window-size={},{}", size.0, size.1),
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("chromedriver refused a session: {e}"));
    // The viewport, not the window, is what a reader has.
    resize_viewport(&client, size).await;
    let outcome = tokio::spawn(test(client.clone())).await;
    let _ = client.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Makes the page's viewport `size`, whatever the window's frame takes.
pub(crate) async fn resize_viewport(client: &Client, size: (u32, u32)) {
    client.set_window_size(size.0, size.1).await.unwrap();
    let inner = client
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap();
    let (w, h) = (inner[0].as_u64().unwrap_or(0), inner[1].as_u64().unwrap_or(0));
    let extra = (
        u32::try_from(u64::from(size.0).saturating_sub(w)).unwrap_or(0),
        u32::try_from(u64::from(size.1).saturating_sub(h)).unwrap_or(0),
    );
    if extra != (0, 0) {
        client
            .set_window_size(size.0 + extra.0, size.1 + extra.1)
            .await
            .unwrap();
    }
}

/// Polls `probe` until it gives `Some`, failing the test after [`DEADLINE`].
pub(crate) async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
pub(crate) async fn js(client: &Client, script: &str, args: Vec<Value>) -> Value {
    client
        .execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Writes a PNG of the viewport to `docs/<name>.png` when
/// `AUDIT_UPDATE_SCREENSHOTS=1`; otherwise does nothing.
pub(crate) async fn screenshot(client: &Client, name: &str) {
    if std::env::var("AUDIT_UPDATE_SCREENSHOTS").is_ok_and(|v| v.trim() == "1") {
        let png = client.screenshot().await.unwrap();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(format!("{name}.png"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap();
    }
}
