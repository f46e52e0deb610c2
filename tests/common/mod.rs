//! Helpers shared by the integration tests.
#![allow(dead_code)]

use assert_cmd::Command;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real binary, run from the repository root without a user's configuration or colours.
pub fn muster() -> Command {
    let mut cmd = Command::cargo_bin("muster").unwrap();
    cmd.current_dir(root())
        .env_remove("MUSTER_CONFIG")
        .env("NO_COLOR", "1");
    cmd
}

/// Reads a part of a workbook's zip.
pub fn part(xlsx: &Path, name: &str) -> Option<String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(xlsx).unwrap()).unwrap();
    let mut text = String::new();
    zip.by_name(name).ok()?.read_to_string(&mut text).unwrap();
    Some(text)
}

/// One sheet of a written workbook, from its XML: the fill colour of each styled cell, the cells
/// with a note, the hyperlinks, and whether panes are frozen and a filter is set.
#[derive(Debug, Default)]
pub struct SheetXml {
    pub fills: BTreeMap<String, String>,
    pub notes: BTreeSet<String>,
    pub links: Vec<(String, String)>,
    pub frozen: bool,
    pub filtered: bool,
    pub xml: String,
    /// Each written cell's font weight and number format id (`0`: General, `49`: Text).
    pub styles: BTreeMap<String, CellStyle>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CellStyle {
    pub bold: bool,
    pub num_format: u32,
}

pub fn sheets_xml(xlsx: &Path) -> BTreeMap<String, SheetXml> {
    let attr = |tag: &str, name: &str| {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)? + key.len();
        let len = tag[start..].find('"')?;
        Some(tag[start..start + len].to_string())
    };
    let tags = |xml: &str, tag: &str| -> Vec<String> {
        Regex::new(&format!(r"<{tag}\b[^>]*>"))
            .unwrap()
            .find_iter(xml)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    // Style index → fill colour.
    let styles = part(xlsx, "xl/styles.xml").unwrap();
    let fills_xml = &styles[styles.find("<fills").unwrap()..styles.find("</fills>").unwrap()];
    let fill_colours: Vec<Option<String>> = fills_xml
        .split("<fill>")
        .skip(1)
        .map(|f| tags(f, "fgColor").first().and_then(|t| attr(t, "rgb")))
        .collect();
    let xfs = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let style_fill: Vec<Option<String>> = tags(xfs, "xf")
        .iter()
        .map(|xf| {
            let id: usize = attr(xf, "fillId").unwrap().parse().unwrap();
            fill_colours[id].clone()
        })
        .collect();

    let fonts_xml = &styles[styles.find("<fonts").unwrap()..styles.find("</fonts>").unwrap()];
    let bold_fonts: Vec<bool> = fonts_xml
        .split("<font>")
        .skip(1)
        .map(|f| f.contains("<b/>"))
        .collect();
    let style_of: Vec<CellStyle> = tags(xfs, "xf")
        .iter()
        .map(|xf| CellStyle {
            bold: bold_fonts[attr(xf, "fontId").unwrap().parse::<usize>().unwrap()],
            num_format: attr(xf, "numFmtId").unwrap().parse().unwrap(),
        })
        .collect();

    let workbook = part(xlsx, "xl/workbook.xml").unwrap();
    let rels = part(xlsx, "xl/_rels/workbook.xml.rels").unwrap();
    let targets: HashMap<String, String> = tags(&rels, "Relationship")
        .iter()
        .map(|r| (attr(r, "Id").unwrap(), attr(r, "Target").unwrap()))
        .collect();
    let mut out = BTreeMap::new();
    for sheet in tags(&workbook, "sheet") {
        let name = attr(&sheet, "name").unwrap();
        let target = &targets[&attr(&sheet, "r:id").unwrap()];
        let path = format!("xl/{target}");
        let xml = part(xlsx, &path).unwrap();
        let mut s = SheetXml {
            frozen: xml.contains(r#"state="frozen""#),
            filtered: xml.contains("<autoFilter"),
            ..Default::default()
        };
        for c in tags(&xml, "c") {
            let style = attr(&c, "s").map_or(0, |s| s.parse::<usize>().unwrap());
            s.styles.insert(attr(&c, "r").unwrap(), style_of[style]);
            if let Some(colour) = &style_fill[style] {
                s.fills.insert(attr(&c, "r").unwrap(), colour.clone());
            }
        }
        let file = path.rsplit('/').next().unwrap();
        let sheet_rels = part(xlsx, &format!("xl/worksheets/_rels/{file}.rels"));
        let sheet_targets: HashMap<String, String> = sheet_rels
            .iter()
            .flat_map(|r| tags(r, "Relationship"))
            .map(|r| (attr(&r, "Id").unwrap(), attr(&r, "Target").unwrap()))
            .collect();
        for t in sheet_targets.values().filter(|t| t.contains("comments")) {
            let comments = part(xlsx, &format!("xl/{}", t.trim_start_matches("../"))).unwrap();
            s.notes = tags(&comments, "comment")
                .iter()
                .map(|c| attr(c, "ref").unwrap())
                .collect();
        }
        for link in tags(&xml, "hyperlink") {
            let target = attr(&link, "r:id")
                .map(|id| sheet_targets[&id].clone())
                .unwrap_or_default();
            s.links
                .push((target, attr(&link, "location").unwrap_or_default()));
        }
        s.xml = xml;
        out.insert(name, s);
    }
    out
}
