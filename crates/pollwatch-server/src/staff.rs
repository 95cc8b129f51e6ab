//! Staff actions written as events of the group's log: the coordinator's
//! steps on alerts and cases, verdicts on reports, the choice of the report
//! that stands, messages. One door for all of them, so each carries its
//! author (`by`, the staff account's name) and is checked the same way
//! (`pollwatch_domain::actions::parse`), and the situation room has folded
//! it before the coordinator's next page.

use pollwatch_domain::{ClientId, Event, EventKind, NewEvent, Permission, RowId};
use pollwatch_store::Principal;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Record a staff action; answers the stored event.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    kind: EventKind,
    station: Option<RowId>,
    mut payload: Map<String, Value>,
) -> Result<Event, ApiError> {
    caller.require(Permission::Coordinate)?;
    let group_id = caller.group_id()?;
    let Principal::Staff { user_id, .. } = caller.principal() else {
        return Err(ApiError::Forbidden(
            "staff actions are for coordinators".into(),
        ));
    };
    let by = state
        .store
        .user(*user_id)
        .await?
        .map(|u| u.username)
        .ok_or_else(|| ApiError::Forbidden("this account no longer exists".into()))?;
    payload.insert("by".into(), Value::String(by));
    if let Some(Err(problems)) = pollwatch_domain::actions::parse(kind, &payload) {
        return Err(crate::api::refused(problems));
    }
    let now = pollwatch_store::now();
    let event = NewEvent {
        client_id: ClientId::from_bytes(rand::random()),
        group_id,
        observer_id: None,
        station_id: station,
        kind,
        payload: Value::Object(payload),
        observed_at: now,
        supersedes: None,
    };
    event
        .check(now)
        .map_err(|e| ApiError::invalid("event", e))?;
    let appended = state.store.append(event).await?;
    state.rooms.catch_up_quietly(group_id).await;
    Ok(appended.event)
}
