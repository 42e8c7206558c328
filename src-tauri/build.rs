fn main() {
    // tauri.conf.json lives at the repository root (shared with the web build);
    // `frontendDist` and `bundle.icon` in it are relative to that directory.
    let attributes = tauri_build::Attributes::new().config_path("../tauri.conf.json");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
