//! The kernel's tick rate (`CONFIG_HZ`): `backlog_wait_time_actual` counts jiffies, and a jiffy is
//! 1/HZ s. `CLK_TCK` (always 100 to userspace) is not it; only the kernel's build configuration says.

use std::process::Command;

/// `CONFIG_HZ` from `/boot/config-$(uname -r)` or `/proc/config.gz`, or why it is unknown.
///
/// # Errors
///
/// When neither configuration can be read or names `CONFIG_HZ`.
pub fn kernel_hz() -> Result<u64, String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_err(|e| format!("kernel release: {e}"))?;
    let boot = format!("/boot/config-{}", release.trim());
    if let Ok(text) = std::fs::read_to_string(&boot) {
        return from_config(&text).ok_or_else(|| format!("{boot} has no CONFIG_HZ"));
    }
    // gzip(1) rather than a decompressor crate for one line of one file.
    let out = Command::new("gzip")
        .args(["-dc", "/proc/config.gz"])
        .output()
        .map_err(|e| format!("no {boot}, and gzip -dc /proc/config.gz failed: {e}"))?;
    if !out.status.success() {
        return Err(format!("no {boot} and no readable /proc/config.gz"));
    }
    from_config(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| "/proc/config.gz has no CONFIG_HZ".to_owned())
}

fn from_config(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("CONFIG_HZ=")).and_then(|v| v.trim().parse().ok()).filter(|hz| *hz > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_config_hz_and_not_its_neighbours() {
        assert_eq!(from_config("CONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_HZ_PERIODIC=n\n"), Some(250));
        assert_eq!(from_config("# CONFIG_HZ_1000 is not set\n"), None);
        assert_eq!(from_config("CONFIG_HZ=0\n"), None);
    }
}
