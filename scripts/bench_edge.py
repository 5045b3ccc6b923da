"""The edge benchmark's driver (see scripts/bench-edge.sh).

Serves DIR as bucket `bench` over plain HTTP on 127.0.0.1 (GET only, with
ETag / If-None-Match, 404 for missing keys; signatures are not checked),
and answers DynamoDB's GetItem for names the table does not hold (the
benchmark's misses), starts `wrangler dev` with the prebuilt Worker pointed
at it, and sends a bounded sequence of requests over CONNECTIONS
connections at once. With live deltas (gen-snapshot's third argument), a
new pointer, with a full-size delta of its own, is swapped in every second.
"""
import collections
import http.client
import http.server
import json
import urllib.parse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import urllib.error

ITEMS, DIR, QUERIES = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
CONNECTIONS = int(sys.argv[4]) if len(sys.argv) > 4 else 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fetches = {"n": 0}
fetched = collections.Counter()  # object key -> GETs answered 200
lookups = {"n": 0}
lock = threading.Lock()
M64 = (1 << 64) - 1


def mix(x):
    """SplitMix64, as bench/src/synthetic.rs draws an item's media type."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def name(i, n):
    """Item i of the synthetic table of n items, as bench/src/synthetic.rs names it."""
    per_album = max(-(-n // 100), 1)
    ext = "mp4" if mix(i ^ 0xF00D) % 10 == 0 else "jpg"
    return f"a{i // per_album:03}/{i % per_album:08}.{ext}"


class S3Files(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 does

    def do_GET(self):
        path = urllib.request.unquote(self.path.split("?")[0])
        parts = path.lstrip("/").split("/", 1)
        if len(parts) != 2 or parts[0] != "bench":
            return self.send_error(404)
        file = os.path.join(DIR, parts[1])
        if not os.path.isfile(file):
            body = b"<Error><Code>NoSuchKey</Code></Error>"
            self.send_response(404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        st = os.stat(file)
        etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
        if self.headers.get("if-none-match") == etag:
            self.send_response(304)
            self.send_header("etag", etag)
            self.send_header("content-length", "0")
            return self.end_headers()
        with open(file, "rb") as f:
            body = f.read()
        with lock:
            fetches["n"] += 1
            if "/objects/" in parts[1]:
                fetched[parts[1]] += 1
        self.send_response(200)
        self.send_header("etag", etag)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        """DynamoDB's GetItem: the table holds no name the snapshot lacks."""
        self.rfile.read(int(self.headers.get("content-length", "0")))
        if not (self.headers.get("x-amz-target") or "").endswith(".GetItem"):
            return self.send_error(501)
        with lock:
            lookups["n"] += 1
        body = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


s3_port = free_port()
server = http.server.ThreadingHTTPServer(("127.0.0.1", s3_port), S3Files)
threading.Thread(target=server.serve_forever, daemon=True).start()

work = tempfile.mkdtemp(prefix="media-query-bench-edge-")
port = free_port()
shim = os.path.join(ROOT, "edge/build/worker/shim.mjs")
vars_ = {
    "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}", "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    "MEDIA_TABLE_NAME": "none", "SNAPSHOT_BUCKET": "bench", "SNAPSHOT_PREFIX": "bench",
    "SNAPSHOT_TTL_SECONDS": "3600", "DEBUG_MEMORY": "1",
}
LIVE = any(re.fullmatch(r"current-\d+\.json", f) for f in os.listdir(os.path.join(DIR, "bench/serving")))
if LIVE:
    # The pointer is re-checked every second, as it changes.
    vars_["SNAPSHOT_TTL_SECONDS"] = "1"
with open(os.path.join(work, "wrangler.toml"), "w") as f:
    f.write(f'name = "media-query-bench"\nmain = {json.dumps(shim)}\ncompatibility_date = "2026-04-01"\n\n[vars]\n')
    for k, v in vars_.items():
        f.write(f"{k} = {json.dumps(v)}\n")
log_path = os.path.join(work, "wrangler.log")
log = open(log_path, "w")
wrangler = subprocess.Popen(
    [os.path.join(ROOT, "node_modules/.bin/wrangler"), "dev", "--config", os.path.join(work, "wrangler.toml"),
     "--ip", "127.0.0.1", "--port", str(port), "--inspector-port", str(free_port()),
     "--persist-to", os.path.join(work, "state")],
    cwd=work, stdout=log, stderr=log, env={**os.environ, "WRANGLER_SEND_METRICS": "false"}, start_new_session=True)


local = threading.local()


def get(path):
    """One GET on this thread's kept-alive connection (so connection set-up is not timed)."""
    for attempt in range(2):
        if getattr(local, "c", None) is None:
            local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t = time.perf_counter()
        try:
            local.c.request("GET", urllib.parse.quote(path, safe="/?&=%"))
            r = local.c.getresponse()
            body = r.read()
            return r.status, body, (time.perf_counter() - t) * 1000
        except (ConnectionError, http.client.HTTPException):
            local.c = None
            if attempt:
                raise


