#!/usr/bin/env python3
"""Prints ONE table: tollguard's daemon (this run) beside fail2ban (this run, when measured)
and the peers' numbers measured earlier with the same harness
(research/peer-daemon-baseline.md, quoted as "measured earlier").

Usage: python3 bench/daemon_summary.py RESULTS_DIR   (written by bench/daemon_bench.sh)
"""

import glob
import json
import os
import sys

# research/peer-daemon-baseline.md, 2026-11-25, same harness, same machine kind.
EARLIER = {
    "fail2ban": {
        "reaction": "115 / 474 / 559",
        "isolated": "537 / 1,110",
        "flood_cpu": "97 / 133",
        "flood_rss": "46",
        "flood_banned_by_end": "~600 / 2,000",
        "flood_last_ban": "50-54 s",
        "flood_delay": "23.4 s / 51.4 s / 51.8 s",
        "flood_backlog": "~690k lines",
        "apply": "-",
        "restore": "20,000 in 355-362 s",
        "probe": "+362 s (after the restore)",
    },
    "fail2ban-rs": {
        "reaction": "152 / 252 / 254",
        "isolated": "106 / 248",
        "flood_cpu": "8 / 33",
        "flood_rss": "11.5",
        "flood_banned_by_end": "~1,980 / 2,000",
        "flood_last_ban": "0.11-0.15 s",
        "flood_delay": "0.16 s / 0.25 s / 0.26 s",
        "flood_backlog": "10-12k lines (one poll)",
        "apply": "20,000 in 48-50 s (log replay)",
        "restore": "20,000 in 48-49 s",
        "probe": "never",
    },
}


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def ms(v):
    return "-" if v is None else ("%.1f" % v if v < 100 else "{:,.0f}".format(v))


def lat(summary, keys=("p50", "p99", "max")):
    if not summary or not summary.get("n"):
        return "-"
    return " / ".join(ms(summary.get(k)) for k in keys)


def secs(v):
    return "-" if v is None else "%.2f s" % v


def flood_rows(f, work_status):
    if not f:
        return {}
    expected = None
    found = None
    if all(k in f for k in ("batches", "lines_per_batch", "attack_share")):
        per_batch_attack = int(round(f["lines_per_batch"] * f["attack_share"]))
        expected = f["batches"] * per_batch_attack + 1 + 3  # + end marker + warm-up attacker
    if work_status:
        found = work_status["counters"]["findings"]
    d = f.get("per_attacker_latency_block_set_ms") or {}
    return {
        "flood_rate": "{:,} lines/s, {:,} lines".format(f.get("achieved_rate_lines_s", 0),
                                                          f.get("lines_written", 0)),
        "flood_cpu": "%s / %s" % (f.get("cpu_pct_flood_self"), f.get("cpu_pct_flood_with_children")),
        "flood_rss": "%.1f" % (f["daemon_vmhwm_kb"] / 1024.0) if f.get("daemon_vmhwm_kb") else "-",
        "flood_banned_by_end": "{:,} / {:,}".format(f.get("banned_by_flood_end", 0), f.get("banned", 0)),
        "flood_last_ban": secs(f.get("last_ban_after_flood_end_s")),
        "flood_delay": ("%s / %s / %s ms" % (ms(d.get("p50")), ms(d.get("p99")), ms(d.get("max"))))
        if d.get("n") else "-",
        "flood_backlog": "{:,} lines".format(f["backlog_lines_at_flood_end"])
        if f.get("backlog_lines_at_flood_end") is not None else "-",
        "flood_findings": ("{:,} of {:,} attack lines".format(found, expected)
                           if found is not None and expected is not None else "-"),
    }


