use super::*;

const RAW: &str = "type=SYSCALL msg=audit(1795494329.735:3): arch=c000003e syscall=321 success=yes exit=4 a0=5 \
    a1=7ffd68212af8 items=0 pid=11539 comm=\"audit-verify\" exe=\"/work/main/target/debug/audit-verify\" key=(null)";

fn keys_values(line: &ParsedLine<'_>) -> Vec<(String, String, bool)> {
    line.fields().map(|f| (f.key.to_owned(), f.raw.to_owned(), f.enriched)).collect()
}

#[test]
fn raw_header_and_fields() {
    let line = parse_line(RAW.as_bytes()).unwrap();
    assert_eq!(line.node(), None);
    assert_eq!((line.header.kind.code, line.header.kind.name.as_ref()), (Some(1300), "SYSCALL"));
    assert_eq!(line.header.id, EventId { secs: 1_795_494_329, millis: 735, serial: 3 });
    assert_eq!(line.header.id.to_string(), "1795494329.735:3");
    assert_eq!(line.header.enriched, None);
    assert_eq!(line.field("syscall").unwrap().raw, "321");
    assert_eq!(line.field("exe").unwrap().decoded().as_ref(), b"/work/main/target/debug/audit-verify");
    assert_eq!(line.field("key").unwrap().decoded().as_ref(), b"(null)");
    // Lowercase hex is a number, never decoded.
    assert_eq!(line.field("a1").unwrap().decoded().as_ref(), b"7ffd68212af8");
    assert_eq!(line.fields().count(), 11);
}

#[test]
fn enriched_fields_come_after_the_separator() {
    let text = format!("{RAW}\x1dARCH=x86_64 SYSCALL=bpf AUID=\"unset\" UID=\"root\"");
    let line = parse_line(text.as_bytes()).unwrap();
    let fields = keys_values(&line);
    assert_eq!(fields.len(), 15);
    assert_eq!(fields[10], ("key".into(), "(null)".into(), false));
    assert_eq!(fields[11], ("ARCH".into(), "x86_64".into(), true));
    let uid = line.field("UID").unwrap();
    assert!(uid.enriched);
    assert_eq!(uid.decoded_lossy(), "root");
    // The raw `syscall` wins over the interpreted `SYSCALL`: keys are case-sensitive.
    assert_eq!(line.field("syscall").unwrap().raw, "321");
    assert_eq!(line.field("SYSCALL").unwrap().raw, "bpf");
}

#[test]
fn node_prefix() {
    let line = parse_line(b"node=web-1.example type=CWD msg=audit(1700000000.001:42): cwd=\"/root\"").unwrap();
    assert_eq!(line.node(), Some("web-1.example"));
    assert_eq!(line.header.kind.name, "CWD");
    assert_eq!(line.header.id, EventId { secs: 1_700_000_000, millis: 1, serial: 42 });
    assert_eq!(line.field("cwd").unwrap().decoded().as_ref(), b"/root");
}

#[test]
fn hex_values_decode_on_demand() {
    let line = parse_line(
        b"type=PROCTITLE msg=audit(1.000:1): \
          proctitle=2E2F7461726765742F64656275672F61756469742D76657269667900737461747573",
    )
    .unwrap();
    let f = line.field("proctitle").unwrap();
    assert!(f.raw.starts_with("2E2F"));
    assert_eq!(f.decoded().as_ref(), b"./target/debug/audit-verify\0status");
    let path = parse_line(b"type=PATH msg=audit(1.000:1): item=0 name=2F746D702F612062 nametype=NORMAL").unwrap();
    assert_eq!(path.field("name").unwrap().decoded().as_ref(), b"/tmp/a b");
    let exec = parse_line(b"type=EXECVE msg=audit(1.000:1): argc=2 a0=\"ls\" a1=2F746D702F612062").unwrap();
    assert_eq!(exec.field("a1").unwrap().decoded().as_ref(), b"/tmp/a b");
    // Odd length or not hex: left as written.
    assert_eq!(decode_hex("2F7"), None);
    assert_eq!(decode_hex("ZZ"), None);
    assert_eq!(decode_hex("2f"), None);
}

