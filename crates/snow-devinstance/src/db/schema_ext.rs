//! The tables behind the APIs beyond the Table API: more CMDB classes and the CI
//! relationship tables (CMDB Instance API), import sets and their staging tables (Import Set
//! API). Appended after the core tables, so the core tables keep their ids.

use super::schema::{FieldDefault, TableDef, ch, int, r, s};

/// `sys_import_set.state`.
const IMPORT_SET_STATE: &[(&str, &str)] = &[
    ("loading", "Loading"),
    ("loaded", "Loaded"),
    ("processed", "Processed"),
    ("cancelled", "Cancelled"),
];

/// `sys_import_set.mode`.
const IMPORT_SET_MODE: &[(&str, &str)] = &[
    ("synchronous", "Synchronous"),
    ("asynchronous", "Asynchronous"),
];

/// `sys_import_set_row.sys_import_state`.
pub(crate) const IMPORT_STATE: &[(&str, &str)] = &[
    ("pending", "Pending"),
    ("inserted", "Inserted"),
    ("updated", "Updated"),
    ("ignored", "Ignored"),
    ("skipped", "Skipped"),
    ("error", "Error"),
];

pub(super) fn definitions() -> Vec<TableDef> {
    use FieldDefault::Lit;
    vec![
        (
            "cmdb_ci_appl",
            Some("cmdb_ci"),
            vec![
                s("version"),
                s("vendor"),
                s("install_directory"),
                s("tcp_port"),
            ],
            "name",
            None,
        ),
        (
            "cmdb_ci_database",
            Some("cmdb_ci"),
            vec![s("version"), s("type"), s("tcp_port")],
            "name",
            None,
        ),
        (
            "cmdb_rel_type",
            None,
            vec![s("name"), s("parent_descriptor"), s("child_descriptor")],
            "name",
            None,
        ),
        (
            "cmdb_rel_ci",
            None,
            vec![
                r("parent", "cmdb_ci"),
                r("child", "cmdb_ci"),
                r("type", "cmdb_rel_type"),
                s("discovery_source"),
            ],
            "type",
            None,
        ),
        (
            "sys_import_set",
            None,
            vec![
                s("number"),
                s("table_name"),
                ch("state", IMPORT_SET_STATE).def(Lit("loading")),
                ch("mode", IMPORT_SET_MODE).def(Lit("synchronous")),
                s("multi_import_set"),
                s("short_description"),
            ],
            "number",
            Some("ISET"),
        ),
        (
            "sys_import_set_row",
            None,
            vec![
                r("sys_import_set", "sys_import_set"),
                int("sys_import_row"),
                ch("sys_import_state", IMPORT_STATE).def(Lit("pending")),
                s("sys_import_state_comment"),
                s("sys_row_error"),
                s("sys_target_table"),
                s("sys_target_sys_id"),
                s("sys_transform_map"),
            ],
            "sys_import_row",
            None,
        ),
        (
            "imp_user",
            Some("sys_import_set_row"),
            vec![
                s("user_name"),
                s("first_name"),
                s("last_name"),
                s("email"),
                s("title"),
                s("active"),
            ],
            "user_name",
            None,
        ),
        (
            "imp_computer",
            Some("sys_import_set_row"),
            vec![
                s("name"),
                s("host_name"),
                s("ip_address"),
                s("os"),
                s("cpu_count"),
            ],
            "name",
            None,
        ),
    ]
}
