//! The results protocol template: its lines, candidates, statuses and the
//! control relations between its figures.
//!
//! A relation is a small linear comparison written as text:
//!
//! ```text
//! relation := sum op sum
//! op       := "=" | "<=" | ">=" | "~"        (also "==", "≤", "≥", "≈")
//! sum      := ["-"] product (("+" | "-") product)*
//! product  := factor ("*" factor)*           (at most one factor not a number)
//! factor   := number | id | "(" sum ")" | "-" factor
//! id       := a line id | a candidate id | "CANDIDATES" | "A"
//! ```
//!
//! `CANDIDATES` is the sum of all candidates' votes and `A` the votes
//! "against all". Numbers are decimals with at most six places ("0.15",
//! "1.01", "10"). `a ~ b` holds when |a − b| ≤ tolerance × |b|, with the
//! relation's `tolerance` (say 0.005 for "within half a percent").
//!
//! Arithmetic is exact: decimals are integers in millionths and sums are
//! `i128`, so "L4 <= 0.57 * L1" has no rounding at the boundary; figures too
//! large even for that fall back to `f64`, never to a panic.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Errors, FormError, Localized, RawLocalized, is_id};

/// Decimals are integers in units of 10⁻⁶.
const SCALE: i128 = 1_000_000;
const SCALE_DIGITS: usize = 6;
/// The largest magnitude a number in a rule may have.
const MAX_NUMBER: i128 = 1_000_000_000_000 * SCALE;
/// Rules are short; a bound keeps a hostile file from nesting deep.
const MAX_RULE_LEN: usize = 500;
const MAX_DEPTH: usize = 20;
/// The pseudo-ids of a rule.
const ALL_CANDIDATES: &str = "CANDIDATES";
const AGAINST_ALL: &str = "A";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtocolLine {
    /// Stable id ("L1"); figures are keyed by it.
    pub id: String,
    pub text: Localized,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Stable id ("C1"), in ballot order.
    pub id: String,
    pub name: Localized,
}

/// What became of the protocol, recorded even when there are no figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtocolStatus {
    /// Stable id ("posted", "copy_refused").
    pub id: String,
    pub text: Localized,
    /// Whether this status counts as a problem for the assessment.
    pub problem: bool,
}

/// How a relation compares its two sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Equal,
    AtMost,
    AtLeast,
    /// |left − right| ≤ tolerance × |right|.
    About {
        tolerance: f64,
    },
}

/// One control relation between protocol figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relation {
    /// As the file writes it ("L2 = L3 + L4 + L5").
    pub rule: String,
    /// A hard relation failing means the protocol is arithmetically
    /// impossible; a soft one is a warning worth a look.
    pub hard: bool,
    pub text: Localized,
    pub comparison: Comparison,
    /// The two sides as parsed, served so that the app evaluates the rule
    /// as parsed here rather than parsing the text again its own way.
    left: Linear,
    right: Linear,
    /// The tolerance of `~` in millionths.
    #[serde(skip)]
    tolerance: i128,
}

/// The protocol template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtocolTemplate {
    pub version: u32,
    pub title: Localized,
    pub lines: Vec<ProtocolLine>,
    pub candidates: Vec<Candidate>,
    /// The label of the "against all" box, if the ballot has one.
    pub against_all: Option<Localized>,
    pub relations: Vec<Relation>,
    pub statuses: Vec<ProtocolStatus>,
}

/// The figures an observer copied from one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProtocolFigures {
    /// Line id → figure.
    pub lines: BTreeMap<String, u64>,
    /// Candidate id → votes.
    pub candidates: BTreeMap<String, u64>,
    pub against_all: Option<u64>,
}

/// A relation that does not hold, with the values of its two sides.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationFailure {
    pub rule: String,
    pub text: Localized,
    pub left: f64,
    pub right: f64,
}

/// The outcome of the control relations on one protocol's figures. A failing
/// protocol is evidence: stored and flagged, never refused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProtocolCheck {
    pub hard_failures: Vec<RelationFailure>,
    pub soft_warnings: Vec<RelationFailure>,
    /// Rules not checked because a figure they need is missing.
    pub skipped: Vec<String>,
}

