//! `irsa --version`: the crate version and the git revision from build metadata
//! (`build/revision.rs`, run by `build.rs`), checked against real git repositories: a
//! checkout, a modified checkout, a directory outside any repository (a source tarball) and
//! sources copied into an unrelated repository.

#[path = "../build/revision.rs"]
mod revision;

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=irsa test",
            "-c",
            "user.email=test@irsa.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git must be installed for this test");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository with one committed file, `src/main.rs`.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    std::fs::create_dir(dir.path().join("src")).expect("mkdir");
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").expect("write");
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    dir
}

#[test]
fn the_binary_prints_the_crate_version_and_the_revision_it_was_built_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_irsa"))
        .arg("--version")
        .output()
        .expect("run irsa");
    assert!(out.status.success());
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let expected = format!(
        "irsa {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        revision::describe(manifest_dir)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    // Subcommands print the same version.
    let sub = Command::new(env!("CARGO_BIN_EXE_irsa"))
        .args(["local", "--version"])
        .output()
        .expect("run irsa local --version");
    assert!(
        String::from_utf8_lossy(&sub.stdout).ends_with(&expected[4..]),
        "{}",
        String::from_utf8_lossy(&sub.stdout)
    );
}

#[test]
fn a_clean_checkout_gives_its_commit_and_a_modified_one_adds_dirty() {
    let repo = repository();
    let head = git(repo.path(), &["rev-parse", "HEAD"]);
    let src = repo.path().join("src");

    assert_eq!(revision::describe(&src), head[..12]);

    std::fs::write(src.join("main.rs"), "fn main() { println!(); }\n").expect("write");
    assert_eq!(revision::describe(&src), format!("{}-dirty", &head[..12]));

    // Committing makes it clean again, at the new commit.
    git(repo.path(), &["commit", "-q", "-am", "second"]);
    let second = git(repo.path(), &["rev-parse", "HEAD"]);
    assert_ne!(second, head);
    assert_eq!(revision::describe(&src), second[..12]);

    // Untracked files (build output, editor files) do not make a tree dirty.
    std::fs::write(src.join("notes.txt"), "x").expect("write");
    assert_eq!(revision::describe(&src), second[..12]);
}

#[test]
fn sources_without_git_metadata_have_an_unknown_revision() {
    // A source tarball: the files, no .git.
    let tarball = tempfile::tempdir().expect("tempdir");
    std::fs::write(tarball.path().join("Cargo.toml"), "[package]\n").expect("write");
    assert_eq!(revision::describe(tarball.path()), "unknown revision");

    // A repository with no commit yet.
    let empty = tempfile::tempdir().expect("tempdir");
    git(empty.path(), &["init", "-q"]);
    assert_eq!(revision::describe(empty.path()), "unknown revision");

    // Sources unpacked inside an unrelated repository do not take its revision.
    let outer = repository();
    let vendored = outer.path().join("vendor/irsa");
    std::fs::create_dir_all(&vendored).expect("mkdir");
    std::fs::write(vendored.join("build.rs"), "fn main() {}\n").expect("write");
    assert_eq!(revision::describe(&vendored), "unknown revision");
}

#[test]
fn the_build_reruns_when_head_the_branch_the_index_or_a_tracked_file_changes() {
    let repo = repository();
    let watched = revision::watched(&repo.path().join("src"));
    let git_dir = repo.path().join(".git");
    for expected in [
        git_dir.join("HEAD"),
        git_dir.join("refs/heads/main"),
        git_dir.join("index"),
        repo.path().join("src/main.rs"),
    ] {
        assert!(
            watched.contains(&expected),
            "{} not in {watched:?}",
            expected.display()
        );
    }
    assert!(watched.iter().all(|p| p.exists()), "{watched:?}");

    let tarball = tempfile::tempdir().expect("tempdir");
    assert!(revision::watched(tarball.path()).is_empty());
}
