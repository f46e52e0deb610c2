//! One module per subcommand; each `run` reads as the stages it strings together.

pub mod export;
pub mod import;
pub mod rules;
pub mod store;
pub mod template;
pub mod validate;
