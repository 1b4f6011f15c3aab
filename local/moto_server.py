"""moto's server, with DynamoDB requests taken one at a time and FIFO dead letters kept apart.

moto runs TransactWriteItems by deep-copying every table and, when a condition fails, putting the
copies back. A write another thread makes to the same table between the copy and the restore is
silently undone: on AWS it would stand. The local stack runs handlers on many threads, so an
attribution transaction cancelled by a duplicate delivery could erase a signal recorded at the same
moment. Serialising DynamoDB requests closes that gap; other services keep moto's threading (SQS
long polls must not hold anyone up).

When a redrive policy moves a message from a FIFO queue to its FIFO DLQ, SQS replaces the
message's deduplication id with its message id, so that two different messages that shared a
deduplication id (different groups, or a redelivery after the dedup window) both reach the DLQ.
moto moves the message with its old id and drops it as a duplicate of one already in the DLQ:
`dead_letters_keep_their_message_ids` makes moto do what SQS does.

Run as `python -m local.moto_server -H 127.0.0.1 -p 5000`.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import moto.sqs.models
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


def dead_letters_keep_their_message_ids() -> None:
    """A message moved to a FIFO DLQ is deduplicated by its message id there, as in SQS
    (docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html)."""
    queue_class = moto.sqs.models.Queue
    if getattr(queue_class.add_message, "keeps_dead_letter_ids", False):
        return
    add_message = queue_class.add_message

    def add_keeping_dead_letter_ids(queue: Any, message: Any) -> None:
        # A message already received is being moved here by a redrive policy; a sent one was never received.
        if queue.fifo_queue and message.approximate_receive_count > 0:
            message.deduplication_id = message.id
        add_message(queue, message)

    add_keeping_dead_letter_ids.keeps_dead_letter_ids = True  # type: ignore[attr-defined]
    queue_class.add_message = add_keeping_dead_letter_ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does: some responses name the port
    dead_letters_keep_their_message_ids()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, one_dynamodb_request_at_a_time(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
