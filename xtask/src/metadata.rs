//! The workspace's resolved dependency graph, read from `cargo metadata --format-version 1`.
//!
//! The graph is resolved with every feature of every member and for every platform, so a rule
//! checked on it holds whatever features a user picks and wherever the crates are built.

use crate::json::{self, Json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

/// One package of the lock file.
#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    /// The `rust-version` it declares, if any.
    pub(crate) rust_version: Option<String>,
    /// Its SPDX license expression, if it declares one.
    pub(crate) license: Option<String>,
    /// A workspace member that may be published (no `publish = false`).
    pub(crate) publishable: bool,
    /// Its features (not `default`), by name, and what `default` turns on.
    pub(crate) features: Vec<String>,
    pub(crate) default_features: Vec<String>,
}

/// How a package depends on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Normal,
    Build,
    Dev,
}

/// The workspace and its resolved dependency graph.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) target_dir: PathBuf,
    /// Workspace members, in the order `cargo metadata` lists them.
    pub(crate) members: Vec<String>,
    pub(crate) packages: BTreeMap<String, Package>,
    /// For each package id, the packages it depends on and how.
    edges: BTreeMap<String, Vec<(String, Vec<Kind>)>>,
}

impl Workspace {
    /// Run `cargo metadata` for every feature and platform, and read its answer.
    pub(crate) fn load() -> Result<Workspace, String> {
        let out = crate::cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--locked",
                "--all-features",
            ])
            .output()
            .map_err(|e| format!("cargo metadata: could not start: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo metadata failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = String::from_utf8(out.stdout)
            .map_err(|_| "cargo metadata printed something that is not UTF-8".to_owned())?;
        Workspace::from_json(&json::parse(&text)?)
    }

    pub(crate) fn from_json(doc: &Json) -> Result<Workspace, String> {
        let members: Vec<String> = doc
            .get("workspace_members")
            .items()
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        let mut packages = BTreeMap::new();
        for p in doc.get("packages").items() {
            let id = text(p, "id")?;
            let features = p.get("features");
            let package = Package {
                name: text(p, "name")?,
                version: text(p, "version")?,
                rust_version: p.get("rust_version").as_str().map(str::to_owned),
                license: p.get("license").as_str().map(str::to_owned),
                // `publish` is null when unrestricted and a list of registries otherwise;
                // `publish = false` is the empty list.
                publishable: members.contains(&id)
                    && (p.get("publish").is_null() || !p.get("publish").items().is_empty()),
                features: features
                    .members()
                    .iter()
                    .map(|(name, _)| name.clone())
                    .filter(|name| name != "default")
                    .collect(),
                default_features: features
                    .get("default")
                    .items()
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect(),
            };
            packages.insert(id, package);
        }
        let resolve = doc.get("resolve");
        if resolve.is_null() {
            return Err("cargo metadata gave no resolved graph".into());
        }
        let mut edges = BTreeMap::new();
        for node in resolve.get("nodes").items() {
            let id = text(node, "id")?;
            let mut deps = Vec::new();
            for dep in node.get("deps").items() {
                let kinds = dep
                    .get("dep_kinds")
                    .items()
                    .iter()
                    .map(|k| match k.get("kind").as_str() {
                        None => Kind::Normal,
                        Some("build") => Kind::Build,
                        Some(_) => Kind::Dev,
                    })
                    .collect();
                deps.push((text(dep, "pkg")?, kinds));
            }
            edges.insert(id, deps);
        }
        let target_dir = PathBuf::from(text(doc, "target_directory")?);
        Ok(Workspace {
            target_dir,
            members,
            packages,
            edges,
        })
    }

    /// The id of the workspace member called `name`.
    pub(crate) fn member(&self, name: &str) -> Result<&str, String> {
        self.members
            .iter()
            .find(|id| self.packages.get(*id).is_some_and(|p| p.name == name))
            .map(String::as_str)
            .ok_or_else(|| format!("no workspace member is called {name}"))
    }

    /// The publishable members, in the order `cargo metadata` lists them.
    pub(crate) fn publishable(&self) -> impl Iterator<Item = (&str, &Package)> {
        self.members
            .iter()
            .filter_map(|id| Some((id.as_str(), self.packages.get(id)?)))
            .filter(|(_, p)| p.publishable)
    }

    pub(crate) fn package(&self, id: &str) -> &Package {
        &self.packages[id]
    }

    /// Every package `from` depends on, directly or not, through edges of the `follow` kinds
    /// (at every step: a dev-dependency of a dependency is never followed if `Dev` is not
    /// asked for). For each, the path that reaches it first, starting with `from`.
    pub(crate) fn reachable(&self, from: &str, follow: &[Kind]) -> BTreeMap<String, Vec<String>> {
        let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut queue = VecDeque::from([vec![from.to_owned()]]);
        let mut seen = BTreeSet::from([from.to_owned()]);
        while let Some(path) = queue.pop_front() {
            let last = path.last().map(String::as_str).unwrap_or(from);
            for (dep, kinds) in self.edges.get(last).into_iter().flatten() {
                if kinds.iter().any(|k| follow.contains(k)) && seen.insert(dep.clone()) {
                    let mut longer = path.clone();
                    longer.push(dep.clone());
                    paths.insert(dep.clone(), longer.clone());
                    queue.push_back(longer);
                }
            }
        }
        paths
    }

    /// `a -> b -> c` with package names.
    pub(crate) fn show_path(&self, path: &[String]) -> String {
        path.iter()
            .map(|id| {
                self.packages
                    .get(id)
                    .map_or(id.as_str(), |p| p.name.as_str())
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

fn text(value: &Json, key: &str) -> Result<String, String> {
    value
        .get(key)
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("cargo metadata: a `{key}` is missing"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A workspace `a` (publishable, features x and y, default x) and `t` (publish = false);
    /// a -> b (normal) -> c (build), a -> d (dev), d -> e (normal), b -> d (dev, never resolved
    /// for registry crates but followed here only when asked).
    pub(crate) fn sample() -> Workspace {
        let doc = json::parse(
            r#"{
              "workspace_members": ["a", "t"],
              "target_directory": "/t",
              "packages": [
                {"id":"a","name":"a","version":"0.1.0","rust_version":"1.85","publish":null,
                 "features":{"default":["x"],"x":[],"y":["dep:c"]}},
                {"id":"t","name":"t","version":"0.1.0","rust_version":null,"publish":[],"features":{}},
                {"id":"b","name":"b","version":"1.0.0","rust_version":"1.80.1","publish":null,"features":{}},
                {"id":"c","name":"c","version":"1.0.0","rust_version":"1.88","publish":null,"features":{}},
                {"id":"d","name":"d","version":"1.0.0","rust_version":"1.90","publish":null,"features":{}},
                {"id":"e","name":"e","version":"1.0.0","rust_version":null,"publish":null,"features":{}}
              ],
              "resolve": {"nodes": [
                {"id":"a","deps":[{"pkg":"b","dep_kinds":[{"kind":null,"target":null}]},
                                  {"pkg":"d","dep_kinds":[{"kind":"dev","target":null}]}]},
                {"id":"b","deps":[{"pkg":"c","dep_kinds":[{"kind":"build","target":"cfg(unix)"}]},
                                  {"pkg":"d","dep_kinds":[{"kind":"dev","target":null}]}]},
                {"id":"c","deps":[]},
                {"id":"d","deps":[{"pkg":"e","dep_kinds":[{"kind":null,"target":null}]}]},
                {"id":"e","deps":[]},
                {"id":"t","deps":[{"pkg":"a","dep_kinds":[{"kind":"dev","target":null}]}]}
              ]}
            }"#,
        )
        .unwrap();
        Workspace::from_json(&doc).unwrap()
    }

    #[test]
    fn reads_members_features_and_publishability() {
        let ws = sample();
        let names: Vec<_> = ws.publishable().map(|(_, p)| p.name.as_str()).collect();
        assert_eq!(names, ["a"]);
        let a = ws.package(ws.member("a").unwrap());
        assert_eq!(a.features, ["x", "y"]);
        assert_eq!(a.default_features, ["x"]);
        assert!(ws.member("b").is_err(), "b is not a member");
    }

    #[test]
    fn follows_only_the_kinds_asked_for() {
        let ws = sample();
        let normal: Vec<_> = ws
            .reachable("a", &[Kind::Normal, Kind::Build])
            .into_keys()
            .collect();
        assert_eq!(normal, ["b", "c"]);
        let all = ws.reachable("a", &[Kind::Normal, Kind::Build, Kind::Dev]);
        assert_eq!(ws.show_path(&all["e"]), "a -> d -> e");
    }
}
