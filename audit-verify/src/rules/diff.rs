//! Files against kernel: what the rules files would load, simulated with the kernel's semantics, compared
//! with what the kernel holds, plus the mistakes visible in the files alone.

use std::collections::{BTreeMap, HashMap, VecDeque};

use audit_verify_common::rule_semantics as kernel;
use serde::Serialize;

use super::{
    Action, Field, FilterList, Location, Op, Rule, Value,
    augenrules::RuleSource,
    fields::id,
    parse::{Command, Line},
};
use crate::finding::{Finding, Severity};

/// The outcome of `audit-verify rules`.
#[derive(Debug, Clone, Serialize)]
pub struct RulesReport {
    pub sources: Vec<String>,
    /// Rules the files would leave loaded.
    pub expected: usize,
    pub loaded: usize,
    /// Rules in both.
    pub matched: usize,
    pub findings: Vec<Finding>,
    /// Every rule the files load, in kernel order, with what became of it: the structured form of the
    /// `not_loaded` and `shadowed` findings, for `prove`.
    #[serde(skip)]
    pub expected_rules: Vec<ExpectedRule>,
    /// For each loaded rule (kernel order), the line it was paired with; `None`: in no rules file.
    #[serde(skip)]
    pub loaded_from: Vec<Option<Location>>,
}

/// A rule the files load, and whether the kernel holds it.
#[derive(Debug, Clone)]
pub struct ExpectedRule {
    pub rule: Rule,
    pub location: Location,
    pub loaded: Loaded,
    /// The earlier `never` rule that matches every event this one matches: it can never fire.
    pub shadowed_by: Option<Location>,
}

/// Whether the kernel holds an expected rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// At this index of the loaded rules.
    At(usize),
    /// Not held; why, as far as the files tell.
    No { why: String },
}

impl ExpectedRule {
    /// What the `not_loaded` finding says.
    #[must_use]
    pub fn not_loaded_message(why: &str) -> String {
        format!("in the files but not loaded: {why}")
    }

    /// What the `shadowed` finding says.
    #[must_use]
    pub fn shadowed_message(never: &Location) -> String {
        format!("can never fire: the never rule at {never} matches every event this rule matches")
    }
}

/// A rule the files load, with where it was written.
#[derive(Debug, Clone)]
struct Expected {
    rule: Rule,
    canonical: Rule,
    location: Location,
    /// Written after the line at which a real load would have stopped.
    after_stop: bool,
}