impl ProtocolCheck {
    /// No hard relation failed (soft warnings and skipped ones aside).
    pub fn is_consistent(&self) -> bool {
        self.hard_failures.is_empty()
    }
}

impl ProtocolTemplate {
    pub fn status(&self, id: &str) -> Option<&ProtocolStatus> {
        self.statuses.iter().find(|s| s.id == id)
    }

    /// Runs every relation on the figures.
    pub fn check(&self, figures: &ProtocolFigures) -> ProtocolCheck {
        let mut out = ProtocolCheck::default();
        for r in &self.relations {
            let (Some(left), Some(right)) =
                (r.left.eval(self, figures), r.right.eval(self, figures))
            else {
                out.skipped.push(r.rule.clone());
                continue;
            };
            if r.holds(&left, &right) {
                continue;
            }
            let failure = RelationFailure {
                rule: r.rule.clone(),
                text: r.text.clone(),
                left: left.to_f64(),
                right: right.to_f64(),
            };
            if r.hard {
                out.hard_failures.push(failure);
            } else {
                out.soft_warnings.push(failure);
            }
        }
        out
    }

    /// Reads the protocol file.
    pub(super) fn parse(file: &str, text: &str) -> Result<Self, Vec<FormError>> {
        let mut errs = Errors::new(file);
        let Some(raw) = errs.parse_toml::<RawProtocol>(text) else {
            return Err(errs.list);
        };
        let version = errs.version(raw.version);
        let title = errs.localized(None, "title", raw.title);

        let mut ids = BTreeSet::new();
        let mut check_id = |errs: &mut Errors<'_>, what: &str, id: &str| {
            if !is_id(id) || id.contains('-') {
                errs.push(
                    None,
                    format!("{what} {id:?}: the id must be a short word (letters, digits or _)"),
                );
            } else if id == ALL_CANDIDATES || id == AGAINST_ALL {
                errs.push(
                    None,
                    format!("{what} {id}: the id is reserved for relations"),
                );
            } else if !ids.insert(id.to_owned()) {
                errs.push(None, format!("{what} {id}: duplicate id"));
            }
        };

        if raw.lines.is_empty() {
            errs.push(None, "no lines");
        }
        let lines: Vec<ProtocolLine> = raw
            .lines
            .into_iter()
            .map(|l| {
                check_id(&mut errs, "line", &l.id);
                let text = errs.localized(None, &format!("line {}: text", l.id), l.text);
                ProtocolLine { id: l.id, text }
            })
            .collect();
        if raw.candidates.is_empty() {
            errs.push(None, "no candidates");
        }
        let candidates: Vec<Candidate> = raw
            .candidates
            .into_iter()
            .map(|c| {
                check_id(&mut errs, "candidate", &c.id);
                let name = match c.name {
                    // A person's name is mostly written alike in every language.
                    Some(RawName::Same(name)) => RawLocalized {
                        en: Some(name.clone()),
                        ru: Some(name.clone()),
                        kk: Some(name),
                    },
                    Some(RawName::Each(name)) => name,
                    None => RawLocalized {
                        en: None,
                        ru: None,
                        kk: None,
                    },
                };
                let name = errs.localized(None, &format!("candidate {}: name", c.id), Some(name));
                Candidate { id: c.id, name }
            })
            .collect();

        let against_all = match (raw.against_all, raw.against_all_text) {
            (Some(true), text) => Some(errs.localized(None, "against_all_text", text)),
            (Some(false), None) => None,
            (Some(false), Some(_)) => {
                errs.push(None, "against_all_text is given but against_all = false");
                None
            }
            (None, _) => {
                errs.push(
                    None,
                    "missing `against_all` (true if the ballot has an \"against all\" box)",
                );
                None
            }
        };

