// The example pack is embedded with include_dir!, which cannot tell cargo to
// watch it on stable Rust.
fn main() {
    println!("cargo:rerun-if-changed=../../packs/examples");
}
