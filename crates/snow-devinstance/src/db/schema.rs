//! Table schemas: field names, types, references, choice lists and the table hierarchy.
//!
//! A child table's field list starts with its parent's fields in the same order, so a field
//! index valid for a table is valid for every record of that table or any of its descendants.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Index of `sys_id` in every table.
pub(crate) const SYS_ID: usize = 0;
/// Index of `sys_created_on` in every table.
pub(crate) const SYS_CREATED_ON: usize = 1;
/// Index of `sys_created_by` in every table.
pub(crate) const SYS_CREATED_BY: usize = 2;
/// Index of `sys_updated_on` in every table.
pub(crate) const SYS_UPDATED_ON: usize = 3;
/// Index of `sys_updated_by` in every table.
pub(crate) const SYS_UPDATED_BY: usize = 4;
/// Index of `sys_mod_count` in every table.
pub(crate) const SYS_MOD_COUNT: usize = 5;

/// The type of a field, deciding how it is compared, rendered and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// Free text.
    String,
    /// A whole number, compared numerically.
    Integer,
    /// `"true"` or `"false"`.
    Boolean,
    /// UTC date and time, `yyyy-MM-dd HH:mm:ss`.
    DateTime,
    /// A date, `yyyy-MM-dd`.
    Date,
    /// The sys_id of a record in another table.
    Reference,
    /// One value of a fixed list, rendered with its label as display value.
    Choice,
    /// Journal text (comments, work notes): writes append entries, reads give `""` as value.
    Journal,
    /// A decimal amount, compared numerically.
    Currency,
}

/// How a field is filled when an insert leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldDefault {
    /// Empty string.
    Empty,
    /// A fixed value.
    Lit(&'static str),
    /// The current time.
    Now,
    /// The sys_id of the user performing the write.
    CurrentUser,
}

/// One field of a table.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Column name.
    pub name: &'static str,
    /// Column type.
    pub ty: FieldType,
    /// Referenced table, for reference fields.
    pub reference: Option<&'static str>,
    /// `(value, label)` pairs, for choice fields.
    pub choices: &'static [(&'static str, &'static str)],
    pub(crate) default: FieldDefault,
    /// Whether every choice value is an integer (then the field compares numerically).
    pub(crate) numeric_choice: bool,
    /// The JSON object key with its colon, pre-encoded: `"name":`.
    pub(crate) key_json: Box<[u8]>,
}

impl FieldDef {
    fn new(name: &'static str, ty: FieldType) -> Self {
        let key = serde_json::to_string(name).unwrap_or_default();
        Self {
            name,
            ty,
            reference: None,
            choices: &[],
            default: FieldDefault::Empty,
            numeric_choice: false,
            key_json: format!("{key}:").into_bytes().into_boxed_slice(),
        }
    }

    pub(super) fn def(mut self, d: FieldDefault) -> Self {
        self.default = d;
        self
    }

    /// The label of a choice value, or the value itself when it has none.
    pub fn choice_label<'a>(&self, value: &'a str) -> &'a str {
        self.choices
            .iter()
            .find(|(v, _)| *v == value)
            .map_or(value, |(_, l)| *l)
    }

    /// Whether values of this field compare as numbers.
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self.ty, FieldType::Integer | FieldType::Currency)
            || (self.ty == FieldType::Choice && self.numeric_choice)
    }
}

pub(super) fn s(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::String)
}
pub(super) fn int(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Integer).def(FieldDefault::Lit("0"))
}
pub(super) fn b(name: &'static str, default: bool) -> FieldDef {
    FieldDef::new(name, FieldType::Boolean).def(FieldDefault::Lit(if default {
        "true"
    } else {
        "false"
    }))
}
pub(super) fn dt(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::DateTime)
}
pub(super) fn date(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Date)
}
pub(super) fn r(name: &'static str, table: &'static str) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Reference);
    f.reference = Some(table);
    f
}
pub(super) fn ch(name: &'static str, choices: &'static [(&'static str, &'static str)]) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Choice);
    f.choices = choices;
    f.numeric_choice = !choices.is_empty() && choices.iter().all(|(v, _)| v.parse::<i64>().is_ok());
    f
}
pub(super) fn j(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Journal)
}
pub(super) fn cur(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Currency).def(FieldDefault::Lit("0"))
}

