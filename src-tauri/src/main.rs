// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // SAFETY: first thing in main, before any thread is started.
    unsafe { casebook_app::rendering::choose() };
    casebook_app::run();
}
