//! Golden tests of `irsa doctor` over the broken and healthy setups in
//! `tests/fixtures/doctor/cases/*`: each case has `args` (one argument per line, paths
//! relative to `tests/fixtures/doctor`) and `expected` (stdout, then the exit status).
//!
//! `UPDATE_GOLDEN=1 cargo test -p irsa-cli --test doctor_golden` rewrites `expected`;
//! review the diff before committing.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/doctor")
}

fn run_case(dir: &std::path::Path) -> String {
    let args = std::fs::read_to_string(dir.join("args")).expect("args");
    let args: Vec<&str> = args.lines().filter(|l| !l.is_empty()).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_irsa"))
        .arg("doctor")
        .args(&args)
        .current_dir(fixtures())
        .env_remove("AWS_REGION")
        .output()
        .expect("run irsa");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}: usage error: {stderr}",
        dir.display()
    );
    format!("{stdout}--- exit {}\n", out.status.code().unwrap_or(-1))
}

#[test]
fn every_case_matches_its_golden_output() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures().join("cases"))
        .expect("cases")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 15, "cases missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for dir in dirs {
        let actual = run_case(&dir);
        let path = dir.join("expected");
        if update {
            std::fs::write(&path, &actual).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            failures.push(format!("{}:\n{actual}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to accept):\n{}",
        failures.join("\n")
    );
}

/// The failure classes each case exists for: a case that stopped failing for its reason
/// would make its golden file meaningless.
#[test]
fn each_broken_case_fails_for_its_own_reason() {
    let cases = [
        ("healthy", None),
        (
            "role-name-not-arn",
            Some("FAIL 1. service-account.role-arn"),
        ),
        ("pod-predates-webhook", Some("FAIL 2. pod.injection")),
        ("annotation-changed-after-pod", Some("FAIL 2. pod.role-arn")),
        ("kiam-and-irsa-side-by-side", None),
        ("guide-cross-account", Some("FAIL 5. trust.federated")),
        (
            "condition-keys-wrong-prefix",
            Some("FAIL 5. trust.condition-keys"),
        ),
        ("no-provider-for-issuer", Some("FAIL 5. trust.provider")),
        ("token-expired", Some("FAIL 4. token.expiry")),
        ("token-wrong-audience", Some("FAIL 4. token.audience")),
        ("token-other-service-account", Some("FAIL 4. token.subject")),
        ("token-other-issuer", Some("FAIL 4. token.issuer")),
        (
            "token-signed-by-another-key",
            Some("FAIL 4. token.signature"),
        ),
        (
            "partition-mismatch",
            Some("FAIL 1. service-account.role-arn"),
        ),
    ];
    for (case, reason) in cases {
        let out = run_case(&fixtures().join("cases").join(case));
        match reason {
            None => {
                assert!(!out.contains("FAIL"), "{case}:\n{out}");
                assert!(out.ends_with("--- exit 0\n"), "{case}:\n{out}");
            }
            Some(line) => {
                assert!(out.contains(line), "{case}: no {line:?}:\n{out}");
                assert!(out.ends_with("--- exit 1\n"), "{case}:\n{out}");
            }
        }
    }
}
