//! The `traffic-mirror` command.

use clap::{Parser, Subcommand};
use control::config::Config;
use control::run::{run, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// AWS VPC Traffic Mirroring on your own appliance: a DPDK dataplane that forwards traffic
/// between the two ports of each link untouched, and sends VXLAN-encapsulated copies of the
/// frames its filters select to collectors (Suricata, Zeek, a packet recorder, Wireshark).
///
/// Sources, targets, filters and sessions work as in AWS: see config/default.toml for a
/// commented example and README.md for the details.
#[derive(Parser)]
#[command(name = "traffic-mirror", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the dataplane until Ctrl-C or SIGTERM, then print a summary of the counters.
    ///
    /// DPDK (EAL) arguments come from [dataplane] eal_args in the config; arguments after `--`
    /// are added to them, e.g. `-- --file-prefix lab1`. Each [[port]] device is added as
    /// `--vdev` (or `-a` for a PCI address).
    Run {
        /// Configuration file (TOML).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Stop once no port has received a frame for MS milliseconds (for finite inputs such
        /// as pcap files).
        #[arg(long, value_name = "MS")]
        exit_on_idle: Option<u64>,
        /// Also write the final counters as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        stats_json: Option<PathBuf>,
        /// Extra DPDK EAL arguments.
        #[arg(last = true, value_name = "EAL ARGS")]
        eal: Vec<String>,
    },
    /// Check a configuration file and print what it defines; exits non-zero with every problem
    /// found (file:line: message) if it is invalid.
    Validate {
        /// Configuration file (TOML).
        #[arg(value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .format_target(false)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, exit_on_idle, stats_json, eal } => {
            let opts = RunOptions { config, exit_on_idle: exit_on_idle.map(Duration::from_millis), stats_json, eal_extra: eal };
            match run(opts) {
                Ok(code) => ExitCode::from(code as u8),
                Err(e) => {
                    eprintln!("traffic-mirror: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Validate { config } => match Config::load(&config) {
            Ok(c) => {
                println!(
                    "{}: valid: {} ports, {} links, {} sources, {} targets, {} filters, {} sessions",
                    config.display(),
                    c.ports.len(),
                    c.links.len(),
                    c.sources.len(),
                    c.targets.len(),
                    c.filters.len(),
                    c.sessions.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}