        let names = Names {
            lines: lines.iter().map(|l| l.id.as_str()).collect(),
            candidates: candidates.iter().map(|c| c.id.as_str()).collect(),
            against_all: against_all.is_some(),
        };
        let mut relations = Vec::with_capacity(raw.relations.len());
        for r in raw.relations {
            let what = format!("relation {:?}", r.rule);
            let text = errs.localized(None, &format!("{what}: text"), r.text);
            let Some(hard) = r.hard else {
                errs.push(None, format!("{what}: missing `hard` (true or false)"));
                continue;
            };
            let (left, op, right) = match parse_rule(&r.rule, &names) {
                Ok(parsed) => parsed,
                Err(reason) => {
                    errs.push(None, format!("{what}: {reason}"));
                    continue;
                }
            };
            let (comparison, tolerance) = match (op, r.tolerance) {
                (Op::About, Some(t)) if (0.0..=1.0).contains(&t) => {
                    let millionths = (t * SCALE as f64).round();
                    (Comparison::About { tolerance: t }, millionths as i128)
                }
                (Op::About, Some(t)) => {
                    errs.push(
                        None,
                        format!("{what}: tolerance {t} must be between 0 and 1"),
                    );
                    continue;
                }
                (Op::About, None) => {
                    errs.push(
                        None,
                        format!("{what}: `~` needs a tolerance (0.005 for half a percent)"),
                    );
                    continue;
                }
                (_, Some(_)) => {
                    errs.push(None, format!("{what}: a tolerance applies only to `~`"));
                    continue;
                }
                (Op::Equal, None) => (Comparison::Equal, 0),
                (Op::AtMost, None) => (Comparison::AtMost, 0),
                (Op::AtLeast, None) => (Comparison::AtLeast, 0),
            };
            relations.push(Relation {
                rule: r.rule,
                hard,
                text,
                comparison,
                left,
                right,
                tolerance,
            });
        }

        if raw.statuses.is_empty() {
            errs.push(None, "no statuses");
        }
        let mut seen = BTreeSet::new();
        let statuses = raw
            .statuses
            .into_iter()
            .map(|s| {
                if !is_id(&s.id) {
                    errs.push(
                        None,
                        format!(
                            "status {:?}: the id must be a short word (letters, digits, _ or -)",
                            s.id
                        ),
                    );
                }
                if !seen.insert(s.id.clone()) {
                    errs.push(None, format!("status {}: duplicate id", s.id));
                }
                let text = errs.localized(None, &format!("status {}: text", s.id), s.text);
                ProtocolStatus {
                    id: s.id,
                    text,
                    problem: s.problem,
                }
            })
            .collect();

        errs.finish(ProtocolTemplate {
            version,
            title,
            lines,
            candidates,
            against_all,
            relations,
            statuses,
        })
    }
}

impl Comparison {
    /// Every comparison's name, as the served forms write it.
    pub const NAMES: &'static [&'static str] = &["equal", "at_most", "at_least", "about"];

    /// The comparison's name (one of [`Comparison::NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Equal => "equal",
            Self::AtMost => "at_most",
            Self::AtLeast => "at_least",
            Self::About { .. } => "about",
        }
    }
}

impl Relation {
    fn holds(&self, l: &Value, r: &Value) -> bool {
        if let (Value::Exact(l), Value::Exact(r)) = (l, r) {
            let (l, r) = (*l, *r);
            let exact = match self.comparison {
                Comparison::Equal => Some(l == r),
                Comparison::AtMost => Some(l <= r),
                Comparison::AtLeast => Some(l >= r),
                // |l − r| · SCALE ≤ tolerance · |r|, all in millionths.
                Comparison::About { .. } => l
                    .checked_sub(r)
                    .and_then(|d| d.checked_abs())
                    .and_then(|d| d.checked_mul(SCALE))
                    .zip(r.checked_abs().and_then(|r| r.checked_mul(self.tolerance)))
                    .map(|(d, bound)| d <= bound),
            };
            if let Some(holds) = exact {
                return holds;
            }
        }
        let (l, r) = (l.to_f64(), r.to_f64());
        match self.comparison {
            Comparison::Equal => l == r,
            Comparison::AtMost => l <= r,
            Comparison::AtLeast => l >= r,
            Comparison::About { tolerance } => (l - r).abs() <= tolerance * r.abs(),
        }
    }
}

// ---------------------------------------------------------------------------
// Linear expressions.

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Line(String),
    Candidate(String),
    AllCandidates,
    AgainstAll,
}

