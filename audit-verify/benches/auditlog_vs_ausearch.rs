//! Our audit.log reader against `ausearch` and linux-audit-parser, on one core, over the same logs.
//!
//! ```sh
//! cargo bench -p audit-verify --bench auditlog_vs_ausearch            # both inputs, 256 MB each, 5 rounds
//! AUDITLOG_BENCH_MB=16 AUDITLOG_BENCH_RUNS=1 cargo bench -p audit-verify --bench auditlog_vs_ausearch
//! ```
//!
//! Two inputs: `synthetic` (`auditlog::synth`: a dense mix of short records, an event every millisecond) and
//! `realistic` (`auditlog::replay`: the events of the public audit.log samples in `../shared/corpus/logs`,
//! every record type and line length as found, replayed with fresh serials at a few hundred events a second
//! with bursts and quiet spells). `AUDITLOG_BENCH_INPUT` picks one, `AUDITLOG_BENCH_MB` sets the size,
//! `AUDITLOG_BENCH_RUNS` the rounds, `AUDITLOG_BENCH_DIR` where the logs go (kept; otherwise temp files,
//! removed), `AUDITLOG_BENCH_CORPUS` another corpus.
//!
//! First, on a small file of each input, it checks that ausearch and our reader both find every generated
//! record and event, so the timed runs compare equal work. Each round runs every reader once, in turn, with
//! the page cache warmed before each run. Each run is timed in CPU time (user + system: `getrusage`, of this
//! process or of the ausearch child) and wall-clock time; the table gives the median of the rounds, and each
//! ratio is the median of the ratios within a round. CPU time is what the ratios are read from: on a shared
//! machine wall-clock time also counts the waits for the core.

#![expect(
    unused_crate_dependencies,
    reason = "a bench crate is linked with every dependency of the package; lib.rs checks them"
)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::{self, File},
    io::{BufRead, BufReader, BufWriter, Read},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, bail, ensure};
use audit_verify::auditlog::{
    Event, LogReader, parse_line,
    replay::{self, Sample},
    synth::{self, SynthStats},
};

const MB: f64 = 1_000_000.0;
const SEED: u64 = 0x5eed;

/// What a log is generated from.
enum Input {
    Synthetic,
    Realistic(Vec<Sample>),
}

impl Input {
    fn name(&self) -> &'static str {
        match self {
            Input::Synthetic => "synthetic",
            Input::Realistic(_) => "realistic",
        }
    }

    fn generate(&self, path: &Path, bytes: u64) -> anyhow::Result<SynthStats> {
        let file = File::create(path).with_context(|| path.display().to_string())?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let stats = match self {
            Input::Synthetic => synth::write_log(&mut out, bytes, SEED)?,
            Input::Realistic(samples) => replay::write_log(&mut out, samples, bytes, SEED)?,
        };
        out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        Ok(stats)
    }
}

/// The readers, in the order each round runs them.
const READERS: [&str; 4] = [
    "audit-verify auditlog (events)",
    "linux-audit-parser 0.2.8 (records)",
    "ausearch --input F --format raw",
    "ausearch -if F",
];

/// How long one run took: CPU time (user + system) and wall-clock time, in seconds.
#[derive(Debug, Clone, Copy)]
struct Took {
    cpu: f64,
    wall: f64,
}

/// Measures a run in this process (`RUSAGE_SELF`) or in the children it waits for (`RUSAGE_CHILDREN`).
/// CPU time is what the ratios use: on a machine shared with other work, a run's wall-clock time also
/// counts the time it waited for the core, which changes from one run to the next.
struct Stopwatch {
    who: libc::c_int,
    cpu: f64,
    wall: Instant,
}

impl Stopwatch {
    fn start(who: libc::c_int) -> anyhow::Result<Self> {
        Ok(Self { who, cpu: cpu_secs(who)?, wall: Instant::now() })
    }

    fn stop(self) -> anyhow::Result<Took> {
        let wall = self.wall.elapsed().as_secs_f64();
        Ok(Took { cpu: cpu_secs(self.who)? - self.cpu, wall })
    }
}

