#!/usr/bin/env python3
"""Send one AWS Signature Version 4 signed request to an S3 endpoint (stdlib only).

    s3req.py [-H 'Name: value']... [--data FILE] METHOD /bucket[/key][?query]

Endpoint and credentials come from the environment written by minio-up:
ASTRA_TB_S3_ENDPOINT, ASTRA_TB_S3_ACCESS_KEY, ASTRA_TB_S3_SECRET_KEY and
ASTRA_TB_S3_REGION (default us-east-1). Prints the response body to stdout and
the status line to stderr; exits 0 for 2xx, 1 otherwise.
"""
import argparse
import datetime
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def _sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signed_request(method, endpoint, path, query, headers, body, access_key, secret_key, region):
    """Return a urllib Request signed with SigV4 (service s3, payload hashed)."""
    url = urllib.parse.urlsplit(endpoint)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()

    hdrs = {k.lower().strip(): " ".join(v.strip().split()) for k, v in headers.items()}
    hdrs["host"] = url.netloc
    hdrs["x-amz-date"] = amz_date
    hdrs["x-amz-content-sha256"] = payload_hash
    if body:
        hdrs["content-length"] = str(len(body))

    canonical_uri = urllib.parse.quote(path, safe="/~")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    canonical_query = "&".join(
        "%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
        for k, v in sorted(pairs)
    )
    signed_names = sorted(hdrs)
    canonical_headers = "".join("%s:%s\n" % (k, hdrs[k]) for k in signed_names)
    signed_headers = ";".join(signed_names)
    canonical_request = "\n".join(
        [method, canonical_uri, canonical_query, canonical_headers, signed_headers, payload_hash]
    )
    scope = "%s/%s/s3/aws4_request" % (datestamp, region)
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    k = _sign(("AWS4" + secret_key).encode("utf-8"), datestamp)
    k = _sign(k, region)
    k = _sign(k, "s3")
    k = _sign(k, "aws4_request")
    signature = hmac.new(k, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    hdrs["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, signed_headers, signature)
    del hdrs["host"]  # urllib sets it itself, to the same value

    full = "%s://%s%s" % (url.scheme, url.netloc, canonical_uri)
    if canonical_query:
        full += "?" + canonical_query
    return urllib.request.Request(full, data=body if body else None, method=method, headers=hdrs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-H", "--header", action="append", default=[], help="extra header 'Name: value'")
    ap.add_argument("--data", help="file whose content is the request body")
    ap.add_argument("method")
    ap.add_argument("target", help="/bucket[/key][?query]")
    a = ap.parse_args()

    try:
        endpoint = os.environ["ASTRA_TB_S3_ENDPOINT"]
        access_key = os.environ["ASTRA_TB_S3_ACCESS_KEY"]
        secret_key = os.environ["ASTRA_TB_S3_SECRET_KEY"]
    except KeyError as e:
        sys.exit("s3req.py: %s is not set (source the env file written by minio-up)" % e)
    region = os.environ.get("ASTRA_TB_S3_REGION", "us-east-1")

    path, _, query = a.target.partition("?")
    headers = {}
    for h in a.header:
        name, sep, value = h.partition(":")
        if not sep:
            sys.exit("s3req.py: bad header %r" % h)
        headers[name] = value
    body = b""
    if a.data:
        with open(a.data, "rb") as f:
            body = f.read()

    req = signed_request(a.method.upper(), endpoint, path, query, headers, body, access_key, secret_key, region)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            sys.stderr.write("HTTP %d\n" % resp.status)
            sys.stdout.buffer.write(resp.read())
            return 0
    except urllib.error.HTTPError as e:
        sys.stderr.write("HTTP %d\n" % e.code)
        sys.stdout.buffer.write(e.read())
        return 1


if __name__ == "__main__":
    sys.exit(main())
