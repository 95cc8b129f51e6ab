//! The coverage map: well-formed standalone SVG, escaped words, bounded
//! size at a national scale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pollwatch_planning::map::{Coverage, MapLabels, MapOptions, svg};
use pollwatch_planning::{Station, bench};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Parses `svg` strictly: one `<svg>` root, balanced, only the five XML
/// entities. Returns the root's `<title>` text and the number of circles
/// and rects.
fn well_formed(svg: &str) -> (String, usize, usize) {
    let mut reader = Reader::from_str(svg);
    let mut stack: Vec<String> = Vec::new();
    let (mut title, mut circles, mut rects, mut roots) = (String::new(), 0, 0, 0);
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}", reader.buffer_position()));
        let mut element = |name: &str, stack: &Vec<String>| {
            if stack.is_empty() {
                roots += 1;
                assert_eq!(name, "svg");
            }
            match name {
                "circle" => circles += 1,
                "rect" => rects += 1,
                "svg" | "title" | "text" => {}
                other => panic!("unexpected element {other}"),
            }
        };
        match event {
            Event::Start(e) => {
                element(e.name().as_ref(), &stack);
                for a in e.attributes() {
                    a.unwrap();
                }
                stack.push(e.name().as_ref().to_owned());
            }
            Event::Empty(e) => {
                assert!(!stack.is_empty(), "element outside the root");
                element(e.name().as_ref(), &stack);
            }
            Event::End(e) => {
                assert_eq!(stack.pop().as_deref(), Some(e.name().as_ref()));
            }
            Event::Text(t) => {
                let text = t.xml10_content().into_owned();
                assert!(!text.contains('<'));
                if stack.len() == 2 && stack[1] == "title" {
                    title.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match r.xml10_content().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity &{other};"),
                    },
                };
                if stack.len() == 2 && stack[1] == "title" {
                    title.push(c);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::CData(_) | Event::Decl(_) | Event::PI(_) => {
                panic!("unexpected {event:?}")
            }
            Event::DocType(_) => panic!("no doctype"),
        }
    }
    assert!(stack.is_empty());
    assert_eq!(roots, 1);
    (title, circles, rects)
}

fn labels(title: &str) -> MapLabels {
    MapLabels {
        title: title.into(),
        ours: "наши".into(),
        others: "другие".into(),
        both: "и те и другие".into(),
        gap: "никто".into(),
        share_covered: "доля охваченных участков".into(),
        not_drawn: "без координат (не показаны)".into(),
    }
}

fn coverage(n: usize) -> Vec<Coverage> {
    (0..n)
        .map(|j| {
            [
                Coverage::Ours,
                Coverage::Others,
                Coverage::Both,
                Coverage::Gap,
            ][j % 4]
        })
        .collect()
}

#[test]
fn a_city_map_has_one_dot_per_station_with_coordinates() {
    let mut stations = bench::city(616, 1);
    stations[3].at = None;
    stations[4].at = Some((f64::NAN, 1.0));
    stations[5].number = "<7>&\"'".into();
    let title = "Охват <участков> & \"кавычки\" 'апострофы'\u{1}";
    let map = svg(&stations, &coverage(616), &MapOptions::new(labels(title)));
    let (got_title, circles, _) = well_formed(&map);
    assert_eq!(got_title, "Охват <участков> & \"кавычки\" 'апострофы'");
    // 614 stations and 4 legend dots.
    assert_eq!(circles, 614 + 4);
    assert!(map.contains("&lt;7&gt;&amp;&quot;&#39;"));
    assert!(map.contains("без координат (не показаны): 2"));
    assert!(map.contains("наши (153)"), "the legend counts");
    // Standalone: no script, style, link or external reference.
    assert_eq!(map.matches("http").count(), 1, "only the xmlns");
    for banned in [
        "<script",
        "href",
        "style",
        "url(",
        "<image",
        "<foreignObject",
    ] {
        assert!(!map.contains(banned), "{banned}");
    }
}

#[test]
fn a_national_map_is_a_bounded_grid() {
    // 95,000 stations spread over a country (coverage a third).
    let stations: Vec<Station> = bench::city(95_000, 2)
        .into_iter()
        .enumerate()
        .map(|(j, mut s)| {
            let (lat, lon) = s.at.unwrap();
            s.at = Some((lat + (j % 97) as f64 * 0.2, lon + (j % 89) as f64 * 0.5));
            s
        })
        .collect();
    let cov: Vec<Coverage> = (0..stations.len())
        .map(|j| {
            if j % 3 == 0 {
                Coverage::Ours
            } else {
                Coverage::Gap
            }
        })
        .collect();
    let map = svg(&stations, &cov, &MapOptions::new(labels("Россия")));
    assert!(map.len() < 1_000_000, "{} bytes", map.len());
    let (_, circles, rects) = well_formed(&map);
    assert_eq!(circles, 0);
    assert!(rects > 1_000, "{rects} cells");
    // Every cell's title counts its stations; they add up.
    let mut covered = 0;
    let mut total = 0;
    for t in map.split("<title>").skip(2) {
        let t = &t[..t.find("</title>").unwrap()];
        let (c, n) = t.split_once('/').unwrap();
        covered += c.parse::<usize>().unwrap();
        total += n.parse::<usize>().unwrap();
    }
    assert_eq!(total, 95_000);
    assert_eq!(covered, 95_000_usize.div_ceil(3));
    assert!(map.contains("доля охваченных участков"));
}

#[test]
fn an_empty_map_is_still_an_svg() {
    let (title, circles, _) = well_formed(&svg(&[], &[], &MapOptions::new(labels("x"))));
    assert_eq!(title, "x");
    assert_eq!(circles, 4);
}