#[expect(clippy::cast_precision_loss, reason = "CPU seconds of one run: far below 2^52")]
fn cpu_secs(who: libc::c_int) -> anyhow::Result<f64> {
    // SAFETY: a zeroed rusage is a valid value; getrusage only writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(who, &raw mut usage) };
    ensure!(rc == 0, "getrusage: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(secs(usage.ru_utime) + secs(usage.ru_stime))
}

fn main() -> anyhow::Result<()> {
    pin_to_cpu0()?;
    let size_mb: u64 = env_or("AUDITLOG_BENCH_MB", 256)?;
    let runs: usize = env_or("AUDITLOG_BENCH_RUNS", 5)?;
    ensure!(runs > 0, "AUDITLOG_BENCH_RUNS must be at least 1");
    let (dir, keep) = match std::env::var_os("AUDITLOG_BENCH_DIR") {
        Some(d) => (PathBuf::from(d), true),
        None => (std::env::temp_dir(), false),
    };
    fs::create_dir_all(&dir)?;
    let wanted = std::env::var("AUDITLOG_BENCH_INPUT").ok();
    let mut inputs = Vec::new();
    if wanted.as_deref().is_none_or(|w| w == "synthetic") {
        inputs.push(Input::Synthetic);
    }
    if wanted.as_deref().is_none_or(|w| w == "realistic") {
        let corpus = match std::env::var_os("AUDITLOG_BENCH_CORPUS") {
            Some(c) => PathBuf::from(c),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/logs"),
        };
        let samples = replay::samples(replay::corpus_files(&corpus)?)?;
        println!("corpus {}: {} sample events", corpus.display(), samples.len());
        inputs.push(Input::Realistic(samples));
    }
    ensure!(!inputs.is_empty(), "AUDITLOG_BENCH_INPUT is `synthetic` or `realistic`, not {wanted:?}");

    for input in &inputs {
        let file = |what: &str| dir.join(format!("auditlog-bench-{}-{what}-{}.log", input.name(), std::process::id()));
        let small = file("check");
        let checked = check_counts(input, &small);
        let _ = fs::remove_file(&small);
        checked?;

        let path = file("timed");
        let result = bench(input, &path, size_mb * 1024 * 1024, runs);
        if !keep {
            let _ = fs::remove_file(&path);
        }
        result?;
    }
    Ok(())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
fn bench(input: &Input, path: &Path, bytes: u64, runs: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let stats = input.generate(path, bytes)?;
    let mb = stats.bytes as f64 / MB;
    println!(
        "\n{}: generated {} in {:.1} s: {mb:.1} MB, {} events, {} records",
        input.name(),
        path.display(),
        started.elapsed().as_secs_f64(),
        stats.events,
        stats.records
    );

    let mut times: [Vec<Took>; 4] = Default::default();
    let (mut peak_kb, mut how, mut refused) = (0, "", 0);
    for round in 1..=runs {
        let ours = time_ours(path)?;
        ensure!(ours.events == stats.events, "our reader found {} events, not {}", ours.events, stats.events);
        (peak_kb, how) = (peak_kb.max(ours.peak_kb), ours.how);
        let lap = time_linux_audit_parser(path)?;
        ensure!(lap.lines == stats.records, "linux-audit-parser read {} lines, not {}", lap.lines, stats.records);
        refused = lap.lines - lap.parsed;
        let raw = time_ausearch(path, "--input", &["--format", "raw"])?;
        let default = time_ausearch(path, "-if", &[])?;
        for (t, took) in times.iter_mut().zip([ours.took, lap.took, raw, default]) {
            t.push(took);
        }
        println!(
            "round {round}/{runs}, CPU (wall) seconds: ours {:.3} ({:.3}), linux-audit-parser {:.3} ({:.3}), ausearch \
             raw {:.3} ({:.3}), -if {:.3} ({:.3})",
            ours.took.cpu, ours.took.wall, lap.took.cpu, lap.took.wall, raw.cpu, raw.wall, default.cpu, default.wall
        );
    }

    println!(
        "\n{}, one core (CPU 0), {mb:.1} MB, {} events, {} records, file in page cache, median of {runs}",
        input.name(),
        stats.events,
        stats.records
    );
    println!("{:<36} {:>8} {:>15} {:>8} {:>11} {:>8}", "reader", "CPU s", "(min-max)", "wall s", "events/s", "MB/s");
    for (name, t) in READERS.iter().zip(&times) {
        let cpu: Vec<f64> = t.iter().map(|t| t.cpu).collect();
        let secs = median(&cpu);
        let (lo, hi) = cpu.iter().fold((f64::MAX, 0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let wall = median(&t.iter().map(|t| t.wall).collect::<Vec<_>>());
        // linux-audit-parser only parses lines: its rate is records a second.
        let n = if name.starts_with("linux-audit-parser") { stats.records } else { stats.events };
        let range = format!("({lo:.3}-{hi:.3})");
        println!("{name:<36} {secs:>8.3} {range:>15} {wall:>8.3} {:>11.0} {:>8.1}", n as f64 / secs, mb / secs);
    }
    println!("(events/s and MB/s per CPU second; linux-audit-parser counts records, not events: it only parses");
    println!(" lines, and refused {refused} of them)");
    // Each round's ratio, then their median: the runs of one round are minutes apart at most.
    let ratio = |other: usize, of: &dyn Fn(&Took) -> f64| {
        median(&times[other].iter().zip(&times[0]).map(|(o, us)| of(o) / of(us)).collect::<Vec<_>>())
    };
    let (cpu, wall) = (&|t: &Took| t.cpu, &|t: &Took| t.wall);
    println!(
        "\nratio, audit-verify / ausearch --format raw: {:.1}x CPU time ({:.1}x wall)",
        ratio(2, cpu),
        ratio(2, wall)
    );
    println!(
        "ratio, audit-verify / ausearch -if:          {:.1}x CPU time ({:.1}x wall)",
        ratio(3, cpu),
        ratio(3, wall)
    );
    println!(
        "ratio, audit-verify / linux-audit-parser:    {:.1}x CPU time ({:.1}x wall)",
        ratio(1, cpu),
        ratio(1, wall)
    );
    println!("peak RSS of our reader (VmHWM): {peak_kb} kB over {mb:.1} MB ({how})");
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { f64::midpoint(v[mid - 1], v[mid]) }
}

/// Events of the corpus that ausearch reads but does not print, and why: `--format raw` leaves out every
/// one, `-if` (the default format) most. auparse (the oracle of `tests/auditlog_oracle.rs`) groups them as
/// we do. Anything else ausearch leaves out fails the check.
fn ausearch_leaves_out(event: &Event) -> Option<&'static str> {
    let records = &event.records;
    if records.len() == 1 && records[0].kind().is_eoe() {
        return Some("a lone EOE");
    }
    // ausearch parses an AVC as SELinux's `avc:  denied  { … }`; AppArmor writes `apparmor="…" operation=…`.
    records.iter().any(|r| r.kind().name == "AVC" && r.body().starts_with("apparmor=")).then_some("an AppArmor AVC")
}

/// On a small log, ausearch and our reader must find every record and event, or the timings compare
/// different work: ausearch must print each event whole (by serial: every serial is fresh), except the
/// ones [`ausearch_leaves_out`] names, and our reader must find every generated event.
#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
fn check_counts(input: &Input, path: &Path) -> anyhow::Result<()> {
    let stats = input.generate(path, 2 << 20)?;
    let name = input.name();
    let mut printed = BTreeMap::<u64, u64>::new();
    for line in ausearch_output(path, &["--format", "raw"])?.lines() {
        let parsed = parse_line(line.as_bytes()).with_context(|| format!("{name}: ausearch printed {line:?}"))?;
        *printed.entry(parsed.header.id.serial).or_default() += 1;
    }
    let separators = ausearch_output(path, &[])?.lines().filter(|l| *l == "----").count();

    let mut ours = LogReader::open(path).events();
    let (mut n, mut records, mut types, mut longest) = (0u64, 0u64, BTreeSet::new(), 0);
    let mut left_out = BTreeMap::<&str, (u64, u64)>::new();
    for event in ours.by_ref() {
        let event = event?;
        n += 1;
        records += event.records.len() as u64;
        for r in &event.records {
            types.insert(r.kind().name.to_string());
            longest = longest.max(r.text().len() + 1);
        }
        let serial = event.id.serial;
        match (printed.remove(&serial), ausearch_leaves_out(&event)) {
            (Some(p), _) if p == event.records.len() as u64 => {}
            (None, Some(why)) => {
                let e = left_out.entry(why).or_default();
                e.0 += 1;
                e.1 += event.records.iter().map(|r| r.text().len() as u64 + 1).sum::<u64>();
            }
            (p, _) => bail!(
                "{name}: event {} has {} records, ausearch --format raw printed {p:?}",
                event.id,
                event.records.len()
            ),
        }
    }
    ensure!(ours.warnings().is_empty(), "{name}: warnings: {:?}", ours.warnings().stored());
    ensure!(
        (n, records) == (stats.events, stats.records),
        "{name}: our reader found {n} events, {records} records of {stats:?}"
    );
    ensure!(printed.is_empty(), "{name}: ausearch printed serials we did not write: {:?}", printed.keys());
    let skipped: u64 = left_out.values().map(|v| v.0).sum();
    ensure!(
        (n - skipped..=n).contains(&(separators as u64)),
        "{name}: ausearch -if printed {separators} events of {n}, --format raw {}",
        n - skipped
    );
    println!(
        "{name}: check on {:.1} MB: our reader finds all {n} events ({records} records, {} record types, lines up \
         to {longest} bytes); ausearch prints each whole ({separators} with -if){}",
        stats.bytes as f64 / MB,
        types.len(),
        if left_out.is_empty() { String::new() } else { format!(" but (events, bytes) {left_out:?}") }
    );
    Ok(())
}

fn ausearch_output(path: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ausearch").arg("-if").arg(path).args(args).stdin(Stdio::null()).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct Ours {
    took: Took,
    events: u64,
    /// Peak RSS (`VmHWM`) while reading, and how that peak was taken.
    peak_kb: u64,
    how: &'static str,
}

fn time_ours(path: &Path) -> anyhow::Result<Ours> {
    warm(path)?;
    // Writing 5 resets VmHWM (Linux 4.0+), so the peak is the reader's, not the generator's.
    let how = match fs::write("/proc/self/clear_refs", "5") {
        Ok(()) => "peak reset before each run",
        Err(_) => "peak since the bench started",
    };
    let watch = Stopwatch::start(libc::RUSAGE_SELF)?;
    let mut events = LogReader::open(path).events();
    let (mut n, mut records) = (0u64, 0u64);
    for event in events.by_ref() {
        n += 1;
        records += event?.records.len() as u64;
    }
    let took = watch.stop()?;
    ensure!(events.warnings().is_empty(), "warnings: {:?}", events.warnings().stored());
    std::hint::black_box(records);
    Ok(Ours { took, events: n, peak_kb: vm_hwm_kb()?, how })
}

struct ParserRun {
    took: Took,
    /// Lines read, and of those the ones it parsed (it refuses some real records).
    lines: u64,
    parsed: u64,
}

fn time_linux_audit_parser(path: &Path) -> anyhow::Result<ParserRun> {
    warm(path)?;
    let watch = Stopwatch::start(libc::RUSAGE_SELF)?;
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut line = Vec::with_capacity(16 * 1024);
    let (mut lines, mut parsed) = (0u64, 0u64);
    while reader.read_until(b'\n', &mut line)? > 0 {
        lines += 1;
        if linux_audit_parser::parse(&line, false).is_ok() {
            parsed += 1;
        }
        line.clear();
    }
    Ok(ParserRun { took: watch.stop()?, lines, parsed })
}

/// `taskset -c 0 ausearch <input_flag> FILE <args>`, stdout to /dev/null (taskset execs ausearch, so the
/// child's CPU time is ausearch's). `--input` and `-if` are the same option; both spellings are timed
/// because both are what people type.
fn time_ausearch(path: &Path, input_flag: &str, args: &[&str]) -> anyhow::Result<Took> {
    warm(path)?;
    let watch = Stopwatch::start(libc::RUSAGE_CHILDREN)?;
    let status = Command::new("taskset")
        .args(["-c", "0", "ausearch", input_flag])
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .context("running ausearch under taskset")?;
    let took = watch.stop()?;
    if !status.success() {
        bail!("ausearch {input_flag} {} {args:?}: {status}", path.display());
    }
    Ok(took)
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
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set)
    };
    ensure!(rc == 0, "sched_setaffinity: {}", std::io::Error::last_os_error());
    Ok(())
}
