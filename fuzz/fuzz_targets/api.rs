//! The real route table in-process, for the API targets: any body gets a 2xx or 4xx answer.

use std::net::TcpListener;

use actix_web::http::{Method, StatusCode};
use actix_web::rt::System;
use actix_web::test as web_test;
use inboxkit_mock::contract::Secret;
use inboxkit_mock::server::{RunningServer, ServerConfig, build_app};
use inboxkit_mock::simulation::Clock;

/// The team API key of the fuzzed server.
const API_KEY: &str = "ik_fuzz_key";

/// Sends one request through the route table and returns the status.
pub type Call = Box<dyn FnMut(&str, &str, Vec<u8>) -> StatusCode>;

/// A mock on a paused clock with no built-in receiver and a 4 KiB body limit, behind `Call`.
pub fn harness() -> Call {
    let system = System::new();
    let server = system.block_on(async {
        let clock = Clock::scaled(1.0).expect("a valid scale");
        clock.pause();
        let mut config =
            ServerConfig::new(99, clock, Secret::new(API_KEY), Secret::new("whsec_fuzz"));
        config.builtin_receiver = false;
        config.max_body_bytes = 4096;
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        RunningServer::start(listener, config).expect("the server starts")
    });
    let app = system.block_on(web_test::init_service(build_app(server.app_data())));
    Box::new(move |method, path, body| {
        let _keep_alive = &server;
        let request = web_test::TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).expect("a valid method"))
            .uri(path)
            .insert_header(("authorization", format!("Bearer {API_KEY}")))
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
            .to_request();
        system.block_on(async { web_test::call_service(&app, request).await.status() })
    })
}

/// Sends `data` (first byte: the route, the rest: the body) to one of `routes`; panics on 5xx.
pub fn fuzz_one(call: &mut Call, routes: &[(&str, &str)], data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path) = routes[usize::from(pick) % routes.len()];
    let status = call(method, path, body.to_vec());
    assert!(
        status.is_success() || status.is_client_error(),
        "{method} {path} with {:?} answered {status}",
        String::from_utf8_lossy(body)
    );
}