/// Identifies a table inside [`Schemas`].
pub(crate) type TableId = u16;

/// The schema of one table.
#[derive(Debug)]
pub struct TableSchema {
    /// Table name.
    pub name: &'static str,
    /// Parent table name, for extended tables.
    pub parent: Option<&'static str>,
    /// All fields, the parent's first.
    pub fields: Vec<FieldDef>,
    by_name: HashMap<&'static str, usize>,
    /// Index of the field whose value is the record's display value.
    pub(crate) display_field: usize,
    /// Prefix of auto-generated numbers (`INC`), when the table has a `number` field.
    pub(crate) number_prefix: Option<&'static str>,
    /// This table and every table extending it, in a fixed order.
    pub(crate) family: Vec<TableId>,
    pub(crate) id: TableId,
}

impl TableSchema {
    /// Index of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.field_index(name).map(|i| &self.fields[i])
    }
}

/// Every table known to the instance.
#[derive(Debug)]
pub struct Schemas {
    tables: Vec<TableSchema>,
    by_name: HashMap<&'static str, TableId>,
}

impl Schemas {
    /// The schema of a table by name.
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.by_name
            .get(name)
            .map(|&id| &self.tables[usize::from(id)])
    }

    /// The schema of a table by id.
    pub(crate) fn by_id(&self, id: TableId) -> &TableSchema {
        &self.tables[usize::from(id)]
    }

    /// All tables, in definition order (parents before children).
    pub fn tables(&self) -> impl Iterator<Item = &TableSchema> {
        self.tables.iter()
    }

    /// Whether `table` is `ancestor` or extends it.
    pub(crate) fn is_a(&self, table: TableId, ancestor: TableId) -> bool {
        self.by_id(ancestor).family.contains(&table)
    }
}

/// The schemas, built once.
pub fn schemas() -> &'static Schemas {
    static S: LazyLock<Schemas> = LazyLock::new(build);
    &S
}

