//! Tokens from a real identity provider: keys from its JWKS (found by OIDC
//! discovery or configured), rotated without a restart, kept when the
//! provider is down or hostile, refetched at a bounded rate for unknown
//! `kid`s; claims at configured (nested) names; and the token attack
//! matrix again, on the provider's keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use islet_host::config::ServerConfig;
use islet_tests::idp::{Answer, SigningKey, TestIdp, fixture};
use islet_tests::{TestHost, component, manifest, now};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::time::Duration;

fn rsa1() -> SigningKey {
    SigningKey::rsa("k1", "rs256-private.pem")
}

fn rsa2() -> SigningKey {
    SigningKey::rsa("k2", "rs256-next-private.pem")
}

fn attacker(kid: &str) -> SigningKey {
    SigningKey::rsa(kid, "rs256-attacker-private.pem")
}

/// Claims for `sub` that `host` accepts, as JSON to change at will.
fn claims(host: &TestHost, sub: &str) -> Value {
    serde_json::to_value(host.claims(sub, &[])).unwrap()
}

/// Status and error code of `GET /p/probe/whoami` as `token`.
async fn whoami(host: &TestHost, token: &str) -> (u16, String) {
    let (status, body) = host.get_json("/p/probe/whoami", Some(token)).await;
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    (status, code)
}

