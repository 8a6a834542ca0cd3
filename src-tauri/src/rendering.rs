//! How the webview draws: on a machine with no GPU, with the CPU and without compositing.
//!
//! WebKitGTK (2.46 and later) paints pages with Skia on the GPU and composes them in layers
//! with OpenGL. Where there is no GPU — a virtual machine, a remote desktop, a laptop
//! without its graphics driver — "the GPU" is Mesa's llvmpipe, which compiles every shader
//! on the CPU the first time it is used. Measured here (docs/performance.md), that made
//! each of the first two frames after unlocking take ~160–250 ms and the web process ~40 MB
//! larger; Skia's own CPU rasteriser paints the same Today screen in one ordinary frame.
//! Composing the page's layers through llvmpipe costs the web process another ~65 MB (its
//! tiles, the GL context and the LLVM JIT behind it) to compose a page with a sticky strip and
//! nothing that moves; WebKit's non-composited mode paints the page straight into one
//! buffer instead, as WebKitGTK does wherever hardware acceleration is unavailable.
//!
//! So, when the machine has no GPU render node, Casebook asks WebKit for CPU rendering and
//! for the non-composited mode. With a GPU nothing changes, and a value the person set
//! themselves (`WEBKIT_SKIA_ENABLE_CPU_RENDERING=0` to force the GPU path,
//! `WEBKIT_DISABLE_COMPOSITING_MODE=0` to keep compositing) is always left alone. (Programs
//! the app starts, such as the file manager it opens a folder in, inherit the variables;
//! only WebKit reads them.)
//!
//! One thing behaves differently without compositing: WebKit's page snapshot (what
//! WebDriver's "take screenshot" asks for) waits for the next painted frame, and an idle page
//! paints none, so a snapshot of a still page waits for ever — the same for a minimal Tauri
//! window. Casebook never takes snapshots; the end-to-end tests' `screenshot` helper paints a
//! frame while it takes one (tests/e2e/specs/helpers.mjs).

use std::ffi::OsString;
use std::path::Path;

/// WebKitGTK's switch for Skia's CPU rasteriser.
pub const CPU_RENDERING_VAR: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// WebKitGTK's switch for painting the page without composited layers.
pub const NO_COMPOSITING_VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// What Casebook sets when there is no GPU, each only if the person has not set it.
pub const WITHOUT_A_GPU: [&str; 2] = [CPU_RENDERING_VAR, NO_COMPOSITING_VAR];

/// Whether to set one of [`WITHOUT_A_GPU`]: only when nobody chose already and no GPU is there.
pub fn should_set(already_set: Option<OsString>, has_gpu: bool) -> bool {
    already_set.is_none() && !has_gpu
}

/// Whether the machine has a GPU this person can render with: a DRM render node
/// (`/dev/dri/renderD*`) they may open for reading and writing. Every hardware driver
/// (Mesa's and NVIDIA's) makes one; llvmpipe needs none, and a node the person may not open
/// (not in the `render` group, a sandbox) leaves WebKit on llvmpipe too.
pub fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with("renderD")
                && std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(e.path())
                    .is_ok()
        })
    })
}

/// Asks WebKit for CPU rendering without compositing, each where [`should_set`]
/// says so. Linux only (the other platforms' webviews choose for themselves).
///
/// # Safety
///
/// Sets an environment variable, so it must run before any other thread exists: first
/// thing in `main`.
pub unsafe fn choose() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let has_gpu = has_render_node(Path::new("/dev/dri"));
    for var in WITHOUT_A_GPU {
        if should_set(std::env::var_os(var), has_gpu) {
            // SAFETY: the caller guarantees no other thread is running yet.
            unsafe { std::env::set_var(var, "1") };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_only_without_a_gpu_and_without_a_choice_made() {
        assert!(should_set(None, false));
        assert!(!should_set(None, true));
        assert!(
            !should_set(Some("0".into()), false),
            "a person's own setting wins"
        );
        assert!(!should_set(Some("1".into()), true));
    }
    #[test]
    fn a_render_node_means_a_gpu() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(!has_render_node(&dir.path().join("missing")));
        std::fs::write(dir.path().join("card0"), "").expect("card");
        assert!(
            !has_render_node(dir.path()),
            "a display card alone is not a render node"
        );
        std::fs::write(dir.path().join("renderD128"), "").expect("node");
        assert!(has_render_node(dir.path()));
    }
}
