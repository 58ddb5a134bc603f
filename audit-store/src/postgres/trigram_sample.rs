//! Which trigrams of a search are rare, estimated from a sample of stored
//! search texts: PostgreSQL's side of choosing what its trigram index is
//! asked for (SQLite counts through its own search index instead).
//!
//! `pg_trgm` answers `search_text LIKE '%alice%'` by reading the index
//! entries of every trigram of `alice` and intersecting them. A common
//! trigram's entries run to tens of thousands of rows and reading them is
//! what made a search slow. But asking for too few trigrams is as slow the
//! other way: every row the index lists is then fetched and checked, and a
//! term whose every trigram is in a tenth of the rows or more lists a tenth
//! of the table (BENCHMARKS.md, "Issue 5, continued", has the figures).
//!
//! So the store asks the index for the few trigrams that together list the
//! fewest rows at the least reading, chosen greedily on a sample of stored
//! rows (see [`TrigramSample::narrowing`]), and checks the whole terms on
//! the rows the index lists. The sample only decides speed: the terms are
//! always checked in full, so answers never depend on it.

use std::collections::{HashMap, HashSet};

/// What fetching and checking one row the index listed costs, in index
/// entries read: a heap fetch and a recheck against a few bytes of a
/// compressed posting list, measured with `EXPLAIN ANALYZE` (BENCHMARKS.md,
/// "Issue 5, continued").
const ROW_COST: u64 = 64;

/// The most trigrams a search asks the index for: each further one narrows
/// less and still costs its whole list.
const MAX_TRIGRAMS: usize = 4;

/// Which sampled `search_text` values hold which trigrams.
#[derive(Debug, Default)]
pub(crate) struct TrigramSample {
    /// For each trigram, the sampled texts holding it, by ascending index.
    holders: HashMap<[u8; 3], Vec<u32>>,
    /// How many texts were sampled.
    rows: u32,
}

/// The trigrams to ask the index for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Narrowing {
    /// Distinct, each three ASCII letters or digits, rarest first.
    pub(crate) trigrams: Vec<String>,
    /// The share of sampled rows holding them all. 0 when none does: then
    /// their rows are few, and the index lists them faster than a scan of
    /// the newest rows finds a page.
    pub(crate) share: f64,
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

/// The elements of both ascending lists.
fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut both) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    both
}

impl TrigramSample {
    /// Indexes the trigrams of `texts` (each counted once per text).
    pub(crate) fn from_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> Self {
        let mut sample = Self::default();
        let mut seen = HashSet::new();
        for text in texts {
            seen.clear();
            seen.extend(candidates(text.as_bytes()));
            for &trigram in &seen {
                sample.holders.entry(trigram).or_default().push(sample.rows);
            }
            sample.rows = sample.rows.saturating_add(1);
        }
        sample
    }

    /// How many texts were sampled.
    pub(crate) fn rows(&self) -> u32 {
        self.rows
    }

    fn holders(&self, trigram: &[u8; 3]) -> &[u32] {
        self.holders.get(trigram).map_or(&[], Vec::as_slice)
    }

    /// The trigrams of `terms` to ask the index for; `None` when no term has
    /// one (then the terms themselves go to the index, as `LIKE`).
    ///
    /// Greedy, on the sample: start from the cost of checking every row;
    /// take the trigram after which reading the chosen lists plus checking
    /// the rows holding all of them costs least; go on while that cost
    /// falls, until no sampled row is left or [`MAX_TRIGRAMS`] are chosen.
    /// The first trigram is always taken. Unlike ranking trigrams one by
    /// one, this sees that two common trigrams of different terms (`lic`,
    /// `rso` of `alice anderson`) are rare together, and that the trigrams
    /// of one term (`roj`, `006` of `project_00006`) are rarer together
    /// than either.
    pub(crate) fn narrowing(&self, terms: &[String]) -> Option<Narrowing> {
        let mut left: Vec<[u8; 3]> = terms.iter().flat_map(|t| candidates(t.as_bytes())).collect();
        left.sort_unstable();
        left.dedup();
        let mut chosen: Vec<[u8; 3]> = Vec::new();
        let mut matching: Vec<u32> = (0..self.rows).collect();
        let mut read = 0;
        let mut cost = ROW_COST * u64::from(self.rows);
        while !left.is_empty() && chosen.len() < MAX_TRIGRAMS {
            let (position, rows, next_cost) = left
                .iter()
                .enumerate()
                .map(|(position, trigram)| {
                    let list = self.holders(trigram);
                    let rows = intersect(&matching, list);
                    let next_cost = read + list.len() as u64 + ROW_COST * rows.len() as u64;
                    (position, rows, next_cost)
                })
                .min_by_key(|(position, _, next_cost)| (*next_cost, self.holders(&left[*position]).len()))?;
            if !chosen.is_empty() && next_cost >= cost {
                break;
            }
            let trigram = left.swap_remove(position);
            read += self.holders(&trigram).len() as u64;
            chosen.push(trigram);
            matching = rows;
            cost = next_cost;
            if matching.is_empty() {
                break;
            }
        }
        (!chosen.is_empty()).then(|| Narrowing {
            trigrams: chosen.iter().map(|t| String::from_utf8_lossy(t).into_owned()).collect(),
            share: matching.len() as f64 / f64::from(self.rows.max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&str]) -> Vec<String> {
        list.iter().map(|&t| t.to_owned()).collect()
    }

    /// A sample of 100 texts: every one holds `common`, every other one
    /// `alice` and the rest `brown`, and each its own number.
    fn sample() -> TrigramSample {
        let texts: Vec<String> = (0..100)
            .map(|i| {
                let half = if i % 2 == 0 { "alice" } else { "brown" };
                format!("common {half} {i}")
            })
            .collect();
        TrigramSample::from_texts(texts.iter().map(String::as_str))
    }

    #[test]
    fn a_trigram_no_sampled_row_holds_is_taken_alone_and_rare() {
        let sample = sample();
        assert_eq!(sample.rows(), 100);
        let chosen = sample.narrowing(&terms(&["common", "invoice_99999"])).unwrap();
        assert_eq!(chosen.trigrams, ["999"]);
        assert_eq!(chosen.share, 0.0, "no sampled row holds them all");
    }

    #[test]
    fn trigrams_rare_together_are_taken_together() {
        // `alice` and `brown` are each in half the rows and never together:
        // the second trigram empties the sample, so it is worth its list.
        let sample = sample();
        let chosen = sample.narrowing(&terms(&["alice", "brown"])).unwrap();
        assert_eq!(chosen.trigrams.len(), 2, "{chosen:?}");
        assert!(chosen.trigrams.iter().any(|t| "alice".contains(t.as_str())));
        assert!(chosen.trigrams.iter().any(|t| "brown".contains(t.as_str())));
        assert_eq!(chosen.share, 0.0, "no sampled row holds them all");
    }

    #[test]
    fn a_trigram_that_narrows_nothing_is_not_taken() {
        // Every trigram of `common` is in every row, and `alice`'s in half:
        // after one of `alice`'s, the others only add reading.
        let sample = sample();
        let chosen = sample.narrowing(&terms(&["common", "alice"])).unwrap();
        assert_eq!(chosen.trigrams.len(), 1, "{chosen:?}");
        assert!("alice".contains(chosen.trigrams[0].as_str()));
        assert!(
            (chosen.share - 0.5).abs() < 1e-9,
            "half the sampled rows hold it: {chosen:?}"
        );
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
        assert_eq!(chosen.share, 0.0, "no sampled row holds them all");
    }
}
