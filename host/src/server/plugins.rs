//! `GET /plugins`, `GET /plugins/{name}/history`, `PUT /plugins/{name}`
//! (deploy the component in the body; `?shadow=true` stores it as the
//! shadow version instead), `POST /plugins/{name}/rollback` (optional body
//! `{"to": HASH}`), `DELETE /plugins/{name}` (undeploy its registry
//! version) and `GET /plugins/{name}/diff?from=D&to=D` (the shadow
//! compared with the live table, as `slate diff`).
//! A rejected deployment answers 422 naming the check that failed; the
//! active version is untouched.

use std::collections::HashMap;

use axum::Json;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::extract::{NoParams, OptionalJsonBody, Params, flag_param, only_params, read_body};
use super::state::{AppState, ServedHost};
use crate::deploy::{self, DeployCheck, DeployError, Switched};
use crate::plugin::spec::Lookback;
use crate::registry::Deployment;
use crate::shadow::{self, ShadowDiff, ShadowError, ShadowStanding};

/// One processor as `GET /plugins` lists it.
#[derive(Debug, Serialize)]
pub struct PluginEntry {
    /// The processor name.
    pub name: String,
    /// Its version string.
    pub version: String,
    /// The active version's content hash.
    pub hash: String,
    /// Its phase.
    pub phase: String,
    /// The processors it depends on.
    pub dependencies: Vec<String>,
    /// Each of them with how far back it reads it.
    pub reads: Vec<UpstreamRead>,
    /// `bundled`, `registry` or `plugin_dir`.
    pub source: String,
    /// When the registry version became active.
    pub deployed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its shadow version, running beside it, and how that has gone; `null`
    /// when it has none.
    pub shadow: Option<ShadowStanding>,
}

/// One upstream a processor reads, and how far back.
#[derive(Debug, Serialize)]
pub struct UpstreamRead {
    /// The upstream processor.
    pub upstream: String,
    /// How far back: `{"Games": 10}`, `{"SeasonToDate": {"month": 10,
    /// "day": 1}}`, or `"None"` for its own date alone.
    pub lookback: Lookback,
}

/// The content hashes of the bundled processors, computed once.
fn bundled_hashes() -> &'static [String] {
    static HASHES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    HASHES.get_or_init(|| {
        crate::bundled::PLUGINS
            .iter()
            .map(|b| crate::plugin::content_hash(b.bytes))
            .collect()
    })
}

/// `GET /plugins`.
pub async fn list_plugins(
    State(state): State<AppState>,
    _: NoParams,
) -> Result<Json<Vec<PluginEntry>>, ApiError> {
    state
        .blocking(|host| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            let active = host.registry.active().map_err(ApiError::internal)?;
            let mut shadows = HashMap::new();
            for shadow in host.registry.shadows().map_err(ApiError::internal)? {
                let Some(live) = pipeline.plugin(&shadow.stored.name) else {
                    continue;
                };
                let store = Some(host.store.as_ref());
                let standing = ShadowStanding::of(store, &shadow, &live.spec.output_table)
                    .map_err(ApiError::internal)?;
                shadows.insert(shadow.stored.name.clone(), standing);
            }
            let entries = pipeline
                .order()
                .iter()
                .filter_map(|name| pipeline.plugin(name))
                .map(|plugin| {
                    let spec = &plugin.spec;
                    let deployed = active
                        .iter()
                        .find(|a| a.stored.name == spec.name && a.stored.hash == plugin.hash);
                    let bundled = bundled_hashes().contains(&plugin.hash);
                    PluginEntry {
                        name: spec.name.clone(),
                        version: spec.version.clone(),
                        hash: plugin.hash.clone(),
                        phase: spec.phase.to_string(),
                        dependencies: spec.upstream.clone(),
                        reads: spec
                            .upstream
                            .iter()
                            .map(|upstream| UpstreamRead {
                                upstream: upstream.clone(),
                                lookback: spec.lookback_of(upstream),
                            })
                            .collect(),
                        source: match (deployed, bundled) {
                            (Some(_), _) => "registry",
                            (None, true) => "bundled",
                            (None, false) => "plugin_dir",
                        }
                        .into(),
                        deployed_at: deployed.map(|a| a.deployed_at),
                        shadow: shadows.remove(&spec.name),
                    }
                })
                .collect();
            Ok(Json(entries))
        })
        .await
}

