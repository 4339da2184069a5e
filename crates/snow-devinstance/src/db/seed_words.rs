//! The word lists the sample-data generator picks from.

pub(super) const FIRST: &[&str] = &[
    "Abel", "Beth", "Carlos", "Diana", "Ethan", "Fatima", "George", "Hana", "Ivan", "Julia",
    "Kenji", "Laura", "Mateo", "Nina", "Omar", "Priya", "Quentin", "Rosa", "Samuel", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amelia", "Bruno", "Chloe", "David", "Elena",
    "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kira", "Leo", "Maya", "Noah",
];
pub(super) const LAST: &[&str] = &[
    "Tuter",
    "Anderson",
    "Brown",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Johnson",
    "Kowalski",
    "Lopez",
    "Martin",
    "Nakamura",
    "Olsen",
    "Patel",
    "Quinn",
    "Rossi",
    "Smith",
    "Tanaka",
    "Ulrich",
    "Virtanen",
    "Williams",
    "Xu",
    "Young",
    "Zimmerman",
    "Baker",
    "Costa",
    "Novak",
];
pub(super) const TITLES: &[&str] = &[
    "Service Desk Analyst",
    "Network Engineer",
    "Database Administrator",
    "Software Engineer",
    "Sales Manager",
    "Accountant",
    "HR Specialist",
    "Project Manager",
    "Systems Administrator",
    "Marketing Coordinator",
    "Director of IT",
    "Support Technician",
];
pub(super) const DEPARTMENTS: &[&str] = &[
    "IT",
    "Sales",
    "Finance",
    "HR",
    "Marketing",
    "Engineering",
    "Operations",
    "Legal",
];
pub(super) const GROUPS: &[&str] = &[
    "Service Desk",
    "Network",
    "Database",
    "Hardware",
    "Software",
    "Help Desk",
    "Linux Admins",
    "Windows Admins",
    "Application Development",
    "CAB Approval",
    "Incident Management",
    "Problem Solving",
];
pub(super) const APPS: &[&str] = &[
    "SAP",
    "Salesforce",
    "Outlook",
    "Teams",
    "Zoom",
    "Jira",
    "Excel",
    "Workday",
    "Slack",
    "Confluence",
    "Oracle EBS",
    "Adobe Reader",
];
pub(super) const SUBCATEGORY: &[(&str, &[&str])] = &[
    ("inquiry", &["antivirus", "email", "internal application"]),
    ("software", &["email", "os", "application"]),
    (
        "hardware",
        &["cpu", "disk", "keyboard", "memory", "monitor", "mouse"],
    ),
    ("network", &["dhcp", "dns", "ip address", "vpn", "wireless"]),
    ("database", &["db2", "oracle", "sql server", "mysql"]),
];
pub(super) const CONTACT: &[&str] = &["email", "phone", "self-service", "walk-in", "virtual_agent"];

/// Short-description templates for an incident category; `{app}`, `{host}` and `{n}` are
/// filled in by the generator.
pub(super) fn templates(category: &str) -> &'static [&'static str] {
    match category {
        "software" => &[
            "{app} keeps crashing on startup",
            "Unable to install {app}",
            "{app} license expired",
            "{app} is very slow since this morning",
            "Error message when opening {app}",
        ],
        "hardware" => &[
            "Laptop battery not charging",
            "Printer on floor {n} is jammed",
            "Monitor flickering after docking",
            "Keyboard keys not responding",
            "Disk almost full on {host}",
        ],
        "network" => &[
            "VPN connection drops every few minutes",
            "Wi-Fi unavailable in building {n}",
            "Cannot reach shared drive",
            "DNS resolution failing for {host}",
            "High latency to {app}",
        ],
        "database" => &[
            "Database unreachable on {host}",
            "Slow queries in {app} reporting",
            "Backup job failed on {host}",
            "Replication lag on {host}",
        ],
        _ => &[
            "How do I reset my password?",
            "Request access to {app}",
            "Question about my {app} account",
            "Need help setting up email on my phone",
        ],
    }
}