/// Compares the files (`source`) with the kernel's rules (`loaded`, in kernel order).
pub fn compare(source: &RuleSource, loaded: &[Rule]) -> RulesReport {
    let mut findings = Vec::new();
    for e in &source.errors {
        findings.push(Finding::new("syntax_error", Severity::High, e.message.clone()).at(&e.location));
    }
    let (expected, stop, keeps_going) = simulate_load(source, &mut findings);
    settings_findings(source, &mut findings);

    // Pair each loaded rule with an expected one (first unused equal rule on the same list).
    let mut unused: HashMap<Rule, VecDeque<usize>> = HashMap::new();
    for (li, rule) in loaded.iter().enumerate() {
        unused.entry(rule.canonical()).or_default().push_back(li);
    }
    let mut used = vec![false; loaded.len()];
    let mut pairs = Vec::new(); // (expected index, loaded index)
    let mut missing = Vec::new();
    // What became of each expected rule; every missing one is given its why below.
    let mut states = vec![Loaded::No { why: String::new() }; expected.len()];
    for (ei, e) in expected.iter().enumerate() {
        match unused.get_mut(&e.canonical).and_then(VecDeque::pop_front) {
            Some(li) => {
                used[li] = true;
                pairs.push((ei, li));
                states[ei] = Loaded::At(li);
            }
            None => missing.push(ei),
        }
    }
    let refused_at = kernel_stop(source, &expected, &missing, stop.is_some() || keeps_going);
    for &ei in &missing {
        let e = &expected[ei];
        let why = match (&stop, e.after_stop, refused_at) {
            (Some(at), true, _) => format!("the load stops at {at}, before this rule"),
            (_, _, Some(first)) if first == ei => format!(
                "the kernel refused it (a path or user that does not exist here, say), and `auditctl -R` stops \
                 at the first error: the {} rules after it were not loaded either",
                missing.len() - 1
            ),
            (_, _, Some(first)) => {
                format!(
                    "the load stops at {}, where the kernel refused a rule, before this rule",
                    expected[first].location
                )
            }
            _ => "the kernel refused it, or it was deleted after loading".into(),
        };
        findings.push(
            Finding::new("not_loaded", Severity::High, ExpectedRule::not_loaded_message(&why))
                .at(&e.location)
                .rule(&e.rule),
        );
        states[ei] = Loaded::No { why };
    }
    let mut loaded_from = vec![None; loaded.len()];
    for &(ei, li) in &pairs {
        loaded_from[li] = Some(expected[ei].location.clone());
    }
    let mut position: BTreeMap<FilterList, usize> = BTreeMap::new();
    for (li, rule) in loaded.iter().enumerate() {
        let at = position.entry(rule.list).or_default();
        *at += 1;
        if !used[li] {
            findings.push(
                Finding::new("loaded_not_in_files", Severity::Medium, "loaded in the kernel but in no rules file")
                    .at(format!("kernel {} list, position {at}", rule.list.name()))
                    .rule(rule),
            );
        }
    }
    order_findings(&expected, loaded, &pairs, &mut findings);
    let shadows = shadow_findings(&expected, &mut findings);

    RulesReport {
        sources: source.files.iter().map(|f| f.display().to_string()).collect(),
        expected: expected.len(),
        loaded: loaded.len(),
        matched: pairs.len(),
        findings,
        expected_rules: expected
            .into_iter()
            .zip(states)
            .zip(shadows)
            .map(|((e, loaded), shadowed_by)| ExpectedRule { rule: e.rule, location: e.location, loaded, shadowed_by })
            .collect(),
        loaded_from,
    }
}

/// Replays the lines as `auditctl -R` applies them: `-D` empties the lists, `-a` appends, `-A` prepends,
/// `-d`/`-W` delete, an exact duplicate is refused (EEXIST). The first error stops the load unless `-c`
/// or `-i` came before it. Returns the rules in kernel order and the stop point.
fn simulate_load(source: &RuleSource, findings: &mut Vec<Finding>) -> (Vec<Expected>, Option<Location>, bool) {
    let mut lists: BTreeMap<FilterList, Vec<Expected>> = BTreeMap::new();
    // Where each rule now loaded first stands, for the duplicate check (rebuilt after a delete).
    let mut first_at: HashMap<Rule, Location> = HashMap::new();
    let rebuild = |lists: &BTreeMap<FilterList, Vec<Expected>>| -> HashMap<Rule, Location> {
        let mut map = HashMap::new();
        for e in lists.values().flatten() {
            map.entry(e.canonical.clone()).or_insert_with(|| e.location.clone());
        }
        map
    };
    let mut stop: Option<Location> = None;
    let mut keep_going = false;
    let mut errors = source.errors.iter().map(|e| &e.location).collect::<Vec<_>>();
    errors.sort_by_key(|l| order_key(source, l));
    let mut errors = errors.into_iter().peekable();

    for line in &source.lines {
        // A syntax error written before this line is where a real load would have stopped.
        while let Some(at) = errors.next_if(|at| order_key(source, at) < order_key(source, &line.location)) {
            if !keep_going && stop.is_none() {
                stop = Some(at.clone());
            }
        }
        let after_stop = stop.is_some();
        match &line.command {
            Command::IgnoreErrors | Command::ContinueOnError => keep_going = true,
            Command::DeleteAll { key: None } => {
                lists.clear();
                first_at.clear();
            }
            Command::DeleteAll { key: Some(key) } => {
                for l in lists.values_mut() {
                    l.retain(|e| e.rule.key() != Some(key.as_str()));
                }
                first_at = rebuild(&lists);
            }
            Command::Add { rule, prepend } => {
                let canonical = rule.canonical();
                let list = lists.entry(rule.list).or_default();
                if let Some(first) = first_at.get(&canonical) {
                    findings.push(
                        Finding::new(
                            "duplicate",
                            Severity::Medium,
                            format!("the same rule as {first}: the kernel refuses it (EEXIST), a load error"),
                        )
                        .at(&line.location)
                        .rule(rule),
                    );
                    if !keep_going && stop.is_none() {
                        stop = Some(line.location.clone());
                    }
                    continue;
                }
                first_at.insert(canonical.clone(), line.location.clone());
                let entry = Expected { rule: rule.clone(), canonical, location: line.location.clone(), after_stop };
                if *prepend { list.insert(0, entry) } else { list.push(entry) }
            }
            Command::Delete { rule } => {
                let canonical = rule.canonical();
                if let Some(list) = lists.get_mut(&rule.list) {
                    list.retain(|e| e.canonical != canonical);
                }
                first_at.remove(&canonical);
            }
            Command::Set { .. } => {}
        }
    }
    (lists.into_values().flatten().collect(), stop, keep_going)
}