#[derive(Serialize)]
struct Rejected {
    error: String,
    field: &'static str,
    check: DeployCheck,
}

/// A rejected switch's answer, naming `field` (what in the request was
/// wrong: `body`, `name`, `to`).
fn rejected(error: DeployError, field: &'static str) -> Response {
    let status = match &error.check {
        DeployCheck::Version => StatusCode::NOT_FOUND,
        DeployCheck::Hash => StatusCode::BAD_REQUEST,
        // The versions as they stand refuse it: a conflict with them.
        DeployCheck::State => StatusCode::CONFLICT,
        // The table belongs to someone else: a conflict with its owner.
        DeployCheck::Ownership => StatusCode::CONFLICT,
        // The live table cannot take its schema: a conflict with it.
        DeployCheck::Schema => StatusCode::CONFLICT,
        DeployCheck::Registry => {
            tracing::error!("deployment failed: {error}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        // An outage: the same request may succeed later.
        DeployCheck::Unavailable => {
            tracing::warn!("deployment not attempted: {error}");
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let body = Rejected {
        // Cut as every error an answer carries ([`ApiError`]).
        error: crate::rows::cut_short(error.to_string(), super::errors::MAX_ERROR_BYTES),
        field,
        check: error.check,
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        super::errors::retry_later(&mut response);
    }
    response
}

/// `PUT /plugins/{name}`: the body is the component.
pub async fn deploy_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Params(query): Params,
    request: Request,
) -> Result<Response, ApiError> {
    only_params(&query, &["shadow"])?;
    let shadow = flag_param(&query, "shadow")?;
    let bytes = read_body(
        request,
        &["application/wasm", "application/octet-stream"],
        state.config.max_component_bytes,
        state.config.body_read_timeout,
    )
    .await?;
    // Checked again once the body is in: an upload takes as long as the
    // client likes, and one begun before a SIGTERM must not land during
    // the drain.
    state.refuse_if_draining()?;
    if shadow {
        let outcome = state
            .blocking(move |host| host.deploy_shadow(&bytes, Some(&name)))
            .await;
        return Ok(match outcome {
            Ok(shadow) => (StatusCode::OK, Json(shadow)).into_response(),
            Err(error) => rejected(error, "body"),
        });
    }
    let outcome = state
        .blocking(move |host| host.deploy(&bytes, Some(&name)))
        .await;
    Ok(match outcome {
        Ok(deployment) => (StatusCode::OK, Json(deployment)).into_response(),
        Err(error) => rejected(error, "body"),
    })
}

/// The body of a rollback.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackTo {
    /// The version's hash or a unique prefix.
    pub to: Option<String>,
}

/// `POST /plugins/{name}/rollback`: 200 with the switch; 404 for an
/// unknown processor or a `to` that names no version of it, 400 for a `to`
/// that is no hash, 409 when the versions as they stand refuse it (the
/// one named is active already, or was never active; there is no earlier
/// one).
pub async fn rollback_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Params(query): Params,
    OptionalJsonBody(body): OptionalJsonBody<RollbackTo>,
) -> Result<Response, ApiError> {
    only_params(&query, &[])?;
    // Checked again once the body is in, as for a deploy.
    state.refuse_if_draining()?;
    let to = body.and_then(|b| b.to);
    let field = if to.is_some() { "to" } else { "name" };
    let outcome: Result<Switched, DeployError> = state
        .blocking(move |host| {
            known_processor(host, &name)?;
            Ok(host.rollback(&name, to.as_deref()))
        })
        .await?;
    Ok(match outcome {
        Ok(deployment) => (StatusCode::OK, Json(deployment)).into_response(),
        Err(error) => rejected(error, field),
    })
}

/// `DELETE /plugins/{name}`: ends the processor's registry version (see
/// [`crate::deploy::Deployer::undeploy`]); 200 with the undeploy's record
/// and the bundled version that runs in its place, if any. 404 for an
/// unknown processor, 409 for one with no registry version, 422 naming
/// the processors that depend on it.
pub async fn undeploy_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Params(query): Params,
) -> Result<Response, ApiError> {
    only_params(&query, &[])?;
    let outcome = state
        .blocking(move |host| {
            known_processor(host, &name)?;
            Ok(host.undeploy(&name))
        })
        .await?;
    Ok(match outcome {
        Ok(undeployed) => (StatusCode::OK, Json(undeployed)).into_response(),
        Err(error) => rejected(error, "name"),
    })
}

