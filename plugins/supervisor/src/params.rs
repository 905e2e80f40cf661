//! Positional parameters the way the reference's Python methods take them:
//! a wrong count is a `TypeError`, which the reference answers with exactly
//! `INCORRECT_PARAMETERS`; optional parameters have defaults.

use supervisor_sdk::fault::{Fault, INCORRECT_PARAMETERS};
use supervisor_sdk::value::{Value, ValueKind};

/// The parameters of one call, checked for arity up front.
pub(crate) struct Params<'a> {
    values: &'a [Value],
}

impl<'a> Params<'a> {
    /// Accept between `required` and `required + optional` parameters.
    pub(crate) fn new(
        values: &'a [Value],
        required: usize,
        optional: usize,
    ) -> Result<Params<'a>, Fault> {
        if values.len() < required || values.len() > required + optional {
            return Err(incorrect());
        }
        Ok(Params { values })
    }

    /// Parameter `index` as a string. Another type would make the
    /// reference's method fail inside (an HTTP 500 there); we answer
    /// `INCORRECT_PARAMETERS`, which is what a wrong type means.
    pub(crate) fn string(&self, index: usize) -> Result<&'a str, Fault> {
        self.values
            .get(index)
            .and_then(Value::as_str)
            .ok_or_else(incorrect)
    }

    /// Parameter `index` as Python truthiness, `default` when absent.
    pub(crate) fn truthy(&self, index: usize, default: bool) -> bool {
        self.values.get(index).map_or(default, truthy)
    }

    /// Parameter `index` as given (it must exist: arity was checked).
    pub(crate) fn raw(&self, index: usize) -> Result<&'a Value, Fault> {
        self.values.get(index).ok_or_else(incorrect)
    }
}

/// The bare `INCORRECT_PARAMETERS` fault.
pub(crate) fn incorrect() -> Fault {
    Fault::bare(INCORRECT_PARAMETERS)
}

/// Python's `bool(value)` for what an XML-RPC client can send.
fn truthy(value: &Value) -> bool {
    match value.kind() {
        Some(ValueKind::Bool(b)) => *b,
        Some(ValueKind::Int(i)) => *i != 0,
        Some(ValueKind::Double(d)) => *d != 0.0,
        Some(ValueKind::String(s)) => !s.is_empty(),
        Some(ValueKind::Base64(b)) => !b.is_empty(),
        Some(ValueKind::Array(items)) => !items.is_empty(),
        Some(ValueKind::Struct(members)) => !members.is_empty(),
        Some(ValueKind::Nil) => false,
        // DateTime and variants newer than this build are objects: true.
        _ => true,
    }
}

impl Params<'_> {
    /// Parameter `index` as Python's `int()` takes it: an int, a boolean, a
    /// double (truncated) or decimal text. Anything else fails inside the
    /// reference's method; we answer `INCORRECT_PARAMETERS`.
    pub(crate) fn int(&self, index: usize) -> Result<i64, Fault> {
        let value = self.values.get(index).ok_or_else(incorrect)?;
        match value.kind() {
            Some(ValueKind::Int(number)) => Ok(i64::from(*number)),
            Some(ValueKind::Bool(flag)) => Ok(i64::from(*flag)),
            Some(ValueKind::Double(number)) if number.is_finite() => Ok(number.trunc() as i64),
            Some(ValueKind::String(text)) => text.trim().parse::<i64>().map_err(|_| incorrect()),
            _ => Err(incorrect()),
        }
    }
}
