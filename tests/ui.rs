//! Compile-time tests of the macros (trybuild), grouped by category: what
//! compiles, malformed attributes, bad topics, wrong handler signatures,
//! duplicates, unsupported forms. Each failing case has its expected
//! compiler output next to it (`.stderr`); regenerate them with
//! `TRYBUILD=overwrite cargo test --test ui` after checking the new output.
//! The messages are the macros' own, so they do not depend on the compiler
//! version beyond its error layout.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/malformed_attribute/*.rs");
    cases.compile_fail("tests/ui/bad_topic/*.rs");
    cases.compile_fail("tests/ui/wrong_signature/*.rs");
    cases.compile_fail("tests/ui/duplicate/*.rs");
    cases.compile_fail("tests/ui/unsupported/*.rs");
}
