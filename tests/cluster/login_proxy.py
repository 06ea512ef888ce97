"""Access control in front of the test MongoDB server: a wire-protocol proxy that demands a SCRAM login.

jongodb (tests/cluster/mongo_server.py) has no users, so a client with credentials cannot log in at all
and one without them may do anything. This proxy stands between the clients and that server: it answers
`saslStart`/`saslContinue` itself, with the server side of SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802 / 7677,
the mechanisms of MongoDB's default authentication) for one user and password, refuses every other command
of a connection that has not logged in (code 13, Unauthorized, as mongod does) and forwards everything else
unchanged. pymongo's own SCRAM client talks to it, so a wrong password fails exactly where it fails against a
mongod with access control (code 18, "Authentication failed.") and only connections that really logged in
reach the data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
import threading

import bson
from pymongo.saslprep import saslprep

OP_MSG = 2013
PRE_LOGIN = {"hello", "ismaster", "ping", "buildinfo", "saslstart", "saslcontinue", "endsessions", "getnonce"}
ITERATIONS = 4096


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def _read_message(sock: socket.socket) -> bytes:
    header = _recv_exact(sock, 16)
    (length,) = struct.unpack("<i", header[:4])
    return header + _recv_exact(sock, length - 16)


def _command(message: bytes) -> dict | None:
    """The command document of an OP_MSG (its kind-0 section), None for other messages."""
    if struct.unpack("<i", message[12:16])[0] != OP_MSG:
        return None
    (flags,) = struct.unpack("<I", message[16:20])
    end = len(message) - (4 if flags & 1 else 0)  # checksumPresent
    position = 20
    while position < end:
        kind = message[position]
        (size,) = struct.unpack("<i", message[position + 1 : position + 5])
        if kind == 0:
            return bson.decode(message[position + 1 : position + 1 + size])
        position += 1 + size
    return None


def _reply(request: bytes, doc: dict) -> bytes:
    (request_id,) = struct.unpack("<i", request[4:8])
    body = struct.pack("<I", 0) + b"\x00" + bson.encode(doc)
    return struct.pack("<iiii", 16 + len(body), int.from_bytes(os.urandom(3), "little"), request_id, OP_MSG) + body


class Scram:
    """The server side of one SCRAM conversation (RFC 5802), for MongoDB's SCRAM-SHA-1 / SCRAM-SHA-256."""

    def __init__(self, mechanism: str, username: str, password: str):
        self.digest = "sha256" if mechanism == "SCRAM-SHA-256" else "sha1"
        if self.digest == "sha256":
            secret = saslprep(password)
        else:  # MongoDB's SCRAM-SHA-1 salts the hex MD5 of "user:mongo:password", not the password
            secret = hashlib.md5(f"{username}:mongo:{password}".encode()).hexdigest()
        self.salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac(self.digest, secret.encode(), self.salt, ITERATIONS)
        self.client_key = hmac.digest(salted, b"Client Key", self.digest)
        self.server_key = hmac.digest(salted, b"Server Key", self.digest)
        self.username = username

    def first(self, client_first: bytes) -> bytes | None:
        self.client_first_bare = client_first.split(b",", 2)[2]
        fields = dict(part.split(b"=", 1) for part in self.client_first_bare.split(b","))
        if fields.get(b"n", b"").decode() != self.username:
            return None
        self.nonce = fields[b"r"] + base64.b64encode(os.urandom(18))
        self.server_first = b"r=%s,s=%s,i=%d" % (self.nonce, base64.b64encode(self.salt), ITERATIONS)
        return self.server_first

    def final(self, client_final: bytes) -> bytes | None:
        without_proof, proof = client_final.rsplit(b",p=", 1)
        if dict(part.split(b"=", 1) for part in without_proof.split(b",")).get(b"r") != self.nonce:
            return None
        message = b",".join((self.client_first_bare, self.server_first, without_proof))
        stored_key = hashlib.new(self.digest, self.client_key).digest()
        signature = hmac.digest(stored_key, message, self.digest)
        expected = bytes(a ^ b for a, b in zip(self.client_key, signature, strict=True))
        if not hmac.compare_digest(base64.b64decode(proof), expected):
            return None
        return b"v=" + base64.b64encode(hmac.digest(self.server_key, message, self.digest))


AUTH_FAILED = {"ok": 0.0, "errmsg": "Authentication failed.", "code": 18, "codeName": "AuthenticationFailed"}


class LoginProxy:
    """Listens on 127.0.0.1:<free port>, forwards to `backend` (host, port) after a SCRAM login."""

    def __init__(self, backend: tuple[str, int], username: str, password: str):
        self.backend, self.username, self.password = backend, username, password
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self.listener.getsockname()
        self.logins = {"succeeded": 0, "failed": 0, "refused commands": 0}
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stopped.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.backend)
        lock = threading.Lock()  # replies from the proxy and from the server never interleave
        threading.Thread(target=self._pipe_back, args=(server, client, lock), daemon=True).start()
        logged_in, scram = False, None
        try:
            while True:
                message = _read_message(client)
                command = _command(message)
                name = next(iter(command), "").lower() if command else ""
                if name in ("saslstart", "saslcontinue"):
                    doc, scram, logged_in = self._login(command, scram, logged_in)
                    with lock:
                        client.sendall(_reply(message, doc))
                elif command is not None and not logged_in and name not in PRE_LOGIN:
                    self.logins["refused commands"] += 1
                    doc = {"ok": 0.0, "errmsg": f"command {name} requires authentication", "code": 13}
                    with lock:
                        client.sendall(_reply(message, {**doc, "codeName": "Unauthorized"}))
                else:
                    server.sendall(message)
        except (ConnectionError, OSError):
            pass
        finally:
            client.close()
            server.close()

    def _login(self, command: dict, scram: Scram | None, logged_in: bool):
        payload = bytes(command.get("payload", b""))
        if "saslStart" in command:
            scram = Scram(command.get("mechanism", ""), self.username, self.password)
            server_first = scram.first(payload)
            if server_first is None:
                self.logins["failed"] += 1
                return AUTH_FAILED, None, False
            return {"conversationId": 1, "done": False, "payload": server_first, "ok": 1.0}, scram, False
        server_final = scram.final(payload) if scram is not None else None
        if server_final is None:
            self.logins["failed"] += 1
            return AUTH_FAILED, None, logged_in
        self.logins["succeeded"] += 1
        return {"conversationId": 1, "done": True, "payload": server_final, "ok": 1.0}, None, True

    @staticmethod
    def _pipe_back(server: socket.socket, client: socket.socket, lock: threading.Lock) -> None:
        try:
            while True:
                message = _read_message(server)
                with lock:
                    client.sendall(message)
        except (ConnectionError, OSError):
            pass
        finally:
            client.close()
            server.close()
