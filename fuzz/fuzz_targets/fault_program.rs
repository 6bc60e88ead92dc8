//! Fault programs (`receive --fault`): any text gives a program or an error naming a token, and
//! a program prints back to text that parses to the same program and prints the same again.
#![no_main]

use inboxkit_mock::receiver::FaultProgram;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<FaultProgram>() {
        Ok(program) => {
            let printed = program.to_string();
            let again: FaultProgram = printed
                .parse()
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
            assert_eq!(again, program, "{text:?} -> {printed:?}");
            assert_eq!(again.to_string(), printed);
        }
        Err(error) => assert!(error.to_string().contains('`'), "{error}"),
    }
});
