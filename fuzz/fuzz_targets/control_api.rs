//! The `/_mock` control API's JSON bodies: 2xx or 4xx, never a panic or a 5xx.
#![no_main]

mod api;
mod routes;

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

thread_local! {
    // Leaked on purpose: the runtime inside must not be torn down by thread-local destructors
    // when the fuzzer exits.
    static CALL: &'static RefCell<api::Call> = Box::leak(Box::new(RefCell::new(api::harness())));
}

fuzz_target!(|data: &[u8]| {
    CALL.with(|call| api::fuzz_one(&mut call.borrow_mut(), &routes::CONTROL, data));
});
