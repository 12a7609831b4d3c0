"""tests/server/kura_api_harness.py — run the real kura-server for a test.

Starts `kura-server serve` on a free loopback port (--listen 127.0.0.1:0,
--port-file) in a temporary data directory (or on KURA_TEST_DB_URL, the
PostgreSQL of with-postgres.sh), waits for /healthz, and stops it with
SIGTERM (it must exit 0). Every response the tests see can be held against
docs/openapi.json (a small JSON-schema subset validator below). Python 3
standard library only.
"""
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROLES = ["viewer", "initiator", "approver", "administrator", "auditor"]
SCOPES = ["wallets:read", "wallets:write", "addresses:read", "addresses:write",
          "transfers:read", "transfers:create", "transfers:approve", "transfers:sign",
          "transfers:cancel", "deposits:read", "audit:read", "webhooks:read",
          "webhooks:write", "users:read", "users:write", "keys:read", "keys:write"]
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def error(self):
        try:
            return self.json().get("error")
        except Exception:
            return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


# ---- a JSON-schema subset: type, enum, required, properties,
# additionalProperties false, items, min/maxLength, minimum/maximum,
# min/maxItems, pattern, $ref ----

class Schemas:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, s):
        while "$ref" in s:
            node = self.doc
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            s = node
        return s

    def validate(self, v, s, path="$"):
        s = self.resolve(s)
        t = s.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            ok = False
            for ty in types:
                if ty == "null" and v is None: ok = True
                elif ty == "string" and isinstance(v, str): ok = True
                elif ty == "integer" and isinstance(v, int) and not isinstance(v, bool): ok = True
                elif ty == "number" and isinstance(v, (int, float)) and not isinstance(v, bool): ok = True
                elif ty == "boolean" and isinstance(v, bool): ok = True
                elif ty == "object" and isinstance(v, dict): ok = True
                elif ty == "array" and isinstance(v, list): ok = True
            if not ok:
                raise Failure("%s: %r is not %s" % (path, v, t))
        if "enum" in s and v not in s["enum"]:
            raise Failure("%s: %r not in enum" % (path, v))
        if isinstance(v, str):
            if len(v.encode()) < s.get("minLength", 0) or len(v.encode()) > s.get("maxLength", 1 << 62):
                raise Failure("%s: length out of range" % path)
            if "pattern" in s and not re.search(s["pattern"], v):
                raise Failure("%s: %r does not match %s" % (path, v, s["pattern"]))
        if isinstance(v, int) and not isinstance(v, bool):
            if v < s.get("minimum", -(1 << 63)) or v > s.get("maximum", 1 << 63):
                raise Failure("%s: %d out of range" % (path, v))
        if isinstance(v, dict):
            for r in s.get("required", []):
                if r not in v:
                    raise Failure("%s: missing %s" % (path, r))
            props = s.get("properties", {})
            for k, x in v.items():
                if k in props:
                    self.validate(x, props[k], path + "." + k)
                elif s.get("additionalProperties") is False:
                    raise Failure("%s: undocumented field %s" % (path, k))
        if isinstance(v, list):
            if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", 1 << 62):
                raise Failure("%s: item count out of range" % path)
            if "items" in s:
                for i, x in enumerate(v):
                    self.validate(x, s["items"], "%s[%d]" % (path, i))


def load_openapi():
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        return json.load(f)


def path_template(doc, path):
    """The documented path template a concrete path matches, or None."""
    for tmpl in doc["paths"]:
        rx = "^" + re.sub(r"\\\{id\\\}", "[^/]+", re.escape(tmpl)) + "$"
        if re.match(rx, path):
            return tmpl
    return None


