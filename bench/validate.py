"""`python -m bench.validate`: dataset validation throughput and peak memory.

Throughput: a generated file of 20,000 multi-turn conversation records (about 45 MB) is
validated by the engine and, in the same run, read by a bare `json.loads` loop: the floor
any JSONL validator in Python pays. Runs are interleaved (A, B, A, B, ...) after a warm-up,
so a noisy neighbour slows both alike; the verdict uses the ratio of medians (target 2.5x).

Memory: a generated file of about 1 GB is validated in a fresh subprocess, and its peak
resident set size (ru_maxrss) is compared with the same subprocess that only imports the
engine, so the figure is what validation adds on top of Python itself (target 100 MB).

The command as users run it: `python -m tools validate FILE --base-model ... --json` on the same
45 MB file, a whole process (start-up, imports, validation, the report), against a whole-process
bare `json.loads` loop over the file, interleaved; targets: at most 3x the loop's time and a peak
under 40 MB. And `python -m tools validate --help` under 0.3 s: the command line imports only
the command it runs (never aws_cdk or Node.js).

One long line: files of one 100 MB and one 400 MB line with no line end (kept in `.bench/`,
written in blocks) go through the command as users type it, `python -m tools validate FILE
--base-model ... --json`, each a whole process timed with its own peak memory. A line longer
than any record is reported unread, so time grows with the size (target: over the start-up
of the same command on the bundled example, the 4x larger line at most 6x slower; the
re-join it replaced was quadratic, 16x) and memory does not (peak 100 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))

from customization.validation.dataset import LocalFile, check_dataset  # noqa: E402
from customization.validation.jobspec import JobSettings  # noqa: E402
from customization.validation.problems import ProblemLog  # noqa: E402

MODEL = "amazon.nova-lite-v1:0:300k"
THROUGHPUT_RECORDS = 20_000
MEMORY_BYTES = 1_000_000_000
MAX_RATIO = 2.5
MAX_PEAK_MB = 100.0
CACHE = ROOT / ".bench"  # generated inputs kept between runs (git-ignored)
LONG_LINE_MODEL = "amazon.nova-micro-v1:0:128k"
LONG_LINE_BYTES = (100_000_000, 400_000_000)
MAX_LONG_LINE_TIME_RATIO = 6.0  # for 4x the bytes: linear is 4x, quadratic 16x
MAX_COMMAND_RATIO = 3.0  # python -m tools validate, whole process, over a whole-process json.loads loop
MAX_COMMAND_PEAK_MB = 40.0
MAX_HELP_SECONDS = 0.3

BARE_LOOP_SCRIPT = """
import json, sys
with open(sys.argv[1], "rb") as stream:
    for line in stream:
        json.loads(line)
"""

_WORDS = [
    "invoice",
    "account",
    "delivery",
    "meeting",
    "password",
    "refund",
    "order",
    "update",
    "security",
    "team",
    "project",
    "review",
    "schedule",
    "customer",
    "report",
    "payment",
    "offer",
    "winner",
    "urgent",
    "verify",
    "contract",
    "support",
    "ticket",
]

MEMORY_SCRIPT = """
import resource, sys
sys.path.insert(0, sys.argv[1] + "/lambdas")
from customization.validation.dataset import LocalFile, check_dataset
from customization.validation.jobspec import JobSettings
from customization.validation.problems import ProblemLog
if sys.argv[2] != "-":
    check_dataset(LocalFile(sys.argv[2]), JobSettings(sys.argv[3], validation_split=0.1), log=ProblemLog(keep=200))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def conversation(index: int, rng: random.Random) -> dict:
    """A realistic multi-turn record of about 2.2 KB."""

    def text(words: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(words)) + f" (ref {index}-{rng.randrange(10**6)})."

    messages = []
    for _ in range(3):
        messages.append({"role": "user", "content": [{"text": text(rng.randint(40, 80))}]})
        messages.append({"role": "assistant", "content": [{"text": text(rng.randint(20, 60))}]})
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You answer support e-mail."}],
        "messages": messages,
    }


def generate(path: Path, *, records: int | None = None, size: int | None = None) -> Path:
    rng = random.Random(20261126)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        index = 0
        while (records is not None and index < records) or (size is not None and written < size):
            line = json.dumps(conversation(index, rng)) + "\n"
            out.write(line)
            written += len(line)
            index += 1
    return path


def generate_one_line(size: int) -> Path:
    """A file of `size` bytes: one conversation record whose text fills it, and no line end.
    Written in 1 MB blocks (never held whole), and kept in the cache for the next run."""
    path = CACHE / f"one-line-{size}.jsonl"
    if path.exists() and path.stat().st_size == size:
        return path
    CACHE.mkdir(exist_ok=True)
    prefix = b'{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "'
    suffix = b'"}]}, {"role": "assistant", "content": [{"text": "ok"}]}]}'
    block = (b"lorem ipsum " * 90_000)[: 1 << 20]
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as out:
        out.write(prefix)
        left = size - len(prefix) - len(suffix)
        while left > 0:
            out.write(block[:left])
            left -= len(block)
        out.write(suffix)
    partial.replace(path)
    return path


