#!/bin/sh
# The VM harness's scenarios, run by vm/init inside the QEMU guest (never on a host: scenario 6 locks the
# audit configuration until reboot). One line per scenario on the console:
#   VMTEST <n> <name> PASS|FAIL|SKIP: <detail>
# which `cargo xtask vm-test` parses. Order: 1-4, provisioning, then 6 (locks) and 5 (needs the lock).

AV=/usr/bin/audit-verify
OUT=/tmp/vmtest
mkdir -p "$OUT"

result() { echo "VMTEST $1 $2 $3: $4"; }
say() { echo "vm: $*"; }
lost() { auditctl -s | sed -n 's/^lost //p'; }

# The audit daemon, as a distribution would start it (no systemd here).
auditd
i=0
while [ "$(auditctl -s | sed -n 's/^pid //p')" = "0" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
say "auditd pid $(auditctl -s | sed -n 's/^pid //p')"

# ---- 1: status sees kprobe/fentry and picks that backend ---------------------------------------------
$AV status --json > $OUT/status1.json 2> $OUT/status1.err
kp=$(jq -r .capabilities.kprobe.available $OUT/status1.json)
fe=$(jq -r .capabilities.fentry.available $OUT/status1.json)
be=$(jq -r .capabilities.backend $OUT/status1.json)
why=$(jq -r '.capabilities.fentry.reason // ""' $OUT/status1.json)
if [ "$kp" = true ] && { [ "$be" = fentry ] || { [ "$be" = kprobe ] && [ "$fe" != true ]; }; }; then
    result 1 status PASS "kprobe available=$kp, fentry available=$fe${why:+ ($why)}, backend=$be"
else
    result 1 status FAIL "kprobe available=$kp, fentry available=$fe, backend=$be: $(head -c 300 $OUT/status1.err)"
fi

# ---- 2: the kprobe/fentry backend attaches (hook table outcome) --------------------------------------
$AV measure --duration 2 --json > $OUT/measure2.json 2> $OUT/measure2.err
mbe=$(jq -r .backend $OUT/measure2.json 2>/dev/null)
hooks=$(jq -r '[.probes.hooks[]? | "\(.symbol)=\(.attached // "skipped")"] | join(" ")' $OUT/measure2.json 2>/dev/null)
skips=$(jq -r '[.probes.hooks[]? | select(.attached == null) | "\(.symbol): \(.skipped | join("; "))"] | join(" | ")' $OUT/measure2.json 2>/dev/null)
lost_hook=$(jq -r '.probes.hooks[]? | select(.symbol == "audit_log_lost") | .attached // ""' $OUT/measure2.json 2>/dev/null)
if { [ "$mbe" = fentry ] || [ "$mbe" = kprobe ]; } && [ -n "$lost_hook" ] && [ "$mbe" = "$be" ]; then
    result 2 attach PASS "measure backend=$mbe; hooks: $hooks${skips:+; skipped: $skips}"
else
    result 2 attach FAIL "measure backend=$mbe (status said $be); hooks: $hooks; $(tail -c 300 $OUT/measure2.err)"
fi

# ---- 3: backlog overflow: drops = lost delta, reason "backlog limit exceeded" --------------------------
auditctl -b 64 --backlog_wait_time 0 > /dev/null
auditctl -a always,exit -F arch=b64 -S execve -k vm-storm
storm() { n=0; while [ $n -lt "$1" ]; do /bin/true; n=$((n + 1)); done; }
$AV measure --duration 25 --json > $OUT/measure3.json 2> $OUT/measure3.err &
mpid=$!
i=0
while ! grep -q "observing" $OUT/measure3.err 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
lost0=$(lost)
t0=$(date +%s)
storm 600 & s1=$!
storm 600 & s2=$!
storm 600 & s3=$!
storm 600 & s4=$!
wait $s1 $s2 $s3 $s4
lost1=$(lost)
t1=$(date +%s)
wait $mpid
auditctl -D > /dev/null
auditctl -b 8192 --backlog_wait_time 60000 > /dev/null
delta=$((lost1 - lost0))
total=$(jq -r .kernel_drops.total $OUT/measure3.json 2>/dev/null)
calls=$(jq -r .probes.lost_calls $OUT/measure3.json 2>/dev/null)
backlog=$(jq -r '.kernel_drops.by_reason.backlog_limit // 0' $OUT/measure3.json 2>/dev/null)
said=$(jq -r '.probes.lost_messages["backlog limit exceeded"] // 0' $OUT/measure3.json 2>/dev/null)
reasons=$(jq -c .kernel_drops.by_reason $OUT/measure3.json 2>/dev/null)
kauditd=$(jq -c '.probes | {records_ended, log_start_null, hold_skb, retry_skb, rehold_skb, unicast_delivered, unicast_failed, serial_range}' $OUT/measure3.json 2>/dev/null)
detail="storm of 2400 execve in $((t1 - t0)) s; lost delta $delta, measure drops $total, audit_log_lost calls $calls, by reason $reasons, \"backlog limit exceeded\" $said; $kauditd"
if [ "$delta" -gt 0 ] && [ "$total" = "$delta" ] && [ "$calls" = "$delta" ] && [ "$backlog" = "$delta" ] && [ "$said" = "$delta" ]; then
    result 3 backlog PASS "$detail"
else
    result 3 backlog FAIL "$detail; $(tail -c 300 $OUT/measure3.err)"
fi

# ---- 4: tamper check: someone else's kprobe on audit_log_start ---------------------------------------
hold_kprobe > $OUT/hold.out 2> $OUT/hold.err &
hpid=$!
i=0
while ! grep -q attached $OUT/hold.out 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
$AV status --json > $OUT/status4.json 2> $OUT/status4.err
kill $hpid 2>/dev/null
wait $hpid 2>/dev/null
finding=$(jq -r '[.findings[] | select(.id == "bpf_on_audit_path") | .message] | join(" | ")' $OUT/status4.json 2>/dev/null)
case "$finding" in
*probe_kprobe*audit_log_start* | *audit_log_start*probe_kprobe*)
    result 4 tamper PASS "bpf_on_audit_path: $finding" ;;
