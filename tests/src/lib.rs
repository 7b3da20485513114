//! The end-to-end harness: builds the real components once, starts real
//! hosts on random ports with fresh data folders, and talks HTTP to them.

use anyhow::{Context as _, bail};
use islet_host::auth::{Claims, sign_hs256};
use islet_host::config::{DEV_KEY_FILE, ServerConfig};
use islet_host::{RunningServer, start};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub mod idp;
pub mod js;
pub mod load;
pub mod nginx;
pub mod payments;
pub mod postgres;

/// Components the tests use: the sample plugins and the test guests.
pub const COMPONENTS: &[(&str, &str)] = &[
    ("hello", "plugins/hello"),
    ("community-report", "plugins/community-report"),
    ("water-bill", "plugins/water-bill"),
    ("hostile", "tests/guests/hostile"),
    ("probe", "tests/guests/probe"),
    ("payment-probe", "tests/guests/payment-probe"),
    ("people-probe", "tests/guests/people-probe"),
    ("sockets", "tests/guests/sockets"),
    ("unknown-import", "tests/guests/unknown-import"),
    ("cpu-heavy", "tests/guests/cpu-heavy"),
    ("page-probe", "tests/guests/page-probe"),
    ("mirror", "tests/guests/mirror"),
    ("std-probe", "tests/guests/std-probe"),
    // Not an Islet plugin: a plain wasi:http component for the benchmark's
    // `wasmtime serve` peer row (no manifest).
    ("wasi-http-hello", "tests/guests/wasi-http-hello"),
];

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Where the harness builds guests: its own target folder, so the nested
/// cargo never waits on the one running the tests.
fn guest_target_dir() -> PathBuf {
    workspace().join("target").join("e2e-guests")
}

