//! `cargo xtask vm-test`: the scenarios this host's kernel cannot run (kprobes, fentry, a BPF program of
//! someone else's on the audit path, `-e 2`), in a throw-away QEMU guest running Debian's cloud kernel.
//!
//! The guest is an initramfs: busybox, audit-verify and the `hold_kprobe` example, auditd, auditctl,
//! augenrules and their libraries (from `ldd`), this host's /etc/audit, `vm/` (init and scenarios) and
//! `vagrant/provision.sh` (the same provisioning the Vagrant boxes run). `/init` runs the scenarios and
//! prints one `VMTEST <n> <name> PASS|FAIL|SKIP: <detail>` line per scenario on the serial console, then
//! powers off. The kernel package is downloaded once through apt and cached under target/vm/.

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

/// Debian's cloud kernel metapackage: it depends on the versioned image package we download.
const KERNEL_METAPACKAGE: &str = "linux-image-cloud-amd64";
/// What the harness needs on the host (Debian package names).
/// `vagrant` only validates vagrant/Vagrantfile: no provider runs here.
const PACKAGES: &[&str] = &["qemu-system-x86", "busybox-static", "cpio", "jq", "auditd", "vagrant"];
/// Host programs copied into the guest, with their libraries.
const GUEST_PROGRAMS: &[&str] = &["auditd", "auditctl", "augenrules", "jq"];

pub struct Options {
    /// Whole-run bound, boot included.
    pub timeout: Duration,
}

pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    install_packages()?;
    let work = root.join("target/vm");
    fs::create_dir_all(&work)?;
    let kernel = kernel(&work)?;
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
    eprintln!("vm-test: prepared in {:.1} s; booting {}", started.elapsed().as_secs_f64(), kernel.display());
    let log = work.join("serial.log");
    let results = boot(&kernel, &initrd, &log, options.timeout)?;
    eprintln!("vm-test: took {:.1} s (serial log: {})", started.elapsed().as_secs_f64(), log.display());
    // Alone on its line, in the plain form CI reads as a verdict.
    eprintln!("vm-test: {}", summary(&results));
    let failed: Vec<&Scenario> = results.scenarios.iter().filter(|s| s.verdict == "FAIL").collect();
    if !results.done {
        bail!(
            "the guest did not finish its scenarios (timeout {} s or crash); see {}",
            options.timeout.as_secs(),
            log.display()
        );
    }
    // Every scenario must report: one that aborted part-way must not pass by its absence.
    let missing: Vec<&str> =
        EXPECTED_SCENARIOS.iter().copied().filter(|id| !results.scenarios.iter().any(|s| s.name == *id)).collect();
    if !missing.is_empty() {
        bail!("scenarios that did not report: {}; see {}", missing.join(", "), log.display());
    }
    if !failed.is_empty() {
        bail!(
            "{} scenario(s) failed: {}",
            failed.len(),
            failed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
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

/// The versioned image package the metapackage depends on, e.g. `linux-image-6.1.0-56-cloud-amd64`.
fn kernel_package() -> anyhow::Result<String> {
    let find = || -> anyhow::Result<Option<String>> {
        let out = run_ok(Command::new("apt-cache").args(["depends", KERNEL_METAPACKAGE]))?;
        Ok(out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .map(str::trim)
            .find(|p| p.starts_with("linux-image-") && p.ends_with("-cloud-amd64"))
            .map(str::to_owned))
    };
    if let Ok(Some(p)) = find() {
        return Ok(p);
    }
    run_ok(Command::new("apt-get").args(["update", "-q"]))?;
    find()?.with_context(|| format!("apt knows no image package behind {KERNEL_METAPACKAGE}"))
}

/// Downloads and unpacks the cloud kernel once; reruns reuse target/vm/kernel/<package>/.
fn kernel(work: &Path) -> anyhow::Result<PathBuf> {
    let package = kernel_package()?;
    let dir = work.join("kernel").join(&package);
    let find = |dir: &Path| -> Option<PathBuf> {
        fs::read_dir(dir.join("boot"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-")))
    };
    if let Some(vmlinuz) = find(&dir) {
        return Ok(vmlinuz);
    }
    eprintln!("vm-test: downloading {package} through apt");
    let download = work.join("kernel/download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download)?;
    run_ok(Command::new("apt-get").args(["download", "-q", &package]).current_dir(&download))?;
    let deb = fs::read_dir(&download)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let unpack = work.join("kernel/unpack");
    let _ = fs::remove_dir_all(&unpack);
    run_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpack))?;
    check_config(&unpack)?;
    fs::rename(&unpack, &dir)?;
    let _ = fs::remove_dir_all(&download);
    find(&dir).context("no boot/vmlinuz-* in the kernel package")
}

/// The guest loads no modules: what the scenarios need must be built in.
fn check_config(unpacked: &Path) -> anyhow::Result<()> {
    let config = fs::read_dir(unpacked.join("boot"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("config-")))
        .context("no boot/config-* in the kernel package")?;
    let text = fs::read_to_string(&config)?;
    let needed = [
        "CONFIG_AUDIT",
        "CONFIG_AUDITSYSCALL",
        "CONFIG_BPF_SYSCALL",
        "CONFIG_KPROBES",
        "CONFIG_KPROBE_EVENTS",
        "CONFIG_DEBUG_INFO_BTF",
        "CONFIG_SERIAL_8250_CONSOLE",
        "CONFIG_BLK_DEV_INITRD",
        "CONFIG_RD_GZIP",
        "CONFIG_DEVTMPFS",
        "CONFIG_TMPFS",
    ];
    let missing: Vec<&str> = needed.iter().copied().filter(|c| !text.lines().any(|l| l == format!("{c}=y"))).collect();
    if !missing.is_empty() {
        bail!("{} lacks, built in: {}", config.display(), missing.join(" "));
    }
    Ok(())
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

#[derive(Debug)]
struct Scenario {
    name: String,
    verdict: String,
    detail: String,
}

#[derive(Debug, Default)]
struct Results {
    scenarios: Vec<Scenario>,
    done: bool,
}

fn summary(r: &Results) -> String {
    let count = |v: &str| r.scenarios.iter().filter(|s| s.verdict == v).count();
    format!("{} passed, {} failed, {} skipped", count("PASS"), count("FAIL"), count("SKIP"))
}

/// `VMTEST <n> <name> <PASS|FAIL|SKIP>: <detail>`
fn parse_line(line: &str) -> Option<Scenario> {
    let rest = line.trim().strip_prefix("VMTEST ")?;
    let (head, detail) = rest.split_once(": ").unwrap_or((rest, ""));
    let mut words = head.split_whitespace();
    let (n, name, verdict) = (words.next()?, words.next()?, words.next()?);
    ["PASS", "FAIL", "SKIP"].contains(&verdict).then(|| Scenario {
        name: format!("{n}-{name}"),
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
                    eprintln!("vm-test: {} {}: {}", s.name, s.verdict, s.detail);
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
            (s.name.as_str(), s.verdict.as_str(), s.detail.as_str()),
            ("3-backlog", "PASS", "drops 120 = lost delta 120")
        );
        assert!(parse_line("VMTEST 3 backlog MAYBE: x").is_none());
        assert!(parse_line("[    1.0] random kernel line").is_none());
        assert_eq!(parse_line("\rVMTEST 5 prove SKIP: no prove").unwrap().verdict, "SKIP");
    }
}
