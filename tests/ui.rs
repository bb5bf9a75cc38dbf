//! Compile-time tests of the macros (trybuild), grouped by category: what
//! compiles, malformed attributes, bad topics. Each failing case has its
//! expected compiler output next to it (`.stderr`); regenerate them with
//! `TRYBUILD=overwrite cargo test --test ui` after checking the new output.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/malformed_attribute/*.rs");
    cases.compile_fail("tests/ui/bad_topic/*.rs");
}
