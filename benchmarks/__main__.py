"""Run every benchmark: ``python -m benchmarks [name ...]`` (``nox -s bench``).

Each prints Markdown tables of figures and ratios against baselines measured in the same
run; benchmarks/README.md keeps the figures measured on the project's machine.
"""

from __future__ import annotations

import importlib
import sys
import time

ALL = (
    "bench_limiter",
    "bench_decode",
    "bench_client",
    "bench_batch",
    "bench_redis",
    "bench_priority",
    "bench_sync",
    "bench_keys",
)


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = sorted(set(names) - set(ALL))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ALL)}")
        return 2
    for name in names:
        started = time.perf_counter()
        print(f"\n## {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
        print(f"\n({name} took {time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
