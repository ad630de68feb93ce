//! Loaded rules as the kernel hands them out (`struct audit_rule_data`).
//!
//! The state guard keeps rules as these exact bytes: `AUDIT_LIST_RULES` replies are accepted unchanged by
//! `AUDIT_ADD_RULE` and `AUDIT_DEL_RULE` (auditctl -D deletes this way), so a restore re-creates precisely
//! what was loaded, with no parse-and-print step that could lose a field.

/// One rule in the kernel's binary form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawRule(Vec<u8>);

impl RawRule {
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}
