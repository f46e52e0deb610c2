//! One module per subcommand; each `run` reads as the stages it strings together.

pub mod rules;
pub mod template;
pub mod validate;
