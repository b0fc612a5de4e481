//! The benchmark harness runs end to end at smoke sizes: both sides of every workload, the
//! read-back checks, and the table.

use std::process::Command;

#[test]
fn smoke_run_prints_a_checked_table() {
    let Some(lab) = dat_test::JsLab::get("bench smoke") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smoke", "--only", "W1,W2,feed-append-1k"])
        .env("DAT_LAB", lab.root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench --smoke failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "| W1 import one 8 MiB file",
        "| W1 no-op re-import",
        "| W2 import 2k files",
        "| W2 import 2k files of 1–4 KiB in one folder",
        "| feed append, 100k",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in:\n{stdout}"));
        assert!(!line.contains("(!)"), "a check failed: {line}");
    }
    assert!(stdout.contains("content tree = JS"), "{stdout}");
}
