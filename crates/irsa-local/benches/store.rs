//! Durable write throughput of the `irsa local` store.
//!
//! Every IAM write (a role, a provider, a config being applied) is acknowledged only after
//! an `fsync`; STS writes nothing (sessions are sealed into their tokens). The store groups
//! concurrent writes into one transaction; this measures what that buys: one writer at a
//! time versus 64 concurrent writers (per-iteration time is for the whole group of 64).

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use irsa_core::aws::Partition;
use irsa_local::store::{Role, Store, Write};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A role as `CreateRole` stores it, under a fresh name.
fn role() -> Write {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Write::PutRole(Role {
        partition: Partition::Aws,
        account: "000000000000".into(),
        name: format!("bench-{n}"),
        path: "/".into(),
        role_id: irsa_local::ids::role_id(),
        assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/s3.eu-west-1.amazonaws.com/x"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"s3.eu-west-1.amazonaws.com/x:sub":"system:serviceaccount:default:demo-app"}}}]}"#.into(),
        max_session_duration: 3600,
        description: None,
        tags: Vec::new(),
        created: 1_764_365_789,
    })
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

    group.bench_function("put_role_sequential", |b| {
        b.iter(|| runtime.block_on(store.commit(vec![role()])).expect("put"));
    });

    group.bench_function("put_role_64_concurrent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut tasks = Vec::with_capacity(64);
                for _ in 0..64 {
                    let store = store.clone();
                    tasks.push(tokio::spawn(
                        async move { store.commit(vec![role()]).await },
                    ));
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
