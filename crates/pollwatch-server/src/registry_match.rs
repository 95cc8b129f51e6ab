//! A stored official result as the group's registry sees it: when the
//! result is national and keyed by region and number, its rows of the
//! group's region under the registry's numbers
//! (`pollwatch_analysis::matching`), so that the comparison and the quick
//! count at registry station 1234 find "Город Москва / 1234". Kept apart
//! from the pages so that they only call [`registry_view`].

use pollwatch_analysis::matching;
use pollwatch_domain::results::{Mapping, ResultSet};
use pollwatch_store::{ResultImportInfo, StoreError};

use crate::rooms::Rooms;

/// The result for the registry, and a note for the page when it could not
/// be matched (then the result is answered as it is). Results keyed by
/// one id are answered untouched without reading the registry.
pub async fn registry_view(
    rooms: &Rooms,
    info: &ResultImportInfo,
    set: ResultSet,
) -> Result<(ResultSet, Option<String>), StoreError> {
    // The mapping was checked when the result was stored.
    let Ok(mapping) = Mapping::parse("mapping", &info.mapping) else {
        return Ok((set, None));
    };
    let key = mapping.station_key();
    if !key.has_region() {
        return Ok((set, None));
    }
    let election = rooms.election().await?;
    let registry: Vec<matching::RegistryStation<'_>> = election
        .stations
        .iter()
        .map(|s| matching::RegistryStation {
            number: &s.number,
            registered_voters: s.registered_voters,
        })
        .collect();
    match matching::match_registry(&set, key, mapping.home_region.as_deref(), &registry) {
        Ok(m) => Ok((m.apply(set), None)),
        Err(e) => Ok((set, Some(format!("not matched with the registry: {e}")))),
    }
}