/// Σ coefficient × atom + constant, coefficients and constant in millionths.
#[derive(Debug, Clone, PartialEq, Default)]
struct Linear {
    terms: BTreeMap<Atom, i128>,
    constant: i128,
}

/// `{"terms": {"L3": 1000000, "CANDIDATES": -1000000}, "constant": 0}`:
/// coefficients in millionths, atoms by the ids a rule writes. The app
/// computes with them in BigInt, exactly as here, for any coefficient
/// below 2^53 millionths (nine billion: no protocol rule comes near).
impl Serialize for Linear {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Terms<'a>(&'a BTreeMap<Atom, i128>);
        impl Serialize for Terms<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (atom, coef) in self.0 {
                    let id = match atom {
                        Atom::Line(id) | Atom::Candidate(id) => id.as_str(),
                        Atom::AllCandidates => ALL_CANDIDATES,
                        Atom::AgainstAll => AGAINST_ALL,
                    };
                    m.serialize_entry(id, &(*coef as f64))?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("terms", &Terms(&self.terms))?;
        m.serialize_entry("constant", &(self.constant as f64))?;
        m.end()
    }
}

/// A side's value: exact in millionths, or a float when the exact sum
/// overflowed.
#[derive(Debug, Clone, Copy)]
enum Value {
    Exact(i128),
    Float(f64),
}

impl Value {
    fn to_f64(self) -> f64 {
        match self {
            Value::Exact(v) => v as f64 / SCALE as f64,
            Value::Float(v) => v,
        }
    }
}

impl Linear {
    fn constant(c: i128) -> Self {
        Linear {
            terms: BTreeMap::new(),
            constant: c,
        }
    }

    fn atom(a: Atom) -> Self {
        Linear {
            terms: BTreeMap::from([(a, SCALE)]),
            constant: 0,
        }
    }

    fn is_constant(&self) -> bool {
        self.terms.values().all(|c| *c == 0)
    }

    fn add(mut self, other: Linear, sign: i128) -> Result<Self, String> {
        let too_big = || "a number is too large".to_owned();
        self.constant = other
            .constant
            .checked_mul(sign)
            .and_then(|c| self.constant.checked_add(c))
            .ok_or_else(too_big)?;
        for (atom, c) in other.terms {
            let entry = self.terms.entry(atom).or_insert(0);
            *entry = c
                .checked_mul(sign)
                .and_then(|c| entry.checked_add(c))
                .ok_or_else(too_big)?;
        }
        Ok(self)
    }

    /// Multiplies by a constant given in millionths; exact or an error.
    fn scale(mut self, by: i128) -> Result<Self, String> {
        let mul = |c: i128| -> Result<i128, String> {
            let p = c
                .checked_mul(by)
                .ok_or_else(|| "a number is too large".to_owned())?;
            if p % SCALE != 0 {
                return Err(format!(
                    "a product needs more than {SCALE_DIGITS} decimal places"
                ));
            }
            let p = p / SCALE;
            if p.abs() > MAX_NUMBER {
                return Err("a number is too large".into());
            }
            Ok(p)
        };
        self.constant = mul(self.constant)?;
        for c in self.terms.values_mut() {
            *c = mul(*c)?;
        }
        Ok(self)
    }

    /// The value for these figures; `None` if a figure it needs is missing.
    fn eval(&self, template: &ProtocolTemplate, figures: &ProtocolFigures) -> Option<Value> {
        let mut values: Vec<(i128, u64)> = Vec::new();
        for (atom, &coef) in &self.terms {
            if coef == 0 {
                continue;
            }
            match atom {
                Atom::Line(id) => values.push((coef, *figures.lines.get(id)?)),
                Atom::Candidate(id) => values.push((coef, *figures.candidates.get(id)?)),
                Atom::AgainstAll => values.push((coef, figures.against_all?)),
                Atom::AllCandidates => {
                    for c in &template.candidates {
                        values.push((coef, *figures.candidates.get(&c.id)?));
                    }
                }
            }
        }
        let exact = values.iter().try_fold(self.constant, |sum, &(coef, v)| {
            coef.checked_mul(i128::from(v))
                .and_then(|t| sum.checked_add(t))
        });
        Some(match exact {
            Some(v) => Value::Exact(v),
            None => Value::Float(
                values
                    .iter()
                    .map(|&(coef, v)| coef as f64 / SCALE as f64 * v as f64)
                    .sum::<f64>()
                    + self.constant as f64 / SCALE as f64,
            ),
        })
    }
}

