//! The notes a vendor put on cells of an XLSX workbook ("Call Jane about this id"), which
//! calamine does not read: `--annotate` writes them back with the batch, on their cells, so
//! that the workbook the admin returns keeps them (review: they were dropped).
//!
//! A cell's note and muster's findings on that cell share one note, the vendor's text first,
//! then [`MUSTER_MARK`] and muster's: read back from a workbook muster annotated, a note by
//! muster is left out, and a shared one is cut at the mark, so that annotating again does not
//! pile muster's text up.

use super::merged::{cell_a1, open_zip, relationships, sheet_parts};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::path::Path;

/// The author muster writes its own notes as (a note is told muster's by its text, though).
pub const MUSTER_AUTHOR: &str = "muster";

/// What separates a vendor's text from muster's in a note they share.
pub const MUSTER_MARK: &str = "\n\n— muster —\n";

/// A note on a cell: 0-based row and column, as the annotated workbook writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellNote {
    pub row: u32,
    pub col: u16,
    pub author: String,
    pub text: String,
}

/// The vendor notes of the sheets named in `names`, by sheet name (a sheet with none is left
/// out). Nothing when the workbook's parts cannot be followed: the notes are a courtesy, and
/// calamine reports a broken workbook.
pub fn xlsx_notes(path: &Path, names: &[String]) -> HashMap<String, Vec<CellNote>> {
    let mut notes = HashMap::new();
    let Some(mut zip) = open_zip(path) else {
        return notes;
    };
    let parts = sheet_parts(&mut zip);
    for name in names {
        let Some(part) = parts.get(name) else {
            continue;
        };
        let (folder, file) = part.rsplit_once("/").unwrap_or(("", part));
        let rels = relationships(&mut zip, &format!("{folder}/_rels/{file}.rels"));
        let Some((_, target)) = rels.values().find(|(kind, _)| kind.ends_with("/comments")) else {
            continue;
        };
        let comments = resolve(folder, target);
        let Ok(reader) = zip.by_name(&comments) else {
            continue;
        };
        let found = read_comments(std::io::BufReader::new(reader));
        if !found.is_empty() {
            notes.insert(name.clone(), found);
        }
    }
    notes
}

/// A relationship's target from the folder of the part it belongs to: absolute (`/xl/…`) or
/// relative (`../comments1.xml`).
fn resolve(folder: &str, target: &str) -> String {
    if let Some(absolute) = target.strip_prefix("/") {
        return absolute.to_string();
    }
    let mut path: Vec<&str> = folder.split("/").filter(|p| !p.is_empty()).collect();
    for piece in target.split("/") {
        match piece {
            ".." => {
                path.pop();
            }
            "." | "" => {}
            piece => path.push(piece),
        }
    }
    path.join("/")
}

