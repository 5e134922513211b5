//! HTML handlers, assets, reload, errors and the headers every response carries.

use std::net::SocketAddr;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use ruleatlas_catalog::guide::GuideFilter;
use ruleatlas_model::Vendor;

use crate::pages::{self, ErrorPage};
use crate::state::{AppState, Rendered, Snapshot};
use crate::util::{BadQuery, flag, param, parse_query, technique_id};

pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const JSON: &str = "application/json";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const STYLE: &str = include_str!("../assets/style.css");
const SORT: &str = include_str!("../assets/sort.js");

/// A request that cannot be answered with the page asked for.
pub(crate) enum Fail {
    NotFound(String),
    BadRequest(String),
}

impl From<BadQuery> for Fail {
    fn from(e: BadQuery) -> Self {
        Fail::BadRequest(e.0)
    }
}

impl From<PathRejection> for Fail {
    fn from(e: PathRejection) -> Self {
        Fail::BadRequest(format!("bad path: {}", e.body_text()))
    }
}

impl Fail {
    fn parts(&self) -> (StatusCode, &str) {
        match self {
            Fail::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Fail::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        }
    }

    pub(crate) fn html(&self) -> Rendered {
        let (status, message) = self.parts();
        error_page(status, message)
    }

    pub(crate) fn json(&self) -> Rendered {
        let (status, message) = self.parts();
        json_error(status, message)
    }
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Rendered {
    let page = ErrorPage {
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        message: message.to_string(),
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {}", status.as_u16(), message.replace('<', "&lt;")));
    Rendered {
        status,
        content_type: HTML,
        body: Bytes::from(body),
    }
}

pub(crate) fn json_error(status: StatusCode, message: &str) -> Rendered {
    let body = serde_json::json!({"error": message, "status": status.as_u16()}).to_string();
    Rendered {
        status,
        content_type: JSON,
        body: Bytes::from(body),
    }
}

/// Renders a template into a 200 page.
pub(crate) fn html<T: Template>(t: &T) -> Rendered {
    match t.render() {
        Ok(body) => Rendered {
            status: StatusCode::OK,
            content_type: HTML,
            body: Bytes::from(body),
        },
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot render the page: {e}"),
        ),
    }
}

/// Serializes a value into a 200 JSON response.
pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> Rendered {
    match serde_json::to_vec(v) {
        Ok(body) => Rendered {
            status: StatusCode::OK,
            content_type: JSON,
            body: Bytes::from(body),
        },
        Err(e) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot serialize: {e}"),
        ),
    }
}

