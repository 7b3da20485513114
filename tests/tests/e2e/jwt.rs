//! The token matrix: every way a token can be wrong is a 401 JSON error;
//! no token is an anonymous caller.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use islet_tests::{TestHost, now, workspace};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/fixtures").join(name)).unwrap()
}

async fn status_and_code(host: &TestHost, token: &str) -> (u16, String) {
    let (status, body) = host.get_json("/p/probe/whoami", Some(token)).await;
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_matrix() {
    let host = TestHost::start_with(|c| {
        let dir = workspace().join("tests/fixtures");
        c.rs256_public_key_files = vec![dir.join("rs256-public.pem")];
        c.es256_public_key_files = vec![dir.join("es256-public.pem")];
    })
    .await;
    host.install("probe").await;

    // No token: anonymous, and the plugin decides.
    let (status, body) = host.get_json("/p/probe/whoami", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["anonymous"], true);

    // A good token.
    let good = host.token("alice", &[]);
    let (status, body) = host.get_json("/p/probe/whoami", Some(&good)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assurance_level"], 3);

    let mut expired = host.claims("alice", &[]);
    expired.exp = now() - 3600;
    assert_eq!(
        status_and_code(&host, &host.sign(&expired)).await,
        (401, "token_expired".into())
    );

    let mut early = host.claims("alice", &[]);
    early.nbf = Some(now() + 3600);
    assert_eq!(
        status_and_code(&host, &host.sign(&early)).await,
        (401, "invalid_token".into())
    );

    let forged = islet_host::auth::sign_hs256(
        &host.claims("alice", &[]),
        b"not-the-host-secret-not-the-host",
    )
    .unwrap();
    assert_eq!(
        status_and_code(&host, &forged).await,
        (401, "invalid_token".into())
    );

    let mut wrong_aud = host.claims("alice", &[]);
    wrong_aud.aud = "another-app".into();
    assert_eq!(
        status_and_code(&host, &host.sign(&wrong_aud)).await,
        (401, "invalid_token".into())
    );

    let mut wrong_iss = host.claims("alice", &[]);
    wrong_iss.iss = "evil-idp".into();
    assert_eq!(
        status_and_code(&host, &host.sign(&wrong_iss)).await,
        (401, "invalid_token".into())
    );

    // alg: none, with and without a signature part.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&host.claims("alice", &["admin"])).unwrap());
    for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
        assert_eq!(
            status_and_code(&host, &token).await.0,
            401,
            "alg none accepted: {token}"
        );
    }

    // HS/RS confusion: HS256 signed with the RSA public key as the secret.
    let public_pem = fixture("rs256-public.pem");
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &host.claims("alice", &["admin"]),
        &EncodingKey::from_secret(&public_pem).unwrap(),
    )
    .unwrap();
    assert_eq!(
        status_and_code(&host, &confused).await,
        (401, "invalid_token".into())
    );

    // Real RS256 and ES256 tokens from the configured key pairs work.
    let rs = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &host.claims("bob", &[]),
        &EncodingKey::from_rsa_pem(&fixture("rs256-private.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(host.get_json("/p/probe/whoami", Some(&rs)).await.0, 200);
    let es = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &host.claims("bob", &[]),
        &EncodingKey::from_ec_pem(&fixture("es256-private.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(host.get_json("/p/probe/whoami", Some(&es)).await.0, 200);

    // An algorithm with no configured key.
    let hs384 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &host.claims("alice", &[]),
        &EncodingKey::from_secret(b"whatever-whatever-whatever-whatever").unwrap(),
    )
    .unwrap();
    assert_eq!(status_and_code(&host, &hs384).await.0, 401);

    // Garbage and the wrong scheme.
    assert_eq!(status_and_code(&host, "not.a.jwt").await.0, 401);
    let response = host
        .http
        .get(host.url("/p/probe/whoami"))
        .header("authorization", "Basic YWxpY2U6cHc=")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));

    // The admin API wants the admin role.
    let (status, body) = host.get_json("/admin/v1/plugins", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, body) = host.get_json("/admin/v1/plugins", Some(&good)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    host.stop().await;
}
