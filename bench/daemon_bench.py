#!/usr/bin/env python3
"""tollguard's daemon under the peers' harness: reaction, flood, restore.

This is the harness that measured fail2ban and fail2ban-rs (research/peer-daemon-baseline.md,
bench/peer_daemon_bench.py in the shared folder), imported unchanged, with tollguard added as a
third daemon and one measurement widened for every daemon: CPU "incl. children" also counts
living child processes (`proc_times_tree`), not only exited ones.  `reaction` and `flood` are the harness's own functions; `restore` follows its
method for tollguard, whose bans outlive the process (the peers flush their sets when they
stop, tollguard does not), so the kernel table is deleted between stop and restart, as a reboot
would.  The restore also times the initial load: N attackers' lines written at once until all N
are in the kernel set ("N bans applied").

Runs INSIDE a tgr-* network namespace made by bench/daemon_bench.sh (the harness refuses to
run elsewhere).  Standard library only.  Environment: TOLLGUARD_BIN (the binary, release
build), PEER_BENCH_DIR (where peer_daemon_bench.py lives).
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_DIR = os.environ.get("PEER_BENCH_DIR",
                          os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench")))
sys.path.insert(0, PEER_DIR)
import peer_daemon_bench as H  # noqa: E402  (the peers' harness, unchanged)

TG_BIN = os.environ.get("TOLLGUARD_BIN",
                        os.path.join(HERE, "..", "target", "release", "tollguard"))
mono = time.monotonic


class Tollguard:
    """`tollguard run --config CONFIG`, its state and socket in the work directory."""
    name = "tollguard"

    def __init__(self, work, bantime=3600):
        self.work = work
        self.cfg = os.path.join(work, "tollguard.toml")
        self.state = os.path.join(work, "state")
        self.sock = os.path.join(work, "tg.sock")
        self.flog = os.path.join(work, "tollguard.log")
        self.logpath = os.path.join(work, "asterisk.log")
        self.bantime = bantime
        self.proc = None
        self.write_config()

    def sets(self):
        return ["banned_v4"]

    def block_set(self):
        return "banned_v4"

    def write_config(self):
        txt = ("[daemon]\nstate_dir = \"%s\"\nsocket = \"%s\"\n\n"
               "[jail.sip]\nlogs = [\"%s\"]\nmax_retry = 3\nfind_time = \"10m\"\n"
               "ban_time = \"%ds\"\n\n"
               "[jail.iax]\nenabled = false\n[jail.ami]\nenabled = false\n"
               "[jail.web]\nenabled = false\n[jail.ssh]\nenabled = false\n"
               "[jail.ftp]\nenabled = false\n" % (self.state, self.sock, self.logpath,
                                                    self.bantime))
        with open(self.cfg, "w") as f:
            f.write(txt)

    def config_text(self):
        with open(self.cfg) as f:
            return {"tollguard.toml": f.read()}

    def counters(self):
        """The daemon's counters (tollguard status --format json), or None."""
        r = subprocess.run([TG_BIN, "status", "--format", "json", "--socket", self.sock],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode != 0:
            return None
        import json
        return json.loads(r.stdout)["counters"]

    def ctl_ok(self, *args):
        return subprocess.run([TG_BIN, *args, "--socket", self.sock], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0

    def start(self):
        if not os.path.exists(self.logpath):
            open(self.logpath, "a").close()
        self.t_start = mono()
        self.proc = subprocess.Popen([TG_BIN, "run", "--config", self.cfg],
                                     stdout=open(self.flog, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid
        ok = H.wait_until(lambda: self.proc.poll() is not None or self.ctl_ok("status"), 60, 0.01)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError("tollguard did not start; see %s" % self.flog)
        self.t_ready = mono()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        # The daemon's own counters (lines, findings, bans) as it stops, for the summary.
        status = subprocess.run([TG_BIN, "status", "--format", "json", "--socket", self.sock],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if status.returncode == 0:
            n = len([f for f in os.listdir(self.work) if f.startswith("status-at-stop")])
            with open(os.path.join(self.work, "status-at-stop-%d.json" % n), "w") as f:
                f.write(status.stdout)
        self.proc.send_signal(signal.SIGTERM)  # by PID
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def version(self):
        return subprocess.run([TG_BIN, "--version"], stdout=subprocess.PIPE,
                              text=True).stdout.strip()


_peer_make_daemon = H.make_daemon


def make_daemon(args, work, bantime=3600, **kw):
    if args.daemon == "tollguard":
        return Tollguard(work, bantime=bantime)
    return _peer_make_daemon(args, work, bantime=bantime, **kw)


H.make_daemon = make_daemon

_peer_proc_times = H.proc_times


def live_descendants(pid):
    """Every living process below `pid` (found by parent id in /proc/*/stat)."""
    parent = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                s = f.read()
        except OSError:
            continue
        parent[int(entry)] = int(s[s.rindex(")") + 2:].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.extend(kids)
        todo.extend(kids)
    return out


def proc_times_tree(pid):
    """(self_cpu_s, children_cpu_s) where children counts the exited children (cutime+cstime,
    as the harness does) AND every living descendant's own and reaped time: a long-lived helper
    process (such as an `nft -i` session) is part of the daemon's cost while it still runs,
    which /proc/PID/stat alone cannot show. Used for every daemon in the run, peers included."""
    own, children = _peer_proc_times(pid)
    for child in live_descendants(pid):
        try:
            c_own, c_children = _peer_proc_times(child)
        except OSError:  # ended between the scan and the read: its time is now in cutime
            continue
        children += c_own + c_children
    return own, round(children, 2)


H.proc_times = proc_times_tree


def in_block_set(mon, ips, bs):
    return sum(1 for (s, ip) in mon.first if s == bs and ip in ips)


def log_time_of(path, needle):
    """Unix time of the last daemon log line containing `needle` (its RFC 3339 UTC stamp)."""
    import calendar
    found = None
    with open(path, errors="replace") as f:
        for ln in f:
            if needle in ln:
                found = ln.split(" ", 1)[0]
    if not found:
        return None
    whole, _, frac = found.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs + float("0." + (frac or "0"))


def cmd_restore(args):
    """N attackers' lines at once → N bans (timed); stop; the kernel table deleted (as by a
    reboot); restart → N bans back (timed), with a new attacker logged during the restore."""
    H.require_private_netns()
    work = H.fresh_work(args.work)
    rng = random.Random(args.seed)
    ips = [H.ip_for(i) for i in range(args.bans)]
    ipset_ = set(ips)
    d = Tollguard(work, bantime=args.bantime)
    bs = d.block_set()
    res = {"test": "restore", "daemon": d.name, "version": d.version(), "bans": args.bans,
           "bantime": args.bantime, "config": d.config_text(), "populate": "log (all at once)"}
    # ---------------- populate: N bans from one burst of 3N lines
    mon = H.Monitor(os.path.join(work, "monitor-populate.tsv"))
    lw = H.LogWriter(d.logpath)
    try:
        d.start()
        st = H.now_stamp()
        data = "".join("[%s] %s\n" % (st, H.attack_body(ip, rng, k % 3))
                       for ip in ips for k in range(3))
        t0 = mono()
        lw.write(data)
        t_written = mono()
        # The daemon counts a ban as applied when its kernel transaction has returned.
        H.wait_until(lambda: (d.counters() or {}).get("bans_applied", 0) >= args.bans,
                     args.cap, 0.02)
        res["populate_applied_s"] = round(mono() - t0, 3)
        ok = H.wait_until(lambda: (mon.poll(), in_block_set(mon, ipset_, bs) >= args.bans)[1],
                          args.cap, 0.05)
        mon.poll()
        ts = sorted(t for (s, ip), t in mon.first.items() if s == bs and ip in ipset_)
        res["populate_write_s"] = round(t_written - t0, 3)
        res["populate_all_in_set_s"] = round(ts[-1] - t0, 3) if ok and ts else None
        res["populate_first_in_set_s"] = round(ts[0] - t0, 3) if ts else None
        res["populate_in_set"] = len(ts)
        res["populate_cpu_s"] = H.proc_times(d.pid)
        res["populate_vmhwm_kb"] = H.proc_status(d.pid, "VmHWM")
        time.sleep(0.5)
    finally:
        lw.close()
        d.stop()
        mon.stop()
    # what a reboot does to the kernel's sets (the peers flush theirs on stop)
    subprocess.run(["nft", "delete", "table", "inet", "tollguard"], check=True)
    # ---------------- restart and time the restore
    mon = H.Monitor(os.path.join(work, "monitor-restore.tsv"))
    probe, probe_t = "198.19.255.200", {}

    def write_probe():
        w = H.LogWriter(d.logpath)
        for ln in H.attacker_lines(probe, random.Random(5)):
            w.write(ln)
        probe_t["t"] = mono()
        probe_t["wall"] = time.time()
        w.close()
    timer = threading.Timer(args.probe_at, write_probe)
    try:
        t0 = mono()
        timer.start()
        d.start()
        res["restart_ready_s"] = round(d.t_ready - t0, 3)

        def restored():
            c = d.counters() or {}
            return c.get("restore_ms", -1) >= 0 and c.get("restored", 0) >= args.bans
        H.wait_until(restored, args.cap, 0.02)
        res["restore_done_s"] = round(mono() - t0, 3)
        res["restore_daemon_ms"] = (d.counters() or {}).get("restore_ms")
        H.wait_until(lambda: (mon.poll(), in_block_set(mon, ipset_, bs) >= args.bans
                              and (bs, probe) in mon.first)[1], args.cap, 0.05)
        timer.join()
        time.sleep(0.3)
        mon.poll()
        ts = sorted(t for (s, ip), t in mon.first.items() if s == bs and ip in ipset_)
        res["restored_block_set"] = len(ts)
        res["restore_all_in_set_s"] = round(ts[-1] - t0, 3) if len(ts) >= args.bans else None
        res["restore_first_in_set_s"] = round(ts[0] - t0, 3) if ts else None
        res["probe_written_at_s"] = round(probe_t["t"] - t0, 3) if "t" in probe_t else None
        res["probe_banned_at_s"] = (round(mon.first[(bs, probe)] - t0, 3)
                                    if (bs, probe) in mon.first else None)
        if "t" in probe_t and (bs, probe) in mon.first:
            res["probe_latency_ms"] = round((mon.first[(bs, probe)] - probe_t["t"]) * 1000, 2)
        # The daemon's own view: its "banned <probe>" log line is written when the kernel
        # transaction has returned (no `nft monitor` queue in between).
        banned_wall = log_time_of(d.flog, "banned %s for" % probe)
        if "wall" in probe_t and banned_wall is not None:
            res["probe_daemon_latency_ms"] = round((banned_wall - probe_t["wall"]) * 1000, 2)
        r = subprocess.run(["nft", "list", "set", "inet", "tollguard", bs],
                           stdout=subprocess.PIPE, text=True)
        import re
        res["nft_list_count"] = len(set(re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", r.stdout)) & ipset_)
        res["daemon_cpu_s"] = H.proc_times(d.pid)
        res["daemon_vmhwm_kb"] = H.proc_status(d.pid, "VmHWM")
    finally:
        d.stop()
        mon.stop()
    H.write_json(args.out, res)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--daemon", choices=["tollguard", "fail2ban", "fail2ban-rs"],
                       default="tollguard")
        p.add_argument("--backend", default="pyinotify", help="fail2ban backend")
        p.add_argument("--variant", choices=["stock2", "one"], default="one")
        p.add_argument("--work", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("reaction")
    common(p)
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--spacing", type=float, default=0.05)
    p.add_argument("--jitter", type=float, default=0.0)
    p.add_argument("--settle", type=float, default=2.0)
    p.add_argument("--wait", type=float, default=60.0)
    p.set_defaults(fn=H.cmd_reaction)
    p = sub.add_parser("flood")
    common(p)
    p.add_argument("--rate", type=int, default=50000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--attack-share", type=float, default=0.2)
    p.add_argument("--attackers", type=int, default=2000)
    p.add_argument("--drain", type=float, default=600.0)
    p.set_defaults(fn=H.cmd_flood)
    p = sub.add_parser("restore")
    common(p)
    p.add_argument("--bans", type=int, default=100000)
    p.add_argument("--cap", type=float, default=120.0)
    p.add_argument("--bantime", type=int, default=86400)
    p.add_argument("--probe-at", type=float, default=0.1,
                   help="write 3 lines of a new attacker this many s after the restart")
    p.set_defaults(fn=cmd_restore)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
