#!/usr/bin/env python3
"""Send one Shared Key signed request to an Azure Blob endpoint (stdlib only).

    azreq.py [-H 'Name: value']... [--data FILE] [--headers] METHOD /container[/blob][?query]

Endpoint and credentials come from the environment written by azurite-up:
ASTRA_TB_AZ_ENDPOINT (the blob endpoint, e.g. http://127.0.0.1:PORT/ACCOUNT),
ASTRA_TB_AZ_ACCOUNT and ASTRA_TB_AZ_KEY. Prints the response body (with
--headers: the response headers, one "name: value" a line) to stdout and the
status line to stderr; exits 0 for 2xx, 1 otherwise.

This is the test bed's independent client: its signer is written from the
"Authorize with Shared Key" reference, separately from lib/store/azure.c.
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

API_VERSION = "2021-12-02"


def string_to_sign(method, headers, account, path, query):
    h = {k.lower(): v for k, v in headers.items()}
    length = h.get("content-length", "")
    if length == "0":
        length = ""
    parts = [
        method,
        h.get("content-encoding", ""),
        h.get("content-language", ""),
        length,
        h.get("content-md5", ""),
        h.get("content-type", ""),
        "",  # Date: x-ms-date is used
        h.get("if-modified-since", ""),
        h.get("if-match", ""),
        h.get("if-none-match", ""),
        h.get("if-unmodified-since", ""),
        h.get("range", ""),
    ]
    ms = sorted((k, " ".join(v.strip().split())) for k, v in h.items() if k.startswith("x-ms-"))
    canon_headers = "".join("%s:%s\n" % kv for kv in ms)
    resource = "/" + account + path
    params = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        params.setdefault(k.lower(), []).append(v)
    for k in sorted(params):
        resource += "\n%s:%s" % (k, ",".join(sorted(params[k])))
    return "\n".join(parts) + "\n" + canon_headers + resource


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-H", action="append", default=[])
    ap.add_argument("--data")
    ap.add_argument("--headers", action="store_true")
    ap.add_argument("method")
    ap.add_argument("target")
    a = ap.parse_args()
    endpoint = os.environ["ASTRA_TB_AZ_ENDPOINT"].rstrip("/")
    account = os.environ["ASTRA_TB_AZ_ACCOUNT"]
    key = base64.b64decode(os.environ["ASTRA_TB_AZ_KEY"])
    body = b""
    if a.data:
        with open(a.data, "rb") as f:
            body = f.read()
    path, _, query = a.target.partition("?")
    ep = urllib.parse.urlsplit(endpoint)
    full_path = urllib.parse.quote(ep.path + path, safe="/~")
    headers = {}
    for line in a.H:
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
    headers["x-ms-version"] = API_VERSION
    if body or a.method in ("PUT", "POST"):
        headers["Content-Length"] = str(len(body))
        headers.setdefault("Content-Type", "application/octet-stream")
    sts = string_to_sign(a.method, headers, account, full_path, query)
    sig = base64.b64encode(hmac.new(key, sts.encode("utf-8"), hashlib.sha256).digest()).decode()
    headers["Authorization"] = "SharedKey %s:%s" % (account, sig)
    qs = urllib.parse.urlencode(urllib.parse.parse_qsl(query, keep_blank_values=True), quote_via=urllib.parse.quote)
    url = "%s://%s%s%s" % (ep.scheme, ep.netloc, full_path, "?" + qs if qs else "")
    req = urllib.request.Request(url, data=body if (body or a.method in ("PUT", "POST")) else None,
                                 method=a.method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, hdrs, data = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, data = e.code, e.headers, e.read()
    out = sys.stdout.buffer
    if a.headers:
        for k, v in hdrs.items():
            out.write(("%s: %s\n" % (k.lower(), v)).encode())
    else:
        out.write(data)
    out.flush()
    print("HTTP %d %s" % (status, hdrs.get("x-ms-error-code", "")), file=sys.stderr)
    if not 200 <= status < 300 and a.headers:
        sys.stderr.write(data.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
