#!/usr/bin/env python3
"""Helpers for tests/bench/run.sh (stdlib only).

  bench.py wrk OUT.json [options] -- URL
      One wrk run through tests/bench/wrk.lua; adds the CPU time that the
      named processes spent during the run (utime+stime from /proc/PID/stat)
      and the Redis commands run meanwhile (INFO commandstats deltas;
      --monitor also counts, with MONITOR, the commands clients sent as
      opposed to those run inside scripts).
  bench.py responder PORT PAIRS
      A fast OCSP responder (asyncio, HTTP/1.1 keep-alive) answering each
      POSTed request with its pre-signed response from PAIRS (written by
      bench-ocspgen -P); GET /__count gives the number of POSTs served.
  bench.py runstat OUT.json -- CMD...
      Runs CMD; writes its exit status, wall time, CPU time and peak RSS.
  bench.py miss OUT.json REQDIR N PROXY_URL DIRECT_URL HOST REDIS_SOCK
      The miss path: for each of N cold requests REQDIR/req-I.der, curl
      POSTs it through the proxy (a miss), then straight to the responder;
      records both curl time_total figures and the Redis commands per miss.
  bench.py json OUT.json [IN.json | key=value]...
      Merges JSON objects and key=value pairs (numbers when they parse).
  bench.py report DIR RESULTS.json
      Reads the fragments run.sh left in DIR, writes RESULTS.json and
      prints the table and the PASS/MISS lines.
"""

import asyncio
import json
import os
import re
import resource
import signal
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ wrk

def cpu_ticks(pids):
    """utime+stime of pids, in clock ticks (a gone process counts 0)."""
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