/// A folder the tests may write to and keep (screenshots, logs).
pub fn output_dir() -> PathBuf {
    let dir = workspace().join("target").join("test-output");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The cargo profile guests are built with: `guest` (the workspace's
/// release profile with LTO and one codegen unit, as `islet plugin build`
/// should build them), or `$ISLET_TEST_GUEST_PROFILE` (e.g. `release`, to
/// compare).
fn guest_profile() -> String {
    std::env::var("ISLET_TEST_GUEST_PROFILE").unwrap_or_else(|_| "guest".into())
}

fn build_components() -> anyhow::Result<PathBuf> {
    let profile = guest_profile();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace())
        .args(["build", "--profile", &profile, "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", guest_target_dir());
    for (name, _) in COMPONENTS {
        cmd.args(["-p", name]);
    }
    let status = cmd
        .status()
        .context("cannot run cargo to build the test components")?;
    if !status.success() {
        bail!(
            "building the test components failed; is the wasm32-wasip2 target installed \
             (`rustup target add wasm32-wasip2`)?"
        );
    }
    Ok(guest_target_dir().join("wasm32-wasip2").join(profile))
}

/// The built component `name` (built once per test process).
pub fn component(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = match BUILT.get_or_init(|| build_components().map_err(|e| format!("{e:#}"))) {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    };
    let file = dir.join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// The manifest shipped with component `name`.
pub fn manifest(name: &str) -> String {
    let (_, dir) = COMPONENTS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("unknown component {name}"));
    let path = workspace().join(dir).join("islet.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `manifest` with its top-level `id` (and optionally version) replaced;
/// tables (`[limits]`, `[[templates]]`, ...) are left alone.
pub fn manifest_as(name: &str, id: &str, version: Option<&str>) -> String {
    let mut out = String::new();
    let mut top_level = true;
    for line in manifest(name).lines() {
        top_level &= !line.trim_start().starts_with('[');
        let key = line.split('=').next().unwrap_or("").trim();
        if !top_level {
            out.push_str(line);
            out.push('\n');
        } else if key == "id" {
            out.push_str(&format!("id = \"{id}\"\n"));
        } else if key == "version"
            && let Some(v) = version
        {
            out.push_str(&format!("version = \"{v}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A compiled-artifact cache shared by the tests (entries are keyed by
/// component and engine, so sharing is safe and saves compile time).
/// The metrics token test hosts are configured with (`/metrics` answers
/// only to it).
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

fn shared_cache_dir() -> PathBuf {
    workspace().join("target").join("e2e-cache")
}

/// The store a test host runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded sled store in the host's data folder.
    Sled,
    /// A fresh schema in the test PostgreSQL database (`ISLET_TEST_PG_URL`).
    Postgres,
}

impl Backend {
    /// A store URL for a new deployment on this backend (`None`: sled in
    /// the data folder). Hosts given the same URL share one store.
    pub fn new_store_url(self, label: &str) -> Option<String> {
        match self {
            Backend::Sled => None,
            Backend::Postgres => {
                let url = islet_host::store::scratch::test_url()
                    .and_then(|base| islet_host::store::scratch::schema_url(&base, label));
                match url {
                    Ok(url) => Some(url),
                    Err(e) => panic!("{}", e.0),
                }
            }
        }
    }
}

/// Run each named `async fn(Backend)` as two tests, one per backend:
/// `on_sled::NAME` and `on_postgres::NAME`.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod on_sled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Backend::Sled).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A running host with its own data folder.
pub struct TestHost {
    server: Option<RunningServer>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server config (data folder, keys).
    pub config: ServerConfig,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    secret: Vec<u8>,
    _data: Option<tempfile::TempDir>,
}

impl TestHost {
    /// A dev-mode host on a random port with a fresh data folder.
    pub async fn start() -> TestHost {
        Self::start_with(|_| {}).await
    }

    /// A dev-mode host on `backend` (a fresh store of its own).
    pub async fn start_on(backend: Backend) -> TestHost {
        Self::start_on_with(backend, |_| {}).await
    }

    /// Like [`TestHost::start_on`], letting `adjust` change the config first.
    pub async fn start_on_with(
        backend: Backend,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> TestHost {
        let url = backend.new_store_url("e2e");
        Self::start_with(move |c| {
            c.store_url = url;
            adjust(c);
        })
        .await
    }

    /// Another host of this host's deployment: its own data folder and
    /// port, the same store and secrets.
    pub async fn peer(&self) -> TestHost {
        let (url, secrets) = (
            self.config.store_url.clone(),
            self.config.secrets_dir.clone(),
        );
        Self::start_with(move |c| {
            c.store_url = url;
            c.secrets_dir = secrets;
        })
        .await
    }

    /// Like [`TestHost::start`], letting `adjust` change the config first.
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestHost {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(data.path().to_path_buf());
        config.secrets_dir = data.path().to_path_buf();
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.dev = true;
        config.cache_dir = shared_cache_dir();
        config.max_instances = 64;
        config.metrics.token = Some(METRICS_TOKEN.to_string());
        adjust(&mut config);
        let mut host = Self::from_config(config).await;
        host._data = Some(data);
        host
    }

    async fn from_config(config: ServerConfig) -> TestHost {
        let server = start(config.clone()).await.expect("host starts");
        // A production host (dev off) has no development key: tokens for it
        // are signed with the test's own keys.
        let secret = match std::fs::read_to_string(config.secrets_dir.join(DEV_KEY_FILE)) {
            Ok(key) => key.trim().as_bytes().to_vec(),
            Err(_) if !config.dev => Vec::new(),
            Err(e) => panic!("the development host has no dev key: {e}"),
        };
        TestHost {
            base: format!("http://{}", server.addr()),
            server: Some(server),
            config,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            secret,
            _data: None,
        }
    }

    /// The running server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    /// Stop the host and start a new one on the same data folder.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
        let data = self._data.take();
        let mut next = Self::from_config(self.config.clone()).await;
        next._data = data;
        *self = next;
    }

    /// Stop the host.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }

    /// Claims for `sub` with `roles`, valid for an hour.
    pub fn claims(&self, sub: &str, roles: &[&str]) -> Claims {
        let now = now();
        Claims {
            sub: sub.into(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            exp: now + 3600,
            nbf: Some(now - 5),
            iat: Some(now),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            assurance_level: 3,
            ..Claims::default()
        }
    }

    /// Sign `claims` with this host's dev key.
    pub fn sign(&self, claims: &Claims) -> String {
        sign_hs256(claims, &self.secret).expect("sign")
    }

    /// A valid token for `sub` with `roles`.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.sign(&self.claims(sub, roles))
    }

    /// An admin token.
    pub fn admin(&self) -> String {
        self.token("admin-1", &["admin"])
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Upload `component` with `manifest` as admin.
    pub async fn upload(&self, manifest: &str, component: Vec<u8>) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest.to_string())
            .part(
                "component",
                reqwest::multipart::Part::bytes(component).file_name("c.wasm"),
            );
        self.http
            .post(self.url("/admin/v1/plugins"))
            .bearer_auth(self.admin())
            .multipart(form)
            .send()
            .await
            .expect("upload request")
    }

    /// Install component `name` under `id` and assert success.
    pub async fn install_as(&self, name: &str, id: &str) {
        let response = self
            .upload(&manifest_as(name, id, None), component(name))
            .await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "installing {name} as {id}: {status} {body}"
        );
    }

    /// Install component `name` with its own manifest and assert success.
    pub async fn install(&self, name: &str) {
        let response = self.upload(&manifest(name), component(name)).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "installing {name}: {status} {body}");
    }

    /// GET `path` with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("GET")
    }

    /// `GET /metrics` with the metrics token.
    pub async fn metrics(&self) -> reqwest::Response {
        self.http
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("request")
    }

    /// GET `path` and parse JSON, returning status and body.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        json_of(self.get(path, token).await).await
    }

    /// POST `path` as `token` with an optional JSON body; status and JSON body.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.post(self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        json_of(req.send().await.expect("POST")).await
    }

    /// Upload component `name` as `version` of plugin `id` for review, as `token`.
    pub async fn upload_version(
        &self,
        name: &str,
        id: &str,
        version: &str,
        token: &str,
    ) -> (u16, serde_json::Value) {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest_as(name, id, Some(version)))
            .part(
                "component",
                reqwest::multipart::Part::bytes(component(name)).file_name("c.wasm"),
            );
        let response = self
            .http
            .post(self.url(&format!("/admin/v1/plugins/{id}/versions")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload request");
        json_of(response).await
    }

    /// The admin list of plugins.
    pub async fn admin_plugins(&self) -> serde_json::Value {
        let (status, body) = self
            .get_json("/admin/v1/plugins", Some(&self.admin()))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// Status and JSON body of a response (`Null` when not JSON).
pub async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The browser tests' Node.js packages (`tests/browser/node_modules`),
/// installed with `npm ci` once per test process when any is missing; tests
/// running at the same time wait for the one install instead of racing it
/// (a second `npm ci` would delete the folder under the first's browser).
pub fn browser_node_modules() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = workspace().join("tests").join("browser");
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let modules = dir.join("node_modules");
    // npm writes `.package-lock.json` last: its presence means a whole install.
    let complete = ["playwright-core", "axe-core", ".package-lock.json"]
        .iter()
        .all(|m| modules.join(m).exists());
    if !complete {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run npm (Node.js is needed for the browser tests): {e}")
            });
        assert!(status.success(), "`npm ci` in {} failed", dir.display());
    }
    dir
}
