#!/usr/bin/env python3
"""The fleet view against real parts: gpumem serve and gpumem export under a
real Prometheus server, promtool and node_exporter, with processes running
under the shim on the stand-in GPU.

usage: fleet_test.py TEST GPUMEM SHIM FAKE_DIR HOLD SOURCE_DIR

Every wait is bounded in count and time; everything started is killed at
the end, and only this test's segments (its own GPUMEM_SHM_PREFIX) removed.
Exit 77 (skipped) only when a program the test needs is not installed.
"""
import glob
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

TEST, GPUMEM, SHIM, FAKE, HOLD, SOURCE = sys.argv[1:7]
PREFIX = "gmf%d" % os.getpid()
MIB = 1 << 20
GPU0 = "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539000"  # the stand-in's first device
GPU1 = "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539001"
TMP = tempfile.mkdtemp(prefix="gpumem-fleet.")
ENV = dict(os.environ, GPUMEM_SHM_PREFIX=PREFIX, LD_LIBRARY_PATH=FAKE,
           GPUMEM_FAKE_MEMORY_MIB="1000,1000")  # 1000 MiB per stand-in GPU
started = []  # (Popen, name)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(77)


def cleanup():
    for p, _ in reversed(started):
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    for f in glob.glob("/dev/shm/%s.*" % PREFIX):
        os.unlink(f)
    shutil.rmtree(TMP, ignore_errors=True)


def start(name, argv, **kw):
    log = open(os.path.join(TMP, name + ".log"), "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=kw.pop("env", ENV), **kw)
    started.append((p, name))
    return p


def log_of(name):
    with open(os.path.join(TMP, name + ".log")) as f:
        return f.read()


def wait_for(what, check, seconds=30, step=0.2):
    """check() until it returns a true value, at most seconds."""
    end = time.monotonic() + seconds
    last = None
    while time.monotonic() < end:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(step)
    fail("%s: not within %ds (last: %r)" % (what, seconds, last))


def hold(*devices):
    """A process under the shim that allocates DEV:MIB each and holds them."""
    name = "hold%d" % len(started)
    env = dict(ENV, LD_PRELOAD=SHIM)
    p = start(name, [HOLD] + list(devices), env=env, stdin=subprocess.PIPE)
    wait_for(name + " ready", lambda: "ready" in log_of(name), 10, 0.05)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(*extra):
    """gpumem serve on a free loopback port (it picks it: --listen :0)."""
    name = "serve%d" % len(started)
    p = start(name, [GPUMEM, "serve", "--listen", "127.0.0.1:0"] + list(extra))
    line = wait_for("serve listening", lambda: re.search(r"http://127\.0\.0\.1:(\d+)/metrics", log_of(name)), 10, 0.05)
    return p, int(line.group(1))


def http_get(port, path="/metrics", method="GET", body=None, host="127.0.0.1"):
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def have(program):
    if not shutil.which(program):
        skip(program + " is not installed (Debian: apt-get install prometheus prometheus-node-exporter)")


# ---- a real Prometheus server ----------------------------------------------

def prometheus(targets, rules=True):
    """Prometheus on a free loopback port scraping targets ({job: port}) every
    second; rules: gpumem-rules.yml with every for: cut to 2s and rules
    evaluated every second (only this copy differs from the shipped file)."""
    have("prometheus")
    port = free_port()
    rule_files = ""
    if rules:
        with open(os.path.join(SOURCE, "deploy/prometheus/gpumem-rules.yml")) as f:
            text = re.sub(r"\bfor: \S+", "for: 2s", f.read())
        with open(os.path.join(TMP, "rules.yml"), "w") as f:
            f.write(text)
        rule_files = "rule_files: [%s]\n" % json.dumps(os.path.join(TMP, "rules.yml"))
    jobs = "".join('  - job_name: %s\n    static_configs: [{targets: ["127.0.0.1:%d"]}]\n' % (job, p)
                   for job, p in targets.items())
    config = os.path.join(TMP, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}\n" + rule_files +
                "scrape_configs:\n" + jobs)
    start("prometheus", ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(TMP, "tsdb"),
                         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"], env=os.environ)
    wait_for("prometheus ready", lambda: urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2)
             .status == 200, 60, 0.3)
    return port


