//! The part of XLSForm's expression language (XPath 1.0 with `${name}`
//! references) that `relevant`, `constraint` and `required` cells use, read
//! into a tree so that the importer can tell what pollwatch can say the same
//! way and quote exactly what it cannot.

use std::fmt;

/// Deeper than any hand-written condition; a cell nested deeper is refused
/// rather than allowed to exhaust the stack.
const MAX_DEPTH: usize = 48;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Expr {
    pub node: Node,
    /// Byte range in the cell's text, for quoting.
    pub span: (usize, usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// `${name}`: another question's answer.
    Ref(String),
    /// `.`: this question's answer.
    Dot,
    Str(String),
    /// A number as written ("5000", "2.5").
    Num(String),
    Call(String, Vec<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Union,
}

impl Op {
    /// `a OP b` as `b OP' a`.
    pub fn flipped(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            other => other,
        }
    }
}

/// Why a cell's text is not an expression, with where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub at: usize,
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.reason, self.at + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ref(String),
    Dot,
    Str(String),
    Num(String),
    Name(String),
    Op(Op),
    Open,
    Close,
    Comma,
    Minus,
}

fn tokens(src: &str) -> Result<Vec<(Tok, usize, usize)>, SyntaxError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(src.len(), |(at, _)| *at);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&(at, c)) = chars.get(i) {
        let err = |reason: String| SyntaxError { at, reason };
        let next = chars.get(i + 1).map(|(_, c)| *c);
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '$' if next == Some('{') => {
                let close = chars[i + 2..].iter().position(|(_, c)| *c == '}');
                let Some(close) = close else {
                    return Err(err("`${` without its `}`".into()));
                };
                let name: String = chars[i + 2..i + 2 + close].iter().map(|(_, c)| c).collect();
                let name = name.trim().to_owned();
                if name.is_empty() {
                    return Err(err("`${}` names no question".into()));
                }
                (Tok::Ref(name), close + 3)
            }
            '\'' | '"' => {
                let close = chars[i + 1..].iter().position(|(_, d)| *d == c);
                let Some(close) = close else {
                    return Err(err(format!("a text begun with {c} is not closed")));
                };
                let s: String = chars[i + 1..i + 1 + close].iter().map(|(_, c)| c).collect();
                (Tok::Str(s), close + 2)
            }
            '0'..='9' => {
                let n = chars[i..]
                    .iter()
                    .take_while(|(_, c)| c.is_ascii_digit() || *c == '.')
                    .count();
                let s: String = chars[i..i + n].iter().map(|(_, c)| c).collect();
                (Tok::Num(s), n)
            }
            '.' if next.is_some_and(|d| d.is_ascii_digit()) => {
                let n = 1 + chars[i + 1..]
                    .iter()
                    .take_while(|(_, c)| c.is_ascii_digit())
                    .count();
                let s: String = chars[i..i + n].iter().map(|(_, c)| c).collect();
                (Tok::Num(format!("0{s}")), n)
            }
            '.' if next == Some('.') => return Err(err("`..` (a path) is not supported".into())),
            '.' => (Tok::Dot, 1),
            'a'..='z' | 'A'..='Z' | '_' => {
                let n = chars[i..]
                    .iter()
                    .take_while(|(_, c)| {
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.')
                    })
                    .count();
                let s: String = chars[i..i + n].iter().map(|(_, c)| c).collect();
                let tok = match s.as_str() {
                    "and" => Tok::Op(Op::And),
                    "or" => Tok::Op(Op::Or),
                    "div" => Tok::Op(Op::Div),
                    "mod" => Tok::Op(Op::Mod),
                    _ => Tok::Name(s),
                };
                (tok, n)
            }
            '=' => (Tok::Op(Op::Eq), 1),
            '!' if next == Some('=') => (Tok::Op(Op::Ne), 2),
            '<' if next == Some('=') => (Tok::Op(Op::Le), 2),
            '<' => (Tok::Op(Op::Lt), 1),
            '>' if next == Some('=') => (Tok::Op(Op::Ge), 2),
            '>' => (Tok::Op(Op::Gt), 1),
            '+' => (Tok::Op(Op::Add), 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Op(Op::Mul), 1),
            '|' => (Tok::Op(Op::Union), 1),
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            ',' => (Tok::Comma, 1),
            other => return Err(err(format!("unexpected {other:?}"))),
        };
        out.push((tok, at, end_of(i + len)));
        i += len;
    }
    Ok(out)
}

