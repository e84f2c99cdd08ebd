//! `GET /api/grid?from=D&to=D`: the dashboard's processor × date grid as
//! JSON (see [`crate::grid`]). Without a range, the last 30 scheduled
//! dates; a bad date, a reversed or overlong range, or an unknown
//! parameter is a 400 naming the parameter.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;

use super::errors::ApiError;
use super::extract::{Params, date_field};
use super::state::AppState;
use crate::grid::{self, Grid, RangeError};

/// Reads the range (`from` and `to`, both or neither) from the query
/// string, naming any bad parameter.
pub(super) fn range_from(
    query: &HashMap<String, String>,
) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>, ApiError> {
    const KNOWN: [&str; 2] = ["from", "to"];
    if let Some(unknown) = query.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_field(
            unknown,
            format!("unknown parameter `{unknown}`; known: from, to"),
        ));
    }
    let from = query
        .get("from")
        .map(|d| date_field("from", d))
        .transpose()?;
    let to = query.get("to").map(|d| date_field("to", d)).transpose()?;
    let (from, to) = match (from, to) {
        (None, None) => return Ok(None),
        (Some(from), Some(to)) => (from, to),
        (Some(_), None) => {
            return Err(ApiError::bad_field("to", "`from` needs `to` as well"));
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_field("from", "`to` needs `from` as well"));
        }
    };
    grid::check_range(from, to).map_err(|error| {
        let field = match error {
            RangeError::Reversed { .. } => "from",
            RangeError::TooLong { .. } => "to",
        };
        ApiError::bad_field(field, error.to_string())
    })?;
    Ok(Some((from, to)))
}

/// `GET /api/grid`.
pub async fn grid(
    State(state): State<AppState>,
    Params(query): Params,
) -> Result<Json<Grid>, ApiError> {
    let range = range_from(&query)?;
    let grid = state
        .blocking(move |host| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            grid::build(host.store.as_ref(), &pipeline, range, chrono::Utc::now())
                .map_err(ApiError::internal)
        })
        .await?;
    Ok(Json(grid))
}
