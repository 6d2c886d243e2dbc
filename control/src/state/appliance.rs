//! The appliance's own verbs: its ports, neighbours and counters, reloading the file, the
//! running configuration as TOML, and explaining frames.

use super::Host;
use crate::api::actions::*;
use crate::api::{Action, ApiError, Reply};
use crate::report::Report;

impl Action for DescribePorts {
    const NAME: &'static str = "DescribePorts";
    const ABOUT: &'static str = "The ports and their counters";
    type Reply = DescribePortsResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        Ok(DescribePortsResult { ports: host.report().ports })
    }
}

impl Action for DescribeNeighbors {
    const NAME: &'static str = "DescribeNeighbors";
    const ABOUT: &'static str = "Next hops resolved by ARP, and ARP's counters";
    type Reply = DescribeNeighborsResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        Ok(host.neighbours())
    }
}

impl Action for DescribeCounters {
    const NAME: &'static str = "DescribeCounters";
    const ABOUT: &'static str = "Every counter: ports, sessions by direction, workers, mempools";
    type Reply = Report;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        Ok(host.report())
    }
}

impl Action for ReloadConfiguration {
    const NAME: &'static str = "ReloadConfiguration";
    const ABOUT: &'static str = "Re-read the configuration file (as SIGHUP does), keeping the changes made through the API";
    type Reply = ReloadConfigurationResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        host.reload(Box::new(move |r| reply(r.map(|table| ReloadConfigurationResult { table }))));
    }
}

impl Action for ExportConfiguration {
    const NAME: &'static str = "ExportConfiguration";
    const ABOUT: &'static str = "The running configuration as TOML";
    type Reply = ExportConfigurationResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        let configuration = toml::to_string(&host.state().cfg).map_err(|e| ApiError::new("InternalError", e.to_string()))?;
        Ok(ExportConfigurationResult { configuration })
    }
}

/// Most frames one ExplainFrames request takes: `explain` sends a capture in such pieces.
pub const EXPLAIN_FRAMES: usize = 1000;

impl Action for ExplainFrames {
    const NAME: &'static str = "ExplainFrames";
    const ABOUT: &'static str = "What the running dataplane does with frames (given in hex) arriving on a port, and why";
    type Reply = ExplainFramesResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        if self.frames.len() > EXPLAIN_FRAMES {
            return Err(ApiError::invalid("Frames", format!("{} frames", self.frames.len()), format!("at most {EXPLAIN_FRAMES} in one request")));
        }
        let frames = self.frames.iter().enumerate().map(|(i, f)| crate::explain::frame_from_hex(&format!("Frames.{}", i + 1), f)).collect::<Result<Vec<_>, _>>()?;
        Ok(ExplainFramesResult { frames: host.explain(&self.port, &frames)? })
    }
}
