//! The words of a `sh -c` script, as a POSIX shell splits them, enough to find the command line of the
//! program it starts. Manifests start kube-apiserver this way (`command: [/bin/sh, -c, "exec
//! kube-apiserver --audit-log-path=…"]`) to redirect its output or prepare a directory first.
//!
//! Our own rather than the shlex crate: shlex splits words but has no notion of the control operators
//! (`;`, `&&`, `|`, a newline…) that end one command and start the next, and those decide which words are
//! kube-apiserver's. Parameter expansion (`$VAR`) and command substitution are left as written: their
//! values are not known offline.

/// A word of the script, or the end of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `;`, `&`, `&&`, `|`, `||` or a newline outside quotes.
    End,
}

/// Splits `script` into words and command ends. Unterminated quotes end with the script.
pub fn tokens(script: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    // A word can be empty yet present (`''`).
    let mut in_word = false;
    // The next word is a redirection's target, not an argument.
    let mut target = false;
    let mut chars = script.chars().peekable();
    let flush = |out: &mut Vec<Token>, word: &mut String, in_word: &mut bool, target: &mut bool| {
        if *in_word {
            let w = std::mem::take(word);
            if !std::mem::take(target) {
                out.push(Token::Word(w));
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        // Inside double quotes a backslash escapes only these.
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.extend(chars.next());
                        }
                        '\\' if chars.peek() == Some(&'\n') => {
                            chars.next();
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => match chars.next() {
                // A line continuation joins the lines.
                Some('\n') | None => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
            },
            '#' if !in_word => {
                // A comment runs to the end of the line.
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '>' | '<' => {
                // `2>&1`, `>>log`, `<in`: the fd number before and the target after are not arguments.
                if in_word && word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                flush(&mut out, &mut word, &mut in_word, &mut target);
                while chars.next_if(|&c| matches!(c, '>' | '<' | '&' | '|')).is_some() {}
                target = true;
            }
            ';' | '&' | '|' | '\n' => {
                flush(&mut out, &mut word, &mut in_word, &mut target);
                if matches!(c, '&' | '|') && chars.peek() == Some(&c) {
                    chars.next();
                }
                if out.last() != Some(&Token::End) {
                    out.push(Token::End);
                }
            }
            c if c.is_whitespace() => flush(&mut out, &mut word, &mut in_word, &mut target),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut out, &mut word, &mut in_word, &mut target);
    out
}

/// The arguments of the first command in `script` whose program's file name is `program` (after
/// `exec` or any other words), up to the end of that command.
pub fn command_args(script: &str, program: &str) -> Option<Vec<String>> {
    let tokens = tokens(script);
    let start = tokens.iter().position(|t| match t {
        // A program, not an option that names a path ending in it.
        Token::Word(w) => !w.starts_with('-') && w.rsplit('/').next() == Some(program),
        Token::End => false,
    })?;
    Some(
        tokens[start + 1..]
            .iter()
            .map_while(|t| match t {
                Token::Word(w) => Some(w.clone()),
                Token::End => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escapes_and_continuations() {
        let words = |s: &str| -> Vec<String> {
            tokens(s)
                .into_iter()
                .filter_map(|t| match t {
                    Token::Word(w) => Some(w),
                    Token::End => None,
                })
                .collect()
        };
        assert_eq!(words("a 'b c' \"d \\\"e\\\"\" f\\ g"), ["a", "b c", "d \"e\"", "f g"]);
        assert_eq!(words("a \\\n  b ''"), ["a", "b", ""]);
        assert_eq!(words("a # comment\nb"), ["a", "b"]);
        assert_eq!(words("a 2>&1 >>/log b </dev/null c"), ["a", "b", "c"]);
    }

    #[test]
    fn the_program_s_words_end_at_a_control_operator() {
        let script = "mkdir -p /var/log/k && exec /usr/local/bin/kube-apiserver --a=1 \\\n  --audit-log-path - 2>&1 | tee x; echo";
        assert_eq!(command_args(script, "kube-apiserver").unwrap(), ["--a=1", "--audit-log-path", "-"]);
        assert_eq!(command_args("kube-apiserver", "kube-apiserver").unwrap(), Vec::<String>::new());
        assert_eq!(command_args("etcd --x", "kube-apiserver"), None);
        assert_eq!(command_args("etcd --data-dir=/var/lib/kube-apiserver", "kube-apiserver"), None);
    }
}
