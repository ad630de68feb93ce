//! The kernel matrix: which Debian kernels the VM harness boots, and fetching each one.
//!
//! Every suite is read through a private apt configuration under target/vm/apt/<suite>/ (its own
//! sources.list, state and cache directories), so the host's apt sources are never touched and a suite the
//! host does not follow (bullseye on a bookworm host, trixie, sid) can still be downloaded from. The image
//! package is the one `linux-image-cloud-amd64` depends on in that suite: the newest cloud kernel it has.
//! Each is downloaded and unpacked once, into target/vm/kernel/<package>/.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context as _, bail};

use super::run_ok;

/// Debian's cloud kernel metapackage: it depends on the versioned image package we download.
const KERNEL_METAPACKAGE: &str = "linux-image-cloud-amd64";
/// Verifies every suite below (bookworm's keyring carries the bullseye, trixie and sid keys).
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Package lists younger than this are reused: a new kernel in a suite is picked up within a day.
const LISTS_FRESH_FOR: Duration = Duration::from_secs(24 * 3600);

/// One Debian suite whose cloud kernel the scenarios run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub name: &'static str,
    /// Archive paths and suites its kernels come from: point-release kernels land in the suite, stable
    /// kernel updates in its `-security` suite, so both are read and apt picks the newest.
    sources: &'static [(&'static str, &'static str)],
}

const DEBIAN: &str = "http://deb.debian.org/debian";
const SECURITY: &str = "http://deb.debian.org/debian-security";

/// The matrix, oldest first. bullseye (5.10) is the oldest kernel still in Debian's archive with BTF and
/// fentry; sid carries the newest kernel the archive has.
pub const SUITES: &[Suite] = &[
    Suite { name: "bullseye", sources: &[(DEBIAN, "bullseye"), (SECURITY, "bullseye-security")] },
    Suite { name: "bookworm", sources: &[(DEBIAN, "bookworm"), (SECURITY, "bookworm-security")] },
    Suite { name: "trixie", sources: &[(DEBIAN, "trixie"), (SECURITY, "trixie-security")] },
    Suite { name: "sid", sources: &[(DEBIAN, "sid")] },
];

/// The suites named `names` (all of them when empty), in matrix order.
pub fn select(names: &[String]) -> anyhow::Result<Vec<Suite>> {
    if let Some(unknown) = names.iter().find(|n| !SUITES.iter().any(|s| s.name == n.as_str())) {
        let known: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
        bail!("unknown suite {unknown:?}; the matrix has {}", known.join(", "));
    }
    Ok(SUITES.iter().copied().filter(|s| names.is_empty() || names.iter().any(|n| n == s.name)).collect())
}

/// A kernel ready to boot.
#[derive(Debug)]
pub struct Kernel {
    pub suite: &'static str,
    /// The image package, e.g. `linux-image-6.1.0-57-cloud-amd64`.
    pub package: String,
    pub vmlinuz: PathBuf,
}

/// apt's configuration for one suite, every directory it writes under `dir`.
struct PrivateApt {
    dir: PathBuf,
}

impl PrivateApt {
    fn new(work: &Path, suite: &Suite) -> anyhow::Result<Self> {
        let dir = work.join("apt").join(suite.name);
        for sub in ["state/lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        fs::write(dir.join("sources.list"), sources_list(suite))?;
        Ok(Self { dir })
    }

    /// `program` (apt-get or apt-cache) reading only this configuration.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let d = &self.dir;
        cmd.arg("-q")
            .arg(format!("-oDir::Etc::SourceList={}", d.join("sources.list").display()))
            .arg("-oDir::Etc::SourceParts=/dev/null")
            .arg(format!("-oDir::State={}", d.join("state").display()))
            // The host's installed packages play no part in what we download.
            .arg("-oDir::State::status=/dev/null")
            .arg(format!("-oDir::Cache={}", d.join("cache").display()))
            .arg("-oAPT::Architecture=amd64")
            // appstream's hook would fetch several MB of DEP-11 metadata per suite, unused here.
            .arg("-oAcquire::IndexTargets::deb::DEP-11::DefaultEnabled=false");
        cmd
    }