def cpu_busy():
    """Ticks the whole machine spent in processes: user, nice, system and
    steal (interrupts, which no process is charged for, left out)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[7]


def redis_stats(sock):
    out = subprocess.run(["redis-cli", "-s", sock, "info", "commandstats"],
                         capture_output=True, text=True, check=True).stdout
    calls = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[8:].split(":", 1)
            kv = dict(x.split("=", 1) for x in rest.split(","))
            calls[name] = int(kv["calls"])
    return calls


def cmd_wrk(argv):
    out = argv[0]
    opts = {"conns": 8, "threads": 0, "dur": 5, "close": 0, "method": "GET",
            "body": "", "host": "", "path": "", "redis": "", "monitor": 0,
            "label": "", "bodies": ""}
    groups = {}
    i = 1
    while argv[i] != "--":
        k, v = argv[i].lstrip("-"), argv[i + 1]
        if k == "pids":
            name, _, lst = v.partition(":")
            groups[name] = [int(x) for x in lst.split(",") if x]
        else:
            opts[k] = type(opts[k])(v) if k in opts else v
        i += 2
    url = argv[i + 1]
    threads = opts["threads"] or (1 if opts["conns"] < 4 else 2)
    env = dict(os.environ, BENCH_OUT=out + ".wrk", BENCH_METHOD=opts["method"],
               BENCH_BODY=opts["body"], BENCH_HOST=opts["host"],
               BENCH_PATH=opts["path"], BENCH_CLOSE=str(opts["close"]),
               BENCH_BODIES=opts["bodies"])
    mon = None
    if opts["monitor"]:
        monf = open(out + ".monitor", "w")
        mon = subprocess.Popen(["redis-cli", "-s", opts["redis"], "monitor"],
                               stdout=monf, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
    before = {g: cpu_ticks(p) for g, p in groups.items()}
    rb = redis_stats(opts["redis"]) if opts["redis"] else {}
    busy0 = cpu_busy()
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(["wrk", "-t", str(threads), "-c", str(opts["conns"]),
                        "-d", "%ss" % opts["dur"], "--timeout", "10s",
                        "--latency", "-s", os.path.join(HERE, "wrk.lua"),
                        url], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1 = cpu_busy()
    wrk_s = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    # let answers still in flight when wrk stopped reach Redis first
    time.sleep(0.2)
    ra = redis_stats(opts["redis"]) if opts["redis"] else {}
    after = {g: cpu_ticks(p) for g, p in groups.items()}
    if mon is not None:
        mon.terminate()
        mon.wait()
        monf.close()
    if r.returncode != 0 or not os.path.exists(out + ".wrk"):
        sys.stderr.write("wrk failed:\n" + r.stdout + r.stderr)
        sys.exit(1)
    with open(out + ".wrk") as f:
        res = json.load(f)
    os.unlink(out + ".wrk")
    n = res["requests"]
    res.update(label=opts["label"], conns=opts["conns"], threads=threads,
               close=opts["close"], method=opts["method"], wall_s=wall,
               rps=n / (res["duration_us"] / 1e6) if res["duration_us"] else 0)
    res["cpu_us_per_req"] = {
        g: (after[g] - before[g]) * 1e6 / TICK / n if n else None
        for g in groups}
    res["cpu_s"] = {g: (after[g] - before[g]) / TICK for g in groups}
    res["cpu_s"]["wrk"] = wrk_s
    # CPU that processes other than ours used meanwhile, as a share of
    # the machine (another workload on the box skews every figure)
    foreign = (busy1 - busy0) / TICK - sum(res["cpu_s"].values())
    res["foreign_cpu_share"] = max(0.0, foreign / (wall * os.cpu_count()))
    if opts["redis"]:
        d = {k: ra.get(k, 0) - rb.get(k, 0) for k in ra}
        d.pop("info", None)
        d = {k: v for k, v in d.items() if v}
        res["redis_calls"] = d
        res["redis_calls_per_req"] = {k: v / n for k, v in d.items()} \
            if n else {}
    if mon is not None:
        client = script = 0
        with open(out + ".monitor", errors="replace") as f:
            for line in f:
                if " [" not in line:
                    continue
                who = line.split(" [", 1)[1].split("]", 1)[0]
                if who.endswith(" lua"):
                    script += 1
                elif '"info"' not in line.lower():
                    client += 1
        res["monitor"] = {"client_commands": client,
                          "script_commands": script,
                          "client_per_req": client / n if n else None,
                          "script_per_req": script / n if n else None}
        os.unlink(out + ".monitor")
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("  %-30s %8.0f req/s  p50 %6.3f ms  p99 %7.3f ms  other load "
          "%3.0f%%%s" % (
        opts["label"], res["rps"], res["lat_us"]["p50"] / 1000,
        res["lat_us"]["p99"] / 1000, res["foreign_cpu_share"] * 100,
        "  (status errors %d)" % res["errors"]["status"]
        if res["errors"]["status"] else ""), flush=True)


# ------------------------------------------------------------------ responder

class Responder(asyncio.Protocol):
    answers = {}
    served = 0

    def connection_made(self, transport):
        self.t = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            clen = 0
            close = head[0].endswith("HTTP/1.0")
            for h in head[1:]:
                k, _, v = h.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    clen = int(v)
                elif k == "connection":
                    close = v.strip().lower() == "close"
            if len(self.buf) < end + 4 + clen:
                return
            body = self.buf[end + 4:end + 4 + clen]
            self.buf = self.buf[end + 4 + clen:]
            if head[0].startswith("GET /__count"):
                self.reply(b"200 OK", b"text/plain",
                           b"%d\n" % Responder.served, close)
            elif head[0].startswith("POST ") and body in Responder.answers:
                Responder.served += 1
                self.reply(b"200 OK", b"application/ocsp-response",
                           Responder.answers[body], close)
            else:
                self.reply(b"404 Not Found", b"text/plain", b"unknown\n",
                           close)
            if close:
                self.t.close()
                return

    def reply(self, status, ctype, body, close):
        self.t.write(b"HTTP/1.1 %s\r\nContent-Type: %s\r\n"
                     b"Content-Length: %d\r\n%s\r\n" % (
                         status, ctype, len(body),
                         b"Connection: close\r\n" if close else b"") + body)


def cmd_responder(argv):
    port, pairs = int(argv[0]), argv[1]
    with open(pairs, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        (n,) = struct.unpack_from(">I", data, i)
        req = data[i + 4:i + 4 + n]
        i += 4 + n
        (m,) = struct.unpack_from(">I", data, i)
        Responder.answers[req] = data[i + 4:i + 4 + m]
        i += 4 + m
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        Responder, "127.0.0.1", port, backlog=1024, reuse_address=True))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    print("responder: %d answers on port %d" % (len(Responder.answers), port),
          flush=True)
    loop.run_forever()
    server.close()
    print("responder: served %d" % Responder.served, flush=True)


# ------------------------------------------------------------------ runstat

def proc_status(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def child_pids(ppid):
    """The pids whose parent is ppid (the refresh daemon's workers)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == ppid:
            out.append(int(name))
    return out


def cmd_runstat(argv):
    """Peak RSS as VmHWM, polled every 10 ms, of the process and of each
    of its children (the daemon's workers; the largest is kept):
    ru_maxrss would report the forked Python's own RSS, which Linux
    carries across execve.  CPU times include the waited-for workers."""
    out, i, sock, others = argv[0], 1, None, {}
    while argv[i] in ("--redis", "--cpu"):
        if argv[i] == "--redis":
            sock = argv[i + 1]
        else:  # --cpu NAME:PID: that process's CPU seconds over the run
            name, pid = argv[i + 1].split(":")
            others[name] = int(pid)
        i += 2
    cmd = argv[i + 1:]
    rb = redis_stats(sock) if sock else {}
    cb = {k: cpu_ticks([v]) for k, v in others.items()}
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    signal.signal(signal.SIGTERM, lambda *a: p.terminate())
    hwm, nproc = 0, 1
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        kids = child_pids(p.pid)
        nproc = max(nproc, 1 + len(kids))
        for q in [p.pid] + kids:
            hwm = max(hwm, proc_status(q, "VmHWM") or 0)
        time.sleep(0.01)
    wall = time.monotonic() - t0
    res = {"rc": os.waitstatus_to_exitcode(status), "wall_s": wall,
           "utime_s": ru.ru_utime, "stime_s": ru.ru_stime,
           "maxrss_kb": hwm, "processes": nproc,
           "cpu_s": {k: (cpu_ticks([v]) - cb[k]) / TICK
                     for k, v in others.items()}}
    if sock:
        ra = redis_stats(sock)
        d = {k: ra.get(k, 0) - rb.get(k, 0) for k in ra}
        d.pop("info", None)
        res["redis_calls"] = {k: v for k, v in d.items() if v}
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    sys.exit(0)


# ------------------------------------------------------------------ miss

def curl_post(url, host, der, out):
    r = subprocess.run(
        ["curl", "-s", "-o", out, "-w", "%{time_total} %{http_code}",
         "--max-time", "10", "-X", "POST",
         "-H", "Content-Type: application/ocsp-request",
         "-H", "Host: " + host, "--data-binary", "@" + der, url],
        capture_output=True, text=True)
    t, _, code = r.stdout.partition(" ")
    return float(t or 0), code


def cmd_miss(argv):
    out, reqdir, n, proxy, direct, host, sock = argv
    px, dr, bad = [], [], 0
    rb = redis_stats(sock)
    for i in range(int(n)):
        der = os.path.join(reqdir, "req-%d.der" % i)
        t, code = curl_post(proxy, host, der, der + ".proxy")
        px.append(t)
        bad += code != "200"
        t, code = curl_post(direct, host, der, der + ".direct")
        dr.append(t)
        bad += code != "200"
    ra = redis_stats(sock)
    d = {k: ra.get(k, 0) - rb.get(k, 0) for k in ra}
    d.pop("info", None)
    res = {"proxy_s": px, "direct_s": dr, "bad": bad,
           "redis_calls_per_miss": {k: v / len(px) for k, v in d.items()
                                    if v}}
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


def cmd_json(argv):
    res = {}
    for a in argv[1:]:
        if "=" not in a:
            with open(a) as f:
                res.update(json.load(f))
            continue
        k, v = a.split("=", 1)
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                pass
        res[k] = v
    with open(argv[0], "w") as f:
        json.dump(res, f, indent=1)


def cmd_refresh_rounds(argv):
    """run.sh 5: the rounds of (capacity, pass, floor, pass, capacity) into
    refresh.json (the passes summed, each round's ratio, their median) and
    capacity.json (the capacity runs' mean)."""
    d, n, entries = argv[0], int(argv[1]), int(argv[2])
    passes, caps, rounds, floors, floor_cpu = [], [], [], [], []
    for r in range(1, n + 1):
        pa, pb = (load(d, "refresh-%d-%s.json" % (r, x)) for x in "ab")
        ca, cb = (load(d, "capacity-%d-%s.json" % (r, x)) for x in "ab")
        fl = load(d, "floor-%d.json" % r)
        cap = (ca["rps"] + cb["rps"]) / 2
        rate = (pa["refreshed"] + pb["refreshed"]) / (pa["wall_s"] +
                                                      pb["wall_s"])
        rounds.append(rate / cap)
        floors.append(entries / fl["wall_s"] / cap if fl["rc"] == 0 else 0)
        floor_cpu.append((fl["utime_s"] + fl["stime_s"]) / entries)
        passes += [pa, pb]
        caps += [ca, cb]
    rf = dict(passes[0])
    for k in ("entries", "seen", "due", "refreshed", "failed",
              "responder_served", "wall_s", "utime_s", "stime_s"):
        rf[k] = sum(p[k] for p in passes)
    rf["rc"] = max(p["rc"] for p in passes)
    rf["maxrss_kb"] = max(p["maxrss_kb"] for p in passes)
    for k in ("cpu_s", "redis_calls"):
        rf[k] = {}
        for p in passes:
            for name, v in p.get(k, {}).items():
                rf[k][name] = rf[k].get(name, 0) + v
    rf.update(passes=len(passes), rounds=rounds,
              ratio=statistics.median(rounds), floor_rounds=floors,
              floor_ratio=statistics.median(floors),
              floor_cpu_us=statistics.median(floor_cpu) * 1e6)
    with open(os.path.join(d, "refresh.json"), "w") as f:
        json.dump(rf, f, indent=1)
    with open(os.path.join(d, "capacity.json"), "w") as f:
        json.dump({"rps": statistics.mean(c["rps"] for c in caps),
                   "runs": [c["rps"] for c in caps]}, f, indent=1)


# ------------------------------------------------------------------ report

def load(d, name, default=None):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except OSError:
        return default


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def best_rounds(d, prefix):
    """NAME-rN.json files: per NAME, the best of its rounds, each figure on
    its own (another workload only ever lowers a rate or raises a
    latency): the round with the most requests/s, with the lowest p50 and
    p99 of all rounds; every round's figures are kept under "rounds"."""
    out = {}
    for name in sorted(os.listdir(d)):
        if not (name.startswith(prefix) and name.endswith(".json")):
            continue
        base = re.sub(r"-r[0-9]+$", "", name[len(prefix):-5])
        h = load(d, name)
        rounds = out.get(base, {}).get("rounds", []) + [
            {"rps": h["rps"], "p50_us": h["lat_us"]["p50"],
             "p99_us": h["lat_us"]["p99"],
             "other_load": h.get("foreign_cpu_share")}]
        if base not in out or h["rps"] > out[base]["rps"]:
            out[base] = h
        out[base]["rounds"] = rounds
    for h in out.values():
        for q in ("p50", "p99"):
            h["lat_us"][q] = min(r[q + "_us"] for r in h["rounds"])
    return out


def pair_ratios(d, meth, c):
    """pair-METH-cC-pN-{proxy,nothing}-{a,b}.json: per pair, memory hits
    over do-nothing (requests/s of both proxy runs over both do-nothing
    runs) and the same for the p99s."""
    out = []
    for n in range(1, 1000):
        runs = {w: load(d, "pair-%s-c%d-p%d-%s.json" % (meth, c, n, w))
                for w in ("proxy-a", "proxy-b", "nothing-a", "nothing-b")}
        if None in runs.values():
            break
        s = lambda who, f: sum(f(runs[who + x]) for x in ("-a", "-b"))
        rps = lambda h: h["rps"]
        p99 = lambda h: h["lat_us"]["p99"]
        cpu = lambda h: sum(h["cpu_s"].values())
        req = lambda h: h["requests"]
        out.append({"rps": s("proxy", rps) / s("nothing", rps),
                    "p99": s("proxy", p99) / s("nothing", p99),
                    "cpu": (s("proxy", cpu) / s("proxy", req)) /
                           (s("nothing", cpu) / s("nothing", req))})
    return out


def hit_targets(d, rows, meta, target):
    """The memory-hit targets from the median of the pairs (run.sh 1b), and
    the table's Redis-hit ratio beside them."""
    print()
    print("1b. Memory hits over do-nothing: median of %s pairs of 1 s runs "
          "(proxy, nothing, nothing, proxy), keep-alive" % meta.get("pairs"))
    out = {}
    for meth in ("POST", "GET"):
        for c in (8, 64):
            pr = pair_ratios(d, meth.lower(), c)
            if not pr:
                continue
            v, q, u = (statistics.median(p[k] for p in pr)
                       for k in ("rps", "p99", "cpu"))
            out["%s-c%d" % (meth.lower(), c)] = {"rps": v, "p99": q,
                                                  "cpu": u, "pairs": pr}
            print("   %-4s c%-3d req/s %s  p99 %s  CPU per hit %s (median "
                  "%.2f)" % (meth, c, *(" ".join("%.2f" % p[k] for p in pr)
                                        for k in ("rps", "p99", "cpu")), u))
            r = [x for x in rows if x["method"] == meth and x["mode"] == "ka"
                 and x["conns"] == c]
            rd = fmt(r[0]["redis_over_nothing"], ".0%") if r else "-"
            target("memory hits >= 90%% of do-nothing, %s, %d keep-alive "
                   "connections: %.0f%% (Redis hits %s)" % (
                       meth, c, v * 100, rd), v >= 0.9, v)
            if c == 8:
                target("memory hits' p99 at 8 connections <= 1.2x "
                       "do-nothing, %s: %.2fx" % (meth, q), q <= 1.2, q)
    return out


def cmd_report(argv):
    d, outpath = argv[0], argv[1]
    meta = load(d, "meta.json", {})
    hits = best_rounds(d, "hit-")
    res = {"meta": meta, "hits": hits}
    targets = []

    def target(name, ok, value):
        targets.append({"target": name, "pass": bool(ok), "value": value})

    # 1. the table
    print()
    print("ocspxy bench: %s cores (%s), kernel %s; nginx %s (%s workers), "
          "redis %s, wrk %s; %s spawn-fcgi children; tree %s (ocspxy-fcgi "
          "%s)" % (meta.get("cores"), meta.get("cpu"), meta.get("kernel"),
                   meta.get("nginx"), meta.get("nginx_workers"),
                   meta.get("redis"), meta.get("wrk"), meta.get("children"),
                   meta.get("tree"), meta.get("fcgi_sha1")))
    print()
    print("1. Hit throughput and latency: best of %s rounds of %s s (most "
          "req/s, least p50 and p99); px: "
          "ocspxy-fcgi (hits from its memory), rd: ocspxy-fcgi with its "
          "memory off (hits from Redis), no: do-nothing FastCGI, st: "
          "static file; ka: keep-alive, close: one connection per "
          "request" % (meta.get("repeat"), meta.get("dur")))
    print("%-5s %-5s %4s %9s %9s %9s %9s %8s %8s %8s %8s %7s %7s %7s" % (
        "meth", "conn", "c", "proxy/s", "redis/s", "nothing/s", "static/s",
        "px p50", "px p99", "no p50", "no p99", "px/no", "rd/no", "px/st"))
    print("%-5s %-5s %4s %9s %9s %9s %9s %8s %8s %8s %8s %7s %7s %7s" % (
        "", "", "", "", "", "", "", "ms", "ms", "ms", "ms", "", "", ""))
    rows = []
    for meth in ("POST", "GET"):
        for mode in ("ka", "close"):
            for c in (1, 8, 64):
                k = "%s-%s-c%d" % (meth.lower(), mode, c)
                px = hits.get("proxy-" + k)
                rd = hits.get("redis-" + k)
                no = hits.get("nothing-" + k)
                st = hits.get("static-" + k)
                if px is None:
                    continue
                g = lambda h, f: None if h is None else f(h)
                row = {
                    "method": meth, "mode": mode, "conns": c,
                    "proxy_rps": px["rps"],
                    "redis_rps": g(rd, lambda h: h["rps"]),
                    "redis_p99_ms": g(rd, lambda h: h["lat_us"]["p99"] / 1000),
                    "nothing_rps": g(no, lambda h: h["rps"]),
                    "static_rps": g(st, lambda h: h["rps"]),
                    "proxy_p50_ms": px["lat_us"]["p50"] / 1000,
                    "proxy_p99_ms": px["lat_us"]["p99"] / 1000,
                    "nothing_p50_ms": g(no, lambda h: h["lat_us"]["p50"] / 1000),
                    "nothing_p99_ms": g(no, lambda h: h["lat_us"]["p99"] / 1000),
                    "static_p50_ms": g(st, lambda h: h["lat_us"]["p50"] / 1000),
                    "static_p99_ms": g(st, lambda h: h["lat_us"]["p99"] / 1000),
                    "status_errors": px["errors"]["status"],
                }
                row["proxy_over_nothing"] = ratio(row["proxy_rps"],
                                                  row["nothing_rps"])
                row["proxy_over_static"] = ratio(row["proxy_rps"],
                                                 row["static_rps"])
                row["redis_over_nothing"] = ratio(row["redis_rps"],
                                                  row["nothing_rps"])
                rows.append(row)
                print("%-5s %-5s %4d %9.0f %9s %9s %9s %8.3f %8.3f %8s %8s "
                      "%7s %7s %7s" % (
                          meth, mode, c, row["proxy_rps"],
                          fmt(row["redis_rps"], ".0f"),
                          fmt(row["nothing_rps"], ".0f"),
                          fmt(row["static_rps"], ".0f"),
                          row["proxy_p50_ms"], row["proxy_p99_ms"],
                          fmt(row["nothing_p50_ms"], ".3f"),
                          fmt(row["nothing_p99_ms"], ".3f"),
                          fmt(row["proxy_over_nothing"], ".2f"),
                          fmt(row["redis_over_nothing"], ".2f"),
                          fmt(row["proxy_over_static"], ".2f")))
    res["table"] = rows
    bad = sum(r["status_errors"] for r in rows)
    if bad:
        print("   !! %d answers of the proxy were not 2xx/3xx" % bad)
    res["pairs"] = hit_targets(d, rows, meta, target)

    # 2. cost per hit
    print()
    print("2. Cost per hit (CPU time per request, us; Redis commands per "
          "request)")
    print("%-30s %8s %8s %8s %8s  %s" % ("run", "fcgi", "redis", "nginx",
                                         "total", "Redis calls per request"))
    cost = {}
    for k, h in hits.items():
        cu = h.get("cpu_us_per_req", {})
        if not cu:
            continue
        tot = sum(v for v in cu.values() if v is not None)
        cost[k] = dict(cu, total=tot,
                       redis_calls_per_req=h.get("redis_calls_per_req"))
        if k.startswith(("proxy-post", "redis-post", "nothing-post",
                         "static-post")) and \
                "-c1" not in k:
            print("%-30s %8s %8s %8s %8.1f  %s" % (
                k, fmt(cu.get("fcgi"), ".1f"), fmt(cu.get("redis"), ".1f"),
                fmt(cu.get("nginx"), ".1f"), tot,
                " ".join("%s %.2f" % kv for kv in sorted(
                    (h.get("redis_calls_per_req") or {}).items()))))
    res["cost"] = cost
    for c in (8, 64):
        px = cost.get("proxy-post-ka-c%d" % c)
        no = cost.get("nothing-post-ka-c%d" % c)
        if px and no and px["total"]:
            print("POST keep-alive c=%d: %.1f us of CPU per hit against %.1f "
                  "for do-nothing: with every core busy, the hit rate can "
                  "reach at most %.0f%% of do-nothing's" % (
                      c, px["total"], no["total"],
                      100 * no["total"] / px["total"]))
    loads = [h.get("foreign_cpu_share") or 0 for h in hits.values()]
    if loads:
        res["other_load"] = {"max": max(loads),
                             "mean": sum(loads) / len(loads)}
        print("CPU used by other processes on the machine during the runs "
              "kept: mean %.0f%%, max %.0f%% of %s cores%s" % (
                  res["other_load"]["mean"] * 100,
                  res["other_load"]["max"] * 100, meta.get("cores"),
                  "  !! the figures are skewed by another workload"
                  if res["other_load"]["max"] > 0.05 else ""))
    rt = load(d, "roundtrips.json")
    up = load(d, "upstream.json", {})
    if rt:
        m = rt["monitor"]
        print("Redis, MONITOR over %d hits: %.3f commands sent by the proxy "
              "per hit, %.3f run inside scripts per hit" % (
                  rt["requests"], m["client_per_req"], m["script_per_req"]))
        print("Redis commandstats per hit (script-internal included): " +
              " ".join("%s %.3f" % kv for kv in sorted(
                  rt["redis_calls_per_req"].items())))
        res["roundtrips"] = {"requests": rt["requests"],
                             "monitor": m,
                             "commandstats_per_req":
                                 rt["redis_calls_per_req"]}
        v = m["client_per_req"]
        target("Redis commands per memory hit about 0: %.3f" % v, v < 0.01, v)
    rr = load(d, "roundtrips-redis.json")
    if rr:
        m = rr["monitor"]
        print("Redis, MONITOR over %d hits with the memory off: %.3f "
              "commands sent per hit, %.3f run inside scripts" % (
                  rr["requests"], m["client_per_req"], m["script_per_req"]))
        res["roundtrips_redis"] = {"requests": rr["requests"],
                                   "monitor": m}
        v = m["client_per_req"]
        target("exactly 1 Redis round trip per Redis hit: %.3f" % v,
               abs(v - 1) < 0.01, v)
    if up:
        print("upstream requests during all hit runs: %d (responder count "
              "%d -> %d)" % (up["after"] - up["before"], up["before"],
                             up["after"]))
        res["upstream_on_hits"] = up
        target("no upstream traffic on hits: %d requests" %
               (up["after"] - up["before"]), up["after"] == up["before"],
               up["after"] - up["before"])

    # 3. cache size
    cs = best_rounds(d, "size-")
    if cs:
        sz = load(d, "size.json", {})
        print()
        print("3. Cache size: POST keep-alive hits spread over %d cached "
              "certificates, with 1,000 and %s entries in Redis (loaded in "
              "%.1f s; Redis used_memory %s MB)" % (
                  sz.get("spread", 0), format(sz.get("entries", 0), ","),
                  sz.get("load_s", 0), fmt(sz.get("used_memory_mb"), ".0f")))
        res["cache_size"] = {"runs": cs, "load": sz}
        for c in (8, 64):
            a, b = cs.get("1k-c%d" % c), cs.get("1M-c%d" % c)
            if a and b:
                v = b["rps"] / a["rps"]
                big = "{:,}".format(sz.get("entries", 0))
                print("   c=%-3d 1,000: %7.0f req/s p99 %.3f ms   %s: %7.0f "
                      "req/s p99 %.3f ms   ratio %.2f" % (
                          c, a["rps"], a["lat_us"]["p99"] / 1000, big,
                          b["rps"], b["lat_us"]["p99"] / 1000, v))
                ca = sum(x for x in a["cpu_us_per_req"].values() if x)
                cb = sum(x for x in b["cpu_us_per_req"].values() if x)
                print("          CPU per hit %.1f us (Redis %.1f) against %.1f "
                      "us (Redis %.1f)" % (ca, a["cpu_us_per_req"]["redis"],
                                           cb, b["cpu_us_per_req"]["redis"]))
                target("%s entries within 10%% of 1,000, %d connections: "
                       "%.0f%%" % (big, c, v * 100), v >= 0.9, v)

    # 4. miss path
    miss = load(d, "miss.json")
    if miss:
        print()
        px, dr = miss["proxy_s"], miss["direct_s"]
        mp, md = statistics.median(px) * 1000, statistics.median(dr) * 1000
        q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(len(xs) * f))] \
            * 1000
        print("4. Miss path: %d cold certificates, curl time_total medians: "
              "through the proxy %.2f ms (p90 %.2f), straight to the "
              "responder %.2f ms (p90 %.2f): overhead %.2f ms" % (
                  len(px), mp, q(px, .9), md, q(dr, .9), mp - md))
        if miss.get("bad"):
            print("   !! %d misses were not answered 200" % miss["bad"])
        res["miss"] = dict(miss, proxy_median_ms=mp, direct_median_ms=md,
                           overhead_ms=mp - md)
        if miss.get("redis_calls_per_miss"):
            print("   Redis commands per miss: " + " ".join(
                "%s %.2f" % kv for kv in sorted(
                    miss["redis_calls_per_miss"].items())))
        target("miss overhead < 2 ms median: %.2f ms" % (mp - md),
               mp - md < 2 and not miss.get("bad"), mp - md)

    # 5. refresh
    rf = load(d, "refresh.json")
    cap = load(d, "capacity.json")
    if rf and cap:
        rate = rf["refreshed"] / rf["wall_s"] if rf["wall_s"] else 0
        v = rf["ratio"]
        print()
        print("5. Refresh pass, unchanged answers (the stored bytes come "
              "back): %d passes, %d due entries, %d refreshed, %d failed "
              "in %.2f s = %.0f entries/s; responder capacity (wrk, 8 "
              "keep-alive connections, 1 s runs) %.0f req/s (%s)" % (
                  rf["passes"], rf["entries"], rf["refreshed"],
                  rf["failed"], rf["wall_s"], rate, cap["rps"],
                  " ".join("%.0f" % x for x in cap["runs"])))
        print("   median of %d rounds (each: capacity, pass, libcurl floor, "
              "pass, capacity): %.0f%% of the capacity; the rounds: %s" % (
                  len(rf["rounds"]), v * 100, " ".join(
                      "%.0f%%" % (r * 100) for r in rf["rounds"])))
        print("   the libcurl floor (bench-curlfloor: the same fetches, "
              "16 at once, nothing else; %.0f us of CPU per fetch): "
              "%.0f%% of the capacity; the rounds: %s" % (
                  rf["floor_cpu_us"], rf["floor_ratio"] * 100, " ".join(
                      "%.0f%%" % (r * 100) for r in rf["floor_rounds"])))
        print("   %d processes (the daemon and its workers); refresh CPU "
              "%.2f s user + %.2f s sys (%.0f us per entry), peak RSS %d kB "
              "(largest process); responder served %d" % (
                  rf.get("processes", 1), rf["utime_s"], rf["stime_s"],
                  (rf["utime_s"] + rf["stime_s"]) * 1e6 / max(1, rf["entries"]),
                  rf["maxrss_kb"], rf.get("responder_served", -1)))
        per = (rf["utime_s"] + rf["stime_s"]) / max(1, rf["refreshed"])
        if per:
            print("   the CPU of %d cores, all busy in ocspxy-refresh, would "
                  "make at most %.0f entries/s" % (
                      os.cpu_count() or 1, (os.cpu_count() or 1) / per))
        others = rf.get("cpu_s") or {}
        if per and others:
            n = max(1, rf["refreshed"])
            tot = per + sum(others.values()) / n
            cores = os.cpu_count() or 1
            print("   CPU per entry: ocspxy-refresh %.0f us, %s: %.0f us in "
                  "all, so %d cores make at most %.0f entries/s, %.0f%% of "
                  "the responder's capacity" % (
                      per * 1e6, ", ".join(
                          "%s %.0f us" % (k, v * 1e6 / n)
                          for k, v in sorted(others.items())),
                      tot * 1e6, cores, cores / tot,
                      cores / tot / cap["rps"] * 100))
        if rf.get("redis_calls"):
            rc = rf["redis_calls"]
            print("   Redis commands per entry: " + " ".join(
                "%s %.2f" % (k, v / rf["entries"])
                for k, v in sorted(rc.items())) +
                " (commands run inside scripts included)")
        res["refresh"] = dict(rf, entries_per_s=rate,
                              responder_capacity_rps=cap["rps"], ratio=v)
        target("refresh with unchanged answers >= 50%% of the pre-signed "
               "responder's capacity: %.0f%%" % (v * 100),
               v >= 0.5 and rf["failed"] == 0 and rf["rc"] == 0, v)

    # 5b. refresh against a responder that signs every answer
    rs = load(d, "refresh-sign.json")
    cs = load(d, "capacity-sign.json")
    if rs and cs:
        rate = rs["refreshed"] / rs["wall_s"] if rs["wall_s"] else 0
        v = rate / cs["rps"] if cs["rps"] else 0
        print("   against openssl ocsp (one process, signs every answer, "
              "RSA): %d due entries, %d refreshed, %d failed in %.2f s = "
              "%.0f entries/s; its capacity (the same requests from curl, 8 at once, one "
              "connection each) %.0f req/s: %.0f%%" % (
                  rs["entries"], rs["refreshed"], rs["failed"], rs["wall_s"],
                  rate, cs["rps"], v * 100))
        res["refresh_signing"] = dict(rs, entries_per_s=rate,
                                      responder_capacity_rps=cs["rps"],
                                      ratio=v)

    # 6. memory
    mem = load(d, "memory.json")
    if mem:
        print()
        # A memory that held every certificate of the fill run would read
        # each from Redis once per process: more reads, entries evicted.
        reads = mem.get("fill_redis_reads", 0)
        once = len(mem["fcgi_rss_kb"]) * mem.get("fill_certificates", 0)
        print("6. Memory: ocspxy-fcgi after %s requests, the last %s of "
              "them over %s certificates in turn (%s Redis reads, %s if "
              "each process held them all: %s): VmRSS %s kB (VmHWM %s "
              "kB)" % (
                  format(mem["fcgi_requests"], ","),
                  format(mem.get("fill_requests", 0), ","),
                  format(mem.get("fill_certificates", 0), ","),
                  format(reads, ","), format(once, ","),
                  "the memory full, evicting" if reads > once
                  else "NOT shown full",
                  " ".join(str(x) for x in mem["fcgi_rss_kb"]),
                  " ".join(str(x) for x in mem["fcgi_hwm_kb"])))
        res["memory"] = mem
        worst = max(mem["fcgi_rss_kb"])
        target("RSS < 16 MB per FastCGI process, its memory full: max %d "
               "kB (%s Redis reads while filling, %s at most if not full)" % (
                   worst, format(reads, ","), format(once, ",")),
               worst < 16384 and reads > once, worst)
        if mem.get("refresh_hwm_kb"):
            print("   ocspxy-refresh --once over %s entries (%s due): peak "
                  "RSS %d kB, %.1f s" % (
                      format(mem["refresh_entries"], ","),
                      mem.get("refresh_due", 0), mem["refresh_hwm_kb"],
                      mem["refresh_wall_s"]))
            target("RSS < 16 MB for the refresh daemon over %s entries: "
                   "%d kB" % (format(mem["refresh_entries"], ","),
                              mem["refresh_hwm_kb"]),
                   mem["refresh_hwm_kb"] < 16384, mem["refresh_hwm_kb"])
        if rf:
            target("RSS < 16 MB for the refresh daemon during the %d-entry "
                   "refresh pass: %d kB" % (rf["entries"], rf["maxrss_kb"]),
                   rf["maxrss_kb"] < 16384, rf["maxrss_kb"])

    print()
    for t in targets:
        print("%s %s" % ("PASS" if t["pass"] else "MISS", t["target"]))
    res["targets"] = targets
    with open(outpath, "w") as f:
        json.dump(res, f, indent=1)
    print("raw figures: %s" % outpath)


def main():
    cmd, argv = sys.argv[1], sys.argv[2:]
    {"wrk": cmd_wrk, "responder": cmd_responder, "runstat": cmd_runstat,
     "refresh-rounds": cmd_refresh_rounds, "miss": cmd_miss,
     "json": cmd_json, "report": cmd_report}[cmd](argv)


if __name__ == "__main__":
    main()
