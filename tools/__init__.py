"""Operator command line: `python -m tools --help`."""
