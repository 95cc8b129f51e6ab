//! The printable card: one page an observer keeps in a pocket, with every
//! command, an example each, the protocol's status numbers and the order
//! of its figures — taken from the forms in force, so the card a trainer
//! prints matches what the parser reads.
//!
//! A self-contained HTML page: styles inline, no script, no external
//! asset, so it prints the same from a laptop with no network.

use pollwatch_domain::Language;
use pollwatch_domain::forms::FormSet;

use crate::report::figure_slots;

fn tr(lang: Language, en: &'static str, ru: &'static str, kk: &'static str) -> &'static str {
    match lang {
        Language::En => en,
        Language::Ru => ru,
        Language::Kk => kk,
    }
}

/// Text for an HTML element or attribute: forms are a group's own files.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The card for these forms, in one language.
pub fn card_html(forms: &FormSet, lang: Language) -> String {
    card_html_to(forms, lang, None)
}

/// The card, with the number to text (the group's gateway phone) printed
/// at its top when the group gave one.
pub fn card_html_to(forms: &FormSet, lang: Language, to: Option<&str>) -> String {
    let t = |en, ru, kk| tr(lang, en, ru, kk);
    let slots = figure_slots(forms);
    let n = slots.len();
    let figures_example: Vec<String> = (0..n).map(|i| ((i + 1) * 10).to_string()).collect();
    let rows: Vec<(&str, String, String)> = vec![
        (
            "JOIN · ВХОД · КІРУ",
            t(
                "Link this phone number (once, with the code from your coordinator)",
                "Привязать номер (один раз, код от координатора)",
                "Нөмірді тіркеу (бір рет, үйлестірушіден алған кодпен)",
            )
            .into(),
            "JOIN K7RM-XQ4A-PW9T".into(),
        ),
        (
            "C · С · Я",
            t("Arrived at the station", "Прибыл на участок", "Учаскеге келдім").into(),
            "C 123".into(),
        ),
        (
            "A · А · Т",
            t(
                "ALARM. R (У, Р, Ш) = being removed, D (З, Д) = detained, nothing = alarm",
                "ТРЕВОГА. У (R, Р, Ш) = удаляют, З (D, Д) = задержан, без буквы = тревога",
                "ДАБЫЛ. R (У, Р, Ш) = шығарып жатыр, D (З, Д) = ұстады, әріпсіз = дабыл",
            )
            .into(),
            "A 123 D · А З · A".into(),
        ),
        (
            "H · Н",
            t(
                "Voters counted by you, then the commission's announced figure. \
                 One number = counted; two = counted announced; three = station counted announced; - = not announced yet",
                "Сколько насчитали вы, затем объявленная комиссией цифра. \
                 Одно число = насчитали; два = насчитали объявлено; три = участок насчитали объявлено; - = ещё не объявлено",
                "Сіз санаған сайлаушылар, содан кейін комиссия жариялаған сан. \
                 Бір сан = санадым; екеу = санадым жарияланды; үшеу = учаске санадым жарияланды; - = әлі жарияланбады",
            )
            .into(),
            "H 450 · H 450 600 · H 123 450 600 · H 123 450 -".into(),
        ),
        (
            "P · Р · П · Х",
            match lang {
                Language::En => format!(
                    "Protocol: status number (below), then all {n} figures in the order below, or none"
                ),
                Language::Ru => format!(
                    "Протокол: номер статуса (ниже), затем все {n} цифр по порядку ниже или ни одной"
                ),
                Language::Kk => format!(
                    "Хаттама: мәртебе нөмірі (төменде), содан кейін төмендегі ретпен барлық {n} сан немесе ешқайсысы"
                ),
            },
            format!("P 3 · P 123 1 {}", figures_example.join(" ")),
        ),
        (
            "N · З · Ж",
            t(
                "A short note (up to 500 characters)",
                "Короткая заметка (до 500 знаков)",
                "Қысқа жазба (500 таңбаға дейін)",
            )
            .into(),
            t(
                "N 123 queue of 40 outside",
                "З 123 очередь 40 человек на улице",
                "Ж 123 сыртта 40 адам кезекте",
            )
            .into(),
        ),
        (
            "? · HELP · ПОМОЩЬ · КӨМЕК",
            t("These commands by SMS", "Эти команды по SMS", "Осы командалар SMS арқылы").into(),
            "?".into(),
        ),
    ];

    let mut html = String::new();
    html.push_str(&format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n",
        lang.as_str(),
        esc(t("SMS card", "SMS-карточка", "SMS карточкасы"))
    ));
    html.push_str(
        "<style>\n\
         body{font:11pt/1.3 sans-serif;margin:1cm;max-width:18cm}\n\
         h1{font-size:14pt;margin:0 0 .3em}h2{font-size:12pt;margin:.8em 0 .2em}\n\
         table{border-collapse:collapse;width:100%}td,th{border:1px solid #000;padding:.2em .4em;vertical-align:top;text-align:left}\n\
         code{font:bold 11pt monospace;overflow-wrap:anywhere}td:nth-child(2){width:45%}ol{margin:.2em 0;padding-left:1.8em;columns:2}\n\
         @media print{body{margin:0}}@media (max-width:30rem){ol{columns:1}body{margin:.5cm}}\n\
         </style>\n</head>\n<body>\n",
    );
    html.push_str(&format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        esc(t(
            "Reporting by SMS when mobile data is cut",
            "Сообщения по SMS, когда нет мобильного интернета",
            "Мобильді интернет жоқ кезде SMS арқылы хабарлау",
        )),
        esc(t(
            "One letter, then numbers separated by spaces. The station number is optional (your assigned station is used); when given, it comes first. You get a reply repeating what was understood: check the numbers.",
            "Одна буква, затем числа через пробел. Номер участка можно не писать (берётся ваш участок); если пишете — он первый. В ответ придёт то, что понято: проверьте цифры.",
            "Бір әріп, содан кейін бос орынмен бөлінген сандар. Учаске нөмірін жазбауға болады (сіздің учаскеңіз алынады); жазсаңыз — ол бірінші. Жауапта не түсінілгені қайталанады: сандарды тексеріңіз.",
        ))
    ));
    if let Some(to) = to {
        html.push_str(&format!(
            "<p class=\"to\">{} <code>{}</code></p>\n",
            esc(t(
                "Text to:",
                "Отправлять на номер:",
                "Мына нөмірге жіберіңіз:"
            )),
            esc(to)
        ));
    }
    html.push_str(&format!(
        "<table>\n<tr><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        esc(t("Letter", "Буква", "Әріп")),
        esc(t("What", "Что", "Не")),
        esc(t("Example", "Пример", "Үлгі"))
    ));
    for (letters, what, example) in rows {
        html.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>\n",
            esc(letters),
            esc(&what),
            esc(&example)
        ));
    }
    html.push_str("</table>\n");

    html.push_str(&format!(
        "<h2>{}</h2>\n<ol>\n",
        esc(t(
            "Protocol status (the number after P)",
            "Статус протокола (число после P)",
            "Хаттама мәртебесі (P-дан кейінгі сан)",
        ))
    ));
    for s in &forms.protocol.statuses {
        html.push_str(&format!("<li>{}</li>\n", esc(s.text.get(lang))));
    }
    html.push_str("</ol>\n");

    html.push_str(&format!(
        "<h2>{}</h2>\n<ol>\n",
        esc(t(
            "Protocol figures, in this order",
            "Цифры протокола, в этом порядке",
            "Хаттама сандары, осы ретпен",
        ))
    ));
    for (slot, text) in &slots {
        html.push_str(&format!(
            "<li>{} · {}</li>\n",
            esc(slot.id()),
            esc(text.get(lang))
        ));
    }
    html.push_str("</ol>\n");

    html.push_str(&format!(
        "<h2>{}</h2>\n<p>{}</p>\n</body>\n</html>\n",
        esc(t("Slips that are forgiven", "Что прощается", "Кешірілетін қателер")),
        esc(t(
            "Small or capital letters, Cyrillic or Latin (С = C, А = A, Н = H, Р = P); O or I typed for 0 or 1 inside a number; commas, dots, + or # instead of spaces; no space after the letter (H123 450, A123D). The reply says what it read.",
            "Строчные или заглавные, кириллица или латиница (С = C, А = A, Н = H, Р = P); О или I вместо 0 или 1 внутри числа; запятые, точки, + или # вместо пробелов; без пробела после буквы (H123 450, A123D). В ответе будет сказано, как прочитано.",
            "Кіші немесе бас әріп, кирилл немесе латын (С = C, А = A, Н = H, Р = P); сан ішіндегі 0 немесе 1 орнына О немесе I; бос орын орнына үтір, нүкте, + немесе #; әріптен кейін бос орынсыз (H123 450, A123D). Жауапта қалай оқылғаны айтылады.",
        ))
    ));
    html
}
