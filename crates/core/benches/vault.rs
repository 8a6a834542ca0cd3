//! SQLCipher vs plain SQLite on the same work, side by side.
//!
//! `cargo bench -p casebook-core --features plaintext-bench --bench vault`
//! (set `BENCH_NOTES` to change the search corpus; default 100,000 notes).
//!
//! A bench binary rather than criterion because the figures we need are percentiles
//! (p50/p99) of single operations, and the SQLCipher/plain ratio of each.

use std::time::{Duration, Instant};

use casebook_core::bench_support::{self, BenchKeys};
use casebook_core::search::fts_query;
use casebook_core::{ClientCode, NoteTemplate, SearchFilter, Vault};
use chrono::TimeZone;
use rand::Rng;
use rand::seq::SliceRandom;

const WORDS: &[&str] = &[
    "sleep",
    "anxiety",
    "mother",
    "work",
    "anger",
    "grief",
    "panic",
    "relationship",
    "breathing",
    "exposure",
    "avoidance",
    "diary",
    "boundaries",
    "childhood",
    "school",
    "sister",
    "father",
    "loss",
    "hope",
    "shame",
    "guilt",
    "trauma",
    "safety",
    "plan",
    "review",
    "mood",
    "energy",
    "appetite",
    "worry",
    "rumination",
    "homework",
    "values",
    "acceptance",
    "defusion",
    "mindfulness",
    "schema",
    "attachment",
    "rupture",
    "repair",
    "transference",
    "dream",
    "memory",
    "body",
    "tension",
    "headache",
    "medication",
    "gp",
    "referral",
    "risk",
    "self-harm",
    "drinking",
    "cannabis",
    "exercise",
    "walking",
    "partner",
    "divorce",
    "custody",
    "redundancy",
    "promotion",
    "deadline",
    "holiday",
    "christmas",
    "birthday",
    "anniversary",
    "funeral",
    "hospital",
];