// ---------------------------------------------------------------------------
// The rule parser.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    AtMost,
    AtLeast,
    About,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Id(String),
    /// In millionths.
    Number(i128),
    Plus,
    Minus,
    Times,
    Open,
    Close,
    Cmp(Op),
}

/// The ids a rule may use.
struct Names<'a> {
    lines: BTreeSet<&'a str>,
    candidates: BTreeSet<&'a str>,
    against_all: bool,
}

fn tokens(rule: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = rule.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '+' => Token::Plus,
            '-' | '−' => Token::Minus,
            '*' | '×' => Token::Times,
            '(' => Token::Open,
            ')' => Token::Close,
            '≤' => Token::Cmp(Op::AtMost),
            '≥' => Token::Cmp(Op::AtLeast),
            '≈' | '~' => Token::Cmp(Op::About),
            '=' => {
                if chars.peek().is_some_and(|(_, c)| *c == '=') {
                    chars.next();
                }
                Token::Cmp(Op::Equal)
            }
            '<' | '>' => {
                if chars.next_if(|(_, c)| *c == '=').is_none() {
                    return Err(format!(
                        "`{c}` is not supported: use `{c}=` (figures are compared inclusively)"
                    ));
                }
                Token::Cmp(if c == '<' { Op::AtMost } else { Op::AtLeast })
            }
            c if c.is_ascii_digit() => {
                let mut end = at + c.len_utf8();
                while let Some((i, d)) = chars.next_if(|(_, d)| d.is_ascii_digit() || *d == '.') {
                    end = i + d.len_utf8();
                }
                Token::Number(parse_number(&rule[at..end])?)
            }
            // Ids of lines and candidates have no `-`, so "L3-L4" is L3 minus L4.
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = at + c.len_utf8();
                while let Some((i, d)) =
                    chars.next_if(|(_, d)| d.is_ascii_alphanumeric() || *d == '_')
                {
                    end = i + d.len_utf8();
                }
                Token::Id(rule[at..end].to_owned())
            }
            other => return Err(format!("unexpected character {other:?}")),
        };
        out.push(token);
    }
    Ok(out)
}

/// A decimal with at most six places, in millionths.
fn parse_number(s: &str) -> Result<i128, String> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.contains('.')
        || (s.contains('.') && frac.is_empty())
        || frac.len() > SCALE_DIGITS
        || whole.len() > 13
    {
        return Err(format!(
            "{s:?} is not a number with at most {SCALE_DIGITS} decimal places"
        ));
    }
    let digits = |t: &str| {
        t.bytes().try_fold(0i128, |n, b| {
            Some(n * 10 + i128::from(b.checked_sub(b'0')?))
        })
    };
    let bad = || format!("{s:?} is not a number");
    let whole = digits(whole).ok_or_else(bad)?;
    let padded = format!("{frac:0<width$}", width = SCALE_DIGITS);
    let frac = digits(&padded).ok_or_else(bad)?;
    let n = whole * SCALE + frac;
    if n > MAX_NUMBER {
        return Err(format!("{s} is too large"));
    }
    Ok(n)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    names: &'a Names<'a>,
    depth: usize,
}

fn parse_rule(rule: &str, names: &Names<'_>) -> Result<(Linear, Op, Linear), String> {
    if rule.len() > MAX_RULE_LEN {
        return Err(format!("longer than {MAX_RULE_LEN} characters"));
    }
    let mut p = Parser {
        tokens: tokens(rule)?,
        pos: 0,
        names,
        depth: 0,
    };
    let left = p.sum()?;
    let op = match p.next() {
        Some(Token::Cmp(op)) => op,
        Some(t) => return Err(format!("expected =, <=, >= or ~, found {}", show(&t))),
        None => return Err("no comparison (=, <=, >= or ~)".into()),
    };
    let right = p.sum()?;
    if let Some(t) = p.next() {
        return Err(format!("unexpected {} after the right side", show(&t)));
    }
    if left.is_constant() && right.is_constant() {
        return Err("compares two numbers: name a line".into());
    }
    Ok((left, op, right))
}

