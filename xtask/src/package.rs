//! Packaging: every publishable crate is packaged and verified the way `cargo publish` would,
//! and each `.crate` file carries both license texts.

use crate::metadata::Workspace;
use crate::{Result, cargo, run};
use std::process::Command;

/// The license files every package must carry, identical to the workspace's own.
const LICENSES: &[&str] = &["LICENSE-MIT", "LICENSE-APACHE"];

/// `cargo package` for all publishable crates in one call. Cargo packages them in dependency
/// order and builds each from its `.crate` file, with the workspace's crates served from a
/// local registry of the ones just packaged, in the shared target directory.
pub(crate) fn package(ws: &Workspace) -> Result {
    let mut cmd = cargo();
    cmd.args(["package", "--locked", "--allow-dirty", "--quiet"]);
    for (_, p) in ws.publishable() {
        cmd.args(["-p", &p.name]);
    }
    run("package (verified)", &mut cmd)?;
    licenses(ws)
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
