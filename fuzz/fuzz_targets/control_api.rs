//! The `/_mock` control API's JSON bodies: 2xx or 4xx, never a panic or a 5xx.
#![no_main]

mod api;

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

const ROUTES: [(&str, &str); 8] = [
    ("POST", "/_mock/clock/advance"),
    ("POST", "/_mock/clock/scale"),
    ("POST", "/_mock/events"),
    ("PUT", "/_mock/subscriber"),
    ("POST", "/_mock/consent_requests"),
    ("POST", "/_mock/client_id_requests"),
    ("POST", "/_mock/domains/domain-000000000000/transition"),
    ("POST", "/_mock/deliveries/redeliver"),
];

thread_local! {
    // Leaked on purpose: the runtime inside must not be torn down by thread-local destructors
    // when the fuzzer exits.
    static CALL: &'static RefCell<api::Call> = Box::leak(Box::new(RefCell::new(api::harness())));
}

fuzz_target!(|data: &[u8]| {
    CALL.with(|call| api::fuzz_one(&mut call.borrow_mut(), &ROUTES, data));
});