const PRIORITY: &[(&str, &str)] = &[
    ("1", "1 - Critical"),
    ("2", "2 - High"),
    ("3", "3 - Moderate"),
    ("4", "4 - Low"),
    ("5", "5 - Planning"),
];
const IMPACT: &[(&str, &str)] = &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")];
const TASK_STATE: &[(&str, &str)] = &[
    ("-5", "Pending"),
    ("1", "Open"),
    ("2", "Work in Progress"),
    ("3", "Closed Complete"),
    ("4", "Closed Incomplete"),
    ("7", "Closed Skipped"),
];
const INCIDENT_STATE: &[(&str, &str)] = &[
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
];
const PROBLEM_STATE: &[(&str, &str)] = &[
    ("101", "New"),
    ("102", "Assess"),
    ("103", "Root Cause Analysis"),
    ("104", "Fix in Progress"),
    ("106", "Resolved"),
    ("107", "Closed"),
];
const CHANGE_STATE: &[(&str, &str)] = &[
    ("-5", "New"),
    ("-4", "Assess"),
    ("-3", "Authorize"),
    ("-2", "Scheduled"),
    ("-1", "Implement"),
    ("0", "Review"),
    ("3", "Closed"),
    ("4", "Canceled"),
];
const APPROVAL: &[(&str, &str)] = &[
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
];
const ESCALATION: &[(&str, &str)] = &[
    ("0", "Normal"),
    ("1", "Moderate"),
    ("2", "High"),
    ("3", "Overdue"),
];
pub(crate) const CATEGORY: &[(&str, &str)] = &[
    ("inquiry", "Inquiry / Help"),
    ("software", "Software"),
    ("hardware", "Hardware"),
    ("network", "Network"),
    ("database", "Database"),
];
const CONTACT_TYPE: &[(&str, &str)] = &[
    ("email", "Email"),
    ("phone", "Phone"),
    ("self-service", "Self-service"),
    ("walk-in", "Walk-in"),
    ("virtual_agent", "Virtual Agent"),
];
const SEVERITY: &[(&str, &str)] = &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")];
pub(crate) const CLOSE_CODE: &[(&str, &str)] = &[
    ("Solved (Work Around)", "Solved (Work Around)"),
    ("Solved (Permanently)", "Solved (Permanently)"),
    (
        "Solved Remotely (Work Around)",
        "Solved Remotely (Work Around)",
    ),
    (
        "Solved Remotely (Permanently)",
        "Solved Remotely (Permanently)",
    ),
    (
        "Not Solved (Not Reproducible)",
        "Not Solved (Not Reproducible)",
    ),
    ("Not Solved (Too Costly)", "Not Solved (Too Costly)"),
    ("Closed/Resolved by Caller", "Closed/Resolved by Caller"),
];
const CHANGE_TYPE: &[(&str, &str)] = &[
    ("standard", "Standard"),
    ("normal", "Normal"),
    ("emergency", "Emergency"),
];
const RISK: &[(&str, &str)] = &[
    ("1", "Very High"),
    ("2", "High"),
    ("3", "Moderate"),
    ("4", "Low"),
];
const INSTALL_STATUS: &[(&str, &str)] = &[
    ("1", "Installed"),
    ("2", "On Order"),
    ("3", "In Maintenance"),
    ("4", "Pending Install"),
    ("5", "Pending Repair"),
    ("6", "In Stock"),
    ("7", "Retired"),
    ("100", "Absent"),
];
const OPERATIONAL_STATUS: &[(&str, &str)] = &[
    ("1", "Operational"),
    ("2", "Non-Operational"),
    ("3", "Repair in Progress"),
    ("4", "DR Standby"),
    ("5", "Ready"),
    ("6", "Retired"),
];
const GROUP_TYPE: &[(&str, &str)] = &[
    ("itil", "itil"),
    ("catalog", "catalog"),
    ("approval", "approval"),
];

/// `(name, parent, own fields, display field, number prefix)`.
pub(super) type TableDef = (
    &'static str,
    Option<&'static str>,
    Vec<FieldDef>,
    &'static str,
    Option<&'static str>,
);

fn definitions() -> Vec<TableDef> {
    let mut defs = core_definitions();
    defs.extend(super::schema_ext::definitions());
    defs
}