def api(port, path, **params):
    url = "http://127.0.0.1:%d/api/v1/%s?%s" % (port, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=5) as r:
        d = json.load(r)
    if d.get("status") != "success":
        raise ValueError(d)
    return d["data"]


def query(port, expr):
    """An instant query: {frozenset(labels without __name__, job, instance): value}."""
    out = {}
    for s in api(port, "query", query=expr)["result"]:
        labels = {k: v for k, v in s["metric"].items() if k not in ("__name__", "job", "instance")}
        out[frozenset(labels.items())] = float(s["value"][1])
    return out


def series(**labels):
    return frozenset(labels.items())


def expect_query(port, expr, expected, seconds=30):
    """Wait until expr gives exactly expected, then say so."""
    wait_for("%s == %s" % (expr, expected), lambda: query(port, expr) == expected, seconds, 0.3)


def firing(port, alertname):
    return [a["labels"] for a in api(port, "alerts")["alerts"] if a["labels"]["alertname"] == alertname and
            a["state"] == "firing"]


# ---- the tests ---------------------------------------------------------------

def test_serve_http():
    """serve's HTTP: /metrics with its content type, 404, 405, HEAD, 16
    concurrent clients, idle connections from one address that neither
    starve another address nor outlive --timeout, SIGTERM exits 0."""
    h = hold("0:3")
    p, port = serve("--timeout", "2")
    status, ctype, body = http_get(port)
    if status != 200 or ctype != "text/plain; version=0.0.4; charset=utf-8":
        fail("GET /metrics: %s %r" % (status, ctype))
    want = 'gpumem_process_reserved_bytes{pid="%d",command="hold",device="cuda:0",uuid="%s"} %d\n' % (h.pid, GPU0,
                                                                                                     3 * MIB)
    if want.encode() not in body:
        fail("GET /metrics lacks %r:\n%s" % (want, body.decode()))
    for path in ("/", "/metrics/", "/metricsx", "/favicon.ico"):
        if http_get(port, path)[0] != 404:
            fail("GET %s is not 404" % path)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        if http_get(port, "/metrics", method, body=b"x=1")[0] != 405:
            fail(method + " /metrics is not 405")
    status, _, body = http_get(port, method="HEAD")
    if status != 200 or body:
        fail("HEAD /metrics: %s with %d bytes" % (status, len(body)))

    # A fresh snapshot per scrape: a new process shows at the next one.
    h2 = hold("1:7")
    if ('pid="%d"' % h2.pid).encode() not in http_get(port)[2]:
        fail("a process started after the first scrape is missing from the next")

    # 16 clients, 20 scrapes each, at once: every one a whole exposition.
    errors = []

    def client():
        for _ in range(20):
            try:
                s, _, b = http_get(port)
                if s != 200 or not b.rstrip().endswith(b"") or b"gpumem_build_info" not in b:
                    errors.append(s)
            except OSError as e:
                errors.append(e)
    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors or any(t.is_alive() for t in threads):
        fail("concurrent scrapes: %d errors, e.g. %r" % (len(errors), errors[:3]))

    # Shared renderings are never older than the request: while 8 clients
    # scrape without pause, a process starts; every scrape sent after it
    # was ready has it.
    seen, stop = [], [False]

    def poller():
        for _ in range(200):
            if stop[0]:
                return
            t = time.monotonic()
            s, _, b = http_get(port)
            seen.append((t, s, b))
    threads = [threading.Thread(target=poller) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    h3 = hold("0:11")
    ready = time.monotonic()
    time.sleep(1.0)
    stop[0] = True
    for t in threads:
        t.join(60)
    mark = ('pid="%d"' % h3.pid).encode()
    after = [b for t, s, b in seen if t > ready]
    if not after or any(mark not in b for b in after) or any(s != 200 for _, s, _ in seen):
        fail("%d of %d scrapes sent after a process was ready lack it" %
             (sum(mark not in b for b in after), len(after)))
    print("concurrent freshness: %d scrapes, %d after the start, %d before it without the process" %
          (len(seen), len(after), sum(mark not in b for t, s, b in seen if t <= ready)))

    # 40 idle connections from 127.0.0.2 (half a request each): at most 32
    # are kept, and a scrape from 127.0.0.1 is still answered at once.
    idle = []
    for _ in range(40):
        s = socket.socket()
        s.settimeout(10)
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        idle.append(s)
    # The 8 beyond the per-address limit are closed at once.
    time.sleep(0.5)
    closed_now = select.select(idle, [], [], 0)[0]
    if len(closed_now) != 8:
        fail("%d of 40 connections from one address closed at once, not the 8 beyond its limit of 32" %
             len(closed_now))
    t0 = time.monotonic()
    status = http_get(port)[0]
    if status != 200 or time.monotonic() - t0 > 1.5:
        fail("a scrape beside 40 idle connections: %s after %.2fs" % (status, time.monotonic() - t0))
    # Each idle one is closed by the server within --timeout (2s) and a margin.
    t0 = time.monotonic()
    for s in idle:
        try:
            if s.recv(100) != b"":
                fail("an idle connection got an answer to half a request")
        except ConnectionResetError:
            pass
        except socket.timeout:
            fail("an idle connection was kept past --timeout 2")
        s.close()
    if time.monotonic() - t0 > 8:
        fail("idle connections closed only after %.1fs" % (time.monotonic() - t0))

    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        fail("serve did not stop on SIGTERM")
    if rc != 0:
        fail("serve exited %d on SIGTERM" % rc)
    p2, port2 = serve()
    p2.send_signal(signal.SIGINT)
    if p2.wait(10) != 0:
        fail("serve did not exit 0 on SIGINT")
    # Usage errors.
    for bad in (["--listen", "nowhere"], ["--listen", "127.0.0.1:99999"], ["--timeout", "0"], ["--prefix", "a/b"],
                ["--bogus"]):
        r = subprocess.run([GPUMEM, "serve"] + bad, env=ENV, capture_output=True, timeout=10)
        if r.returncode != 2:
            fail("serve %s exited %d, not 2" % (bad, r.returncode))


def test_prometheus():
    """A real Prometheus scrapes serve every second: exact bytes per process
    and per GPU, a killed process's series go stale, the critical alert
    fires in the server when the GPU passes 90 %."""
    a = hold("0:300", "1:100")
    b = hold("0:200")
    _, port = serve()
    prom = prometheus({"gpumem": port})
    expect_query(prom, "gpumem_process_reserved_bytes", {
        series(pid=str(a.pid), command="hold", device="cuda:0", uuid=GPU0): 300 * MIB,
        series(pid=str(a.pid), command="hold", device="cuda:1", uuid=GPU1): 100 * MIB,
        series(pid=str(b.pid), command="hold", device="cuda:0", uuid=GPU0): 200 * MIB,
    })
    expect_query(prom, "gpumem_gpu_reserved_bytes", {series(uuid=GPU0): 500 * MIB, series(uuid=GPU1): 100 * MIB})
    expect_query(prom, "gpumem_gpu_total_bytes", {series(uuid=GPU0): 1000 * MIB, series(uuid=GPU1): 1000 * MIB})
    expect_query(prom, "gpumem_gpu_processes", {series(uuid=GPU0): 2, series(uuid=GPU1): 1})
    expect_query(prom, 'gpumem_process_allocations_total{pid="%d"}' % a.pid, {
        series(pid=str(a.pid), command="hold", device="cuda:0", uuid=GPU0): 1,
        series(pid=str(a.pid), command="hold", device="cuda:1", uuid=GPU1): 1,
    })
    expect_query(prom, 'up{job="gpumem"}', {frozenset(): 1})
    if firing(prom, "GPUMemoryCritical") or firing(prom, "GPUMemoryWarning"):
        fail("an alert fires at 50 %")

    # SIGKILL: the segment stays (dead), the series go at the next scrape.
    b.kill()
    b.wait(10)
    expect_query(prom, 'gpumem_process_reserved_bytes{pid="%d"}' % b.pid, {}, 15)
    expect_query(prom, "gpumem_gpu_reserved_bytes", {series(uuid=GPU0): 300 * MIB, series(uuid=GPU1): 100 * MIB})
    if not glob.glob("/dev/shm/%s.%d" % (PREFIX, b.pid)):
        fail("the killed process's segment is gone: the test proves nothing")

    # 300 + 620 MiB of 1000: 92 %, the critical alert fires for GPU0 only.
    c = hold("0:620")
    expect_query(prom, "gpumem_gpu_reserved_bytes", {series(uuid=GPU0): 920 * MIB, series(uuid=GPU1): 100 * MIB})
    alerts = wait_for("GPUMemoryCritical firing", lambda: firing(prom, "GPUMemoryCritical"), 30, 0.5)
    if len(alerts) != 1 or alerts[0]["uuid"] != GPU0 or alerts[0]["severity"] != "critical":
        fail("GPUMemoryCritical: %r" % alerts)
    expect_query(prom, 'gpumem_gpu_level{uuid="%s"}' % GPU0, {series(uuid=GPU0): 2})
    expect_query(prom, 'gpumem_process_level{pid="%d"}' % c.pid,
                 {series(pid=str(c.pid), command="hold", device="cuda:0", uuid=GPU0): 0})


def test_node_exporter():
    """gpumem export --textfile read by node_exporter's textfile collector,
    scraped by a real Prometheus: the same exact bytes."""
    have("prometheus-node-exporter")
    a = hold("0:300", "1:100")
    d = os.path.join(TMP, "textfile")
    os.mkdir(d)
    prom_file = os.path.join(d, "gpumem.prom")
    r = subprocess.run([GPUMEM, "export", "--textfile", prom_file], env=ENV, capture_output=True, timeout=30)
    if r.returncode != 0 or os.listdir(d) != ["gpumem.prom"]:
        fail("export --textfile: exit %d, files %s, %s" % (r.returncode, os.listdir(d), r.stderr))
    if oct(os.stat(prom_file).st_mode & 0o777) != "0o644":
        fail("the textfile's mode is %o" % (os.stat(prom_file).st_mode & 0o777))
    port = free_port()
    start("node_exporter", ["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % port,
                            "--collector.disable-defaults", "--collector.textfile",
                            "--collector.textfile.directory=" + d], env=os.environ)
    wait_for("node_exporter serves gpumem", lambda: b"gpumem_build_info" in http_get(port)[2], 30, 0.2)
    prom = prometheus({"gpumem-textfile": port}, rules=False)
    expect_query(prom, "gpumem_process_reserved_bytes", {
        series(pid=str(a.pid), command="hold", device="cuda:0", uuid=GPU0): 300 * MIB,
        series(pid=str(a.pid), command="hold", device="cuda:1", uuid=GPU1): 100 * MIB,
    })
    expect_query(prom, "gpumem_gpu_reserved_bytes", {series(uuid=GPU0): 300 * MIB, series(uuid=GPU1): 100 * MIB})
    expect_query(prom, "gpumem_gpu_total_bytes", {series(uuid=GPU0): 1000 * MIB, series(uuid=GPU1): 1000 * MIB})
    expect_query(prom, "node_textfile_scrape_error", {frozenset(): 0})
    # The process ends; the next export drops its series, and so does Prometheus.
    a.kill()
    a.wait(10)
    r = subprocess.run([GPUMEM, "export", "--textfile", prom_file], env=ENV, capture_output=True, timeout=30)
    if r.returncode != 0 or os.listdir(d) != ["gpumem.prom"]:
        fail("second export: exit %d, files %s" % (r.returncode, os.listdir(d)))
    expect_query(prom, "gpumem_process_reserved_bytes", {}, 15)


def test_export():
    """export on stdout: exact lines; --no-pid-label sums what would
    collide; promtool check metrics finds nothing to say about a real
    scrape of either; an unwritable --textfile fails and leaves nothing."""
    have("promtool")
    a = hold("0:3")
    b = hold("0:5", "1:2")
    r = subprocess.run([GPUMEM, "export"], env=ENV, capture_output=True, timeout=30)
    out = r.stdout.decode()
    for want in ['gpumem_process_reserved_bytes{pid="%d",command="hold",device="cuda:0",uuid="%s"} %d' %
                 (a.pid, GPU0, 3 * MIB),
                 'gpumem_process_reserved_bytes{pid="%d",command="hold",device="cuda:1",uuid="%s"} %d' %
                 (b.pid, GPU1, 2 * MIB),
                 'gpumem_process_ooms_total{pid="%d",command="hold"} 0' % a.pid,
                 'gpumem_gpu_reserved_bytes{uuid="%s"} %d' % (GPU0, 8 * MIB),
                 'gpumem_gpu_processes{uuid="%s"} 2' % GPU0,
                 'gpumem_segments_skipped{reason="damaged"} 0',
                 'gpumem_build_info{version="', '# TYPE gpumem_process_allocations_total counter']:
        if want not in out:
            fail("export lacks %r:\n%s" % (want, out))
    if r.returncode != 0 or "# TYPE" not in out:
        fail("export exited %d" % r.returncode)
    check = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, capture_output=True, timeout=30)
    if check.returncode != 0 or check.stdout or check.stderr:
        fail("promtool check metrics: %s %s" % (check.stdout, check.stderr))

    r = subprocess.run([GPUMEM, "export", "--no-pid-label"], env=ENV, capture_output=True, timeout=30)
    out = r.stdout.decode()
    for want in ['gpumem_process_reserved_bytes{command="hold",device="cuda:0",uuid="%s"} %d' % (GPU0, 8 * MIB),
                 'gpumem_process_allocations_total{command="hold",device="cuda:0",uuid="%s"} 2' % GPU0,
                 'gpumem_process_ooms_total{command="hold"} 0']:
        if want not in out:
            fail("--no-pid-label lacks %r:\n%s" % (want, out))
    if "pid=" in out:
        fail("--no-pid-label still has a pid label")
    check = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, capture_output=True, timeout=30)
    if check.returncode != 0 or check.stdout or check.stderr:
        fail("promtool check metrics (--no-pid-label): %s %s" % (check.stdout, check.stderr))

    # A dead process is not exported; its segment is counted nowhere else.
    b.kill()
    b.wait(10)
    out = subprocess.run([GPUMEM, "export"], env=ENV, capture_output=True, timeout=30).stdout.decode()
    if 'pid="%d"' % b.pid in out or 'gpumem_gpu_processes{uuid="%s"} 1' % GPU0 not in out:
        fail("a killed process is still exported:\n" + out)

    # A damaged segment (named for this live test) and an unfinished one
    # (never stamped, its pid gone) are counted by reason.
    with open("/dev/shm/%s.%d" % (PREFIX, os.getpid()), "wb") as f:
        f.write(b"\xff" * 4096)
    with open("/dev/shm/%s.%d" % (PREFIX, b.pid), "r+b") as f:
        f.write(b"\0" * 4096)
    out = subprocess.run([GPUMEM, "export"], env=ENV, capture_output=True, timeout=30).stdout.decode()
    if 'gpumem_segments_skipped{reason="damaged"} 1' not in out or \
            'gpumem_segments_skipped{reason="unfinished"} 1' not in out:
        fail("a damaged or unfinished segment is not counted:\n" + out)

    # An unwritable directory: exit 1, nothing left behind.
    r = subprocess.run([GPUMEM, "export", "--textfile", "/nonexistent-dir/x.prom"], env=ENV, capture_output=True,
                       timeout=30)
    if r.returncode != 1 or b"cannot" not in r.stderr:
        fail("export into a missing directory: exit %d %s" % (r.returncode, r.stderr))


