//! Rebuild the `islet` binary when the SDK or the WIT contract it embeds
//! for `islet plugin new` changes.

fn main() {
    for path in [
        "../sdk/src",
        "../sdk/Cargo.toml",
        "../sdk/README.md",
        "../wit",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
