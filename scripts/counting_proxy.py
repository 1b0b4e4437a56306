#!/usr/bin/env python3
"""Counting HTTP reverse proxy for AWS API calls (standard library only).

Forwards every request (any method, path, query, headers, body) to an
upstream base URL -- typically a moto server -- and streams the response
back.  Each forwarded AWS call is counted and, optionally, appended as one
line (the operation name) to a log file.

Operation names:
  * form-encoded query-protocol calls (IAM, STS, ...): the ``Action``
    parameter of the body or query string, e.g. ``CreateUser``
  * JSON-protocol calls: the operation part of ``X-Amz-Target``
  * everything else (S3): ``METHOD /path?sorted-query-keys``,
    e.g. ``PUT /bench-b1?policy`` or ``GET /bench-b1?list-type&prefix``
    (normalised so the AWS Rust SDK and boto3 agree: the trailing slash of
    a bucket-level path ``/bucket/`` and the Rust SDK's ``x-id`` query
    parameter are dropped)

Control endpoints (neither forwarded nor counted):
  GET  /__proxy/count  -> {"total": N, "by_action": {"CreateUser": 1, ...}}
  GET  /__proxy/calls  -> [{"action": "CreateUser", "params": {...form parameters...},
                            "access_key_id": "AKIA...", "signing_region": "us-east-1"},
                           ...] in arrival order; the
                          parameters are those of form-encoded (IAM/STS) requests, which
                          never carry secrets; the key ID is read from the SigV4
                          Authorization header (never the signature)
  POST /__proxy/reset  -> zeroes the counters and the call list (the log file is left alone)
  POST /__proxy/fail   -> body {"action": "GetCallerIdentity", "times": 3, "status": 403,
                          "code": "InvalidClientTokenId"}: answer the next `times` calls of
                          that action with an AWS query-protocol error instead of forwarding
                          them (they are still counted); for fault-injection tests
  POST /__proxy/delay  -> body {"action": "AssumeRole", "seconds": 6}: hold every call of that
                          action this long before forwarding it (a slow endpoint); seconds 0
                          removes the delay

Requests under /moto-api/ are forwarded but not counted.

The Host header is forwarded exactly as the client sent it (SigV4 signs it).
``Expect: 100-continue`` is answered by the proxy itself; chunked request
bodies (HTTP ``Transfer-Encoding: chunked``) are de-chunked and forwarded
with a ``Content-Length``.  The payload itself -- including ``aws-chunked``
content-encoding with chunk signatures and trailing checksums -- is passed
through byte for byte.

Usage:
  counting_proxy.py --listen-port P --upstream http://127.0.0.1:MOTO_PORT [--log FILE]

Prints ``READY <port>`` on stdout once listening (``--listen-port 0`` picks
a free port).
"""

import argparse
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hop-by-hop headers (RFC 7230 6.1) are never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}

CHUNK = 64 * 1024
MAX_LINE = 64 * 1024


class Stats:
    def __init__(self, log_path=None):
        self._lock = threading.Lock()
        self.total = 0
        self.by_action = {}
        self.calls = []
        self.faults = {}
        self.delays = {}
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None

    def record(self, op, params=None, access_key_id=None, signing_region=None):
        with self._lock:
            self.total += 1
            self.by_action[op] = self.by_action.get(op, 0) + 1
            self.calls.append(
                {
                    "action": op,
                    "params": params or {},
                    "access_key_id": access_key_id,
                    "signing_region": signing_region,
                }
            )
            if self._log is not None:
                self._log.write(op + "\n")
                self._log.flush()

    def snapshot(self):
        with self._lock:
            return {
                "total": self.total,
                "by_action": dict(sorted(self.by_action.items())),
            }

    def reset(self):
        with self._lock:
            self.total = 0
            self.by_action = {}
            self.calls = []
            self.faults = {}
            self.delays = {}

    def call_list(self):
        with self._lock:
            return list(self.calls)

    def add_fault(self, action, times, status, code):
        with self._lock:
            self.faults[action] = {"times": times, "status": status, "code": code}

    def set_delay(self, action, seconds):
        with self._lock:
            self.delays[action] = seconds

    def delay_for(self, action):
        with self._lock:
            return self.delays.get(action, 0)

    def take_fault(self, action):
        """The injected error for this call, if one is pending."""
        with self._lock:
            fault = self.faults.get(action)
            if not fault or fault["times"] <= 0:
                return None
            fault["times"] -= 1
            return dict(fault)


def form_params(method, headers, body):
    """Parameters of a form-encoded (IAM/STS query protocol) request, single-valued."""
    ctype = (headers.get("Content-Type") or "").lower()
    if method != "POST" or not ctype.startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    except Exception:
        return {}
    return {k: v[0] for k, v in form.items() if k not in ("Action", "Version")}


