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
    // Pack the executable's relative relocations (DT_RELR, glibc >= 2.36): with PIE they are
    // 1.6 MB of `.rela.dyn` that the loader reads at every start and that then stays in the
    // process's resident set; packed, they take a few KiB. Linux glibc targets only. The
    // binary then declares the `GLIBC_ABI_DT_RELR` version, so a glibc older than 2.36
    // refuses to load it by name rather than running it unrelocated; the container image
    // ships the build host's glibc (`scripts/image`).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/revision.rs");
    for path in revision::watched(&dir) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