*)
    result 4 tamper FAIL "no finding naming probe_kprobe on audit_log_start: '$finding'; $(cat $OUT/hold.out $OUT/hold.err | head -c 300)" ;;
esac

# ---- provisioning: vagrant/provision.sh's load-rules and verify steps, as the Vagrant boxes run them ----
AUDIT_VERIFY_RULES=baseline AUDIT_VERIFY_REPORT_DIR=$OUT/provision \
    sh /vm/provision.sh > $OUT/provision.out 2>&1
prc=$?
loaded=$(auditctl -l | grep -vc '^No rules')
if [ $prc -eq 0 ] && [ "$loaded" -gt 0 ] && ls $OUT/provision/* > /dev/null 2>&1; then
    result P provision PASS "exit 0, $loaded rules loaded, reports: $(cd $OUT/provision && echo *); $(grep '^provision:' $OUT/provision.out | tr '\n' ' ' | head -c 400)"
else
    result P provision FAIL "exit $prc, $loaded rules loaded; $(tail -c 400 $OUT/provision.out)"
fi

# ---- 6: lock the configuration (the only -e 2 anywhere), status says locked ---------------------------
auditctl -D > /dev/null
grep -v "^-e 2" /vm/rules/locked.rules > /tmp/unlocked.rules
auditctl -R /tmp/unlocked.rules > /dev/null
auditctl -e 2 > /dev/null
$AV status --json > $OUT/status6.json 2> $OUT/status6.err
en=$(jq -r .kernel.enabled $OUT/status6.json 2>/dev/null)
st=$(jq -r .enabled_state $OUT/status6.json 2>/dev/null)
if [ "$en" = 2 ] && [ "$st" = locked ]; then
    result 6 locked PASS "after auditctl -e 2: enabled $en ($st), $(jq -r .loaded_rules $OUT/status6.json) rules loaded"
else
    result 6 locked FAIL "enabled $en ($st); $(head -c 300 $OUT/status6.err)"
fi

# ---- 5: prove on a rules set ending in -e 2, kernel locked -------------------------------------------
if ! $AV prove --help > /dev/null 2>&1; then
    result 5 prove SKIP "audit-verify prove --help does not exist in this build"
else
    $AV prove --rules-file /vm/rules/locked.rules --json > $OUT/prove5.json 2> $OUT/prove5.err
    rc=$?
    states=$(jq -c '[.rules[].state] | group_by(.) | map({(.[0]): length}) | add' $OUT/prove5.json 2>/dev/null)
    proven=$(jq '[.rules[] | select(.state == "proven")] | length' $OUT/prove5.json 2>/dev/null)
    bad=$(jq '[.rules[] | select(.state == "failed" or .state == "not_loaded" or .state == "not_written")] | length' $OUT/prove5.json 2>/dev/null)
    if [ "$rc" -le 1 ] && [ "${proven:-0}" -gt 0 ] && [ "${bad:-1}" -eq 0 ]; then
        result 5 prove PASS "exit $rc, states $states"
    else
        result 5 prove FAIL "exit $rc, states $states; $(jq -c '[.rules[] | {rule, state, reason}]' $OUT/prove5.json 2>/dev/null | head -c 400) $(tail -c 300 $OUT/prove5.err)"
    fi
fi
