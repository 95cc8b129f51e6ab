//! Coverage shared between independent groups: the manifests a group
//! imported, each verified again against the key pinned for its group
//! (the store keeps the signed note as it came), for the report and the
//! CLI. The format, the check and the combining are `pollwatch-planning`'s.

use pollwatch_domain::RowId;
use pollwatch_ledger::VerifierKey;
use pollwatch_planning::manifest::{self, Manifest};
use pollwatch_store::{Store, StoreError};

/// The group's imported manifests that verify, and for those that no
/// longer do, the group they name and why.
pub async fn imported(
    store: &dyn Store,
    group_id: RowId,
) -> Result<(Vec<Manifest>, Vec<(String, String)>), StoreError> {
    let mut good = Vec::new();
    let mut refused = Vec::new();
    for m in store.manifests(group_id).await? {
        let pinned = match store.coverage_key(group_id, &m.origin).await? {
            Some(k) => match VerifierKey::parse(&k) {
                Ok(k) => Some(k),
                Err(e) => {
                    refused.push((m.origin, format!("the pinned key does not parse: {e}")));
                    continue;
                }
            },
            None => None,
        };
        match manifest::verify_manifest(&m.note, pinned.as_ref()) {
            Ok(v) => good.push(v.manifest),
            Err(e) => refused.push((m.origin, e.to_string())),
        }
    }
    Ok((good, refused))
}
