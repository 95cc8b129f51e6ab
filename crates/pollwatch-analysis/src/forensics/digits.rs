//! Digit tests on each candidate's station vote counts.
//!
//! - Second-digit Benford test (2BL; Mebane, "Election Forensics: Vote
//!   Counts and Benford's Law", 2006, and later papers): the second
//!   significant digit of counts ≥ 10 against Benford's second-digit law
//!   P(d) = Σ_{k=1..9} log10(1 + 1/(10k + d)), mean 4.187; Pearson χ² with
//!   9 degrees of freedom.
//! - Last-digit test (Beber & Scacco, "What the numbers say", Political
//!   Analysis 2012; Mebane): the last digit of counts ≥ [`LAST_DIGIT_MIN`]
//!   against the uniform law on 0..9, Pearson χ² with 9 degrees of freedom;
//!   and the 0/5 test: the share of counts ending in 0 or 5 against 0.2,
//!   with a binomial z-score (people inventing numbers favour round ones).
//!
//! Digit tests are weak evidence on their own: 2BL departures also arise in
//! clean elections (Deckert, Myagkov & Ordeshook 2011), so they are shown
//! beside the other methods, not as verdicts.

use pollwatch_domain::results::ResultSet;
use serde::{Deserialize, Serialize};

use crate::stats::{chi2_sf, normal_two_sided};

/// Counts below this are left out of the last-digit and 0/5 tests: the last
/// digit of a count is close to uniform only when the count's spread covers
/// many tens, which three-digit counts ensure.
pub const LAST_DIGIT_MIN: u64 = 100;

/// Counts below this have no second digit.
pub const SECOND_DIGIT_MIN: u64 = 10;

/// Benford's law for the second significant digit.
pub fn benford_second_digit() -> [f64; 10] {
    let mut p = [0.0; 10];
    for (d, slot) in p.iter_mut().enumerate() {
        *slot = (1..10)
            .map(|k| (1.0 + 1.0 / (10 * k + d) as f64).log10())
            .sum();
    }
    p
}

/// Second-digit test for one candidate. Small parties' counts (mostly
/// two-digit) depart from Benford's law without any fraud, and with tens of
/// thousands of stations tiny departures are "significant": the test is a
/// comparison between candidates, not a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondDigit {
    /// The candidate (or party) name.
    pub party: String,
    /// Counts ≥ 10 tested.
    pub n: u64,
    /// How many counts have each second digit 0..9.
    pub counts: [u64; 10],
    /// Mean second digit (Benford: 4.187); None when n = 0.
    pub mean: Option<f64>,
    /// Pearson χ² against Benford's second-digit law (9 dof).
    pub chi2: f64,
    /// P(χ²₉ ≥ chi2); None when n = 0.
    pub p_value: Option<f64>,
    pub method: String,
}

/// Last-digit and 0/5 tests for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDigit {
    pub party: String,
    /// Counts ≥ [`LAST_DIGIT_MIN`] tested.
    pub n: u64,
    pub min_count: u64,
    /// How many counts end in each digit 0..9.
    pub counts: [u64; 10],
    /// Pearson χ² against the uniform law (9 dof).
    pub chi2: f64,
    pub p_value: Option<f64>,
    /// Share of counts ending in 0 or 5 (expected 0.2).
    pub share_0_or_5: Option<f64>,
    /// (share − 0.2) / sqrt(0.2·0.8/n).
    pub z_0_or_5: Option<f64>,
    /// Two-sided normal p-value of z_0_or_5.
    pub p_0_or_5: Option<f64>,
    pub method: String,
}

fn pearson(counts: &[u64; 10], expected: &[f64; 10]) -> f64 {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    counts
        .iter()
        .zip(expected)
        .map(|(o, p)| {
            let e = p * n as f64;
            (*o as f64 - e).powi(2) / e
        })
        .sum()
}

fn second_digit_of(mut v: u64) -> u64 {
    while v >= 100 {
        v /= 10;
    }
    v % 10
}

/// Second-digit Benford test per candidate, in `set.candidates` order.
pub fn second_digit(set: &ResultSet) -> Vec<SecondDigit> {
    let benford = benford_second_digit();
    (0..set.candidates.len())
        .map(|c| {
            let mut counts = [0u64; 10];
            for s in &set.stations {
                if let Some(&v) = s.votes.get(c)
                    && v >= SECOND_DIGIT_MIN
                {
                    counts[second_digit_of(v) as usize] += 1;
                }
            }
            let n: u64 = counts.iter().sum();
            let sum: u64 = counts.iter().enumerate().map(|(d, k)| d as u64 * k).sum();
            let chi2 = pearson(&counts, &benford);
            SecondDigit {
                party: set.candidates[c].clone(),
                n,
                counts,
                mean: (n > 0).then(|| sum as f64 / n as f64),
                chi2,
                p_value: (n > 0).then(|| chi2_sf(chi2, 9.0)),
                method: "Second-digit Benford test (Mebane): second significant digit of the candidate's station counts >= 10 against Benford's second-digit law (mean 4.187); Pearson chi-square, 9 dof. Counts that rarely reach three digits (small parties) do not follow the law even in clean elections, and large n makes small departures significant: compare candidates, do not read a p-value as a verdict.".into(),
            }
        })
        .collect()
}

/// Last-digit and 0/5 tests per candidate, in `set.candidates` order.
pub fn last_digit(set: &ResultSet) -> Vec<LastDigit> {
    let uniform = [0.1; 10];
    (0..set.candidates.len())
        .map(|c| {
            let mut counts = [0u64; 10];
            for s in &set.stations {
                if let Some(&v) = s.votes.get(c)
                    && v >= LAST_DIGIT_MIN
                {
                    counts[(v % 10) as usize] += 1;
                }
            }
            let n: u64 = counts.iter().sum();
            let chi2 = pearson(&counts, &uniform);
            let share = (n > 0).then(|| (counts[0] + counts[5]) as f64 / n as f64);
            let z = share.map(|s| (s - 0.2) / (0.2 * 0.8 / n as f64).sqrt());
            LastDigit {
                party: set.candidates[c].clone(),
                n,
                min_count: LAST_DIGIT_MIN,
                counts,
                chi2,
                p_value: (n > 0).then(|| chi2_sf(chi2, 9.0)),
                share_0_or_5: share,
                z_0_or_5: z,
                p_0_or_5: z.map(normal_two_sided),
                method: format!("Last-digit test (Beber & Scacco 2012; Mebane): last digit of the candidate's station counts >= {LAST_DIGIT_MIN} against the uniform law, Pearson chi-square, 9 dof; 0/5 test: share of those counts ending in 0 or 5 against 0.2, binomial z-score."),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benford_second_digit_law() {
        let p = benford_second_digit();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mean: f64 = p.iter().enumerate().map(|(d, p)| d as f64 * p).sum();
        assert!((mean - 4.187).abs() < 0.001, "{mean}");
        assert!((p[0] - 0.11968).abs() < 1e-4);
        assert_eq!(second_digit_of(10), 0);
        assert_eq!(second_digit_of(4_567), 5);
        assert_eq!(second_digit_of(99), 9);
    }
}
