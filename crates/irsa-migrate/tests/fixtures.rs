//! Golden and round-trip tests over the YAML streams in `tests/fixtures/migrate/`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p irsa-migrate` rewrites the expected files; review the diff.

use std::path::PathBuf;

use irsa_core::aws::{AccountId, Partition};
use irsa_migrate::{MigrateError, Options, migrate, rollback, yaml};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/migrate")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn golden(name: &str, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(fixture(name), actual).expect("write golden");
        return;
    }
    let expected = read(name);
    assert_eq!(
        actual, expected,
        "{name} differs; UPDATE_GOLDEN=1 to accept"
    );
}

fn options(suffix: &str) -> Options {
    Options {
        account: AccountId::parse("111111111111").expect("account"),
        partition: Partition::Aws,
        service_account_suffix: suffix.to_owned(),
    }
}

/// The input as the YAML library writes it back unchanged (the identity to compare with).
fn normalised(text: &str) -> String {
    yaml::write_documents(&yaml::parse_documents(text).expect("parse")).expect("write")
}

#[test]
fn migration_matches_the_golden_file_and_rolls_back_to_the_input() {
    let input = read("kiam.yaml");
    let migrated = migrate(&input, &options("")).expect("migrate");
    golden("kiam.migrated.yaml", &migrated.yaml);
    golden("kiam.summary.txt", &(migrated.summary.join("\n") + "\n"));

    let back = rollback(&migrated.yaml).expect("rollback");
    assert_eq!(back.yaml, normalised(&input));
    // Rolling back twice changes nothing more; migrating again gives the same output.
    assert_eq!(rollback(&back.yaml).expect("again").yaml, back.yaml);
    assert_eq!(
        migrate(&back.yaml, &options("")).expect("remigrate").yaml,
        migrated.yaml
    );
}

#[test]
fn roles_are_full_arns_and_each_lists_its_service_accounts() {
    let migrated = migrate(&read("kiam.yaml"), &options("")).expect("migrate");
    let roles: Vec<(String, Vec<String>)> = migrated
        .roles
        .iter()
        .map(|r| {
            (
                r.role.to_string(),
                r.subjects.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            (
                "arn:aws:iam::111111111111:role/reportingdb-reader".to_owned(),
                vec![
                    "system:serviceaccount:reporting:api".to_owned(),
                    "system:serviceaccount:reporting:debug".to_owned()
                ]
            ),
            (
                "arn:aws:iam::222222222222:role/cross-account-reports".to_owned(),
                vec!["system:serviceaccount:reporting:report".to_owned()]
            ),
            (
                "arn:aws:iam::111111111111:role/team/worker-role".to_owned(),
                vec!["system:serviceaccount:reporting:worker".to_owned()]
            ),
        ]
    );
}

#[test]
fn suffix_names_dedicated_service_accounts() {
    let migrated = migrate(&read("kiam.yaml"), &options("-irsa")).expect("migrate");
    assert!(
        migrated.yaml.contains("serviceAccountName: api-irsa\n"),
        "{}",
        migrated.yaml
    );
    assert!(
        migrated.yaml.contains("  name: report-irsa\n"),
        "{}",
        migrated.yaml
    );
    // An explicitly named ServiceAccount keeps its name.
    assert!(migrated.yaml.contains("serviceAccountName: worker\n"));
    let back = rollback(&migrated.yaml).expect("rollback");
    assert_eq!(back.yaml, normalised(&read("kiam.yaml")));
}

#[test]
fn a_shared_service_account_with_two_roles_is_a_conflict_naming_both() {
    let err = migrate(&read("conflict.yaml"), &options("")).expect_err("conflict");
    assert!(matches!(err, MigrateError::Conflict { .. }), "{err}");
    let text = err.to_string();
    for needle in [
        "shop/shared",
        "Deployment shop/reader",
        "Deployment shop/writer",
        "arn:aws:iam::111111111111:role/catalog-reader",
        "arn:aws:iam::111111111111:role/catalog-writer",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
}

#[test]
fn a_service_account_that_already_has_another_role_is_a_conflict() {
    let err = migrate(&read("conflict-existing.yaml"), &options("")).expect_err("conflict");
    let text = err.to_string();
    assert!(
        text.contains("catalog-admin") && text.contains("Deployment shop/reader"),
        "{text}"
    );
}

#[test]
fn streams_without_kiam_pass_through_unchanged() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"no\"\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3 # three\n  template:\n    metadata:\n      annotations:\n        iam.amazonaws.com/role: not-a-pod-template\n";
    let out = migrate(input, &options("")).expect("migrate");
    assert_eq!(out.yaml, normalised(input));
    assert_eq!(out.yaml, input, "nothing to normalise in this input");
    assert!(out.roles.is_empty());
    assert_eq!(rollback(input).expect("rollback").yaml, input);
}

#[test]
fn bad_role_references_name_the_workload() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: n\n  annotations:\n    iam.amazonaws.com/role: \"bad role\"\nspec:\n  containers: []\n";
    let err = migrate(input, &options("")).expect_err("bad");
    let text = err.to_string();
    assert!(text.starts_with("Pod n/p: "), "{text}");
    assert!(text.contains("kiam role"), "{text}");
    let input = input.replace("\"bad role\"", "app");
    let err = migrate(&input, &options("_X")).expect_err("bad name");
    assert!(
        err.to_string().contains("dedicated ServiceAccount name"),
        "{err}"
    );
}

#[test]
fn the_china_partition_is_used_for_names() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    iam.amazonaws.com/role: app\nspec:\n  serviceAccountName: sa\n  containers: []\n";
    let mut o = options("");
    o.partition = Partition::AwsCn;
    let out = migrate(input, &o).expect("migrate");
    assert!(
        out.yaml
            .contains("eks.amazonaws.com/role-arn: arn:aws-cn:iam::111111111111:role/app"),
        "{}",
        out.yaml
    );
    assert_eq!(
        rollback(&out.yaml).expect("rollback").yaml,
        normalised(input)
    );
}
