//! The `traffic-mirror` command.

use clap::{CommandFactory, Parser, Subcommand};
use control::api::actions::ExportConfiguration;
use control::api::socket::socket_path;
use control::api::Client;
use control::boot::{run, RunOptions};
use control::cli_docs::{self, Shell};
use control::config::{Config, Mac};
use control::ctl::{ctl, CtlArgs};
use control::explain::{explain_frames, Against};
use control::import::{import, key_value, target_addresses, ImportOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// AWS VPC Traffic Mirroring on your own appliance: a DPDK dataplane that forwards traffic
/// between the two ports of each link untouched, and sends VXLAN-encapsulated copies of the
/// frames its filters select to collectors (Suricata, Zeek, a packet recorder, Wireshark).
///
/// Network interfaces, targets, filters and sessions work as in AWS, and so does the API: see
/// config/default.toml for a commented example (the Debian package installs one as
/// /etc/traffic-mirror/traffic-mirror.toml) and README.md for the details.
#[derive(Parser)]
#[command(name = "traffic-mirror", version, about = "AWS VPC Traffic Mirroring on your own appliance: a DPDK dataplane", long_about)]
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
        /// Benchmark only (tm-bench's floors; hidden): the workers run a floor instead of the
        /// product's loop: touch (read one byte of each frame and forward it) or copy:LEN,
        /// copy:whole, copy:LEN/EVERY (forward each frame and copy it, or every EVERY-th, out
        /// of the first port with an ipv4, behind fixed outer headers). Nothing is mirrored.
        #[arg(long, value_name = "FLOOR", hide = true)]
        bench_floor: Option<dataplane::worker::floor::Floor>,
        /// Extra DPDK EAL arguments.
        #[arg(last = true, value_name = "EAL ARGS")]
        eal: Vec<String>,
    },
    /// Check a configuration file and print what it defines; exits 2 with every problem found
    /// (file:line: item: key = value: reason) if it is invalid.
    Validate {
        /// Configuration file (TOML).
        #[arg(value_name = "FILE")]
        config: PathBuf,
    },
    /// Change and inspect a running traffic-mirror through its control API, with the AWS CLI's
    /// verbs and flags: create-traffic-mirror-session, describe-traffic-mirror-filters, ...,
    /// and the appliance's own (create-network-interface, stats, reload). `ctl --help` lists
    /// them all.
    ///
    /// A change is validated whole, written to disk and applied to the running dataplane at
    /// once, without dropping traffic; a refused change leaves everything as it was and says
    /// why (exit status 255, as the AWS CLI's).
    Ctl(CtlArgs),
    /// Write the running configuration as TOML (the file holds it too, shortly after each
    /// change).
    Export {
        /// Control socket (default: the one --config names, else /run/traffic-mirror.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Read the control socket's path from this configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Write to FILE instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show what traffic-mirror does with frames, and why: for each frame, which sources see it in
    /// which direction, the sessions each tries in order and the rule of which filter decided
    /// (or that none matched), why it is never mirrored when it is not, and each copy's VNI,
    /// length and outer UDP ports.
    ///
    /// The answer is the workers' own: the frames go through the dataplane's decision on a
    /// table compiled from --config (as `run` compiles it; the ports' MACs from the file or
    /// zeros, next hops found by ARP shown as 00:00:00:00:00:00), or on the table in force in
    /// the traffic-mirror at --socket. Nothing is sent and no counter moves.
    #[command(group(clap::ArgGroup::new("against").required(true).args(["config", "socket"])))]
    #[command(group(clap::ArgGroup::new("frames").required(true).args(["pcap", "hex"])))]
    Explain {
        /// Explain against this configuration file (and its journal): no DPDK needed.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Explain against a running traffic-mirror, through its control socket.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// The frames of this capture (pcap), as they arrive on --port.
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// One frame in hex, from its first Ethernet byte (spaces and colons allowed).
        #[arg(long, value_name = "HEX")]
        hex: Option<String>,
        /// The port the frames arrive on (a [[port]] name).
        #[arg(long, value_name = "NAME")]
        port: String,
        /// Print JSON (a list of frames, with each copy's bytes) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Turn the JSON of `aws ec2 describe-traffic-mirror-targets`, `-filters`,
    /// `-filter-rules`, `-sessions` (and optionally `describe-network-interfaces`) into a
    /// configuration for this appliance.
    ///
    /// The ports, links and [dataplane] come from --base; AWS's ids, tags and owner are kept;
    /// each ENI becomes a [[network_interface]]: a session's source on a port (with its MAC and
    /// primary address when describe-network-interfaces output is given), a target's collector
    /// on the mirror port.
    ImportAws {
        /// describe-* JSON files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Configuration with the appliance's ports and links.
        #[arg(long, value_name = "FILE")]
        base: PathBuf,
        /// Bind an ENI to a port: ENI=PORT (repeatable).
        #[arg(long = "port", value_name = "ENI=PORT", value_parser = key_value)]
        bind: Vec<(String, String)>,
        /// Port for ENIs not bound with --port (default: the first port of the first link).
        #[arg(long, value_name = "PORT")]
        default_port: Option<String>,
        /// A target's collector address(es): TMT=IP[,IP...] (repeatable). Needed for load
        /// balancers, and for ENI targets without describe-network-interfaces output.
        #[arg(long = "target-address", value_name = "TMT=IPS", value_parser = target_addresses)]
        target_addresses: Vec<(String, Vec<std::net::IpAddr>)>,
        /// MAC of the next hop towards collectors whose own MAC the JSON does not give...
        #[arg(long, value_name = "MAC")]
        next_hop_mac: Option<Mac>,
        /// ...or its address, resolved on the mirror port by ARP (IPv4) or Neighbor Discovery
        /// (IPv6).
        #[arg(long, value_name = "IP", conflicts_with = "next_hop_mac")]
        next_hop: Option<std::net::IpAddr>,
        /// Port the copies leave by (default: the first port in no link).
        #[arg(long, value_name = "PORT")]
        mirror_port: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the completion script for SHELL on standard output: every command, ctl verb and
    /// flag.
    ///
    /// Try it in the current bash with `source <(traffic-mirror completions bash)`. The Debian
    /// package installs the scripts for bash, zsh and fish where those shells look for them.
    Completions {
        /// The shell to complete for.
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
    /// Write the man pages (one per command and one per ctl verb, in roff) into DIR and print
    /// their paths; scripts/package.sh makes the package's with it.
    #[command(hide = true)]
    Manpage {
        /// Folder to write the pages into (created if missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

/// Prints `e` and turns it into exit code 2.
fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("traffic-mirror: {e}");
    ExitCode::from(2)
}

/// Writes `text` to `output`, or standard output.
fn emit(text: &str, output: Option<&std::path::Path>) -> ExitCode {
    match output {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format_args!("writing {}: {e}", path.display())),
        },
        // A reader that goes away early (`| head`) is not an error: stop writing quietly.
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => fail(format_args!("writing standard output: {e}")),
            _ => ExitCode::SUCCESS,
        },
    }
}

fn main() -> ExitCode {
    // Before anything else: a SIGHUP (a reload asked for by systemd, say) during start-up must
    // never end the process. The handlers queue it; the control loop reloads once it runs.
    let signals = match std::env::args().nth(1).as_deref() {
        Some("run") => match control::boot::signals::install() {
            Ok(s) => Some(s),
            Err(e) => return fail(format_args!("{e:#}")),
        },
        _ => None,
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .format_target(false)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, exit_on_idle, stats_json, bench_floor, eal } => {
            let opts = RunOptions {
                config,
                exit_on_idle: exit_on_idle.map(Duration::from_millis),
                stats_json,
                eal_extra: eal,
                signals: signals.expect("installed for run"),
                bench_floor,
            };
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
                    "{}: valid: {} ports, {} links, {} network interfaces, {} load balancers, {} gateway load balancer endpoints, {} targets, {} filters, {} sessions",
                    config.display(),
                    c.ports.len(),
                    c.links.len(),
                    c.network_interfaces.len(),
                    c.load_balancers.len(),
                    c.gateway_load_balancer_endpoints.len(),
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
        Command::Ctl(args) => ExitCode::from(ctl(&args.args)),
        Command::Export { socket, config, output } => {
            let reply = socket_path(socket.as_deref(), config.as_deref()).and_then(|p| Client::connect(&p)).and_then(|mut c| c.call(&ExportConfiguration {}));
            match reply {
                Ok(Ok(v)) => emit(&v.configuration, output.as_deref()),
                Ok(Err(e)) => fail(e),
                Err(e) => fail(format_args!("{e:#}")),
            }
        }
        Command::ImportAws { files, base, bind, default_port, target_addresses, next_hop_mac, next_hop, mirror_port, output } => {
            let opts = ImportOptions { files, base, bind, default_port, target_addresses, next_hop_mac, next_hop, mirror_port };
            match import(&opts).and_then(|i| {
                for w in &i.warnings {
                    eprintln!("traffic-mirror: warning: {w}");
                }
                Ok(toml::to_string(&i.config)?)
            }) {
                Ok(text) => {
                    let names: Vec<String> = opts.files.iter().map(|f| f.display().to_string()).collect();
                    emit(&format!("# Imported by traffic-mirror import-aws from {}\n\n{text}", names.join(", ")), output.as_deref())
                }
                Err(e) => fail(format_args!("{e:#}")),
            }
        }
        Command::Explain { config, socket, pcap, hex, port, json } => {
            let frames = match (&pcap, &hex) {
                (Some(path), _) => control::explain::read_pcap(path),
                (None, Some(text)) => control::explain::frame_from_hex("--hex", text).map(|f| vec![f]).map_err(|e| anyhow::anyhow!("{}", e.message)),
                (None, None) => unreachable!("clap requires --pcap or --hex"),
            };
            let against = match (&config, &socket) {
                (Some(c), _) => Against::Config(c),
                (None, Some(s)) => Against::Socket(s),
                (None, None) => unreachable!("clap requires --config or --socket"),
            };
            match frames.and_then(|f| explain_frames(against, &port, &f)) {
                Ok(e) if json => emit(&(serde_json::to_string_pretty(&e).expect("explanations serialise") + "\n"), None),
                Ok(e) => emit(&control::explain::render(&e), None),
                Err(e) => fail(format_args!("{e:#}")),
            }
        }
        Command::Completions { shell } => emit(&cli_docs::completions(Cli::command(), shell), None),
        Command::Manpage { out } => match cli_docs::man_pages(Cli::command(), &out) {
            Ok(pages) => emit(&pages.iter().map(|p| format!("{}\n", p.display())).collect::<String>(), None),
            Err(e) => fail(format_args!("{e:#}")),
        },
    }
}
