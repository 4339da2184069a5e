//! [`Operator`]: the operators of the encoded-query language, and the shape of value each takes.

use std::fmt;

/// An encoded-query operator: what comes between the field and the value of a term
/// (`=`, `LIKE`, `IN`, `BETWEEN`, `ISEMPTY`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `=`
    Eq,
    /// `!=` (on a boolean, also matches empty)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE`: contains
    Like,
    /// `NOT LIKE`: does not contain
    NotLike,
    /// `STARTSWITH`
    StartsWith,
    /// `ENDSWITH`
    EndsWith,
    /// `IN`: one of a comma-separated list
    In,
    /// `NOT IN`
    NotIn,
    /// `ISEMPTY`
    IsEmpty,
    /// `ISNOTEMPTY`
    IsNotEmpty,
    /// `EMPTYSTRING`
    EmptyString,
    /// `ANYTHING`: matches every record, empty values included
    Anything,
    /// `BETWEEN`: inclusive range `low@high`
    Between,
    /// `SAMEAS`: equal to another field
    SameAs,
    /// `NSAMEAS`: different from another field
    NotSameAs,
    /// `GT_FIELD`: greater than another field
    GtField,
    /// `LT_FIELD`: less than another field
    LtField,
    /// `GT_OR_EQUALS_FIELD`
    GeField,
    /// `LT_OR_EQUALS_FIELD`
    LeField,
    /// `DYNAMIC`: a dynamic filter option, by sys_id (for example "Me")
    Dynamic,
    /// `RELATIVEGT`: after a moment relative to now
    RelativeGt,
    /// `RELATIVELT`: before a moment relative to now
    RelativeLt,
    /// `RELATIVEGE`: at or after a moment relative to now
    RelativeGe,
    /// `RELATIVELE`: at or before a moment relative to now
    RelativeLe,
    /// `RELATIVEEE`: on a moment relative to now
    RelativeEe,
    /// `ON`: within a date range `label@start@end`
    On,
    /// `NOTON`: outside a date range
    NotOn,
    /// `INSTANCEOF`: the class or one of its subclasses
    InstanceOf,
}

/// How an operator's operand is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Scalar,
    List,
    Nothing,
    Between,
    Field,
    SysId,
    Relative,
    Range,
    Table,
}

impl Operator {
    /// Every operator, longest spelling first where one is a prefix of another.
    pub(crate) const BY_LENGTH: [Operator; 32] = {
        use Operator::*;
        [
            GeField,
            LeField,
            EmptyString,
            RelativeGt,
            RelativeLt,
            RelativeGe,
            RelativeLe,
            RelativeEe,
            IsNotEmpty,
            InstanceOf,
            StartsWith,
            GtField,
            LtField,
            EndsWith,
            NotLike,
            Anything,
            IsEmpty,
            Between,
            NotSameAs,
            Dynamic,
            SameAs,
            NotIn,
            NotOn,
            Like,
            Le,
            Ge,
            Ne,
            In,
            On,
            Eq,
            Lt,
            Gt,
        ]
    };

    /// The operator as written between field and value.
    pub fn as_str(self) -> &'static str {
        use Operator::*;
        match self {
            Eq => "=",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Like => "LIKE",
            NotLike => "NOT LIKE",
            StartsWith => "STARTSWITH",
            EndsWith => "ENDSWITH",
            In => "IN",
            NotIn => "NOT IN",
            IsEmpty => "ISEMPTY",
            IsNotEmpty => "ISNOTEMPTY",
            EmptyString => "EMPTYSTRING",
            Anything => "ANYTHING",
            Between => "BETWEEN",
            SameAs => "SAMEAS",
            NotSameAs => "NSAMEAS",
            GtField => "GT_FIELD",
            LtField => "LT_FIELD",
            GeField => "GT_OR_EQUALS_FIELD",
            LeField => "LT_OR_EQUALS_FIELD",
            Dynamic => "DYNAMIC",
            RelativeGt => "RELATIVEGT",
            RelativeLt => "RELATIVELT",
            RelativeGe => "RELATIVEGE",
            RelativeLe => "RELATIVELE",
            RelativeEe => "RELATIVEEE",
            On => "ON",
            NotOn => "NOTON",
            InstanceOf => "INSTANCEOF",
        }
    }

    pub(crate) fn shape(self) -> Shape {
        use Operator::*;
        match self {
            Eq | Ne | Lt | Le | Gt | Ge | Like | NotLike | StartsWith | EndsWith => Shape::Scalar,
            In | NotIn => Shape::List,
            IsEmpty | IsNotEmpty | EmptyString | Anything => Shape::Nothing,
            Between => Shape::Between,
            SameAs | NotSameAs | GtField | LtField | GeField | LeField => Shape::Field,
            Dynamic => Shape::SysId,
            RelativeGt | RelativeLt | RelativeGe | RelativeLe | RelativeEe => Shape::Relative,
            On | NotOn => Shape::Range,
            InstanceOf => Shape::Table,
        }
    }

    /// The longest operator `s` starts with.
    pub(crate) fn match_prefix(s: &str) -> Option<Operator> {
        Self::BY_LENGTH
            .into_iter()
            .find(|op| s.starts_with(op.as_str()))
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