fn core_definitions() -> Vec<TableDef> {
    use FieldDefault::{CurrentUser, Lit, Now};
    vec![
        (
            "sys_user",
            None,
            vec![
                s("user_name"),
                s("first_name"),
                s("last_name"),
                s("name"),
                s("email"),
                s("title"),
                s("department"),
                s("phone"),
                s("mobile_phone"),
                s("employee_number"),
                r("manager", "sys_user"),
                b("active", true),
                b("locked_out", false),
                b("vip", false),
                s("time_zone"),
                dt("last_login_time"),
            ],
            "name",
            None,
        ),
        (
            "sys_user_group",
            None,
            vec![
                s("name"),
                s("description"),
                r("manager", "sys_user"),
                s("email"),
                r("parent", "sys_user_group"),
                ch("type", GROUP_TYPE),
                b("active", true),
            ],
            "name",
            None,
        ),
        (
            "sys_user_role",
            None,
            vec![s("name"), s("description"), b("elevated_privilege", false)],
            "name",
            None,
        ),
        (
            "sys_user_has_role",
            None,
            vec![
                r("user", "sys_user"),
                r("role", "sys_user_role"),
                s("state").def(Lit("active")),
                b("inherited", false),
            ],
            "role",
            None,
        ),
        (
            "sys_user_grmember",
            None,
            vec![r("user", "sys_user"), r("group", "sys_user_group")],
            "user",
            None,
        ),
        (
            "cmdb_ci",
            None,
            vec![
                s("sys_class_name"),
                s("name"),
                s("short_description"),
                s("asset_tag"),
                s("serial_number"),
                s("manufacturer"),
                s("model_number"),
                s("category"),
                ch("install_status", INSTALL_STATUS).def(Lit("1")),
                ch("operational_status", OPERATIONAL_STATUS).def(Lit("1")),
                r("assigned_to", "sys_user"),
                r("managed_by", "sys_user"),
                r("support_group", "sys_user_group"),
                s("ip_address"),
                s("location"),
                cur("cost"),
                date("install_date"),
                s("discovery_source"),
            ],
            "name",
            None,
        ),
        (
            "cmdb_ci_server",
            Some("cmdb_ci"),
            vec![
                s("host_name"),
                s("fqdn"),
                s("os"),
                s("os_version"),
                int("cpu_count"),
                int("ram"),
                b("virtual", false),
            ],
            "name",
            None,
        ),
        (
            "cmdb_ci_linux_server",
            Some("cmdb_ci_server"),
            vec![s("kernel_release")],
            "name",
            None,
        ),
        (
            "cmdb_ci_win_server",
            Some("cmdb_ci_server"),
            vec![s("os_domain")],
            "name",
            None,
        ),
        (
            "task",
            None,
            vec![
                s("sys_class_name"),
                s("number"),
                s("short_description"),
                s("description"),
                ch("state", TASK_STATE).def(Lit("1")),
                ch("priority", PRIORITY).def(Lit("4")),
                ch("impact", IMPACT).def(Lit("3")),
                ch("urgency", IMPACT).def(Lit("3")),
                b("active", true),
                dt("opened_at").def(Now),
                r("opened_by", "sys_user").def(CurrentUser),
                dt("closed_at"),
                r("closed_by", "sys_user"),
                r("assigned_to", "sys_user"),
                r("assignment_group", "sys_user_group"),
                r("cmdb_ci", "cmdb_ci"),
                r("parent", "task"),
                ch("approval", APPROVAL).def(Lit("not requested")),
                ch("escalation", ESCALATION).def(Lit("0")),
                int("reassignment_count"),
                dt("due_date"),
                dt("sla_due"),
                dt("activity_due"),
                b("knowledge", false),
                int("order"),
                j("comments"),
                j("work_notes"),
            ],
            "number",
            Some("TASK"),
        ),
        (
            "incident",
            Some("task"),
            vec![
                r("caller_id", "sys_user"),
                ch("category", CATEGORY).def(Lit("inquiry")),
                s("subcategory"),
                ch("contact_type", CONTACT_TYPE),
                ch("severity", SEVERITY).def(Lit("3")),
                ch("incident_state", INCIDENT_STATE).def(Lit("1")),
                dt("resolved_at"),
                r("resolved_by", "sys_user"),
                ch("close_code", CLOSE_CODE),
                s("close_notes"),
                r("problem_id", "problem"),
                r("rfc", "change_request"),
                int("reopen_count"),
                dt("business_duration"),
                dt("calendar_duration"),
            ],
            "number",
            Some("INC"),
        ),
        (
            "problem",
            Some("task"),
            vec![
                ch("category", CATEGORY).def(Lit("inquiry")),
                b("known_error", false),
                s("cause_notes"),
                s("workaround"),
                s("fix_notes"),
                int("related_incidents"),
                r("first_reported_by_task", "task"),
            ],
            "number",
            Some("PRB"),
        ),
        (
            "change_request",
            Some("task"),
            vec![
                ch("type", CHANGE_TYPE).def(Lit("normal")),
                ch("risk", RISK).def(Lit("3")),
                s("category"),
                r("requested_by", "sys_user").def(CurrentUser),
                dt("start_date"),
                dt("end_date"),
                b("cab_required", false),
                s("justification"),
                s("implementation_plan"),
                s("backout_plan"),
                s("test_plan"),
                s("close_notes"),
            ],
            "number",
            Some("CHG"),
        ),
        (
            "sys_attachment",
            None,
            vec![
                s("file_name"),
                s("content_type"),
                int("size_bytes"),
                int("size_compressed"),
                b("compressed", true),
                s("table_name"),
                s("table_sys_id"),
                s("hash"),
                s("state").def(Lit("available")),
                int("chunk_size_bytes"),
                int("image_width"),
                int("image_height"),
                s("average_image_color"),
                s("sys_tags"),
            ],
            "file_name",
            None,
        ),
    ]
}

