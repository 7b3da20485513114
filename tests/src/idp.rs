//! A small identity provider for the tests, on loopback: it publishes a
//! JSON Web Key Set and an OpenID Connect discovery document, signs
//! tokens with the test keys, and can rotate its keys, go down, or answer
//! garbage, huge or dripping bodies.

use crate::workspace;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use islet_host::config::ServerConfig;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A test key pair the provider signs with.
#[derive(Clone)]
pub struct SigningKey {
    /// Its `kid`.
    pub kid: String,
    /// The algorithm it signs with.
    pub alg: Algorithm,
    encoding: EncodingKey,
    /// Its public JWK (with `kid`, `alg` and `use`).
    pub jwk: Value,
}

impl SigningKey {
    /// The RSA key pair in `tests/fixtures/<pem>`, as `kid`, RS256.
    pub fn rsa(kid: &str, pem: &str) -> SigningKey {
        let encoding = EncodingKey::from_rsa_pem(&fixture(pem)).expect("RSA PEM");
        Self::with(kid, Algorithm::RS256, encoding)
    }

    /// The EC P-256 key pair in `tests/fixtures/<pem>`, as `kid`, ES256.
    pub fn ec(kid: &str, pem: &str) -> SigningKey {
        let encoding = EncodingKey::from_ec_pem(&fixture(pem)).expect("EC PEM");
        Self::with(kid, Algorithm::ES256, encoding)
    }

    fn with(kid: &str, alg: Algorithm, encoding: EncodingKey) -> SigningKey {
        let jwk = Jwk::from_encoding_key(&encoding, alg).expect("public JWK");
        let mut jwk = serde_json::to_value(jwk).expect("JWK JSON");
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        SigningKey {
            kid: kid.to_string(),
            alg,
            encoding,
            jwk,
        }
    }

    /// `claims` signed with this key, the header naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    /// `claims` signed with this key under `header` as given.
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// A file of `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = workspace().join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// How the key set address answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// The published keys.
    Keys,
    /// This status, no keys.
    Status(u16),
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 with this many bytes of a JSON-looking body, the length declared.
    Huge(usize),
    /// 200 with a JSON-looking body that never ends, no length declared.
    Endless,
    /// 200 at once, then one byte of the body every 200 ms.
    Drip,
}

struct Published {
    keys: Vec<Value>,
    answer: Answer,
    cache_control: Option<String>,
    discovery_issuer: Option<String>,
    jwks_uri: Option<String>,
}

#[derive(Clone)]
struct Shared {
    published: Arc<Mutex<Published>>,
    fetches: Arc<AtomicUsize>,
    discoveries: Arc<AtomicUsize>,
    base: Arc<str>,
}

impl Shared {
    fn published(&self) -> std::sync::MutexGuard<'_, Published> {
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The provider, serving until stopped.
pub struct TestIdp {
    /// `http://127.0.0.1:PORT`: also its issuer.
    pub base: String,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestIdp {
    /// A provider publishing nothing yet, on a random loopback port.
    pub async fn start() -> TestIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Shared {
            published: Arc::new(Mutex::new(Published {
                keys: Vec::new(),
                answer: Answer::Keys,
                cache_control: None,
                discovery_issuer: None,
                jwks_uri: None,
            })),
            fetches: Arc::new(AtomicUsize::new(0)),
            discoveries: Arc::new(AtomicUsize::new(0)),
            base: base.clone().into(),
        };
        let app = Router::new()
            .route("/certs", get(certs))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        TestIdp {
            base,
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Its issuer (`base`).
    pub fn issuer(&self) -> String {
        self.base.clone()
    }

    /// Its key set address.
    pub fn jwks_url(&self) -> String {
        format!("{}/certs", self.base)
    }

    /// Point `c` at this provider's key set, with refresh bounds fit for
    /// tests (100 ms between fetches, 1 h period, 1 s deadline).
    pub fn configure(&self, c: &mut ServerConfig) {
        c.idp.jwks_url = Some(self.jwks_url());
        c.idp.min_refresh = Duration::from_millis(100);
        c.idp.refresh = Duration::from_secs(3600);
        c.idp.timeout = Duration::from_secs(1);
    }

    /// Publish exactly `keys`.
    pub fn publish(&self, keys: &[&SigningKey]) {
        self.publish_raw(keys.iter().map(|k| k.jwk.clone()).collect());
    }

    /// Publish exactly these JWKs, whatever they are.
    pub fn publish_raw(&self, keys: Vec<Value>) {
        let mut p = self.shared.published();
        p.keys = keys;
        p.answer = Answer::Keys;
    }

    /// Answer the key set address this way from now on.
    pub fn answer(&self, answer: Answer) {
        self.shared.published().answer = answer;
    }

    /// Send this `Cache-Control` with the keys.
    pub fn cache_control(&self, value: Option<&str>) {
        self.shared.published().cache_control = value.map(str::to_string);
    }

    /// Make the discovery document claim this issuer.
    pub fn discovery_issuer(&self, issuer: &str) {
        self.shared.published().discovery_issuer = Some(issuer.to_string());
    }

    /// Make the discovery document name this key set address.
    pub fn discovery_jwks_uri(&self, uri: &str) {
        self.shared.published().jwks_uri = Some(uri.to_string());
    }

    /// How many times the key set was asked for.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was asked for.
    pub fn discoveries(&self) -> usize {
        self.shared.discoveries.load(Ordering::SeqCst)
    }

    /// Wait (at most `within`) until the key set has been asked for at
    /// least `n` times in all.
    pub async fn wait_for_fetches(&self, n: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.fetches() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the host asked for the key set {} times, not {n}, within {within:?}",
                self.fetches()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stop serving: from now on connections are refused.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn certs(State(shared): State<Shared>) -> Response {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let (answer, keys, cache_control) = {
        let p = shared.published();
        (p.answer.clone(), p.keys.clone(), p.cache_control.clone())
    };
    match answer {
        Answer::Keys => {
            let mut response = axum::Json(json!({ "keys": keys })).into_response();
            if let Some(value) = cache_control
                && let Ok(value) = value.parse()
            {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            response
        }
        Answer::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Answer::Body(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Answer::Huge(n) => {
            let mut body = b"{\"keys\": [".to_vec();
            body.resize(n, b' ');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Answer::Endless => {
            let head = futures_util::stream::once(async {
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"keys\": ["))
            });
            let tail = futures_util::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 64 << 10]))
            });
            use futures_util::StreamExt as _;
            Response::new(Body::from_stream(head.chain(tail)))
        }
        Answer::Drip => {
            let drip = futures_util::stream::unfold(0u64, |n| async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let byte = if n == 0 { b'{' } else { b' ' };
                Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(vec![byte])),
                    n + 1,
                ))
            });
            Response::new(Body::from_stream(drip))
        }
    }
}

async fn discovery(State(shared): State<Shared>) -> Response {
    shared.discoveries.fetch_add(1, Ordering::SeqCst);
    let (issuer, jwks_uri) = {
        let p = shared.published();
        (p.discovery_issuer.clone(), p.jwks_uri.clone())
    };
    axum::Json(json!({
        "issuer": issuer.unwrap_or_else(|| shared.base.to_string()),
        "jwks_uri": jwks_uri.unwrap_or_else(|| format!("{}/certs", shared.base)),
        "authorization_endpoint": format!("{}/auth", shared.base),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
    .into_response()
}
