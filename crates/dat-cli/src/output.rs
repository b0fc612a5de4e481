//! Where command output goes: text for people on stdout, or one JSON object per line for
//! scripts; errors on stderr either way.

use std::io::{BufWriter, IsTerminal, StdoutLock, Write};

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
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", json_object(fields));
        }
    }

    /// A buffered writer for commands that print many lines (one lock, one buffer): text
    /// lines or JSON records as the flags ask.
    pub fn lines(&self) -> Lines {
        Lines {
            json: self.json,
            out: BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()),
        }
    }

    /// A note for people on stderr (skipped with `--quiet` and `--json`).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", text.as_ref());
        }
    }

    /// Report a failure.
    pub fn error(&self, err: &anyhow::Error) {
        if self.json {
            self.record(&[
                ("event", json_string("error")),
                ("message", json_string(&describe(err))),
            ]);
        }
        eprintln!("dat: {}", describe(err));
    }
}

/// An error and its causes on one line, each cause once: the library errors already end
/// their message with their source's (so they read well alone), and anyhow's `{:#}` would
/// add it again.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
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

/// Many lines of output through one buffer; call [`Lines::finish`] to flush.
pub struct Lines {
    json: bool,
    out: BufWriter<StdoutLock<'static>>,
}

impl Lines {
    /// Whether records (not text) are printed.
    pub fn json(&self) -> bool {
        self.json
    }

    /// A text line (skipped in JSON mode).
    pub fn line(&mut self, text: impl AsRef<str>) -> std::io::Result<()> {
        if self.json {
            return Ok(());
        }
        writeln!(self.out, "{}", text.as_ref())
    }

    /// A JSON record (only in JSON mode). Values are already JSON.
    pub fn record(&mut self, fields: &[(&str, String)]) -> std::io::Result<()> {
        if !self.json {
            return Ok(());
        }
        writeln!(self.out, "{}", json_object(fields))
    }

    /// The raw writer (for file bytes).
    pub fn raw(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// Flush what is buffered.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Whether an error only says the reader of stdout went away (`dat log | head`): the
/// command stops quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A command's result with "stdout was closed" turned into success.
pub fn ok_if_broken_pipe(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// A JSON object from key/value pairs whose values are already JSON.
pub fn json_object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A size for people: `512 B`, `1.5 KB`, `200.0 MB` (powers of 1000, as dat prints).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_strings() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 KB");
        assert_eq!(human_bytes(200_000_000), "200.0 MB");
        assert_eq!(json_string("a\"\n\u{1}"), "\"a\\\"\\n\\u0001\"");
        assert_eq!(
            json_object(&[("a", "1".into()), ("b", json_string("x"))]),
            "{\"a\":1,\"b\":\"x\"}"
        );
    }
}
