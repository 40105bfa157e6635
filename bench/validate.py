"""`python -m bench.validate`: dataset validation throughput and peak memory.

Throughput: a generated file of 20,000 multi-turn conversation records (about 45 MB) is
validated by the engine and, in the same run, read by a bare `json.loads` loop: the floor
any JSONL validator in Python pays. Runs are interleaved (A, B, A, B, ...) after a warm-up,
so a noisy neighbour slows both alike; the verdict uses the ratio of medians (target 2.5x).

Memory: a generated file of about 1 GB is validated in a fresh subprocess, and its peak
resident set size (ru_maxrss) is compared with the same subprocess that only imports the
engine, so the figure is what validation adds on top of Python itself (target 100 MB).
"""

from __future__ import annotations

import argparse
import json
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
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        sample = generate(Path(folder) / "conversations.jsonl", records=THROUGHPUT_RECORDS)
        megabytes = sample.stat().st_size / 1e6
        floor, ours = time_interleaved(sample, args.runs)
        sample.unlink()
        big = generate(Path(folder) / "big.jsonl", size=args.memory_bytes)
        baseline_mb, validating_mb = peak_rss_mb(None), peak_rss_mb(big)

    ratio = statistics.median(ours) / statistics.median(floor)
    added_mb = validating_mb - baseline_mb
    passed = ratio <= MAX_RATIO and added_mb <= MAX_PEAK_MB
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
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
