//! The typed record every typed contender decodes into, and the Table API envelopes.

use serde::Deserialize;
use snow_client::Field;

/// A few incident fields, as an application would declare them (the rest of each record is
/// skipped). snow's typed runs and the raw typed floor decode into this same struct.
#[derive(Debug, Deserialize)]
#[expect(
    dead_code,
    reason = "decoded for the cost of it; read through black_box"
)]
pub(crate) struct Incident {
    pub(crate) sys_id: String,
    pub(crate) number: String,
    pub(crate) short_description: String,
    pub(crate) state: String,
    pub(crate) priority: String,
    pub(crate) active: String,
    pub(crate) opened_at: String,
    pub(crate) caller_id: Field,
    pub(crate) assignment_group: Field,
}

impl Incident {
    /// 1 for an incident that decoded whole (its number and its sys_id are there), so that
    /// the driver can check every contender saw the same records. The record itself goes
    /// through `black_box`, so no field's decoding can be optimised away.
    pub(crate) fn check(&self) -> u64 {
        std::hint::black_box(self);
        u64::from(self.number.starts_with("INC") && self.sys_id.len() == 32)
    }
}

/// `{"result": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub(crate) result: Vec<T>,
}

/// `{"result": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct One<T> {
    pub(crate) result: T,
}