try:
    for _ in range(600):
        try:
            get("/?limit=0")
            break
        except Exception:
            local.c = None
            time.sleep(0.2)
    else:
        sys.exit("wrangler dev did not start; see " + log_path)

    def median_ms(path, n=200):
        return sorted(get(path)[2] for _ in range(n))[n // 2]

    trivial = median_ms("/?limit=0", 200)
    meta = json.load(open(os.path.join(DIR, "stamp.json")))
    print(f"{ITEMS} items: {meta['shards']} shards, {meta['shardBytes']/1e6:.1f} MB gzip'd; trivial request {trivial:.2f} ms (median)")
    n = ITEMS
    per_album = max(-(-n // 100), 1)
    mid = n // 2
    kinds = [
        ("get", "/" + name(mid, n)),
        ("page-all", "/?limit=1000"),
        ("page-label", "/?label=Dog&limit=1000"),
        ("page-type", "/?media-type=video&limit=1000"),
        ("page-prefix", "/?startswith=a042/&limit=1000"),
        ("page-label+type", "/?label=Dog&media-type=video&limit=1000"),
    ]
    print(f"{'request':18} {'cold ms':>8} {'fetches':>8} {'warm ms':>8} {'warm - trivial':>15}")
    for kind, path in kinds:
        before = fetches["n"]
        status, body, cold = get(path)
        cold_fetches = fetches["n"] - before
        if status not in (200, 404):
            sys.exit(f"{path}: {status} {body[:200]}")
        before = fetches["n"]
        warm = median_ms(path)
        warm_fetches = (fetches["n"] - before) / 200
        print(f"{kind:18} {cold:8.2f} {cold_fetches:8d} {warm:8.2f} {warm - trivial:15.2f}   (warm fetches/request {warm_fetches:.1f})")

    labels = ["Dog"] + [f"{w} {i}" for i, w in [(i // 12, ["Animal", "Plant", "Vehicle", "Food", "Building", "Person", "Sky", "Water", "Furniture", "Clothing", "Tool", "Toy"][i % 12]) for i in range(300)]]
    pointer = os.path.join(DIR, "bench/serving/current.json")
    live = sorted(f for f in os.listdir(os.path.dirname(pointer)) if re.fullmatch(r"current-\d+\.json", f))
    stop = threading.Event()
    versions = {"n": 0}

    def swap_pointer():
        """A new version every second, each with its own full-size delta."""
        k = 0
        while not stop.wait(1.0):
            tmp = pointer + ".tmp"
            shutil.copyfile(os.path.join(os.path.dirname(pointer), live[k % len(live)]), tmp)
            os.replace(tmp, pointer)
            versions["n"] += 1
            k += 1

    failures = []

    def client(seed, count):
        rng = random.Random(seed)
        for _ in range(count):
            r = rng.random()
            i = rng.randrange(n)
            if r < 0.45:
                path = "/" + name(i, n)
            elif r < 0.5:
                path = f"/a{i // per_album:03}/{i % per_album:08}.png"  # a real miss
            elif r < 0.8:
                path = "/?label=" + urllib.parse.quote(rng.choice(labels)) + f"&limit={rng.choice([10, 100, 1000])}"
            else:
                path = f"/?startswith=a{rng.randrange(100):03}/{rng.randrange(10)}&limit=100"
            status, body, _ = get(path)
            if status not in (200, 404):
                failures.append(f"{path}: {status} {body[:200]}")
                return

    swapper = threading.Thread(target=swap_pointer, daemon=True)
    if live:
        swapper.start()
    before_random = fetches["n"]
    with lock:
        fetched.clear()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(42 + c, QUERIES // CONNECTIONS)) for c in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    stop.set()
    if failures:
        sys.exit(failures[0])
    time.sleep(0.5)
    mem = [l for l in open(log_path) if "memory: wasm=" in l]
    peak = max(int(re.search(r"wasm=(\d+)", l).group(1)) for l in mem)
    last = mem[-1].strip()
    most = fetched.most_common(1)[0] if fetched else ("-", 0)
    print(f"{QUERIES} random queries (5% misses) over {CONNECTIONS} connections in {elapsed:.1f} s ({QUERIES / elapsed:.0f}/s); "
          f"{versions['n']} new versions with live deltas; {fetches['n'] - before_random} object fetches, "
          f"{len(fetched)} distinct objects, at most {most[1]} fetches of one object ({most[0]}); "
          f"{lookups['n']} GetItem lookups of misses; peak wasm memory {peak / 2**20:.1f} MiB; last: {last[last.index('memory:'):]}")
finally:
    os.killpg(wrangler.pid, 15)
    server.shutdown()
