//! `cargo xtask vm-test`: the scenarios this host's kernel cannot run (kprobes, fentry, a BPF program of
//! someone else's on the audit path, `-e 2`), in throw-away QEMU guests, one per kernel of the matrix
//! ([`kernels::SUITES`]: Debian's cloud kernels from bullseye to sid).
//!
//! The guest is an initramfs, the same for every kernel: busybox, audit-verify and the `hold_kprobe`
//! example, auditd, auditctl, augenrules and their libraries (from `ldd`), this host's /etc/audit, `vm/`
//! (init and scenarios) and `vagrant/provision.sh` (the same provisioning the Vagrant boxes run). `/init`
//! runs the scenarios and prints one `VMTEST <n> <name> PASS|FAIL|SKIP: <detail>` line per scenario on the
//! serial console, then powers off. The host reports them as `VMTEST <kernel> <n> <name> ...` and fails
//! when any scenario fails, or does not report, on any kernel.

mod kernels;

use std::{
    collections::BTreeSet,
    fs,
    io::{BufRead as _, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

/// What the harness needs on the host (Debian package names).
/// `vagrant` only validates vagrant/Vagrantfile: no provider runs here.
const PACKAGES: &[&str] = &["qemu-system-x86", "busybox-static", "cpio", "jq", "auditd", "vagrant"];
/// Host programs copied into the guest, with their libraries.
const GUEST_PROGRAMS: &[&str] = &["auditd", "auditctl", "augenrules", "jq"];

pub struct Options {
    /// Bound on each guest's run, boot included.
    pub timeout: Duration,
    /// Suites of the matrix to boot (all when empty).
    pub suites: Vec<String>,
}

pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    install_packages()?;
    let suites = kernels::select(&options.suites)?;
    let work = root.join("target/vm");
    fs::create_dir_all(&work)?;
    let kernels = suites.iter().map(|s| kernels::fetch(&work, s)).collect::<anyhow::Result<Vec<_>>>()?;
    crate::cargo(&[
        "build",
        "--release",
        "--package",
        "audit-verify",
        "--bin",
        "audit-verify",
        "--example",
        "hold_kprobe",
    ])?;
    // After the build: the Vagrantfile uploads target/release/audit-verify, and validation checks it exists.
    validate_vagrantfile(root)?;
    let initrd = initramfs(root, &work)?;
    eprintln!("vm-test: prepared in {:.1} s", started.elapsed().as_secs_f64());
    let mut runs = Vec::new();
    for kernel in &kernels {
        let booted = Instant::now();
        eprintln!("vm-test: booting {} ({}, {})", kernel.package, kernel.suite, kernel.vmlinuz.display());
        let log = work.join(format!("serial-{}.log", kernel.suite));
        let results = boot(&kernel.vmlinuz, &initrd, &log, options.timeout)?;
        eprintln!(
            "vm-test: {} took {:.1} s (serial log: {})",
            kernel.suite,
            booted.elapsed().as_secs_f64(),
            log.display()
        );
        runs.push(KernelRun { kernel: kernel.package.clone(), log, results });
    }
    eprintln!("vm-test: took {:.1} s", started.elapsed().as_secs_f64());
    for r in &runs {
        for s in &r.results.scenarios {
            eprintln!("VMTEST {} {} {} {}: {}", r.kernel, s.n, s.name, s.verdict, s.detail);
        }
    }
    for r in &runs {
        eprintln!("vm-test: {}: {}", r.kernel, summary(&r.results.scenarios));
    }
    // Alone on its line, in the plain form CI reads as a verdict: every kernel's scenarios together.
    let all: Vec<Scenario> = runs.iter().flat_map(|r| r.results.scenarios.iter().cloned()).collect();
    eprintln!("vm-test: {}", summary(&all));
    let problems: Vec<String> = runs.iter().filter_map(KernelRun::problem).collect();
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// One kernel's boot and what its guest reported.
struct KernelRun {
    kernel: String,
    log: PathBuf,
    results: Results,
}

impl KernelRun {
    /// Why this kernel's run fails the matrix, if it does.
    fn problem(&self) -> Option<String> {
        let (kernel, log) = (&self.kernel, self.log.display());
        if !self.results.done {
            return Some(format!("{kernel}: the guest did not finish its scenarios (timeout or crash); see {log}"));
        }
        // Every scenario must report: one that aborted part-way must not pass by its absence.
        let missing: Vec<&str> = EXPECTED_SCENARIOS
            .iter()
            .copied()
            .filter(|id| !self.results.scenarios.iter().any(|s| s.id() == *id))
            .collect();
        if !missing.is_empty() {
            return Some(format!("{kernel}: scenarios that did not report: {}; see {log}", missing.join(", ")));
        }
        let failed: Vec<String> =
            self.results.scenarios.iter().filter(|s| s.verdict == "FAIL").map(Scenario::id).collect();
        (!failed.is_empty()).then(|| format!("{kernel}: {} scenario(s) failed: {}", failed.len(), failed.join(", ")))
    }
}

/// `vagrant validate` without a provider (none can run on this machine): syntax, boxes, provisioners.
fn validate_vagrantfile(root: &Path) -> anyhow::Result<()> {
    let out = Command::new("vagrant")
        .args(["validate", "--ignore-provider"])
        .current_dir(root.join("vagrant"))
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .output()
        .context("running vagrant validate")?;
    if !out.status.success() {
        bail!(
            "vagrant validate failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("vm-test: vagrant/Vagrantfile validated (vagrant validate --ignore-provider)");
    Ok(())
}

fn install_packages() -> anyhow::Result<()> {
    crate::setup::install_missing("vm-test", PACKAGES)
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn which(program: &str) -> anyhow::Result<PathBuf> {
    let out = run_ok(Command::new("sh").args(["-c", &format!("command -v {program}")]))?;
    Ok(PathBuf::from(out.trim()))
}

/// Shared libraries `ldd` lists for `binary`, the dynamic loader included.
fn libraries(binary: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(binary).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// Copies `from` to `root` + `at` (an absolute guest path), creating directories.
fn put(root: &Path, at: &str, from: &Path) -> anyhow::Result<()> {
    let to = root.join(at.trim_start_matches('/'));
    fs::create_dir_all(to.parent().expect("absolute path"))?;
    fs::copy(from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn initramfs(root: &Path, work: &Path) -> anyhow::Result<PathBuf> {
    let tree = work.join("initramfs");
    let _ = fs::remove_dir_all(&tree);
    for dir in
        ["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "var/log/audit", "var/run", "etc"]
    {
        fs::create_dir_all(tree.join(dir))?;
    }
    put(&tree, "/bin/busybox", Path::new("/bin/busybox"))?;
    let release = root.join("target/release");
    let mut binaries = vec![
        ("/usr/bin/audit-verify".to_owned(), release.join("audit-verify")),
        ("/usr/bin/hold_kprobe".to_owned(), release.join("examples/hold_kprobe")),
    ];
    for program in GUEST_PROGRAMS {
        let host = which(program).with_context(|| format!("{program} is not installed"))?;
        binaries.push((format!("/sbin/{program}"), host));
    }
    let mut libs = BTreeSet::new();
    for (at, from) in &binaries {
        put(&tree, at, from)?;
        libs.extend(libraries(from)?);
    }
    for lib in libs {
        // Copy the file, not the symlink, under the name the loader looks for.
        put(&tree, &lib.to_string_lossy(), &fs::canonicalize(&lib)?)?;
    }
    copy_dir(Path::new("/etc/audit"), &tree.join("etc/audit"))?;
    fs::write(tree.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(tree.join("etc/group"), "root:x:0:\nadm:x:4:\n")?;
    copy_dir(&root.join("vm"), &tree.join("vm"))?;
    put(&tree, "/vm/provision.sh", &root.join("vagrant/provision.sh"))?;
    copy_dir(&root.join("vagrant/rules"), &tree.join("vm/rules"))?;
    put(&tree, "/init", &root.join("vm/init"))?;
    run_ok(Command::new("chmod").arg("-R").arg("a+rX,u+w").arg(&tree))?;
    run_ok(Command::new("chmod").arg("755").arg(tree.join("init")))?;
    let initrd = work.join("initrd.gz");
    let script = format!(
        "cd '{}' && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > '{}'",
        tree.display(),
        initrd.display()
    );
    run_ok(Command::new("sh").args(["-c", &script]))?;
    Ok(initrd)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()))?;
        } else if path.is_file() {
            fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Scenario {
    n: String,
    name: String,
    verdict: String,
    detail: String,
}

impl Scenario {
    /// `<n>-<name>`, as [`EXPECTED_SCENARIOS`] lists it.
    fn id(&self) -> String {
        format!("{}-{}", self.n, self.name)
    }
}

#[derive(Debug, Default)]
struct Results {
    scenarios: Vec<Scenario>,
    done: bool,
}

fn summary(scenarios: &[Scenario]) -> String {
    let count = |v: &str| scenarios.iter().filter(|s| s.verdict == v).count();
    format!("{} passed, {} failed, {} skipped", count("PASS"), count("FAIL"), count("SKIP"))
}

/// `VMTEST <n> <name> <PASS|FAIL|SKIP>: <detail>`
fn parse_line(line: &str) -> Option<Scenario> {
    let rest = line.trim().strip_prefix("VMTEST ")?;
    let (head, detail) = rest.split_once(": ").unwrap_or((rest, ""));
    let mut words = head.split_whitespace();
    let (n, name, verdict) = (words.next()?, words.next()?, words.next()?);
    ["PASS", "FAIL", "SKIP"].contains(&verdict).then(|| Scenario {
        n: n.to_owned(),
        name: name.to_owned(),
        verdict: verdict.to_owned(),
        detail: detail.to_owned(),
    })
}

/// The scenarios vm/scenarios.sh runs, by the name each reports.
const EXPECTED_SCENARIOS: [&str; 9] = [
    "1-status",
    "2-attach",
    "3-backlog",
    "4-tamper-perf-fd",
    "4b-tamper-bpf-link",
    "P-provision",
    "P2-provision-dir",
    "6-locked",
    "5-prove",
];

fn boot(kernel: &Path, initrd: &Path, log: &Path, timeout: Duration) -> anyhow::Result<Results> {
    // Before the guest starts: no error path below may leave qemu running.
    let mut file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-m", "1024", "-nographic", "-no-reboot", "-kernel"])
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut results = Results::default();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                // A log that cannot be written loses the copy, not the run.
                let _ = writeln!(file, "{line}");
                if let Some(s) = parse_line(&line) {
                    eprintln!("vm-test: {} {}: {}", s.id(), s.verdict, s.detail);
                    results.scenarios.push(s);
                } else if line.contains("VMTEST-DONE") {
                    results.done = true;
                } else if line.starts_with("vm: ") {
                    eprintln!("  {line}");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                eprintln!("vm-test: timeout after {} s, stopping the guest", timeout.as_secs());
                let _ = child.kill();
                break;
            }
        }
    }
    let _ = child.wait();
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_markers() {
        let s = parse_line("VMTEST 3 backlog PASS: drops 120 = lost delta 120").unwrap();
        assert_eq!(
            (s.id().as_str(), s.verdict.as_str(), s.detail.as_str()),
            ("3-backlog", "PASS", "drops 120 = lost delta 120")
        );
        assert!(parse_line("VMTEST 3 backlog MAYBE: x").is_none());
        assert!(parse_line("[    1.0] random kernel line").is_none());
        assert_eq!(parse_line("\rVMTEST 5 prove SKIP: no prove").unwrap().verdict, "SKIP");
    }

    fn run_of(lines: &[&str], done: bool) -> KernelRun {
        KernelRun {
            kernel: "linux-image-test".to_owned(),
            log: PathBuf::from("serial.log"),
            results: Results { scenarios: lines.iter().filter_map(|l| parse_line(l)).collect(), done },
        }
    }

    #[test]
    fn a_kernel_fails_the_matrix_by_a_failure_an_absence_or_an_unfinished_guest() {
        let all: Vec<String> = EXPECTED_SCENARIOS
            .iter()
            .map(|id| {
                let (n, name) = id.split_once('-').unwrap();
                format!("VMTEST {n} {name} PASS: ok")
            })
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(run_of(&all, true).problem(), None);
        // A skip is not a failure.
        let mut skipped = all.clone();
        skipped[8] = "VMTEST 5 prove SKIP: no prove";
        assert_eq!(run_of(&skipped, true).problem(), None);
        let mut failed = all.clone();
        failed[2] = "VMTEST 3 backlog FAIL: drops 1 != lost delta 2";
        assert_eq!(
            run_of(&failed, true).problem().as_deref(),
            Some("linux-image-test: 1 scenario(s) failed: 3-backlog")
        );
        assert!(run_of(&all[1..], true).problem().unwrap().contains("did not report: 1-status"));
        assert!(run_of(&all, false).problem().unwrap().contains("did not finish"));
    }
}
