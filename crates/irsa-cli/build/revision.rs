//! The git revision a build of `irsa` comes from.
//!
//! Shared by `build.rs`, which bakes it into `irsa --version`, and by the tests, which check
//! it against git on real repositories. Every git failure (no git installed, a source tarball
//! without `.git`, sources unpacked inside an unrelated repository) gives [`UNKNOWN`]: a
//! build never fails for lack of version control.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What `irsa --version` shows in place of a commit when the sources are not a git checkout.
pub const UNKNOWN: &str = "unknown revision";

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// The 12-digit commit hash of the checkout `dir` is in, with `-dirty` when a tracked file
/// differs from that commit (`git describe --dirty`'s meaning; untracked files do not count).
///
/// `dir` must itself be tracked: sources copied into some other repository have no revision
/// of their own, and claiming that repository's would be wrong.
pub fn describe(dir: &Path) -> String {
    if git(dir, &["ls-files", "--", "."]).is_none_or(|files| files.is_empty()) {
        return UNKNOWN.to_owned();
    }
    let Some(hash) = git(dir, &["rev-parse", "--short=12", "HEAD"]).filter(|h| !h.is_empty())
    else {
        return UNKNOWN.to_owned();
    };
    // --no-optional-locks: a build must not rewrite the index (and so trigger itself again).
    let status = [
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ];
    if git(dir, &status).is_some_and(|changes| !changes.is_empty()) {
        format!("{hash}-dirty")
    } else {
        hash
    }
}

/// The files whose change can change [`describe`]: `HEAD`, the branch it points to, packed
/// refs, the index, and every tracked file of the work tree. Only existing files are listed
/// (Cargo reruns a build script on every build while a watched file is missing).
pub fn watched(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut git_paths = vec![
        "HEAD".to_owned(),
        "packed-refs".to_owned(),
        "index".to_owned(),
    ];
    git_paths.extend(git(dir, &["symbolic-ref", "-q", "HEAD"]));
    for name in &git_paths {
        if let Some(path) = git(
            dir,
            &["rev-parse", "--path-format=absolute", "--git-path", name],
        ) {
            paths.push(PathBuf::from(path));
        }
    }
    if let Some(top) = git(dir, &["rev-parse", "--show-toplevel"]).map(PathBuf::from)
        && let Some(files) = git(&top, &["ls-files", "-z"])
    {
        paths.extend(
            files
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(|f| top.join(f)),
        );
    }
    paths.retain(|p| p.exists());
    paths
}
