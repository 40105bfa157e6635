"""`python -m bench.synth`: time synth of all environments against an empty CDK app.

What it measures: the wall-clock time of two programs, each run as its own subprocess,
    empty CDK app      `App(outdir=...).synth()` with no stacks
    all environments   `tools.synth.synthesize`: every environment of `cdk.json`'s context,
                       with the cdk-nag packs registered, as `app.py` under the CDK CLI
and the ratio of the two. The target is that all environments take at most 4x the empty app.

Why subprocesses: most of an empty app's synth is starting Python, importing `aws_cdk` and
starting the jsii Node.js process. A real `cdk synth` pays that every time, so each run pays it
too, in a fresh interpreter; the ratio then says how much the project adds on top of the CDK's
fixed cost. The CDK CLI (`npx cdk synth`) is not used: its own start-up is not the app's synth.

Why interleaved (A, B, A, B, ...) after one warm-up of each: the machines are shared and noisy,
so a slow spell hits both measurements alike instead of skewing one of them, and the warm-up
keeps cold disk caches out of the samples.

Why the median: it ignores the odd run slowed down by a neighbour; the minimum, the least
disturbed run, is reported next to it. The pass/fail verdict uses the ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS = 5
DEFAULT_MAX_RATIO = 4.0

# Each script gets the output directory as its first argument.
EMPTY_APP_SCRIPT = """
import sys
import aws_cdk as cdk
app = cdk.App(outdir=sys.argv[1])
app.synth()
"""

ALL_ENVIRONMENTS_SCRIPT = """
import sys
from pathlib import Path
from tools.synth import synthesize
synthesize(Path(sys.argv[1]))
"""


@dataclass(frozen=True)
class Benchmark:
    label: str
    script: str


EMPTY_APP = Benchmark("empty CDK app", EMPTY_APP_SCRIPT)
ALL_ENVIRONMENTS = Benchmark("all environments", ALL_ENVIRONMENTS_SCRIPT)


@dataclass(frozen=True)
class Timings:
    label: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def minimum(self) -> float:
        return min(self.seconds)

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.minimum, "runs_s": self.seconds}


def time_one_run(benchmark: Benchmark) -> float:
    """Seconds for one fresh Python process to run the benchmark's script to completion."""
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as outdir:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", benchmark.script, outdir], cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - start


def time_interleaved(benchmarks: list[Benchmark], runs: int) -> list[Timings]:
    """One warm-up of each, then `runs` rounds that run each benchmark once, in turn."""
    for benchmark in benchmarks:
        time_one_run(benchmark)
    samples: list[list[float]] = [[] for _ in benchmarks]
    for _ in range(runs):
        for benchmark, seconds in zip(benchmarks, samples, strict=True):
            seconds.append(time_one_run(benchmark))
    return [Timings(benchmark.label, seconds) for benchmark, seconds in zip(benchmarks, samples, strict=True)]


def results(empty: Timings, project: Timings, runs: int, max_ratio: float) -> dict:
    ratio_median = project.median / empty.median
    return {
        "runs": runs,
        "empty_app": empty.as_dict(),
        "all_environments": project.as_dict(),
        "ratio_median": ratio_median,
        "ratio_min": project.minimum / empty.minimum,
        "max_ratio": max_ratio,
        "passed": ratio_median <= max_ratio,
    }


def render_table(empty: Timings, project: Timings, result: dict) -> str:
    verdict = "PASS" if result["passed"] else "FAIL"
    rows = [f"synth benchmark ({result['runs']} runs each, interleaved)"]
    for timings in (empty, project):
        rows.append(f"  {timings.label:<22} median {timings.median:.2f} s   min {timings.minimum:.2f} s")
    rows.append(f"  {'ratio (min)':<22} {result['ratio_min']:.2f}x")
    rows.append(
        f"  {'ratio (median)':<22} {result['ratio_median']:.2f}x   target <= {result['max_ratio']:.1f}x   {verdict}"
    )
    return "\n".join(rows)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=positive_int, default=DEFAULT_RUNS, help=f"timed runs of each (default {DEFAULT_RUNS})"
    )
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=DEFAULT_MAX_RATIO,
        help=f"fail when the median ratio is above this (default {DEFAULT_MAX_RATIO})",
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        empty, project = time_interleaved([EMPTY_APP, ALL_ENVIRONMENTS], args.runs)
    except subprocess.CalledProcessError as error:
        # A failed synth (a config error, a cdk-nag finding) has no meaningful time: show why.
        print(f"error: a synth failed (exit {error.returncode}):", file=sys.stderr)
        print(error.stderr.decode(errors="replace"), file=sys.stderr)
        return 2
    result = results(empty, project, args.runs, args.max_ratio)
    print(json.dumps(result) if args.json else render_table(empty, project, result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
