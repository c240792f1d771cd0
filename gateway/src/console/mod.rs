//! The web console's shell at `/console`: sign-in with the admin token
//! (which becomes the session cookie of `api::session`), sign-out, and the
//! page and its script and style, all compiled into the binary. Everything
//! the page shows it reads from the documented `/v1` API with the cookie.
//!
//! Every page is served with a strict Content-Security-Policy (scripts and
//! styles from the gateway only, no inline script, no framing), and the
//! script writes what it shows as text, never as markup, so a payload or
//! header holding markup is shown, not run. Sign-in and sign-out refuse a
//! request whose `Origin` is another site's.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::api::session;
use crate::clock::system_millis;
use crate::config::Secret;
use crate::http_error::{ApiError, Code};
use crate::signing::constant_time_eq;

/// The policy every console page is served with.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

const SIGN_IN: &str = include_str!("assets/sign_in.html");
const APP: &str = include_str!("assets/app.html");

const JS: &str = "text/javascript; charset=utf-8";

/// The page's script modules and style, by their path under
/// `/console/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    ("js/app.js", JS, include_str!("assets/js/app.js")),
    ("js/api.js", JS, include_str!("assets/js/api.js")),
    ("js/forms.js", JS, include_str!("assets/js/forms.js")),
    ("js/overview.js", JS, include_str!("assets/js/overview.js")),
    ("js/events.js", JS, include_str!("assets/js/events.js")),
    (
        "js/deliveries.js",
        JS,
        include_str!("assets/js/deliveries.js"),
    ),
    (
        "js/dead_letter.js",
        JS,
        include_str!("assets/js/dead_letter.js"),
    ),
    (
        "js/endpoints.js",
        JS,
        include_str!("assets/js/endpoints.js"),
    ),
    ("js/plugins.js", JS, include_str!("assets/js/plugins.js")),
    ("js/sources.js", JS, include_str!("assets/js/sources.js")),
];

/// What the console's handlers need.
#[derive(Clone)]
struct ConsoleState {
    /// The admin token; without one the console cannot be signed in to.
    token: Option<Secret>,
    /// Whether the listener serves TLS (the cookie is then `Secure`).
    secure: bool,
}

/// The console's routes, for the listener's router.
pub fn routes(token: Option<Secret>, secure: bool) -> Router {
    Router::new()
        .route("/console", get(page))
        .route("/console/assets/{*path}", get(asset))
        .route("/console/session", post(sign_in))
        .route("/console/session/end", post(sign_out))
        .with_state(ConsoleState { token, secure })
}

/// The headers of every console answer.
fn guarded(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, body: String) -> Response {
    guarded(status, "text/html; charset=utf-8", body)
}

/// Whether the request carries a live session.
fn signed_in(state: &ConsoleState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.token else {
        return false;
    };
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(session::from_header)
        .is_some_and(|value| session::valid(token.expose(), value, system_millis()))
}

/// The sign-in page, with a fixed note (never text from the request).
fn sign_in_page(status: StatusCode, note: &str) -> Response {
    html(status, SIGN_IN.replace("{{note}}", note))
}

async fn page(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if state.token.is_none() {
        return sign_in_page(
            StatusCode::OK,
            "The console needs an admin token: set admin.token in the config file.",
        );
    }
    if signed_in(&state, &headers) {
        html(StatusCode::OK, APP.to_owned())
    } else {
        sign_in_page(StatusCode::OK, "")
    }
}

/// A script or the style: public, as they hold no data.
async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, body)) => guarded(StatusCode::OK, content_type, (*body).to_owned()),
        None => ApiError::new(Code::NoRoute, format!("the console has no asset {path:?}"))
            .into_response(),
    }
}

/// The sign-in form.
#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// Whether the request's `Origin`, if it has one, is the gateway's own:
/// a form on another site cannot sign a browser in or out.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

async fn sign_in(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            "Sign in from the console's own page.",
        );
    }
    let Some(token) = &state.token else {
        return sign_in_page(
            StatusCode::UNAUTHORIZED,
            "The console needs an admin token: set admin.token in the config file.",
        );
    };
    let given = form.map(|Form(f)| f.token).unwrap_or_default();
    if !constant_time_eq(given.trim().as_bytes(), token.expose().as_bytes()) {
        return sign_in_page(StatusCode::UNAUTHORIZED, "That is not the admin token.");
    }
    let value = session::mint(
        token.expose(),
        system_millis().saturating_add(session::LIFETIME_MS),
    );
    redirect(&session::set_cookie(&value, state.secure))
}

async fn sign_out(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            "Sign out from the console's own page.",
        );
    }
    redirect(&session::clear_cookie(state.secure))
}

/// 303 to the console, setting `cookie`.
fn redirect(cookie: &str) -> Response {
    let mut response = html(StatusCode::SEE_OTHER, String::new());
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/console"));
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}
