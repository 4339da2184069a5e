//! The dependency rules of `docs/architecture.md` and the `rust-version` check, both read off
//! the resolved graph (see `metadata.rs`), and the feature combinations CI lints.

use crate::metadata::{Kind, Workspace};

/// What users compile: a crate's normal and build dependencies, and theirs.
const USED: &[Kind] = &[Kind::Normal, Kind::Build];
/// Everything the workspace's own builds and tests compile.
const ALL: &[Kind] = &[Kind::Normal, Kind::Build, Kind::Dev];

/// A layering rule: none of `crates` may reach a package that `banned` names through `follow`.
struct Rule {
    text: &'static str,
    /// Workspace members the rule is about; empty means every member.
    crates: &'static [&'static str],
    /// Package names; `name*` also bans the family `name-...`.
    banned: &'static [&'static str],
    follow: &'static [Kind],
}

const CLIENT_CRATES: &[&str] = &[
    "snow-core",
    "snow-basic",
    "snow-oauth",
    "snow-transport",
    "snow-client",
];

const RULES: &[Rule] = &[
    Rule {
        text: "no reqwest and no openssl anywhere, tests and tools included",
        crates: &[],
        banned: &["reqwest", "openssl", "openssl-sys"],
        follow: ALL,
    },
    Rule {
        text: "snow-core has no hyper, no tower and no tokio",
        crates: &["snow-core"],
        banned: &["hyper*", "tower*", "tokio*"],
        follow: USED,
    },
    Rule {
        text: "snow-basic and snow-oauth never depend on snow-transport",
        crates: &["snow-basic", "snow-oauth"],
        banned: &["snow-transport"],
        follow: USED,
    },
    Rule {
        text: "snow-devinstance depends on no client crate",
        crates: &["snow-devinstance"],
        banned: CLIENT_CRATES,
        follow: USED,
    },
];

fn is_banned(name: &str, banned: &[&str]) -> bool {
    banned.iter().any(|b| match b.strip_suffix('*') {
        Some(family) => {
            name == family
                || name
                    .strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with('-'))
        }
        None => name == *b,
    })
}

/// Check every layering rule; one line per rule that holds, all the breaches in the error.
pub(crate) fn layering(ws: &Workspace) -> Result<(), String> {
    let mut breaches = Vec::new();
    for rule in RULES {
        let mut broken = Vec::new();
        let crates: Vec<&str> = if rule.crates.is_empty() {
            ws.members.iter().map(String::as_str).collect()
        } else {
            rule.crates
                .iter()
                .map(|name| ws.member(name))
                .collect::<Result<_, _>>()?
        };
        for id in crates {
            for (dep, path) in ws.reachable(id, rule.follow) {
                if is_banned(&ws.package(&dep).name, rule.banned) {
                    broken.push(format!("    {}", ws.show_path(&path)));
                }
            }
        }
        if broken.is_empty() {
            eprintln!("==> dependency rule: {}: ok", rule.text);
        } else {
            eprintln!("==> dependency rule: {}: BROKEN", rule.text);
            breaches.push(format!("{}:\n{}", rule.text, broken.join("\n")));
        }
    }
    if breaches.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "dependency rules broken:\n  {}",
            breaches.join("\n  ")
        ))
    }
}

/// `1.88`, `1.88.0` as comparable numbers.
fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(str::parse::<u64>);
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    parts.next().is_none().then_some((major, minor, patch))
}

