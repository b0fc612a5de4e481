//! Which files an import skips: dat's defaults (dat-ignore: the `.dat` folder, `.DS_Store`,
//! hidden files unless disabled, but never `.well-known/dat`) plus `.datignore` lines with
//! gitignore rules (`#` comments, `!` negation, trailing `/` for directories, a `/` inside
//! anchors to the import root, `*`, `?`, `**`, `[...]`; the last matching rule wins).

use crate::error::DriveError;

/// Longest pattern accepted (matching is O(pattern × path)).
const MAX_PATTERN_LEN: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    Star,
    DoubleStar,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

#[derive(Clone, Debug)]
struct Rule {
    negate: bool,
    dir_only: bool,
    anchored: bool,
    tokens: Vec<Token>,
}

/// A compiled ignore list.
#[derive(Clone, Debug)]
pub struct Ignore {
    rules: Vec<Rule>,
    ignore_hidden: bool,
}

impl Ignore {
    /// dat's defaults, plus `patterns` (lines of a `.datignore`).
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        ignore_hidden: bool,
    ) -> Result<Self, DriveError> {
        let mut rules = Vec::new();
        for line in patterns {
            if let Some(rule) = compile(line)? {
                rules.push(rule);
            }
        }
        Ok(Self {
            rules,
            ignore_hidden,
        })
    }

    /// Whether the path `rel` (relative to the import root, `/`-separated, no leading `/`)
    /// is skipped. Directories that are skipped are not walked.
    pub fn is_ignored(&self, rel: &str, is_dir: bool) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        if rel == ".well-known" && is_dir || rel == ".well-known/dat" {
            return false;
        }
        if parts.iter().any(|p| *p == ".dat" || *p == ".DS_Store") {
            return true;
        }
        let mut ignored = self.ignore_hidden && parts.iter().any(|p| p.starts_with('.'));
        for rule in &self.rules {
            if rule.negate == ignored
                && (!rule.dir_only || is_dir)
                && rule.matches(rel, parts.last().copied().unwrap_or(""))
            {
                ignored = !rule.negate;
            }
        }
        ignored
    }
}

impl Rule {
    fn matches(&self, rel: &str, base: &str) -> bool {
        if self.anchored {
            glob(&self.tokens, rel.as_bytes())
        } else {
            glob(&self.tokens, base.as_bytes())
        }
    }
}

fn compile(line: &str) -> Result<Option<Rule>, DriveError> {
    let mut p = line.trim_end_matches(['\r', ' ']);
    if p.is_empty() || p.starts_with('#') {
        return Ok(None);
    }
    if p.len() > MAX_PATTERN_LEN {
        return Err(DriveError::BadPattern {
            pattern: p.chars().take(64).collect(),
        });
    }
    let negate = p.starts_with('!');
    if negate {
        p = &p[1..];
    }
    let dir_only = p.ends_with('/');
    let p = p.trim_end_matches('/');
    let anchored = p.contains('/');
    let p = p.trim_start_matches('/');
    if p.is_empty() {
        return Ok(None);
    }
    let tokens = tokenize(p).ok_or_else(|| DriveError::BadPattern {
        pattern: line.to_string(),
    })?;
    Ok(Some(Rule {
        negate,
        dir_only,
        anchored,
        tokens,
    }))
}

fn tokenize(p: &str) -> Option<Vec<Token>> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' if b.get(i + 1) == Some(&b'*') => {
                // `**/` also matches zero directories.
                i += if b.get(i + 2) == Some(&b'/') { 3 } else { 2 };
                out.push(Token::DoubleStar);
                continue;
            }
            b'*' => out.push(Token::Star),
            b'?' => out.push(Token::Any),
            b'\\' => {
                i += 1;
                out.push(Token::Byte(*b.get(i)?));
            }
            b'[' => {
                let (token, len) = class(&b[i..])?;
                out.push(token);
                i += len;
                continue;
            }
            c => out.push(Token::Byte(c)),
        }
        i += 1;
    }
    Some(out)
}

fn class(b: &[u8]) -> Option<(Token, usize)> {
    let mut i = 1;
    let negated = matches!(b.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < b.len() && (b[i] != b']' || first) {
        first = false;
        let lo = b[i];
        if b.get(i + 1) == Some(&b'-') && b.get(i + 2).is_some_and(|&c| c != b']') {
            ranges.push((lo, b[i + 2]));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    (i < b.len()).then_some((Token::Class { negated, ranges }, i + 1))
}

/// Dynamic-programming glob match: `dp[j]` = tokens so far match `text[..j]`.
fn glob(tokens: &[Token], text: &[u8]) -> bool {
    let n = text.len();
    let mut dp = vec![false; n + 1];
    dp[0] = true;
    for t in tokens {
        let mut next = vec![false; n + 1];
        match t {
            Token::Star | Token::DoubleStar => {
                let mut reach = false;
                for j in 0..=n {
                    reach = reach || dp[j];
                    next[j] = reach;
                    if matches!(t, Token::Star) && j < n && text[j] == b'/' {
                        reach = false;
                    }
                }
            }
            _ => {
                for j in 0..n {
                    if dp[j] && single(t, text[j]) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        dp = next;
    }
    dp[n]
}

fn single(t: &Token, c: u8) -> bool {
    match t {
        Token::Byte(b) => *b == c,
        Token::Any => c != b'/',
        Token::Class { negated, ranges } => {
            c != b'/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
        Token::Star | Token::DoubleStar => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let ig = Ignore::new([], true).unwrap();
        assert!(ig.is_ignored(".dat", true));
        assert!(ig.is_ignored("a/.dat/x", false));
        assert!(ig.is_ignored("x/.DS_Store", false));
        assert!(ig.is_ignored(".hidden", false));
        assert!(ig.is_ignored("a/.git", true));
        assert!(!ig.is_ignored(".well-known", true));
        assert!(!ig.is_ignored(".well-known/dat", false));
        assert!(ig.is_ignored(".well-known/other", false));
        assert!(!ig.is_ignored("a/b.txt", false));
        let shown = Ignore::new([], false).unwrap();
        assert!(!shown.is_ignored(".hidden", false));
        assert!(shown.is_ignored(".dat", true));
    }

    #[test]
    fn gitignore_rules() {
        let ig = Ignore::new(
            [
                "# c",
                "*.log",
                "!keep.log",
                "/build/",
                "docs/**/*.tmp",
                "[ab]?.x",
                "out/",
            ],
            true,
        )
        .unwrap();
        assert!(ig.is_ignored("x.log", false));
        assert!(ig.is_ignored("deep/y.log", false));
        assert!(!ig.is_ignored("keep.log", false));
        assert!(ig.is_ignored("build", true));
        assert!(!ig.is_ignored("build", false));
        assert!(!ig.is_ignored("src/build", true));
        assert!(ig.is_ignored("docs/a.tmp", false));
        assert!(ig.is_ignored("docs/a/b/c.tmp", false));
        assert!(!ig.is_ignored("x/docs/a.tmp", false));
        assert!(ig.is_ignored("a1.x", false));
        assert!(!ig.is_ignored("c1.x", false));
        assert!(ig.is_ignored("q/out", true));
        assert!(Ignore::new(["[abc"], true).is_err());
    }
}
