//! `muster rules [CODE] [--markdown]`.

use crate::cli::RulesArgs;
use crate::rules::{markdown, Rule};
use crate::ExitStatus;
use anyhow::bail;

pub fn run(args: &RulesArgs) -> anyhow::Result<ExitStatus> {
    if args.markdown {
        print!("{}", markdown());
    } else if let Some(code) = &args.code {
        let Some(rule) = Rule::lookup(code) else {
            bail!("unknown rule `{code}` (see `muster rules`)");
        };
        print!("{}", rule.explain());
    } else {
        for r in Rule::ALL {
            println!(
                "{}  {:<7}  {:<28} {}",
                r.code(),
                r.default_severity().as_str(),
                r.name(),
                r.summary()
            );
        }
    }
    Ok(ExitStatus::Success)
}