/// Wait (at most 10 s) until `token` gets `status` from whoami.
async fn until_status(host: &TestHost, token: &str, status: u16) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = whoami(host, token).await;
        if got.0 == status {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {got:?}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_at_the_provider_takes_effect_without_a_restart() {
    let idp = TestIdp::start().await;
    let (k1, k2) = (rsa1(), rsa2());
    idp.publish(&[&k1]);
    // The provider says "cache for 1 s"; Islet's own period is an hour.
    idp.cache_control(Some("public, max-age=1"));
    let host = TestHost::start_with(|c| idp.configure(c)).await;
    assert_eq!(idp.fetches(), 1, "fetched once at start");
    host.install("probe").await;

    let old = k1.sign(&claims(&host, "alice"));
    assert_eq!(whoami(&host, &old).await.0, 200);

    // The provider adds k2 and signs with it at once: the first token
    // naming k2 makes Islet fetch the set again.
    idp.publish(&[&k1, &k2]);
    tokio::time::sleep(Duration::from_millis(150)).await; // past min-refresh
    let before = idp.fetches();
    let new = k2.sign(&claims(&host, "bob"));
    assert_eq!(whoami(&host, &new).await.0, 200, "the new key works");
    assert!(idp.fetches() > before, "fetched for the unknown kid");
    assert_eq!(
        whoami(&host, &old).await.0,
        200,
        "the old key stays valid while published"
    );

    // k1 is retired: within the provider's max-age it stops verifying.
    idp.publish(&[&k2]);
    let (_, code) = until_status(&host, &old, 401).await;
    assert_eq!(code, "unknown_signing_key");
    assert_eq!(whoami(&host, &new).await.0, 200);
    host.stop().await;
}

/// `jwks-min-refresh-s` of the rate test: long enough for a burst of 40
/// requests to finish within it on a loaded machine.
const GATE: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kids_refetch_the_set_at_a_bounded_rate_then_are_refused() {
    let idp = TestIdp::start().await;
    let k1 = rsa1();
    idp.publish(&[&k1]);
    let host = TestHost::start_with(|c| {
        idp.configure(c);
        c.idp.min_refresh = GATE;
    })
    .await;
    host.install("probe").await;
    let start = idp.fetches();

    // A burst of tokens naming made-up keys, in two waves a gate apart:
    // each wave costs the provider at most one fetch.
    for wave in 0..2 {
        if wave > 0 {
            tokio::time::sleep(GATE + Duration::from_millis(100)).await;
        }
        let before = idp.fetches();
        let mut burst = tokio::task::JoinSet::new();
        for i in 0..40 {
            let token = attacker(&format!("made-up-{wave}-{i}")).sign(&claims(&host, "mallory"));
            let (http, url) = (host.http.clone(), host.url("/p/probe/whoami"));
            burst.spawn(async move {
                let response = http.get(url).bearer_auth(token).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (
                    status,
                    body["error"]["code"].as_str().unwrap_or("").to_string(),
                )
            });
        }
        while let Some(answer) = burst.join_next().await {
            assert_eq!(answer.unwrap(), (401, "unknown_signing_key".to_string()));
        }
        assert!(
            idp.fetches() - before <= 1,
            "wave {wave}: {} fetches for 40 unknown kids",
            idp.fetches() - before
        );
    }
    assert!(idp.fetches() - start <= 2);

    // A rotation right after a fetch waits for the bound, then works.
    let k2 = rsa2();
    idp.publish(&[&k1, &k2]);
    let token = k2.sign(&claims(&host, "bob"));
    assert_eq!(
        whoami(&host, &token).await,
        (401, "unknown_signing_key".to_string()),
        "the set was fetched for the second wave just now"
    );
    tokio::time::sleep(GATE + Duration::from_millis(100)).await;
    assert_eq!(whoami(&host, &token).await.0, 200);

    // A kid too long to be a real one does not reach the provider.
    tokio::time::sleep(GATE + Duration::from_millis(100)).await;
    let before = idp.fetches();
    let long = attacker(&"x".repeat(5000)).sign(&claims(&host, "mallory"));
    assert_eq!(whoami(&host, &long).await.0, 401);
    assert_eq!(idp.fetches(), before);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_keys_outlive_a_provider_that_is_down_or_hostile() {
    let mut idp = TestIdp::start().await;
    let k1 = rsa1();
    idp.publish(&[&k1]);
    let host = TestHost::start_with(|c| {
        idp.configure(c);
        // Refresh every 200 ms (failures retry from 100 ms), 500 ms
        // deadline, 64 KiB cap.
        c.idp.refresh = Duration::from_millis(200);
        c.idp.timeout = Duration::from_millis(500);
        c.idp.max_bytes = 64 << 10;
    })
    .await;
    host.install("probe").await;
    let token = k1.sign(&claims(&host, "alice"));
    assert_eq!(whoami(&host, &token).await.0, 200);

    let hmac_secret = b"a-secret-the-provider-leaks-32-bytes!";
    let hostile_keys = vec![
        // A symmetric key: anyone could sign with it.
        json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(hmac_secret)}),
        // k1's numbers, but for encryption, or for another algorithm.
        {
            let mut k = k1.jwk.clone();
            k["kid"] = json!("enc");
            k["use"] = json!("enc");
            k
        },
        {
            let mut k = k1.jwk.clone();
            k["kid"] = json!("as-hs256");
            k["alg"] = json!("HS256");
            k
        },
        json!({"kty": "EC", "crv": "P-256", "kid": "bad-point", "x": "AAAA", "y": "AAAA"}),
        json!({"kty": "XYZ", "kid": "alien"}),
    ];
    let answers = [
        ("503", Answer::Status(503)),
        ("404", Answer::Status(404)),
        (
            "HTML",
            Answer::Body(b"<html><body>maintenance</body></html>".to_vec()),
        ),
        (
            "keys not an array",
            Answer::Body(br#"{"keys": 5}"#.to_vec()),
        ),
        ("empty set", Answer::Body(br#"{"keys": []}"#.to_vec())),
        (
            "only hostile keys",
            Answer::Body(serde_json::to_vec(&json!({ "keys": hostile_keys })).unwrap()),
        ),
        ("10 MiB declared", Answer::Huge(10 << 20)),
        ("endless body", Answer::Endless),
        ("dripping body", Answer::Drip),
    ];
    for (what, answer) in answers {
        idp.answer(answer);
        let seen = idp.fetches();
        idp.wait_for_fetches(seen + 2, Duration::from_secs(15))
            .await;
        assert_eq!(
            whoami(&host, &token).await.0,
            200,
            "{what}: the last good key still verifies"
        );
    }

    // The hostile set never let its keys in: an HS256 token naming the
    // symmetric key, or k1's numbers as an HMAC secret, is refused.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hmac".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(&host, "mallory"),
        &EncodingKey::from_secret(hmac_secret).unwrap(),
    )
    .unwrap();
    assert_eq!(whoami(&host, &forged).await.0, 401);

    // The provider goes away entirely (connections refused).
    idp.stop().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(whoami(&host, &token).await.0, 200, "down: keys kept");

    // The failures were counted.
    let text = host.metrics().await.text().await.unwrap();
    let failed = text
        .lines()
        .filter(|l| l.starts_with("islet_jwks_refreshes_total") && l.contains("outcome=\"failed\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert!(failed >= 18.0, "failed refreshes counted: {failed}\n{text}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_starts_while_the_provider_is_down_and_takes_its_keys_when_it_is_back() {
    let idp = TestIdp::start().await;
    let k1 = rsa1();
    idp.answer(Answer::Status(503));
    let host = TestHost::start_with(|c| idp.configure(c)).await;
    host.install("probe").await;
    let token = k1.sign(&claims(&host, "alice"));
    assert_eq!(
        whoami(&host, &token).await,
        (401, "unknown_signing_key".to_string())
    );
    // Public routes work meanwhile.
    assert_eq!(host.get_json("/api/v1/catalog", None).await.0, 200);
    idp.publish(&[&k1]);
    until_status(&host, &token, 200).await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_the_key_set_and_another_issuer_stops_the_host() {
    let idp = TestIdp::start().await;
    let k1 = rsa1();
    idp.publish(&[&k1]);
    let host = TestHost::start_with(|c| {
        idp.configure(c);
        c.idp.jwks_url = None;
        c.issuer = idp.issuer();
        c.idp.discovery_url = Some(islet_host::auth::discovery_url(&idp.issuer()));
    })
    .await;
    host.install("probe").await;
    assert_eq!((idp.discoveries(), idp.fetches()), (1, 1));
    let token = k1.sign(&claims(&host, "alice"));
    assert_eq!(whoami(&host, &token).await.0, 200);
    host.stop().await;

    // A discovery document of another issuer: the host refuses to start,
    // saying why.
    let impostor = TestIdp::start().await;
    impostor.publish(&[&attacker("evil")]);
    impostor.discovery_issuer("https://impostor.example");
    let err = start_fails(|c| {
        c.issuer = impostor.issuer();
        c.idp.discovery_url = Some(islet_host::auth::discovery_url(&impostor.issuer()));
    })
    .await;
    assert!(
        err.contains("impostor.example") && err.contains("must be equal"),
        "{err}"
    );
    assert_eq!(impostor.fetches(), 0, "its keys were never fetched");

    // One naming a key set over plain http elsewhere: refused too.
    let plain = TestIdp::start().await;
    plain.discovery_jwks_uri("http://keys.city.example/certs");
    let err = start_fails(|c| {
        c.issuer = plain.issuer();
        c.idp.discovery_url = Some(islet_host::auth::discovery_url(&plain.issuer()));
    })
    .await;
    assert!(err.contains("plain http"), "{err}");
}

/// Start a host configured by `adjust`, which must fail; its message.
async fn start_fails(adjust: impl FnOnce(&mut ServerConfig)) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut c = ServerConfig::new(data.path().to_path_buf());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.dev = true;
    adjust(&mut c);
    match islet_host::start(c).await {
        Ok(server) => {
            server.shutdown().await.unwrap();
            panic!("the host started");
        }
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_claims_give_roles_and_levels_and_aud_may_be_an_array() {
    let idp = TestIdp::start().await;
    let k1 = rsa1();
    idp.publish(&[&k1]);
    let host = TestHost::start_with(|c| {
        idp.configure(c);
        c.claims.roles = vec!["realm_access.roles".into()];
        c.claims.assurance_level = "attributes.loa".into();
        c.claims.subject = "preferred_username".into();
    })
    .await;
    let token = |extra: Value| {
        let mut c = claims(&host, "ignored");
        c["preferred_username"] = json!("zhang.san");
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        k1.sign(&c)
    };

    // The admin role, from realm_access.roles, opens the admin API.
    let admin = token(json!({"realm_access": {"roles": ["offline_access", "admin"]}}));
    let (status, body) = host.get_json("/admin/v1/plugins", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    // A top-level "roles" claim is not where this provider's roles are.
    let top = token(json!({"roles": ["admin"], "realm_access": {"roles": []}}));
    let (status, body) = host.get_json("/admin/v1/plugins", Some(&top)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    // Install the probe as that admin, then read the level back.
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest("probe"))
        .part(
            "component",
            reqwest::multipart::Part::bytes(component("probe")).file_name("c.wasm"),
        );
    let response = host
        .http
        .post(host.url("/admin/v1/plugins"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, body) = host
        .get_json(
            "/p/probe/whoami",
            Some(&token(json!({"attributes": {"loa": "4"}}))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assurance_level"], 4);

    // Without the configured subject claim, the token is refused.
    let mut no_subject = claims(&host, "alice");
    no_subject
        .as_object_mut()
        .unwrap()
        .remove("preferred_username");
    let (status, body) = host
        .get_json("/p/probe/whoami", Some(&k1.sign(&no_subject)))
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("preferred_username")
    );

    // aud: one string or an array holding Islet's audience.
    for (aud, expected) in [
        (json!("islet-app"), 200),
        (json!(["city-portal", "islet-app"]), 200),
        (json!(["city-portal", "bus-app"]), 401),
        (json!([]), 401),
        (json!("bus-app"), 401),
    ] {
        let t = token(json!({ "aud": aud.clone() }));
        assert_eq!(whoami(&host, &t).await.0, expected, "aud {aud}");
    }
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_matrix_on_the_providers_keys() {
    let idp = TestIdp::start().await;
    let (k1, e1) = (rsa1(), SigningKey::ec("e1", "es256-private.pem"));
    idp.publish(&[&k1, &e1]);
    // The provider's keys next to the development HS256 key.
    let host = TestHost::start_with(|c| idp.configure(c)).await;
    host.install("probe").await;
    let good = claims(&host, "alice");
    let refused = |code: &str| (401u16, code.to_string());

    assert_eq!(whoami(&host, &k1.sign(&good)).await.0, 200, "RS256");
    assert_eq!(whoami(&host, &e1.sign(&good)).await.0, 200, "ES256");
    assert_eq!(
        whoami(&host, &host.token("dev", &[])).await.0,
        200,
        "HS256 dev key"
    );

    // alg none, naming a real key, with and without a signature part.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap());
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        assert_eq!(whoami(&host, &token).await.0, 401, "alg none: {token}");
    }

    // HS256 "signed" with k1's public key (PEM, and the JWK's modulus),
    // naming k1 and naming nothing.
    let public_pem = fixture("rs256-public.pem");
    let modulus = URL_SAFE_NO_PAD
        .decode(k1.jwk["n"].as_str().unwrap())
        .unwrap();
    for secret in [&public_pem, &modulus] {
        for kid in [Some("k1"), None] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid.map(str::to_string);
            let confused =
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(secret).unwrap())
                    .unwrap();
            assert_eq!(
                whoami(&host, &confused).await,
                refused("invalid_token"),
                "HS256 with the public key, kid {kid:?}"
            );
        }
    }

    // A key's algorithm is the key's: k1 under RS384/PS256, e1 under RS256.
    for alg in [Algorithm::RS384, Algorithm::PS256] {
        let mut header = Header::new(alg);
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(
            &header,
            &good,
            &EncodingKey::from_rsa_pem(&fixture("rs256-private.pem")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            whoami(&host, &token).await,
            refused("invalid_token"),
            "{alg:?}"
        );
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("e1".into());
    assert_eq!(
        whoami(&host, &k1.sign_with(header, &good)).await,
        refused("invalid_token"),
        "an RSA signature naming the EC key"
    );

    // Another key pair signing as k1; the token's own jwk/jku ignored.
    let forged = attacker("k1").sign(&good);
    assert_eq!(whoami(&host, &forged).await, refused("invalid_token"));
    let evil_idp = TestIdp::start().await;
    let evil = attacker("evil");
    evil_idp.publish(&[&evil]);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("evil".into());
    header.jku = Some(evil_idp.jwks_url());
    header.jwk = Some(serde_json::from_value(evil.jwk.clone()).unwrap());
    let injected = evil.sign_with(header, &good);
    assert_eq!(
        whoami(&host, &injected).await,
        refused("unknown_signing_key")
    );
    assert_eq!(evil_idp.fetches(), 0, "a token's jku is never followed");

    // A kid pointing to nothing; a token naming no kid at all.
    let ghost = attacker("ghost").sign(&good);
    assert_eq!(whoami(&host, &ghost).await, refused("unknown_signing_key"));
    let unnamed = k1.sign_with(Header::new(Algorithm::RS256), &good);
    assert_eq!(whoami(&host, &unnamed).await, refused("invalid_token"));

    // Tampered payload: the admin role written into a good token.
    let real = k1.sign(&good);
    let mut parts: Vec<&str> = real.split('.').collect();
    let mut elevated = good.clone();
    elevated["roles"] = json!(["admin"]);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&elevated).unwrap());
    parts[1] = &payload;
    assert_eq!(
        whoami(&host, &parts.join(".")).await,
        refused("invalid_token")
    );

    // Claims: issuer, audience, expiry, not-before.
    let with = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        k1.sign(&c)
    };
    assert_eq!(
        whoami(&host, &with("iss", json!("https://evil-idp.example"))).await,
        refused("invalid_token")
    );
    assert_eq!(
        whoami(&host, &with("aud", json!("another-app"))).await,
        refused("invalid_token")
    );
    assert_eq!(
        whoami(&host, &with("exp", json!(now() - 3600))).await,
        refused("token_expired")
    );
    assert_eq!(
        whoami(&host, &with("nbf", json!(now() + 3600))).await,
        refused("invalid_token")
    );
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(whoami(&host, &k1.sign(&no_exp)).await.0, 401);
    host.stop().await;
}
