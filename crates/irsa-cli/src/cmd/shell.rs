//! `irsa completions` and `irsa man`: both are generated from the clap command tree, so
//! every subcommand, including ones added later, gets completions and a man page without a
//! list kept by hand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::output::{CliError, finish};

/// Shells `irsa completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// `source <(irsa completions bash)` in ~/.bashrc, or save as
    /// /usr/share/bash-completion/completions/irsa.
    Bash,
    /// Save as `_irsa` in a directory on `$fpath`.
    Zsh,
    /// Save as ~/.config/fish/completions/irsa.fish.
    Fish,
    /// `irsa completions powershell | Out-String | Invoke-Expression` in your profile.
    Powershell,
}

impl From<Shell> for clap_complete::Shell {
    fn from(shell: Shell) -> Self {
        match shell {
            Shell::Bash => Self::Bash,
            Shell::Zsh => Self::Zsh,
            Shell::Fish => Self::Fish,
            Shell::Powershell => Self::PowerShell,
        }
    }
}

/// Arguments of `irsa completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `irsa man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Directory to write irsa.1 and one page per subcommand into (created when missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Prints the completion script for `args.shell` to stdout.
pub fn completions(args: &CompletionsArgs, mut command: clap::Command) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(args.shell),
        &mut command,
        "irsa",
        &mut script,
    );
    finish(
        String::from_utf8(script)
            .map(|s| s.trim_end().to_owned())
            .map_err(|e| CliError::failure(format!("irsa completions: {e}"))),
    )
}

/// Writes the man pages and prints their paths, one per line.
pub fn man(args: &ManArgs, command: clap::Command) -> ExitCode {
    finish(write_pages(&args.out, command).map(|paths| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }))
}

/// Writes `irsa.1`, then `irsa-SUB.1`, `irsa-SUB-SUBSUB.1`, … for every visible subcommand
/// at every depth, and returns their paths, parents first.
pub(crate) fn write_pages(dir: &Path, command: clap::Command) -> Result<Vec<PathBuf>, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::failure(format!(
            "irsa man: --out {}: cannot create directory: {e}",
            dir.display()
        ))
    })?;
    // `help` is not a command of its own; building gives every subcommand its full name
    // (`irsa-local-exec`), its usage line and the version.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    // Every page's footer names the program and its full version (`irsa 0.1.0 (1a2b…)`).
    let source = format!("irsa {}", command.get_version().unwrap_or_default());
    let mut written = Vec::new();
    write_tree(dir, &command, &source, &mut written)?;
    Ok(written)
}

fn write_tree(
    dir: &Path,
    command: &clap::Command,
    source: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    let page = clap_mangen::Man::new(command.clone())
        .source(source)
        .generate_to(dir)
        .map_err(|e| {
            CliError::failure(format!(
                "irsa man: --out {}: cannot write the page of {}: {e}",
                dir.display(),
                command.get_display_name().unwrap_or(command.get_name())
            ))
        })?;
    written.push(page);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(dir, sub, source, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    /// Every command path of the tree (`["local", "exec"]`), walked independently of the
    /// writer.
    fn command_paths(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            out.push(path.clone());
            command_paths(sub, &path, out);
        }
    }

    #[test]
    fn every_subcommand_at_every_depth_has_a_man_page() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("man/man1");
        let written = write_pages(&out, crate::Cli::command()).expect("write pages");

        let mut paths = Vec::new();
        command_paths(&crate::Cli::command(), &[], &mut paths);
        assert!(paths.len() > 20, "the tree has every command: {paths:?}");
        for required in [
            "irsa.1",
            "irsa-local.1",
            "irsa-local-exec.1",
            "irsa-oidc-keygen.1",
        ] {
            assert!(out.join(required).is_file(), "{required} missing");
        }
        for path in &paths {
            let file = out.join(format!("irsa-{}.1", path.join("-")));
            let page = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // The page is titled after the command and its synopsis spells the command line.
            let title = format!("irsa-{}", path.join("-"));
            assert!(
                page.contains(&format!(".TH {title} 1")),
                "{}: title",
                file.display()
            );
            // roff escapes a hyphen as `\-`.
            let synopsis = format!("irsa {}", path.join(" ")).replace('-', "\\-");
            assert!(page.contains(&synopsis), "{}: synopsis", file.display());
            assert!(
                page.contains(&format!("\"irsa {}\"", env!("IRSA_VERSION"))),
                "{}: footer with irsa's version",
                file.display()
            );
        }
        assert_eq!(
            written.len(),
            paths.len() + 1,
            "one page per command and irsa.1"
        );
        assert!(!out.join("irsa-help.1").exists());
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").expect("write");
        let err = write_pages(&file, crate::Cli::command()).expect_err("a file is no directory");
        assert!(err.to_string().contains("--out"), "{err}");
        assert_eq!(err.code(), 1);
    }
}
