//! A candidate rule set in the form the matcher evaluates: the measure translation, plus the conditions
//! only `predict` evaluates (`path=`, `dir=`, `perm=`), each rule's mask kept to the syscalls that can
//! match it, and the reasons, per rule, for what stays undecided.

use audit_verify_common::{
    measure::{ARCH_ANY, Cond, CondField, InodeKey, InodeRules, MAX_RULES},
    rule_semantics::ARCH_B64,
};

use super::{
    classes,
    inodes::{self, Watched},
};
use crate::{
    measure::rule_filters::{self, Translated},
    rules::{Field, Rule, Value, fields::id},
};

/// The candidate exit rules as the matcher takes them.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub rules: Vec<Translated>,
    /// Exit rules past [`MAX_RULES`]: not evaluated.
    pub beyond: Vec<Rule>,
    pub watched: Vec<Watched>,
    pub inodes: Vec<(InodeKey, InodeRules)>,
    /// Per rule (by index in `rules`), what the prediction cannot decide for it, and why.
    pub limits: Vec<Vec<String>>,
}

/// Why a path rule is undecided where it is: the kernel compares the names a syscall looked up, which
/// are gone by the time an exit tracepoint runs; the matcher sees only the file an open returned and the
/// program an execve runs.
pub const PATH_LIMIT: &str = "its path is compared only for successful opens (the file returned) and execs (the \
     program run, for a #! script its interpreter); its other syscalls (unlink, rename, chmod, …) and failed \
     opens are counted as undecided, because the names they looked up are not visible at syscall exit";

fn is_path(f: &Field) -> bool {
    matches!(f.id, id::WATCH | id::DIR)
}

/// Translates `rules` (every list; only exit rules are evaluated) for the matcher.
#[must_use]
pub fn translate(rules: &[Rule]) -> Candidate {
    let extra = |position: usize, f: &Field| -> Option<Cond> {
        let value = match (f.id, &f.value) {
            (id::WATCH | id::DIR, Value::Str(_)) => u32::try_from(position).ok()?,
            (id::PERM, Value::Num(bits)) => *bits,
            _ => return None,
        };
        let field = match f.id {
            id::WATCH => CondField::Watch,
            id::DIR => CondField::Dir,
            _ => CondField::Perm,
        };
        Some(Cond { field: field as u32, op: f.op.code(), value, _pad: 0 })
    };
    let (mut translated, beyond) = rule_filters::translate_with(rules, &extra);
    let mut watched = Vec::new();
    let mut limits = Vec::new();
    for t in &mut translated {
        let mut why = Vec::new();
        if let Some(opaque) = &t.opaque_because {
            why.push(format!("{opaque}: every event it selects is undecided"));
        }
        let paths: Vec<&Field> = t.rule.fields.iter().filter(|f| is_path(f)).collect();
        let perm = t.rule.field(id::PERM).and_then(|f| if let Value::Num(b) = f.value { Some(b) } else { None });
        for f in &paths {
            if let Value::Str(path) = &f.value {
                watched.push(Watched { position: t.position, path: path.into(), dir: f.id == id::DIR, missing: None });
            }
        }
        if !paths.is_empty() || perm.is_some() {
            // The classes are 64-bit numbers: such a rule is evaluated for 64-bit syscalls only.
            let keep = perm.map_or_else(classes::path_mask, classes::perm_mask);
            t.filter.mask.iter_mut().zip(keep).for_each(|(m, k)| *m &= k);
            if t.filter.arch == ARCH_ANY {
                t.filter.arch = ARCH_B64;
                t.filter.arch_negated = 0;
            }
        }
        if !paths.is_empty() {
            why.push(PATH_LIMIT.to_owned());
        }
        limits.push(why);
    }
    let inodes = inodes::resolve(&mut watched).into_iter().collect();
    for w in &watched {
        if let (Some(missing), Some(why)) = (&w.missing, translated.iter().position(|t| t.position == w.position)) {
            limits[why].push(missing.clone());
        }
    }
    debug_assert!(translated.len() <= MAX_RULES as usize);
    Candidate { rules: translated, beyond, watched, inodes, limits }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{rules::parse::rule, syscalls};

    #[test]
    fn watches_become_conditions_on_the_syscalls_that_can_match() {
        let dir = std::env::temp_dir();
        let rules = [
            rule("-a always,exit -F arch=b64 -S execve -F auid>=1000 -k exec"),
            rule(&format!("-w {} -p wa -k tmp", dir.display())),
            rule("-a always,exit -F arch=b64 -S openat -F exe=/usr/bin/cat -k cat"),
        ];
        let c = translate(&rules);
        assert_eq!(c.rules.len(), 3);
        assert!(c.limits[0].is_empty(), "{:?}", c.limits[0]);
        let w = &c.rules[1].filter;
        let fields: Vec<u32> = w.conds[..w.cond_count as usize].iter().map(|c| c.field).collect();
        assert_eq!(fields, [CondField::Dir as u32, CondField::Perm as u32]);
        assert_eq!((w.conds[0].value, w.conds[1].value, w.opaque), (1, 10, 0), "bit = position; -p wa");
        let nr = |n| syscalls::number(syscalls::Abi::B64, n).unwrap();
        assert!(w.selects(nr("openat"), ARCH_B64) && w.selects(nr("unlinkat"), ARCH_B64));
        assert!(!w.selects(nr("read"), ARCH_B64) && !w.selects(nr("execve"), ARCH_B64));
        assert!(c.limits[1][0].contains("only for successful opens"));
        assert_eq!(c.inodes.len(), 1 + inodes_beneath(&dir), "the directory and the mounts beneath it");
        assert!(c.limits[2][0].contains("exe"), "{:?}", c.limits[2]);
    }

    fn inodes_beneath(dir: &std::path::Path) -> usize {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        info.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| std::path::Path::new(m).starts_with(dir) && std::path::Path::new(m) != dir)
            .count()
    }
}
