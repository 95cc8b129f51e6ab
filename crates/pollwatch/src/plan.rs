//! `pollwatch plan`: where a group's volunteers should go, from a file of
//! their home stations. The strategies are `pollwatch-planning`'s; this
//! reads the election's stations and the homes file, and writes the plan.
//!
//! A home is a station number, never an address: the station nearest
//! where the volunteer lives or votes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use pollwatch_domain::Slug;
use pollwatch_planning::{Placement, Station, Volunteer};

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Each volunteer to the station nearest home, at most K per station,
    /// the total distance the least possible (proven by the dual
    /// certificate, printed).
    Nearest(NearestArgs),
    /// Every station of the chosen districts first, nearest volunteers
    /// first; the rest nearest to home.
    Saturate(SaturateArgs),
    /// A quick-count sample (stratified by district, proportional to
    /// registered voters, sized for a margin of error, drawn from a seed)
    /// with volunteers assigned to it.
    Sample(SampleArgs),
}

#[derive(Args)]
pub struct Common {
    /// The group whose plan it is (its slug).
    #[arg(long)]
    group: String,
    /// CSV (or workbook) with columns `code_name,home_station`: each
    /// volunteer and the number of the station nearest their home.
    /// Without it, the group's observers and the home stations they picked
    /// in the app or a coordinator entered.
    #[arg(long)]
    homes: Option<PathBuf>,
    /// Where to write the plan: CSV `code_name,station,distance_m`, one
    /// row per volunteer placed.
    #[arg(long)]
    out: PathBuf,
    /// At most this many volunteers per station.
    #[arg(long, default_value_t = 1)]
    per_station: usize,
    /// The election (default: the latest).
    #[arg(long)]
    election: Option<String>,
}

#[derive(Args)]
pub struct NearestArgs {
    #[command(flatten)]
    common: Common,
    /// Plan around the other groups: no one goes to a station their
    /// imported manifests cover (`pollwatch coverage import`).
    #[arg(long)]
    around_others: bool,
}

#[derive(Args)]
pub struct SaturateArgs {
    #[command(flatten)]
    common: Common,
    /// The districts to cover whole, comma-separated, as the registry
    /// names them.
    #[arg(long, value_delimiter = ',', required = true)]
    districts: Vec<String>,
}

#[derive(Args)]
pub struct SampleArgs {
    #[command(flatten)]
    common: Common,
    /// Target margin of error, in percentage points.
    #[arg(long, default_value_t = 1.0)]
    moe: f64,
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
    /// The share expected for the leading candidate (0.5 is the most
    /// cautious).
    #[arg(long, default_value_t = 0.5)]
    expected_share: f64,
    /// Design effect of a sample of stations rather than voters.
    #[arg(long, default_value_t = 1.0)]
    design_effect: f64,
    /// Expected turnout, to turn registered voters into votes.
    #[arg(long, default_value_t = 0.6)]
    turnout: f64,
    /// The draw's seed: the same seed draws the same stations.
    #[arg(long)]
    seed: u64,
}

