//! Staff pages in English, Russian and Kazakh.
//!
//! Texts live in TOML files under `crates/pollwatch-server/i18n/`, one per
//! feature, so that people adding pages at the same time each add their
//! own file. Each key has all three languages:
//!
//! ```toml
//! [stations.title]
//! en = "Polling stations"
//! ru = "Избирательные участки"
//! kk = "Сайлау учаскелері"
//! ```
//!
//! A page struct has a `tr: Tr` field (from the [`Chosen`] extractor) and
//! its template writes `{{ tr.t("stations.title") }}`, or
//! `{{ tr.f("stations.shown", [("n", rows.len())]) }}` for a text with
//! `{n}` in it (the values of one call are of one type; use
//! `x.to_string()` to mix). The tests of this module refuse a catalogue with
//! a missing or empty text, a key in two files, placeholders that differ
//! between languages, a key a template or handler uses but nobody wrote,
//! and a key nobody uses.
//!
//! The viewer's language: the `lang` cookie (set by the switch in the
//! page header, `POST /lang`), else the browser's `Accept-Language`, else
//! English.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, PageError};
use crate::extract::page::Form;

/// The catalogue files, in the order they are read. Add yours here.
pub const FILES: &[(&str, &str)] = &[
    ("common.toml", include_str!("../i18n/common.toml")),
    ("login.toml", include_str!("../i18n/login.toml")),
    ("stations.toml", include_str!("../i18n/stations.toml")),
    ("results.toml", include_str!("../i18n/results.toml")),
    ("devices.toml", include_str!("../i18n/devices.toml")),
    ("people.toml", include_str!("../i18n/people.toml")),
    ("situation.toml", include_str!("../i18n/situation.toml")),
    ("reports.toml", include_str!("../i18n/reports.toml")),
    ("cases.toml", include_str!("../i18n/cases.toml")),
    ("messages.toml", include_str!("../i18n/messages.toml")),
    ("coverage.toml", include_str!("../i18n/coverage.toml")),
    ("planning.toml", include_str!("../i18n/planning.toml")),
    ("sms.toml", include_str!("../i18n/sms.toml")),
    ("exports.toml", include_str!("../i18n/exports.toml")),
    ("report.toml", include_str!("../i18n/report.toml")),
    ("assessment.toml", include_str!("../i18n/assessment.toml")),
];

/// The cookie that remembers the viewer's choice.
pub const LANG_COOKIE: &str = "lang";

/// A year: the choice is a preference, not a secret.
const LANG_COOKIE_DAYS: i64 = 365;

/// A language the staff pages are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
    Kk,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ru, Lang::Kk];

    /// "en", "ru" or "kk" (exactly; the cookie and the form use these).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Self::En),
            "ru" => Some(Self::Ru),
            "kk" => Some(Self::Kk),
            _ => None,
        }
    }

    /// The code for `<html lang>`, the cookie and the catalogue files.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
            Self::Kk => "kk",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Ru => "Русский",
            Self::Kk => "Қазақша",
        }
    }

    /// Texts in this language (a page that shows more than one).
    pub fn tr(self) -> Tr {
        Tr::new(self)
    }

    fn index(self) -> usize {
        match self {
            Self::En => 0,
            Self::Ru => 1,
            Self::Kk => 2,
        }
    }

    /// The best of ours in an `Accept-Language` header: the highest
    /// q-value wins, the earlier on a tie; "ru-RU" is Russian; a header
    /// naming none of ours (or none at all) gives English.
    pub fn from_accept_language(header: &str) -> Self {
        let mut best: Option<(Lang, u16)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split(['-', '_']).next().unwrap_or("");
            let Some(lang) = Self::parse(&primary.to_ascii_lowercase()) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(quality))
                .unwrap_or(Some(1000));
            // A malformed q is ignored like the item; q=0 means "not this".
            let Some(q) = q.filter(|q| *q > 0) else {
                continue;
            };
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l).unwrap_or_default()
    }

    /// The viewer's language: the cookie, else the browser's preference.
    pub fn of(headers: &HeaderMap) -> Self {
        let jar = CookieJar::from_headers(headers);
        if let Some(lang) = jar.get(LANG_COOKIE).and_then(|c| Self::parse(c.value())) {
            return lang;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Self::from_accept_language)
            .unwrap_or_default()
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An RFC 9110 qvalue ("0", "0.5", "1.000") in thousandths.
fn quality(s: &str) -> Option<u16> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// One text in the three languages, in [`Lang::index`] order.
type Texts = [String; 3];

/// Every text of the staff pages, by key.
#[derive(Debug, Default)]
pub struct Catalogue {
    texts: HashMap<String, Texts>,
}

/// What is wrong with a catalogue file; the message names file and key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct CatalogueError {
    pub file: String,
    pub key: String,
    pub message: String,
}

