"""``gantrans bench train|infer|gpu``: speed and memory figures, never timed tests."""

from __future__ import annotations

import argparse

from gantrans.cli import bench_gpu, bench_infer, bench_train


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure training or inference speed and memory",
                            description="Measure training or inference speed and memory.")
    parser.set_defaults(_group_parser=parser)
    bench_sub = parser.add_subparsers(dest="bench_command", metavar="WHAT", parser_class=type(parser))
    bench_train.add_parsers(bench_sub)
    bench_infer.add_parsers(bench_sub)
    bench_gpu.add_parsers(bench_sub)
