"""Command line: ``python -m companion plan --samples 1050 --batch-size 100``.

>>> main(["plan", "--samples", "10", "--batch-size", "3"])  # doctest: +ELLIPSIS
plan                 BatchPlan(n_samples=10, batch_size=3, remainder='keep', shuffle=False, seed=None)
steps per epoch    4
batch sizes        3 × 3 + 1 × 1
...
0
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

from companion.core.batching import REMAINDERS, BatchPlan

_POLICIES = {
    "keep": "last batch smaller (Keras fit, PyTorch drop_last=False, tf.data batch())",
    "drop": "last partial batch dropped (drop_last=True, drop_remainder=True)",
    "fill": "last batch topped up with samples repeated from the same epoch",
    "carry": "leftovers roll into the next epoch (tf.data repeat().batch())",
    "even": "ceil(N/B) batches whose sizes differ by at most one",
}


def _int_arg(text: str, minimum: int, what: str) -> int:
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    try:
        value = int(text)
    except ValueError:  # also for more than 4300 digits (Python's int limit)
        raise argparse.ArgumentTypeError(f"must be {what}; got {shown}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}; got {shown}")
    return value


def _positive_int(text: str) -> int:
    return _int_arg(text, 1, "a positive int")


def _nonnegative_int(text: str) -> int:
    return _int_arg(text, 0, "a non-negative int")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m companion``.

    >>> build_parser().prog
    'python -m companion'
    """
    parser = argparse.ArgumentParser(
        prog="python -m companion",
        description=(
            "Batchwise companion: count batches, steps and epochs exactly.\n\n"
            "Run 'python -m companion plan --help' for its options."
        ),
        epilog=(
            "examples:\n"
            "  python -m companion plan --samples 1050 --batch-size 100\n"
            "  python -m companion plan --samples 1050 --batch-size 100 --remainder drop\n"
            "  python -m companion plan --samples 1050 --batch-size 100 --all --epochs 3"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    policies = "\n".join(f"  {name:<6} {text}" for name, text in _POLICIES.items())
    plan = sub.add_parser(
        "plan",
        help="show how N samples split into batches of B under a remainder policy",
        description=textwrap.fill(
            "Show the batches of one epoch: steps per epoch, batch sizes (compressed, "
            "e.g. '10 × 100 + 1 × 50'), samples per epoch, samples not seen and samples "
            "seen twice in epoch 0; with --epochs, the totals over E epochs; with --all, "
            "every remainder policy side by side.", width=78
        ) + "\n\nRemainder policies (--remainder):\n" + policies,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: python -m companion plan --samples 1050 --batch-size 100 --all --epochs 3",
    )
    plan.set_defaults(parser=plan)
    plan.add_argument("--samples", type=_positive_int, required=True, metavar="N",
                      help="number of training samples N (positive int)")
    plan.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                      help="samples per batch B (positive int; default 32, as Keras)")
    plan.add_argument("--remainder", choices=REMAINDERS, default="keep",
                      help="what happens to the last N mod B samples (default keep)")
    plan.add_argument("--all", action="store_true",
                      help="compare every remainder policy in one table")
    plan.add_argument("--epochs", type=_positive_int, default=None, metavar="E",
                      help="also show totals over E epochs (total steps, samples seen)")
    plan.add_argument("--shuffle", action="store_true",
                      help="shuffle every epoch (changes which samples, not how many)")
    plan.add_argument("--seed", type=_nonnegative_int, default=None, metavar="S",
                      help="seed of the shuffling (non-negative int)")
    return parser


def _steps_text(plan: BatchPlan) -> str:
    if plan.remainder != "carry" or plan.n_samples % plan.batch_size == 0:
        return str(plan.steps_per_epoch)
    low, high = plan.n_samples // plan.batch_size, -(-plan.n_samples // plan.batch_size)
    return f"{plan.steps_per_epoch} in epoch 0 ({low} or {high} later, as leftovers carry over)"


def _show_plan(plan: BatchPlan, epochs: int | None) -> None:
    not_seen, repeats = plan.unseen_and_repeats()
    rows = [
        ("plan", repr(plan)),
        ("steps per epoch", _steps_text(plan)),
        ("batch sizes", plan.describe()),
        ("samples per epoch", str(plan.samples_per_epoch)),
    ]
    note = " (carried into epoch 1)" if plan.remainder == "carry" and not_seen else ""
    rows.append(("not seen in epoch 0", f"{not_seen}{note}"))
    rows.append(("seen twice", str(repeats)))
    if epochs is not None:
        total = plan.total_steps(epochs)
        seen = plan.samples_seen(epochs)
        rows += [("epochs", str(epochs)), ("total steps", str(total)), ("samples seen", str(seen))]
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value}")


def _show_all(n: int, b: int | None, shuffle: bool, seed: int | None, epochs: int | None) -> None:
    header = ["policy", "steps/epoch", "batch sizes", "samples/epoch", "not seen", "seen twice"]
    if epochs is not None:
        header += [f"steps in {epochs} epochs", "samples seen"]
    table = [header]
    for policy in REMAINDERS:
        try:
            plan = BatchPlan(n, b, policy, shuffle, seed)
        except ValueError:
            table.append([policy, "0", "— (batch_size > n_samples)"] + ["0"] * (len(header) - 3))
            continue
        not_seen, repeats = plan.unseen_and_repeats()
        row = [policy, str(plan.steps_per_epoch), plan.describe(), str(plan.samples_per_epoch),
               str(not_seen), str(repeats)]
        if epochs is not None:
            seen = plan.samples_seen(epochs)
            row += [str(plan.total_steps(epochs)), str(seen)]
        table.append(row)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    size = b if b is not None else 32
    print(f"N = {n} samples, B = {size}" + (f", {epochs} epochs" if epochs else ""))
    for r in table:
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2])]
        cells += [c.rjust(w) for c, w in zip(r[3:], widths[3:], strict=True)]
        print("  ".join(cells).rstrip())
    print("carry: counts are for epoch 0; later epochs may hold one more step.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (2 for bad arguments, as argparse).

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    >>> main(["plan", "--samples", "0"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    except SystemExit as exc:  # --help (0) or a bad argument (2)
        return int(exc.code) if exc.code is not None else 0
    if args.all:
        _show_all(args.samples, args.batch_size, args.shuffle, args.seed, args.epochs)
        return 0
    try:
        plan = BatchPlan(args.samples, args.batch_size, args.remainder, args.shuffle, args.seed)
    except ValueError as exc:
        try:
            args.parser.error(f"argument --batch-size: {exc}")
        except SystemExit as stop:
            return int(stop.code) if stop.code is not None else 2
    _show_plan(plan, args.epochs)
    return 0