def status_of(results_dir, work_name):
    base = os.path.dirname(os.path.abspath(results_dir))
    files = sorted(glob.glob(os.path.join(base, work_name, "status-at-stop-*.json")))
    if not files:
        return None
    with open(files[0]) as f:
        return json.load(f)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/tg-daemon-bench/results"
    tg = {}
    r = load(d, "reaction_tollguard.json")
    if r:
        tg["reaction"] = lat(r.get("latency_block_set_ms"))
    i = load(d, "isolated_tollguard.json")
    if i:
        tg["isolated"] = lat(i.get("latency_block_set_ms"), ("p50", "max"))
    tg.update(flood_rows(load(d, "flood_tollguard.json"), status_of(d, "f")))
    s = load(d, "restore_tollguard.json")
    if s:
        n = "{:,}".format(s["bans"])
        tg["apply"] = "%s in %s (monitor saw the last at %s)" % (
            n, secs(s.get("populate_applied_s")), secs(s.get("populate_all_in_set_s")))
        tg["restore"] = "%s in %s after the restart (the daemon's restore: %s ms; %s in nft list)" % (
            n, secs(s.get("restore_done_s")), s.get("restore_daemon_ms"),
            "{:,}".format(s.get("nft_list_count", 0)))
        tg["probe"] = ("written +%.2f s, banned +%.2f s (%s ms; the daemon's log: %s ms)" % (
            s["probe_written_at_s"], s["probe_banned_at_s"], ms(s.get("probe_latency_ms")),
            ms(s.get("probe_daemon_latency_ms")))
            if s.get("probe_banned_at_s") is not None and s.get("probe_written_at_s") is not None
            else "never")
    f2b = {}
    r = load(d, "reaction_fail2ban.json")
    if r:
        f2b["reaction"] = lat(r.get("latency_block_set_ms"))
    f2b.update(flood_rows(load(d, "flood_fail2ban.json"), None))
    rows = [
        ("Reaction, 200 attackers 50 ms apart: 3rd line written → IP in the set, p50 / p99 / max ms",
         "reaction", "p99 < 10 ms"),
        ("Reaction, lone attacker on an idle daemon, p50 / max ms", "isolated", "p99 < 10 ms"),
        ("Flood: achieved write rate", "flood_rate", "50,000 lines/s × 20 s"),
        ("Flood: CPU % of one core, self / incl. children (living and exited)", "flood_cpu", "< 10 (total)"),
        ("Flood: peak RSS MB", "flood_rss", "< 32"),
        ("Flood: findings counted by the daemon", "flood_findings", "0 lost"),
        ("Flood: 2,000 attackers banned by flood end / at the end", "flood_banned_by_end", "2,000 / 2,000"),
        ("Flood: last ban after the flood ends", "flood_last_ban", "-"),
        ("Flood: per-attacker ban delay p50 / p99 / max (3rd failure → set)", "flood_delay", "< 50 ms"),
        ("Flood: reader backlog at flood end", "flood_backlog", "0"),
        ("Bans applied from one burst of lines (3 per attacker)", "apply", "100,000 < 1 s"),
        ("Restore after restart (kernel sets emptied)", "restore", "100,000 < 2 s"),
        ("New attacker logged during the restore", "probe", "within the reaction target"),
    ]
    cols = ["tollguard (this run)"]
    if f2b:
        cols.append("fail2ban 1.0.2 (this run)")
    cols += ["fail2ban 1.0.2 (measured earlier)", "fail2ban-rs 1.5.4 (measured earlier)", "target"]
    print("| | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, key, target in rows:
        cells = [tg.get(key, "-")]
        if f2b:
            cells.append(f2b.get(key, "-"))
        cells += [EARLIER["fail2ban"].get(key, "-"), EARLIER["fail2ban-rs"].get(key, "-"), target]
        print("| %s | %s |" % (label, " | ".join(cells)))
    machine = os.path.join(d, "machine.txt")
    if os.path.exists(machine):
        print()
        with open(machine) as f:
            print(f.read().strip())
    failures = os.path.join(d, "failures.txt")
    if os.path.exists(failures):
        with open(failures) as f:
            print("\nFAILURES:\n" + f.read())


if __name__ == "__main__":
    main()
