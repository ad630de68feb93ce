//! The rules an operator meant to load: a rules directory read as augenrules reads it, or one rules file
//! read as `auditctl -R` reads it.
//!
//! augenrules concatenates `rules.d/*.rules` in `ls -1v` order, drops comments and blank lines, and moves
//! the last bare `-D` to the top, then the last `-b`, the last `-f`, and the last `-e` to the very end.

use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::LazyLock,
};

use thiserror::Error;

use super::{
    filevercmp::ls_v_cmp,
    parse::{self, Command, Line, ParseError},
};

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}: no *.rules files")]
    Empty(PathBuf),
}

/// The lines to load, in load order, with what could not be parsed.
#[derive(Debug, Default)]
pub struct RuleSource {
    pub files: Vec<PathBuf>,
    pub lines: Vec<Line>,
    pub errors: Vec<ParseError>,
    /// For a directory: lines augenrules moves, kept where they were written (for "-e 2 not last").
    pub as_written: Vec<Line>,
}

/// Whether the awk augenrules runs understands `\s` (gawk does; mawk, Debian's default, does not).
static AWK_KNOWS_BACKSLASH_S: LazyLock<bool> =
    LazyLock::new(|| fs::canonicalize("/usr/bin/awk").is_ok_and(|awk| !awk.to_string_lossy().contains("mawk")));

/// Where augenrules writes what it compiles from rules.d.
pub const COMPILED_RULES: &str = "/etc/audit/audit.rules";

/// The rules meant for this host: `rules_dir` as augenrules reads it, then the rules found only in
/// `compiled` (written there by hand, where augenrules would overwrite them), so that every loaded rule
/// maps to the file it came from.
pub fn from_host(rules_dir: &Path, compiled: &Path) -> Result<RuleSource, SourceError> {
    let mut source = from_dir(rules_dir)?;
    if !compiled.is_file() {
        return Ok(source);
    }
    let extra = from_file(compiled)?;
    let added = |command: &Command| match command {
        Command::Add { rule, .. } => Some(rule.canonical()),
        _ => None,
    };
    let known: std::collections::HashSet<_> = source.lines.iter().filter_map(|l| added(&l.command)).collect();
    let only_there: Vec<Line> =
        extra.lines.into_iter().filter(|l| added(&l.command).is_some_and(|r| !known.contains(&r))).collect();
    if !only_there.is_empty() {
        source.files.extend(extra.files);
        source.lines.extend(only_there);
    }
    Ok(source)
}

/// One file, loaded as `auditctl -R FILE` loads it: in order, nothing moved.
pub fn from_file(path: &Path) -> Result<RuleSource, SourceError> {
    let text = read(path)?;
    let (lines, errors) = parse::parse_file(path, &text);
    Ok(RuleSource { files: vec![path.to_owned()], as_written: lines.clone(), lines, errors })
}

/// A rules directory, as augenrules builds audit.rules from it.
pub fn from_dir(dir: &Path) -> Result<RuleSource, SourceError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|source| SourceError::Read { path: dir.to_owned(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // `ls -1v | grep "\.rules$"`: hidden names are not listed.
        .filter(|p| {
            let name = file_name(p);
            name.ends_with(".rules") && !name.starts_with('.')
        })
        .collect();
    if files.is_empty() {
        return Err(SourceError::Empty(dir.to_owned()));
    }
    files.sort_by(|a, b| ls_v_cmp(&file_name(a), &file_name(b)));
    let mut source = RuleSource { files: files.clone(), ..Default::default() };
    for file in &files {
        let (lines, errors) = parse::parse_file(file, &read(file)?);
        source.as_written.extend(lines);
        source.errors.extend(errors);
    }
    source.lines = augenrules_order(&source.as_written);
    Ok(source)
}

fn read(path: &Path) -> Result<String, SourceError> {
    let bytes = fs::read(path).map_err(|source| SourceError::Read { path: path.to_owned(), source })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// augenrules' awk, which sorts by each line's text, not by its meaning: the last line starting with `-D`
/// and nothing else first, then the last one starting with `-b`, the last starting with `-f`, the rest in
/// order, and the last starting with `-e` at the end. So `-b 320 -e 2` moves as a `-b` line, and a `-D -k`
/// line stays where it is. Its patterns allow leading whitespace (`^\s*-e`), but mawk (Debian's awk) reads
/// `\s` as the letter s, so there an indented line stays where it is; gawk (RHEL's) moves it.
fn augenrules_order(lines: &[Line]) -> Vec<Line> {
    let indent_ok = *AWK_KNOWS_BACKSLASH_S;
    let text = move |l: &Line| if indent_ok { l.text.trim() } else { l.text.as_str() }.to_owned();
    let starts = move |option: &'static str| move |l: &Line| text(l).starts_with(option);
    let bare_d = move |l: &Line| text(l) == "-D";
    let last = |pred: &dyn Fn(&Line) -> bool| lines.iter().rev().find(|l| pred(l)).cloned();
    let moved = |l: &Line| bare_d(l) || starts("-b")(l) || starts("-f")(l) || starts("-e")(l);
    let mut out: Vec<Line> = [last(&bare_d), last(&starts("-b")), last(&starts("-f"))].into_iter().flatten().collect();
    out.extend(lines.iter().filter(|l| !moved(l)).cloned());
    out.extend(last(&starts("-e")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_d_b_f_and_e_as_augenrules_does() {
        let dir = std::env::temp_dir().join(format!("av-augen-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("10-a.rules"), "-b 100\n-w /etc/hosts -p wa\n-e 2\n-D\n").unwrap();
        fs::write(dir.join("20-b.rules"), "-b 8192\n-f 1\n-a always,exit -S execve\n").unwrap();
        fs::write(dir.join("README"), "not a rules file\n").unwrap();
        let source = from_dir(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let order: Vec<String> = source.lines.iter().map(|l| l.text.clone()).collect();
        assert_eq!(order, ["-D", "-b 8192", "-f 1", "-w /etc/hosts -p wa", "-a always,exit -S execve", "-e 2"]);
        assert_eq!(source.files.len(), 2);
        assert_eq!(source.lines[3].location.line, 2);
    }
}