/// A 404 naming `name` unless it is a processor of the pipeline or has a
/// version in the registry.
fn known_processor(host: &ServedHost, name: &str) -> Result<(), ApiError> {
    let pipeline = host.pipeline().map_err(ApiError::internal)?;
    let history = host.registry.history(name).map_err(ApiError::internal)?;
    match history.is_empty() && pipeline.plugin(name).is_none() {
        true => Err(ApiError::not_found("name", format!("no processor {name}"))),
        false => Ok(()),
    }
}

/// `DELETE /plugins/{name}/shadow[?keep=1]`: ends the processor's shadow
/// version without making it active, and drops its tables unless `keep`
/// (also those a shadow ended otherwise left); 200 naming the tables
/// dropped, 404 for an unknown processor or one with neither.
pub async fn drop_shadow(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Params(query): Params,
) -> Result<Response, ApiError> {
    only_params(&query, &["keep"])?;
    let keep = flag_param(&query, "keep")?;
    let dropped = state
        .blocking(move |host| {
            known_processor(host, &name)?;
            let cleared = host
                .registry
                .clear_shadow(&name)
                .map_err(ApiError::internal)?;
            if cleared
                && let Err(error) =
                    deploy::resolve_alerts_of_ended_shadow(host.store.as_ref(), &name)
            {
                tracing::warn!(%error, processor = %name, "the dropped shadow's open alerts were not resolved");
            }
            // Tables of a shadow that ended otherwise (its bytes deployed) go too.
            let dropped = match keep {
                true => Vec::new(),
                false => {
                    shadow::drop_tables(host.store.as_ref(), &name).map_err(ApiError::internal)?
                }
            };
            match cleared || !dropped.is_empty() {
                true => Ok(dropped),
                false => Err(ApiError::not_found(
                    "name",
                    format!("{name} has no shadow version, nor shadow tables"),
                )),
            }
        })
        .await?;
    let tables: Vec<String> = dropped.iter().map(ToString::to_string).collect();
    Ok(Json(serde_json::json!({ "shadow": null, "tables_dropped": tables })).into_response())
}

/// `GET /plugins/{name}/diff`: how the shadow's table differs from the
/// live one on the dates of the range (all by default) the shadow ran;
/// 404 for an unknown processor, one without a shadow, or a shadow that
/// has not run.
pub async fn plugin_diff(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Params(query): Params,
) -> Result<Json<ShadowDiff>, ApiError> {
    let range = super::grid::range_from(&query)?;
    state
        .blocking(move |host| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            let since = shadow::shadow_since(&host.registry, &name).map_err(ApiError::internal)?;
            shadow::compare(host.store.as_ref(), &pipeline, &name, range, since)
                .map(Json)
                .map_err(|error| match error {
                    ShadowError::Store(e) => ApiError::internal(e),
                    ShadowError::Input(e) => ApiError::internal(e),
                    other => ApiError::not_found("name", other.to_string()),
                })
        })
        .await
}

/// `GET /plugins/{name}/history`: the versions `name` had and the shadow
/// versions it was given or dropped, newest first
/// (as `slate plugins history NAME`); empty for a processor never
/// deployed (its bundled version runs), 404 for an unknown name.
pub async fn plugin_history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    _: NoParams,
) -> Result<Json<Vec<Deployment>>, ApiError> {
    state
        .blocking(move |host| {
            known_processor(host, &name)?;
            host.registry
                .history_with_shadows(&name)
                .map(Json)
                .map_err(ApiError::internal)
        })
        .await
}
