//! The inodes a candidate rule set watches, named as the kernel compares them: `audit_watch` holds the
//! watched file's `(s_dev, i_ino)` (the file itself, not a symlink's target), `audit_tree` tags the
//! directory and the root of every file system mounted beneath it. The matcher walks a file's dentries to
//! its file system's root, so those mount roots stand for the directory on the file systems below it.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use audit_verify_common::measure::{InodeKey, InodeRules, MAX_WATCHED_INODES};

/// What one watched path of a rule resolved to.
#[derive(Debug, Clone)]
pub struct Watched {
    pub position: usize,
    pub path: PathBuf,
    /// `false`: `-F path=`/`-w FILE`; `true`: `-F dir=`/`-w DIR`.
    pub dir: bool,
    /// Why it matches nothing now, if it does not exist.
    pub missing: Option<String>,
}

/// The kernel's `MKDEV(major, minor)`, as `i_sb->s_dev` holds it (not the userspace `st_dev` encoding).
#[must_use]
pub fn kernel_dev(st_dev: u64) -> u32 {
    let (major, minor) = (libc::major(st_dev), libc::minor(st_dev));
    major << 20 | (minor & 0xf_ffff)
}

fn key(meta: &fs::Metadata) -> InodeKey {
    InodeKey { ino: meta.ino(), dev: kernel_dev(meta.dev()), _pad: 0 }
}

/// Mount points strictly beneath `dir`, from mountinfo's fifth field (octal escapes undone).
fn mounts_beneath(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let unescape = |s: &str| -> String {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                out.push(u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?'));
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| m != dir && m.starts_with(dir))
        .collect()
}

/// Resolves every watched path to the inode map the matcher reads, bit = rule position.
#[must_use]
pub fn resolve(watched: &mut [Watched]) -> BTreeMap<InodeKey, InodeRules> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut map: BTreeMap<InodeKey, InodeRules> = BTreeMap::new();
    let mut roots = Vec::new();
    for w in watched.iter_mut() {
        let bit = 1u64 << w.position;
        match fs::symlink_metadata(&w.path) {
            Ok(meta) => {
                let entry = map.entry(key(&meta)).or_default();
                if w.dir {
                    entry.dir |= bit;
                    roots.extend(mounts_beneath(&mountinfo, &w.path).into_iter().map(|root| (root, bit, &w.path)));
                } else {
                    entry.watch |= bit;
                }
            }
            Err(e) => {
                w.missing = Some(format!("{}: {e}: it matches nothing until it is created", w.path.display()));
            }
        }
    }
    // The kernel side's map has room for MAX_WATCHED_INODES: the watched paths first, then the roots of
    // mounts beneath watched directories while room remains; a root left out is said, since the files
    // beneath it are then not counted for that rule.
    let room = MAX_WATCHED_INODES as usize;
    for (root, bit, dir) in roots {
        let Ok(meta) = fs::metadata(&root) else { continue };
        let k = key(&meta);
        if map.len() >= room && !map.contains_key(&k) {
            log::warn!(
                "predict: no room for the mount {} beneath {} (the kernel map holds {room}): files there are not \
                 counted for its rule",
                root.display(),
                dir.display()
            );
            continue;
        }
        map.entry(k).or_default().dir |= bit;
    }
    map.into_iter().take(room).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_dev_encoding_and_mounts_beneath() {
        // 254:0 (fe:00) as `ls -l` shows it; MKDEV puts the major above 20 bits of minor.
        assert_eq!(kernel_dev(libc::makedev(254, 0)), 254 << 20);
        assert_eq!(kernel_dev(libc::makedev(8, 0x12c)), 8 << 20 | 0x12c);
        let info = "22 1 254:0 / / rw - ext4 /dev/vda rw\n\
                    30 22 0:26 / /var/lib/x rw - tmpfs tmpfs rw\n\
                    31 22 0:27 / /var/lib\\040y rw - tmpfs tmpfs rw\n\
                    32 22 0:28 / /varnish rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mounts_beneath(info, Path::new("/var")),
            vec![PathBuf::from("/var/lib/x"), PathBuf::from("/var/lib y")],
            "a prefix of the name is not a directory beneath"
        );
        let dir = std::env::temp_dir();
        let mut w = [
            Watched { position: 3, path: dir.clone(), dir: true, missing: None },
            Watched { position: 5, path: dir.join("audit-verify-no-such-file"), dir: false, missing: None },
        ];
        let map = resolve(&mut w);
        let meta = fs::symlink_metadata(&dir).unwrap();
        assert_eq!(map.get(&key(&meta)).map(|r| r.dir), Some(1 << 3));
        assert!(w[1].missing.as_deref().unwrap().contains("matches nothing"), "{:?}", w[1].missing);
    }
}
