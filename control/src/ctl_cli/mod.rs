//! What `traffic-mirror ctl` borrows from the AWS CLI (v1) so that it reads and prints like
//! `aws ec2 ...`: the `--output json|text|table` formatters, a pure function of the reply
//! as a [`serde_json::Value`].

pub mod output;

mod east_asian_width;
mod py;