pub(crate) fn respond(page: Rendered) -> Response {
    let mut resp = Response::new(Body::from(page.body));
    *resp.status_mut() = page.status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(page.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Answers from the snapshot's cache, or renders on a blocking thread and caches a success.
pub(crate) async fn cached<F>(state: &AppState, key: String, make: F) -> Response
where
    F: FnOnce(&Snapshot) -> Rendered + Send + 'static,
{
    let snap = state.snapshot();
    if let Some(p) = snap.cache.get(&key) {
        return respond(p);
    }
    let worker = snap.clone();
    let page = tokio::task::spawn_blocking(move || make(&worker))
        .await
        .unwrap_or_else(|e| {
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the page could not be built: {e}"),
            )
        });
    if page.status == StatusCode::OK {
        snap.cache.put(key, page.clone());
    }
    respond(page)
}

/// The guide filter of a query string.
pub(crate) fn guide_filter(pairs: &[(String, String)]) -> Result<GuideFilter, Fail> {
    let text = |k: &str| -> Result<Option<String>, Fail> {
        match param(pairs, k) {
            Some(v) if v.len() > 200 => Err(Fail::BadRequest(format!("`{k}` is too long"))),
            v => Ok(v.map(str::to_string)),
        }
    };
    let vendor = match param(pairs, "vendor") {
        None => None,
        Some(v) => Some(Vendor::parse(v).ok_or_else(|| {
            Fail::BadRequest(format!(
                "unknown vendor `{v}` (one of {})",
                Vendor::ALL
                    .iter()
                    .map(|v| v.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?),
    };
    Ok(GuideFilter {
        platform: text("platform")?,
        domain: text("domain")?,
        vendor,
        severity: text("severity")?,
        rule_status: text("rule_status")?,
        include_hunts: flag(pairs, "include_hunts")?,
    })
}

fn fail_html(f: &Fail) -> Response {
    respond(f.html())
}

pub(crate) async fn overview(State(state): State<AppState>, uri: Uri) -> Response {
    let parsed = parse_query(uri.query())
        .map_err(Fail::from)
        .and_then(|pairs| {
            let vendor = match param(&pairs, "vendor") {
                None => None,
                Some(v) => Some(
                    Vendor::parse(v)
                        .ok_or_else(|| Fail::BadRequest(format!("unknown vendor `{v}`")))?,
                ),
            };
            let matrix = match param(&pairs, "matrix").unwrap_or("enterprise") {
                m @ ("enterprise" | "mobile" | "ics") => m.to_string(),
                m => {
                    return Err(Fail::BadRequest(format!(
                        "unknown matrix `{m}` (enterprise, mobile, ics)"
                    )));
                }
            };
            Ok((vendor, matrix))
        });
    let (vendor, matrix) = match parsed {
        Ok(x) => x,
        Err(f) => return fail_html(&f),
    };
    let key = format!("overview|{}|{matrix}", vendor.map_or("", Vendor::key));
    cached(&state, key, move |s| {
        html(&pages::overview(&s.index, vendor, &matrix))
    })
    .await
}

pub(crate) async fn techniques_redirect() -> Redirect {
    Redirect::to("/")
}

pub(crate) async fn technique(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let req = path.map_err(Fail::from).and_then(|Path(raw)| {
        let id = technique_id(&raw).ok_or_else(|| {
            Fail::NotFound(format!(
                "`{raw}` is not a technique id (T1234 or T1234.001)"
            ))
        })?;
        let filter = guide_filter(&parse_query(uri.query())?)?;
        Ok((id, filter))
    });
    let (id, filter) = match req {
        Ok(x) => x,
        Err(f) => return fail_html(&f),
    };
    let key = format!("technique|{id}|{filter:?}");
    cached(&state, key, move |s| {
        match pages::technique(&s.index, &id, &filter) {
            Some(p) => html(&p),
            None => {
                Fail::NotFound(format!("no rule and no ATT&CK entry knows technique {id}")).html()
            }
        }
    })
    .await
}

/// The full rule id of `/rules/{vendor}/{id}`.
pub(crate) fn rule_id(vendor: &str, rest: &str) -> Result<String, Fail> {
    let v = Vendor::parse(vendor)
        .ok_or_else(|| Fail::NotFound(format!("unknown vendor `{vendor}`")))?;
    Ok(format!("{}:{rest}", v.key()))
}

pub(crate) async fn rule(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let id = match path
        .map_err(Fail::from)
        .and_then(|Path((v, rest))| rule_id(&v, &rest))
    {
        Ok(id) => id,
        Err(f) => return fail_html(&f),
    };
    let key = format!("rule|{id}");
    cached(&state, key, move |s| match s.index.rule(&id) {
        Some(r) => html(&pages::rule(r)),
        None => Fail::NotFound(format!("no rule {id} in this catalog")).html(),
    })
    .await
}

pub(crate) async fn fields(State(state): State<AppState>) -> Response {
    cached(&state, "fields".into(), |s| html(&pages::fields(&s.index))).await
}

pub(crate) async fn field(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let name = match path {
        Ok(Path(n)) => n,
        Err(e) => return fail_html(&Fail::from(e)),
    };
    let key = format!("field|{name}");
    cached(&state, key, move |s| match pages::field(&s.index, &name) {
        Some(p) => html(&p),
        None => Fail::NotFound(format!("no counted rule filters on field `{name}`")).html(),
    })
    .await
}

pub(crate) async fn search(State(state): State<AppState>, uri: Uri) -> Response {
    let q = match parse_query(uri.query()) {
        Ok(pairs) => param(&pairs, "q").unwrap_or("").to_string(),
        Err(e) => return fail_html(&Fail::from(e)),
    };
    let key = format!("search|{q}");
    cached(&state, key, move |s| html(&pages::search(&s.index, &q))).await
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    resp
}

pub(crate) async fn style() -> Response {
    asset(STYLE, CSS)
}

pub(crate) async fn script() -> Response {
    asset(SORT, JS)
}

pub(crate) async fn favicon() -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    resp
}

pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let s = state.snapshot();
    respond(json(&serde_json::json!({
        "status": "ok",
        "generation": s.generation,
        "rules": s.index.rules.len(),
        "cached_pages": s.cache.len(),
    })))
}

/// `POST /-/reload`: only from a loopback peer.
pub(crate) async fn reload(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return respond(json_error(
            StatusCode::FORBIDDEN,
            "reload is answered only on loopback",
        ));
    }
    let r = state.reload_async().await;
    crate::log_reload("POST /-/reload", &r);
    match r {
        Ok(info) => respond(json(
            &serde_json::json!({"reloaded": true, "rules": info.rules, "generation": info.generation, "seconds": info.seconds}),
        )),
        Err(e) => {
            let mut p = json(&serde_json::json!({"reloaded": false, "error": e}));
            p.status = StatusCode::INTERNAL_SERVER_ERROR;
            respond(p)
        }
    }
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    let msg = "no such page";
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        respond(json_error(StatusCode::NOT_FOUND, msg))
    } else {
        respond(error_page(StatusCode::NOT_FOUND, msg))
    }
}

pub(crate) async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}