/// Each publishable crate's `rust-version` is at least that of every locked package it
/// compiles (normal and build dependencies, all features, all platforms).
pub(crate) fn rust_version(ws: &Workspace) -> Result<(), String> {
    let mut problems = Vec::new();
    for (id, package) in ws.publishable() {
        let Some(declared) = package.rust_version.as_deref() else {
            problems.push(format!("{} declares no rust-version", package.name));
            continue;
        };
        let declared_v = parse_version(declared)
            .ok_or_else(|| format!("{}: unreadable rust-version {declared}", package.name))?;
        let mut newer = Vec::new();
        for dep in ws.reachable(id, USED).into_keys() {
            let dep = ws.package(&dep);
            let Some(needed) = dep.rust_version.as_deref() else {
                continue;
            };
            let needed_v = parse_version(needed)
                .ok_or_else(|| format!("{}: unreadable rust-version {needed}", dep.name))?;
            if needed_v > declared_v {
                newer.push((
                    needed_v,
                    format!("{} {} needs {needed}", dep.name, dep.version),
                ));
            }
        }
        newer.sort();
        if let Some(((major, minor, patch), _)) = newer.last() {
            let list: Vec<_> = newer.iter().rev().map(|(_, s)| s.as_str()).collect();
            problems.push(format!(
                "{} says rust-version {declared}, but its locked dependencies need {major}.{minor}.{patch}: {}",
                package.name,
                list.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        eprintln!(
            "==> rust-version: no locked dependency of a publishable crate needs a newer Rust: ok"
        );
        Ok(())
    } else {
        Err(format!(
            "rust-version is not true:\n  {}\n  (raise rust-version, or pin the dependency to a version that supports it)",
            problems.join("\n  ")
        ))
    }
}

/// Licenses a dependency of a publishable crate may carry (any one alternative of an `OR`
/// expression must be made only of these): permissive licenses compatible with the workspace's
/// own `MIT OR Apache-2.0`.
const ALLOWED_LICENSES: [&str; 12] = [
    "MIT",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "CC0-1.0",
    "0BSD",
    "CDLA-Permissive-2.0",
];

/// Whether an SPDX expression can be satisfied with [`ALLOWED_LICENSES`]: some alternative
/// (`OR`) whose every part (`AND`) is allowed. Parentheses group; `/` is an old spelling of
/// `OR`.
fn license_allowed(expr: &str) -> bool {
    let expr = expr.replace('/', " OR ").replace(['(', ')'], " ");
    expr.split(" OR ").any(|alternative| {
        alternative
            .split(" AND ")
            .map(|part| part.split_whitespace().collect::<Vec<_>>().join(" "))
            .all(|part| ALLOWED_LICENSES.contains(&part.as_str()))
    })
}

/// Every package a publishable crate uses (normal and build dependencies) declares a license
/// from [`ALLOWED_LICENSES`] (the license part of a `cargo deny` check, from `cargo metadata`).
pub(crate) fn licenses(ws: &Workspace) -> Result<(), String> {
    let mut problems = std::collections::BTreeMap::new();
    for (id, _) in ws.publishable() {
        for dep in ws.reachable(id, USED).into_keys() {
            let dep = ws.package(&dep);
            match dep.license.as_deref() {
                Some(l) if license_allowed(l) => {}
                other => {
                    problems.insert(
                        format!("{} {}", dep.name, dep.version),
                        other.unwrap_or("no license declared").to_owned(),
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        eprintln!(
            "==> licenses: every dependency of a publishable crate is permissively licensed: ok"
        );
        Ok(())
    } else {
        let list: Vec<String> = problems.iter().map(|(p, l)| format!("{p}: {l}")).collect();
        Err(format!(
            "dependencies with a license outside the allowed list:\n  {}",
            list.join("\n  ")
        ))
    }
}

/// For each publishable crate with features: no default features, each feature alone, the
/// default set and all features, without repeats. Each entry is a crate and cargo's arguments.
pub(crate) fn feature_combinations(ws: &Workspace) -> Vec<(String, Vec<String>)> {
    let mut runs = Vec::new();
    for (_, package) in ws.publishable() {
        if package.features.is_empty() {
            continue;
        }
        let mut sets: Vec<Vec<String>> = vec![Vec::new()];
        sets.extend(package.features.iter().map(|f| vec![f.clone()]));
        sets.push(package.default_features.clone());
        sets.push(package.features.clone());
        let mut seen: Vec<Vec<String>> = Vec::new();
        for mut set in sets {
            set.sort();
            set.dedup();
            if seen.contains(&set) {
                continue;
            }
            seen.push(set.clone());
            let mut args = vec!["--no-default-features".to_owned()];
            if !set.is_empty() {
                args.push("--features".to_owned());
                args.push(set.join(","));
            }
            runs.push((package.name.clone(), args));
        }
    }
    runs
}

#[cfg(test)]
mod license_tests {
    use super::license_allowed;

    #[test]
    fn expressions() {
        for ok in [
            "MIT",
            "MIT OR Apache-2.0",
            "Apache-2.0 OR MIT",
            "MIT/Apache-2.0",
            "(MIT OR Apache-2.0) AND Unicode-3.0",
            "Apache-2.0 AND ISC",
            "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
            "Unlicense OR MIT",
        ] {
            assert!(license_allowed(ok), "{ok}");
        }
        for bad in [
            "GPL-3.0",
            "MIT AND GPL-2.0",
            "SSPL-1.0 OR BUSL-1.1",
            "",
            "Unlicense",
        ] {
            assert!(!license_allowed(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::sample;

    #[test]
    fn families_and_exact_names() {
        assert!(is_banned("tokio", &["tokio*"]));
        assert!(is_banned("tokio-util", &["tokio*"]));
        assert!(!is_banned("tokioish", &["tokio*"]));
        assert!(is_banned("openssl-sys", &["openssl-sys"]));
        assert!(!is_banned("openssl-probe", &["openssl", "openssl-sys"]));
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(parse_version("1.88").unwrap() > parse_version("1.85.1").unwrap());
        assert!(parse_version("1.100").unwrap() > parse_version("1.99.9").unwrap());
        assert_eq!(parse_version("1.85"), parse_version("1.85.0"));
        assert_eq!(parse_version("1.x"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn rust_version_finds_newer_dependencies_but_not_dev_ones() {
        let ws = sample();
        // a declares 1.85; c (build dependency of b) needs 1.88; d (dev only) needs 1.90.
        let err = rust_version(&ws).unwrap_err();
        assert!(err.contains("need 1.88.0: c 1.0.0 needs 1.88"), "{err}");
        assert!(!err.contains("1.90"), "{err}");
    }

    #[test]
    fn feature_sets_without_repeats() {
        let ws = sample();
        let runs: Vec<String> = feature_combinations(&ws)
            .into_iter()
            .map(|(name, args)| format!("{name} {}", args.join(" ")))
            .collect();
        assert_eq!(
            runs,
            [
                "a --no-default-features",
                "a --no-default-features --features x",
                "a --no-default-features --features y",
                "a --no-default-features --features x,y",
            ]
        );
    }
}
