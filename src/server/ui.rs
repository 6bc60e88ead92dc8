//! The web page of `serve` at `/`: a live view of the delivery journal (every attempt with its
//! exact request and response), a redeliver button per delivery and a form to trigger an event.
//!
//! One static page, its script and its style sheet, embedded in the binary; the page holds no
//! data and talks to the control API (`/_mock/...`) from the browser, so with `--admin-token`
//! the page itself loads without the token and only the API calls need it. The one thing
//! rendered on the server is the list of event names, taken from [`EventType::KNOWN`] so the
//! trigger form cannot drift from the contract.
//!
//! Every answer carries [`CONTENT_SECURITY_POLICY`]: scripts and styles only from this origin
//! (no inline code), requests only to this origin, no framing.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::contract::EventType;
use crate::markup::escape;

/// Path of the page.
pub const PAGE_PATH: &str = "/";
/// Path of the page's script.
pub const SCRIPT_PATH: &str = "/ui.js";
/// Path of the page's style sheet.
pub const STYLE_PATH: &str = "/ui.css";
/// Every route of the web page: not API operations, so the OpenAPI document leaves them out.
pub const ROUTES: [&str; 3] = [PAGE_PATH, SCRIPT_PATH, STYLE_PATH];

/// The policy every UI answer carries: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Where the server-rendered `<option>` elements go in the page template.
const EVENT_OPTIONS_SLOT: &str = "<!-- event options -->";

const PAGE_TEMPLATE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/ui.js");
const STYLE: &str = include_str!("ui/ui.css");

/// The page with one `<option>` per known event name, rendered once.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let options: String = EventType::KNOWN
        .iter()
        .map(|event| {
            let name = escape(event.as_str());
            format!("<option value=\"{name}\">{name}</option>")
        })
        .collect();
    PAGE_TEMPLATE.replace(EVENT_OPTIONS_SLOT, &options)
});

/// Registers `/`, `/ui.js` and `/ui.css` (outside `/_mock`, so without the admin token).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route(PAGE_PATH, web::get().to(page))
        .route(SCRIPT_PATH, web::get().to(script))
        .route(STYLE_PATH, web::get().to(style));
}

/// An answer with the UI's security headers; `no-cache` so a new binary's page is never stale.
fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", PAGE.as_str())
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

#[cfg(test)]
mod tests {
    use actix_web::App;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};

    use super::*;

    #[test]
    fn the_page_offers_every_known_event_and_nothing_inline() {
        assert!(!PAGE.contains(EVENT_OPTIONS_SLOT), "the slot is filled");
        for event in EventType::KNOWN {
            let option = format!("<option value=\"{0}\">{0}</option>", event.as_str());
            assert!(PAGE.contains(&option), "missing {option}");
        }
        // The policy forbids inline code: every script and style comes from a file.
        assert!(PAGE.contains(&format!("<script src=\"{SCRIPT_PATH}\" defer></script>")));
        assert!(PAGE.contains(&format!("<link rel=\"stylesheet\" href=\"{STYLE_PATH}\">")));
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert!(!PAGE.contains("<style"));
        assert!(!PAGE.contains(" style="));
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "onchange="] {
            assert!(!PAGE.contains(handler), "inline handler {handler}");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
    }

    #[test]
    fn the_script_never_parses_data_as_html() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!SCRIPT.contains(sink), "ui.js uses {sink}");
        }
        assert!(!SCRIPT.contains("http://") && !SCRIPT.contains("https://"));
        assert!(!STYLE.contains("url("), "ui.css loads nothing");
    }

    #[actix_web::test]
    async fn each_route_answers_its_type_with_the_policy() {
        let app = init_service(App::new().configure(routes)).await;
        for (path, content_type, needle) in [
            (PAGE_PATH, "text/html; charset=utf-8", "<!doctype html>"),
            (SCRIPT_PATH, "text/javascript; charset=utf-8", "use strict"),
            (STYLE_PATH, "text/css; charset=utf-8", "font-family"),
        ] {
            let response = call_service(&app, TestRequest::get().uri(path).to_request()).await;
            assert_eq!(response.status(), 200, "{path}");
            let headers = response.headers();
            assert_eq!(
                headers.get(header::CONTENT_TYPE).unwrap(),
                content_type,
                "{path}"
            );
            assert_eq!(
                headers.get(header::CONTENT_SECURITY_POLICY).unwrap(),
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(
                headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
                "nosniff"
            );
            let body = read_body(response).await;
            assert!(
                String::from_utf8_lossy(&body).contains(needle),
                "{path} lacks {needle}"
            );
        }
        let post = call_service(&app, TestRequest::post().uri(PAGE_PATH).to_request()).await;
        assert_ne!(post.status(), 200, "only GET serves the page");
    }

    #[test]
    fn the_policy_allows_only_this_origin() {
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none';"));
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
