//! The shell's shape, checked: its modules import each other one way only. At the bottom
//! what the app holds and small shared pieces; above them the background jobs, each knowing
//! nothing of the others; on top the commands, the tray and the timer that runs the jobs.
//! A newcomer finds each job in one place, and a new module must be given its place here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of the shell (`src/*.rs`, and `backups/` with the off-site copy inside it)
/// and its layer: 0 the bottom, 1 a job, 2 the top.
const LAYERS: &[(&str, u8)] = &[
    // What the app holds, and pieces every layer may use.
    ("state", 0),
    ("calendar_preview", 0),
    ("error", 0),
    ("notices", 0),
    ("inputs", 0),
    ("memory", 0),
    ("rendering", 0),
    ("instance", 0),
    // The jobs and windows that run beside the commands: none knows another.
    ("session_clock", 1),
    ("backups", 1),
    ("calendar", 1),
    ("background_sync", 1),
    ("delayed_end", 1),
    ("clock_window", 1),
    // What the person drives, and the timer.
    ("commands", 2),
    ("rights", 2),
    ("sync_screens", 2),
    ("adding_screens", 2),
    ("tray", 2),
    ("schedule", 2),
    ("lib", 3),
    ("main", 3),
];

/// The crate modules `source`'s code names (`crate::x`, `crate::{x, y}`); comments, where
/// a doc link may point anywhere, are left out.
fn imports(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let source = code.as_str();
    let mut found = BTreeSet::new();
    for (i, _) in source.match_indices("crate::") {
        let rest = &source[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            inner.split(',').collect()
        } else {
            vec![rest]
        };
        for n in names {
            let ident: String = n
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                found.insert(ident);
            }
        }
    }
    found
}

/// Module name → the modules it imports, read from the sources.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut read = |module: String, path: &Path| {
        let text = std::fs::read_to_string(path).expect("a source file");
        g.entry(module.clone())
            .or_default()
            .extend(imports(&text).into_iter().filter(|m| *m != module));
    };
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            read(module, &path);
        } else if path.is_dir() {
            // A module's own folder (backups/offsite.rs) counts as that module.
            let module = path.file_name().unwrap().to_string_lossy().into_owned();
            for inner in std::fs::read_dir(&path).expect("folder") {
                read(module.clone(), &inner.expect("entry").path());
            }
        }
    }
    g
}

#[test]
fn every_module_has_a_place_and_imports_only_downwards() {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, uses) in graph() {
        let Some(&mine) = layer.get(module.as_str()) else {
            wrong.push(format!("{module} has no place in LAYERS"));
            continue;
        };
        for used in uses {
            let theirs = layer.get(used.as_str()).copied().unwrap_or(u8::MAX);
            let fine = match mine {
                // The bottom uses only the bottom (and is checked for circles below).
                0 => theirs == 0,
                // A job uses only the bottom: never another job.
                1 => theirs == 0,
                _ => theirs < mine || (theirs == mine && mine == 2),
            };
            if !fine {
                wrong.push(format!("{module} (layer {mine}) uses {used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_two_modules_import_each_other_round_a_circle() {
    let g = graph();
    // Depth-first: a module met again on the current path closes a circle.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut circle = path[at..].to_vec();
            circle.push(m.to_string());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(circle) = visit(m, &g, &mut Vec::new(), &mut done) {
            panic!(
                "modules import each other in a circle: {}",
                circle.join(" → ")
            );
        }
    }
}

#[test]
fn the_reader_finds_both_forms_of_import() {
    let got = imports(
        "use crate::{backups, calendar};\nuse crate::state::guard; x(crate::notices::show)\n/// [`crate::tray`]",
    );
    let want: BTreeSet<String> = ["backups", "calendar", "state", "notices"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
}
