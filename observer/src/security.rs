//! Who may ask: the `Host` check (against DNS rebinding), the token (query
//! once, then a cookie; or a bearer header), the `Origin` check on actions,
//! and the headers every answer carries.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_SECURITY_POLICY, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const COOKIE_NAME: &str = "tl_token";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

#[derive(Debug)]
pub(crate) struct Security {
    token: Option<String>,
    hosts: Vec<String>,
}

impl Security {
    pub(crate) fn new(token: Option<String>, hosts: Vec<String>) -> Arc<Self> {
        Arc::new(Security { token, hosts })
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        matches!(name, "127.0.0.1" | "localhost" | "[::1]") || self.hosts.iter().any(|allowed| allowed == name)
    }
}

/// The host part of a `Host` header value (`[::1]:7070` is `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(name, _)| &host[..name.len() + 1]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

/// Compares in time independent of where the two differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn query_token(request: &Request) -> Option<&str> {
    request.uri().query()?.split('&').find_map(|pair| pair.strip_prefix("token="))
}

fn cookie_token(request: &Request) -> Option<&str> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| cookie.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
}

fn bearer_token(request: &Request) -> Option<&str> {
    request.headers().get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// The checks, as an axum middleware.
pub(crate) async fn guard(State(security): State<Arc<Security>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(HOST).and_then(|value| value.to_str().ok()).unwrap_or("");
    if !security.host_allowed(host) {
        return (StatusCode::FORBIDDEN, "this observer does not answer for that Host\n").into_response();
    }
    if request.method() != Method::GET {
        // An action must come from the page itself.
        let origin = request.headers().get(ORIGIN).and_then(|value| value.to_str().ok());
        if origin.is_some_and(|origin| origin.strip_prefix("http://") != Some(host)) {
            return (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response();
        }
    }
    let mut set_cookie = None;
    if let Some(token) = &security.token {
        let from_query = query_token(&request).is_some_and(|given| same(given, token));
        let held = cookie_token(&request).or_else(|| bearer_token(&request)).is_some_and(|given| same(given, token));
        if !from_query && !held {
            return (StatusCode::UNAUTHORIZED, "a token is required: open the URL the observer printed\n")
                .into_response();
        }
        if from_query {
            set_cookie =
                HeaderValue::from_str(&format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/")).ok();
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Some(cookie) = set_cookie {
        headers.append(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_need_allowing() {
        let security = Security::new(None, vec!["observer.internal".into()]);
        for host in ["127.0.0.1:7070", "localhost", "localhost:80", "[::1]:7070", "observer.internal:7070"] {
            assert!(security.host_allowed(host), "{host}");
        }
        for host in ["evil.example:7070", "127.0.0.1.evil.example", "", "[::2]:1"] {
            assert!(!security.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