def test_dashboard():
    """Every metric name in every expr of the Grafana dashboard is one that
    a real scrape of gpumem serve carries (families with samples or not),
    or Prometheus's own up."""
    hold("0:3")
    _, port = serve()
    body = http_get(port)[2].decode()
    families = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
    if "gpumem_process_reserved_bytes" not in families:
        fail("the scrape has no families:\n" + body)
    with open(os.path.join(SOURCE, "deploy/grafana/gpumem.json")) as f:
        dash = json.load(f)
    exprs = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("type") == "datasource":  # a variable naming the data source, not a query
                return
            for k, v in x.items():
                if k in ("expr", "query") and isinstance(v, str):
                    exprs.append(v)
                elif k == "definition" and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(dash)
    if len(exprs) < 5:
        fail("only %d expressions found in the dashboard" % len(exprs))
    promql = {"sum", "by", "without", "on", "ignoring", "group_left", "group_right", "max", "min", "avg", "count",
              "rate", "increase", "irate", "topk", "bottomk", "label_values", "and", "or", "unless", "offset",
              "clamp_min", "clamp_max", "max_over_time", "min_over_time", "sort_desc", "bool", "time", "vector",
              "changes", "delta", "absent", "label_replace", "query_result"}
    used = set()
    for e in exprs:
        # Drop strings, label matchers, durations and Grafana variables.
        bare = re.sub(r'"[^"]*"', "", e)
        bare = re.sub(r"\{[^}]*\}", "", bare)
        bare = re.sub(r"\[[^\]]*\]", "", bare)
        bare = re.sub(r"\$\w+", "", bare)
        bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
        for name in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
            if name in promql or re.fullmatch(r"[0-9.e]+", name):
                continue
            used.add(name)
    labels = {"uuid", "pid", "command", "device", "instance", "job", "pod", "namespace", "container"}
    unknown = sorted(n for n in used - labels if n not in families and n != "up")
    if unknown:
        fail("the dashboard uses names the exporter does not emit: %s" % unknown)
    if not used & families:
        fail("no dashboard expression uses a gpumem family")
    print("dashboard: %d expressions, names %s" % (len(exprs), sorted(used - labels)))


