//! The deterministic sample-data generator.
//!
//! A small SplitMix64 generator drives every choice, so a `(seed, records, anchor)` triple
//! always produces the same database, independent of any dependency's version.

use time::{Duration, OffsetDateTime, macros::datetime};

use super::Db;
use super::record::Record;
use super::schema::{
    CATEGORY, CLOSE_CODE, FieldDefault, SYS_CREATED_BY, SYS_CREATED_ON, SYS_ID, SYS_MOD_COUNT,
    SYS_UPDATED_BY, SYS_UPDATED_ON, schemas,
};
use super::seed_words::{
    APPS, CONTACT, DEPARTMENTS, FIRST, GROUPS, LAST, SUBCATEGORY, TITLES, templates,
};
use super::time_fmt::format_datetime;

/// sys_id of the built-in `admin` user (the same as on a fresh ServiceNow instance).
pub(crate) const ADMIN_SYS_ID: &str = "6816f79cc0a8016401c5a33be04be441";
/// sys_id of the built-in `itil` user.
pub(crate) const ITIL_SYS_ID: &str = "681b365ec0a80164000fb0b05854a0cd";
/// sys_id of the built-in `reader` user.
pub(crate) const READER_SYS_ID: &str = "3f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8";

/// Seeded dates lie in the two years before this instant unless another anchor is given.
pub(crate) const DEFAULT_ANCHOR: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);

/// One SplitMix64 step.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        splitmix(&mut self.0)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub(super) fn sys_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

/// Inserts a record made of `(field, value)` pairs, filling defaults and system fields.
pub(super) fn add(
    db: &mut Db,
    table: &str,
    sys_id: String,
    created: &str,
    by: &str,
    pairs: &[(&str, String)],
) {
    let Some(schema) = schemas().table(table) else {
        return;
    };
    if db.index.contains_key(sys_id.as_str()) {
        return;
    }
    let mut values: Vec<String> = schema
        .fields
        .iter()
        .map(|f| match f.default {
            FieldDefault::Lit(v) => v.to_owned(),
            _ => String::new(),
        })
        .collect();
    for (name, value) in pairs {
        if let Some(i) = schema.field_index(name) {
            values[i].clone_from(value);
        }
    }
    values[SYS_ID] = sys_id;
    if let (Some(prefix), Some(i)) = (schema.number_prefix, schema.field_index("number")) {
        if values[i].is_empty() {
            values[i] = db.next_number(prefix);
        }
    }
    if let Some(i) = schema.field_index("sys_class_name") {
        values[i] = table.to_owned();
    }
    values[SYS_CREATED_ON] = created.to_owned();
    values[SYS_CREATED_BY] = by.to_owned();
    if values[SYS_UPDATED_ON].is_empty() {
        values[SYS_UPDATED_ON] = created.to_owned();
    }
    values[SYS_UPDATED_BY] = by.to_owned();
    values[SYS_MOD_COUNT] = "0".to_owned();
    db.push(Record::pack(schema, &values));
}

/// The built-in users and roles: `admin` (admin), `itil` (itil), `reader` (snc_read_only).
pub(crate) fn builtin_users(db: &mut Db, anchor: OffsetDateTime) {
    let created = format_datetime(anchor - Duration::days(800));
    let roles = [
        (
            "2831a114c611228501d4ea6c309d626d",
            "admin",
            "System administrator: every right",
        ),
        (
            "282bf1fac6112285017366cb5f867469",
            "itil",
            "Fulfiller: reads and writes tasks",
        ),
        (
            "7a5c3e1f0b9d4c8e8f6a2b1d3c5e7f90",
            "snc_read_only",
            "Reads, never writes",
        ),
    ];
    for (id, name, description) in roles {
        add(
            db,
            "sys_user_role",
            id.to_owned(),
            &created,
            "system",
            &[
                ("name", name.to_owned()),
                ("description", description.to_owned()),
                ("elevated_privilege", "false".to_owned()),
            ],
        );
    }
    let users = [
        (ADMIN_SYS_ID, "admin", "System", "Administrator", roles[0].0),
        (ITIL_SYS_ID, "itil", "ITIL", "User", roles[1].0),
        (READER_SYS_ID, "reader", "Read Only", "User", roles[2].0),
    ];
    for (k, (id, user, first, last, role)) in users.into_iter().enumerate() {
        add(
            db,
            "sys_user",
            id.to_owned(),
            &created,
            "system",
            &[
                ("user_name", user.to_owned()),
                ("first_name", first.to_owned()),
                ("last_name", last.to_owned()),
                ("name", format!("{first} {last}")),
                ("email", format!("{user}@example.com")),
                ("title", "System account".to_owned()),
                ("active", "true".to_owned()),
                ("time_zone", "GMT".to_owned()),
            ],
        );
        add(
            db,
            "sys_user_has_role",
            format!("{:031x}{k}", 0xa11ce_u64),
            &created,
            "system",
            &[("user", id.to_owned()), ("role", role.to_owned())],
        );
    }
}