class Server:
    def __init__(self, binary, env_extra=None):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="kura-api-test.")
        self.data = os.path.join(self.dir, "data")
        self.db = os.environ.get("KURA_TEST_DB_URL")
        self.proc = None
        self.port = None
        self.env = dict(os.environ)
        self.env["KURA_TEST_CHEAP_KDF"] = "1"
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        if env_extra:
            self.env.update(env_extra)
        self.doc = load_openapi()
        self.schemas = Schemas(self.doc)
        self.checked = 0
        self.validate_responses = True

    def common(self):
        a = ["--data-dir", self.data]
        if self.db:
            a += ["--db", self.db]
        return a

    def cli(self, *args, stdin=None, check_rc=True):
        p = subprocess.run([self.binary] + list(args[:2]) + self.common() + list(args[2:]),
                           input=stdin, capture_output=True, env=self.env, timeout=300)
        if check_rc and p.returncode != 0:
            raise Failure("kura-server %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                          p.stderr.decode(errors="replace")))
        return p

    def user_add(self, name, role, password, approver_name=None):
        pf = os.path.join(self.dir, "pw")
        with open(pf, "w") as f:
            f.write(password + "\n")
        extra = ["--approver-name", approver_name] if approver_name else []
        self.cli("user", "add", name, "--role", role, "--password-file", pf, *extra)
        os.unlink(pf)

    def start(self, extra=None):
        portfile = os.path.join(self.dir, "port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "serve"] + self.common() +
                                     ["--listen", "127.0.0.1:0", "--port-file", portfile] +
                                     (extra or []), env=self.env, stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("kura-server exited %d at start:\n%s" % (self.proc.returncode,
                                                                     self.server_log()))
            if os.path.exists(portfile):
                txt = open(portfile).read().strip()
                if txt:
                    self.port = int(txt)
                    try:
                        r = self.request("GET", "/healthz")
                        if r.status == 200:
                            return
                    except OSError:
                        pass
            time.sleep(0.05)
        raise Failure("kura-server did not become healthy:\n" + self.server_log())

    def server_log(self):
        try:
            return open(os.path.join(self.dir, "server.log"), "rb").read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise Failure("kura-server did not stop on SIGTERM")
            check(rc == 0, "kura-server exited %d on SIGTERM:\n%s" % (rc, self.server_log()))
        self.proc = None

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- HTTP ----

    def request(self, method, path, body=None, headers=None, ctype="application/json",
                auth=None, idem=None):
        h = dict(headers or {})
        if auth is not None:
            auth.apply(h, method)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if body is not None and ctype is not None:
            h.setdefault("Content-Type", ctype)
        if idem:
            h["Idempotency-Key"] = idem
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        if self.validate_responses:
            self.check_response(method, path, resp)
        return resp

    def check_response(self, method, path, resp):
        """Every answer: the security headers; errors from the one list; a
        documented route's answer valid against its documented schema."""
        for k, v in SECURITY_HEADERS.items():
            check(resp.headers.get(k) == v, "%s %s: header %s is %r" % (method, path, k, resp.headers.get(k)))
        check("content-security-policy" in resp.headers, "%s %s: no CSP" % (method, path))
        if resp.status >= 400:
            check(resp.headers.get("content-type") == "application/json",
                  "%s %s: error not JSON" % (method, path))
            self.schemas.validate(resp.json(), {"$ref": "#/components/schemas/Error"})
            self.checked += 1
            return
        tmpl = path_template(self.doc, path.split("?")[0])
        if tmpl is None:
            return
        op = self.doc["paths"][tmpl].get(method.lower())
        check(op is not None, "%s %s answered %d but is not documented" % (method, tmpl, resp.status))
        rdoc = op["responses"].get(str(resp.status))
        check(rdoc is not None, "%s %s: status %d not documented" % (method, tmpl, resp.status))
        content = rdoc.get("content")
        if not content:
            check(len(resp.body) == 0, "%s %s: %d has a body" % (method, tmpl, resp.status))
            return
        ct = resp.headers.get("content-type", "")
        check(ct in content, "%s %s: content type %s not documented" % (method, tmpl, ct))
        if ct == "application/json":
            try:
                self.schemas.validate(resp.json(), content[ct]["schema"])
            except Failure as e:
                raise Failure("%s %s: %s" % (method, tmpl, e))
            self.checked += 1


class Session:
    """A signed-in user: the cookie and the CSRF token."""
    def __init__(self, cookie, csrf, user):
        self.cookie, self.csrf, self.user = cookie, csrf, user
        self.send_csrf = True

    def apply(self, h, method):
        h["Cookie"] = "kura_session=" + self.cookie
        if self.send_csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf


class ApiKey:
    def __init__(self, key, info=None):
        self.key, self.info = key, info

    def apply(self, h, method):
        h["Authorization"] = "Bearer " + self.key


def signin(srv, username, password):
    r = srv.request("POST", "/v1/session", {"username": username, "password": password})
    check(r.status == 201, "sign-in of %s: %r" % (username, r))
    m = re.match(r"kura_session=([^;]*);", r.headers.get("set-cookie", ""))
    check(m is not None, "sign-in: no cookie")
    sc = r.headers["set-cookie"]
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
        check(attr in sc, "session cookie lacks " + attr)
    return Session(m.group(1), r.json()["csrf_token"], r.json()["user"])


def new_password():
    return "pw-" + secrets.token_hex(12)


def routes(srv):
    p = srv.cli("routes", check_rc=True)
    return json.loads(p.stdout)


def main(fn):
    if len(sys.argv) < 2:
        print("usage: %s KURA_SERVER_BINARY" % sys.argv[0])
        sys.exit(2)
    srv = Server(sys.argv[1])
    try:
        fn(srv)
    except Failure as e:
        print("FAIL:", e)
        print("--- server log (tail) ---")
        print(srv.server_log())
        srv.cleanup()
        sys.exit(1)
    srv.cleanup()
    print("OK (%d responses validated against docs/openapi.json)" % srv.checked)