def test_utf8_labels():
    """Label values that differ only in ill-formed UTF-8 (argv[0] is any
    bytes) are written as the same valid UTF-8 (U+FFFD): they must then be
    one series, never two series with equal labels, which Prometheus
    refuses ("duplicate sample"). promtool check metrics passes."""
    have("promtool")
    env = dict(ENV, LD_PRELOAD=SHIM)
    for i, argv0 in enumerate([b"job\xff", b"job\xfe", b"job\xc3"]):
        name = "utf8_%d" % i
        start(name, [argv0, "0:%d" % (i + 1)], executable=HOLD, env=env, stdin=subprocess.PIPE)
        wait_for(name + " ready", lambda: "ready" in log_of(name), 10, 0.05)
    for extra in ([], ["--no-pid-label"]):
        r = subprocess.run([GPUMEM, "export"] + extra, env=ENV, capture_output=True, timeout=30)
        if r.returncode != 0:
            fail("export %s exited %d" % (extra, r.returncode))
        keys = [line.rsplit(b" ", 1)[0] for line in r.stdout.split(b"\n") if line and not line.startswith(b"#")]
        dups = sorted(set(k for k in keys if keys.count(k) > 1))
        if dups:
            fail("export %s writes series with equal labels: %s\n%s" % (extra, dups, r.stdout.decode()))
        r.stdout.decode("utf-8")  # valid UTF-8, or UnicodeDecodeError
        check = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, capture_output=True, timeout=30)
        if check.returncode != 0 or check.stdout or check.stderr:
            fail("promtool check metrics %s: %s %s" % (extra, check.stdout, check.stderr))
    out = r.stdout.decode()
    want = 'gpumem_process_reserved_bytes{command="job\ufffd",device="cuda:0",uuid="%s"} %d' % (GPU0, 6 * MIB)
    if want not in out:
        fail("--no-pid-label lacks %r:\n%s" % (want, out))


TESTS = {"serve_http": test_serve_http, "prometheus": test_prometheus, "node_exporter": test_node_exporter,
         "export": test_export, "dashboard": test_dashboard,
         "utf8_labels": test_utf8_labels}

if __name__ == "__main__":
    try:
        r = subprocess.run([GPUMEM, "serve", "--help"], capture_output=True, timeout=10)
        if TEST in ("serve_http", "prometheus", "dashboard") and b"not available" in r.stderr:
            skip("this gpumem was built without libmicrohttpd")
        TESTS[TEST]()
        print("ok: fleet." + TEST)
    finally:
        cleanup()
