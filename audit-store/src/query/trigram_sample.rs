//! Which trigrams of a search are rare, estimated from a sample of stored
//! search texts: PostgreSQL's side of choosing what its trigram index is
//! asked for (SQLite counts through its own search index instead).
//!
//! `pg_trgm` answers `search_text LIKE '%alice%'` by reading the index
//! entries of every trigram of `alice` and intersecting them. A common
//! trigram's entries run to tens of thousands of rows and reading them is
//! what made a search slow (15 ms of a 25 ms search on 1M events), while
//! the rarest trigram of each term alone narrows the rows almost as much.
//! So the store asks the index for each term's rarest trigram only, and
//! checks the whole terms on the rows it lists. The ranking comes from how
//! many of ~1,000 sampled rows hold each trigram; it only decides speed:
//! the terms are always checked in full, so answers never depend on it.

use std::collections::{HashMap, HashSet};

/// Trigram document frequencies in a sample of `search_text` values.
#[derive(Debug, Default)]
pub(crate) struct TrigramSample {
    /// How many sampled texts hold each trigram.
    counts: HashMap<[u8; 3], u32>,
    /// How many texts were sampled.
    rows: u32,
}

/// The trigrams to ask the index for, one per term that has any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Narrowing {
    /// Distinct, each three ASCII letters or digits.
    pub(crate) trigrams: Vec<String>,
    /// Whether some chosen trigram is in no sampled row: its rows are few,
    /// so the index lists them faster than a scan of the newest rows finds
    /// a page.
    pub(crate) rare: bool,
}

/// The trigrams `pg_trgm` indexes that a term's own runs of three
/// characters can be: three ASCII letters or digits. `pg_trgm` splits text
/// into words of letters and digits, so a run holding any other character
/// is not one of its trigrams, and letters outside ASCII depend on the
/// database's locale.
fn candidates(text: &[u8]) -> impl Iterator<Item = [u8; 3]> + '_ {
    text.windows(3)
        .filter(|w| w.iter().all(u8::is_ascii_alphanumeric))
        .map(|w| [w[0], w[1], w[2]])
}

impl TrigramSample {
    /// Counts the trigrams of `texts` (each counted once per text).
    pub(crate) fn from_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> Self {
        let mut sample = Self::default();
        let mut seen = HashSet::new();
        for text in texts {
            seen.clear();
            seen.extend(candidates(text.as_bytes()));
            for &trigram in &seen {
                *sample.counts.entry(trigram).or_insert(0) += 1;
            }
            sample.rows = sample.rows.saturating_add(1);
        }
        sample
    }

    /// How many texts were sampled.
    pub(crate) fn rows(&self) -> u32 {
        self.rows
    }

    fn count(&self, trigram: &[u8; 3]) -> u32 {
        self.counts.get(trigram).copied().unwrap_or(0)
    }

    /// For each term, its rarest trigram in the sample; `None` when no term
    /// has one (then the terms themselves go to the index, as `LIKE`).
    /// Terms without one are still checked on every row, they just do not
    /// narrow the index's list.
    pub(crate) fn narrowing(&self, terms: &[String]) -> Option<Narrowing> {
        let mut trigrams: Vec<String> = Vec::new();
        let mut rare = false;
        for term in terms {
            let Some(rarest) = candidates(term.as_bytes()).min_by_key(|t| self.count(t)) else {
                continue;
            };
            rare |= self.count(&rarest) == 0;
            let rarest = String::from_utf8_lossy(&rarest).into_owned();
            if !trigrams.contains(&rarest) {
                trigrams.push(rarest);
            }
        }
        (!trigrams.is_empty()).then_some(Narrowing { trigrams, rare })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&str]) -> Vec<String> {
        list.iter().map(|&t| t.to_owned()).collect()
    }

    #[test]
    fn each_term_gives_its_rarest_trigram() {
        let sample = TrigramSample::from_texts([
            "alice anderson\ninvoice_01073",
            "alice brown\ninvoice_00001",
            "bob anderson\napp_00563",
        ]);
        assert_eq!(sample.rows(), 3);
        // `ali`, `lic`, `ice` are in two texts; `bro`… in one; `073` in one.
        let chosen = sample.narrowing(&terms(&["alice", "brown", "01073"])).unwrap();
        assert_eq!(chosen.trigrams.len(), 3);
        assert!(["ali", "lic", "ice"].contains(&chosen.trigrams[0].as_str()));
        assert!(!chosen.rare, "every chosen trigram was sampled");
        // A trigram no sampled text holds is rare, and preferred.
        let chosen = sample.narrowing(&terms(&["invoice_99999"])).unwrap();
        assert_eq!(chosen.trigrams, ["999"]);
        assert!(chosen.rare);
    }

    #[test]
    fn runs_with_other_characters_are_never_chosen() {
        let sample = TrigramSample::from_texts(["x"]);
        // `e_0`, `é-é` hold no run of three ASCII letters or digits (what
        // is a pg_trgm trigram in any locale); `ab` is too short.
        assert_eq!(sample.narrowing(&terms(&["e_0", "é-é", "ab"])), None);
        // `col` is, whether or not the locale counts `é` as a letter.
        assert_eq!(sample.narrowing(&terms(&["écolé"])).unwrap().trigrams, ["col"]);
        let chosen = sample.narrowing(&terms(&["e_012", "ab"])).unwrap();
        assert_eq!(chosen.trigrams, ["012"]);
        assert!(chosen.rare);
    }
}