def credential_scope(headers):
    """The parts of a SigV4 Authorization header's Credential=AKID/date/region/service/aws4_request."""
    auth = headers.get("Authorization") or ""
    marker = "Credential="
    start = auth.find(marker)
    if start < 0:
        return []
    return auth[start + len(marker):].split(",", 1)[0].split("/")


def signing_key_id(headers):
    """The access key ID of a SigV4 Authorization header (never the signature)."""
    scope = credential_scope(headers)
    return scope[0] if scope else None


def signing_region(headers):
    """The region a request was signed for."""
    scope = credential_scope(headers)
    return scope[2] if len(scope) > 2 else None


def operation_name(method, path, headers, body):
    """Best-effort AWS operation name for a request."""
    split = urllib.parse.urlsplit(path)
    query = split.query
    ctype = (headers.get("Content-Type") or "").lower()

    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]

    if method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
        try:
            form = urllib.parse.parse_qs(
                body.decode("utf-8", "replace"), keep_blank_values=True
            )
        except Exception:
            form = {}
        if form.get("Action"):
            return form["Action"][0]
    if query:
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        if q.get("Action"):
            return q["Action"][0]

    keys = []
    for part in query.split("&"):
        if not part:
            continue
        key = urllib.parse.unquote_plus(part.split("=", 1)[0])
        # The AWS Rust SDK appends ?x-id=OperationName to some S3 requests
        # (boto3 does not); drop it so both clients produce the same names.
        if key not in keys and key != "x-id":
            keys.append(key)
    keys.sort()
    path = split.path or "/"
    # Bucket-level requests: the Rust SDK sends "/bucket/", boto3 "/bucket".
    if path.endswith("/") and path.count("/") == 2:
        path = path[:-1]
    op = "%s %s" % (method, path)
    if keys:
        op += "?" + "&".join(keys)
    return op


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + automatic 100-continue
    server_version = "counting-proxy"
    timeout = 300  # idle client connections are dropped eventually

    # Set on the class by main().
    upstream = None  # urllib.parse.SplitResult
    stats = None  # Stats
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write(
                "%s - %s\n" % (self.address_string(), fmt % args)
            )

    # ---- request body --------------------------------------------------
    def _read_line(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ValueError("line too long in chunked body")
        if not line:
            raise ValueError("unexpected EOF in chunked body")
        return line

    def _read_exact(self, n):
        parts = []
        while n > 0:
            data = self.rfile.read(min(n, CHUNK))
            if not data:
                raise ValueError("unexpected EOF in request body")
            parts.append(data)
            n -= len(data)
        return b"".join(parts)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts = []
            while True:
                size_line = self._read_line().split(b";", 1)[0].strip()
                size = int(size_line, 16)
                if size == 0:
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)  # CRLF after chunk data
            # Trailer section (dropped) up to the terminating empty line.
            while self._read_line() not in (b"\r\n", b"\n"):
                pass
            return b"".join(parts), True
        length = self.headers.get("Content-Length")
        if length:
            return self._read_exact(int(length)), False
        return b"", False

    # ---- control endpoints ----------------------------------------------
    def _send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_fault(self, fault):
        data = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            "<Code>%s</Code><Message>injected by counting_proxy</Message></Error>"
            "<RequestId>injected</RequestId></ErrorResponse>" % fault["code"]
        ).encode()
        self.send_response(fault["status"])
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _control(self, path, body=b""):
        if path == "/__proxy/count" and self.command in ("GET", "HEAD"):
            self._send_json(200, self.stats.snapshot())
        elif path == "/__proxy/calls" and self.command == "GET":
            self._send_json(200, self.stats.call_list())
        elif path == "/__proxy/reset" and self.command == "POST":
            self.stats.reset()
            self._send_json(200, {"ok": True})
        elif path == "/__proxy/fail" and self.command == "POST":
            try:
                spec = json.loads(body.decode("utf-8"))
                self.stats.add_fault(
                    spec["action"], int(spec["times"]), int(spec["status"]), spec["code"]
                )
            except (ValueError, KeyError, TypeError) as exc:
                self._send_json(400, {"error": "bad fault spec: %s" % exc})
                return
            self._send_json(200, {"ok": True})
        elif path == "/__proxy/delay" and self.command == "POST":
            try:
                spec = json.loads(body.decode("utf-8"))
                self.stats.set_delay(spec["action"], float(spec["seconds"]))
            except (ValueError, KeyError, TypeError) as exc:
                self._send_json(400, {"error": "bad delay spec: %s" % exc})
                return
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"error": "unknown proxy control request"})

    # ---- main entry -------------------------------------------------------
    def _handle(self):
        path_only = urllib.parse.urlsplit(self.path).path
        try:
            body, was_chunked = self._read_body()
        except (ValueError, OSError) as exc:
            self.close_connection = True
            try:
                self.send_error(400, "bad request body: %s" % exc)
            except OSError:
                pass
            return

        if path_only.startswith("/__proxy/"):
            self._control(path_only, body)
            return

        if not path_only.startswith("/moto-api/"):
            op = operation_name(self.command, self.path, self.headers, body)
            self.stats.record(
                op,
                form_params(self.command, self.headers, body),
                signing_key_id(self.headers),
                signing_region(self.headers),
            )
            fault = self.stats.take_fault(op)
            if fault is not None:
                self._send_fault(fault)
                return
            delay = self.stats.delay_for(op)
            if delay > 0:
                time.sleep(delay)

        self._forward(body, was_chunked)

    def _forward(self, body, was_chunked):
        up = self.upstream
        # Connection-specific headers named in Connection: are hop-by-hop too.
        drop = set(HOP_BY_HOP)
        drop.add("expect")  # the proxy already answered 100-continue
        for value in self.headers.get_all("Connection") or []:
            drop.update(t.strip().lower() for t in value.split(",") if t.strip())
        if was_chunked:
            drop.add("content-length")

        target = self.path
        if not target.startswith("/"):  # absolute-form request target
            s = urllib.parse.urlsplit(target)
            target = urllib.parse.urlunsplit(("", "", s.path or "/", s.query, ""))
        if up.path and up.path != "/":
            target = up.path.rstrip("/") + target

        conn_cls = (
            http.client.HTTPSConnection
            if up.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = conn_cls(up.hostname, up.port, timeout=300)
        try:
            conn.putrequest(
                self.command, target, skip_host=True, skip_accept_encoding=True
            )
            saw_host = False
            for name, value in self.headers.items():
                lname = name.lower()
                if lname in drop:
                    continue
                if lname == "host":
                    saw_host = True
                conn.putheader(name, value)
            if not saw_host:
                conn.putheader("Host", up.netloc)
            if was_chunked or (
                body and self.headers.get("Content-Length") is None
            ):
                conn.putheader("Content-Length", str(len(body)))
            elif not body and self.command in ("POST", "PUT", "PATCH") and \
                    self.headers.get("Content-Length") is None:
                conn.putheader("Content-Length", "0")
            conn.putheader("Connection", "close")
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self.close_connection = True
            try:
                self.send_error(502, "upstream error: %s" % exc)
            except OSError:
                pass
            return

        try:
            self._relay_response(resp)
        finally:
            conn.close()

    def _relay_response(self, resp):
        drop = set(HOP_BY_HOP)
        for value in resp.headers.get_all("Connection") or []:
            drop.update(t.strip().lower() for t in value.split(",") if t.strip())
        no_body = (
            self.command == "HEAD"
            or resp.status in (204, 304)
            or 100 <= resp.status < 200
        )
        length = resp.headers.get("Content-Length")
        upstream_chunked = "chunked" in (
            resp.headers.get("Transfer-Encoding") or ""
        ).lower()
        use_length = length is not None and not upstream_chunked

        self.send_response_only(resp.status, resp.reason)
        for name, value in resp.headers.items():
            if name.lower() in drop:
                continue
            if name.lower() == "content-length" and not use_length:
                continue
            self.send_header(name, value)

        if no_body:
            self.end_headers()
            return

        chunked_out = not use_length
        if chunked_out:
            if self.request_version >= "HTTP/1.1":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                # HTTP/1.0 client: delimit the body by closing the connection.
                chunked_out = False
                self.close_connection = True
                self.send_header("Connection", "close")
        self.end_headers()

        while True:
            data = resp.read(CHUNK)
            if not data:
                break
            if chunked_out:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # Every method goes through _handle.
    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle
    do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _handle


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # Clients hanging up mid-response are routine; stay quiet about them.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen-port", type=int, required=True,
                    help="port on 127.0.0.1 to listen on (0 = pick a free port)")
    ap.add_argument("--upstream", required=True,
                    help="upstream base URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--log", help="append one line per counted call to FILE")
    ap.add_argument("--verbose", action="store_true",
                    help="log every request to stderr")
    args = ap.parse_args(argv)

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme not in ("http", "https") or not up.hostname:
        ap.error("--upstream must be an http(s) URL")
    if up.port is None:
        up = urllib.parse.urlsplit(
            "%s://%s:%d%s" % (up.scheme, up.hostname,
                              443 if up.scheme == "https" else 80, up.path)
        )

    ProxyHandler.upstream = up
    ProxyHandler.stats = Stats(args.log)
    ProxyHandler.verbose = args.verbose

    server = ProxyServer(("127.0.0.1", args.listen_port), ProxyHandler)
    print("READY %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
