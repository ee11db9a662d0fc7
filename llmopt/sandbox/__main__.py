"""``python -m llmopt.sandbox``: run the sandbox until SIGINT or SIGTERM.

    python -m llmopt.sandbox --port 8765 [--host 127.0.0.1] [--latency-ms 50]
        [--fault-rate 0.2 --fault-kind overloaded --seed 7] [--faults PLAN.json]
        [--api-key KEY ...]
        [--data-dir DIR] [--batch-item-seconds 2 --batch-parallelism 10]

The keys it accepts come from ``LLMOPT_SANDBOX_API_KEYS`` (comma-separated) as well as
``--api-key``; prefer the variable, which other users cannot read in ``ps``.

With ``--data-dir`` batches, their results and the billing counters are kept in DIR and
found again by the next sandbox started on it. ``--batch-item-seconds`` makes Message
Batches take time (each wave of ``--batch-parallelism`` requests that many seconds), so a
demo batch moves visibly; the default 0 ends a batch by its first retrieve.

``--faults`` loads a fault plan (``FaultPlan`` JSON: ``rules``, ``batch_items``, ``seed``,
and per-model behaviour under ``models``, as ``POST /_sandbox/faults`` takes it); a
``--fault-rate`` rule comes after its rules, and ``--seed`` overrides its seed. Relative
outage times count from start-up. A plan that does not load stops the command with the
reason.

It prints ``llmopt sandbox listening on http://HOST:PORT`` once it accepts requests
(port 0 picks a free one) and ``llmopt sandbox stopped`` when it is done.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import get_args

from pydantic import ValidationError

from llmopt.sandbox._faults import FaultKind, FaultPlan, FaultRule
from llmopt.sandbox._options import API_KEYS_VARIABLE, BatchOptions, SandboxOptions
from llmopt.sandbox._server import SandboxServer


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m llmopt.sandbox",
        description="Serve a local imitation of the Anthropic Messages API.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, help="latency added per request"
    )
    parser.add_argument(
        "--fault-rate", type=_share, default=0.0, help="share of Messages requests that fail (0-1)"
    )
    parser.add_argument(
        "--fault-kind",
        choices=[kind for kind in get_args(FaultKind) if kind != "timeout"],
        default="overloaded",
        help="how --fault-rate requests fail (default overloaded: 529)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the fault RNG (default: the plan's, or 0)"
    )
    parser.add_argument(
        "--faults",
        type=Path,
        default=None,
        metavar="PLAN.json",
        help="a fault plan to put in force (per-model latency, outages, rate limits...)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="accept only this key (repeatable; visible in ps: prefer LLMOPT_SANDBOX_API_KEYS"
        ", comma-separated; default: any non-empty key)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keep batches and billing here across restarts"
    )
    parser.add_argument(
        "--batch-item-seconds",
        type=_non_negative,
        default=0.0,
        help="seconds each wave of batch requests takes (default 0: instant)",
    )
    parser.add_argument(
        "--batch-parallelism",
        type=_positive,
        default=BatchOptions().parallelism,
        help="batch requests processed at once (default %(default)s)",
    )
    return parser


def _load_plan(parser: argparse.ArgumentParser, path: Path) -> FaultPlan:
    try:
        return FaultPlan.model_validate_json(path.read_bytes())
    except OSError as error:
        parser.error(f"--faults: cannot read {path}: {error.strerror}")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}" for e in error.errors()
        )
        parser.error(f"--faults: {path} is not a fault plan: {problems}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server in the foreground; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    plan = FaultPlan() if args.faults is None else _load_plan(parser, args.faults)
    from_env = os.environ.get(API_KEYS_VARIABLE, "").split(",")
    api_keys = frozenset(args.api_key) | {key.strip() for key in from_env if key.strip()}
    rules = (FaultRule.fail_rate(args.fault_rate, args.fault_kind),) if args.fault_rate > 0 else ()
    options = SandboxOptions(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        faults=plan.model_copy(
            update={
                "rules": (*plan.rules, *rules),
                "seed": plan.seed if args.seed is None else args.seed,
            }
        ),
        api_keys=api_keys or None,
        batches=BatchOptions(
            item_seconds=args.batch_item_seconds, parallelism=args.batch_parallelism
        ),
        data_dir=args.data_dir,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with SandboxServer(options) as server:
        print(f"llmopt sandbox listening on {server.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    print("llmopt sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
