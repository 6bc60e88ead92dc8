//! The scenario parser and validator: any text gives a scenario or a located error, never a panic.
#![no_main]

use std::path::Path;

use inboxkit_mock::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(error) = Scenario::parse(text, Path::new("fuzz.toml"))
    {
        // Every error renders with its location.
        assert!(error.to_string().starts_with("fuzz.toml:"));
    }
});
