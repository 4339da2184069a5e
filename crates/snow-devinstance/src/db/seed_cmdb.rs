//! Sample CMDB data beyond servers: relationship types, applications, databases and the
//! relationships between them and the servers (`cmdb_rel_ci`), in proportion to the seeded
//! incidents.
//!
//! It draws from a generator of its own, after everything else is seeded, so adding it left the
//! rest of the sample data unchanged.

use time::{Duration, OffsetDateTime};

use super::seed::{Rng, add};
use super::seed_words::APPS;
use super::time_fmt::format_datetime;
use super::{Db, EvalCtx};

/// The relationship types: `(sys_id, name, parent descriptor, child descriptor)`.
pub(crate) const REL_TYPES: [(&str, &str, &str, &str); 4] = [
    (
        "1a9cb166f1571100a92eb60da2bce5c5",
        "Depends on::Used by",
        "Depends on",
        "Used by",
    ),
    (
        "60bc4e22c0a8010e01f074cbe6bd73c3",
        "Runs on::Runs",
        "Runs on",
        "Runs",
    ),
    (
        "5f985e0ec0a8010e00a9714f2a172815",
        "Hosted on::Hosts",
        "Hosted on",
        "Hosts",
    ),
    (
        "cb5592603751200032ff8c00dfbe5d17",
        "Connects to::Connected by",
        "Connects to",
        "Connected by",
    ),
];

/// The sys_ids of every record of `table` (and the tables extending it).
fn ids(db: &Db, table: &str) -> Vec<String> {
    db.list(table, "", &EvalCtx::system(), 0, usize::MAX)
        .map(|l| l.rows.iter().map(|r| r.sys_id().to_owned()).collect())
        .unwrap_or_default()
}

/// Adds the relationship types, `records / 50` applications (5 to 2,000) and `records / 100`
/// databases (3 to 1,000): every application runs on a server and depends on a database, every
/// database is hosted on a server.
pub(super) fn generate(db: &mut Db, seed: u64, records: usize, anchor: OffsetDateTime) {
    let mut rng = Rng(seed ^ 0x636d_6462_5f72_656c);
    let admin = "admin";
    let created = format_datetime(anchor - Duration::days(700));
    for (id, name, parent, child) in REL_TYPES {
        add(
            db,
            "cmdb_rel_type",
            id.to_owned(),
            &created,
            "system",
            &[
                ("name", name.to_owned()),
                ("parent_descriptor", parent.to_owned()),
                ("child_descriptor", child.to_owned()),
            ],
        );
    }
    let servers = ids(db, "cmdb_ci_server");
    let groups = ids(db, "sys_user_group");
    if servers.is_empty() {
        return;
    }
    let rel = |db: &mut Db, rng: &mut Rng, parent: &str, child: &str, ty: usize| {
        add(
            db,
            "cmdb_rel_ci",
            rng.sys_id(),
            &created,
            admin,
            &[
                ("parent", parent.to_owned()),
                ("child", child.to_owned()),
                ("type", REL_TYPES[ty].0.to_owned()),
                ("discovery_source", "ServiceNow".to_owned()),
            ],
        );
    };
    let n_db = (records / 100).clamp(3, 1_000);
    let mut databases = Vec::with_capacity(n_db);
    for k in 0..n_db {
        let id = rng.sys_id();
        let (kind, port) = *rng.pick(&[
            ("PostgreSQL", "5432"),
            ("MySQL", "3306"),
            ("Oracle", "1521"),
            ("MSSQL", "1433"),
        ]);
        let name = format!("{}-db-{:04}", kind.to_ascii_lowercase(), k + 1);
        let mut pairs = vec![
            ("name", name.clone()),
            ("short_description", format!("{kind} database {name}")),
            ("type", kind.to_owned()),
            ("tcp_port", port.to_owned()),
            (
                "version",
                (*rng.pick(&["12", "14", "16", "8.0", "19c"])).to_owned(),
            ),
            ("install_status", "1".to_owned()),
            ("operational_status", "1".to_owned()),
            ("discovery_source", "ServiceNow".to_owned()),
        ];
        if !groups.is_empty() {
            pairs.push(("support_group", rng.pick(&groups).clone()));
        }
        add(db, "cmdb_ci_database", id.clone(), &created, admin, &pairs);
        let server = rng.pick(&servers).clone();
        rel(db, &mut rng, &id, &server, 2);
        databases.push(id);
    }
    let n_app = (records / 50).clamp(5, 2_000);
    for k in 0..n_app {
        let id = rng.sys_id();
        let app = *rng.pick(APPS);
        let name = format!("{app} {:04}", k + 1);
        let mut pairs = vec![
            ("name", name.clone()),
            ("short_description", format!("{app} application")),
            ("version", format!("{}.{}", 1 + rng.below(9), rng.below(20))),
            (
                "vendor",
                (*rng.pick(&["Acme", "Initech", "Globex", "Umbrella"])).to_owned(),
            ),
            (
                "install_directory",
                format!("/opt/{}", app.to_ascii_lowercase().replace(' ', "-")),
            ),
            (
                "tcp_port",
                (*rng.pick(&["80", "443", "8080", "8443"])).to_owned(),
            ),
            ("install_status", "1".to_owned()),
            ("operational_status", "1".to_owned()),
            ("discovery_source", "ServiceNow".to_owned()),
        ];
        if !groups.is_empty() {
            pairs.push(("support_group", rng.pick(&groups).clone()));
        }
        add(db, "cmdb_ci_appl", id.clone(), &created, admin, &pairs);
        let server = rng.pick(&servers).clone();
        rel(db, &mut rng, &id, &server, 1);
        let database = rng.pick(&databases).clone();
        rel(db, &mut rng, &id, &database, 0);
    }
}
