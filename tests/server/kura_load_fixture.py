"""tests/server/kura_load_fixture.py — a wallet and a transfer-creating API key
on a running kura-server, for tests and benchmarks that create transfers in
bulk (test_server_durability.py, bench/server.py). Python 3 standard library
and ssh-keygen only.

The wallet is a single-key P2WPKH mainnet wallet (wpkh(XPUB/<0;1>/*), the
master public key of BIP32's test vector 1: no private key is needed to
create transfers) under a policy that two administrators' ssh-ed25519 keys
(made here by ssh-keygen) sign with the kura-policy-v1 namespace, exactly as
POST /v1/wallets wants. Transfers pay D1 (a mainnet P2WPKH address, on no
allowlist: the policy does not require one).
"""
import json
import os
import subprocess

# BIP32 test vector 1, chain m: a well-formed mainnet xpub.
XPUB = ("xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjq"
        "JoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8")
D1 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

# BIP380's descriptor checksum, written from the specification.
_INPUT_CHARSET = ("0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
                  "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ")
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd)


def _polymod(c, val):
    top = c >> 35
    c = ((c & 0x7ffffffff) << 5) ^ val
    for i in range(5):
        if (top >> i) & 1:
            c ^= _GEN[i]
    return c


def descriptor_checksum(desc):
    c, cls, count = 1, 0, 0
    for ch in desc:
        pos = _INPUT_CHARSET.find(ch)
        if pos < 0:
            raise ValueError("character %r not allowed in a descriptor" % ch)
        c = _polymod(c, pos & 31)
        cls = cls * 3 + (pos >> 5)
        count += 1
        if count == 3:
            c = _polymod(c, cls)
            cls, count = 0, 0
    if count > 0:
        c = _polymod(c, cls)
    for _ in range(8):
        c = _polymod(c, 0)
    c ^= 1
    return "".join(_CHECKSUM_CHARSET[(c >> (5 * (7 - i))) & 31] for i in range(8))


def _keygen(d, name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path],
                       check=True, stdin=subprocess.DEVNULL)
    with open(path + ".pub") as f:
        return " ".join(f.read().split()[:2])


def wallet_request(workdir, name="load-wallet"):
    """The body of POST /v1/wallets: descriptor, policy, the two
    administrators' signatures (keys made in workdir/keys)."""
    kd = os.path.join(workdir, "keys")
    os.makedirs(kd, exist_ok=True)
    admins = [("admin1", _keygen(kd, "admin1")), ("admin2", _keygen(kd, "admin2"))]
    approver = _keygen(kd, "carol")
    body = "wpkh(%s/<0;1>/*)" % XPUB
    desc = body + "#" + descriptor_checksum(body)
    policy = ("kura-policy 1\nversion: 1\nnetwork: bitcoin\nwallet: %s #%s\nmode: cold\n"
              % (name, descriptor_checksum(body)))
    for n, k in admins:
        policy += "admin: %s %s\n" % (n, k)
    policy += "admin-quorum: 2\napprover: carol %s\n" % approver
    policy += ("tier: max 1\ninitiator-may-approve: no\nallowlist-required: no\n"
               "allowlist-delay: 0\nmax-per-transfer: 100000000000\n"
               "max-per-24h: 2100000000000000\nmax-fee: 1000000\nmax-fee-rate: 1000\n"
               "max-lifetime: 86400\n")
    sigs = []
    for n, _ in admins:
        p = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", os.path.join(kd, n), "-n",
                            "kura-policy-v1"], input=policy.encode(), capture_output=True,
                           check=True)
        sigs.append(p.stdout.decode())
    return {"descriptor": desc, "policy": policy, "policy_signatures": sigs}


def transfer_body(wallet_id, external_id, amount=10000):
    """The canonical request body (the same bytes on every retry)."""
    return json.dumps({"wallet_id": wallet_id, "external_id": external_id,
                       "outputs": [{"address": D1, "amount": amount, "label": "load"}],
                       "max_fee": 5000, "expires_in": 3600},
                      separators=(",", ":"))


def setup(srv, workdir, signin, ApiKey, admin_user="root", admin_password=None):
    """On a running server srv (kura_api_harness.Server) whose administrator
    admin_user exists: registers the wallet and makes an initiator's API key
    that may create and read transfers. Returns (wallet_id, ApiKey)."""
    admin = signin(srv, admin_user, admin_password)
    r = srv.request("POST", "/v1/wallets", wallet_request(workdir), auth=admin, idem="fixture-w")
    if r.status != 201:
        raise RuntimeError("wallet registration: %r" % r)
    wallet_id = r.json()["id"]
    r = srv.request("POST", "/v1/api-keys",
                    {"name": "load-client", "role": "initiator",
                     "scopes": ["transfers:create", "transfers:read"]},
                    auth=admin, idem="fixture-k")
    if r.status != 201:
        raise RuntimeError("API key: %r" % r)
    return wallet_id, ApiKey(r.json()["key"], r.json())
