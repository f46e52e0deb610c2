//! A [`Finding`] is data, not an error: the eleven report fields of SPEC §5 in report order,
//! plus what muster needs internally to sort them and to decide which users are valid.

use crate::rules::Severity;
use serde::Serialize;

/// Who a finding makes invalid when it is an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Owner {
    /// A user row, by index in the validator's user list.
    User(usize),
    /// Every user with this record id (an ID-info row).
    Record(String),
    /// Every user read from this input, by its place among the inputs (an error about a whole
    /// file or column). A CSV directory is one input, as a workbook is: a broken ID file
    /// leaves none of its users valid, as a broken ID sheet does (SPEC §4).
    Input(usize),
    #[default]
    Nobody,
}

/// The report's fields, in order (SPEC §5): `Finding`'s serialized fields, and the CSV header.
pub const REPORT_FIELDS: [&str; 11] = [
    "severity",
    "code",
    "file",
    "sheet",
    "row",
    "column",
    "field",
    "record_id",
    "value",
    "message",
    "suggestion",
];

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub file: String,
    pub sheet: Option<String>,
    pub row: Option<u32>,
    pub column: Option<String>,
    pub field: Option<String>,
    pub record_id: Option<String>,
    pub value: Option<String>,
    pub message: String,
    pub suggestion: Option<String>,
    /// What the annotated workbook, which goes back to the batch's sender, says instead of
    /// `message` and `suggestion`: they name a user stored by another batch or the source
    /// directory's record id, which are not the sender's to see (privacy review: a vendor
    /// learnt another organisation's record ids). The report, the admin's, says all.
    #[serde(skip)]
    pub to_sender: Option<Box<SenderText>>,
    #[serde(skip)]
    pub owner: Owner,
    /// (file order, sheet order, row, column index): SPEC §5's report order.
    #[serde(skip)]
    pub position: (usize, usize, u32, usize),
}

/// A path's last part, `/` or `\\` the separator: what the batch's sender named the file.
pub fn file_name_only(path: &str) -> &str {
    path.rsplit(['/', '\\'])
        .find(|part| !part.is_empty())
        .unwrap_or(path)
}

/// A finding's message and suggestion as the batch's sender may read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderText {
    pub message: String,
    pub suggestion: Option<String>,
}

impl Finding {
    /// The message as the annotated workbook gives it (see [`Finding::to_sender`]).
    pub fn message_to_sender(&self) -> &str {
        self.to_sender
            .as_ref()
            .map_or(&self.message, |t| &t.message)
    }

    /// The file as the annotated workbook names it: its name, without the folders of the
    /// admin's machine (review: the Issues sheet showed `/home/admin/vendors/…`).
    pub fn file_to_sender(&self) -> &str {
        file_name_only(&self.file)
    }

    /// The suggestion as the annotated workbook gives it.
    pub fn suggestion_to_sender(&self) -> Option<&str> {
        match &self.to_sender {
            Some(t) => t.suggestion.as_deref(),
            None => self.suggestion.as_deref(),
        }
    }

    /// SPEC §5's order: file, sheet, row, column, code. A workbook's findings about the whole
    /// file (no sheet: F001, F007) come before those of its sheets.
    pub fn sort_key(&self) -> ((usize, bool, usize, u32, usize), &'static str) {
        let (file, sheet, row, column) = self.position;
        ((file, self.sheet.is_some(), sheet, row, column), self.code)
    }
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    #[test]
    fn column_letters() {
        assert_eq!(super::column_letter(0), "A");
        assert_eq!(super::column_letter(25), "Z");
        assert_eq!(super::column_letter(26), "AA");
        assert_eq!(super::column_letter(16383), "XFD");
    }
}
