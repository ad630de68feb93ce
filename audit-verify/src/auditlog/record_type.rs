//! Record types: the number the kernel or auditd gives a record, and the name auditd writes in `type=`.

use std::{borrow::Cow, fmt, sync::LazyLock};

/// A record's type. `code` is `None` only for a name we do not know that carries no number either (auditd
/// writes `UNKNOWN[n]` for numbers it cannot name, so in practice every record has a code).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordType {
    pub code: Option<u32>,
    /// The name from our table when the code is known (even if the log said `UNKNOWN[n]`), otherwise the
    /// text of the log.
    pub name: Cow<'static, str>,
}

pub const EOE: u32 = 1320;

impl RecordType {
    /// Parses the text after `type=`: a name, or `UNKNOWN[n]`.
    pub fn from_log(text: &str) -> Self {
        if let Some(num) = text.strip_prefix("UNKNOWN[").and_then(|t| t.strip_suffix(']'))
            && let Ok(code) = num.parse::<u32>()
        {
            return Self::from_code(code);
        }
        match BY_NAME.get(text) {
            Some((name, code)) => Self { code: Some(code), name: Cow::Borrowed(name) },
            None => Self { code: None, name: Cow::Owned(text.to_owned()) },
        }
    }

    #[must_use]
    pub fn from_code(code: u32) -> Self {
        match name_of(code) {
            Some(name) => Self { code: Some(code), name: Cow::Borrowed(name) },
            None => Self { code: Some(code), name: Cow::Owned(format!("UNKNOWN[{code}]")) },
        }
    }

    #[must_use]
    pub fn is_eoe(&self) -> bool {
        self.code == Some(EOE)
    }

    /// Records that are a whole event by themselves: messages from user space (1100–1199, 2100–2999) and
    /// from auditd (1200–1299). The kernel never adds records to them, so they need not wait for the window.
    #[must_use]
    pub fn is_standalone(&self) -> bool {
        matches!(self.code, Some(1100..=1299 | 2100..=2999))
    }
}

/// The code for a record type name (`SYSCALL`, `USER_LOGIN`, …), for `-F msgtype=`.
pub fn code_of(name: &str) -> Option<u32> {
    BY_NAME.get(name).map(|(_, code)| code)
}

/// The name of a record type code we know.
#[must_use]
pub fn name_of(code: u32) -> Option<&'static str> {
    TABLE.binary_search_by_key(&code, |(c, _)| *c).ok().map(|i| TABLE[i].1)
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Names to codes. Every line of a log is looked up here, so it is an open-addressing table with a cheap
/// hash (FNV-1a over a name of a few bytes): a binary search by name costs a string comparison per step.
static BY_NAME: LazyLock<NameTable> = LazyLock::new(NameTable::new);

struct NameTable {
    /// `TABLE` indices + 1 (0 is an empty slot); the length is a power of two, at least twice `TABLE`'s.
    slots: Box<[u16]>,
}

impl NameTable {
    fn new() -> Self {
        let len = (TABLE.len() * 2).next_power_of_two();
        let mut slots = vec![0u16; len].into_boxed_slice();
        for (i, &(_, name)) in TABLE.iter().enumerate() {
            let mut at = fnv1a(name) & (len - 1);
            while slots[at] != 0 {
                at = (at + 1) & (len - 1);
            }
            slots[at] = u16::try_from(i + 1).expect("TABLE fits in u16 indices");
        }
        Self { slots }
    }

    fn get(&self, name: &str) -> Option<(&'static str, u32)> {
        let mask = self.slots.len() - 1;
        let mut at = fnv1a(name) & mask;
        loop {
            let (code, known) = *TABLE.get(usize::from(self.slots[at]).checked_sub(1)?)?;
            if known == name {
                return Some((known, code));
            }
            at = (at + 1) & mask;
        }
    }
}

#[expect(clippy::cast_possible_truncation, reason = "a hash: only the low bits pick a slot")]
fn fnv1a(name: &str) -> usize {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    // Truncation is the point: only the low bits pick a slot.
    hash as usize
}

