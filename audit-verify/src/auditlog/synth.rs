//! A synthetic, deterministic audit.log for benchmarks and tests: what auditd writes with
//! `log_format = ENRICHED` for execve and openat syscall events and PAM's USER_* messages.
//!
//! Like auditd, most syscall events have no EOE; some do, so both ways of completing an event are
//! exercised. Now and then a USER_* event lands between the records of a syscall event, as it does when
//! two processes log at once.

use std::{
    fmt::Write as _,
    io::{self, Write},
};

/// What was written: the reader must find exactly these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthStats {
    pub events: u64,
    pub records: u64,
    pub bytes: u64,
}

/// SplitMix64: small, fast and the same on every machine.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    #[expect(clippy::cast_possible_truncation, reason = "`below(n)` is below `n`, a slice's length")]
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const GS: char = '\x1d';
const USERS: &[(&str, u32)] = &[("root", 0), ("alice", 1000), ("bob", 1001), ("www-data", 33)];
const PROGRAMS: &[&str] = &["/usr/bin/ls", "/usr/bin/cat", "/usr/bin/grep", "/usr/bin/python3.11", "/usr/sbin/sshd"];
const FILES: &[&str] = &["/etc/passwd", "/etc/shadow", "/var/log/syslog", "/home/alice/notes.txt", "/tmp/a b"];
const USER_TYPES: &[&str] = &["USER_ACCT", "CRED_ACQ", "USER_START", "USER_END", "CRED_DISP", "USER_LOGIN"];

struct Gen {
    rng: Rng,
    ms: u64,
    serial: u64,
    stats: SynthStats,
    buf: String,
}

/// Writes events until at least `target_bytes` are written. The same `seed` gives the same bytes.
///
/// # Errors
///
/// When writing to `out` fails.
pub fn write_log(out: &mut impl Write, target_bytes: u64, seed: u64) -> io::Result<SynthStats> {
    let mut g = Gen {
        rng: Rng(seed),
        ms: 1_700_000_000_000,
        serial: 1000,
        stats: SynthStats::default(),
        buf: String::with_capacity(64 * 1024),
    };
    while g.stats.bytes < target_bytes {
        g.buf.clear();
        match g.rng.below(9) {
            0..=2 => g.execve(),
            3..=6 => g.openat(),
            _ => g.user(),
        }
        out.write_all(g.buf.as_bytes())?;
        g.stats.bytes += g.buf.len() as u64;
    }
    Ok(g.stats)
}

impl Gen {
    /// Starts an event: a new serial, time moving on by 0–2 ms.
    fn begin(&mut self) -> String {
        self.ms += self.rng.below(3);
        self.serial += 1;
        self.stats.events += 1;
        format!("msg=audit({}.{:03}:{}):", self.ms / 1000, self.ms % 1000, self.serial)
    }

    fn line(&mut self, kind: &str, header: &str, body: &str) {
        self.stats.records += 1;
        let _ = writeln!(self.buf, "type={kind} {header} {body}");
    }

    #[expect(clippy::cast_possible_truncation, reason = "random bits: any 32 of them make an inode number")]
    fn syscall(&mut self, header: &str, nr: u32, name: &str, exe: &str) {
        let (user, uid) = USERS[self.rng.below(USERS.len() as u64) as usize];
        let pid = 1000 + self.rng.below(60_000);
        let comm = exe.rsplit('/').next().unwrap_or(exe);
        let body = format!(
            "arch=c000003e syscall={nr} success=yes exit=3 a0=ffffff9c a1=7ffd{:08x} a2=80000 a3=0 items=1 \
             ppid={} pid={pid} auid={uid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} \
             sgid={uid} fsgid={uid} tty=pts0 ses=3 comm=\"{comm}\" exe=\"{exe}\" subj=unconfined key=\"audit-verify\"\
             {GS}ARCH=x86_64 SYSCALL={name} AUID=\"{user}\" UID=\"{user}\" GID=\"{user}\" EUID=\"{user}\" \
             SUID=\"{user}\" FSUID=\"{user}\" EGID=\"{user}\" SGID=\"{user}\" FSGID=\"{user}\"",
            self.rng.next() as u32,
            pid - 1,
        );
        self.line("SYSCALL", header, &body);
    }

    fn path(&mut self, header: &str, item: u32, name: &str) {
        // The kernel hex-encodes names with a space or a byte outside printable ASCII.
        let name = if name.contains(' ') { hex(name.as_bytes()) } else { format!("\"{name}\"") };
        let body = format!(
            "item={item} name={name} inode={} dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL \
             cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0{GS}OUID=\"root\" OGID=\"root\"",
            self.rng.below(1 << 20),
        );
        self.line("PATH", header, &body);
    }

    fn tail(&mut self, header: &str, argv: &[&str]) {
        self.line("PROCTITLE", header, &format!("proctitle={}", hex(argv.join("\0").as_bytes())));
        if self.rng.below(2) == 0 {
            self.line("EOE", header, "");
        }
    }

    fn execve(&mut self) {
        let h = self.begin();
        let exe = self.rng.pick(PROGRAMS);
        let file = self.rng.pick(FILES);
        self.syscall(&h, 59, "execve", exe);
        let arg1 = if file.contains(' ') { hex(file.as_bytes()) } else { format!("\"{file}\"") };
        self.line("EXECVE", &h, &format!("argc=3 a0=\"{exe}\" a1=\"-v\" a2={arg1}"));
        self.line("CWD", &h, "cwd=\"/home/alice\"");
        self.path(&h, 0, exe);
        self.path(&h, 1, "/lib64/ld-linux-x86-64.so.2");
        self.tail(&h, &[exe, "-v", file]);
    }

    fn openat(&mut self) {
        let h = self.begin();
        let exe = self.rng.pick(PROGRAMS);
        let file = self.rng.pick(FILES);
        self.syscall(&h, 257, "openat", exe);
        if self.rng.below(16) == 0 {
            self.user();
        }
        self.line("CWD", &h, "cwd=\"/\"");
        self.path(&h, 0, file);
        self.tail(&h, &[exe, file]);
    }

    #[expect(clippy::cast_possible_truncation, reason = "`below(n)` is below `n`, a table's length")]
    fn user(&mut self) {
        let h = self.begin();
        let kind = self.rng.pick(USER_TYPES);
        let (user, uid) = USERS[self.rng.below(USERS.len() as u64) as usize];
        let host = self.rng.below(250);
        let body = format!(
            "pid={} uid=0 auid={uid} ses=3 subj=unconfined msg='op=PAM:session_open grantors=pam_unix acct=\"{user}\" \
             exe=\"/usr/sbin/sshd\" hostname=10.0.0.{host} addr=10.0.0.{host} terminal=ssh res=success'\
             {GS}UID=\"root\" AUID=\"{user}\"",
            1000 + self.rng.below(60_000),
        );
        self.line(kind, &h, &body);
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}
