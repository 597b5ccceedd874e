//! Durable write throughput of the `irsa local` store.
//!
//! Every `AssumeRoleWithWebIdentity` stores a session and every IAM write a record, and a
//! write is acknowledged only after an `fsync`. The store groups concurrent writes into one
//! transaction; this measures what that buys: one writer at a time versus 64 concurrent
//! writers (per-iteration time is for the whole group of 64).

use criterion::{Criterion, criterion_group, criterion_main};
use irsa_local::store::{Session, Store};

fn session(id: String) -> Session {
    Session {
        access_key_id: id,
        secret_access_key: "s".repeat(40),
        session_token: "t".repeat(272),
        account: "000000000000".into(),
        role_arn: "arn:aws:iam::000000000000:role/demo-app".into(),
        assumed_role_arn: "arn:aws:sts::000000000000:assumed-role/demo-app/bench".into(),
        assumed_role_id: "AROAAAAAAAAAAAAAAAAAA:bench".into(),
        session_name: "bench".into(),
        subject: "system:serviceaccount:default:demo-app".into(),
        provider_arn: "arn:aws:iam::000000000000:oidc-provider/s3.eu-west-1.amazonaws.com/x".into(),
        audience: "sts.amazonaws.com".into(),
        expiration: 4_000_000_000,
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let mut group = c.benchmark_group("store_durable_write");
    group.sample_size(20);

    group.bench_function("put_session_sequential", |b| {
        b.iter(|| {
            runtime
                .block_on(store.put_session(session(irsa_local::ids::session_access_key_id())))
                .expect("put")
        });
    });

    group.bench_function("put_session_64_concurrent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut tasks = Vec::with_capacity(64);
                for _ in 0..64 {
                    let store = store.clone();
                    tasks.push(tokio::spawn(async move {
                        store
                            .put_session(session(irsa_local::ids::session_access_key_id()))
                            .await
                    }));
                }
                for t in tasks {
                    t.await.expect("join").expect("put");
                }
            });
        });
    });
    group.finish();
    store.close();
}

criterion_group!(benches, bench);
criterion_main!(benches);
