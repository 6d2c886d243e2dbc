//! What `traffic-mirror ctl` borrows from the AWS CLI (v1) so that it reads and prints like
//! `aws ec2 ...`: the `--output json|text|table` formatters and the shorthand syntax for
//! structure arguments (`--destination-port-range FromPort=22,ToPort=22`). Both are pure
//! functions over [`serde_json::Value`] (but for shorthand's `key@=file://path`, which reads
//! the file, as the CLI does), checked byte for byte against the CLI's own Python
//! code by the differential test in `differential.rs`.

pub mod output;
pub mod shorthand;

mod east_asian_width;
mod py;

#[cfg(test)]
mod differential;
