//! One module per subcommand; each `run` reads as the stages it strings together.

pub mod export;
pub mod import;
pub mod rules;
pub mod store;
pub mod template;
pub mod validate;

/// Opens a store that must already exist: only `import` creates one. Reading or undoing a
/// store that is not there (a mistyped `--store`) says so, and leaves no empty store behind.
pub(crate) fn existing_store(path: &std::path::Path) -> anyhow::Result<crate::store::Store> {
    // A folder that cannot be looked into says so, rather than "no such store".
    let exists = path
        .try_exists()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !exists {
        anyhow::bail!("{}: no such store", path.display());
    }
    Ok(crate::store::Store::open(path)?)
}