#[test]
fn user_messages_open_their_msg_field() {
    let line = parse_line(
        b"type=USER_LOGIN msg=audit(1700000000.123:77): pid=9 uid=0 auid=1000 ses=3 msg='op=login acct=\"alice\" \
          exe=\"/usr/sbin/sshd\" addr=10.0.0.5 res=success'\x1dUID=\"root\" AUID=\"alice\"",
    )
    .unwrap();
    assert!(line.header.kind.is_standalone());
    let keys: Vec<_> = line.fields().map(|f| f.key).collect();
    assert_eq!(keys, ["pid", "uid", "auid", "ses", "op", "acct", "exe", "addr", "res", "UID", "AUID"]);
    assert_eq!(line.field("acct").unwrap().decoded().as_ref(), b"alice");
}

#[test]
fn unknown_types_are_records() {
    let line = parse_line(b"type=UNKNOWN[1999] msg=audit(1700000000.000:5): something=1").unwrap();
    assert_eq!((line.header.kind.code, line.header.kind.name.as_ref()), (Some(1999), "UNKNOWN[1999]"));
    let line = parse_line(b"type=BRAND_NEW msg=audit(1700000000.000:5): x=1").unwrap();
    assert_eq!(line.header.kind.code, None);
}

#[test]
fn words_without_equals_are_skipped() {
    let line =
        parse_line(b"type=AVC msg=audit(1.000:2): avc:  denied  { read } for  pid=5 comm=\"cat\" =odd name=").unwrap();
    let fields: Vec<_> = line.fields().map(|f| (f.key, f.raw)).collect();
    assert_eq!(fields, [("pid", "5"), ("comm", "\"cat\""), ("name", "")]);
    let open = parse_line(b"type=CWD msg=audit(1.000:2): cwd=\"/unterminated").unwrap();
    assert_eq!(open.field("cwd").unwrap().raw, "\"/unterminated");
}

#[test]
fn bad_lines_are_errors_not_panics() {
    let cases: &[(&[u8], LineError)] = &[
        (b"", LineError::Empty),
        (b"type=SYSCALL msg=audit(1.0\0:1): x=1", LineError::Nul { column: 26 }),
        (b"type=SYSCALL msg=audit(1.000:1): comm=\"\xff\xfe\"", LineError::NotUtf8 { column: 39 }),
        (b"\x7fELF\x02\x01\x01", LineError::NoType),
        (b"hello world", LineError::NoType),
        (b"node=only", LineError::NoType),
        (b"type=SYSCALL", LineError::NoHeader),
        (b"type= msg=audit(1.000:1):", LineError::NoType),
        (b"type=SYSCALL msg=audit(1700000000.123:4", LineError::BadHeader { reason: "no `)` after the serial" }),
        (b"type=SYSCALL msg=audit(1700000000.12", LineError::BadHeader { reason: "no `:` before the serial" }),
        (b"type=SYSCALL msg=audit(x.000:1): a=1", LineError::BadHeader { reason: "seconds" }),
        (b"type=SYSCALL msg=audit(1.5000:1): a=1", LineError::BadHeader { reason: "milliseconds" }),
        (b"type=SYSCALL msg=audit(1.000:99999999999999999999): a=1", LineError::BadHeader { reason: "serial" }),
        (b"type=SYSCALL msg=audit(1:1): a=1", LineError::BadHeader { reason: "no `.` after the seconds" }),
        (b"type=SYSCALL msg=(1.000:1): a=1", LineError::NoHeader),
        (b"type=SYSCALL audit1.000:1): a=1", LineError::NoHeader),
    ];
    for (bytes, want) in cases {
        assert_eq!(parse_line(bytes).unwrap_err(), *want, "{:?}", String::from_utf8_lossy(bytes));
    }
}

/// A header that stops short of its body is still a record, with no fields.
#[test]
fn a_record_with_no_fields() {
    let line = parse_line(b"type=EOE msg=audit(1700000000.000:9):").unwrap();
    assert!(line.header.kind.is_eoe());
    assert_eq!(line.fields().count(), 0);
}

