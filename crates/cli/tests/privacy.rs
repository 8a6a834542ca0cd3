//! The two-code design, checked on the bytes: the vault files hold no plaintext, the
//! clinical store holds notes but no names, the identity store names but no notes, and
//! standard SQLCipher tooling opens both with the keys `keys show` prints.

mod common;
use common::*;

const NAME: &str = "Zebediah Quillfeather";
const EMAIL: &str = "zeb.quill@example.org";
const NOTE: &str = "discussed the recurring hippopotamus dream";
const ADDENDUM: &str = "later recalled a marmalade memory";
const PROCESS: &str = "I noticed my own impatience";

fn populated(store: KeyStore) -> (TestVault, String) {
    let v = TestVault::new(store);
    let code = v.json(&[
        "client",
        "add",
        "--name",
        NAME,
        "--email",
        EMAIL,
        "--dob",
        "1985-06-07",
    ])["code"]
        .as_str()
        .unwrap()
        .to_string();
    let note = v.add_note(&code, NOTE);
    v.json(&["note", "finalise", &note]);
    v.json(&["note", "amend", &note, "--text", ADDENDUM]);
    v.json(&["process-note", "add", &code, "--text", PROCESS]);
    (v, code)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

for_each_key_store!(raw_vault_files_contain_no_plaintext, |store| {
    let (v, code) = populated(store);
    for entry in std::fs::read_dir(&v.dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for secret in [
            NAME,
            "Zebediah",
            EMAIL,
            NOTE,
            "hippopotamus",
            ADDENDUM,
            PROCESS,
            &code,
        ] {
            assert!(
                !contains(&bytes, secret),
                "{} contains {secret:?}",
                path.display()
            );
        }
    }
});

#[test]
fn each_store_holds_only_its_half() {
    let (v, code) = populated(KeyStore::Passphrase);
    let (ck, ik) = v.keys();
    let clinical = all_text(&v.open_store("clinical.db", &ck));
    let identity = all_text(&v.open_store("identity.db", &ik));
    assert!(clinical.contains(NOTE) && clinical.contains(ADDENDUM) && clinical.contains(PROCESS));
    assert!(clinical.contains(&code));
    for name_part in [NAME, "Zebediah", "Quillfeather", EMAIL, "1985-06-07"] {
        assert!(
            !clinical.contains(name_part),
            "clinical store holds {name_part:?}"
        );
    }
    assert!(identity.contains(NAME) && identity.contains(EMAIL) && identity.contains(&code));
    for clinical_part in ["hippopotamus", "marmalade", "impatience"] {
        assert!(
            !identity.contains(clinical_part),
            "identity store holds {clinical_part:?}"
        );
    }
    // Each key opens only its own store.
    let wrong = v.open_store("clinical.db", &ik);
    assert!(
        wrong
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r
                .get::<_, i64>(0))
            .is_err()
    );
}

/// The standard tooling: Python's `sqlcipher3` (SQLCipher 4) opens our stores with the
/// printed keys. Required in the full suite; skipped elsewhere if the module is missing.
#[test]
fn standard_sqlcipher_tools_open_the_stores() {
    let have = std::process::Command::new("python3")
        .args(["-c", "import sqlcipher3"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            !full(),
            "CASEBOOK_FULL_TESTS=1 but python3 cannot import sqlcipher3"
        );
        eprintln!("skipping: python3 sqlcipher3 not installed");
        return;
    }
    let (v, code) = populated(KeyStore::Passphrase);
    let (ck, ik) = v.keys();
    let script = r#"
import sqlcipher3, sys
def q(path, key, sql):
    c = sqlcipher3.connect(path)
    c.execute("PRAGMA key = \"x'%s'\"" % key)
    return c.execute(sql).fetchall()
d, ck, ik = sys.argv[1], sys.argv[2], sys.argv[3]
print(q(d + "/clinical.db", ck, "SELECT body FROM session_notes")[0][0])
print(q(d + "/identity.db", ik, "SELECT code, full_name FROM client_identity")[0])
print(q(d + "/clinical.db", ck, "PRAGMA cipher_integrity_check"))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, v.dir.to_str().unwrap(), &ck, &ik])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("hippopotamus"), "{text}");
    assert!(text.contains(NAME) && text.contains(&code), "{text}");
    assert!(
        text.lines().last().unwrap().trim() == "[]",
        "integrity check reported problems: {text}"
    );
}
