//! `irsa completions` and `irsa man`, run as a user would: the bash script is checked by
//! bash itself and then driven through bash's programmable completion (COMP_WORDS,
//! COMP_CWORD, the registered function, COMPREPLY), and the man pages are written to disk.

use std::path::Path;
use std::process::{Command, Output};

fn irsa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irsa"))
        .args(args)
        .output()
        .expect("run irsa")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes the bash completion script to a file in `dir` and returns its path.
fn bash_script(dir: &Path) -> std::path::PathBuf {
    let script = stdout(&irsa(&["completions", "bash"]));
    let path = dir.join("irsa.bash");
    std::fs::write(&path, script).expect("write script");
    path
}

/// What bash completes for the words typed so far (the last one is being completed), using
/// the function the script registered for `irsa` with `complete -F`.
fn complete(script: &Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        r#"source "$1" || exit 3
spec=$(complete -p irsa) || exit 4
func=$(sed -E 's/.* -F ([^ ]+) .*/\1/' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="{line}"
COMP_POINT={point}
"$func" irsa "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = words.join(" "),
        cword = words.len() - 1,
        point = line.len(),
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program, "complete"])
        .arg(script)
        .output()
        .expect("bash must be installed for this test");
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_bash_script_is_valid_bash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = bash_script(dir.path());
    let out = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bash_completes_subcommands_at_every_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = bash_script(dir.path());
    assert_eq!(complete(&script, &["irsa", "lo"]), ["local"]);
    assert_eq!(complete(&script, &["irsa", "local", "ex"]), ["exec"]);
    assert_eq!(complete(&script, &["irsa", "oidc", "k"]), ["keygen"]);
    assert_eq!(complete(&script, &["irsa", "completions", "f"]), ["fish"]);
    let top = complete(&script, &["irsa", ""]);
    for sub in ["local", "webhook", "provision", "completions", "man"] {
        assert!(top.iter().any(|w| w == sub), "{sub} not in {top:?}");
    }
    let flags = complete(&script, &["irsa", "local", "exec", "--ro"]);
    assert_eq!(flags, ["--role-arn"]);
}

#[test]
fn every_shell_gets_a_script_for_irsa() {
    for (shell, marker) in [
        ("bash", "complete -F _irsa"),
        ("zsh", "#compdef irsa"),
        ("fish", "complete -c irsa"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout(&irsa(&["completions", shell]));
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(script.contains("exec"), "{shell}: no nested subcommand");
    }
    let bad = irsa(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("tcsh"));
}

#[test]
fn man_writes_one_page_per_command_and_prints_their_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("share/man/man1");
    let printed = stdout(&irsa(&["man", "--out", out_dir.to_str().expect("utf-8")]));
    let printed: Vec<&str> = printed.lines().collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(printed.len(), on_disk.len());
    for page in [
        "irsa.1",
        "irsa-local.1",
        "irsa-local-exec.1",
        "irsa-local-token.1",
        "irsa-oidc-keygen.1",
        "irsa-doctor-pods.1",
        "irsa-migrate-kiam.1",
        "irsa-man.1",
    ] {
        assert!(
            on_disk.iter().any(|f| f == page),
            "{page} not in {on_disk:?}"
        );
        let path = out_dir.join(page);
        assert!(printed.contains(&path.to_str().expect("utf-8")));
        let text = std::fs::read_to_string(&path).expect("page");
        assert!(text.starts_with(".ie") || text.starts_with(".TH"), "{page}");
        assert!(text.contains(".SH SYNOPSIS"), "{page}");
    }
}
