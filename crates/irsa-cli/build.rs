//! Bakes the version `irsa --version` prints into the binary: the crate version and the git
//! revision the sources come from (see `build/revision.rs`), as `IRSA_VERSION`, for example
//! `0.1.0 (1a2b3c4d5e6f)`, `0.1.0 (1a2b3c4d5e6f-dirty)` or `0.1.0 (unknown revision)`.

#[path = "build/revision.rs"]
mod revision;

fn main() {
    // Read at run time, not with env!(): the build script's binary may be shared by several
    // checkouts through a common build directory.
    let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!(
        "cargo:rustc-env=IRSA_VERSION={version} ({})",
        revision::describe(&dir)
    );
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/revision.rs");
    for path in revision::watched(&dir) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
