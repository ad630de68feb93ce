//! What this kernel supports, found by trying: each probe loads and attaches a real program (or creates a
//! real map, or binds the real socket). A feature flag can say yes where an attach still fails; the
//! attempt is the answer.

use std::fmt;

use audit_verify_common::names;
use aya::{
    Ebpf,
    maps::MapType,
    programs::{FEntry, KProbe, RawTracePoint, TracePoint},
};
use serde::Serialize;

use crate::{
    btf::{BtfError, KernelBtf},
    ebpf,
    netlink::multicast,
    tracefs::Tracefs,
};

/// The kernel function the kprobe and fentry probes attach to: the one the kprobe/fentry backend hooks.
/// `void audit_log_end(struct audit_buffer *ab)`, kernel/audit.c, all kernels since 2.6.
const AUDIT_FUNCTION: &str = "audit_log_end";

/// The outcome of one probe.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Support {
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Support {
    fn from_result<E: Into<anyhow::Error>>(r: Result<(), E>) -> Self {
        match r {
            Ok(()) => Self { available: true, reason: None },
            // `{:#}` keeps the cause chain: aya's outer error alone often names only a path.
            Err(e) => Self { available: false, reason: Some(format!("{:#}", e.into())) },
        }
    }
}

/// How `measure` will count what the kernel emits and drops, best first.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// fentry/fexit on the audit functions: exact, cheapest.
    Fentry,
    /// kprobe/kretprobe on the audit functions: exact.
    Kprobe,
    /// Tracepoints (`skb:kfree_skb` in audit functions), the audit multicast stream and the kernel's
    /// counters: no per-drop reason for backlog drops, which happen before any skb exists.
    Tracepoint,
    /// Nothing usable: only the kernel's `lost` counter.
    CountersOnly,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Fentry => "fentry",
            Backend::Kprobe => "kprobe",
            Backend::Tracepoint => "tracepoint",
            Backend::CountersOnly => "counters-only",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    pub tracepoint: Support,
    pub raw_tracepoint: Support,
    pub kprobe: Support,
    pub fentry: Support,
    pub ring_buffer: Support,
    pub btf: Support,
    pub audit_multicast: Support,
    pub backend: Backend,
}

impl Capabilities {
    /// The names and outcomes, in display order.
    #[must_use]
    pub fn entries(&self) -> [(&'static str, &Support); 7] {
        let Self { tracepoint, raw_tracepoint, kprobe, fentry, ring_buffer, btf, audit_multicast, backend: _ } = self;
        [
            ("tracepoint", tracepoint),
            ("raw_tracepoint", raw_tracepoint),
            ("kprobe", kprobe),
            ("fentry", fentry),
            ("ring_buffer", ring_buffer),
            ("btf", btf),
            ("audit_multicast", audit_multicast),
        ]
    }
}

/// Runs every probe, with the kernel's BTF as the run read it. Needs root; every program loaded here is
/// unloaded before it returns.
pub fn probe(btf: Result<&KernelBtf, &BtfError>) -> Capabilities {
    let tracefs = Tracefs::ensure();
    let mut object = ebpf::load(ebpf::Globals::default());

    let mut with_object = |f: &dyn Fn(&mut Ebpf) -> anyhow::Result<()>| -> Support {
        Support::from_result(match &mut object {
            Ok(object) => f(object),
            Err(e) => Err(anyhow::anyhow!("loading audit-verify's eBPF object: {e}")),
        })
    };

    let tracepoint = with_object(&|o| {
        if let Err(e) = &tracefs {
            anyhow::bail!("{e}");
        }
        // raw_syscalls exists wherever tracepoints do; syscalls/* needs CONFIG_FTRACE_SYSCALLS.
        let p: &mut TracePoint = program(o, names::PROG_PROBE_TRACEPOINT)?;
        p.load()?;
        p.attach("raw_syscalls", "sys_enter")?;
        Ok(())
    });
    let raw_tracepoint = with_object(&|o| {
        let p: &mut RawTracePoint = program(o, names::PROG_PROBE_RAW_TRACEPOINT)?;
        p.load()?;
        p.attach("sys_enter")?;
        Ok(())
    });
    let kprobe = with_object(&|o| {
        let p: &mut KProbe = program(o, names::PROG_PROBE_KPROBE)?;
        p.load()?;
        p.attach(AUDIT_FUNCTION, 0)?;
        Ok(())
    });
    let fentry = with_object(&|o| {
        let kernel = btf.map_err(|e| anyhow::anyhow!("no kernel BTF: {e}"))?;
        let btf = kernel.aya.as_ref().ok_or_else(|| anyhow::anyhow!("aya cannot parse the kernel's BTF"))?;
        let p: &mut FEntry = program(o, names::PROG_PROBE_FENTRY)?;
        p.load(AUDIT_FUNCTION, btf)?;
        p.attach()?;
        Ok(())
    });
    drop(object); // detaches and unloads every probe program

    let ring_buffer = Support::from_result(match aya::sys::is_map_supported(MapType::RingBuf) {
        Ok(true) => Ok(()),
        Ok(false) => Err(anyhow::anyhow!("the kernel refused to create a BPF ring buffer")),
        Err(e) => Err(e.into()),
    });
    let audit_multicast = Support::from_result(multicast::subscribe().map(drop));
    let btf = Support::from_result(btf.map(drop).map_err(|e| anyhow::anyhow!("{e}")));

    let backend = if fentry.available {
        Backend::Fentry
    } else if kprobe.available {
        Backend::Kprobe
    } else if tracepoint.available && audit_multicast.available {
        Backend::Tracepoint
    } else {
        Backend::CountersOnly
    };
    Capabilities { tracepoint, raw_tracepoint, kprobe, fentry, ring_buffer, btf, audit_multicast, backend }
}

/// A program of the object by name and type.
pub(crate) fn program<'a, T>(object: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut T>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = object.program_mut(name).ok_or_else(|| anyhow::anyhow!("program {name} missing from the object"))?;
    Ok(program.try_into()?)
}
