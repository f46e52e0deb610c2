//! `muster rules [CODE] [--markdown]`.

use crate::cli::RulesArgs;
use crate::rules::{markdown, Rule};
use crate::ExitStatus;
use anyhow::bail;

pub fn run(args: &RulesArgs) -> anyhow::Result<ExitStatus> {
    if args.markdown {
        out!("{}", markdown())?;
    } else if let Some(code) = &args.code {
        let Some(rule) = Rule::lookup(code) else {
            bail!("unknown rule `{code}` (see `muster rules`)");
        };
        out!("{}", rule.explain())?;
    } else {
        for r in Rule::ALL {
            outln!(
                "{}  {:<7}  {:<28} {}",
                r.code(),
                r.default_severity().as_str(),
                r.name(),
                r.summary()
            )?;
        }
    }
    Ok(ExitStatus::Success)
}
