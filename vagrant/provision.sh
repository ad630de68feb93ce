#!/bin/sh
# Staging validation of a host's audit set-up, in three steps: install, load-rules, verify.
# Shared by the Vagrant boxes (vagrant/Vagrantfile) and the QEMU harness (`cargo xtask vm-test`), so that
# what the harness tests is what Vagrant runs. POSIX sh: the harness's guest has only busybox.
#
#   provision.sh [install] [load-rules] [verify]        (no argument: all three, in this order)
#
# Environment:
#   AUDIT_VERIFY_RULES       `baseline` (default: rules/baseline.rules beside this script), or a rules
#                            file, or a directory of *.rules files (the user's set)
#   AUDIT_VERIFY_BIN         an audit-verify binary to install (install step), default: none
#   AUDIT_VERIFY_REPORT_DIR  where verify writes its reports, default /var/lib/audit-verify/report
#
# Exit: 0 when every step ran (findings are in the report, not in the exit code), non-zero otherwise.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
RULES=${AUDIT_VERIFY_RULES:-baseline}
REPORT_DIR=${AUDIT_VERIFY_REPORT_DIR:-/var/lib/audit-verify/report}
RULES_FILE=/etc/audit/rules.d/50-audit-verify.rules

say() { echo "provision: $*"; }
die() { echo "provision: error: $*" >&2; exit 2; }

auditd_pid() { auditctl -s 2>/dev/null | sed -n 's/^pid //p'; }

# The kernel keeps a dead auditd's pid registered until a send to it fails: the process must exist.
auditd_running() {
    pid=$(auditd_pid)
    [ -n "$pid" ] && [ "$pid" != "0" ] && kill -0 "$pid" 2> /dev/null
}

start_auditd() {
    auditd_running && return 0
    if command -v systemctl > /dev/null 2>&1 && [ -d /run/systemd/system ]; then
        # RHEL-family units refuse `systemctl restart`, not start.
        systemctl enable auditd > /dev/null 2>&1 || true
        systemctl start auditd
    else
        auditd
    fi
    i=0
    while ! auditd_running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    auditd_running || die "auditd did not register with the kernel"
}

step_install() {
    if command -v auditctl > /dev/null 2>&1 && command -v audit-verify > /dev/null 2>&1; then
        say "install: skipped, auditd and audit-verify are already installed ($(command -v audit-verify))"
    else
        if ! command -v auditctl > /dev/null 2>&1; then
            if command -v apt-get > /dev/null 2>&1; then
                say "install: auditd (apt)"
                DEBIAN_FRONTEND=noninteractive apt-get update -q
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q auditd
            elif command -v dnf > /dev/null 2>&1; then
                say "install: audit (dnf)"
                dnf install -y -q audit
            elif command -v yum > /dev/null 2>&1; then
                yum install -y -q audit
            else
                die "no apt-get, dnf or yum: install auditd yourself"
            fi
        fi
        if ! command -v audit-verify > /dev/null 2>&1; then
            [ -n "${AUDIT_VERIFY_BIN:-}" ] && [ -f "$AUDIT_VERIFY_BIN" ] \
                || die "audit-verify is not installed and AUDIT_VERIFY_BIN names no binary"
            say "install: audit-verify from $AUDIT_VERIFY_BIN to /usr/local/bin"
            install -m 0755 "$AUDIT_VERIFY_BIN" /usr/local/bin/audit-verify
        fi
    fi
    start_auditd
    say "install: auditd pid $(auditd_pid), $(audit-verify --version)"
}

step_load_rules() {
    start_auditd
    case "$RULES" in
    baseline) source="$HERE/rules/baseline.rules" ;;
    *) source="$RULES" ;;
    esac
    mkdir -p /etc/audit/rules.d
    if [ -d "$source" ]; then
        # The user's directory is the whole set: the rules.d files found on the first run (the distro's)
        # are moved aside once, and a later run replaces the previous run's copies.
        found=0
        for f in "$source"/*.rules; do
            if [ -f "$f" ]; then found=$((found + 1)); fi
        done
        [ $found -gt 0 ] || die "$source holds no *.rules file"
        saved=/etc/audit/rules.d.before-audit-verify
        if ls /etc/audit/rules.d/*.rules > /dev/null 2>&1; then
            if [ -d "$saved" ]; then
                rm -f /etc/audit/rules.d/*.rules
            else
                mkdir -p "$saved"
                mv /etc/audit/rules.d/*.rules "$saved"/
                say "load-rules: the previous rules.d files are in $saved"
            fi
        fi
        cp "$source"/*.rules /etc/audit/rules.d/
        say "load-rules: $found files from $source"
    elif [ -f "$source" ]; then
        cp "$source" "$RULES_FILE"
        say "load-rules: $source as $RULES_FILE"
    else
        die "no rules at $source (AUDIT_VERIFY_RULES=$RULES)"
    fi
    if command -v augenrules > /dev/null 2>&1; then
        augenrules --load > /tmp/audit-verify-augenrules.out 2>&1 || {
            cat /tmp/audit-verify-augenrules.out >&2
            die "augenrules --load failed"
        }
    else
        cat /etc/audit/rules.d/*.rules > /etc/audit/audit.rules
        auditctl -R /etc/audit/audit.rules > /dev/null
    fi
    say "load-rules: $(auditctl -l | grep -vc '^No rules') rules loaded, $(auditctl -s | grep -E '^(enabled|backlog_limit) ' | tr '\n' ' ')"
}

# Runs audit-verify; its exit code 1 means findings (reported), 2 means it could not run.
run_av() {
    rc=0
    "$@" || rc=$?
    [ $rc -le 1 ] || die "$* failed (exit $rc)"
    return 0
}

step_verify() {
    mkdir -p "$REPORT_DIR"
    if audit-verify check --help > /dev/null 2>&1; then
        run_av audit-verify check --json --junit "$REPORT_DIR/check.xml" > "$REPORT_DIR/check.json"
        say "verify: audit-verify check wrote $REPORT_DIR/check.xml and check.json"
    else
        # `check` is the one-shot verdict; until this build has it, the parts it is made of.
        say "verify: this audit-verify has no check command; writing status, rules and prove reports instead"
        echo "audit-verify $(audit-verify --version) has no check command" > "$REPORT_DIR/check-missing.txt"
        run_av audit-verify status --json > "$REPORT_DIR/status.json"
        run_av audit-verify rules --json > "$REPORT_DIR/rules.json"
        if audit-verify prove --help > /dev/null 2>&1; then
            run_av audit-verify prove --json --junit "$REPORT_DIR/prove.xml" > "$REPORT_DIR/prove.json"
        fi
        say "verify: wrote $(cd "$REPORT_DIR" && echo *)"
    fi
}

[ "$(id -u)" = 0 ] || die "run as root"
[ $# -gt 0 ] || set -- install load-rules verify
for step in "$@"; do
    case "$step" in
    install) step_install ;;
    load-rules) step_load_rules ;;
    verify) step_verify ;;
    *) die "unknown step $step (install, load-rules, verify)" ;;
    esac
done
