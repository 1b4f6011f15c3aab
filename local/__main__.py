"""python -m local up | demo | status | samples | openapi | fire <FunctionLogicalId> <EventName> | redrive <DeadLetterQueue>"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request

from .stack import HOST, LocalStack, StackPorts


def up() -> None:
    stack = LocalStack(StackPorts.choose())
    stack.start()
    ports = stack.ports
    print(
        f"Local stack ready on {HOST} (Ctrl-C to stop)\n"
        f"  API           http://{HOST}:{ports.api}   (webhooks, oauth, admin; admin not IAM-checked locally)\n"
        f"  TikTok API    http://{HOST}:{ports.tiktok}/open_api/v1.3/\n"
        f"  AWS (moto)    http://{HOST}:{ports.aws}\n"
        f"  status        http://{HOST}:{ports.api}/_local/status\n"
        f"  schedules     POST http://{HOST}:{ports.api}/_local/schedules/<Function>/<Event>: "
        + ", ".join(f"{s.function}/{s.name}" for s in stack.template.schedules()),
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    stack.stop()


def _running_api() -> str:
    return f"http://{HOST}:{os.environ.get('LOCAL_API_PORT', '3000')}"


def fire(function: str, event_name: str) -> None:
    request = urllib.request.Request(f"{_running_api()}/_local/schedules/{function}/{event_name}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=300) as response:
        print(json.dumps(json.load(response), indent=2))


def redrive(dlq: str) -> None:
    request = urllib.request.Request(f"{_running_api()}/_local/redrive/{dlq}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=60) as response:
        print(json.dumps(json.load(response), indent=2))


def status() -> None:
    with urllib.request.urlopen(f"{_running_api()}/_local/status", timeout=10) as response:
        print(json.dumps(json.load(response), indent=2))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the local stack in the foreground")
    commands.add_parser("demo", help="start the stack, replay the demo scenario, print the report, stop")
    commands.add_parser("status", help="queues, pumps and AWS request counts of a running stack")
    commands.add_parser("samples", help="rewrite events/ from the scenario builders")
    commands.add_parser("openapi", help="rewrite openapi.json from the admin and OAuth handlers' annotations")
    fire_parser = commands.add_parser("fire", help="fire a schedule of a running stack")
    fire_parser.add_argument("function")
    fire_parser.add_argument("event")
    redrive_parser = commands.add_parser("redrive", help="move a running stack's DLQ back to its queue (as SQS's redrive)")
    redrive_parser.add_argument("dlq", help="the DLQ's logical id in template.yaml, e.g. InboundDLQ")
    args = parser.parse_args(argv)
    if args.command == "up":
        up()
    elif args.command == "demo":
        from .demo import run_demo

        sys.exit(run_demo())
    elif args.command == "status":
        status()
    elif args.command == "samples":
        from .template import Template

        sys.path[:0] = [str(path) for path in Template().layer_dirs()]  # the samples are built with the domain models
        from .sample_events import write_samples

        for path in write_samples():
            print(path.relative_to(path.parent.parent))
    elif args.command == "redrive":
        redrive(args.dlq)
    elif args.command == "openapi":
        from .openapi import write

        print(write().name)
    else:
        fire(args.function, args.event)


if __name__ == "__main__":
    main(sys.argv[1:])
