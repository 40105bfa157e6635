"""`python -m bench.orchestration`: how soon a run learns that its job ended, and what the
orchestration costs, measured by running the synthesized state machine locally.

For simulated jobs of 1, 6, 12 and 24 hours (the happy path on dev, serving and evaluation
included, with the time limit raised to 48 h so that every duration completes), it prints the
state transitions and Lambda invocations of the whole run and the delay between the job's end
and the moment the run learned it:
- after: the run waits on a task token that Bedrock's job event settles (WatchJob);
- event lost: the same run when the event never arrives, settled by the hourly backstop;
- before: the job poll this replaced (every 5 minutes backing off x1.5 to 15), computed from
  that schedule for the same jobs: the same run, with one PollJob state entered per poll
  instead of the one WaitForJob.

Targets (issue "Know the moment a job ends"): a 12-hour job whose event arrives is noticed in
under a minute, in at most 20 transitions for the whole run (ReadTrainingCurves included: it
took the place of the Pass state that built the run slot's holder list); a lost event within the backstop interval. Simulated time: the figures do not depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import json
import sys

from tools.local_run.bedrock import Behaviour
from tools.local_run.runner import run
from tools.local_run.scenarios import Scenario

DURATIONS_HOURS = (1, 6, 12, 24)
MAX_TRANSITIONS = 20
MAX_EVENT_DETECTION_SECONDS = 60
BACKSTOP_SECONDS = 3600  # polling.backstopMinutes in cdk.json
SETTINGS = {"limits": {"maxJobHours": 48}}
STEP_FUNCTIONS_USD_PER_TRANSITION = 0.025 / 1000
# The schedule this replaced: first poll after 5 minutes, x1.5, at most 15 minutes apart.
OLD_POLL_FIRST_S, OLD_POLL_MAX_S, OLD_POLL_BACKOFF = 300.0, 900.0, 1.5


def measure(hours: float, events: str = "delivered") -> dict:
    behaviour = Behaviour(job_hours=hours, job_events=events)
    report = run(Scenario(f"{hours}h-job-{events}", "benchmark", behaviour=behaviour, settings=SETTINGS))
    [execution] = report.executions
    if execution["status"] != "SUCCEEDED":
        raise SystemExit(f"the {hours} h run ended {execution['status']}: {execution.get('error')}")
    return {
        "jobHours": hours,
        "events": events,
        "stateTransitions": execution["stateTransitions"],
        "lambdaInvocations": execution["lambdaInvocations"],
        "detectionDelaySeconds": report.detection_delays[0],
    }


def polled(after: dict) -> dict:
    """The same run under the poll this replaced: its polls, and when the end was seen."""
    job_seconds = after["jobHours"] * 3600
    waited, interval, polls = 0.0, OLD_POLL_FIRST_S, 1  # the first poll, at the job's start
    while waited < job_seconds:
        waited += min(interval, OLD_POLL_MAX_S)
        interval *= OLD_POLL_BACKOFF
        polls += 1
    return {
        "jobHours": after["jobHours"],
        "stateTransitions": after["stateTransitions"] - 1 + polls,
        "polls": polls,
        "detectionDelaySeconds": waited - job_seconds,
    }


def cost(transitions: int) -> float:
    return round(transitions * STEP_FUNCTIONS_USD_PER_TRANSITION, 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    after = [measure(hours) for hours in DURATIONS_HOURS]
    lost = [measure(hours, events="lost") for hours in DURATIONS_HOURS]
    before = [polled(row) for row in after]
    twelve = next(row for row in after if row["jobHours"] == 12)
    event_ok = all(row["detectionDelaySeconds"] < MAX_EVENT_DETECTION_SECONDS for row in after)
    transitions_ok = twelve["stateTransitions"] <= MAX_TRANSITIONS
    backstop_ok = all(row["detectionDelaySeconds"] <= BACKSTOP_SECONDS for row in lost)
    passed = event_ok and transitions_ok and backstop_ok
    if args.json:
        print(json.dumps({"after": after, "eventLost": lost, "before": before, "passed": passed}, indent=2))
        return 0 if passed else 1
    print("how soon a run learns its job ended (dev, serving and evaluation included, local run, simulated time)")
    print("  job    before: polled (computed)      after: job event             event lost: backstop")
    print("         transitions  noticed after     transitions  noticed after   transitions  noticed after")
    for old, new, late in zip(before, after, lost, strict=True):
        print(
            f"  {new['jobHours']:>3} h  {old['stateTransitions']:>11}  {old['detectionDelaySeconds'] / 60:>8.1f} min"
            f"    {new['stateTransitions']:>11}  {new['detectionDelaySeconds']:>8.0f} s"
            f"      {late['stateTransitions']:>11}  {late['detectionDelaySeconds'] / 60:>8.1f} min"
        )
    print(
        f"  Step Functions cost of a 12 h run: before ${cost(before[2]['stateTransitions']):.5f}, "
        f"after ${cost(twelve['stateTransitions']):.5f}"
    )
    print(
        f"  12 h job, event delivered: noticed after {twelve['detectionDelaySeconds']:.0f} s, target < 60 s; "
        f"{twelve['stateTransitions']} transitions for the whole run, target <= {MAX_TRANSITIONS}   "
        f"{'PASS' if event_ok and transitions_ok else 'FAIL'}"
    )
    worst = max(row["detectionDelaySeconds"] for row in lost) / 60
    print(
        f"  event lost: slowest {worst:.1f} min, target <= the backstop ({BACKSTOP_SECONDS // 60} min)   "
        f"{'PASS' if backstop_ok else 'FAIL'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