def whole_process(args: list[str], *, command: list[str] | None = None) -> tuple[float, float]:
    """(seconds, peak MB) of `python -m tools ARGS` (or `command`) as a fresh process: its own ru_maxrss."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command or [sys.executable, "-m", "tools", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # 1: the file is invalid, as it should be
        raise SystemExit(f"{' '.join(command or ['python -m tools', *args])} exited {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


def long_line_runs(repeat: int = 3) -> dict[int, tuple[float, float]]:
    """size -> (seconds, peak MB) of validating a file of one line of that size, the fastest
    of `repeat` runs and the largest peak; size 0: the bundled 157-record example, which is
    what starting the command costs."""
    paths = {0: ROOT / "examples/email-classifier/train.jsonl"}
    paths.update((size, generate_one_line(size)) for size in LONG_LINE_BYTES)
    runs = {}
    for size, path in paths.items():
        samples = [
            whole_process(["validate", str(path), "--base-model", LONG_LINE_MODEL, "--json"]) for _ in range(repeat)
        ]
        runs[size] = (min(seconds for seconds, _ in samples), max(peak for _, peak in samples))
    return runs


def long_line_time_ratio(runs: dict[int, tuple[float, float]]) -> float:
    """How much longer the larger line takes than the smaller, start-up left out."""
    start = runs[0][0]
    small, large = (max(runs[size][0] - start, 1e-3) for size in LONG_LINE_BYTES)
    return large / small


def command_runs(path: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    """The command and the bare loop on `path`, each a whole process, interleaved after a warm-up;
    and `validate --help`."""
    validate = ["validate", str(path), "--base-model", MODEL, "--json"]
    loop = [sys.executable, "-c", BARE_LOOP_SCRIPT, str(path)]
    whole_process(validate), whole_process([], command=loop)
    samples: dict[str, list[tuple[float, float]]] = {"command": [], "loop": [], "help": []}
    for _ in range(runs):
        samples["loop"].append(whole_process([], command=loop))
        samples["command"].append(whole_process(validate))
        samples["help"].append(whole_process(["validate", "--help"]))
    return samples


def bare_json_loop(path: Path) -> None:
    with open(path, "rb") as stream:
        for line in stream:
            json.loads(line)


def engine(path: Path) -> None:
    # With a validation split, as the environments configure it: the split keys are part of the work.
    result = check_dataset(LocalFile(path), JobSettings(MODEL, validation_split=0.1), log=ProblemLog())
    if not result.valid:
        raise SystemExit(f"benchmark data should be valid: {result.log.problems[:3]}")


def time_interleaved(path: Path, runs: int) -> tuple[list[float], list[float]]:
    floor, ours = [], []
    bare_json_loop(path)
    engine(path)
    for _ in range(runs):
        for function, samples in ((bare_json_loop, floor), (engine, ours)):
            start = time.perf_counter()
            function(path)
            samples.append(time.perf_counter() - start)
    return floor, ours


def peak_rss_mb(path: Path | None) -> float:
    output = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(ROOT), str(path) if path else "-", MODEL],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(output.strip().splitlines()[-1]) / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory-bytes", type=int, default=MEMORY_BYTES, help="size of the memory test file")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--long-line-only", action="store_true", help="only the whole-process runs of one-line files (quicker)"
    )
    args = parser.parse_args(argv)

    long_lines = long_line_runs()
    time_ratio = long_line_time_ratio(long_lines)
    long_line_passed = time_ratio <= MAX_LONG_LINE_TIME_RATIO and all(
        long_lines[size][1] <= MAX_PEAK_MB for size in LONG_LINE_BYTES
    )
    long_line_results = {
        "long_line_model": LONG_LINE_MODEL,
        "long_line_runs": {str(size): {"seconds": s, "peak_rss_mb": mb} for size, (s, mb) in long_lines.items()},
        "long_line_time_ratio": time_ratio,
        "long_line_passed": long_line_passed,
    }
    if args.long_line_only:
        if args.json:
            print(json.dumps(long_line_results, indent=2))
        else:
            _print_long_lines(long_lines, time_ratio, long_line_passed)
        return 0 if long_line_passed else 1

    with tempfile.TemporaryDirectory() as folder:
        sample = generate(Path(folder) / "conversations.jsonl", records=THROUGHPUT_RECORDS)
        megabytes = sample.stat().st_size / 1e6
        floor, ours = time_interleaved(sample, args.runs)
        commands = command_runs(sample, args.runs)
        sample.unlink()
        big = generate(Path(folder) / "big.jsonl", size=args.memory_bytes)
        baseline_mb, validating_mb = peak_rss_mb(None), peak_rss_mb(big)

    ratio = statistics.median(ours) / statistics.median(floor)
    added_mb = validating_mb - baseline_mb
    command_s = statistics.median(seconds for seconds, _ in commands["command"])
    loop_s = statistics.median(seconds for seconds, _ in commands["loop"])
    command_ratio = command_s / loop_s
    command_peak = max(peak for _, peak in commands["command"])
    help_s = statistics.median(seconds for seconds, _ in commands["help"])
    command_passed = command_ratio <= MAX_COMMAND_RATIO and command_peak <= MAX_COMMAND_PEAK_MB
    help_passed = help_s <= MAX_HELP_SECONDS
    passed = ratio <= MAX_RATIO and added_mb <= MAX_PEAK_MB and long_line_passed and command_passed and help_passed
    results = {
        "records": THROUGHPUT_RECORDS,
        "file_mb": round(megabytes, 1),
        "bare_json_loads_median_s": statistics.median(floor),
        "engine_median_s": statistics.median(ours),
        "engine_mb_per_s": megabytes / statistics.median(ours),
        "ratio_median": ratio,
        "memory_file_bytes": args.memory_bytes,
        "peak_rss_mb_imports_only": baseline_mb,
        "peak_rss_mb_validating": validating_mb,
        "peak_rss_mb_added": added_mb,
        "command_median_s": command_s,
        "bare_loop_process_median_s": loop_s,
        "command_ratio_median": command_ratio,
        "command_peak_rss_mb": command_peak,
        "help_median_s": help_s,
        **long_line_results,
        "passed": passed,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"dataset validation benchmark ({THROUGHPUT_RECORDS:,} multi-turn records, {megabytes:.1f} MB, "
            f"{args.runs} runs each, interleaved)"
        )
        print(f"  bare json.loads loop   median {statistics.median(floor):.2f} s")
        print(
            f"  validation engine      median {statistics.median(ours):.2f} s   "
            f"({megabytes / statistics.median(ours):.0f} MB/s, "
            f"{THROUGHPUT_RECORDS / statistics.median(ours):,.0f} records/s)"
        )
        print(
            f"  ratio (median)         {ratio:.2f}x   target <= {MAX_RATIO}x   {'PASS' if ratio <= MAX_RATIO else 'FAIL'}"
        )
        print(
            f"  peak memory, {args.memory_bytes / 1e9:.1f} GB file: {validating_mb:.0f} MB "
            f"({added_mb:.0f} MB over the {baseline_mb:.0f} MB of Python and the engine's imports)   "
            f"target <= {MAX_PEAK_MB:.0f} MB   {'PASS' if added_mb <= MAX_PEAK_MB else 'FAIL'}"
        )
        loop_peak = max(peak for _, peak in commands["loop"])
        print(f"  whole processes, same file: python -m tools validate FILE --base-model {MODEL} --json")
        print(f"    bare json.loads loop   median {loop_s:.2f} s   peak {loop_peak:.0f} MB")
        print(
            f"    the command            median {command_s:.2f} s   peak {command_peak:.0f} MB   "
            f"target <= {MAX_COMMAND_PEAK_MB:.0f} MB   {'PASS' if command_peak <= MAX_COMMAND_PEAK_MB else 'FAIL'}"
        )
        print(
            f"    ratio (median)         {command_ratio:.2f}x   target <= {MAX_COMMAND_RATIO}x   "
            f"{'PASS' if command_ratio <= MAX_COMMAND_RATIO else 'FAIL'}"
        )
        print(
            f"    validate --help        median {help_s:.2f} s   target <= {MAX_HELP_SECONDS} s   "
            f"{'PASS' if help_passed else 'FAIL'}"
        )
        _print_long_lines(long_lines, time_ratio, long_line_passed)
    return 0 if passed else 1


def _print_long_lines(runs: dict[int, tuple[float, float]], time_ratio: float, passed: bool) -> None:
    print(f"  one line, no line end: python -m tools validate FILE --base-model {LONG_LINE_MODEL} --json")
    seconds, peak_mb = runs[0]
    print(f"    bundled example  {seconds:6.2f} s   peak {peak_mb:4.0f} MB   (starting the command)")
    for size in LONG_LINE_BYTES:
        seconds, peak_mb = runs[size]
        print(
            f"    {size / 1e6:5.0f} MB line    {seconds:6.2f} s   peak {peak_mb:4.0f} MB   "
            f"target <= {MAX_PEAK_MB:.0f} MB   {'PASS' if peak_mb <= MAX_PEAK_MB else 'FAIL'}"
        )
    print(
        f"    time over start-up for {LONG_LINE_BYTES[1] // LONG_LINE_BYTES[0]}x the bytes: {time_ratio:.1f}x   "
        f"target <= {MAX_LONG_LINE_TIME_RATIO:.0f}x (linear is 4x, quadratic 16x)   "
        f"{'PASS' if time_ratio <= MAX_LONG_LINE_TIME_RATIO else 'FAIL'}"
    )


if __name__ == "__main__":
    sys.exit(main())
