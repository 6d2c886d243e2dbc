//! The command line, documented: shell completions (`clap_complete`) and man pages
//! (`clap_mangen`), both made from the `clap::Command` that parses it, so they cannot drift
//! from what the binary accepts.
//!
//! `ctl`'s verbs and flags are made at run time from the action table ([`crate::ctl::command`]),
//! not by clap's derive: the binary parses `ctl` as a passthrough and hands its arguments on.
//! Completions and man pages are made from the binary's derived command with that passthrough
//! replaced by the full `ctl` command ([`command`]), so they know every verb and every flag.

use anyhow::{Context, Result};
use clap::Command;
use std::path::{Path, PathBuf};

pub use clap_complete::Shell;

/// `cli` (the binary's derived command) with its passthrough `ctl` replaced by the full one.
pub fn command(cli: Command) -> Command {
    assert!(cli.find_subcommand("ctl").is_some(), "the command line has a ctl subcommand to document");
    cli.mut_subcommand("ctl", |_| crate::ctl::command())
}

/// The completion script of `cli` for `shell`, for the binary named as `cli` is.
pub fn completions(cli: Command, shell: Shell) -> String {
    let mut cmd = command(cli);
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    String::from_utf8(script).expect("completion scripts are UTF-8")
}

/// Writes one man page per command into `dir` (created if missing): `NAME.1`, `NAME-run.1`,
/// ..., `NAME-ctl.1` and `NAME-ctl-VERB.1` for every ctl verb, each listing its flags. Hidden
/// commands and clap's `help` subcommands get none. Returns the paths written.
pub fn man_pages(cli: Command, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = without_help_subcommands(command(cli));
    // Gives every subcommand its display name (`traffic-mirror-ctl-stats`): the page's name.
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    Ok(written)
}

fn write_pages(cmd: &Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    written.push(man.generate_to(dir).with_context(|| format!("writing {}", path.display()))?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

/// `cmd` without clap's implicit `help` subcommand at any level: a page of its own would only
/// say what `--help` says.
fn without_help_subcommands(cmd: Command) -> Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    names.iter().fold(cmd.disable_help_subcommand(true), |cmd, name| cmd.mut_subcommand(name, without_help_subcommands))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    /// A stand-in for the binary's derived command: a passthrough `ctl` and one hidden command.
    fn cli() -> Command {
        Command::new("traffic-mirror")
            .subcommand(Command::new("validate").about("Check a file").arg(Arg::new("config").value_name("FILE")))
            .subcommand(Command::new("ctl").about("passthrough").arg(Arg::new("args").num_args(0..).trailing_var_arg(true)))
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn the_documented_ctl_is_the_full_one_with_every_verb() {
        let cmd = command(cli());
        let ctl = cmd.find_subcommand("ctl").expect("ctl is kept");
        let verbs: Vec<&str> = ctl.get_subcommands().map(Command::get_name).collect();
        assert!(verbs.contains(&"create-traffic-mirror-session") && verbs.contains(&"stats"), "{verbs:?}");
        assert_eq!(verbs.len(), crate::ctl::command().get_subcommands().count());
    }

    #[test]
    fn completions_name_ctl_verbs_and_their_flags_in_every_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Elvish, Shell::PowerShell] {
            let script = completions(cli(), shell);
            // Flags without their dashes: fish spells them `-l session-number`.
            for word in ["validate", "create-traffic-mirror-session", "traffic-mirror-filter-id", "session-number"] {
                assert!(script.contains(word), "{shell} completions lack {word}");
            }
        }
    }

    #[test]
    fn man_pages_are_one_per_visible_command_and_ctl_verb() {
        let dir = tempfile::tempdir().unwrap();
        let written = man_pages(cli(), dir.path()).unwrap();
        let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        let verbs = crate::ctl::command().get_subcommands().count();
        assert_eq!(names.len(), 3 + verbs, "the root, validate, ctl and a page per verb: {names:?}");
        for name in ["traffic-mirror.1", "traffic-mirror-validate.1", "traffic-mirror-ctl.1", "traffic-mirror-ctl-create-traffic-mirror-session.1"] {
            assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("help") || n.contains("secret")), "{names:?}");
        let session = std::fs::read_to_string(dir.path().join("traffic-mirror-ctl-create-traffic-mirror-session.1")).unwrap();
        // roff escapes the flags' hyphens.
        assert!(session.contains(r"\-\-traffic\-mirror\-filter\-id"), "{session}");
        let ctl = std::fs::read_to_string(dir.path().join("traffic-mirror-ctl.1")).unwrap();
        assert!(ctl.contains(r"traffic\-mirror\-ctl\-describe\-traffic\-mirror\-sessions(1)"), "ctl's page points at each verb's: {ctl}");
    }
}
