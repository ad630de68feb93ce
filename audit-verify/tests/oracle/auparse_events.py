#!/usr/bin/python3
"""Prints how auparse groups an audit.log into events, as JSON: the oracle of tests/auditlog_oracle.rs.

One JSON object per file given: {"file": PATH, "events": [{"node", "secs", "millis", "serial", "types"}]}
where "types" are the record type numbers in the order auparse gives them. Needs python3-audit (Debian's,
so run it with /usr/bin/python3, not a pyenv interpreter).
"""

import json
import sys

import auparse


def events(path):
    au = auparse.AuParser(auparse.AUSOURCE_FILE, path)
    out = []
    while au.parse_next_event():
        ts = au.get_timestamp()
        if ts is None:
            # auparse hands back some lines it cannot parse (a `#` comment) as an event without a
            # timestamp; the reader skips them with a warning. Only events are compared.
            continue
        types = []
        au.first_record()
        while True:
            types.append(au.get_type())
            if not au.next_record():
                break
        out.append({"node": ts.host, "secs": ts.sec, "millis": ts.milli, "serial": ts.serial, "types": types})
    return out


def main():
    result = [{"file": path, "events": events(path)} for path in sys.argv[1:]]
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
