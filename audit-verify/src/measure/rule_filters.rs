//! Loaded exit rules in the form the kernel-side rule matcher evaluates (see audit-verify-ebpf's
//! `match_rules.rs`). Filters it cannot evaluate make a rule opaque, never guessed: such a rule is
//! undecided unless one of the conditions it can evaluate fails.

use audit_verify_common::{
    measure::{ARCH_ANY, Cond, CondField, MAX_CONDS, MAX_RULES, RuleFilter},
    rule_semantics::ARCH_B32,
};

use crate::rules::{
    Field, FilterList, Op, Rule, Value,
    fields::{self, id},
};

/// How a caller evaluates a field the matcher cannot read by itself (`predict`'s paths and `perm`):
/// given the rule's position and the field, the condition to keep, or `None` to leave the rule opaque.
pub type Extra<'a> = &'a dyn Fn(usize, &Field) -> Option<Cond>;

/// A loaded exit rule and how the kernel side sees it.
#[derive(Debug, Clone)]
pub struct Translated {
    /// Position on the kernel's exit list.
    pub position: usize,
    pub rule: Rule,
    pub filter: RuleFilter,
    /// Why the kernel side cannot decide this rule, if it cannot.
    pub opaque_because: Option<String>,
}

/// The exit-list rules in kernel order, up to [`MAX_RULES`]; later ones are returned apart (not counted).
pub fn translate(loaded: &[Rule]) -> (Vec<Translated>, Vec<Rule>) {
    translate_with(loaded, &|_, _| None)
}

/// [`translate`], with `extra` deciding the fields the matcher cannot read by itself.
pub fn translate_with(loaded: &[Rule], extra: Extra<'_>) -> (Vec<Translated>, Vec<Rule>) {
    let exit: Vec<&Rule> = loaded.iter().filter(|r| r.list == FilterList::Exit).collect();
    let counted = exit.iter().take(MAX_RULES as usize).enumerate().map(|(position, rule)| {
        let (filter, opaque_because) = filter_of(rule, &|field: &Field| extra(position, field));
        Translated { position, rule: (*rule).clone(), filter, opaque_because }
    });
    (counted.collect(), exit.iter().skip(MAX_RULES as usize).map(|r| (*r).clone()).collect())
}

#[expect(clippy::cast_possible_truncation, reason = "`exact` is a subset of `MAX_CONDS` conditions")]
fn filter_of(rule: &Rule, extra: &dyn Fn(&Field) -> Option<Cond>) -> (RuleFilter, Option<String>) {
    let mut f = RuleFilter { mask: rule.mask, arch: ARCH_ANY, ..RuleFilter::default() };
    let mut opaque = None;
    for field in &rule.fields {
        if let Some(cond) = extra(field) {
            if (f.cond_count as usize) == MAX_CONDS {
                opaque.get_or_insert(format!("more than {MAX_CONDS} conditions"));
            } else {
                f.conds[f.cond_count as usize] = cond;
                f.cond_count += 1;
            }
            continue;
        }
        let Value::Num(value) = field.value else {
            if field.id != id::FILTERKEY {
                opaque.get_or_insert(format!(
                    "filter `{}` needs a path or string",
                    fields::name_of(field.id).unwrap_or("?")
                ));
            }
            continue;
        };
        if field.id == id::ARCH {
            f.arch = value;
            f.arch_negated = u32::from(field.op == Op::Ne);
            continue;
        }
        let cond_field = match field.id {
            id::UID => CondField::Uid,
            id::EUID => CondField::Euid,
            id::GID => CondField::Gid,
            id::LOGINUID => CondField::Auid,
            id::SUCCESS => CondField::Success,
            id::EXIT => CondField::Exit,
            id::ARG0 => CondField::Arg0,
            id::ARG1 => CondField::Arg1,
            id::ARG2 => CondField::Arg2,
            id::ARG3 => CondField::Arg3,
            other => {
                opaque.get_or_insert(format!(
                    "filter `{}` is not evaluated in the kernel",
                    fields::name_of(other).unwrap_or("?")
                ));
                continue;
            }
        };
        if (f.cond_count as usize) == MAX_CONDS {
            opaque.get_or_insert(format!("more than {MAX_CONDS} conditions"));
            continue;
        }
        f.conds[f.cond_count as usize] = Cond { field: cond_field as u32, op: field.op.code(), value, _pad: 0 };
        f.cond_count += 1;
    }
    // The matcher judges the conditions it holds even on an opaque rule (one that fails decides), so
    // every condition kept must be exact: a0-a3 are not, for a 32-bit syscall.
    let is_arg = |c: &Cond| (CondField::Arg0 as u32..=CondField::Arg3 as u32).contains(&c.field);
    let kept = &f.conds[..f.cond_count as usize];
    if f.admits(ARCH_B32) && kept.iter().any(is_arg) {
        opaque.get_or_insert("a0-a3 are read from the 64-bit registers only".into());
        let exact: Vec<Cond> = kept.iter().copied().filter(|c| !is_arg(c)).collect();
        f.conds = [Cond::default(); MAX_CONDS];
        f.conds[..exact.len()].copy_from_slice(&exact);
        f.cond_count = exact.len() as u32;
    }
    f.opaque = u32::from(opaque.is_some());
    (f, opaque)
}

#[cfg(test)]
mod tests {
    use audit_verify_common::rule_semantics::ARCH_B64;

    use super::*;
    use crate::rules::parse::rule;

    #[test]
    fn simple_filters_are_evaluated_and_paths_are_opaque() {
        let rules = [
            rule("-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=unset -F success=1 -k exec"),
            rule("-w /etc/passwd -p wa -k identity"),
            rule("-a never,exit -F arch=b32 -S all"),
            rule("-a always,exclude -F msgtype=CWD"),
            rule("-a always,exit -F arch=b32 -S clock_settime -F a0=0x0 -k time"),
        ];
        let (t, beyond) = translate(&rules);
        assert!(beyond.is_empty());
        assert_eq!(t.len(), 4, "exclude-list rules are not syscall rules");
        assert_eq!((t[0].filter.arch, t[0].filter.cond_count, t[0].filter.opaque), (ARCH_B64, 3, 0));
        assert_eq!(
            t[0].filter.conds[0],
            Cond { field: CondField::Auid as u32, op: Op::Ge.code(), value: 1000, _pad: 0 }
        );
        assert!(t[1].opaque_because.as_deref().unwrap().contains("path"), "{:?}", t[1].opaque_because);
        assert_eq!((t[2].filter.arch, t[2].filter.opaque), (ARCH_B32, 0));
        assert!(t[3].opaque_because.is_some(), "a0 on b32 is not readable from the 64-bit registers");
        assert_eq!(t[3].filter.cond_count, 0, "and is not judged");
    }
}
