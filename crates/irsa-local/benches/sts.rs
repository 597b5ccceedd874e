//! The local STS's `AssumeRoleWithWebIdentity`, in process: the form body parsed, the
//! token verified (RS256), the trust policy evaluated, the session sealed and the XML
//! answer written, without the network. `scripts/bench-local` measures the same request
//! over HTTP next to moto; this bench shows where a change to the handler moves the
//! per-request cost. `raw_rs256_verify` is the signature check alone, the floor the
//! handler cannot go under.

use std::hint::black_box;

use axum::body::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Method, Uri};
use irsa_local::config::{BootstrapOptions, Config, bootstrap};
use irsa_local::query::{QueryRequest, parse_params};
use irsa_local::state::Clock;

const T0: i64 = 1_764_365_789;
const ROLE: &str = "arn:aws:iam::000000000000:role/demo-app";

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = runtime
        .block_on(bootstrap(BootstrapOptions {
            data_dir: dir.path().to_path_buf(),
            config: Some(Config::demo()),
            clock: Clock::fixed(T0),
            ..BootstrapOptions::default()
        }))
        .expect("bootstrap")
        .state;
    let cluster = state.clusters.get("demo").expect("demo cluster");
    let token = cluster
        .mint("default", "demo-app", "sts.amazonaws.com", 3600, T0)
        .expect("mint");
    let body = Bytes::from(
        serde_urlencoded::to_string([
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "bench"),
            ("WebIdentityToken", token.as_str()),
        ])
        .expect("form"),
    );
    let uri = Uri::from_static("/");
    let call = || {
        let params = parse_params(&uri, &body).expect("params");
        let req = QueryRequest {
            request_id: irsa_local::xml::new_request_id(),
            method: Method::POST,
            uri: uri.clone(),
            headers: HeaderMap::new(),
            body: body.clone(),
            params,
        };
        runtime.block_on(async {
            let response = irsa_local::server::dispatch(&state, req).await;
            assert_eq!(response.status(), http::StatusCode::OK);
            axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .expect("body")
        })
    };
    call();

    let mut group = c.benchmark_group("sts");
    group.bench_function("assume_role_with_web_identity", |b| {
        b.iter(|| black_box(call()));
    });
    // The signature check alone (what the handler cannot avoid).
    let jwks = irsa_jose::JwkSet::parse(&cluster.documents().jwks).expect("jwks");
    let verifier = irsa_jose::Verifier::new(
        &jwks,
        irsa_jose::VerifyOptions::new(cluster.issuer.as_str(), "sts.amazonaws.com"),
    )
    .expect("verifier");
    group.bench_function("verify_token_only", |b| {
        b.iter(|| verifier.verify(black_box(&token), T0).expect("verifies"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
