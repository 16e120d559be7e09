"""Shared code of the benchmark scripts (dataset generator, manifests, runner).

Only the Python standard library and the `openssl` command are used. Everything
that shapes the dataset is deterministic:
  * bytes that must look random come from an AES-256-CTR keystream (openssl enc
    over /dev/zero with a key and IV derived from a label), which is the same on
    every machine and OpenSSL version;
  * structural choices (sizes, offsets, words) come from random.Random seeded with
    an integer, using only .random(), whose sequence Python guarantees to keep.
"""

import concurrent.futures
import hashlib
import os
import random
import stat
import subprocess

MiB = 1 << 20
GiB = 1 << 30


# --------------------------------------------------------------------------- randomness

def seed_of(label):
    return int.from_bytes(hashlib.sha256(("astra-bench:" + label).encode()).digest()[:8], "big")


class Rng:
    """Thin wrapper over random.Random that only uses .random() (stable across versions)."""

    def __init__(self, label):
        self._r = random.Random(seed_of(label))
        self.random = self._r.random

    def below(self, n):
        return int(self.random() * n) if n > 0 else 0

    def between(self, lo, hi):  # inclusive
        return lo + int(self.random() * (hi - lo + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def logu(self, lo, hi):
        """Log-uniform integer in [lo, hi]."""
        import math
        return int(math.exp(math.log(lo) + self.random() * (math.log(hi) - math.log(lo))))

    def chance(self, p):
        return self.random() < p


class KeyStream:
    """Endless deterministic incompressible bytes: AES-256-CTR keystream of a label."""

    def __init__(self, label):
        d = hashlib.sha256(("astra-bench-key:" + label).encode()).hexdigest()
        iv = hashlib.sha256(("astra-bench-iv:" + label).encode()).hexdigest()[:32]
        self._p = subprocess.Popen(
            ["openssl", "enc", "-aes-256-ctr", "-nosalt", "-K", d, "-iv", iv, "-in", "/dev/zero"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self._f = self._p.stdout

    def take(self, n):
        out = bytearray()
        while len(out) < n:
            b = self._f.read(min(n - len(out), 8 * MiB))
            if not b:
                raise RuntimeError("openssl keystream ended early")
            out += b
        return bytes(out)

    def close(self):
        try:
            self._p.kill()
        except ProcessLookupError:
            pass
        self._p.wait()
        self._f.close()


# --------------------------------------------------------------------------- text

_SYL = ("ka lo mi ne ra to shi ven dor el an is ur po qua tri zen bar fel gor "
        "hu ja ki lu ma no pe ri su te vo wa xi yo za be ce di fo ga").split()
_LEVELS = ["INFO"] * 14 + ["DEBUG"] * 6 + ["WARN"] * 3 + ["ERROR"]
_SERVICES = ["orders", "payments", "catalog", "auth", "search", "gateway", "billing", "inventory"]
_METHODS = ["GET"] * 8 + ["POST"] * 3 + ["PUT", "DELETE"]
_STATUS = ["200"] * 20 + ["201", "204", "301", "304", "304", "400", "401", "403", "404", "404", "500", "503"]
_PATHS = ["/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users/{id}", "/static/app.{hex}.js",
          "/static/style.{hex}.css", "/healthz", "/metrics", "/api/v2/search?q={word}",
          "/api/v1/cart/{id}/items", "/login", "/api/v1/products/{id}/reviews"]
_UA = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
       "curl/8.5.0", "kube-probe/1.36", "Prometheus/3.1.0", "python-requests/2.32.3", "Go-http-client/2.0"]
_MSGS = ["request completed", "cache miss for key {hex}", "connection accepted from {ip}",
         "retrying upstream call to {svc} (attempt {n})", "user {n} logged in", "slow query took {ms} ms",
         "payment {hex} authorised", "item {n} out of stock", "rebalancing partition {n}",
         "token refreshed for session {hex}", "upstream {svc} returned status {status}",
         "flushed {n} records to disk", "{word} {word} {word} failed: timeout after {ms} ms"]
_METRICS = ["cpu_seconds_total", "memory_rss_bytes", "http_requests_total", "disk_read_bytes",
            "net_rx_bytes", "gc_pause_seconds", "queue_depth", "open_fds"]
_CFG_KEYS = ["name", "image", "replicas", "port", "timeout", "retries", "enabled", "path", "mode",
             "level", "endpoint", "region", "bucket", "selector", "labels", "annotations", "limits"]
_CODE_KW = ["if", "for", "return", "static", "int", "const", "while", "struct", "void", "else", "size_t"]

BASE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z


class _LineGen:
    """Builds the line pool of one kind of text (slow, pure Python; run once per kind)."""

    def __init__(self, kind):
        self.r = r = Rng("pool:" + kind)
        ks = KeyStream("hexpool:" + kind)
        self.hexpool = ks.take(1 << 16).hex()
        ks.close()
        self.words = ["".join(r.choice(_SYL) for _ in range(r.between(1, 4))) for _ in range(3000)]
        self.t = BASE_EPOCH + r.below(86400 * 30)
        self.ms = 0
        self._sec = None
        self._iso = ""
        self._clf = ""
        self.gen = getattr(self, "_lines_" + kind)

    def _hex(self, n):
        o = self.r.below(len(self.hexpool) - n)
        return self.hexpool[o:o + n]

    def _ip(self):
        r = self.r
        return "10.%d.%d.%d" % (r.below(8), r.below(256), r.between(1, 254))

    def _word(self):
        # Zipf-like: low indices much more frequent
        w = self.words
        return w[int(len(w) * self.r.random() ** 3)]

    def _tick(self):
        self.ms += self.r.below(120)
        if self.ms >= 1000:
            self.t += self.ms // 1000
            self.ms %= 1000
        if self.t != self._sec:
            import time
            self._sec = self.t
            tm = time.gmtime(self.t)
            self._iso = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            self._clf = time.strftime("%d/%b/%Y:%H:%M:%S +0000", tm)

    def _fill(self, s):
        r = self.r
        if "{" not in s:
            return s
        return (s.replace("{id}", str(r.below(100000)), 1).replace("{hex}", self._hex(12), 1)
                .replace("{word}", self._word()).replace("{ip}", self._ip())
                .replace("{svc}", r.choice(_SERVICES)).replace("{n}", str(r.below(5000)))
                .replace("{ms}", str(r.below(9000))).replace("{status}", r.choice(_STATUS)))

    def _lines_access(self, n):
        r, out = self.r, []
        for _ in range(n):
            self._tick()
            out.append('%s - - [%s] "%s %s HTTP/1.1" %s %d "-" "%s" rt=%.3f\n' % (
                self._ip(), self._clf, r.choice(_METHODS), self._fill(r.choice(_PATHS)),
                r.choice(_STATUS), r.below(60000), r.choice(_UA), r.random() * 0.8))
        return out

    def _lines_jsonl(self, n):
        r, out = self.r, []
        for _ in range(n):
            self._tick()
            out.append('{"ts":"%s.%03dZ","level":"%s","svc":"%s","trace":"%s","msg":"%s","user":%d,"latency_ms":%.1f}\n' % (
                self._iso, self.ms, r.choice(_LEVELS), r.choice(_SERVICES), self._hex(16),
                self._fill(r.choice(_MSGS)), r.below(200000), r.random() * 250))
        return out

    def _lines_csv(self, n):
        r, out = self.r, []
        for _ in range(n):
            self._tick()
            out.append("%d%03d,node-%02d,%s,%.4f\n" % (self.t, self.ms, r.below(40), r.choice(_METRICS),
                                                      r.random() * 10 ** r.below(7)))
        return out

    def _lines_prose(self, n):
        r, out = self.r, []
        for _ in range(n):
            k = r.between(4, 16)
            s = " ".join(self._word() for _ in range(k))
            out.append(s.capitalize() + (".\n" if r.chance(0.7) else ".\n\n"))
        return out

    def _lines_config(self, n):
        r, out = self.r, []
        for _ in range(n):
            ind = "  " * r.below(4)
            key = r.choice(_CFG_KEYS)
            v = r.random()
            if v < 0.3:
                val = str(r.below(65536))
            elif v < 0.5:
                val = "true" if r.chance(0.5) else "false"
            elif v < 0.8:
                val = self._word() + "-" + self._word()
            else:
                val = '"%s"' % self._hex(r.between(8, 40))
            out.append("%s%s: %s\n" % (ind, key, val))
        return out

    def _lines_code(self, n):
        r, out = self.r, []
        for _ in range(n):
            ind = "\t" * r.below(4)
            out.append("%s%s %s_%s(%s, %d);\n" % (ind, r.choice(_CODE_KW), self._word(), self._word(),
                                                  self._word(), r.below(1024)))
        return out


POOL_LINES = 32768
_POOLS = {}


def line_pool(kind):
    if kind not in _POOLS:
        _POOLS[kind] = [ln.encode() for ln in _LineGen(kind).gen(POOL_LINES)]
    return _POOLS[kind]


class TextStream:
    """Endless deterministic text of one kind: access, jsonl, csv, prose, config, code.

    Each kind has a pool of POOL_LINES distinct generated lines (about 2-5 MiB, more
    than zstd's fast-level windows); a stream is a sequence of pool lines picked by
    its own keystream, so it compresses like real logs but never repeats in long runs
    that a chunker could deduplicate."""

    def __init__(self, kind, label):
        self.pool = line_pool(kind)
        self.ks = KeyStream("text:" + kind + ":" + label)
        self.buf = bytearray()
        self.pos = 0

    def take(self, n):
        import array
        import sys
        pool, P = self.pool, len(self.pool)
        while len(self.buf) - self.pos < n:
            if self.pos > 4 * MiB:
                del self.buf[:self.pos]
                self.pos = 0
            idx = array.array("I")
            idx.frombytes(self.ks.take(4 * 16384))
            if sys.byteorder == "big":
                idx.byteswap()
            self.buf += b"".join([pool[v % P] for v in idx])
        b = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return b

    def close(self):
        self.ks.close()


# --------------------------------------------------------------------------- manifests

def file_digest(path, bufsize=4 * MiB):
    """sha256 of a file's content; holes are hashed as zeros without reading them."""
    h = hashlib.sha256()
    zero = bytes(bufsize)
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole remains
                data = size
            while pos < data:  # a hole
                n = min(bufsize, data - pos)
                h.update(zero[:n] if n < bufsize else zero)
                pos += n
            if pos >= size:
                break
            try:
                hole = os.lseek(fd, pos, os.SEEK_HOLE)
            except OSError:
                hole = size
            os.lseek(fd, pos, os.SEEK_SET)
            while pos < hole:
                b = os.read(fd, min(bufsize, hole - pos))
                if not b:
                    raise IOError("short read in %s" % path)
                h.update(b)
                pos += len(b)
    return h.hexdigest()


def scan(root, digest=True, jobs=2):
    """Manifest of a tree: {relpath: (type, perm, size, mtime, sha256-or-linktarget)}.

    Types: d (directory), f (regular file), l (symlink), o (other). Directory sizes
    and times are not recorded (they differ legitimately between file systems and
    restorers)."""
    entries = {}
    files = []
    root = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + sorted(filenames):
            p = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else rel_dir + "/" + name
            st = os.lstat(p)
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                entries[rel] = ("l", perm, 0, int(st.st_mtime), os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                entries[rel] = ("d", perm, 0, 0, "")
            elif stat.S_ISREG(st.st_mode):
                entries[rel] = ("f", perm, st.st_size, int(st.st_mtime), "")
                files.append(rel)
            else:
                entries[rel] = ("o", perm, 0, 0, "")
    if digest:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
            for rel, d in zip(files, ex.map(lambda r: file_digest(os.path.join(root, r)), files)):
                t, perm, size, mtime, _ = entries[rel]
                entries[rel] = (t, perm, size, mtime, d)
    return entries


def manifest_text(entries):
    lines = []
    for rel in sorted(entries):
        t, perm, size, mtime, extra = entries[rel]
        lines.append("%s %04o %d %d %s %s\n" % (t, perm, size, mtime, extra or "-", rel))
    return "".join(lines)


def read_manifest(path):
    entries = {}
    with open(path) as f:
        for line in f:
            t, perm, size, mtime, extra, rel = line.rstrip("\n").split(" ", 5)
            entries[rel] = (t, int(perm, 8), int(size), int(mtime), "" if extra == "-" else extra)
    return entries


def manifest_hash(entries):
    return hashlib.sha256(manifest_text(entries).encode()).hexdigest()


def compare(expected, actual, check_dirs=True):
    """Differences between two manifests.

    content: missing/extra entries, type, size, content hash or link target;
    meta: permission bits and mtime (seconds) of files and symlinks, and
    directory permission bits."""
    content, meta = [], []
    for rel, e in expected.items():
        a = actual.get(rel)
        if a is None:
            content.append("missing: " + rel)
            continue
        if e[0] != a[0]:
            content.append("type %s != %s: %s" % (a[0], e[0], rel))
            continue
        if e[0] == "f" and (e[2] != a[2] or e[4] != a[4]):
            content.append("content differs: " + rel)
        elif e[0] == "l" and e[4] != a[4]:
            content.append("link target differs: " + rel)
        if e[0] != "l" and e[1] != a[1] and (check_dirs or e[0] != "d"):
            meta.append("mode %04o != %04o: %s" % (a[1], e[1], rel))
        if e[0] in "fl" and e[3] != a[3]:
            meta.append("mtime %d != %d: %s" % (a[3], e[3], rel))
    for rel in actual:
        if rel not in expected:
            content.append("extra: " + rel)
    return content, meta


def tree_bytes(entries):
    """(number of regular files, sum of their sizes) of a manifest."""
    n = s = 0
    for t, _, size, _, _ in entries.values():
        if t == "f":
            n += 1
            s += size
    return n, s


def allocated_bytes(root):
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_blocks * 512
    return total


def human(n):
    for unit, div in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(n) >= div:
            return "%.2f %s" % (n / div, unit)
    return "%d B" % n
