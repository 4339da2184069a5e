//! The Python peers: a virtualenv with pysnow 0.7.17 and aiosnow 0.6.0, installed by pip on
//! first use and reused afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

/// The peers and their versions.
pub(crate) const PACKAGES: [(&str, &str); 2] = [("pysnow", "0.7.17"), ("aiosnow", "0.6.0")];

/// Which peers can run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peers {
    pub(crate) python: Option<PathBuf>,
    pub(crate) pysnow: bool,
    pub(crate) aiosnow: bool,
}

/// The installed version of each package in the virtualenv of `python`.
fn installed(python: &Path) -> Vec<(String, String)> {
    let script = "import importlib.metadata as m\n\
                  for p in ('pysnow', 'aiosnow'):\n    \
                  try: print(p, m.version(p))\n    \
                  except Exception: pass\n";
    let Ok(out) = Command::new(python).args(["-c", script]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.trim().to_owned()))
        .collect()
}

fn peers_of(python: PathBuf) -> Peers {
    let have = installed(&python);
    let has = |name: &str, version: &str| have.iter().any(|(n, v)| n == name && v == version);
    Peers {
        pysnow: has(PACKAGES[0].0, PACKAGES[0].1),
        aiosnow: has(PACKAGES[1].0, PACKAGES[1].1),
        python: Some(python),
    }
}

/// The virtualenv at `venv`, created and filled with the peers when `install` (pip needs the
/// package index once; later runs reuse it); otherwise whatever it already holds.
pub(crate) fn prepare(venv: &Path, install: bool) -> Result<Peers> {
    let python = venv.join("bin").join("python");
    if !install {
        return Ok(if python.exists() {
            peers_of(python)
        } else {
            Peers::default()
        });
    }
    if !python.exists() {
        eprintln!("==> peers: creating a virtualenv at {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .map_err(|e| format!("python3 -m venv: {e}"))?
            .success();
        if !ok {
            return Err("python3 -m venv failed".into());
        }
    }
    let peers = peers_of(python.clone());
    if peers.pysnow && peers.aiosnow {
        return Ok(peers);
    }
    eprintln!("==> peers: pip install pysnow==0.7.17 aiosnow==0.6.0");
    let specs: Vec<String> = PACKAGES.iter().map(|(p, v)| format!("{p}=={v}")).collect();
    let ok = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&specs)
        .status()
        .map_err(|e| format!("pip: {e}"))?
        .success();
    if !ok {
        return Err("pip install of the peers failed".into());
    }
    let peers = peers_of(python);
    if !(peers.pysnow && peers.aiosnow) {
        return Err("the peers are not importable after pip install".into());
    }
    Ok(peers)
}
