"""A webhook receiver, as a CAD integrator would write one, run as a process of its own
by the tests: it checks each delivery's `CoRespond-Signature` (400 if it does not
hold, or is older than the replay window), answers 500 while told to fail, and
writes every delivery it was sent to a JSON-lines file, which outlives the process
(stop it and start it again on the same port: a receiver that went down).

    python -m tests.service.webhook_receiver --port P --secret S --record FILE [--fail N]
        [--cert CHAIN --key KEY]

`POST /control {"fail": N}` makes it answer 500 to the next N deliveries.
"""

import argparse
import hashlib
import hmac
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPLAY_WINDOW_S = 300


def signature_holds(secret: str, header: str, body: bytes, now: float) -> bool:
    """`t=<unix>,v1=<hex>`: the HMAC-SHA256 of `<t>.<body>` under the secret, sent within
    the replay window."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        sent_at = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{sent_at}.".encode() + body, hashlib.sha256)
    fresh = abs(now - sent_at) <= REPLAY_WINDOW_S
    return fresh and hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, secret: str, record: Path, fail: int) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.secret = secret
        self.record = record
        self.fail = fail
        self.lock = threading.Lock()

    def answer_for(self, signed: bool) -> int:
        with self.lock:
            if not signed:
                return 400
            if self.fail > 0:
                self.fail -= 1
                return 500
            return 200

    def write(self, entry: dict[str, Any]) -> None:
        with self.lock, self.record.open("a") as out:
            out.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"  # keeps connections, as most receivers do

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/control":
            self.server.fail = int(json.loads(body)["fail"])
            self._answer(204)
            return
        header = self.headers.get("CoRespond-Signature", "")
        signed = signature_holds(self.server.secret, header, body, time.time())
        status = self.server.answer_for(signed)
        self.server.write(
            {
                "path": self.path,
                "status": status,
                "signed": signed,
                "signature": header,
                "idempotency_key": self.headers.get("Idempotency-Key"),
                "event_header": self.headers.get("CoRespond-Event"),
                "host": self.headers.get("Host"),
                "body": body.decode(),
                "received_at": time.time(),
            }
        )
        self._answer(status)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--cert", type=Path, help="serve HTTPS with this certificate chain")
    parser.add_argument("--key", type=Path)
    args = parser.parse_args()
    receiver = Receiver(args.port, args.secret, args.record, args.fail)
    if args.cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
        receiver.socket = tls.wrap_socket(receiver.socket, server_side=True)
    print("listening", flush=True)
    receiver.serve_forever()


if __name__ == "__main__":
    main()
