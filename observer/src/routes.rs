//! The routes: the page and its assets, the JSON API, the event stream, the
//! one action, and `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use treeline::{ActorId, ExitReason, System};

use crate::api;
use crate::assets;
use crate::dead_letters::DeadLetterLog;
use crate::hub::{Frame, Hub, Watch};
use crate::security::{self, Security};

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) system: System,
    pub(crate) hub: Arc<Hub>,
    pub(crate) dead_letters: DeadLetterLog,
    pub(crate) destructive: bool,
    pub(crate) busy: Duration,
    pub(crate) stuck: Duration,
    #[cfg(feature = "metrics")]
    pub(crate) prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

pub(crate) fn router(shared: Arc<Shared>, security: Arc<Security>) -> Router {
    let router = Router::new()
        .route("/", get(page))
        .route("/assets/observer.js", get(script))
        .route("/assets/observer.css", get(style))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/actors/{id}", get(actor))
        .route("/api/v1/actors/{id}/exit", post(exit))
        .route("/api/v1/events", get(events))
        .route("/metrics", get(metrics));
    router.layer(axum::middleware::from_fn_with_state(security, security::guard)).with_state(shared)
}

async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let html = assets::PAGE.replace("{{destructive}}", if shared.destructive { "true" } else { "false" });
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn script() -> Response {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], assets::SCRIPT).into_response()
}

async fn style() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], assets::STYLE).into_response()
}

async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    let frame = shared.hub.frame().await;
    ([(CONTENT_TYPE, "application/json")], frame.1.clone()).into_response()
}

fn parse_id(id: &str) -> Result<ActorId, (StatusCode, String)> {
    id.parse().map_err(|error: treeline::addr::ParseActorIdError| (StatusCode::BAD_REQUEST, error.to_string()))
}

async fn actor(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Some(info) = shared.system.actor_info(id).await else {
        return (StatusCode::NOT_FOUND, format!("no live actor {id}\n")).into_response();
    };
    // Its child spec, as its parent supervisor sees it.
    let parent = match info.parent {
        Some(parent) => shared.system.actor_info(parent).await,
        None => None,
    };
    let rows = parent
        .as_ref()
        .and_then(|parent| parent.supervisor.as_ref())
        .map(|supervisor| {
            supervisor.children.iter().filter_map(|child| child.actor.map(|actor| (actor, child))).collect()
        })
        .unwrap_or_default();
    Json(api::actor(&info, &rows, shared.busy, shared.stuck)).into_response()
}

#[derive(Deserialize)]
struct ExitQuery {
    /// `kill` (default) or `shutdown`.
    reason: Option<String>,
}

async fn exit(State(shared): State<Arc<Shared>>, Path(id): Path<String>, Query(query): Query<ExitQuery>) -> Response {
    if !shared.destructive {
        return (StatusCode::FORBIDDEN, "destructive actions are disabled\n").into_response();
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let reason = match query.reason.as_deref() {
        None | Some("kill") => ExitReason::Kill,
        Some("shutdown") => ExitReason::Shutdown,
        Some(other) => {
            return (StatusCode::BAD_REQUEST, format!("unknown reason {other:?} (kill or shutdown)\n")).into_response()
        }
    };
    match shared.system.lookup(id) {
        Some(pid) => {
            tracing::info!(target: "treeline::observer", actor = %id, %reason, "exit requested from the observer");
            pid.exit(reason);
            (StatusCode::ACCEPTED, "exit signal sent\n").into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no live actor {id}\n")).into_response(),
    }
}

async fn events(State(shared): State<Arc<Shared>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let watch = shared.hub.watch();
    let first = shared.hub.frame().await;
    let frames = stream::unfold((watch, Some(first)), |(mut watch, first): (Watch, Option<Frame>)| async move {
        if let Some(frame) = first {
            return Some((Ok(event(&frame)), (watch, None)));
        }
        loop {
            match watch.frames.recv().await {
                Ok(frame) => return Some((Ok(event(&frame)), (watch, None))),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(frames).keep_alive(KeepAlive::default())
}

fn event(frame: &Frame) -> Event {
    Event::default().event("snapshot").id(frame.0.to_string()).data(frame.1.as_str())
}

#[cfg(feature = "metrics")]
async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let Some(handle) = &shared.prometheus else {
        return (StatusCode::NOT_FOUND, "no Prometheus recorder was given to this observer\n").into_response();
    };
    let snapshot = shared.system.snapshot().await;
    treeline::metrics::record(&snapshot, &shared.system);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

#[cfg(not(feature = "metrics"))]
async fn metrics() -> Response {
    (StatusCode::NOT_FOUND, "built without the metrics feature\n").into_response()
}
