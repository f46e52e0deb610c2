//! Pure value checks, one module per family, each with its own table of good and bad values.

pub mod email;
pub mod ids;
pub mod values;

/// Case- and accent-folds text: NFKD without combining marks, lower-cased, `ß` as `ss`.
pub fn fold_accents(s: &str) -> String {
    use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    // Compatibility forms too: full-width letters (`Ｊａｎｅ`) and ligatures are their plain
    // letters; `ß` is `ss`, as `STRASSE` writes `Straße`.
    s.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .fold(String::with_capacity(s.len()), |mut out, c| {
            match c {
                'ß' => out.push_str("ss"),
                c => out.push(c),
            }
            out
        })
}

/// The candidate closest to `value` by Jaro-Winkler on folded forms, if at least 0.85.
pub fn did_you_mean<'a>(
    value: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '/'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let v = fold(value);
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&v, &fold(c))))
        .filter(|&(_, s)| s >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}
