//! The kernel matrix: which Debian kernels the VM harness boots, and fetching each one.
//!
//! Every suite is read through a private apt configuration under target/vm/apt/<suite>/ (its own
//! sources.list, state and cache directories), so the host's apt sources are never touched and a suite the
//! host does not follow (bullseye on a bookworm host, trixie, sid) can still be downloaded from. The image
//! package is the one `linux-image-cloud-amd64` depends on in that suite: the newest cloud kernel it has.
//! Each is downloaded once; its vmlinuz and config are kept in target/vm/kernel/<package>/.

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
const LISTS_FRESH_FOR: Duration = Duration::from_hours(24);

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
            // Files go to our own directories, which apt's unprivileged `_apt` user cannot always reach.
            .arg("-oAPT::Sandbox::User=root")
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
    use std::fmt::Write as _;
    suite.sources.iter().fold(String::new(), |mut out, (uri, name)| {
        let _ = writeln!(out, "deb [signed-by={KEYRING}] {uri} {name} main");
        out
    })
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

/// The other packages of a split kernel (sid, since 7.x): the image package became an empty package
/// depending on `linux-binary-<abi>` (vmlinuz) and `linux-base-<abi>` (config, System.map), both under
/// usr/lib/modules/<abi>/. Older suites have none: everything is in the image package's boot/.
fn split_parts(depends: &str, image: &str) -> Vec<String> {
    let abi = image.strip_prefix("linux-image-").unwrap_or(image);
    depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .filter(|p| ["linux-binary-", "linux-base-"].iter().any(|prefix| p.strip_prefix(prefix) == Some(abi)))
        .map(str::to_owned)
        .collect()
}

/// `boot/<name>-<abi>` (every suite up to trixie) or `usr/lib/modules/<abi>/<name>` (split kernels).
fn find_in_package(unpacked: &Path, name: &str) -> Option<PathBuf> {
    let boot = fs::read_dir(unpacked.join("boot")).into_iter().flatten().flatten().map(|e| e.path()).find(|p| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.strip_prefix(name).is_some_and(|r| r.starts_with('-')))
    });
    boot.or_else(|| {
        fs::read_dir(unpacked.join("usr/lib/modules"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(name))
            .find(|p| p.is_file())
    })
}

/// Downloads the suite's cloud kernel once and keeps its vmlinuz and config in
/// target/vm/kernel/<package>/ (the guest loads no modules: the rest is dropped).
pub fn fetch(work: &Path, suite: &Suite) -> anyhow::Result<Kernel> {
    let apt = PrivateApt::new(work, suite)?;
    apt.update().with_context(|| format!("reading {}'s package lists", suite.name))?;
    let package = apt.image_package().with_context(|| format!("in {}", suite.name))?;
    let dir = work.join("kernel").join(&package);
    let vmlinuz = dir.join("vmlinuz");
    if vmlinuz.is_file() {
        return Ok(Kernel { suite: suite.name, package, vmlinuz });
    }
    let mut packages = vec![package.clone()];
    packages.extend(split_parts(&run_ok(apt.command("apt-cache").args(["depends", &package]))?, &package));
    eprintln!("vm-test: downloading {} ({}) through apt", packages.join(" "), suite.name);
    let download = work.join("kernel/download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download)?;
    run_ok(apt.command("apt-get").arg("download").args(&packages).current_dir(&download))?;
    let unpack = work.join("kernel/unpack");
    let _ = fs::remove_dir_all(&unpack);
    for deb in
        fs::read_dir(&download)?.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "deb"))
    {
        run_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpack))?;
    }
    let image = find_in_package(&unpack, "vmlinuz").context("no vmlinuz in the kernel's packages")?;
    let config = find_in_package(&unpack, "config").context("no kernel config in the kernel's packages")?;
    check_config(&config)?;
    let staged = work.join("kernel/staged");
    let _ = fs::remove_dir_all(&staged);
    fs::create_dir_all(&staged)?;
    fs::copy(&image, staged.join("vmlinuz"))?;
    fs::copy(&config, staged.join("config"))?;
    // Renamed into place last: an interrupted fetch leaves no directory that looks complete.
    fs::rename(&staged, &dir)?;
    let _ = fs::remove_dir_all(&unpack);
    let _ = fs::remove_dir_all(&download);
    Ok(Kernel { suite: suite.name, package, vmlinuz })
}

/// The guest loads no modules: what the scenarios need must be built in.
fn check_config(config: &Path) -> anyhow::Result<()> {
    let text = fs::read_to_string(config)?;
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
    fn a_split_kernel_brings_its_binary_and_base_packages() {
        let sid = "linux-image-7.2.13+deb14-cloud-amd64\n  PreDepends: linux-base\n |Depends: dracut\n  Depends: linux-base-7.2.13+deb14-cloud-amd64\n  Depends: linux-binary-7.2.13+deb14-cloud-amd64\n  Depends: linux-modules-7.2.13+deb14-cloud-amd64\n";
        assert_eq!(
            split_parts(sid, "linux-image-7.2.13+deb14-cloud-amd64"),
            ["linux-base-7.2.13+deb14-cloud-amd64", "linux-binary-7.2.13+deb14-cloud-amd64"]
        );
        let bookworm =
            "linux-image-6.1.0-57-cloud-amd64\n  PreDepends: linux-base\n  Depends: kmod\n  Depends: linux-base\n";
        assert!(split_parts(bookworm, "linux-image-6.1.0-57-cloud-amd64").is_empty());
    }

    #[test]
    fn finds_vmlinuz_and_config_in_either_layout() {
        let tmp = std::env::temp_dir().join(format!("xtask-kernels-{}", std::process::id()));
        let old = tmp.join("old");
        fs::create_dir_all(old.join("boot")).unwrap();
        for f in ["vmlinuz-6.1.0-57-cloud-amd64", "config-6.1.0-57-cloud-amd64", "System.map-6.1.0-57-cloud-amd64"] {
            fs::write(old.join("boot").join(f), "").unwrap();
        }
        let split = tmp.join("split/usr/lib/modules/7.2.13+deb14-cloud-amd64");
        fs::create_dir_all(&split).unwrap();
        for f in ["vmlinuz", "config", "System.map"] {
            fs::write(split.join(f), "").unwrap();
        }
        assert_eq!(find_in_package(&old, "config"), Some(old.join("boot/config-6.1.0-57-cloud-amd64")));
        assert_eq!(find_in_package(&old, "vmlinuz"), Some(old.join("boot/vmlinuz-6.1.0-57-cloud-amd64")));
        assert_eq!(find_in_package(&tmp.join("split"), "vmlinuz"), Some(split.join("vmlinuz")));
        assert_eq!(find_in_package(&tmp.join("split"), "initrd.img"), None);
        fs::remove_dir_all(&tmp).unwrap();
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
