//! Saturating districts: every station of the chosen districts covered
//! before any other, the nearest volunteers first; the rest of the
//! volunteers nearest to home over the other stations (the "mix").
//!
//! Three optimal assignments in turn, each with its own certificate:
//!
//! 1. **cover**: one volunteer per station of the chosen districts, over
//!    all volunteers. With more volunteers than stations, every station
//!    gets one and the volunteers left are those whose placing would cost
//!    most (the dual's left-over column decides); with fewer, every
//!    volunteer is placed there and as many stations as there are
//!    volunteers are covered — the least total distance among those
//!    placements — and the rest are reported as uncovered.
//! 2. **deepen** (only when k > 1): up to k − 1 more per chosen station,
//!    from the volunteers still free. Covering a station comes before
//!    doubling another: a second observer at one station never leaves
//!    another of the chosen districts empty.
//! 3. **rest**: the volunteers still free, [`crate::nearest`] over the
//!    stations outside the chosen districts, k per station.
//!
//! Each phase is optimal given the ones before; the whole is not the
//! optimum of one global problem, and is not meant to be: the chosen
//! districts come first by the coordinator's decision, not by distance.

use serde::{Deserialize, Serialize};

use crate::assign::{Assignment, NearestOptions, NotPlaceable, Placement, assign_among};
use crate::{Error, Station, Volunteer, usable};

/// The result of [`saturate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    /// The chosen districts found among the stations, in the order given.
    pub districts: Vec<String>,
    /// Chosen districts that no station belongs to.
    pub unknown_districts: Vec<String>,
    /// The stations of the chosen districts, ascending.
    pub chosen_stations: Vec<usize>,
    /// Cover, then deepen (when k > 1), then rest; each optimal, each with
    /// its certificate.
    pub phases: Vec<Assignment>,
    /// Every placement of every phase, by volunteer.
    pub placed: Vec<Placement>,
    /// Stations of the chosen districts that nobody covers (too few
    /// volunteers, or no coordinates).
    pub uncovered: Vec<usize>,
    /// Volunteers without a place after the last phase.
    pub left_over: Vec<usize>,
    /// Volunteers no phase could place, with the reason.
    pub not_placeable: Vec<NotPlaceable>,
}

/// Saturates `districts` (see the module's documentation), then places
/// the rest nearest to home.
pub fn saturate(
    stations: &[Station],
    volunteers: &[Volunteer],
    districts: &[String],
    options: &NearestOptions,
) -> Result<Saturation, Error> {
    let k = options.per_station;
    if k == 0 {
        return Err(Error::ZeroCapacity(k));
    }
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for d in districts {
        if found.contains(d) || unknown.contains(d) {
            continue;
        }
        if stations.iter().any(|s| &s.district == d) {
            found.push(d.clone());
        } else {
            unknown.push(d.clone());
        }
    }
    let (chosen, others): (Vec<usize>, Vec<usize>) =
        (0..stations.len()).partition(|&j| found.contains(&stations[j].district));
    let everyone: Vec<usize> = (0..volunteers.len()).collect();
    let one = NearestOptions {
        per_station: 1,
        ..*options
    };
    let mut phases = vec![assign_among(
        stations, volunteers, &everyone, &chosen, &one,
    )?];
    let mut free = phases[0].left_over.clone();
    let not_placeable = phases[0].not_placeable.clone();
    if k > 1 && !free.is_empty() {
        // The chosen stations that can take more (those with coordinates).
        let deeper = NearestOptions {
            per_station: k - 1,
            ..*options
        };
        let deepen = assign_among(stations, volunteers, &free, &chosen, &deeper)?;
        free = deepen.left_over.clone();
        phases.push(deepen);
    }
    if !free.is_empty() {
        let rest = assign_among(stations, volunteers, &free, &others, options)?;
        free = rest.left_over.clone();
        phases.push(rest);
    }
    let mut placed: Vec<Placement> = phases.iter().flat_map(|p| p.placed.clone()).collect();
    placed.sort_by_key(|p| p.volunteer);
    let mut covered = vec![false; stations.len()];
    for p in &placed {
        covered[p.station] = true;
    }
    let uncovered = chosen
        .iter()
        .copied()
        .filter(|&j| !covered[j] || usable(stations[j].at).is_none())
        .collect();
    Ok(Saturation {
        districts: found,
        unknown_districts: unknown,
        chosen_stations: chosen,
        phases,
        placed,
        uncovered,
        left_over: free,
        not_placeable,
    })
}