pub async fn run(db: &str, cmd: PlanCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PlanCommand::Nearest(a) => {
            let input = Input::read(db, &a.common).await?;
            let result = if a.around_others {
                let among = input.around_others().await?;
                pollwatch_planning::nearest_among(
                    &input.stations,
                    &input.volunteers,
                    &among,
                    &options(&a.common),
                )?
            } else {
                pollwatch_planning::nearest(
                    &input.stations,
                    &input.volunteers,
                    &options(&a.common),
                )?
            };
            report_certificate("nearest to home", &result.certificate);
            report_left(&input, &result.left_over, &result.not_placeable);
            input.write(&a.common.out, &result.placed)?;
        }
        PlanCommand::Saturate(a) => {
            let input = Input::read(db, &a.common).await?;
            let result = pollwatch_planning::saturate(
                &input.stations,
                &input.volunteers,
                &a.districts,
                &options(&a.common),
            )?;
            if !result.unknown_districts.is_empty() {
                anyhow::bail!(
                    "--districts: no station of the election is in {}",
                    result.unknown_districts.join(", ")
                );
            }
            for (i, phase) in result.phases.iter().enumerate() {
                report_certificate(&format!("phase {}", i + 1), &phase.certificate);
            }
            eprintln!(
                "{} stations in {}; {} of them covered",
                result.chosen_stations.len(),
                result.districts.join(", "),
                result.chosen_stations.len() - result.uncovered.len()
            );
            report_left(&input, &result.left_over, &result.not_placeable);
            input.write(&a.common.out, &result.placed)?;
        }
        PlanCommand::Sample(a) => {
            let input = Input::read(db, &a.common).await?;
            let result = pollwatch_planning::sample(
                &input.stations,
                &input.volunteers,
                &pollwatch_planning::SampleOptions {
                    moe_points: a.moe,
                    confidence: a.confidence,
                    expected_share: a.expected_share,
                    design_effect: a.design_effect,
                    expected_turnout: a.turnout,
                    seed: a.seed,
                    assign: options(&a.common),
                },
            )?;
            eprintln!("{}", result.formula);
            for d in &result.allocation {
                eprintln!(
                    "  {}: {} of {} stations ({} registered voters)",
                    d.district, d.sampled, d.stations, d.registered_voters
                );
            }
            report_certificate("sample stations", &result.assignment.certificate);
            if !result.uncovered.is_empty() {
                eprintln!(
                    "{} sample stations have nobody: {}",
                    result.uncovered.len(),
                    numbers(&input, &result.uncovered)
                );
            }
            report_left(
                &input,
                &result.assignment.left_over,
                &result.assignment.not_placeable,
            );
            input.write(&a.common.out, &result.assignment.placed)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn options(c: &Common) -> pollwatch_planning::NearestOptions {
    pollwatch_planning::NearestOptions {
        per_station: c.per_station,
        ..Default::default()
    }
}

fn report_certificate(what: &str, c: &pollwatch_planning::Certificate) {
    eprintln!(
        "{what}: total {} m; dual {} ({} of {} pairs checked, largest violation {}): {}",
        c.primal,
        c.dual,
        c.checked_pairs,
        c.all_pairs,
        c.max_violation,
        if c.optimal {
            "optimal"
        } else {
            "NOT PROVEN OPTIMAL"
        }
    );
}

fn report_left(
    input: &Input,
    left_over: &[usize],
    not_placeable: &[pollwatch_planning::NotPlaceable],
) {
    if !left_over.is_empty() {
        let names: Vec<&str> = left_over
            .iter()
            .filter_map(|&v| input.volunteers.get(v).map(|v| v.code_name.as_str()))
            .collect();
        eprintln!(
            "{} volunteers left over (no free station): {}",
            names.len(),
            names.join(", ")
        );
    }
    for n in not_placeable {
        if let Some(v) = input.volunteers.get(n.volunteer) {
            let why = match n.reason {
                pollwatch_planning::Unplaceable::HomeWithoutCoordinates { home } => format!(
                    "home station {} has no coordinates in the registry",
                    input.stations.get(home).map_or("?", |s| s.number.as_str())
                ),
                other => other.to_string(),
            };
            eprintln!("not placed: {} ({why})", v.code_name);
        }
    }
}

fn numbers(input: &Input, stations: &[usize]) -> String {
    stations
        .iter()
        .filter_map(|&j| input.stations.get(j).map(|s| s.number.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The election's stations and the volunteers of the homes file.
struct Input {
    stations: Vec<Station>,
    volunteers: Vec<Volunteer>,
    store: std::sync::Arc<dyn pollwatch_store::Store>,
    group_id: pollwatch_domain::RowId,
    election: String,
}

impl Input {
    async fn read(db: &str, c: &Common) -> anyhow::Result<Self> {
        if c.per_station == 0 {
            anyhow::bail!("--per-station: at least 1");
        }
        let bytes = match &c.homes {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            }
            None => None,
        };
        let store = crate::open_store(db).await?;
        let slug = Slug::parse(&c.group).context("--group")?;
        let group = store
            .group(&slug)
            .await?
            .with_context(|| format!("no group {slug}"))?;
        let election = crate::pick_election(&*store, c.election.as_deref())
            .await?
            .context(
                "no election: import a station registry first (`pollwatch stations import`)",
            )?;
        let registry = store.stations(election.id).await?;
        let stations: Vec<Station> = registry
            .iter()
            .map(|s| Station {
                number: s.record.number.as_str().to_owned(),
                district: s.record.district.clone(),
                registered_voters: s.record.registered_voters,
                at: s.record.coordinates.map(|c| (c.latitude, c.longitude)),
            })
            .collect();
        let volunteers = match (&c.homes, &bytes) {
            (Some(path), Some(bytes)) => homes(&path.display().to_string(), bytes, &stations)?,
            _ => stored_homes(&*store, group.id, &registry).await?,
        };
        // A plan may name volunteers not enrolled yet; say so, since a
        // typo in a code name looks the same.
        let known: std::collections::HashSet<String> = store
            .observers(group.id)
            .await?
            .into_iter()
            .map(|o| o.code_name.as_str().to_owned())
            .collect();
        let unknown: Vec<&str> = volunteers
            .iter()
            .map(|v| v.code_name.as_str())
            .filter(|n| !known.contains(*n))
            .collect();
        if !unknown.is_empty() {
            eprintln!(
                "note: {} of {} volunteers are not observers of {slug} yet: {}",
                unknown.len(),
                volunteers.len(),
                unknown
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(Self {
            stations,
            volunteers,
            store,
            group_id: group.id,
            election: election.slug.as_str().to_owned(),
        })
    }

    /// The stations no other group's imported manifest covers.
    async fn around_others(&self) -> anyhow::Result<Vec<usize>> {
        let (manifests, refused) =
            pollwatch_server::coverage::imported(&*self.store, self.group_id).await?;
        for (origin, why) in &refused {
            eprintln!("{origin:?}'s stored manifest is refused: {why}");
        }
        let theirs: std::collections::HashSet<&str> = manifests
            .iter()
            .filter(|m| m.election == self.election)
            .flat_map(|m| m.stations.iter().map(|s| s.number.as_str()))
            .collect();
        let among: Vec<usize> = (0..self.stations.len())
            .filter(|&j| !theirs.contains(self.stations[j].number.as_str()))
            .collect();
        eprintln!(
            "around {} other groups' manifests: {} stations they cover left out",
            manifests.len(),
            self.stations.len() - among.len()
        );
        Ok(among)
    }

    /// The plan as CSV, by code name, written whole or not at all.
    fn write(&self, out: &Path, placed: &[Placement]) -> anyhow::Result<()> {
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("creating a file in {}", dir.display()))?;
        let mut rows: Vec<(&str, &str, u32)> = placed
            .iter()
            .filter_map(|p| {
                Some((
                    self.volunteers.get(p.volunteer)?.code_name.as_str(),
                    self.stations.get(p.station)?.number.as_str(),
                    p.distance_m,
                ))
            })
            .collect();
        rows.sort();
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(tmp.as_file()));
        w.write_record(["code_name", "station", "distance_m"])?;
        let mut total = 0u64;
        for (name, station, d) in &rows {
            w.write_record([*name, *station, &d.to_string()])?;
            total += u64::from(*d);
        }
        w.flush()?;
        drop(w);
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("writing {}", out.display()))?;
        tmp.persist(out)
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "wrote {} placements ({} volunteers in all), {total} m in total, to {}",
            rows.len(),
            self.volunteers.len(),
            out.display()
        );
        Ok(())
    }
}

/// The group's observers with the homes kept for them (picked in the app
/// or entered by a coordinator), in code-name order.
async fn stored_homes(
    store: &dyn pollwatch_store::Store,
    group: pollwatch_domain::RowId,
    registry: &[pollwatch_domain::Station],
) -> anyhow::Result<Vec<Volunteer>> {
    let index: std::collections::HashMap<pollwatch_domain::RowId, usize> = registry
        .iter()
        .enumerate()
        .map(|(j, s)| (s.id, j))
        .collect();
    let mut home = std::collections::HashMap::new();
    let mut after = 0;
    loop {
        let page = store.homes(group, after, 1000).await?;
        let last = page.len() < 1000;
        for h in page {
            after = h.observer_id;
            if let Some(j) = index.get(&h.station_id) {
                home.insert(h.observer_id, *j);
            }
        }
        if last {
            break;
        }
    }
    let mut out: Vec<Volunteer> = store
        .observers(group)
        .await?
        .into_iter()
        .map(|o| Volunteer {
            code_name: o.code_name.as_str().to_owned(),
            home: home.get(&o.id).copied(),
        })
        .collect();
    out.sort_by(|a, b| a.code_name.cmp(&b.code_name));
    let with = out.iter().filter(|v| v.home.is_some()).count();
    eprintln!(
        "{} observers of the group, {with} with a home station",
        out.len()
    );
    Ok(out)
}

/// The volunteers of a homes file: `code_name,home_station` (any order,
/// other columns ignored), each code name once, each station one of the
/// election's. Every error names the file, line and column.
fn homes(file: &str, bytes: &[u8], stations: &[Station]) -> anyhow::Result<Vec<Volunteer>> {
    use std::collections::HashMap;
    let table = pollwatch_domain::table::read(file, bytes, &Default::default())
        .map_err(|errors| anyhow::anyhow!(lines(&errors)))?;
    for w in &table.warnings {
        eprintln!("note: {w}");
    }
    let names = table.header_names();
    let column = |want: &str| {
        names
            .iter()
            .position(|n| n.trim_start_matches('\u{feff}').eq_ignore_ascii_case(want))
            .with_context(|| {
                format!(
                    "{file}:{}: no column {want:?} ({})",
                    table.header.line,
                    table.header_context()
                )
            })
    };
    let (name_col, home_col) = (column("code_name")?, column("home_station")?);
    let by_number: HashMap<&str, usize> = stations
        .iter()
        .enumerate()
        .map(|(i, s)| (s.number.as_str(), i))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        if let Some(why) = table.misshapen(row) {
            errors.push(format!("{file}:{}: {why}", row.line));
            continue;
        }
        let cell = |i: usize| row.cells.get(i).map_or("", |c| c.trim());
        let name = cell(name_col);
        if name.is_empty() {
            errors.push(format!("{file}:{}: code_name: empty", row.line));
            continue;
        }
        if let Some(first) = seen.insert(name.to_owned(), row.line) {
            errors.push(format!(
                "{file}:{}: code_name: {name:?} again (first on line {first})",
                row.line
            ));
            continue;
        }
        let home = cell(home_col);
        let home = if home.is_empty() {
            // Placed by no distance: said among the not placed.
            None
        } else {
            match by_number.get(home) {
                Some(&i) => Some(i),
                None => {
                    errors.push(format!(
                        "{file}:{}: home_station: no station {home:?} in the election",
                        row.line
                    ));
                    continue;
                }
            }
        };
        out.push(Volunteer {
            code_name: name.to_owned(),
            home,
        });
    }
    if !errors.is_empty() {
        const SHOWN: usize = 20;
        let more = errors.len().saturating_sub(SHOWN);
        let mut msg = errors
            .into_iter()
            .take(SHOWN)
            .collect::<Vec<_>>()
            .join("\n");
        if more > 0 {
            msg.push_str(&format!("\n... and {more} more"));
        }
        anyhow::bail!("{msg}");
    }
    Ok(out)
}

fn lines(errors: &[pollwatch_domain::registry::RegistryError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
