//! Small re-implementations of the Go library behaviour upstream's mutation depends on:
//! `encoding/csv` for `<prefix>/skip-containers` and `path/filepath.Join` for the token path.
//! They are reproduced (quirks included) so the same annotation gives the same pod.

/// Parses the first CSV record of `s` the way Go's `encoding/csv` reader with default settings
/// does: blank leading lines skipped, fields not trimmed, RFC 4180 quoting, a bare `"` in an
/// unquoted field or a stray `"` after a quoted one is an error. `None` means "parse error",
/// which upstream (and this crate) turns into "skip nothing"; an empty string is also `None`
/// (Go reports EOF).
#[must_use]
pub fn first_csv_record(s: &str) -> Option<Vec<String>> {
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix("\r\n") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        } else {
            break;
        }
    }
    if rest.is_empty() {
        return None;
    }
    let mut chars = rest.chars().peekable();
    let mut fields = Vec::new();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return None,
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some(',') => {
                            chars.next();
                            fields.push(field);
                            break;
                        }
                        None | Some('\n') => {
                            fields.push(field);
                            return Some(fields);
                        }
                        Some('\r') => {
                            chars.next();
                            if matches!(chars.peek(), None | Some('\n')) {
                                fields.push(field);
                                return Some(fields);
                            }
                            return None;
                        }
                        Some(_) => return None,
                    },
                    Some(c) => field.push(c),
                }
            }
        } else {
            loop {
                match chars.next() {
                    None | Some('\n') => {
                        if field.ends_with('\r') {
                            field.pop();
                        }
                        if field.contains('"') {
                            return None;
                        }
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(',') => {
                        if field.contains('"') {
                            return None;
                        }
                        fields.push(field);
                        break;
                    }
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

/// Go `filepath.Join(dir, file)` on Unix: empty parts dropped, result cleaned.
#[must_use]
pub fn go_join(dir: &str, file: &str) -> String {
    match (dir.is_empty(), file.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_clean(file),
        (false, true) => go_clean(dir),
        (false, false) => {
            let joined = format!("{dir}/{file}");
            if is_clean(&joined) {
                joined
            } else {
                go_clean(&joined)
            }
        }
    }
}

/// Whether `go_clean` would return `path` unchanged, found in one scan: the planner joins
/// the same clean mount path and file name on every admission, and cleaning them through a
/// list of segments cost more than the rest of the token path's handling.
fn is_clean(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let relative = path.strip_prefix('/').unwrap_or(path);
    !relative.is_empty()
        && relative
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

/// Go `path.Clean`: collapses `//`, drops `.`, resolves `..`, strips a trailing `/`.
#[must_use]
pub fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// The token path as Windows containers see it: `C:` + the path with `\` separators.
#[must_use]
pub fn windows_path(path: &str) -> String {
    format!("C:{}", path.replace('/', "\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Option<Vec<String>> {
        first_csv_record(s)
    }

    fn v(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn csv_first_record_matches_go() {
        assert_eq!(rec("sidecar"), v(&["sidecar"]));
        assert_eq!(rec("a,b"), v(&["a", "b"]));
        assert_eq!(rec("a, b"), v(&["a", " b"]));
        assert_eq!(rec("a,"), v(&["a", ""]));
        assert_eq!(rec("a\nb"), v(&["a"]));
        assert_eq!(rec("a\r\nb"), v(&["a"]));
        assert_eq!(rec("\n\nx,y"), v(&["x", "y"]));
        assert_eq!(rec("\"a,b\",c"), v(&["a,b", "c"]));
        assert_eq!(rec("\"say \"\"hi\"\"\""), v(&["say \"hi\""]));
        assert_eq!(rec("\"multi\nline\",z"), v(&["multi\nline", "z"]));
        assert_eq!(rec(""), None);
        assert_eq!(rec("\n"), None);
        assert_eq!(rec("a\"b"), None);
        assert_eq!(rec("\"open"), None);
        assert_eq!(rec("\"a\"b"), None);
    }

    #[test]
    fn join_and_clean_match_go() {
        assert_eq!(
            go_join("/var/run/secrets/eks.amazonaws.com/serviceaccount", "token"),
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
        );
        assert_eq!(go_join("/a//b/", "c"), "/a/b/c");
        assert_eq!(go_join("/a/b", "../c"), "/a/c");
        assert_eq!(go_join("/", "../x"), "/x");
        assert_eq!(go_join("a", ""), "a");
        assert_eq!(go_join("", ""), "");
        assert_eq!(go_join("./x/.", "."), "x");
        assert_eq!(go_clean("../../a"), "../../a");
        assert_eq!(go_clean("a/.."), ".");
    }

    proptest::proptest! {
        /// The fast path never changes an answer: a path `is_clean` accepts is one
        /// `go_clean` returns unchanged, and `go_join` equals cleaning the plain join.
        #[test]
        fn the_clean_path_shortcut_agrees_with_go_clean(
            dir in "[a./]{0,12}",
            file in "[a./]{0,12}",
        ) {
            let joined = format!("{dir}/{file}");
            if is_clean(&joined) {
                proptest::prop_assert_eq!(go_clean(&joined), joined.clone());
            }
            if !dir.is_empty() && !file.is_empty() {
                proptest::prop_assert_eq!(go_join(&dir, &file), go_clean(&joined));
            }
        }
    }

    #[test]
    fn clean_paths_are_recognised() {
        for clean in ["/", "/a", "/a/b.c", "a", "a/b", "..a/b.."] {
            assert!(is_clean(clean), "{clean}");
            assert_eq!(go_clean(clean), clean);
        }
        for unclean in ["", "//", "/a/", "a//b", "./a", "a/.", "/a/../b", ".."] {
            assert!(!is_clean(unclean), "{unclean}");
        }
    }

    #[test]
    fn windows_path_prefixes_drive_and_flips_separators() {
        assert_eq!(
            windows_path("/var/run/secrets/eks.amazonaws.com/serviceaccount/token"),
            "C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token"
        );
    }
}
