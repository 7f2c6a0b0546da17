//! The committed include/exectrace.h must be what cbindgen generates from
//! src/ffi.rs. `EXECTRACE_UPDATE_HEADER=1 cargo test --test header` (or
//! `make header`) rewrites it.
use std::path::Path;

#[test]
fn committed_header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = root.join("include/exectrace.h");
    if std::env::var_os("EXECTRACE_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/exectrace.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/exectrace.h is stale: run `make header` and commit it"
    );
}
