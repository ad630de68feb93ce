//! auditctl as the oracle for our rules reader. Every rule line of the public rule sets in
//! `../shared/corpus/rules`, and generated variants of them (attached option values, aliases, quoting,
//! whitespace, CRLF, limits), is loaded alone with `auditctl -R` and read with our parser. Both must
//! accept or refuse it alike, and what the kernel holds afterwards must be what we parsed, in the kernel's
//! own form. A disagreement is either fixed or listed in `DOCUMENTED` with the reason.
//!
//! Lines that cannot be undone on a host (`-e 2`, `-f 2`, `--loginuid-immutable`) are never loaded; the
//! filter below is deliberately broader than the guard's own refusal.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs,
    path::Path,
};

use audit_verify::{
    guard::{Environment, GuardError, StateGuard},
    netlink::AuditSocket,
    rules::{
        self,
        parse::{self, Command},
    },
};

/// How one line fared with one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Accepted; for a rule, the kernel form (canonical rule, rendered).
    Accepted(Option<String>),
    /// auditctl itself refused the line (syntax or vocabulary).
    Refused(String),
    /// auditctl accepted it, the kernel refused it (a path that does not exist, say). A reader that
    /// accepts such a line is right: the diff reports it as not loaded.
    KernelRefused(String),
}

/// Disagreements that are deliberate, with the reason. Keyed by the line's text.
const DOCUMENTED: &[(&str, &str)] = &[];

/// Every distinct rule or setting line of the corpus, with the first place it was seen.
fn corpus_lines() -> BTreeMap<String, String> {
    let files = common::corpus_files("rules");
    let mut lines = BTreeMap::new();
    for file in files {
        let text = String::from_utf8_lossy(&fs::read(&file).unwrap()).into_owned();
        for (i, line) in text.split('\n').enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || common::irreversible(line) {
                continue;
            }
            lines.entry(line.to_owned()).or_insert_with(|| format!("{}:{}", file.display(), i + 1));
        }
    }
    lines
}