fn show(t: &Token) -> String {
    match t {
        Token::Id(id) => id.clone(),
        Token::Number(n) => format!("{}", *n as f64 / SCALE as f64),
        Token::Plus => "+".into(),
        Token::Minus => "-".into(),
        Token::Times => "*".into(),
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Cmp(Op::Equal) => "=".into(),
        Token::Cmp(Op::AtMost) => "<=".into(),
        Token::Cmp(Op::AtLeast) => ">=".into(),
        Token::Cmp(Op::About) => "~".into(),
    }
}

impl Parser<'_> {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn sum(&mut self) -> Result<Linear, String> {
        let mut acc = self.product()?;
        loop {
            let sign = match self.peek() {
                Some(Token::Plus) => 1,
                Some(Token::Minus) => -1,
                _ => return Ok(acc),
            };
            self.pos += 1;
            let next = self.product()?;
            acc = acc.add(next, sign)?;
        }
    }

    fn product(&mut self) -> Result<Linear, String> {
        let mut acc = self.factor()?;
        while self.peek() == Some(&Token::Times) {
            self.pos += 1;
            let next = self.factor()?;
            acc = if next.is_constant() {
                acc.scale(next.constant)?
            } else if acc.is_constant() {
                next.scale(acc.constant)?
            } else {
                return Err("multiplies two figures: relations must be linear".into());
            };
        }
        Ok(acc)
    }

    fn factor(&mut self) -> Result<Linear, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        let result = match self.next() {
            Some(Token::Number(n)) => Ok(Linear::constant(n)),
            Some(Token::Id(id)) => self.atom(&id).map(Linear::atom),
            Some(Token::Minus) => self.factor().and_then(|f| f.scale(-SCALE)),
            Some(Token::Open) => {
                let inner = self.sum()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("a `(` is not closed".into()),
                }
            }
            Some(t) => Err(format!(
                "expected a line, a number or `(`, found {}",
                show(&t)
            )),
            None => Err("ends too early".into()),
        };
        self.depth -= 1;
        result
    }

    fn atom(&self, id: &str) -> Result<Atom, String> {
        if id == ALL_CANDIDATES {
            Ok(Atom::AllCandidates)
        } else if id == AGAINST_ALL {
            if self.names.against_all {
                Ok(Atom::AgainstAll)
            } else {
                Err("uses A but the ballot has no \"against all\" (against_all = false)".into())
            }
        } else if self.names.lines.contains(id) {
            Ok(Atom::Line(id.to_owned()))
        } else if self.names.candidates.contains(id) {
            Ok(Atom::Candidate(id.to_owned()))
        } else {
            Err(format!("unknown line {id}"))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtocol {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    version: Option<i64>,
    title: Option<RawLocalized>,
    against_all: Option<bool>,
    against_all_text: Option<RawLocalized>,
    #[serde(default)]
    lines: Vec<RawLine>,
    #[serde(default)]
    candidates: Vec<RawCandidate>,
    #[serde(default)]
    relations: Vec<RawRelation>,
    #[serde(default)]
    statuses: Vec<RawStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: String,
    text: Option<RawLocalized>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    id: String,
    name: Option<RawName>,
}

/// A candidate's name: one for all languages, or one per language.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawName {
    Same(String),
    Each(RawLocalized),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelation {
    rule: String,
    hard: Option<bool>,
    tolerance: Option<f64>,
    text: Option<RawLocalized>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    id: String,
    text: Option<RawLocalized>,
    #[serde(default)]
    problem: bool,
}

#[cfg(test)]
pub(super) fn parse_rule_for_test(rule: &str) -> Result<(), String> {
    let names = Names {
        lines: ["L1", "L2", "L3"].into(),
        candidates: ["C1"].into(),
        against_all: true,
    };
    parse_rule(rule, &names).map(|_| ())
}