/// Where a load the kernel cut short stopped: when the rules not loaded are exactly the last ones in load
/// order, the first of them is the one the kernel refused (`auditctl -R` stops at the first error).
/// `None` where the files already explain a stop, `-c`/`-i` keep loading past errors, or nothing of the
/// files is loaded (then they may never have been loaded at all).
fn kernel_stop(source: &RuleSource, expected: &[Expected], missing: &[usize], explained: bool) -> Option<usize> {
    if explained || missing.len() == expected.len() {
        return None;
    }
    let key = |ei: usize| order_key(source, &expected[ei].location);
    let first = missing.iter().copied().min_by_key(|&ei| key(ei))?;
    let after = (0..expected.len()).filter(|&ei| key(ei) >= key(first)).count();
    (after == missing.len()).then_some(first)
}

/// Position of a location in load order: the file's place in the source, then the line.
fn order_key(source: &RuleSource, location: &Location) -> (usize, usize) {
    let file = source.files.iter().position(|f| **f == *location.file).unwrap_or(usize::MAX);
    (file, location.line)
}

fn settings_findings(source: &RuleSource, findings: &mut Vec<Finding>) {
    let is_enable = |l: &&Line| matches!(l.command, Command::Set { setting: "enabled", .. });
    match source.lines.iter().rev().find(is_enable) {
        Some(Line { command: Command::Set { value: 2, .. }, location, .. }) => {
            if let Some(after) = source.lines.last().filter(|last| last.location != *location) {
                findings.push(
                    Finding::new(
                        "immutable_not_last",
                        Severity::High,
                        format!("-e 2 locks the rules before {} is loaded: every line after it fails", after.location),
                    )
                    .at(location),
                );
            }
        }
        Some(line) => findings.push(
            Finding::new("immutable_missing", Severity::Medium, "the last -e is not 2: the rules stay mutable")
                .at(&line.location),
        ),
        None => findings.push(Finding::new(
            "immutable_missing",
            Severity::Medium,
            "no -e 2: the loaded rules stay mutable, anyone with CAP_AUDIT_CONTROL can remove them",
        )),
    }
    for line in &source.lines {
        if let Command::Add { rule, .. } = &line.command
            && let Some(key) = rule.key().filter(|k| k.ends_with('\r'))
        {
            findings.push(
                Finding::new(
                    "carriage_return_in_key",
                    Severity::Medium,
                    format!(
                        "the line ends in a carriage return (a CRLF file): auditctl keeps it, so the key is {key:?} \
                         and a search for {:?} finds none of its events",
                        key.trim_end_matches('\r')
                    ),
                )
                .at(&line.location)
                .rule(rule),
            );
        }
        if matches!(line.command, Command::IgnoreErrors | Command::ContinueOnError) {
            findings.push(
                Finding::new(
                    "errors_hidden",
                    Severity::Medium,
                    format!(
                        "`{}` keeps loading past rules the kernel refuses, so a broken rule goes unnoticed",
                        line.text
                    ),
                )
                .at(&line.location),
            );
        }
    }
}