impl Catalogue {
    /// Read and check the files: every key has a non-empty text in each
    /// language, the same `{placeholders}` in each, and is in one file only.
    pub fn parse(files: &[(&str, &str)]) -> Result<Self, Vec<CatalogueError>> {
        let mut texts = HashMap::new();
        let mut from: HashMap<String, String> = HashMap::new();
        let mut errors = vec![];
        for (file, source) in files {
            let err = |key: &str, message: String| CatalogueError {
                file: (*file).to_owned(),
                key: key.to_owned(),
                message,
            };
            let table: toml::Table = match toml::from_str(source) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(err("", e.to_string()));
                    continue;
                }
            };
            let mut entries = vec![];
            collect(&table, "", &mut entries, &mut |k, m| errors.push(err(k, m)));
            for (key, t) in entries {
                for problem in check(&t) {
                    errors.push(err(&key, problem));
                }
                if let Some(other) = from.get(&key) {
                    errors.push(err(&key, format!("also in {other}")));
                    continue;
                }
                from.insert(key.clone(), (*file).to_owned());
                texts.insert(key, t);
            }
        }
        if errors.is_empty() {
            Ok(Self { texts })
        } else {
            Err(errors)
        }
    }

    /// A key's text in a language.
    pub fn text(&self, lang: Lang, key: &str) -> Option<&str> {
        self.texts.get(key).map(|t| t[lang.index()].as_str())
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }

    /// The `{names}` a key's (English) text takes.
    pub fn placeholders(&self, key: &str) -> Vec<String> {
        self.texts
            .get(key)
            .map(|t| placeholders(&t[0]))
            .unwrap_or_default()
    }
}

/// Walk nested tables: a table with language keys is a text, any other
/// table a namespace (`[stations.title]` is the key "stations.title").
fn collect(
    table: &toml::Table,
    prefix: &str,
    out: &mut Vec<(String, Texts)>,
    fail: &mut dyn FnMut(&str, String),
) {
    let is_text = table.keys().any(|k| Lang::parse(k).is_some());
    if is_text {
        let mut t: Texts = Default::default();
        for (k, v) in table {
            match (Lang::parse(k), v.as_str()) {
                (Some(lang), Some(s)) => t[lang.index()] = s.to_owned(),
                (Some(_), None) => fail(prefix, format!("{k} is not a string")),
                (None, _) => fail(prefix, format!("{k} is not a language (en, ru, kk)")),
            }
        }
        for lang in Lang::ALL {
            if !table.contains_key(lang.code()) {
                fail(prefix, format!("no {} text", lang.code()));
            }
        }
        out.push((prefix.to_owned(), t));
        return;
    }
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v.as_table() {
            Some(inner) => collect(inner, &key, out, fail),
            None => fail(&key, "is not a table of en, ru and kk texts".into()),
        }
    }
}

/// What is wrong with one key's texts (missing languages are reported by
/// [`collect`]).
fn check(t: &Texts) -> Vec<String> {
    let mut problems = vec![];
    for lang in Lang::ALL {
        if t[lang.index()].trim().is_empty() && !t[lang.index()].is_empty() {
            problems.push(format!("the {} text is blank", lang.code()));
        } else if t[lang.index()].is_empty() {
            problems.push(format!("the {} text is empty", lang.code()));
        }
    }
    let en = placeholders(&t[0]);
    for lang in [Lang::Ru, Lang::Kk] {
        let other = placeholders(&t[lang.index()]);
        if other != en {
            problems.push(format!(
                "placeholders differ: en has {en:?}, {} has {other:?}",
                lang.code()
            ));
        }
    }
    problems
}

/// The sorted, distinct `{names}` in a text.
fn placeholders(s: &str) -> Vec<String> {
    let mut names: Vec<String> = s
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::parse(FILES).unwrap_or_else(|errors| {
        // The unit tests refuse such a build; should one slip through,
        // pages show keys rather than fail.
        for e in &errors {
            tracing::error!(error = %e, "staff page texts");
        }
        Catalogue::default()
    })
});

/// The texts of the shipped catalogue.
pub fn catalogue() -> &'static Catalogue {
    &CATALOGUE
}

/// Texts in the viewer's language, for templates and handlers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// A text without placeholders. An unknown key shows as itself (the
    /// tests keep that from shipping).
    pub fn t(&self, key: &'static str) -> &'static str {
        catalogue().text(self.lang, key).unwrap_or(key)
    }

    /// A text with its `{name}`s replaced by the values given.
    pub fn f<V: fmt::Display>(&self, key: &'static str, args: &[(&str, V)]) -> String {
        let mut out = self.t(key).to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), &value.to_string());
        }
        out
    }

    /// The other two languages, for the switch.
    pub fn others(&self) -> Vec<Lang> {
        Lang::ALL.into_iter().filter(|l| *l != self.lang).collect()
    }
}