/// Per-table choice overrides of inherited fields: `(table, field, choices, default)`.
/// `(table, field, choices, default)`.
type Override = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

fn overrides() -> Vec<Override> {
    vec![
        ("incident", "state", INCIDENT_STATE, "1"),
        ("problem", "state", PROBLEM_STATE, "101"),
        ("change_request", "state", CHANGE_STATE, "-5"),
    ]
}

fn build() -> Schemas {
    let base = || {
        vec![
            s("sys_id"),
            dt("sys_created_on"),
            s("sys_created_by"),
            dt("sys_updated_on"),
            s("sys_updated_by"),
            int("sys_mod_count"),
        ]
    };
    let mut tables: Vec<TableSchema> = Vec::new();
    let mut by_name: HashMap<&'static str, TableId> = HashMap::new();
    for (name, parent, own, display, prefix) in definitions() {
        let mut fields = match parent.and_then(|p| by_name.get(p)) {
            Some(&pid) => tables[usize::from(pid)].fields.clone(),
            None => base(),
        };
        fields.extend(own);
        for (t, f, choices, default) in overrides() {
            if t == name {
                if let Some(fd) = fields.iter_mut().find(|fd| fd.name == f) {
                    let mut replaced = ch(f, choices).def(FieldDefault::Lit(default));
                    replaced.key_json = fd.key_json.clone();
                    *fd = replaced;
                }
            }
        }
        let by: HashMap<&'static str, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect();
        let display_field = by.get(display).copied().unwrap_or(SYS_ID);
        let id = TableId::try_from(tables.len()).unwrap_or(TableId::MAX);
        by_name.insert(name, id);
        tables.push(TableSchema {
            name,
            parent,
            fields,
            by_name: by,
            display_field,
            number_prefix: prefix,
            family: vec![id],
            id,
        });
    }
    // Register every table in the family of each of its ancestors.
    for i in 0..tables.len() {
        let id = tables[i].id;
        let mut parent = tables[i].parent;
        while let Some(p) = parent {
            let Some(&pid) = by_name.get(p) else { break };
            tables[usize::from(pid)].family.push(id);
            parent = tables[usize::from(pid)].parent;
        }
    }
    Schemas { tables, by_name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_fields_extend_parent_fields_in_order() {
        let s = schemas();
        let task = s.table("task").expect("task");
        let inc = s.table("incident").expect("incident");
        for (i, f) in task.fields.iter().enumerate() {
            assert_eq!(inc.fields[i].name, f.name);
        }
        assert!(inc.field("caller_id").is_some());
        assert!(task.field("caller_id").is_none());
        assert_eq!(
            inc.field("state").map(|f| f.choice_label("6")),
            Some("Resolved")
        );
        let linux = s.table("cmdb_ci_linux_server").expect("linux");
        let ci = s.table("cmdb_ci").expect("ci");
        assert!(s.is_a(linux.id, ci.id));
        assert!(!s.is_a(ci.id, linux.id));
        // cmdb_ci, server (linux, windows), application, database.
        assert_eq!(ci.family.len(), 6);
    }
}
