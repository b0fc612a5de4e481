//! The `dat` binary as a user runs it.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::process::Command;

fn dat(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dat"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_and_version() {
    let help = dat(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: dat"), "{text}");
    assert!(text.contains("keys"), "{text}");
    let version = dat(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("dat {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn keys_of_a_js_written_archive() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/vectors/datdir");
    let out = dat(&["keys", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let key = std::fs::read(dir.join(".dat/metadata.key")).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(text.starts_with(&format!("dat://{hex}\n")), "{text}");
    let json = dat(&["keys", "--json", dir.to_str().unwrap()]);
    let line = String::from_utf8_lossy(&json.stdout);
    assert!(line.contains(&format!("\"key\":\"{hex}\"")), "{line}");
    assert!(line.contains("\"discoveryKey\":\""), "{line}");
}

#[test]
fn keys_outside_an_archive_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dat(&["keys", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Dat archive here"));
}

#[test]
fn keys_of_an_archival_sleep_folder() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../interop/fixtures/sleep-layout-small/archive");
    let out = dat(&["keys", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = std::fs::read(dir.join("metadata.key")).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("dat://{hex}\n")), "{text}");
    assert!(text.contains("content key:"), "{text}");
}

#[test]
fn a_clone_cut_before_its_key_was_written_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".dat")).unwrap();
    std::fs::write(dir.path().join(".dat/metadata.key"), b"").unwrap();
    let out = dat(&["verify", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing is stored in"), "{err}");

    // A torn key: each cause is said once, not once per layer that wraps it.
    std::fs::write(dir.path().join(".dat/metadata.key"), b"short").unwrap();
    let out = dat(&["verify", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("no feed is stored here").count(), 1, "{err}");
}
