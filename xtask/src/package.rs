//! Packaging: every publishable crate is packaged and verified the way `cargo publish` would,
//! and each `.crate` file carries both license texts.

use crate::metadata::Workspace;
use crate::{Result, cargo, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The license files every package must carry, identical to the workspace's own.
const LICENSES: &[&str] = &["LICENSE-MIT", "LICENSE-APACHE"];

/// `cargo package` for all publishable crates in one call. Cargo packages them in dependency
/// order and builds each from its `.crate` file, with the workspace's crates served from a
/// local registry of the ones just packaged, in the shared target directory.
pub(crate) fn package(ws: &Workspace) -> Result {
    if let Some(home) = cargo_home() {
        let names: Vec<String> = ws
            .publishable()
            .map(|(_, p)| format!("{}-{}", p.name, p.version))
            .collect();
        for stale in remove_unpacked(&home, &names)? {
            eprintln!("==> removed an earlier run's unpacked {}", stale.display());
        }
    }
    let mut cmd = cargo();
    cmd.args(["package", "--locked", "--allow-dirty", "--quiet"]);
    for (_, p) in ws.publishable() {
        cmd.args(["-p", &p.name]);
    }
    run("package (verified)", &mut cmd)?;
    licenses(ws)
}

/// Cargo's home: `$CARGO_HOME`, or `.cargo` in the user's home directory.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .or_else(|| std::env::var_os("USERPROFILE"))
                .map(|h| Path::new(&h).join(".cargo"))
        })
}

/// Removes earlier unpacked copies of the workspace's own crates (`dirs`: `name-version`) from
/// the local-registry sources under `home/registry/src`, and returns what it removed.
///
/// Verification serves the crates just packaged from a local registry and unpacks them under
/// `registry/src/-<hash of the registry's path>/` (a local registry has no host, hence the
/// leading `-`). Cargo never unpacks a crate again once its directory exists, so a second run
/// from the same checkout path at the same version would verify against the first run's
/// sources: a CI machine that keeps its cargo home failed exactly so, building the new client
/// against an old transport. Crates.io's own sources (`index.crates.io-…`) are left alone. The
/// copies of other checkouts go too (the hash cannot be told apart from outside cargo): they are
/// caches cargo unpacks again, but two checkouts packaging at the same moment on one machine
/// would step on each other.
fn remove_unpacked(home: &Path, dirs: &[String]) -> Result<Vec<PathBuf>> {
    let src = home.join("registry").join("src");
    let Ok(sources) = std::fs::read_dir(&src) else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for source in sources.flatten() {
        if !source.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for dir in dirs {
            let path = source.path().join(dir);
            if path.is_dir() {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| format!("removing {}: {e}", path.display()))?;
                removed.push(path);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// Each `.crate` file holds LICENSE-MIT and LICENSE-APACHE with the workspace's text.
fn licenses(ws: &Workspace) -> Result {
    let root = crate::root();
    let mut problems = Vec::new();
    for (_, p) in ws.publishable() {
        let dir = format!("{}-{}", p.name, p.version);
        let file = ws.target_dir.join("package").join(format!("{dir}.crate"));
        for license in LICENSES {
            let expected = std::fs::read(root.join(license))
                .map_err(|e| format!("{license} at the workspace root: {e}"))?;
            let out = Command::new("tar")
                .arg("-xzOf")
                .arg(&file)
                .arg(format!("{dir}/{license}"))
                .output()
                .map_err(|e| format!("tar: could not start: {e}"))?;
            if !out.status.success() {
                problems.push(format!("{} has no {license}", file.display()));
            } else if out.stdout != expected {
                problems.push(format!(
                    "{}'s {license} differs from the workspace's",
                    p.name
                ));
            }
        }
    }
    if problems.is_empty() {
        eprintln!("==> every package carries LICENSE-MIT and LICENSE-APACHE: ok");
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::remove_unpacked;
    use std::fs;

    #[test]
    fn only_the_workspace_crates_in_local_registry_sources_are_removed() {
        let home = std::env::temp_dir().join(format!("xtask-unpacked-{}", std::process::id()));
        let src = home.join("registry").join("src");
        for dir in [
            "-0a32fbd46d1463a0/snow-core-0.1.0/src",
            "-0a32fbd46d1463a0/serde-1.0.0/src",
            "-14cd1cce6819ff87/snow-core-0.1.0/src",
            "-14cd1cce6819ff87/snow-core-0.2.0/src",
            "index.crates.io-1949cf8c6b5b557f/snow-core-0.1.0/src",
        ] {
            fs::create_dir_all(src.join(dir)).unwrap();
        }
        let removed = remove_unpacked(&home, &["snow-core-0.1.0".to_string()]).unwrap();
        let kept = |dir: &str| src.join(dir).is_dir();
        assert_eq!(
            removed,
            vec![
                src.join("-0a32fbd46d1463a0/snow-core-0.1.0"),
                src.join("-14cd1cce6819ff87/snow-core-0.1.0"),
            ]
        );
        assert!(!kept("-0a32fbd46d1463a0/snow-core-0.1.0"));
        assert!(kept("-0a32fbd46d1463a0/serde-1.0.0"));
        assert!(kept("-14cd1cce6819ff87/snow-core-0.2.0"));
        assert!(kept("index.crates.io-1949cf8c6b5b557f/snow-core-0.1.0"));
        // A cargo home without registry sources is not an error.
        fs::remove_dir_all(&home).unwrap();
        assert_eq!(
            remove_unpacked(&home, &["snow-core-0.1.0".into()]).unwrap(),
            Vec::<std::path::PathBuf>::new()
        );
    }
}
