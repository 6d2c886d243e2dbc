//! The AWS CLI's output formats and shorthand syntax (placeholder until the port lands).
pub mod output;
pub mod shorthand;
