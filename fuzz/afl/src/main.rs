//! One AFL++ harness for every fuzz target of tests/fuzz_targets (the same checks `cargo test`
//! replays over the committed corpus): the target is chosen by `ACCORD_FUZZ_TARGET`.

#[path = "../../../tests/fuzz_targets/mod.rs"]
mod fuzz_targets;

fn main() {
    let name = std::env::var("ACCORD_FUZZ_TARGET").expect("set ACCORD_FUZZ_TARGET to a target name");
    let target = fuzz_targets::targets()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("no fuzz target {name:?}"));
    afl::fuzz!(|data: &[u8]| target(data));
}