fn short_description(rng: &mut Rng, category: &str, host: &str) -> String {
    let app = *rng.pick(APPS);
    let n = rng.below(12) + 1;
    let templates = templates(category);
    rng.pick(templates)
        .replace("{app}", app)
        .replace("{host}", host)
        .replace("{n}", &n.to_string())
}

/// Generates the sample database.
pub(crate) fn generate(seed: u64, records: usize, anchor: OffsetDateTime) -> Db {
    let mut db = Db::bare();
    builtin_users(&mut db, anchor);
    db.id_state ^= seed.rotate_left(17);
    let mut rng = Rng(seed ^ 0x736e_6f77_6465_7600);
    let span_secs: i64 = 730 * 86_400;
    let date_in_span =
        |rng: &mut Rng| anchor - Duration::seconds(1 + (rng.next() % span_secs as u64) as i64);
    let admin = "admin";

    // Users.
    let n_users = (records / 20).clamp(20, 5_000);
    let mut users: Vec<String> = Vec::with_capacity(n_users);
    for k in 0..n_users {
        let first = FIRST[k % FIRST.len()];
        let last = LAST[(k / FIRST.len() + k) % LAST.len()];
        let round = k / (FIRST.len() * LAST.len());
        let user_name = if round == 0 {
            format!("{}.{}", first.to_lowercase(), last.to_lowercase())
        } else {
            format!("{}.{}{round}", first.to_lowercase(), last.to_lowercase())
        };
        let id = rng.sys_id();
        let manager = if k >= 5 {
            users[rng.below(5.min(k))].clone()
        } else {
            String::new()
        };
        let created = format_datetime(date_in_span(&mut rng) - Duration::days(365));
        add(
            &mut db,
            "sys_user",
            id.clone(),
            &created,
            admin,
            &[
                ("user_name", user_name.clone()),
                ("first_name", first.to_owned()),
                ("last_name", last.to_owned()),
                ("name", format!("{first} {last}")),
                ("email", format!("{user_name}@example.com")),
                ("title", (*rng.pick(TITLES)).to_owned()),
                ("department", (*rng.pick(DEPARTMENTS)).to_owned()),
                (
                    "phone",
                    format!("+1 555 01{:02} {:04}", rng.below(100), rng.below(10_000)),
                ),
                ("employee_number", format!("E{:06}", k + 1)),
                ("manager", manager),
                (
                    "active",
                    if rng.chance(95) { "true" } else { "false" }.to_owned(),
                ),
                (
                    "vip",
                    if rng.chance(5) { "true" } else { "false" }.to_owned(),
                ),
                ("time_zone", "GMT".to_owned()),
                ("last_login_time", format_datetime(date_in_span(&mut rng))),
            ],
        );
        users.push(id);
    }
    for id in [ITIL_SYS_ID, ADMIN_SYS_ID] {
        users.push(id.to_owned());
    }

    // Groups and memberships.
    let n_groups = (records / 500).clamp(6, 60);
    let mut groups: Vec<(String, Vec<String>)> = Vec::with_capacity(n_groups);
    for k in 0..n_groups {
        let base = GROUPS[k % GROUPS.len()];
        let name = if k < GROUPS.len() {
            base.to_owned()
        } else {
            format!("{base} {}", k / GROUPS.len() + 1)
        };
        let id = rng.sys_id();
        let manager = rng.pick(&users).clone();
        let created = format_datetime(anchor - Duration::days(760));
        add(
            &mut db,
            "sys_user_group",
            id.clone(),
            &created,
            admin,
            &[
                ("name", name.clone()),
                ("description", format!("{name} support team")),
                ("manager", manager.clone()),
                (
                    "email",
                    format!("{}@example.com", name.to_lowercase().replace(' ', "-")),
                ),
                ("type", "itil".to_owned()),
                ("active", "true".to_owned()),
            ],
        );
        let mut members = vec![manager];
        for _ in 0..(3 + rng.below(6)) {
            members.push(rng.pick(&users).clone());
        }
        members.sort();
        members.dedup();
        for m in &members {
            let mid = rng.sys_id();
            add(
                &mut db,
                "sys_user_grmember",
                mid,
                &created,
                admin,
                &[("user", m.clone()), ("group", id.clone())],
            );
        }
        groups.push((id, members));
    }

    // Configuration items.
    let n_ci = (records / 10).clamp(10, 20_000);
    let mut cis: Vec<(String, String)> = Vec::with_capacity(n_ci);
    for k in 0..n_ci {
        let id = rng.sys_id();
        let roll = rng.below(10);
        let (table, name, os) = match roll {
            0..=3 => (
                "cmdb_ci_linux_server",
                format!("lnx-{:05}", k + 1),
                "Linux Red Hat",
            ),
            4..=6 => (
                "cmdb_ci_win_server",
                format!("win-{:05}", k + 1),
                "Windows 2022 Standard",
            ),
            7 => ("cmdb_ci_server", format!("srv-{:05}", k + 1), "AIX"),
            _ => ("cmdb_ci", format!("{} {}", rng.pick(APPS), k + 1), ""),
        };
        let group = &groups[rng.below(groups.len())];
        let created = format_datetime(date_in_span(&mut rng) - Duration::days(200));
        let mut pairs = vec![
            ("name", name.clone()),
            (
                "short_description",
                format!(
                    "{name} ({})",
                    if os.is_empty() { "application" } else { os }
                ),
            ),
            ("asset_tag", format!("P{:07}", 1_000_000 + k)),
            (
                "serial_number",
                format!("SN-{:012x}", rng.next() & 0xffff_ffff_ffff),
            ),
            (
                "manufacturer",
                (*rng.pick(&["Dell Inc.", "HP", "Lenovo", "IBM", "Cisco"])).to_owned(),
            ),
            (
                "install_status",
                (*rng.pick(&["1", "1", "1", "1", "6", "7"])).to_owned(),
            ),
            (
                "operational_status",
                (*rng.pick(&["1", "1", "1", "2", "5"])).to_owned(),
            ),
            ("assigned_to", rng.pick(&group.1).clone()),
            ("managed_by", rng.pick(&users).clone()),
            ("support_group", group.0.clone()),
            (
                "ip_address",
                format!(
                    "10.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    1 + rng.below(254)
                ),
            ),
            (
                "cost",
                format!("{}.{:02}", 500 + rng.below(20_000), rng.below(100)),
            ),
            (
                "install_date",
                format_datetime(date_in_span(&mut rng))[..10].to_owned(),
            ),
        ];
        if table != "cmdb_ci" {
            pairs.extend([
                ("host_name", name.clone()),
                ("fqdn", format!("{name}.corp.example.com")),
                ("os", os.to_owned()),
                (
                    "os_version",
                    (*rng.pick(&["8.9", "9.3", "2019", "2022", "7.2"])).to_owned(),
                ),
                (
                    "cpu_count",
                    (*rng.pick(&["2", "4", "8", "16", "32"])).to_owned(),
                ),
                (
                    "ram",
                    (*rng.pick(&["4096", "8192", "16384", "65536"])).to_owned(),
                ),
                (
                    "virtual",
                    if rng.chance(70) { "true" } else { "false" }.to_owned(),
                ),
            ]);
        }
        add(&mut db, table, id.clone(), &created, admin, &pairs);
        cis.push((id, name));
    }

    // Problems and changes.
    let n_problems = (records / 20).max(2);
    let mut problems = Vec::with_capacity(n_problems);
    for _ in 0..n_problems {
        let id = rng.sys_id();
        let opened = date_in_span(&mut rng);
        let category = CATEGORY[rng.below(CATEGORY.len())].0;
        let ci = &cis[rng.below(cis.len())];
        let group = &groups[rng.below(groups.len())];
        let state = *rng.pick(&["101", "102", "103", "104", "106", "107", "107"]);
        let closed = matches!(state, "106" | "107");
        let (impact, urgency) = (1 + rng.below(3), 1 + rng.below(3));
        let mut pairs = vec![
            (
                "short_description",
                format!(
                    "Recurring: {}",
                    short_description(&mut rng, category, &ci.1)
                ),
            ),
            (
                "description",
                "Several incidents share this root cause.".to_owned(),
            ),
            ("state", state.to_owned()),
            ("category", category.to_owned()),
            ("impact", impact.to_string()),
            ("urgency", urgency.to_string()),
            ("priority", (impact + urgency - 1).to_string()),
            ("active", (!closed).to_string()),
            ("opened_at", format_datetime(opened)),
            ("opened_by", rng.pick(&users).clone()),
            ("assignment_group", group.0.clone()),
            ("assigned_to", rng.pick(&group.1).clone()),
            ("cmdb_ci", ci.0.clone()),
            ("known_error", rng.chance(30).to_string()),
            ("related_incidents", rng.below(10).to_string()),
        ];
        if closed {
            pairs.push((
                "closed_at",
                format_datetime(opened + Duration::days(1 + rng.below(60) as i64)),
            ));
            pairs.push(("closed_by", rng.pick(&group.1).clone()));
            pairs.push(("workaround", "Restart the affected service.".to_owned()));
        }
        add(
            &mut db,
            "problem",
            id.clone(),
            &format_datetime(opened),
            admin,
            &pairs,
        );
        problems.push(id);
    }
    let n_changes = (records / 20).max(2);
    let mut changes = Vec::with_capacity(n_changes);
    for _ in 0..n_changes {
        let id = rng.sys_id();
        let opened = date_in_span(&mut rng);
        let ci = &cis[rng.below(cis.len())];
        let group = &groups[rng.below(groups.len())];
        let state = *rng.pick(&["-5", "-4", "-3", "-2", "-1", "0", "3", "3", "3", "4"]);
        let closed = matches!(state, "3" | "4");
        let start = opened + Duration::days(2 + rng.below(20) as i64);
        let mut pairs = vec![
            (
                "short_description",
                format!("Upgrade {} to the latest patch level", ci.1),
            ),
            (
                "description",
                "Apply vendor patches during the maintenance window.".to_owned(),
            ),
            ("state", state.to_owned()),
            (
                "type",
                (*rng.pick(&["normal", "normal", "standard", "emergency"])).to_owned(),
            ),
            ("risk", (*rng.pick(&["2", "3", "3", "4"])).to_owned()),
            (
                "category",
                (*rng.pick(&["Hardware", "Software", "Network", "Other"])).to_owned(),
            ),
            ("priority", (1 + rng.below(4)).to_string()),
            ("active", (!closed).to_string()),
            ("opened_at", format_datetime(opened)),
            ("opened_by", rng.pick(&users).clone()),
            ("requested_by", rng.pick(&users).clone()),
            ("assignment_group", group.0.clone()),
            ("assigned_to", rng.pick(&group.1).clone()),
            ("cmdb_ci", ci.0.clone()),
            ("start_date", format_datetime(start)),
            (
                "end_date",
                format_datetime(start + Duration::hours(2 + rng.below(6) as i64)),
            ),
            ("cab_required", rng.chance(40).to_string()),
            ("justification", "Security and stability fixes.".to_owned()),
            (
                "implementation_plan",
                "1. Drain node\n2. Patch\n3. Reboot\n4. Verify".to_owned(),
            ),
            (
                "backout_plan",
                "Restore from the pre-change snapshot.".to_owned(),
            ),
        ];
        if closed {
            pairs.push(("closed_at", format_datetime(start + Duration::hours(8))));
            pairs.push(("closed_by", rng.pick(&group.1).clone()));
        }
        add(
            &mut db,
            "change_request",
            id.clone(),
            &format_datetime(opened),
            admin,
            &pairs,
        );
        changes.push(id);
    }

    // Incidents.
    let mut opened_all: Vec<OffsetDateTime> =
        (0..records).map(|_| date_in_span(&mut rng)).collect();
    // Incidents are numbered in the order they were opened, as on a real instance.
    opened_all.sort();
    for opened in opened_all {
        let id = rng.sys_id();
        let (category, subs) = SUBCATEGORY[rng.below(SUBCATEGORY.len())];
        let ci = &cis[rng.below(cis.len())];
        let group = &groups[rng.below(groups.len())];
        let caller = rng.pick(&users).clone();
        let state = *rng.pick(&[
            "1", "1", "1", "2", "2", "2", "2", "3", "6", "6", "6", "7", "7", "7", "7", "7", "7",
            "7", "7", "8",
        ]);
        let active = matches!(state, "1" | "2" | "3");
        let (impact, urgency) = (1 + rng.below(3), 1 + rng.below(3));
        let sd = short_description(&mut rng, category, &ci.1);
        let caller_name = db
            .lookup(&caller)
            .and_then(|r| r.get("name"))
            .unwrap_or_default()
            .to_owned();
        let assigned = if state == "1" && rng.chance(50) {
            String::new()
        } else {
            rng.pick(&group.1).clone()
        };
        let mut updated = opened + Duration::minutes(5 + rng.below(600) as i64);
        let mut pairs = vec![
            ("short_description", sd.clone()),
            (
                "description",
                format!("{sd}. Reported by {caller_name} via the service portal."),
            ),
            ("state", state.to_owned()),
            ("incident_state", state.to_owned()),
            ("category", category.to_owned()),
            ("subcategory", (*rng.pick(subs)).to_owned()),
            ("impact", impact.to_string()),
            ("urgency", urgency.to_string()),
            ("priority", (impact + urgency - 1).to_string()),
            ("severity", (1 + rng.below(3)).to_string()),
            ("active", active.to_string()),
            ("opened_at", format_datetime(opened)),
            (
                "opened_by",
                if rng.chance(60) {
                    caller.clone()
                } else {
                    ITIL_SYS_ID.to_owned()
                },
            ),
            ("caller_id", caller),
            ("contact_type", (*rng.pick(CONTACT)).to_owned()),
            ("assignment_group", group.0.clone()),
            ("assigned_to", assigned.clone()),
            ("reassignment_count", rng.below(4).to_string()),
            (
                "reopen_count",
                if rng.chance(5) { "1" } else { "0" }.to_owned(),
            ),
            (
                "escalation",
                (*rng.pick(&["0", "0", "0", "1", "2"])).to_owned(),
            ),
        ];
        if rng.chance(75) {
            pairs.push(("cmdb_ci", ci.0.clone()));
        }
        if rng.chance(10) {
            pairs.push(("problem_id", rng.pick(&problems).clone()));
        }
        if rng.chance(5) {
            pairs.push(("rfc", rng.pick(&changes).clone()));
        }
        if active {
            pairs.push(("sla_due", format_datetime(opened + Duration::days(3))));
        } else {
            let resolved = opened + Duration::minutes(30 + rng.below(20_000) as i64);
            let resolver = if assigned.is_empty() {
                rng.pick(&group.1).clone()
            } else {
                assigned
            };
            pairs.push(("resolved_at", format_datetime(resolved)));
            pairs.push(("resolved_by", resolver.clone()));
            pairs.push((
                "close_code",
                CLOSE_CODE[rng.below(CLOSE_CODE.len())].0.to_owned(),
            ));
            pairs.push((
                "close_notes",
                "Resolved after remote troubleshooting with the caller.".to_owned(),
            ));
            let secs = (resolved - opened).whole_seconds();
            pairs.push((
                "calendar_duration",
                format_datetime(OffsetDateTime::UNIX_EPOCH + Duration::seconds(secs)),
            ));
            pairs.push((
                "business_duration",
                format_datetime(OffsetDateTime::UNIX_EPOCH + Duration::seconds(secs / 3)),
            ));
            updated = resolved;
            if state == "7" {
                let closed = resolved + Duration::days(3);
                pairs.push(("closed_at", format_datetime(closed)));
                pairs.push(("closed_by", resolver));
                updated = closed;
            }
        }
        let updated = format_datetime(updated.min(anchor));
        pairs.push(("sys_updated_on", updated));
        add(
            &mut db,
            "incident",
            id,
            &format_datetime(opened),
            admin,
            &pairs,
        );
    }
    // Applications, databases and relationships, from a generator of their own so that the
    // records above stay what they were.
    super::seed_cmdb::generate(&mut db, seed, records, anchor);
    db
}