/// `cargo test` covers what the fuzz target covers: random and mutated bytes never panic.
#[test]
#[expect(clippy::cast_possible_truncation, reason = "random bits: only the low ones are wanted")]
fn random_bytes_never_panic() {
    const ALPHABET: &[u8] = b"=\"' \x1d:.()[]0123456789AFaftype=msg=audit(\0\xff\n";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: [&[u8]; 4] = [
        RAW.as_bytes(),
        b"node=h type=USER_LOGIN msg=audit(1.000:7): pid=1 msg='op=x acct=\"a\" res=success'\x1dUID=\"root\"",
        b"type=PROCTITLE msg=audit(1.000:1): proctitle=2E2F7461",
        b"type=UNKNOWN[1338] msg=audit(1.000:1): a=\"b\" c='d",
    ];
    for i in 0..20_000 {
        let mut bytes = seeds[i % seeds.len()].to_vec();
        for _ in 0..(next() % 8) {
            let r = next() as usize;
            let pos = r % (bytes.len() + 1);
            match (r >> 16) % 4 {
                0 if pos < bytes.len() => bytes[pos] = ALPHABET[(r >> 24) % ALPHABET.len()],
                1 => bytes.insert(pos, ALPHABET[(r >> 24) % ALPHABET.len()]),
                2 => bytes.truncate(pos),
                _ => {
                    let n = ((r >> 24) % 3).min(bytes.len() - pos);
                    bytes[pos..].rotate_left(n);
                }
            }
        }
        if i % 5 == 0 {
            bytes = (0..next() % 200).map(|_| next() as u8).collect();
        }
        if let Ok(line) = parse_line(&bytes) {
            for f in line.fields() {
                let _ = (f.decoded(), f.decoded_lossy());
            }
            let _ = (line.node(), line.field("msg"));
        }
    }
}

#[test]
fn header_forms_auditd_wrote() {
    // No `msg=` before `audit(`.
    let line = parse_line(b"type=SYSCALL audit(1572298453.690:5717): arch=c00000b7 syscall=222").unwrap();
    assert_eq!(line.header.id, EventId { secs: 1_572_298_453, millis: 690, serial: 5717 });
    assert_eq!(line.field("syscall").unwrap().raw, "222");
    // No `:` after the closing parenthesis.
    let line = parse_line(b"type=DAEMON_CONFIG msg=audit(1.002:3) config changed auid=0 res=success").unwrap();
    assert_eq!(line.header.id, EventId { secs: 1, millis: 2, serial: 3 });
    assert_eq!(line.field("res").unwrap().raw, "success");
}

#[test]
fn a_quote_inside_msg_does_not_cut_its_fields() {
    let line = parse_line(
        b"type=USER_AUTH msg=audit(1.000:8): pid=3 msg='op=PAM:authentication acct='it's' exe=\"/bin/su\" res=failed'\x1dUID=\"root\"",
    )
    .unwrap();
    let keys: Vec<_> = line.fields().map(|f| (f.key, f.raw)).collect();
    assert_eq!(
        keys,
        [
            ("pid", "3"),
            ("op", "PAM:authentication"),
            ("acct", "'it'"),
            ("exe", "\"/bin/su\""),
            ("res", "failed"),
            ("UID", "\"root\"")
        ]
    );
}

#[test]
fn digits_take_one_to_nineteen_and_stop_at_the_first_other_byte() {
    assert_eq!(digits("0"), Some((0, 1)));
    assert_eq!(digits("1795494329.735"), Some((1_795_494_329, 10)));
    assert_eq!(digits("9999999999999999999)"), Some((9_999_999_999_999_999_999, 19)));
    assert_eq!(digits("18446744073709551615"), None, "20 digits");
    assert_eq!(digits(""), None);
    assert_eq!(digits(".5"), None);
    assert_eq!(digits("٣"), None, "only ASCII digits");
}

#[test]
fn a_nul_or_a_non_ascii_byte_anywhere_in_a_line_is_found() {
    let line = "type=CWD msg=audit(1700000000.001:42): cwd=\"/home/alice/a-directory-name-longer-than-32\"";
    assert!(is_ascii_without_nul(line.as_bytes()));
    for at in [0, 5, 31, 32, 33, 63, 64, line.len() - 1] {
        for bad in [0u8, 0x80, 0xff] {
            let mut bytes = line.as_bytes().to_vec();
            bytes[at] = bad;
            assert!(!is_ascii_without_nul(&bytes), "byte {bad:#x} at {at}");
        }
    }
    let mut nul = line.as_bytes().to_vec();
    nul[40] = 0;
    assert_eq!(parse_line(&nul).unwrap_err(), LineError::Nul { column: 40 });
    let utf8 = line.replace("alice", "alïce");
    assert_eq!(parse_line(utf8.as_bytes()).unwrap().text, utf8, "UTF-8 beyond ASCII is text");
    let mut latin1 = line.as_bytes().to_vec();
    latin1[50] = 0xe9;
    assert_eq!(parse_line(&latin1).unwrap_err(), LineError::NotUtf8 { column: 50 });
}