/// Reads one cell's expression.
pub(super) fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let toks = tokens(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        len: src.len(),
        ops: 0,
    };
    let e = p.or(0)?;
    match p.toks.get(p.pos) {
        None => Ok(e),
        Some((_, at, _)) => Err(SyntaxError {
            at: *at,
            reason: "unexpected text after the expression".into(),
        }),
    }
}

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    len: usize,
    /// Operators read so far: a chain of thousands of `or`s is refused
    /// rather than walked recursively.
    ops: usize,
}

/// More operators than any condition a person writes.
const MAX_OPERATORS: usize = 200;

type Parsed = Result<Expr, SyntaxError>;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _, _)| t)
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(_, at, _)| *at)
    }

    fn fail(&self, reason: &str) -> SyntaxError {
        SyntaxError {
            at: self.here(),
            reason: reason.into(),
        }
    }

    fn count_op(&mut self) -> Result<(), SyntaxError> {
        self.ops += 1;
        if self.ops > MAX_OPERATORS {
            return Err(self.fail("too long: more than 200 operators"));
        }
        Ok(())
    }

    fn binary(&mut self, depth: usize, ops: &[Op], next: fn(&mut Self, usize) -> Parsed) -> Parsed {
        let mut left = next(self, depth)?;
        while let Some(Tok::Op(op)) = self.peek() {
            let op = *op;
            if !ops.contains(&op) {
                break;
            }
            self.pos += 1;
            self.count_op()?;
            let right = next(self, depth)?;
            let span = (left.span.0, right.span.1);
            left = Expr {
                node: Node::Bin(op, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn or(&mut self, depth: usize) -> Parsed {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deep"));
        }
        self.binary(depth, &[Op::Or], Self::and)
    }
    fn and(&mut self, depth: usize) -> Parsed {
        self.binary(depth, &[Op::And], Self::equality)
    }
    fn equality(&mut self, depth: usize) -> Parsed {
        self.binary(depth, &[Op::Eq, Op::Ne], Self::relational)
    }
    fn relational(&mut self, depth: usize) -> Parsed {
        self.binary(depth, &[Op::Lt, Op::Le, Op::Gt, Op::Ge], Self::additive)
    }
    fn additive(&mut self, depth: usize) -> Parsed {
        let mut left = self.multiplicative(depth)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(Op::Add)) => Op::Add,
                Some(Tok::Minus) => Op::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            self.count_op()?;
            let right = self.multiplicative(depth)?;
            let span = (left.span.0, right.span.1);
            left = Expr {
                node: Node::Bin(op, Box::new(left), Box::new(right)),
                span,
            };
        }
    }
    fn multiplicative(&mut self, depth: usize) -> Parsed {
        self.binary(depth, &[Op::Mul, Op::Div, Op::Mod], Self::unary)
    }
    fn unary(&mut self, depth: usize) -> Parsed {
        if self.peek() == Some(&Tok::Minus) {
            let at = self.here();
            self.pos += 1;
            if depth > MAX_DEPTH {
                return Err(self.fail("nested too deep"));
            }
            let inner = self.unary(depth + 1)?;
            let span = (at, inner.span.1);
            return Ok(Expr {
                node: Node::Neg(Box::new(inner)),
                span,
            });
        }
        self.binary(depth, &[Op::Union], Self::primary)
    }
    fn primary(&mut self, depth: usize) -> Parsed {
        let Some((tok, at, end)) = self.toks.get(self.pos).cloned() else {
            return Err(self.fail("the expression ends too soon"));
        };
        self.pos += 1;
        let leaf = |node| {
            Ok(Expr {
                node,
                span: (at, end),
            })
        };
        match tok {
            Tok::Ref(name) => leaf(Node::Ref(name)),
            Tok::Dot => leaf(Node::Dot),
            Tok::Str(s) => leaf(Node::Str(s)),
            Tok::Num(n) => leaf(Node::Num(n)),
            Tok::Open => {
                let inner = self.or(depth + 1)?;
                match self.toks.get(self.pos) {
                    Some((Tok::Close, _, close)) => {
                        let close = *close;
                        self.pos += 1;
                        Ok(Expr {
                            node: inner.node,
                            span: (at, close),
                        })
                    }
                    _ => Err(self.fail("`(` without its `)`")),
                }
            }
            Tok::Name(name) => {
                if self.peek() != Some(&Tok::Open) {
                    return Err(SyntaxError {
                        at,
                        reason: format!("{name:?} is neither ${{a question}} nor a function call"),
                    });
                }
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Tok::Close) {
                    self.pos += 1;
                } else {
                    loop {
                        args.push(self.or(depth + 1)?);
                        match self.peek() {
                            Some(Tok::Comma) => self.pos += 1,
                            Some(Tok::Close) => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.fail("expected `,` or `)` in a function call")),
                        }
                    }
                }
                let end = self.toks.get(self.pos - 1).map_or(self.len, |t| t.2);
                Ok(Expr {
                    node: Node::Call(name, args),
                    span: (at, end),
                })
            }
            Tok::Op(_) | Tok::Close | Tok::Comma | Tok::Minus => Err(SyntaxError {
                at,
                reason: "expected a value here".into(),
            }),
        }
    }
}

