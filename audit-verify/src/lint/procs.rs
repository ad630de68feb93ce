//! Running processes (from /proc/*/cmdline) and TCP sockets (from /proc/net/tcp*): which shippers, time
//! daemons and API servers run, and who listens on a collector's port.

use std::{
    fs,
    net::IpAddr,
    path::{Path, PathBuf},
};

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub argv: Vec<String>,
}

impl Process {
    /// The program's file name (`argv[0]` without its directory).
    pub fn program(&self) -> &str {
        let argv0 = self.argv.first().map_or("", String::as_str);
        argv0.rsplit('/').next().unwrap_or(argv0)
    }

    /// The value of `-x V`, `--long V` or `--long=V` for any of `names`.
    pub fn option(&self, names: &[&str]) -> Option<&str> {
        let mut args = self.argv.iter().skip(1);
        while let Some(arg) = args.next() {
            for name in names {
                if arg == name {
                    return args.next().map(String::as_str);
                }
                if let Some(v) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                    return Some(v);
                }
            }
        }
        None
    }

    #[must_use]
    pub fn cmdline(&self) -> String {
        self.argv.join(" ")
    }

    /// `path` as this process sees it. A containerised shipper or API server names paths in its own
    /// mount namespace; /proc/PID/root (and /proc/PID/cwd for a relative path) reaches them from here.
    /// A process that shares our namespace and root gets the plain path, which reads better in reports.
    #[must_use]
    pub fn file(&self, path: &str) -> PathBuf {
        let proc = PathBuf::from(format!("/proc/{}", self.pid));
        let link = |name: &str| fs::read_link(proc.join(name)).ok();
        let shares_our_view = link("ns/mnt")
            .is_some_and(|ns| fs::read_link("/proc/self/ns/mnt").is_ok_and(|own| own == ns))
            && link("root").is_some_and(|root| root == Path::new("/"));
        match (path.strip_prefix('/'), shares_our_view) {
            (Some(_), true) => PathBuf::from(path),
            (Some(inner), false) => proc.join("root").join(inner),
            (None, true) => link("cwd").unwrap_or_else(|| proc.join("cwd")).join(path),
            (None, false) => proc.join("cwd").join(path),
        }
    }
}

/// Every process with a command line (kernel threads have none).
#[must_use]
pub fn list() -> Vec<Process> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    let mut out: Vec<Process> = dir
        .filter_map(|e| {
            let e = e.ok()?;
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = fs::read(e.path().join("cmdline")).ok()?;
            let argv: Vec<String> =
                raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into()).collect();
            (!argv.is_empty()).then_some(Process { pid, argv })
        })
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}

/// A TCP socket from /proc/net/tcp{,6}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    /// `0A` listen, `01` established.
    pub state: u8,
    pub inode: u64,
}

pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_LISTEN: u8 = 0x0A;

#[must_use]
pub fn tcp_sockets() -> Vec<TcpSocket> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|text| text.lines().skip(1).filter_map(parse_tcp_line).collect::<Vec<_>>())
        .collect()
}

/// `sl local rem st ... inode`: addresses are hex words in host order.
fn parse_tcp_line(line: &str) -> Option<TcpSocket> {
    let w: Vec<&str> = line.split_whitespace().collect();
    Some(TcpSocket {
        local: parse_addr(w.get(1)?)?,
        remote: parse_addr(w.get(2)?)?,
        state: u8::from_str_radix(w.get(3)?, 16).ok()?,
        inode: w.get(9)?.parse().ok()?,
    })
}

fn parse_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> =
        (0..addr.len() / 8).map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16).ok()).collect::<Option<_>>()?;
    let ip = match words.as_slice() {
        [w] => IpAddr::from(w.to_ne_bytes()),
        quad @ [_, _, _, _] => {
            let mut bytes = [0u8; 16];
            for (i, w) in quad.iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            let v6 = std::net::Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some((ip, port))
}

/// The process holding socket `inode` (scans every fd: root sees them all).
#[must_use]
pub fn socket_owner(inode: u64) -> Option<u32> {
    let wanted = format!("socket:[{inode}]");
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = fs::read_dir(e.path().join("fd")) else { continue };
        if fds.flatten().any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str())) {
            return Some(pid);
        }
    }
    None
}

#[must_use]
pub fn process(pid: u32) -> Option<Process> {
    let raw = fs::read(Path::new("/proc").join(pid.to_string()).join("cmdline")).ok()?;
    let argv = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into()).collect();
    Some(Process { pid, argv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_net_tcp_lines() {
        let s = parse_tcp_line(
            "   0: 0100007F:EA60 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1",
        )
        .unwrap();
        assert_eq!(s.local, ("127.0.0.1".parse().unwrap(), 60000));
        assert_eq!((s.state, s.inode), (TCP_LISTEN, 4242));
    }

    #[test]
    fn options_in_every_spelling() {
        let p = Process { pid: 1, argv: ["/usr/bin/vector", "--config=/x.toml", "-c", "/y"].map(String::from).into() };
        assert_eq!(p.program(), "vector");
        assert_eq!(p.option(&["--config"]), Some("/x.toml"));
        assert_eq!(p.option(&["-c"]), Some("/y"));
        assert_eq!(p.option(&["-f"]), None);
    }

    #[test]
    fn a_process_sharing_our_view_gets_plain_paths() {
        let me = Process { pid: std::process::id(), argv: vec!["test".into()] };
        assert_eq!(me.file("/etc/audit/auditd.conf"), Path::new("/etc/audit/auditd.conf"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(me.file("conf/x.yaml"), cwd.join("conf/x.yaml"));
    }
}