/// The viewer's language, and where they are (for the switch's way back).
/// Never fails.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub tr: Tr,
    /// The path and query of this request, when it is safe to send the
    /// viewer back to; else "/".
    pub here: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Chosen {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let lang = match parts.extensions.get::<Lang>() {
            Some(l) => *l,
            None => Lang::of(&parts.headers),
        };
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| local_path(p))
            .unwrap_or("/")
            .to_owned();
        Ok(Self {
            tr: Tr::new(lang),
            here,
        })
    }
}

/// A path of this site to send a browser back to: starts with one "/"
/// ("//host" and "/\host" lead elsewhere), visible ASCII only (anything
/// else could not go in a Location header, or hides a trick).
pub fn local_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && p.len() <= 2048
        && p.bytes().all(|b| b.is_ascii_graphic())
}

/// Choose the language once per page request, and show an error page in
/// it ([`PageError`] is rendered without the request at hand).
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let lang = Lang::of(req.headers());
    req.extensions_mut().insert(lang);
    let mut res = next.run(req).await;
    if lang != Lang::En
        && let Some(shown) = res.extensions_mut().remove::<crate::error::ErrorShown>()
    {
        let (mut parts, _) = res.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        let body = crate::pages::render(&shown.page(Tr::new(lang)));
        return Response::from_parts(parts, body.into_body());
    }
    res
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// `POST /lang`: remember the choice and go back to the page it was made
/// on (a path of ours only: never an open redirect).
pub async fn switch(
    axum::extract::State(state): axum::extract::State<AppState>,
    jar: CookieJar,
    Form(form): Form<LangForm>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(form.lang.trim())
        .ok_or_else(|| ApiError::invalid("lang", "choose en, ru or kk"))?;
    let back = if local_path(&form.back) {
        form.back.as_str()
    } else {
        "/"
    };
    let cookie = Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .max_age(time::Duration::days(LANG_COOKIE_DAYS))
        .build();
    Ok((StatusCode::SEE_OTHER, jar.add(cookie), Redirect::to(back)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn parse_one(source: &str) -> Result<Catalogue, Vec<CatalogueError>> {
        Catalogue::parse(&[("test.toml", source)])
    }

    fn messages(r: Result<Catalogue, Vec<CatalogueError>>) -> String {
        r.expect_err("refused")
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_shipped_catalogue_is_complete() {
        if let Err(errors) = Catalogue::parse(FILES) {
            let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!("catalogue problems:\n{}", all.join("\n"));
        }
    }

    #[test]
    fn a_missing_language_is_refused() {
        let m = messages(parse_one("[a.b]\nen = \"x\"\nru = \"у\"\n"));
        assert!(m.contains("test.toml: a.b: no kk text"), "{m}");
    }

    #[test]
    fn an_empty_or_blank_text_is_refused() {
        let m = messages(parse_one("[a]\nen = \"x\"\nru = \"\"\nkk = \" \"\n"));
        assert!(m.contains("the ru text is empty"), "{m}");
        assert!(m.contains("the kk text is blank"), "{m}");
    }

    #[test]
    fn an_unknown_language_or_a_stray_value_is_refused() {
        let m = messages(parse_one(
            "stray = \"x\"\n[a]\nen = \"x\"\nru = \"у\"\nkk = \"к\"\nde = \"d\"\n",
        ));
        assert!(m.contains("de is not a language"), "{m}");
        assert!(m.contains("stray: is not a table"), "{m}");
    }

    #[test]
    fn a_key_in_two_files_is_refused() {
        let text = "[a.b]\nen = \"x\"\nru = \"у\"\nkk = \"к\"\n";
        let m = messages(Catalogue::parse(&[("one.toml", text), ("two.toml", text)]));
        assert!(m.contains("two.toml: a.b: also in one.toml"), "{m}");
    }

    #[test]
    fn placeholders_must_match_across_languages() {
        let m = messages(parse_one(
            "[a]\nen = \"{n} stations\"\nru = \"{n} участков\"\nkk = \"{count} учаске\"\n",
        ));
        assert!(m.contains("placeholders differ"), "{m}");
        assert!(m.contains("kk has [\"count\"]"), "{m}");
        assert!(
            parse_one("[a]\nen = \"{n} of {m}\"\nru = \"{m}: {n}\"\nkk = \"{n} {m}\"\n").is_ok()
        );
    }

    #[test]
    fn texts_are_found_by_nested_or_inline_keys() {
        let c = parse_one(
            "[x]\ny = { en = \"Y\", ru = \"Ы\", kk = \"Ұ\" }\n[x.z]\nen = \"Z\"\nru = \"З\"\nkk = \"З\"\n",
        )
        .unwrap();
        assert_eq!(c.text(Lang::Kk, "x.y"), Some("Ұ"));
        assert_eq!(c.text(Lang::Ru, "x.z"), Some("З"));
        assert_eq!(c.text(Lang::En, "x"), None);
    }

    #[test]
    fn accept_language_honours_q_values() {
        let cases = [
            ("ru-RU,ru;q=0.9,en-US;q=0.8", Lang::Ru),
            ("kk", Lang::Kk),
            ("kk-KZ", Lang::Kk),
            ("de-DE,de;q=0.9", Lang::En),
            ("en;q=0.5, ru;q=0.8", Lang::Ru),
            ("ru;q=0.5, kk;q=0.9, en;q=0.1", Lang::Kk),
            ("de, ru;q=0.3", Lang::Ru),
            ("ru;q=0, en", Lang::En),
            ("ru;q=0", Lang::En),
            ("RU", Lang::Ru),
            ("ru;q=2, kk;q=0.5", Lang::Kk),
            ("*", Lang::En),
            ("", Lang::En),
            ("en, ru", Lang::En),
            (";;,;q=", Lang::En),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn the_cookie_wins_over_the_header() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "ru".parse().unwrap());
        assert_eq!(Lang::of(&h), Lang::Ru);
        h.insert(header::COOKIE, "session=x; lang=kk".parse().unwrap());
        assert_eq!(Lang::of(&h), Lang::Kk);
        h.insert(header::COOKIE, "lang=fr".parse().unwrap());
        assert_eq!(
            Lang::of(&h),
            Lang::Ru,
            "a cookie of no language of ours is ignored"
        );
    }

    #[test]
    fn only_local_paths_are_ways_back() {
        for good in ["/", "/stations?district=A%20B", "/results/3/compare"] {
            assert!(local_path(good), "{good}");
        }
        for bad in [
            "",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "stations",
            "/a b",
            "/стан",
            "/x\r\nSet-Cookie: a=b",
        ] {
            assert!(!local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let key = catalogue()
            .keys()
            .find(|k| !catalogue().placeholders(k).is_empty())
            .expect("a text with a placeholder");
        let names = catalogue().placeholders(key);
        let args: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "VALUE")).collect();
        let key: &'static str = Box::leak(key.to_owned().into_boxed_str());
        for lang in Lang::ALL {
            let out = Tr::new(lang).f(key, &args);
            assert!(out.contains("VALUE") && !out.contains('{'), "{lang}: {out}");
        }
    }

    /// The keys a template (`tr.t("…")`, `tr.f("…", …)`) or a handler uses.
    fn used_keys() -> Vec<(String, String, bool)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = vec![];
        for dir in ["templates", "src"] {
            // One level of folders too: `src/report/`, `templates/report/`.
            let mut files = vec![];
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                } else {
                    files.push(path);
                }
            }
            files.sort();
            for path in files {
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                // Examples in comments are not uses.
                let text: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
                // Spelled apart so that this line is not a call itself.
                for (call, with_args) in [(concat!(".", "t("), false), (concat!(".", "f("), true)] {
                    for (at, _) in text.match_indices(call) {
                        // rustfmt may put the key on the next line.
                        let rest = text[at + call.len()..].trim_start();
                        let Some(rest) = rest.strip_prefix('"') else {
                            continue;
                        };
                        if let Some(end) = rest.find('"') {
                            found.push((name.clone(), rest[..end].to_owned(), with_args));
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_key_used_is_in_the_catalogue_and_every_key_is_used() {
        let c = Catalogue::parse(FILES).unwrap_or_default();
        let used = used_keys();
        let mut problems = vec![];
        for (file, key, with_args) in &used {
            if c.text(Lang::En, key).is_none() {
                problems.push(format!("{file}: {key:?} is not in the catalogue"));
                continue;
            }
            let takes = !c.placeholders(key).is_empty();
            if takes && !with_args {
                problems.push(format!("{file}: {key:?} has placeholders: use tr.f"));
            }
            if !takes && *with_args {
                problems.push(format!("{file}: {key:?} has no placeholders: use tr.t"));
            }
        }
        let used: BTreeSet<&str> = used.iter().map(|(_, k, _)| k.as_str()).collect();
        let mut unused: Vec<&str> = c.keys().filter(|k| !used.contains(k)).collect();
        unused.sort();
        for key in unused {
            problems.push(format!("{key:?} is in the catalogue but nothing uses it"));
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