/// The text of `e` in `src`, shortened for a message.
pub(super) fn quote(src: &str, e: &Expr) -> String {
    let text = src.get(e.span.0..e.span.1).unwrap_or(src);
    short(text)
}

/// A cell's text, shortened for a message.
pub(super) fn short(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > 80 {
        format!("\"{}…\"", text.chars().take(80).collect::<String>())
    } else {
        format!("\"{text}\"")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn shape(e: &Expr) -> String {
        match &e.node {
            Node::Ref(n) => format!("${n}"),
            Node::Dot => ".".into(),
            Node::Str(s) => format!("'{s}'"),
            Node::Num(n) => n.clone(),
            Node::Call(f, args) => format!(
                "{f}({})",
                args.iter().map(shape).collect::<Vec<_>>().join(", ")
            ),
            Node::Bin(op, a, b) => format!("({} {op:?} {})", shape(a), shape(b)),
            Node::Neg(a) => format!("-{}", shape(a)),
        }
    }

    #[test]
    fn reads_the_usual_cells() {
        let p = |s: &str| shape(&parse(s).unwrap());
        assert_eq!(p("${q} = 'yes'"), "($q Eq 'yes')");
        assert_eq!(p(". >= 0 and . <= 5000"), "((. Ge 0) And (. Le 5000))");
        assert_eq!(
            p("selected(${q}, 'x') or not(${a} != \"b\")"),
            "(selected($q, 'x') Or not(($a Ne 'b')))"
        );
        assert_eq!(p("${a} or ${b} and ${c}"), "($a Or ($b And $c))");
        assert_eq!(p("string-length(.) <= 20"), "(string-length(.) Le 20)");
    }

    #[test]
    fn refuses_what_it_cannot_read_with_where() {
        let e = parse("${q} = 'yes").unwrap_err();
        assert_eq!(e.at, 7);
        assert!(parse("/data/q = 1").is_err());
        assert!(parse("${q} =").is_err());
        assert!(parse(&"(".repeat(500)).is_err());
        assert!(parse(&"-".repeat(500)).is_err());
        assert!(parse(&vec!["${a} = 'x'"; 5000].join(" or ")).is_err());
    }

    #[test]
    fn quotes_the_part_it_means() {
        let src = "${a} = 'x' and pulldata('f', 'c', 'k', ${b}) > 3";
        let Node::Bin(Op::And, _, right) = parse(src).unwrap().node else {
            panic!()
        };
        assert_eq!(quote(src, &right), "\"pulldata('f', 'c', 'k', ${b}) > 3\"");
    }
}