/// A note-like vocabulary: the clinical words above plus 20,000 made-up words, drawn with a
/// Zipf distribution (the k-th commonest word k times rarer than the first), as in real prose.
struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new() -> Self {
        let mut rng = rand::thread_rng();
        let mut words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
        const SYLLABLES: &[&str] = &[
            "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ber", "dan", "fel", "gor", "hin",
            "jul", "mar", "pen", "quo", "ril", "sen", "tav",
        ];
        while words.len() < 20_000 + WORDS.len() {
            let n = rng.gen_range(2..5);
            words.push(
                (0..n)
                    .map(|_| *SYLLABLES.choose(&mut rng).unwrap())
                    .collect(),
            );
        }
        words.shuffle(&mut rng);
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|k| {
                total += 1.0 / k as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn word(&self, rng: &mut impl Rng) -> &str {
        let x = rng.gen_range(0.0..*self.cumulative.last().unwrap());
        let i = self.cumulative.partition_point(|c| *c < x);
        &self.words[i.min(self.words.len() - 1)]
    }

    fn text(&self, rng: &mut impl Rng, n: usize) -> String {
        (0..n).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }
}

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

struct Row {
    name: &'static str,
    cipher: (Duration, Duration),
    plain: (Duration, Duration),
}

fn measure(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..n / 10 + 1 {
        f(); // warm-up
    }
    let mut s: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    (pct(&mut s, 0.5), pct(&mut s, 0.99))
}

fn run(
    vocab: &Vocabulary,
    encrypted: bool,
    notes: usize,
) -> Vec<(&'static str, (Duration, Duration))> {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let (mut vault, keys): (Vault, BenchKeys) =
        bench_support::create(dir.path(), encrypted).unwrap();
    let code: ClientCode = bench_support::populate(&mut vault, 1, 0, |_| String::new())
        .unwrap()
        .remove(0);
    let mut out = Vec::new();

    // Saving a draft note with its audit entry, one transaction each (fsync'd).
    out.push((
        "save note + audit entry",
        measure(300, || {
            let t = vocab.text(&mut rand::thread_rng(), 120);
            vault
                .add_note(&code, NoteTemplate::Free, &[("text".into(), t)], None)
                .unwrap();
        }),
    ));

    drop(vault);
    out.push((
        "vault open (key, check, schema)",
        measure(300, || {
            let v = bench_support::open(dir.path(), &keys).unwrap();
            drop(v);
        }),
    ));

    // Search over a large corpus.
    let mut vault = bench_support::open(dir.path(), &keys).unwrap();
    let t = Instant::now();
    let clients = bench_support::populate(&mut vault, 50, notes, |_| {
        vocab.text(&mut rand::thread_rng(), 60)
    })
    .unwrap();
    eprintln!(
        "  populated {notes} notes in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let queries: Vec<String> = (0..400)
        .map(|_| {
            format!(
                "{} {}",
                WORDS.choose(&mut rng).unwrap(),
                WORDS.choose(&mut rng).unwrap()
            )
        })
        .collect();
    let mut qi = 0;
    out.push((
        "FTS query, 1–2 words, top 50 by rank (index only)",
        measure(300, || {
            let q = fts_query(&queries[qi % queries.len()]).unwrap();
            qi += 1;
            bench_support::raw_search(&vault, &q).unwrap();
        }),
    ));
    // The worst case: the commonest word, which nearly every note contains.
    let common = fts_query(&vocab.words[0]).unwrap();
    out.push((
        "FTS query, commonest word (matches ~all notes)",
        measure(50, || {
            bench_support::raw_search(&vault, &common).unwrap();
        }),
    ));
    out.push((
        "search + names + audit entry (what the user waits for)",
        measure(300, || {
            let q = &queries[qi % queries.len()];
            qi += 1;
            vault.search(q, 50).unwrap();
        }),
    ));
    // The same worst case through the app's search: past 1,000 matches it goes newest first.
    out.push((
        "search, commonest word (newest first past 1,000 matches)",
        measure(50, || {
            vault.search(&vocab.words[0], 50).unwrap();
        }),
    ));
    // Typing the commonest word: its first letters, a prefix that starts nearly every note.
    let typing = vocab.words[0].chars().take(4).collect::<String>();
    out.push((
        "search, the commonest word's first 4 letters (as typed)",
        measure(50, || {
            vault.search(&typing, 50).unwrap();
        }),
    ));
    let first_letter = vocab.words[0].chars().take(1).collect::<String>();
    out.push((
        "search, one letter (the first key typed)",
        measure(50, || {
            vault.search(&first_letter, 50).unwrap();
        }),
    ));
    let one_client = SearchFilter {
        client_code: Some(clients[7].to_string()),
        ..Default::default()
    };
    out.push((
        "search, 1–2 words, one client's notes",
        measure(300, || {
            let q = &queries[qi % queries.len()];
            qi += 1;
            vault.search_with(q, &one_client, 50).unwrap();
        }),
    ));
    out.push((
        "search, commonest word, one client's notes (2 % of matches)",
        measure(50, || {
            vault.search_with(&vocab.words[0], &one_client, 50).unwrap();
        }),
    ));
    // The bench's notes are dated from 2006 to 2025: a range before them matches none, which
    // before the index knew dates was the slowest a date filter got (every match looked at).
    let before = SearchFilter {
        to: Some(chrono::Utc.with_ymd_and_hms(2005, 12, 1, 0, 0, 0).unwrap()),
        ..Default::default()
    };
    let one_month = SearchFilter {
        from: Some(chrono::Utc.with_ymd_and_hms(2016, 3, 14, 0, 0, 0).unwrap()),
        to: Some(chrono::Utc.with_ymd_and_hms(2016, 4, 14, 0, 0, 0).unwrap()),
        ..Default::default()
    };
    out.push((
        "search, commonest word, one month (14 March – 13 April 2016)",
        measure(50, || {
            vault.search_with(&vocab.words[0], &one_month, 50).unwrap();
        }),
    ));
    out.push((
        "search, 1–2 words, one month",
        measure(300, || {
            let q = &queries[qi % queries.len()];
            qi += 1;
            vault.search_with(q, &one_month, 50).unwrap();
        }),
    ));
    out.push((
        "search, commonest word, a date range holding none (worst case)",
        measure(50, || {
            vault.search_with(&vocab.words[0], &before, 50).unwrap();
        }),
    ));
    out.push((
        "caseload (50 clients: next, last seen, attended, notes to finish)",
        measure(100, || {
            vault.caseload(true, chrono::Utc::now()).unwrap();
        }),
    ));
    out
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` probe
    }
    let notes: usize = std::env::var("BENCH_NOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    eprintln!("SQLCipher run…");
    let vocab = Vocabulary::new();
    let c = run(&vocab, true, notes);
    eprintln!("plain SQLite run…");
    let p = run(&vocab, false, notes);
    let rows: Vec<Row> = c
        .iter()
        .zip(&p)
        .map(|((name, cipher), (_, plain))| Row {
            name,
            cipher: *cipher,
            plain: *plain,
        })
        .collect();
    println!(
        "| operation ({notes} notes for search) | SQLCipher p50 ms | p99 ms | plain p50 ms | p99 ms | ratio p50 |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.2} |",
            r.name,
            ms(r.cipher.0),
            ms(r.cipher.1),
            ms(r.plain.0),
            ms(r.plain.1),
            r.cipher.0.as_secs_f64() / r.plain.0.as_secs_f64()
        );
    }
}
