//! One window showing one static page, nothing else: what any Tauri 2 app costs before it
//! does anything. `scripts/bench-app` starts it side by side with Casebook.

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("minimal-window: {e}");
        std::process::exit(1);
    }
}
