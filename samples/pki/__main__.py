"""``python -m samples.pki generate [--keep-keys]`` | ``python -m samples.pki serve ...``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime
from types import FrameType


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"time needs a UTC offset (e.g. 'Z'): {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m samples.pki", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="recreate keys, certificates and PKCS#12 files")
    gen.add_argument(
        "--keep-keys",
        action="store_true",
        help="reuse the existing keys (reproduces the committed certificates)",
    )
    serve = sub.add_parser("serve", help="serve OCSP/CRL/TSA/certs on 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    serve.add_argument(
        "--fake-time",
        type=_parse_time,
        default=None,
        help="freeze the clock (ISO 8601 with offset, e.g. 2026-07-01T12:00:00Z)",
    )
    serve.add_argument(
        "--slow-seconds", type=float, default=30.0, help="sleep of the 'slow' OCSP responder"
    )
    return parser


def _serve(port: int, fake_time: datetime | None, slow_seconds: float) -> None:
    from samples.pki.server import PkiServer

    done = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with PkiServer(port=port, fake_time=fake_time, slow_seconds=slow_seconds) as server:
        info = {
            "port": server.port,
            "base_url": server.base_url,
            "connect_to": {k: list(v) for k, v in server.connect_to.items()},
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "generate":
        from samples.pki.generate import generate

        written = generate(keep_keys=args.keep_keys)
        sys.stdout.write(f"certificates written: {' '.join(written) or '(none changed)'}\n")
        return 0
    _serve(args.port, args.fake_time, args.slow_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
