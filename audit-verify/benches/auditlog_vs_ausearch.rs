//! Our audit.log reader against `ausearch`, on one core, over the same generated log.
//!
//! ```sh
//! cargo bench -p audit-verify --bench auditlog_vs_ausearch            # 512 MB
//! AUDITLOG_BENCH_MB=16 cargo bench -p audit-verify --bench auditlog_vs_ausearch   # a quick run
//! ```
//!
//! `AUDITLOG_BENCH_MB` sets the size, `AUDITLOG_BENCH_FILE` where the log goes (kept; otherwise a temp file,
//! removed). First, on a small file, it checks that ausearch and our reader both find every generated
//! event, so the timed runs compare equal work. The page cache is warmed before each timed run.

use std::{
    fs::{self, File},
    io::{BufRead, BufReader, BufWriter, Read},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, bail, ensure};
use audit_verify::auditlog::{LogReader, synth};

const MB: f64 = 1_000_000.0;

struct Run {
    name: &'static str,
    secs: f64,
    events: u64,
}

fn main() -> anyhow::Result<()> {
    pin_to_cpu0()?;
    let size_mb: u64 = std::env::var("AUDITLOG_BENCH_MB").ok().map(|v| v.parse()).transpose()?.unwrap_or(512);
    let (path, keep) = match std::env::var_os("AUDITLOG_BENCH_FILE") {
        Some(p) => (PathBuf::from(p), true),
        None => (std::env::temp_dir().join(format!("auditlog-bench-{}.log", std::process::id())), false),
    };

    let small = std::env::temp_dir().join(format!("auditlog-bench-check-{}.log", std::process::id()));
    let checked = check_counts(&small);
    let _ = fs::remove_file(&small);
    checked?;

    let started = Instant::now();
    let stats = generate(&path, size_mb * 1024 * 1024)?;
    let mb = stats.bytes as f64 / MB;
    println!(
        "generated {} in {:.1} s: {mb:.1} MB, {} events, {} records",
        path.display(),
        started.elapsed().as_secs_f64(),
        stats.events,
        stats.records
    );

    let result = (|| -> anyhow::Result<()> {
        let ours = time_ours(&path)?;
        ensure!(ours.0.events == stats.events, "our reader found {} events, not {}", ours.0.events, stats.events);
        let lap = time_linux_audit_parser(&path)?;
        ensure!(lap.events == stats.records, "linux-audit-parser parsed {} records, not {}", lap.events, stats.records);
        let raw =
            time_ausearch("ausearch --input F --format raw", &path, "--input", &["--format", "raw"], stats.events)?;
        let default = time_ausearch("ausearch -if F", &path, "-if", &[], stats.events)?;

        println!(
            "\none core (CPU 0), {mb:.1} MB, {} events, {} records, file in page cache",
            stats.events, stats.records
        );
        println!("{:<40} {:>9} {:>12} {:>9}", "reader", "seconds", "events/s", "MB/s");
        for run in [&ours.0, &lap, &raw, &default] {
            let per_sec = run.events as f64 / run.secs;
            println!("{:<40} {:>9.2} {:>12.0} {:>9.1}", run.name, run.secs, per_sec, mb / run.secs);
        }
        println!("(linux-audit-parser counts records, not events: it only parses lines)");
        println!("\nratio, audit-verify / ausearch --format raw: {:.1}x", raw.secs / ours.0.secs);
        println!("ratio, audit-verify / ausearch -if:          {:.1}x", default.secs / ours.0.secs);
        println!("ratio, audit-verify / linux-audit-parser:    {:.1}x", lap.secs / ours.0.secs);
        println!("peak RSS of our reader (VmHWM): {} kB over {mb:.1} MB ({})", ours.1, ours.2);
        Ok(())
    })();
    if !keep {
        let _ = fs::remove_file(&path);
    }
    result
}

fn generate(path: &Path, bytes: u64) -> anyhow::Result<synth::SynthStats> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).with_context(|| path.display().to_string())?);
    let stats = synth::write_log(&mut out, bytes, 0x5eed)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(stats)
}

/// On a small log, ausearch and our reader must find every event, or the timings compare different work.
fn check_counts(path: &Path) -> anyhow::Result<()> {
    let stats = generate(path, 2 << 20)?;
    let raw = ausearch_output(path, &["--format", "raw"])?;
    let records = raw.lines().count() as u64;
    ensure!(records == stats.records, "ausearch --format raw printed {records} records of {}", stats.records);
    let events = ausearch_output(path, &[])?.lines().filter(|l| *l == "----").count() as u64;
    ensure!(events == stats.events, "ausearch -if printed {events} events of {}", stats.events);
    let ours = LogReader::open(path).events().count() as u64;
    ensure!(ours == stats.events, "our reader found {ours} events of {}", stats.events);
    println!("check on {:.1} MB: ausearch and our reader both find all {events} events", stats.bytes as f64 / MB);
    Ok(())
}

fn ausearch_output(path: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ausearch").arg("-if").arg(path).args(args).stdin(Stdio::null()).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Returns the run, the peak RSS (kB) while reading, and how that peak was taken.
fn time_ours(path: &Path) -> anyhow::Result<(Run, u64, &'static str)> {
    warm(path)?;
    // Writing 5 resets VmHWM (Linux 4.0+), so the peak is the reader's, not the generator's.
    let how = match fs::write("/proc/self/clear_refs", "5") {
        Ok(()) => "peak reset before the run",
        Err(_) => "peak since the bench started",
    };
    let started = Instant::now();
    let mut events = LogReader::open(path).events();
    let (mut n, mut records) = (0u64, 0u64);
    for event in events.by_ref() {
        n += 1;
        records += event?.records.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    ensure!(events.warnings().is_empty(), "warnings: {:?}", events.warnings().stored());
    std::hint::black_box(records);
    Ok((Run { name: "audit-verify auditlog (events)", secs, events: n }, vm_hwm_kb()?, how))
}

fn time_linux_audit_parser(path: &Path) -> anyhow::Result<Run> {
    warm(path)?;
    let started = Instant::now();
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut line = Vec::with_capacity(16 * 1024);
    let mut parsed = 0u64;
    while reader.read_until(b'\n', &mut line)? > 0 {
        if linux_audit_parser::parse(&line, false).is_ok() {
            parsed += 1;
        }
        line.clear();
    }
    Ok(Run { name: "linux-audit-parser 0.2.8 (records)", secs: started.elapsed().as_secs_f64(), events: parsed })
}

/// `taskset -c 0 ausearch <input_flag> FILE <args>`, stdout to /dev/null. `--input` and `-if` are the same
/// option; both spellings are timed because both are what people type.
fn time_ausearch(name: &'static str, path: &Path, input_flag: &str, args: &[&str], events: u64) -> anyhow::Result<Run> {
    warm(path)?;
    let started = Instant::now();
    let status = Command::new("taskset")
        .args(["-c", "0", "ausearch", input_flag])
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .context("running ausearch under taskset")?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{name}: {status}");
    }
    Ok(Run { name, secs, events })
}

fn warm(path: &Path) -> anyhow::Result<()> {
    let mut f = File::open(path)?;
    let mut buf = vec![0; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

fn vm_hwm_kb() -> anyhow::Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/self/status")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM has no value")?.parse()?)
}

/// Our reader is single-threaded; pin it to the core ausearch gets.
fn pin_to_cpu0() -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only read and write it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    ensure!(rc == 0, "sched_setaffinity: {}", std::io::Error::last_os_error());
    Ok(())
}