/// A comments part's notes, muster's own left out and a shared one cut at [`MUSTER_MARK`].
fn read_comments(source: impl std::io::BufRead) -> Vec<CellNote> {
    let mut xml = quick_xml::Reader::from_reader(source);
    let mut buf = Vec::new();
    let mut authors: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    // The note being read: its cell and author, and its text so far.
    let mut note: Option<(u32, u16, usize)> = None;
    let mut text = String::new();
    let (mut in_author, mut in_text, mut in_phonetic) = (false, false, false);
    while let Ok(event) = xml.read_event_into(&mut buf) {
        match event {
            Event::Start(ref e) => match e.local_name().as_ref() {
                "author" => {
                    in_author = true;
                    authors.push(String::new());
                }
                "comment" => {
                    let attr = |key: &str| {
                        (e.attributes().flatten())
                            .find(|a| a.key.as_ref() == key)
                            .map(|a| a.value.into_owned())
                    };
                    let cell = attr("ref").as_deref().and_then(cell_a1);
                    let author = attr("authorId").and_then(|a| a.parse().ok()).unwrap_or(0);
                    note = cell
                        .and_then(|(row, col)| Some((row - 1, u16::try_from(col).ok()?, author)));
                    text.clear();
                }
                "t" => in_text = true,
                // A run of phonetic guide text (Japanese furigana) is not the note's.
                "rPh" => in_phonetic = true,
                _ => {}
            },
            // An author with no name (`<author/>`) still takes its place in the list (review:
            // the names after it moved up one, and a note went to `muster`).
            Event::Empty(ref e) if e.local_name().as_ref() == "author" => {
                authors.push(String::new());
            }
            Event::Text(ref t) if in_author => {
                if let Some(last) = authors.last_mut() {
                    last.push_str(t);
                }
            }
            Event::Text(ref t) if in_text && !in_phonetic && note.is_some() => {
                text.push_str(t);
            }
            Event::GeneralRef(ref r) if (in_text && !in_phonetic) || in_author => {
                let entity = entity(r);
                if !in_author {
                    text.push_str(&entity);
                } else if let Some(author) = authors.last_mut() {
                    author.push_str(&entity);
                }
            }
            Event::End(ref e) => match e.local_name().as_ref() {
                "author" => in_author = false,
                "t" => in_text = false,
                "rPh" => in_phonetic = false,
                "comment" => {
                    if let Some((row, col, author)) = note.take() {
                        let author = authors.get(author).cloned().unwrap_or_default();
                        notes.extend(vendor_note(row, col, author, &text));
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    notes
}

/// The text an entity reference in a note stands for (`&amp;`, `&#10;`); nothing for another.
pub(super) fn entity(r: &quick_xml::events::BytesRef) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match r.as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    }
    .to_string()
}

/// The vendor's part of a note as read: cut at [`MUSTER_MARK`], without the author's name
/// Excel and rust_xlsxwriter start it with (written again, the note gets it again); `None` for
/// muster's own note, or nothing.
pub(super) fn vendor_note(row: u32, col: u16, author: String, text: &str) -> Option<CellNote> {
    let own = match text.find(MUSTER_MARK) {
        Some(at) => &text[..at],
        None => text,
    };
    let own = (own.strip_prefix(author.as_str()))
        .and_then(|t| t.strip_prefix(':'))
        .map_or(own, |t| t.strip_prefix('\n').unwrap_or(t));
    (!musters_own(own) && !own.trim().is_empty()).then(|| CellNote {
        row,
        col,
        author,
        text: own.replace("\r\n", "\n"),
    })
}

/// Whether a note's text, its author's prefix gone, is muster's own: its findings, the first
/// `V002 (error): …`, behind `muster:` when a spreadsheet kept that prefix as text (LibreOffice
/// writes every author as a space). Not the author alone: a vendor's colleague may be called
/// muster (review).
fn musters_own(text: &str) -> bool {
    let text = (text.strip_prefix("muster:")).map_or(text, |t| t.trim_start_matches(['\n', '\r']));
    let b = text.as_bytes();
    b.len() > 6
        && b[0].is_ascii_uppercase()
        && b[1..4].iter().all(u8::is_ascii_digit)
        && text[4..].starts_with(" (")
        && ["error): ", "warning): ", "info): "]
            .iter()
            .any(|s| text[6..].starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_from_the_sheets_folder() {
        assert_eq!(
            resolve("xl/worksheets", "../comments1.xml"),
            "xl/comments1.xml"
        );
        assert_eq!(
            resolve("xl/worksheets", "/xl/comments/c.xml"),
            "xl/comments/c.xml"
        );
        assert_eq!(resolve("xl/worksheets", "c.xml"), "xl/worksheets/c.xml");
    }

    #[test]
    fn a_vendors_notes_without_musters() {
        let xml = format!(
            r#"<comments><authors><author>Jane &amp; Co</author><author>muster</author><author> </author><author/></authors><commentList>
            <comment ref="B3" authorId="0"><text><r><rPr><b/></rPr><t>Jane &amp; Co:</t></r><r><t xml:space="preserve">&#10;Jane: call &lt;her&gt;</t></r><rPh><t>ジェーン</t></rPh></text></comment>
            <comment ref="C4" authorId="1"><text><t>muster:&#10;V002 (error): muster's own</t></text></comment>
            <comment ref="C5" authorId="2"><text><t xml:space="preserve"> :&#10;muster:&#10;N010 (info): muster's, saved by LibreOffice</t></text></comment>
            <comment ref="C6" authorId="1"><text><t>muster:&#10;a colleague called muster&#13;&#10;wrote this</t></text></comment>
            <comment ref="C7" authorId="3"><text><t>after a nameless author</t></text></comment>
            <comment ref="AA10" authorId="0"><text><t>kept{}V001 (error): cut</t></text></comment>
            </commentList></comments>"#,
            MUSTER_MARK.replace('\n', "&#10;")
        );
        let notes = read_comments(xml.as_bytes());
        let got: Vec<(u32, u16, &str, &str)> = notes
            .iter()
            .map(|n| (n.row, n.col, n.author.as_str(), n.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, 1, "Jane & Co", "Jane: call <her>"),
                (5, 2, "muster", "a colleague called muster\nwrote this"),
                (6, 2, "", "after a nameless author"),
                (9, 26, "Jane & Co", "kept")
            ]
        );
    }
}