/// Variants of real lines in the forms auditctl's getopt and line reader accept or refuse.
fn generated_lines() -> Vec<String> {
    [
        // Option values attached the getopt way.
        "-a always,exit -F arch=b64 -Sexecve -kexec_attached",
        "-a always,exit -F arch=b64 -S execve -Fauid>=1000 -F auid!=unset -k attached_field",
        "-a always,exit -F arch=b64 -S execve -Fkey=attached_key",
        "-aalways,exit -Farch=b64 -Sopenat -kall_attached",
        // Record-type names in exclude rules.
        "-a always,exclude -F msgtype=CRYPTO_KEY_USER",
        "-a always,exclude -F msgtype=USER_START",
        "-a always,exclude -F msgtype=CRED_DISP",
        "-a always,exclude -F msgtype=SERVICE_START",
        "-a always,exclude -F msgtype=USER_CMD",
        // -p after -F path= on an -a rule becomes perm=.
        "-a always,exit -F path=/etc/shadow -p wa -k shadow_perm",
        "-a always,exit -F dir=/etc/ssh -p w -k ssh_perm",
        // libaudit's syscall names and aliases.
        "-a always,exit -F arch=b64 -S pread -k pread_alias",
        "-a always,exit -F arch=b64 -S pwrite -k pwrite_alias",
        "-a always,exit -F arch=b64 -S pread64 -k pread64_b64",
        "-a always,exit -F arch=b64 -S sys_execve -k sys_prefix",
        "-a always,exit -F arch=b32 -S pread64 -k pread64_b32",
        // Keys: empty, quoted, long.
        "-a always,exit -F arch=b64 -S chmod -F key=",
        "-a always,exit -F arch=b64 -S chmod -k \"quoted\"",
        "-a always,exit -F arch=b64 -S chmod -k 'single'",
        // Whitespace.
        "-a always,exit\t-F arch=b64 -S execve -k tab",
        "-a always,exit  -F arch=b64   -S execve -k spaces",
        " -a always,exit -F arch=b64 -S execve -k leading_space",
        "-a always,exit -F arch=b64 -S execve -k trailing_space ",
        // CRLF: auditctl keeps the \r in the last word.
        "-a always,exit -F arch=b64 -S execve -k crlf\r",
        "-w /etc/passwd -p wa -k crlf_watch\r",
        // Watches.
        "-w /etc/passwd -p wa",
        "-w /etc/passwd",
        "-w /etc/sudoers.d/ -p wa -k sudoers_dir",
        // Settings.
        "-b 8192",
        "-b8192",
        "-r 0",
        "--backlog_wait_time 60000",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(std::iter::once(too_many_fields()))
    .collect()
}

/// One field more than the kernel's `AUDIT_MAX_FIELDS` (64).
fn too_many_fields() -> String {
    let mut line = "-a always,exit -F arch=b64 -S execve".to_owned();
    for i in 0..64 {
        write!(line, " -F a0!={i}").unwrap();
    }
    line
}

fn ours(line: &str) -> Verdict {
    let (lines, errors) = parse::parse_file(Path::new("oracle.rules"), line);
    if let Some(e) = errors.first() {
        return Verdict::Refused(e.message.clone());
    }
    match lines.first().map(|l| &l.command) {
        Some(Command::Add { rule, .. }) => Verdict::Accepted(Some(rule.canonical().to_string())),
        Some(_) => Verdict::Accepted(None),
        None => Verdict::Refused("no command".into()),
    }
}

fn theirs(guard: &mut StateGuard, socket: &mut AuditSocket, line: &str, scratch: &Path) -> Verdict {
    guard.run_auditctl(&["-D"]).unwrap();
    fs::write(scratch, format!("{line}\n")).unwrap();
    match guard.run_auditctl(&["-R", scratch.to_str().unwrap()]) {
        Ok(_) => {
            let (loaded, undecodable) = rules::loaded(socket).unwrap();
            assert!(undecodable.is_empty(), "{line:?}: {undecodable:?}");
            // Our reading of the kernel's rule, printed, is what `auditctl -l` prints.
            // Two deliberate differences, both newer auditctl's spelling: an unset id prints as `unset`
            // (auditctl 3.0.9 prints -1), and a path rule on every syscall has no `-S all`.
            let printed: Vec<String> = loaded.iter().map(ToString::to_string).collect();
            let spelled = |r: &str| r.replace("=-1", "=unset").replace(" -S all", "").replace('\r', "");
            let theirs: Vec<String> = common::auditctl_rules().iter().map(|r| spelled(r)).collect();
            let ours: Vec<String> = printed.iter().map(|r| spelled(r)).collect();
            assert_eq!(ours, theirs, "{line:?}: printed unlike `auditctl -l`");
            Verdict::Accepted(loaded.first().map(|r| r.canonical().to_string()))
        }
        Err(GuardError::Command { detail, .. }) if detail.contains("Error sending") => Verdict::KernelRefused(detail),
        Err(GuardError::Command { detail, .. }) => Verdict::Refused(detail),
        Err(e) => panic!("{line:?}: {e}"),
    }
}

/// Whether our verdict agrees with auditctl's.
fn agree(ours: &Verdict, theirs: &Verdict) -> bool {
    match (ours, theirs) {
        (Verdict::Accepted(a), Verdict::Accepted(b)) => a.is_none() || b.is_none() || a == b,
        (Verdict::Accepted(_), Verdict::KernelRefused(_)) | (Verdict::Refused(_), Verdict::Refused(_)) => true,
        _ => false,
    }
}

#[test]
fn our_rules_reader_agrees_with_auditctl() {
    let mut guard = StateGuard::new(Environment::Host).unwrap();
    let mut socket = AuditSocket::open().unwrap();
    let scratch = common::Scratch::named("oracle.rules");
    let mut cases: Vec<(String, String)> = corpus_lines().into_iter().collect();
    cases.extend(generated_lines().into_iter().map(|l| (l, "generated".to_owned())));
    let documented: BTreeMap<&str, &str> = DOCUMENTED.iter().copied().collect();
    let (mut agreed, mut disagreements, mut explained) = (0, Vec::new(), BTreeSet::new());
    for (line, at) in &cases {
        let (o, t) = (ours(line), theirs(&mut guard, &mut socket, line, &scratch.0));
        if agree(&o, &t) {
            agreed += 1;
        } else if documented.contains_key(line.as_str()) {
            explained.insert(line.as_str());
        } else {
            disagreements.push(format!("{at}: {line:?}\n    ours:     {o:?}\n    auditctl: {t:?}"));
        }
    }
    drop(scratch);
    guard.restore().unwrap();
    eprintln!("{} lines: {agreed} agree, {} documented differences", cases.len(), explained.len());
    let stale: Vec<_> = documented.keys().filter(|l| !explained.contains(*l)).collect();
    assert!(stale.is_empty(), "documented differences that no longer differ: {stale:?}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements with auditctl:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Our syscall vocabulary for `-S` is libaudit's: the same names and numbers as `ausyscall --dump`.
#[test]
fn syscall_names_agree_with_ausyscall() {
    use audit_verify::syscalls::{self, Abi};
    for (abi, arch) in [(Abi::B64, "x86_64"), (Abi::B32, "i386")] {
        let out = std::process::Command::new("ausyscall").args([arch, "--dump"]).output().expect("ausyscall (auditd)");
        assert!(out.status.success(), "ausyscall {arch} --dump");
        let theirs: BTreeSet<(u32, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (nr, name) = l.split_once('\t')?;
                Some((nr.parse().ok()?, name.to_owned()))
            })
            .collect();
        let ours: BTreeSet<(u32, String)> = syscalls::auditctl_names(abi).map(|(n, nr)| (nr, n.to_owned())).collect();
        assert!(theirs.len() > 300, "{arch}: {} names", theirs.len());
        let only_theirs: Vec<_> = theirs.difference(&ours).collect();
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        assert!(
            only_theirs.is_empty() && only_ours.is_empty(),
            "{arch}: libaudit only {only_theirs:?}, ours only {only_ours:?}"
        );
        for (nr, name) in &theirs {
            assert_eq!(syscalls::auditctl_number(abi, name), Some(*nr), "{arch} {name}");
        }
    }
}

/// augenrules itself, run in a private mount namespace over a tmpfs /etc/audit (the host's stays
/// untouched): what it compiles from `dir`, one line a rule or setting.
fn augenrules_compiles(dir: &Path) -> Vec<String> {
    let script = format!(
        "mount -t tmpfs tmpfs /etc/audit && mkdir /etc/audit/rules.d && cp -a {}/. /etc/audit/rules.d/ && \
         augenrules >/dev/null && cat /etc/audit/audit.rules",
        dir.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux)");
    assert!(out.status.success(), "augenrules on {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_matches(' ').to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Our load order, and the text of the lines we could not parse (augenrules moves text, parsed or not).
fn our_order(dir: &Path) -> (Vec<String>, BTreeSet<String>) {
    // The one loader; augenrules here sees no audit.rules beside rules.d, and neither must we.
    assert!(!dir.parent().unwrap().join("audit.rules").exists(), "an audit.rules beside {}", dir.display());
    let source = rules::augenrules::RulesInput::Dir(dir.to_owned()).load().unwrap();
    let unparsed = source
        .errors
        .iter()
        .map(|e| {
            let text = fs::read_to_string(&*e.location.file).unwrap();
            text.split('\n').nth(e.location.line - 1).unwrap().trim_matches(' ').to_owned()
        })
        .collect();
    (source.lines.iter().map(|l| l.text.trim_matches(' ').to_owned()).collect(), unparsed)
}

fn assert_same_order(dir: &Path, what: &str) {
    let (ours, unparsed) = our_order(dir);
    let theirs: Vec<String> = augenrules_compiles(dir).into_iter().filter(|l| !unparsed.contains(l)).collect();
    assert_eq!(ours, theirs, "{what}");
}

/// The order of files (`ls -1v`) and of the lines augenrules moves, on the upstream rules directory and
/// on generated names and lines. Nothing is loaded.
#[test]
fn augenrules_order_agrees_with_augenrules() {
    let upstream = common::corpus("rules").join("audit-userspace/rules");
    assert_same_order(&upstream, "upstream rules directory");

    let scratch = common::Scratch::named("augenrules");
    let dir = scratch.0.clone();
    fs::create_dir_all(&dir).unwrap();
    let names = [
        "30-ospp-v42-1-create-failed.rules",
        "30-ospp-v42.rules",
        "100-late.rules",
        "9-early.rules",
        "10-base.rules",
        "10a.rules",
        "010-zero.rules",
        "1.10.rules",
        "1.9.rules",
        "a~b.rules",
        "ab.rules",
        "A.rules",
        "_x.rules",
        "99-finalize.rules",
        ".hidden.rules",
        "notes.rules.bak",
        "v1.2.3-rc1.rules",
        "v1.2.3.rules",
    ];
    for (i, name) in names.iter().enumerate() {
        fs::write(dir.join(name), format!("-a always,exit -F arch=b64 -S execve -k f{i}\n")).unwrap();
    }
    fs::write(
        dir.join("50-settings.rules"),
        "-D\n-b 100\n  -f 1\n-b 320 -e 1\n-D -k old\n-e 1\n-a always,exit -F arch=b64 -S openat -k s\n-b 200\n",
    )
    .unwrap();
    assert_same_order(&dir, "generated names and lines");
}
