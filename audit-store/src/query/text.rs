//! Free-text search: the text each event is searchable by, and the terms a
//! search is split into.
//!
//! Both backends match substrings of one lowercased document per event
//! (FTS5's trigram index on SQLite, `pg_trgm` on PostgreSQL). Lowercasing
//! happens here, in Rust, for the document and the terms alike, so the two
//! backends fold case identically, Unicode included.

use audit_core::Event;

use super::QueryError;

/// At most this many characters in a search.
pub(crate) const MAX_TEXT_CHARS: usize = 200;
/// At most this many terms in a search.
pub(crate) const MAX_TERMS: usize = 8;

/// The lowercased text an event is found by: its description, the actor's
/// id, email and name, and every target's type, id and name, one per line.
/// Stored strings are sanitised (no raw control characters), so a line break
/// never occurs inside a part and no search term spans two parts.
pub(crate) fn search_text(event: &Event) -> String {
    let actor = event.actor();
    let mut parts: Vec<&str> = Vec::with_capacity(4 + 3 * event.targets().len());
    // Sealed personal values stay out: the search text must hold no
    // plaintext an erasure could not reach, and their ciphertext is
    // nothing anyone searches for.
    let readable = |text: &&str| !crate::personal::is_sealed(text);
    parts.extend(event.description().filter(readable));
    parts.push(&actor.id);
    parts.extend(actor.email.as_deref().filter(readable));
    parts.extend(actor.name.as_deref().filter(readable));
    for target in event.target().into_iter().chain(event.targets()) {
        parts.push(&target.target_type);
        parts.push(&target.id);
        parts.extend(target.name.as_deref().filter(readable));
    }
    parts.join("\n").to_lowercase()
}

/// Splits a search into lowercased terms, each of which must occur: words
/// separated by whitespace, or `"quoted phrases"` kept whole.
///
/// Empty (or all-whitespace) text gives no terms, i.e. no text filter.
pub(crate) fn terms(text: &str) -> Result<Vec<String>, QueryError> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(QueryError::new(
            "q",
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    let lowered = text.to_lowercase();
    let mut terms = Vec::new();
    let mut rest = lowered.trim_start();
    while !rest.is_empty() {
        let (term, after) = match rest.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((phrase, after)) => (phrase, after),
                None => return Err(QueryError::new("q", "has an opening `\"` without a closing one")),
            },
            None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
        };
        if !term.trim().is_empty() && !terms.iter().any(|t| t == term) {
            terms.push(term.to_owned());
        }
        rest = after.trim_start();
    }
    if terms.len() > MAX_TERMS {
        return Err(QueryError::new(
            "q",
            format!("has {} terms; at most {MAX_TERMS} are allowed", terms.len()),
        ));
    }
    Ok(terms)
}

#[cfg(feature = "sqlite")]
/// `term` as a SQLite GLOB pattern matching any text that contains it: each
/// metacharacter is wrapped in brackets. GLOB, unlike LIKE, is
/// case-sensitive, as the lowercased text and terms need.
pub(crate) fn glob_contains(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 8);
    pattern.push('*');
    for c in term.chars() {
        match c {
            '*' | '?' | '[' => {
                pattern.push('[');
                pattern.push(c);
                pattern.push(']');
            }
            _ => pattern.push(c),
        }
    }
    pattern.push('*');
    pattern
}

#[cfg(feature = "sqlite")]
/// The distinct trigrams (runs of three characters) of `terms`, the tokens
/// of SQLite's search index. A term shorter than three characters has none.
pub(crate) fn trigrams(terms: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in terms {
        let chars: Vec<char> = term.chars().collect();
        for window in chars.windows(3) {
            let trigram: String = window.iter().collect();
            if !out.contains(&trigram) {
                out.push(trigram);
            }
        }
    }
    out
}

#[cfg(feature = "sqlite")]
/// An FTS5 `MATCH` expression listing the rows that contain every one of
/// `trigrams`: each a quoted string (a `"` doubled), so no character of a
/// term is FTS5 syntax.
pub(crate) fn fts_match<S: AsRef<str>>(trigrams: &[S]) -> String {
    let quoted: Vec<String> = trigrams
        .iter()
        .map(|trigram| format!("\"{}\"", trigram.as_ref().replace('"', "\"\"")))
        .collect();
    quoted.join(" AND ")
}

#[cfg(feature = "postgres")]
/// `term` as a PostgreSQL LIKE pattern (default escape `\`) matching any text
/// that contains it.
pub(crate) fn like_contains(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 8);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quoted_phrases_become_lowercased_terms() {
        assert_eq!(terms("  Alice  DELETED ").unwrap(), ["alice", "deleted"]);
        assert_eq!(
            terms(r#"acme "Billing Plan" x"#).unwrap(),
            ["acme", "billing plan", "x"]
        );
        assert_eq!(terms("ÉCOLE").unwrap(), ["école"]);
        assert_eq!(terms("a a A").unwrap(), ["a"]);
        assert!(terms("   ").unwrap().is_empty());
        assert!(terms(r#""""#).unwrap().is_empty());
    }

    #[test]
    fn hostile_searches_are_refused_with_the_reason() {
        let error = terms(r#"say "hi"#).unwrap_err();
        assert_eq!(error.parameter(), "q");
        assert!(error.to_string().contains("closing"), "{error}");
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(terms(&long).unwrap_err().to_string().contains("longer than 200"));
        let many = "a b c d e f g h i";
        assert!(terms(many).unwrap_err().to_string().contains("9 terms"));
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn metacharacters_are_literal_in_glob_patterns() {
        assert_eq!(glob_contains("50%*[x]?"), "*50%[*][[]x][?]*");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn trigrams_are_distinct_and_quoted_for_fts5() {
        let terms = vec!["abcd".to_owned(), "x\"yz".to_owned(), "ab".to_owned(), "bcd".to_owned()];
        let trigrams = trigrams(&terms);
        assert_eq!(trigrams, ["abc", "bcd", "x\"y", "\"yz"]);
        assert_eq!(fts_match(&trigrams), r#""abc" AND "bcd" AND "x""y" AND """yz""#);
        assert!(super::trigrams(&["ab".to_owned(), "é".to_owned()]).is_empty());
        assert_eq!(super::trigrams(&["ærø".to_owned()]), ["ærø"]);
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn metacharacters_are_literal_in_like_patterns() {
        assert_eq!(like_contains(r"50%_a\b*"), r"%50\%\_a\\b*%");
    }
}