/// Rules present on both sides but in another relative order. An exit-list rule's position decides which
/// rule's key an event gets (first match wins), and a `never` rule moved ahead hides what follows it.
fn order_findings(expected: &[Expected], loaded: &[Rule], pairs: &[(usize, usize)], findings: &mut Vec<Finding>) {
    // Pairs come in expected order, so a pair is out of order exactly when a later pair on its list was
    // loaded before it: the smallest later loaded index per list rules most pairs out without a scan.
    let mut later_min = vec![usize::MAX; pairs.len()];
    let mut min_by_list: BTreeMap<FilterList, usize> = BTreeMap::new();
    for (i, &(ea, la)) in pairs.iter().enumerate().rev() {
        let min = min_by_list.entry(expected[ea].rule.list).or_insert(usize::MAX);
        later_min[i] = *min;
        *min = (*min).min(la);
    }
    for (i, &(ea, la)) in pairs.iter().enumerate() {
        if later_min[i] > la {
            continue;
        }
        let swapped_with = pairs[i + 1..].iter().find(|&&(eb, lb)| {
            let (a, b) = (&expected[ea].rule, &expected[eb].rule);
            a.list == b.list && (ea < eb) != (la < lb)
        });
        if let Some(&(eb, _)) = swapped_with {
            let (a, b) = (&expected[ea], &expected[eb]);
            let changes_meaning =
                overlap(&a.rule, &b.rule) && (a.rule.action != b.rule.action || a.rule.key() != b.rule.key());
            let (severity, effect) = if changes_meaning {
                (Severity::High, "they match the same events, so which one applies has changed")
            } else {
                (Severity::Info, "they match different events, so the meaning is unchanged")
            };
            findings.push(
                Finding::new(
                    "order_changed",
                    severity,
                    format!(
                        "loaded in the opposite order to {} ({}); {effect}",
                        b.location,
                        loaded[pairs[i].1].list.name()
                    ),
                )
                .at(&a.location)
                .rule(&a.rule),
            );
        }
    }
}

/// Lists where the first matching rule decides (exclude and user lists filter records, not events).
fn first_match_list(list: FilterList) -> bool {
    matches!(list, FilterList::Exit | FilterList::Task | FilterList::IoUring)
}

/// The shadowing `never` rule of each expected rule, and a finding for each shadowed one.
fn shadow_findings(expected: &[Expected], findings: &mut Vec<Finding>) -> Vec<Option<Location>> {
    let mut out = Vec::with_capacity(expected.len());
    let nevers: Vec<usize> = (0..expected.len()).filter(|&i| expected[i].rule.action == Action::Never).collect();
    for (j, later) in expected.iter().enumerate() {
        let shadow = nevers.iter().take_while(|&&i| i < j).map(|&i| &expected[i]).find(|earlier| {
            earlier.rule.action == Action::Never
                && earlier.rule.list == later.rule.list
                && first_match_list(later.rule.list)
                && covers(&earlier.rule, &later.rule)
        });
        if let Some(never) = shadow {
            findings.push(
                Finding::new("shadowed", Severity::High, ExpectedRule::shadowed_message(&never.location))
                    .at(&later.location)
                    .rule(&later.rule),
            );
        }
        out.push(shadow.map(|never| never.location.clone()));
    }
    out
}

/// Whether `general` matches every event `specific` matches: its syscalls include the other's and each
/// of its conditions follows from the other's conditions.
#[must_use]
pub fn covers(general: &Rule, specific: &Rule) -> bool {
    let syscalls_included = !general.uses_mask()
        || general.mask.iter().zip(&specific.mask).all(|(g, s)| g & s == *s)
        || general.all_syscalls();
    syscalls_included
        && general
            .fields
            .iter()
            .filter(|f| f.id != id::FILTERKEY)
            .all(|cond| specific.fields.iter().any(|f| implies(f, cond)))
}

/// Whether two rules can match one event: they share a syscall and no pair of their conditions on the
/// same field contradicts (a number no value satisfies both conditions on, by the kernel's comparison; a
/// string, two different `=`). Anything else counts as overlap.
fn overlap(a: &Rule, b: &Rule) -> bool {
    let share_syscall = !a.uses_mask() || a.mask.iter().zip(&b.mask).any(|(x, y)| x & y != 0);
    share_syscall && !a.fields.iter().any(|x| b.fields.iter().any(|y| contradict(x, y)))
}