    /// Fetches the suite's package lists unless they are fresh; stale lists serve when the archive is
    /// unreachable (an offline rerun boots the kernels it already has).
    fn update(&self) -> anyhow::Result<()> {
        let lists = self.dir.join("state/lists");
        let newest = fs::read_dir(&lists)?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
            .filter_map(|e| e.metadata().ok()?.modified().ok())
            .max();
        let age = newest.and_then(|t| SystemTime::now().duration_since(t).ok());
        if age.is_some_and(|a| a < LISTS_FRESH_FOR) {
            return Ok(());
        }
        match run_ok(self.command("apt-get").arg("update")) {
            Ok(_) => Ok(()),
            Err(e) if newest.is_some() => {
                eprintln!("vm-test: apt-get update failed, using the lists from before: {e:#}");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The versioned image package the metapackage depends on.
    fn image_package(&self) -> anyhow::Result<String> {
        let out = run_ok(self.command("apt-cache").args(["depends", KERNEL_METAPACKAGE]))?;
        image_dependency(&out).with_context(|| format!("no image package behind {KERNEL_METAPACKAGE}"))
    }
}

fn sources_list(suite: &Suite) -> String {
    suite.sources.iter().map(|(uri, name)| format!("deb [signed-by={KEYRING}] {uri} {name} main\n")).collect()
}

/// `linux-image-<version>-cloud-amd64` from `apt-cache depends` output (the metapackage also depends on
/// `linux-base-cloud-amd64` in newer suites).
fn image_dependency(depends: &str) -> Option<String> {
    depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-cloud-amd64"))
        .map(str::to_owned)
}

/// Downloads and unpacks the suite's cloud kernel once; reruns reuse target/vm/kernel/<package>/.
pub fn fetch(work: &Path, suite: &Suite) -> anyhow::Result<Kernel> {
    let apt = PrivateApt::new(work, suite)?;
    apt.update().with_context(|| format!("reading {}'s package lists", suite.name))?;
    let package = apt.image_package().with_context(|| format!("in {}", suite.name))?;
    let dir = work.join("kernel").join(&package);
    let kernel = |vmlinuz| Kernel { suite: suite.name, package: package.clone(), vmlinuz };
    if let Some(vmlinuz) = find_boot_file(&dir, "vmlinuz-") {
        return Ok(kernel(vmlinuz));
    }
    eprintln!("vm-test: downloading {package} ({}) through apt", suite.name);
    let download = work.join("kernel/download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download)?;
    run_ok(apt.command("apt-get").args(["download", &package]).current_dir(&download))?;
    let deb = fs::read_dir(&download)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let unpack = work.join("kernel/unpack");
    let _ = fs::remove_dir_all(&unpack);
    run_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpack))?;
    // The guest loads no modules and the initramfs has only what the scenarios need: drop the rest.
    let _ = fs::remove_dir_all(unpack.join("lib/modules"));
    let _ = fs::remove_dir_all(unpack.join("usr/lib/modules"));
    check_config(&unpack)?;
    fs::rename(&unpack, &dir)?;
    let _ = fs::remove_dir_all(&download);
    Ok(kernel(find_boot_file(&dir, "vmlinuz-").context("no boot/vmlinuz-* in the kernel package")?))
}

fn find_boot_file(unpacked: &Path, prefix: &str) -> Option<PathBuf> {
    fs::read_dir(unpacked.join("boot"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
}

/// The guest loads no modules: what the scenarios need must be built in.
fn check_config(unpacked: &Path) -> anyhow::Result<()> {
    let config = find_boot_file(unpacked, "config-").context("no boot/config-* in the kernel package")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_image_behind_the_metapackage() {
        // sid's form (a linux-base dependency first) and bullseye's (the ABI number in the name).
        let sid = "linux-image-cloud-amd64\n  Depends: linux-base-cloud-amd64\n  Depends: linux-image-7.2.13+deb14-cloud-amd64\n";
        assert_eq!(image_dependency(sid).as_deref(), Some("linux-image-7.2.13+deb14-cloud-amd64"));
        let bullseye = "linux-image-cloud-amd64\n  Depends: linux-image-5.10.0-35-cloud-amd64\n";
        assert_eq!(image_dependency(bullseye).as_deref(), Some("linux-image-5.10.0-35-cloud-amd64"));
        assert_eq!(image_dependency("linux-image-cloud-amd64\n"), None);
    }

    #[test]
    fn sources_name_the_suite_and_its_security_suite_only() {
        let bullseye = select(&["bullseye".to_owned()]).unwrap();
        assert_eq!(
            sources_list(&bullseye[0]),
            format!(
                "deb [signed-by={KEYRING}] {DEBIAN} bullseye main\ndeb [signed-by={KEYRING}] {SECURITY} bullseye-security main\n"
            )
        );
        assert_eq!(select(&[]).unwrap(), SUITES);
        assert!(select(&["jessie".to_owned()]).is_err());
    }
}