/// From linux/audit.h and audit-userspace's libaudit.h (via the audit-specs message dictionary), sorted by
/// code. The one record type table of the crate (log reading and `-F msgtype=`); a test checks that it
/// holds every type the installed uapi header defines.
const TABLE: &[(u32, &str)] = &[
    (1000, "GET"),
    (1001, "SET"),
    (1002, "LIST"),
    (1003, "ADD"),
    (1004, "DEL"),
    (1005, "USER"),
    (1006, "LOGIN"),
    (1007, "WATCH_INS"),
    (1008, "WATCH_REM"),
    (1009, "WATCH_LIST"),
    (1010, "SIGNAL_INFO"),
    (1011, "ADD_RULE"),
    (1012, "DEL_RULE"),
    (1013, "LIST_RULES"),
    (1014, "TRIM"),
    (1015, "MAKE_EQUIV"),
    (1016, "TTY_GET"),
    (1017, "TTY_SET"),
    (1018, "SET_FEATURE"),
    (1019, "GET_FEATURE"),
    (1100, "USER_AUTH"),
    (1101, "USER_ACCT"),
    (1102, "USER_MGMT"),
    (1103, "CRED_ACQ"),
    (1104, "CRED_DISP"),
    (1105, "USER_START"),
    (1106, "USER_END"),
    (1107, "USER_AVC"),
    (1108, "USER_CHAUTHTOK"),
    (1109, "USER_ERR"),
    (1110, "CRED_REFR"),
    (1111, "USYS_CONFIG"),
    (1112, "USER_LOGIN"),
    (1113, "USER_LOGOUT"),
    (1114, "ADD_USER"),
    (1115, "DEL_USER"),
    (1116, "ADD_GROUP"),
    (1117, "DEL_GROUP"),
    (1118, "DAC_CHECK"),
    (1119, "CHGRP_ID"),
    (1120, "TEST"),
    (1121, "TRUSTED_APP"),
    (1122, "USER_SELINUX_ERR"),
    (1123, "USER_CMD"),
    (1124, "USER_TTY"),
    (1125, "CHUSER_ID"),
    (1126, "GRP_AUTH"),
    (1127, "SYSTEM_BOOT"),
    (1128, "SYSTEM_SHUTDOWN"),
    (1129, "SYSTEM_RUNLEVEL"),
    (1130, "SERVICE_START"),
    (1131, "SERVICE_STOP"),
    (1132, "GRP_MGMT"),
    (1133, "GRP_CHAUTHTOK"),
    (1134, "MAC_CHECK"),
    (1135, "ACCT_LOCK"),
    (1136, "ACCT_UNLOCK"),
    (1137, "USER_DEVICE"),
    (1138, "SOFTWARE_UPDATE"),
    (1200, "DAEMON_START"),
    (1201, "DAEMON_END"),
    (1202, "DAEMON_ABORT"),
    (1203, "DAEMON_CONFIG"),
    (1204, "DAEMON_RECONFIG"),
    (1205, "DAEMON_ROTATE"),
    (1206, "DAEMON_RESUME"),
    (1207, "DAEMON_ACCEPT"),
    (1208, "DAEMON_CLOSE"),
    (1209, "DAEMON_ERR"),
    (1300, "SYSCALL"),
    (1301, "FS_WATCH"),
    (1302, "PATH"),
    (1303, "IPC"),
    (1304, "SOCKETCALL"),
    (1305, "CONFIG_CHANGE"),
    (1306, "SOCKADDR"),
    (1307, "CWD"),
    (1309, "EXECVE"),
    (1311, "IPC_SET_PERM"),
    (1312, "MQ_OPEN"),
    (1313, "MQ_SENDRECV"),
    (1314, "MQ_NOTIFY"),
    (1315, "MQ_GETSETATTR"),
    (1316, "KERNEL_OTHER"),
    (1317, "FD_PAIR"),
    (1318, "OBJ_PID"),
    (1319, "TTY"),
    (1320, "EOE"),
    (1321, "BPRM_FCAPS"),
    (1322, "CAPSET"),
    (1323, "MMAP"),
    (1324, "NETFILTER_PKT"),
    (1325, "NETFILTER_CFG"),
    (1326, "SECCOMP"),
    (1327, "PROCTITLE"),
    (1328, "FEATURE_CHANGE"),
    (1329, "REPLACE"),
    (1330, "KERN_MODULE"),
    (1331, "FANOTIFY"),
    (1332, "TIME_INJOFFSET"),
    (1333, "TIME_ADJNTPVAL"),
    (1334, "BPF"),
    (1335, "EVENT_LISTENER"),
    (1336, "URINGOP"),
    (1337, "OPENAT2"),
    (1338, "DM_CTRL"),
    (1339, "DM_EVENT"),
    (1400, "AVC"),
    (1401, "SELINUX_ERR"),
    (1402, "AVC_PATH"),
    (1403, "MAC_POLICY_LOAD"),
    (1404, "MAC_STATUS"),
    (1405, "MAC_CONFIG_CHANGE"),
    (1406, "MAC_UNLBL_ALLOW"),
    (1407, "MAC_CIPSOV4_ADD"),
    (1408, "MAC_CIPSOV4_DEL"),
    (1409, "MAC_MAP_ADD"),
    (1410, "MAC_MAP_DEL"),
    (1411, "MAC_IPSEC_ADDSA"),
    (1412, "MAC_IPSEC_DELSA"),
    (1413, "MAC_IPSEC_ADDSPD"),
    (1414, "MAC_IPSEC_DELSPD"),
    (1415, "MAC_IPSEC_EVENT"),
    (1416, "MAC_UNLBL_STCADD"),
    (1417, "MAC_UNLBL_STCDEL"),
    (1418, "MAC_CALIPSO_ADD"),
    (1419, "MAC_CALIPSO_DEL"),
    (1420, "MAC_TASK_CONTEXTS"),
    (1421, "MAC_OBJ_CONTEXTS"),
    (1500, "AA"),
    (1501, "APPARMOR_AUDIT"),
    (1502, "APPARMOR_ALLOWED"),
    (1503, "APPARMOR_DENIED"),
    (1504, "APPARMOR_HINT"),
    (1505, "APPARMOR_STATUS"),
    (1506, "APPARMOR_ERROR"),
    (1507, "APPARMOR_KILL"),
    (1700, "ANOM_PROMISCUOUS"),
    (1701, "ANOM_ABEND"),
    (1702, "ANOM_LINK"),
    (1703, "ANOM_CREAT"),
    (1800, "INTEGRITY_DATA"),
    (1801, "INTEGRITY_METADATA"),
    (1802, "INTEGRITY_STATUS"),
    (1803, "INTEGRITY_HASH"),
    (1804, "INTEGRITY_PCR"),
    (1805, "INTEGRITY_RULE"),
    (1806, "INTEGRITY_EVM_XATTR"),
    (1807, "INTEGRITY_POLICY_RULE"),
    (2000, "KERNEL"),
    (2100, "ANOM_LOGIN_FAILURES"),
    (2101, "ANOM_LOGIN_TIME"),
    (2102, "ANOM_LOGIN_SESSIONS"),
    (2103, "ANOM_LOGIN_ACCT"),
    (2104, "ANOM_LOGIN_LOCATION"),
    (2105, "ANOM_MAX_DAC"),
    (2106, "ANOM_MAX_MAC"),
    (2107, "ANOM_AMTU_FAIL"),
    (2108, "ANOM_RBAC_FAIL"),
    (2109, "ANOM_RBAC_INTEGRITY_FAIL"),
    (2110, "ANOM_CRYPTO_FAIL"),
    (2111, "ANOM_ACCESS_FS"),
    (2112, "ANOM_EXEC"),
    (2113, "ANOM_MK_EXEC"),
    (2114, "ANOM_ADD_ACCT"),
    (2115, "ANOM_DEL_ACCT"),
    (2116, "ANOM_MOD_ACCT"),
    (2117, "ANOM_ROOT_TRANS"),
    (2118, "ANOM_LOGIN_SERVICE"),
    (2200, "RESP_ANOMALY"),
    (2201, "RESP_ALERT"),
    (2202, "RESP_KILL_PROC"),
    (2203, "RESP_TERM_ACCESS"),
    (2204, "RESP_ACCT_REMOTE"),
    (2205, "RESP_ACCT_LOCK_TIMED"),
    (2206, "RESP_ACCT_UNLOCK_TIMED"),
    (2207, "RESP_ACCT_LOCK"),
    (2208, "RESP_TERM_LOCK"),
    (2209, "RESP_SEBOOL"),
    (2210, "RESP_EXEC"),
    (2211, "RESP_SINGLE"),
    (2212, "RESP_HALT"),
    (2213, "RESP_ORIGIN_BLOCK"),
    (2214, "RESP_ORIGIN_BLOCK_TIMED"),
    (2300, "USER_ROLE_CHANGE"),
    (2301, "ROLE_ASSIGN"),
    (2302, "ROLE_REMOVE"),
    (2303, "LABEL_OVERRIDE"),
    (2304, "LABEL_LEVEL_CHANGE"),
    (2305, "USER_LABELED_EXPORT"),
    (2306, "USER_UNLABELED_EXPORT"),
    (2307, "DEV_ALLOC"),
    (2308, "DEV_DEALLOC"),
    (2309, "FS_RELABEL"),
    (2310, "USER_MAC_POLICY_LOAD"),
    (2311, "ROLE_MODIFY"),
    (2312, "USER_MAC_CONFIG_CHANGE"),
    (2313, "USER_MAC_STATUS"),
    (2400, "CRYPTO_TEST_USER"),
    (2401, "CRYPTO_PARAM_CHANGE_USER"),
    (2402, "CRYPTO_LOGIN"),
    (2403, "CRYPTO_LOGOUT"),
    (2404, "CRYPTO_KEY_USER"),
    (2405, "CRYPTO_FAILURE_USER"),
    (2406, "CRYPTO_REPLAY_USER"),
    (2407, "CRYPTO_SESSION"),
    (2408, "CRYPTO_IKE_SA"),
    (2409, "CRYPTO_IPSEC_SA"),
    (2500, "VIRT_CONTROL"),
    (2501, "VIRT_RESOURCE"),
    (2502, "VIRT_MACHINE_ID"),
    (2503, "VIRT_INTEGRITY_CHECK"),
    (2504, "VIRT_CREATE"),
    (2505, "VIRT_DESTROY"),
    (2506, "VIRT_MIGRATE_IN"),
    (2507, "VIRT_MIGRATE_OUT"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0), "TABLE must stay sorted by code");
        for &(code, name) in TABLE {
            assert_eq!(RecordType::from_log(name), RecordType::from_code(code), "{name}");
        }
        let syscall = RecordType::from_log("SYSCALL");
        assert_eq!((syscall.code, syscall.name.as_ref()), (Some(1300), "SYSCALL"));
        assert_eq!(RecordType::from_code(1327).name, "PROCTITLE");
        assert!(RecordType::from_log("EOE").is_eoe());
        assert!(RecordType::from_log("USER_LOGIN").is_standalone());
        assert!(!RecordType::from_log("CONFIG_CHANGE").is_standalone());
    }

    #[test]
    fn every_kernel_record_type_is_in_the_table() {
        // The build reads the same header for the field tables (linux-libc-dev).
        let header = std::fs::read_to_string("/usr/include/linux/audit.h").expect("linux/audit.h");
        let mut checked = 0;
        for line in header.lines() {
            let mut words = line.split_whitespace();
            let (Some("#define"), Some(name), Some(value)) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let (Some(name), Ok(code)) = (name.strip_prefix("AUDIT_"), value.parse::<u32>()) else { continue };
            if (1000..=2999).contains(&code) && !name.starts_with("FIRST_") && !name.starts_with("LAST_") {
                assert_eq!(code_of(name), Some(code), "AUDIT_{name} {code}");
                checked += 1;
            }
        }
        assert!(checked > 80, "only {checked} record types in the header");
        assert_eq!(name_of(1112), Some("USER_LOGIN"));
    }

    #[test]
    fn unknown_types_keep_their_number() {
        let t = RecordType::from_log("UNKNOWN[1999]");
        assert_eq!((t.code, t.name.as_ref()), (Some(1999), "UNKNOWN[1999]"));
        // auditd 3.0.9 does not know DM_CTRL; we do.
        assert_eq!(RecordType::from_log("UNKNOWN[1338]").name, "DM_CTRL");
        let t = RecordType::from_log("NOT_A_TYPE");
        assert_eq!((t.code, t.name.as_ref()), (None, "NOT_A_TYPE"));
        assert_eq!(RecordType::from_log("UNKNOWN[x]").code, None);
    }
}
