//! The repository stands alone: nothing in it may read a path outside itself at build, test,
//! bench or run time (a user clones it and nothing else). This test reads every source, build
//! and documentation file and fails on any path that leaves the repository.
//!
//! A path token with `..` components is resolved against the folder its file's paths are
//! relative to: the nearest folder with a `Cargo.toml` (cargo runs build scripts, tests and
//! `CARGO_MANIFEST_DIR` paths there), except in xtask, whose paths are relative to the workspace
//! root (it changes there first); in scripts and manifests, against their own folder.
//! Documentation is only searched for the tutorial's old home.

#[cfg(test)]
mod tests {
    use std::path::{Component, Path, PathBuf};

    /// Folders that hold build output or generated files, not the repository's own text.
    const SKIP: &[&str] = &[".git", "target", "corpus", "artifacts", "coverage"];

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if SKIP.iter().any(|s| name == *s) {
                continue;
            }
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// Where the relative paths of `file` start from.
    fn base(root: &Path, file: &Path) -> PathBuf {
        if file.starts_with(root.join("xtask")) {
            return root.to_path_buf();
        }
        let mut dir = file.parent().unwrap();
        if file.extension().is_none_or(|e| e != "rs") {
            return dir.to_path_buf(); // a script's or manifest's paths start beside it
        }
        while dir != root && !dir.join("Cargo.toml").is_file() {
            dir = dir.parent().unwrap();
        }
        dir.to_path_buf()
    }

    /// `base` joined with `rel`, `..` taken lexically; None when it climbs above `root`.
    fn resolve(root: &Path, base: &Path, rel: &str) -> Option<PathBuf> {
        let mut at = base.strip_prefix(root).unwrap().to_path_buf();
        for c in Path::new(rel.trim_start_matches('/')).components() {
            match c {
                Component::ParentDir if !at.pop() => return None,
                Component::Normal(n) => at.push(n),
                _ => {}
            }
        }
        Some(at)
    }

    /// The tokens of `text` that look like paths with a `..` component.
    fn climbing_paths(text: &str) -> impl Iterator<Item = &str> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
            .filter(|t| t.contains('/') && t.split('/').any(|part| part == ".."))
    }

    fn outside_paths(root: &Path) -> Vec<String> {
        // Spelled in two halves so that this file does not find itself.
        let old_home = format!("{}/shared", "..");
        let mut all = Vec::new();
        files(root, &mut all);
        let mut found = Vec::new();
        for file in all {
            if file.ends_with(file!()) {
                continue; // its own examples
            }
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue; // not text
            };
            let shown = file.strip_prefix(root).unwrap().display().to_string();
            let code = !matches!(
                file.extension().and_then(|e| e.to_str()),
                Some("md" | "svg" | "lock" | "conf")
            );
            for (n, line) in text.lines().enumerate() {
                if line.contains(&old_home) {
                    found.push(format!("{shown}:{}: {}", n + 1, line.trim()));
                    continue;
                }
                if !code {
                    continue;
                }
                let from = base(root, &file);
                for token in climbing_paths(line) {
                    if resolve(root, &from, token).is_none() {
                        found.push(format!("{shown}:{}: {token} leaves the repository", n + 1));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn nothing_reads_outside_the_repository() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let found = outside_paths(root);
        assert!(
            found.is_empty(),
            "paths outside the repository:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn a_path_beside_the_repository_is_found() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let crate_dir = root.join("vrrp-userspace");
        // What the tests used to read, from the crate that read it.
        assert_eq!(resolve(root, &crate_dir, "/../../elsewhere/seed/"), None);
        assert_eq!(
            resolve(root, &crate_dir, "/../examples/tutorial/"),
            Some(PathBuf::from("examples/tutorial"))
        );
        // From the workspace root (xtask), one step up is already outside.
        assert_eq!(resolve(root, root, "../elsewhere/seed"), None);
        let tokens: Vec<&str> =
            climbing_paths(r#"root.join("../x/seed"); concat!(d, "/../../y/")"#).collect();
        assert_eq!(tokens, ["../x/seed", "/../../y/"]);
    }
}
