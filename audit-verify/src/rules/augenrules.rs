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
#[derive(Debug, Clone, Default)]
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

/// The rules files an operator names, as every command takes them (`--rules-dir` or `--rules-file`):
/// the one way rules, prove, check and lint read rules files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesInput {
    /// A rules.d directory, read as augenrules reads it. The `audit.rules` beside it (where augenrules
    /// writes what it compiles, /etc/audit/audit.rules for /etc/audit/rules.d) adds the rules found only
    /// there (written by hand), so that every loaded rule maps to the file it came from; with no `*.rules`
    /// in the directory, that `audit.rules` alone is read as `auditctl -R` reads it (a host that does not
    /// use augenrules).
    Dir(PathBuf),
    /// One file, read as `auditctl -R` reads it: in order, nothing moved, nothing else read.
    File(PathBuf),
}

impl RulesInput {
    /// The directory or file named.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            RulesInput::Dir(path) | RulesInput::File(path) => path,
        }
    }

    /// The rules the input names.
    ///
    /// # Errors
    ///
    /// When the file or directory cannot be read, or a rules line does not parse.
    pub fn load(&self) -> Result<RuleSource, SourceError> {
        match self {
            RulesInput::File(file) => from_file(file),
            RulesInput::Dir(dir) => {
                let compiled = compiled_beside(dir);
                match from_dir(dir) {
                    Ok(source) => with_compiled_extras(source, &compiled),
                    Err(e) if e.is_absent() && compiled.is_file() => from_file(&compiled),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

impl SourceError {
    /// No rules there at all (no directory, or no `*.rules` in it), as opposed to rules that cannot be read.
    #[must_use]
    pub fn is_absent(&self) -> bool {
        match self {
            SourceError::Empty(_) => true,
            SourceError::Read { source, .. } => source.kind() == io::ErrorKind::NotFound,
        }
    }
}

/// The `audit.rules` augenrules compiles `dir` into: the one beside it.
fn compiled_beside(dir: &Path) -> PathBuf {
    dir.parent().unwrap_or(Path::new("/")).join("audit.rules")
}

/// `source`, then the rules found only in `compiled` (written there by hand, where augenrules would
/// overwrite them).
fn with_compiled_extras(mut source: RuleSource, compiled: &Path) -> Result<RuleSource, SourceError> {
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
pub(crate) fn from_file(path: &Path) -> Result<RuleSource, SourceError> {
    let text = read(path)?;
    let (lines, errors) = parse::parse_file(path, &text);
    Ok(RuleSource { files: vec![path.to_owned()], as_written: lines.clone(), lines, errors })
}

/// A rules directory, as augenrules builds audit.rules from it.
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "augenrules' `grep \"\\.rules$\"` is case-sensitive: `X.RULES` is not loaded"
)]
pub(crate) fn from_dir(dir: &Path) -> Result<RuleSource, SourceError> {
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

    /// A scratch tree `<tmp>/<name>/rules.d`, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Self {
            let root = std::env::temp_dir().join(format!("av-input-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("rules.d")).unwrap();
            Self(root)
        }

        fn rules_d(&self) -> PathBuf {
            self.0.join("rules.d")
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn texts(source: &RuleSource) -> Vec<&str> {
        source.lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn a_directory_adds_what_only_the_compiled_file_beside_it_holds() {
        let tree = Tree::new("extras");
        fs::write(tree.rules_d().join("10-a.rules"), "-e 2\n-a always,exit -F arch=b64 -S execve -k a\n").unwrap();
        fs::write(
            tree.0.join("audit.rules"),
            "-a always,exit -F arch=b64 -S execve -k a\n-a always,exit -F arch=b64 -S uname -k by_hand\n",
        )
        .unwrap();
        let source = RulesInput::Dir(tree.rules_d()).load().unwrap();
        assert_eq!(
            texts(&source),
            ["-a always,exit -F arch=b64 -S execve -k a", "-e 2", "-a always,exit -F arch=b64 -S uname -k by_hand"]
        );
        assert_eq!(source.files, [tree.rules_d().join("10-a.rules"), tree.0.join("audit.rules")]);
    }

    #[test]
    fn an_empty_or_missing_directory_falls_back_to_the_compiled_file_read_as_auditctl_does() {
        let tree = Tree::new("fallback");
        fs::write(tree.0.join("audit.rules"), "-e 2\n-a always,exit -F arch=b64 -S uname\n").unwrap();
        let source = RulesInput::Dir(tree.rules_d()).load().unwrap();
        assert_eq!(texts(&source), ["-e 2", "-a always,exit -F arch=b64 -S uname"], "nothing moved");
        fs::remove_dir(tree.rules_d()).unwrap();
        assert_eq!(texts(&RulesInput::Dir(tree.rules_d()).load().unwrap()), texts(&source));
        fs::remove_file(tree.0.join("audit.rules")).unwrap();
        let absent = RulesInput::Dir(tree.rules_d()).load().unwrap_err();
        assert!(absent.is_absent(), "{absent}");
    }

    #[test]
    fn a_file_is_read_alone_and_in_order() {
        let tree = Tree::new("file");
        fs::write(tree.rules_d().join("10-a.rules"), "-a always,exit -F arch=b64 -S execve\n").unwrap();
        let file = tree.0.join("audit.rules");
        fs::write(&file, "-e 2\n-D\n").unwrap();
        let source = RulesInput::File(file.clone()).load().unwrap();
        assert_eq!(texts(&source), ["-e 2", "-D"]);
        assert_eq!(source.files, [file]);
    }
}
