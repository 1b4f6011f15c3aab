"""moto's server, with DynamoDB requests taken one at a time.

moto runs TransactWriteItems by deep-copying every table and, when a condition fails, putting the
copies back. A write another thread makes to the same table between the copy and the restore is
silently undone: on AWS it would stand. The local stack runs handlers on many threads, so an
attribution transaction cancelled by a duplicate delivery could erase a signal recorded at the same
moment. Serialising DynamoDB requests closes that gap; other services keep moto's threading (SQS
long polls must not hold anyone up).

Run as `python -m local.moto_server -H 127.0.0.1 -p 5000`.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def one_dynamodb_request_at_a_time(app: WsgiApp) -> WsgiApp:
    """Wrap a WSGI app so that requests whose X-Amz-Target names DynamoDB run one after another."""
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            # Drain the body inside the lock: moto does the work while the response is produced.
            return [b"".join(app(environ, start_response))]

    return serialised


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does: some responses name the port
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, one_dynamodb_request_at_a_time(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
