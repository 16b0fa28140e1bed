//! The route table: each module's routes mounted in order (health, metrics, the HTTP API,
//! the sockets, `--dev`'s pages, the dashboard's files), and one answer for whatever matches none.

use std::convert::Infallible;
use std::time::Duration;

use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::ws;
use crate::node::Hub;

pub(super) type Routes = warp::filters::BoxedFilter<(warp::reply::Response,)>;

fn with_hub(hub: Hub) -> impl Filter<Extract = (Hub,), Error = Infallible> + Clone {
    warp::any().map(move || hub.clone())
}

/// Every route of the node; what matches none is answered by [`not_found`].
pub(super) fn routes(hub: Hub) -> Routes {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "ok"})).into_response());
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_hub(hub.clone()))
        .then(|hub: Hub| async move {
            if hub.store_ready(Duration::from_secs(2)).await {
                warp::reply::json(&serde_json::json!({"ready": true})).into_response()
            } else {
                warp::reply::with_status(
                    warp::reply::json(
                        &serde_json::json!({"ready": false, "reason": "store unavailable"}),
                    ),
                    StatusCode::SERVICE_UNAVAILABLE,
                )
                .into_response()
            }
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .and(with_hub(hub.clone()))
        .map(|auth: Option<String>, hub: Hub| {
            if let Some(token) = &hub.config().metrics_token
                && auth.as_deref() != Some(format!("Bearer {token}").as_str())
            {
                return warp::reply::with_status("unauthorized\n", StatusCode::UNAUTHORIZED)
                    .into_response();
            }
            let (widgets, operators) = hub.connection_counts();
            let body = hub.metrics().render(widgets, operators);
            warp::reply::with_header(body, "content-type", crate::metrics::CONTENT_TYPE)
                .into_response()
        });
    let mut api = healthz
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .or(crate::api::routes(hub.clone()))
        .unify()
        .or(ws::routes(hub.clone()))
        .unify()
        .boxed();
    if hub.config().dev {
        api = api.or(crate::dev::routes(hub.clone())).unify().boxed();
    }
    if let Some(dir) = hub.config().static_dir.clone() {
        let index = dir.join("index.html");
        // The widget script is embedded by customers' sites: revalidated on every load (its
        // name carries no hash, and a fix must reach visitors at once), loadable cross-origin.
        let widget_js = warp::path!("widget.js")
            .and(warp::get().or(warp::head()).unify())
            .and(warp::fs::file(dir.join("widget.js")))
            .map(|f: warp::fs::File| {
                let mut res = f.into_response();
                let h = res.headers_mut();
                use warp::http::header::{self, HeaderValue};
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                h.insert(
                    header::HeaderName::from_static("cross-origin-resource-policy"),
                    HeaderValue::from_static("cross-origin"),
                );
                h.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                res
            });
        api = api.or(widget_js).unify().boxed();
        // HEAD too: uptime checks and proxies probe the dashboard with it.
        let get_or_head = || warp::get().or(warp::head()).unify();
        let files = get_or_head()
            .and(warp::fs::dir(dir))
            .map(|f: warp::fs::File| f.into_response());
        // Client-side routes of the SPA all load index.html.
        let spa = get_or_head()
            .and(warp::fs::file(index))
            .map(|f: warp::fs::File| f.into_response());
        let dashboard = files
            .or(spa)
            .unify()
            .with(warp::reply::with::headers(dashboard_headers()))
            .map(warp::Reply::into_response);
        api = api.or(dashboard).unify().boxed();
    }
    api.recover(not_found).unify().boxed()
}

/// Headers of the dashboard's pages: it loads only its own scripts and styles, talks only to
/// this origin, and may not be framed (clickjacking a "Take Control" button is not a feature).
fn dashboard_headers() -> warp::http::HeaderMap {
    use warp::http::header::{self, HeaderValue};
    let mut h = warp::http::HeaderMap::new();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; \
             img-src 'self' data: blob: https:; style-src 'self' 'unsafe-inline'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h
}

/// Whatever no route took: a JSON error with the status the rejection calls for.
async fn not_found(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not found")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, "payload too large")
    } else if rejection
        .find::<warp::filters::body::BodyDeserializeError>()
        .is_some()
    {
        (StatusCode::BAD_REQUEST, "invalid JSON body")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        (StatusCode::BAD_REQUEST, "bad request")
    };
    Ok(warp::reply::with_status(
        warp::reply::json(&serde_json::json!({ "error": message })),
        status,
    )
    .into_response())
}
