//! Entry names: how append-tree splits them into components, how hyperdrive normalizes the
//! names callers give it, and which names are safe to turn into a local path.

use crate::error::NameError;
use crate::limits::{MAX_DEPTH, MAX_NAME_LEN};

/// append-tree's `split`: `name.split('/')` minus one leading and one trailing empty part.
/// Interior empty components are kept, exactly as JS keeps them, so lookups of names read
/// from a hostile archive behave as they do in JS.
pub fn split(name: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.first() == Some(&"") {
        parts.remove(0);
    }
    if parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// `"/" + components.join("/")`.
pub fn join<S: AsRef<str>>(components: &[S]) -> String {
    let mut out = String::from("/");
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(c.as_ref());
    }
    out
}

/// hyperdrive's `normalizePath`: POSIX `path.resolve('/', name)` (empty and `.` components
/// vanish, `..` pops, never above `/`), then bounds-checked. Backslashes are not separators
/// on POSIX and are refused, as is NUL, so a normalized name is always safe to export.
pub fn normalize(name: &str) -> Result<String, NameError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => {
                check_component(p)?;
                parts.push(p);
            }
        }
    }
    let joined = join(&parts);
    check_bounds(&joined, parts.len())?;
    Ok(joined)
}

/// Split a stored name and check its bounds (decoding entries uses this).
pub fn checked_components(name: &str) -> Result<Vec<&str>, NameError> {
    let parts = split(name);
    check_bounds(name, parts.len())?;
    Ok(parts)
}

fn check_bounds(name: &str, depth: usize) -> Result<(), NameError> {
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { len: name.len() });
    }
    if depth > MAX_DEPTH {
        return Err(NameError::TooDeep { depth });
    }
    Ok(())
}

/// Whether one component may become a file or directory name on disk: not empty, `.` or
/// `..`, no `/`, `\` or NUL.
pub fn check_component(part: &str) -> Result<(), NameError> {
    if part.is_empty() {
        return Err(NameError::EmptyComponent);
    }
    if part == "." || part == ".." {
        return Err(NameError::DotComponent);
    }
    if part.contains(['\\', '\0', '/']) {
        return Err(NameError::BadCharacter);
    }
    Ok(())
}

/// The components of a stored name if every one is safe to create under a destination
/// folder (used by export and by the working-files storage).
pub fn safe_components(name: &str) -> Result<Vec<&str>, NameError> {
    if !name.starts_with('/') {
        return Err(NameError::NotAbsolute);
    }
    let parts: Vec<&str> = name[1..].split('/').collect();
    if parts.len() == 1 && parts[0].is_empty() {
        return Err(NameError::EmptyComponent);
    }
    check_bounds(name, parts.len())?;
    for part in &parts {
        check_component(part)?;
    }
    Ok(parts)
}

/// Components shared at the front of `a` and `b` (append-tree `compare`).
pub fn shared_prefix<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> usize {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x.as_ref() == y.as_ref())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_js() {
        assert_eq!(split("/a/b"), ["a", "b"]);
        assert_eq!(split("/"), Vec::<&str>::new());
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split("a//b/"), ["a", "", "b"]);
        assert_eq!(join(&["a", "b"]), "/a/b");
        assert_eq!(join::<&str>(&[]), "/");
    }

    #[test]
    fn normalize_like_path_resolve() {
        assert_eq!(normalize("a/./b//c/").unwrap(), "/a/b/c");
        assert_eq!(normalize("/../../x").unwrap(), "/x");
        assert_eq!(normalize("a/b/../c").unwrap(), "/a/c");
        assert_eq!(normalize("").unwrap(), "/");
        assert_eq!(normalize("a\\b"), Err(NameError::BadCharacter));
        assert_eq!(normalize("a\0"), Err(NameError::BadCharacter));
        let deep = "a/".repeat(MAX_DEPTH + 1);
        assert_eq!(
            normalize(&deep),
            Err(NameError::TooDeep {
                depth: MAX_DEPTH + 1
            })
        );
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(normalize(&long), Err(NameError::TooLong { .. })));
    }

    #[test]
    fn safe_components_refuse_escapes() {
        assert_eq!(safe_components("/a/b").unwrap(), ["a", "b"]);
        assert_eq!(safe_components("/../x"), Err(NameError::DotComponent));
        assert_eq!(safe_components("/a/../../x"), Err(NameError::DotComponent));
        assert_eq!(safe_components("a"), Err(NameError::NotAbsolute));
        assert_eq!(safe_components("/a//b"), Err(NameError::EmptyComponent));
        assert_eq!(safe_components("/"), Err(NameError::EmptyComponent));
        assert_eq!(safe_components("/a\\..\\x"), Err(NameError::BadCharacter));
        assert_eq!(safe_components("/a/"), Err(NameError::EmptyComponent));
    }
}