fn contradict(x: &Field, y: &Field) -> bool {
    if x.id != y.id || x.id == id::FILTERKEY {
        return false;
    }
    match (&x.value, &y.value) {
        (Value::Num(a), Value::Num(b)) if x.id == id::SUCCESS => ![true, false]
            .into_iter()
            .any(|ok| kernel::success_holds(x.op, *a, ok) && kernel::success_holds(y.op, *b, ok)),
        (Value::Num(a), Value::Num(b)) => !kernel::compatible((x.op, *a), (y.op, *b)),
        (Value::Str(a), Value::Str(b)) => x.op == Op::Eq && y.op == Op::Eq && a != b,
        _ => false,
    }
}

/// Whether condition `have` guarantees condition `want` (same field): every value that satisfies one
/// satisfies the other, by the kernel's comparison for that field.
fn implies(have: &Field, want: &Field) -> bool {
    if have.id != want.id {
        return false;
    }
    if have == want {
        return true;
    }
    let (Value::Num(a), Value::Num(b)) = (&have.value, &want.value) else { return false };
    match have.id {
        // `success` compares the outcome, not the value: try both outcomes.
        id::SUCCESS => [true, false]
            .into_iter()
            .all(|ok| !kernel::success_holds(have.op, *a, ok) || kernel::success_holds(want.op, *b, ok)),
        // The bit operators never match on ids (and the kernel refuses them there).
        f if kernel::is_id_field(f) && [have.op, want.op].iter().any(|op| matches!(op, Op::BitMask | Op::BitTest)) => {
            matches!(have.op, Op::BitMask | Op::BitTest)
        }
        _ => kernel::implies((have.op, *a), (want.op, *b)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::{augenrules, parse, parse::rule};

    fn source(text: &str) -> RuleSource {
        let (lines, errors) = parse::parse_file(Path::new("/r/audit.rules"), text);
        RuleSource { files: vec!["/r/audit.rules".into()], as_written: lines.clone(), lines, errors }
    }

    fn ids(report: &RulesReport) -> Vec<(&'static str, Option<String>)> {
        report.findings.iter().map(|f| (f.id, f.location.clone())).collect()
    }

    #[test]
    fn implication_of_numeric_conditions() {
        let c = |s: &str| rule(&format!("-a always,exit -S execve -F {s}")).fields[0].clone();
        assert!(implies(&c("auid>=1000"), &c("auid>=500")));
        assert!(!implies(&c("auid>=500"), &c("auid>=1000")));
        assert!(implies(&c("auid=1000"), &c("auid!=unset")));
        assert!(implies(&c("uid=0"), &c("uid<1")));
        assert!(!implies(&c("uid=0"), &c("euid=0")));
        // Bit operators, exactly (the old per-pair table knew none of them).
        assert!(implies(&c("a1&=0x41"), &c("a1&0x40")));
        assert!(implies(&c("a1&4"), &c("a1&6")));
        assert!(!implies(&c("a1&6"), &c("a1&4")));
        assert!(implies(&c("a2=0"), &c("a2&=0")));
        // success compares the outcome: any non-zero value means success.
        assert!(implies(&c("success=2"), &c("success=1")));
        assert!(implies(&c("success!=0"), &c("success=1")));
        assert!(!implies(&c("success=0"), &c("success=1")));
    }

    #[test]
    fn rules_on_disjoint_values_do_not_overlap() {
        let r = |text: &str| rule(&format!("-a always,exit -F arch=b64 -S execve {text}"));
        assert!(!overlap(&r("-F auid>=1000 -k users"), &r("-F auid<1000 -k system")));
        assert!(!overlap(&r("-F success=1"), &r("-F success=0")));
        assert!(!overlap(&r("-F success=2"), &r("-F success!=1")), "2 means success");
        assert!(overlap(&r("-F auid>=1000"), &r("-F auid!=unset")));
        assert!(overlap(&r("-F a0&1"), &r("-F a0&=3")));
        assert!(!overlap(&r("-F exe=/bin/a"), &r("-F exe=/bin/b")));
    }

    #[test]
    fn a_never_rule_on_a_bit_covers_the_rules_that_need_that_bit() {
        let never = rule("-a never,exit -F arch=b64 -S openat -F a2&0100");
        assert!(covers(&never, &rule("-a always,exit -F arch=b64 -S openat -F a2&=0101 -k creat")));
        assert!(!covers(&never, &rule("-a always,exit -F arch=b64 -S openat -F a2&0101 -k creat")));
    }

    #[test]
    fn never_rules_shadow_what_they_cover() {
        let never = rule("-a never,exit -F arch=b64 -S all -F auid=4294967295");
        assert!(covers(&never, &rule("-a always,exit -F arch=b64 -S execve -F auid=unset -k x")));
        assert!(!covers(&never, &rule("-a always,exit -F arch=b64 -S execve -F auid>=1000")));
        assert!(!covers(&never, &rule("-a always,exit -F arch=b32 -S execve -F auid=unset")));
        let narrow = rule("-a never,exit -F arch=b64 -S openat");
        assert!(!covers(&narrow, &rule("-a always,exit -F arch=b64 -S openat,open")));
    }

    #[test]
    fn a_crlf_file_is_named_as_such() {
        let src = source("-w /etc/hosts -p wa -k hosts\r\n-w /etc/passwd -p wa\r\n");
        let report = compare(&src, &[]);
        let crlf = report.findings.iter().find(|f| f.id == "carriage_return_in_key").expect("a finding");
        assert!(crlf.message.contains(r#""hosts\r""#), "{}", crlf.message);
        let syntax = report.findings.iter().find(|f| f.id == "syntax_error").expect("-p wa\\r is refused");
        assert!(syntax.message.contains("carriage return"), "{}", syntax.message);
    }

    #[test]
    fn a_load_the_kernel_cut_short_names_the_refused_rule() {
        let src = source("-w /etc/hosts -p wa -k a\n-w /nonexistent/x -p wa -k b\n-w /etc/passwd -p wa -k c\n");
        let loaded = [src.lines[0].command.clone()].map(|c| match c {
            Command::Add { rule, .. } => rule,
            _ => unreachable!(),
        });
        let report = compare(&src, &loaded);
        let not_loaded: Vec<_> = report.findings.iter().filter(|f| f.id == "not_loaded").collect();
        assert_eq!(not_loaded.len(), 2);
        assert!(not_loaded[0].message.contains("the kernel refused it"), "{}", not_loaded[0].message);
        assert!(not_loaded[0].location.as_deref().is_some_and(|l| l.ends_with(":2")));
        assert!(not_loaded[1].message.contains("the load stops at") && not_loaded[1].message.contains(":2"));
        let none_loaded = compare(&src, &[]);
        assert!(none_loaded.findings.iter().all(|f| !f.message.contains("the kernel refused it (")));
    }

    #[test]
    fn an_empty_kernel_misses_every_rule_and_says_why() {
        let s = source(
            "-D\n-w /etc/passwd -p wa -k identity\n-a always,exit -F arch=b64 -S bogus\n-a always,exit -F arch=b64 -S execve\n-e 2\n",
        );
        let report = compare(&s, &[]);
        assert_eq!(report.expected, 2);
        let not_loaded: Vec<_> = report.findings.iter().filter(|f| f.id == "not_loaded").collect();
        assert_eq!(not_loaded.len(), 2);
        assert!(not_loaded[1].message.contains("/r/audit.rules:3"), "{:?}", not_loaded[1]);
        assert!(ids(&report).contains(&("syntax_error", Some("/r/audit.rules:3".into()))));
    }

    #[test]
    fn identical_sides_have_no_findings_but_mutability() {
        let text =
            "-D\n-b 8192\n-a always,exit -F arch=b64 -S execve -F auid>=1000 -k exec\n-w /etc/hosts -p wa\n-e 2\n";
        let s = source(text);
        let loaded: Vec<Rule> = s
            .lines
            .iter()
            .filter_map(|l| match &l.command {
                Command::Add { rule, .. } => Some(rule.clone()),
                _ => None,
            })
            .collect();
        let report = compare(&s, &loaded);
        assert_eq!((report.expected, report.loaded, report.matched), (2, 2, 2));
        assert!(report.findings.is_empty(), "{:?}", report.findings);
    }

    #[test]
    fn extra_reordered_duplicate_shadowed_and_settings() {
        let text = "-a always,exit -F arch=b64 -S execve -k a\n\
                    -a always,exit -F arch=b64 -S execve -k b\n\
                    -a always,exit -F arch=b64 -S execve -k a\n\
                    -c\n\
                    -a never,exit -F arch=b64 -S openat\n\
                    -a always,exit -F arch=b64 -S openat -F auid>=1000 -k opens\n\
                    -e 2\n\
                    -w /etc/hosts -p wa\n";
        let s = source(text);
        let a = rule("-a always,exit -F arch=b64 -S execve -k a");
        let b = rule("-a always,exit -F arch=b64 -S execve -k b");
        let extra = rule("-a always,exit -F arch=b64 -S uname -k extra");
        let report = compare(&s, &[b, a, extra]);
        let found = ids(&report);
        assert!(found.contains(&("duplicate", Some("/r/audit.rules:3".into()))), "{found:?}");
        assert!(found.contains(&("loaded_not_in_files", Some("kernel exit list, position 3".into()))), "{found:?}");
        assert!(found.contains(&("order_changed", Some("/r/audit.rules:1".into()))), "{found:?}");
        assert!(found.contains(&("shadowed", Some("/r/audit.rules:6".into()))), "{found:?}");
        assert!(found.contains(&("errors_hidden", Some("/r/audit.rules:4".into()))), "{found:?}");
        assert!(found.contains(&("immutable_not_last", Some("/r/audit.rules:7".into()))), "{found:?}");
        let order = report.findings.iter().find(|f| f.id == "order_changed").unwrap();
        assert_eq!(order.severity, Severity::High, "same events, different keys");
    }

    #[test]
    fn a_directory_under_augenrules_semantics() {
        let dir = std::env::temp_dir().join(format!("av-diff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("10-base.rules"), "-D\n-b 8192\n").unwrap();
        std::fs::write(dir.join("20-x.rules"), "-a always,exit -F arch=b64 -S execve -k x\n").unwrap();
        std::fs::write(dir.join("99-finalize.rules"), "-e 2\n").unwrap();
        let s = augenrules::from_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let report = compare(&s, &[rule("-a always,exit -F arch=b64 -S execve -k x")]);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
    }

    #[test]
    fn structured_results_say_per_rule_what_the_findings_say() {
        let text = "-a never,exit -F arch=b64 -S openat\n\
                    -a always,exit -F arch=b64 -S openat -F auid>=1000 -k opens\n\
                    -a always,exit -F arch=b64 -S execve -k exec\n";
        let s = source(text);
        let never = rule("-a never,exit -F arch=b64 -S openat");
        let opens = rule("-a always,exit -F arch=b64 -S openat -F auid>=1000 -k opens");
        let extra = rule("-a always,exit -F arch=b64 -S uname -k extra");
        let report = compare(&s, &[opens, extra, never]);
        let at = |line| Location { file: std::sync::Arc::new("/r/audit.rules".into()), line };
        let states: Vec<_> =
            report.expected_rules.iter().map(|e| (e.location.line, e.loaded.clone(), e.shadowed_by.clone())).collect();
        // The last rule in load order is missing: the kernel refused it and the load stopped there.
        let why = "the kernel refused it (a path or user that does not exist here, say), and `auditctl -R` stops \
                   at the first error: the 0 rules after it were not loaded either"
            .to_owned();
        assert_eq!(
            states,
            [(1, Loaded::At(2), None), (2, Loaded::At(0), Some(at(1))), (3, Loaded::No { why: why.clone() }, None)]
        );
        assert_eq!(report.loaded_from, [Some(at(2)), None, Some(at(1))]);
        let message = |id| report.findings.iter().find(|f| f.id == id).map(|f| f.message.clone());
        assert_eq!(message("shadowed"), Some(ExpectedRule::shadowed_message(&at(1))));
        assert_eq!(message("not_loaded"), Some(ExpectedRule::not_loaded_message(&why)));
    }
}
