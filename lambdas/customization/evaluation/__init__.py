"""Judging a trained model against its base model before it is promoted.

`step` is the Evaluate step; `cases` turns validation records into questions with known
answers, `inference` asks the models (Converse, with counted retries), `metrics` and
`scorecard` score the answers and write the reports.
"""
