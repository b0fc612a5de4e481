//! Where command output goes: text for people on stdout, or one JSON object per line for
//! scripts; errors on stderr either way.

use std::io::{IsTerminal, Write};

/// How a command reports.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
    quiet: bool,
}

impl Output {
    /// Output as the global flags ask.
    pub fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Whether progress may be drawn: a terminal on stderr, not `--quiet`, not `--json`.
    #[allow(dead_code)]
    pub fn progress(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }

    /// A line of text (skipped in JSON mode).
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", text.as_ref());
        }
    }

    /// A JSON object built from key/value pairs (only in JSON mode). Values are already JSON.
    pub fn record(&self, fields: &[(&str, String)]) {
        if self.json {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", json_string(k), v))
                .collect();
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{{{}}}", body.join(","));
        }
    }

    /// Report a failure.
    pub fn error(&self, err: &anyhow::Error) {
        if self.json {
            self.record(&[
                ("event", json_string("error")),
                ("message", json_string(&format!("{err:#}"))),
            ]);
        }
        eprintln!("dat: {err:#}");
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
