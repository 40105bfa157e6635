"""`python -m bench.orchestration`: what the deployed polling schedule costs and how late it
notices a job's end, measured by running the synthesized state machine locally.

For simulated jobs of 1, 6, 12 and 24 hours (the happy path, on the dev environment with
its time limit raised to 48 h so that every duration completes), it prints the state
transitions and Lambda invocations of the run and the delay between the job's end and
the poll that saw it. Targets (workflow issue): at most 60 transitions for a 12-hour job,
and every end noticed within 15 minutes. Simulated time: the figures do not depend on how
busy the machine is.
"""

from __future__ import annotations

import argparse
import json
import sys

from tools.local_run.bedrock import Behaviour
from tools.local_run.runner import run
from tools.local_run.scenarios import Scenario

DURATIONS_HOURS = (1, 6, 12, 24)
MAX_TRANSITIONS_12H = 60
MAX_DETECTION_SECONDS = 15 * 60
# Serving is left out: it is the same few polls whatever the job's length.
SETTINGS = {"limits": {"maxJobHours": 48}, "serving": {"mode": "none"}}


def measure(hours: float) -> dict:
    scenario = Scenario(f"{hours}h-job", "benchmark", behaviour=Behaviour(job_hours=hours), settings=SETTINGS)
    report = run(scenario)
    [execution] = report.executions
    if execution["status"] != "SUCCEEDED":
        raise SystemExit(f"the {hours} h run ended {execution['status']}: {execution.get('error')}")
    return {
        "jobHours": hours,
        "stateTransitions": execution["stateTransitions"],
        "lambdaInvocations": execution["lambdaInvocations"],
        "jobPolls": report.bedrock_calls.get("GetModelCustomizationJob", 0),
        "detectionDelaySeconds": report.detection_delays[0],
        "orchestrationUsd": round(execution["stateTransitions"] * 0.025 / 1000, 5),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(hours) for hours in DURATIONS_HOURS]
    twelve = next(row for row in rows if row["jobHours"] == 12)
    transitions_ok = twelve["stateTransitions"] <= MAX_TRANSITIONS_12H
    detection_ok = all(row["detectionDelaySeconds"] <= MAX_DETECTION_SECONDS for row in rows)
    if args.json:
        print(json.dumps({"runs": rows, "passed": transitions_ok and detection_ok}, indent=2))
    else:
        print("orchestration cost of the deployed schedule (dev, local run, simulated time)")
        print("  job     transitions  Lambda calls  job polls  end noticed after  Step Functions cost")
        for row in rows:
            print(
                f"  {row['jobHours']:>3} h   {row['stateTransitions']:>11}  {row['lambdaInvocations']:>12}  "
                f"{row['jobPolls']:>9}  {row['detectionDelaySeconds'] / 60:>14.1f} min  ${row['orchestrationUsd']:.4f}"
            )
        print(
            f"  12 h job: {twelve['stateTransitions']} transitions, target <= {MAX_TRANSITIONS_12H}   "
            f"{'PASS' if transitions_ok else 'FAIL'}"
        )
        worst = max(row["detectionDelaySeconds"] for row in rows) / 60
        print(f"  slowest detection: {worst:.1f} min, target <= 15 min   {'PASS' if detection_ok else 'FAIL'}")
    return 0 if transitions_ok and detection_ok else 1


if __name__ == "__main__":
    sys.exit(main())
