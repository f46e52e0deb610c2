//! The floor the benchmark measures muster against: reading the same file with nothing else.
//!
//!     floor csv FILE    parse every record with the csv crate
//!     floor xlsx FILE   read every sheet with calamine

use calamine::{open_workbook_auto, Reader};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, path) = match args.as_slice() {
        [_, mode, path] => (mode.as_str(), path.as_str()),
        _ => anyhow::bail!("usage: floor csv|xlsx FILE"),
    };
    let mut cells = 0usize;
    match mode {
        "csv" => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_path(path)?;
            for record in reader.records() {
                cells += record?.len();
            }
        }
        "xlsx" => {
            let mut workbook = open_workbook_auto(path)?;
            for name in workbook.sheet_names() {
                let range = workbook.worksheet_range(&name)?;
                cells += range.cells().count();
            }
        }
        _ => anyhow::bail!("usage: floor csv|xlsx FILE"),
    }
    println!("{cells} cells");
    Ok(())
}
