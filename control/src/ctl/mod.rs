//! `traffic-mirror ctl`: the control API from the command line, with the AWS CLI's verbs and
//! flags. The verbs and their flags are made from the action table ([`crate::api::ACTIONS`]),
//! as the AWS CLI makes them from botocore's model: `CreateTrafficMirrorSession` is
//! `create-traffic-mirror-session`, member `NetworkInterfaceId` is `--network-interface-id`, a
//! boolean takes `--x`/`--no-x`, a list takes several values, a structure takes the CLI's
//! shorthand (`FromPort=22,ToPort=22`) or JSON, and the output is `--output json|text|table`.
//! An API error exits 255 and a usage error 2, as the AWS CLI's do. The output formats and the
//! shorthand syntax are ports of the AWS CLI's own (v1), checked byte for byte against its
//! Python code by the differential test.

mod args;
#[cfg(test)]
mod differential;
mod east_asian_width;
pub mod output;
mod py;
pub mod shorthand;
mod watch;

use crate::api::socket::socket_path;
use crate::api::{action, Client, ACTIONS};
use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;


/// `ctl`'s arguments, parsed by [`command`] (they depend on the action table).
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct CtlArgs {
    /// The verb and its flags (see `traffic-mirror ctl --help`).
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0.., value_name = "VERB AND FLAGS")]
    pub args: Vec<String>,
}

/// The exit code of a refused request, as the AWS CLI's.
pub const API_ERROR: u8 = 255;
/// The exit code of a usage error.
pub const USAGE_ERROR: u8 = 2;

/// The whole `ctl` command: global options and a verb per action.
pub fn command() -> Command {
    let mut cmd = Command::new("ctl")
        .about("Change and inspect a running traffic-mirror through its control API, with the AWS CLI's verbs and flags")
        .long_about(
            "Change and inspect a running traffic-mirror through its control API, with the AWS CLI's verbs and flags: \
             create-traffic-mirror-session, describe-traffic-mirror-filters, ... A change is validated whole, written to disk \
             and applied to the running dataplane at once, without dropping traffic; a refused change leaves everything as it \
             was and says why (exit status 255).",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .infer_long_args(true)
        .arg(Arg::new("socket").long("socket").global(true).value_name("PATH").value_parser(clap::value_parser!(PathBuf)).help("Control socket (default: the one --config names, else /run/traffic-mirror.sock)"))
        .arg(Arg::new("config").long("config").short('c').global(true).value_name("FILE").value_parser(clap::value_parser!(PathBuf)).help("Read the control socket's path from this configuration file"))
        .arg(
            Arg::new("output")
                .long("output")
                .global(true)
                .value_name("FORMAT")
                .value_parser(["json", "text", "table"])
                .help("The reply's format, as the AWS CLI prints it (default json)"),
        )
        .arg(Arg::new("json").long("json").global(true).action(ArgAction::SetTrue).hide(true).help("The same as --output json"));
    for e in ACTIONS {
        cmd = cmd.subcommand(args::verb(e));
    }
    cmd.subcommand(
        Command::new("stats")
            .about("The counters: ports, sessions by direction, workers, mempools (DescribeCounters, readable)")
            .arg(Arg::new("watch").long("watch").value_name("SECONDS").num_args(0..=1).default_missing_value("1").value_parser(clap::value_parser!(f64)).help("Refresh every SECONDS (default 1) until interrupted, with rates")),
    )
    .subcommand(Command::new("reload").about("Re-read the configuration file, as SIGHUP does (ReloadConfiguration)"))
}

/// Runs `ctl` with `argv` (its arguments after `ctl`); returns the exit status.
pub fn ctl(argv: &[String]) -> u8 {
    let matches = match command().no_binary_name(true).try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { USAGE_ERROR } else { 0 };
        }
    };
    match run(&matches) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("traffic-mirror: {e:#}");
            API_ERROR
        }
    }
}

fn run(m: &ArgMatches) -> Result<u8> {
    let path = socket_path(m.get_one::<PathBuf>("socket").map(PathBuf::as_path), m.get_one::<PathBuf>("config").map(PathBuf::as_path))?;
    let format = if m.get_flag("json") { "json" } else { m.get_one::<String>("output").map_or("json", String::as_str) };
    let (verb, sub) = m.subcommand().expect("a verb is required");
    let mut client = Client::connect(&path)?;
    let (name, input) = match verb {
        "stats" => {
            if let Some(every) = sub.get_one::<f64>("watch") {
                return watch::watch(&mut client, Duration::from_secs_f64(every.max(0.1)), format == "json");
            }
            let report = client.call(&crate::api::actions::DescribeCounters {})?;
            return Ok(match report {
                Ok(r) if m.get_one::<String>("output").is_none() && !m.get_flag("json") => {
                    print!("{}", r.text());
                    0
                }
                Ok(r) => print_reply("DescribeCounters", &serde_json::to_value(r)?, format),
                Err(e) => refused("DescribeCounters", &e),
            });
        }
        "reload" => ("ReloadConfiguration", Value::Object(Default::default())),
        _ => {
            let entry = ACTIONS.iter().find(|e| args::verb_name(e.name) == verb).expect("verbs come from the table");
            match args::input(entry, sub) {
                Ok(input) => (entry.name, input),
                Err(usage) => {
                    eprintln!("{usage}");
                    return Ok(USAGE_ERROR);
                }
            }
        }
    };
    let mut request = input;
    request.as_object_mut().expect("inputs are objects").insert("Action".into(), Value::String(name.into()));
    debug_assert!(action(name).is_some());
    Ok(match client.call_value(&request)? {
        Ok(reply) => print_reply(name, &reply, format),
        Err(e) => refused(name, &e),
    })
}

fn print_reply(action: &str, reply: &Value, format: &str) -> u8 {
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(output::DEFAULT_WIDTH);
    let text = match format {
        "text" => output::text(reply),
        "table" => output::table(action, reply, width),
        _ => output::json(reply),
    };
    print!("{text}");
    0
}

fn refused(action: &str, e: &crate::api::ApiError) -> u8 {
    eprintln!("\nAn error occurred ({}) when calling the {action} operation: {}", e.code, e.message);
    API_ERROR
}
