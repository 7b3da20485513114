#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into corpus/<target>/.

Seeds are real inputs: the sample plugins' manifests, a citizen token and a
sandbox notification signed with the fuzz targets' secrets, a real install
upload, real guest answers. Raw seeds start with "r" (see src/lib.rs).
Run from host/fuzz: python3 make-seeds.py
"""
import base64, hashlib, hmac, json, pathlib

ROOT = pathlib.Path(__file__).resolve().parent
REPO = ROOT.parent.parent
TOKEN_SECRET = b"islet fuzz secret, not a real one"
SANDBOX_SECRET = b"islet fuzz sandbox secret"

def write(target, name, data):
    d = ROOT / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)

manifests = sorted(REPO.glob("plugins/*/islet.toml")) + sorted(REPO.glob("tests/guests/*/islet.toml"))
for path in manifests:
    write("manifest", path.parent.name, path.read_bytes())

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")

def jwt(claims, secret):
    head = b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64(hmac.new(secret, head + b"." + body, hashlib.sha256).digest())
    return head + b"." + body + b"." + sig

claims = {"sub": "citizen-42", "iss": "https://idp.fuzz.test", "aud": "islet", "exp": 4102444800,
          "iat": 1764000000, "roles": ["plugin:water-bill:tester"], "assurance_level": 3,
          "name": "Li Lei", "phone_number": "13800000000"}
write("token", "valid", b"r" + jwt(claims, TOKEN_SECRET))
write("token", "other-secret", b"r" + jwt(claims, b"another secret"))
write("token", "expired", b"r" + jwt(dict(claims, exp=1700000000), TOKEN_SECRET))
none_head = b64(b'{"alg":"none"}')
write("token", "alg-none", b"r" + none_head + b"." + jwt(claims, TOKEN_SECRET).split(b".")[1] + b".")

write("session", "shape", b"r" + b"isl_s_" + b64(bytes(range(32))))
write("session", "jwt", b"r" + jwt(claims, TOKEN_SECRET))

now = 1764000000
body = json.dumps({"order_id": "ord_0123456789abcdef", "txn_id": "sbt0011223344556677",
                   "amount_fen": 4250, "currency": "CNY"}).encode()
nonce = b"n0nce0123456789a"
sig = hmac.new(SANDBOX_SECRET, str(now).encode() + b"\n" + nonce + b"\n" + body, hashlib.sha256).hexdigest().encode()
write("notification", "valid", b"r" + b"\n".join([str(now + 5).encode(), str(now).encode(), nonce, sig, body]))
write("notification", "stale", b"r" + b"\n".join([str(now + 900).encode(), str(now).encode(), nonce, sig, body]))
write("notification", "unsigned", b"r" + b"\n".join([str(now).encode(), str(now).encode(), nonce, b"", body]))

manifest = (REPO / "plugins/hello/islet.toml").read_bytes()
wasm = b"\x00asm\x0d\x00\x01\x00" + bytes(24)
boundary = b"islet-boundary-7MA4YWxkTrZu0gW"
upload = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"manifest\"; filename=\"islet.toml\"\r\n"
          b"Content-Type: application/toml\r\n\r\n" + manifest + b"\r\n--" + boundary +
          b"\r\nContent-Disposition: form-data; name=\"component\"; filename=\"hello.wasm\"\r\n"
          b"Content-Type: application/wasm\r\n\r\n" + wasm + b"\r\n--" + boundary + b"--\r\n")
write("upload", "install", b"r" + boundary + b"\r\n" + upload)
write("upload", "truncated", b"r" + boundary + b"\r\n" + upload[: len(upload) // 2])

write("guest_response", "page", b"r200\n1.2.0\ncontent-type: text/html; charset=utf-8\ncache-control: no-store\n\n<!doctype html><p>hello</p>")
write("guest_response", "cookie", b"r302\n1.2.0\nlocation: /p/hello/next\nset-cookie: session=1\nx-request-id: forged\n\n")
write("guest_response", "bad-status", b"r101\n1.2.0\nupgrade: websocket\n\n")
write("guest_response", "bad-header", b"r200\n1.2.0\nbad name: x\n\n")
