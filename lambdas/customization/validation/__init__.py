"""Dataset validation and preparation: the pipeline's first step and `python -m tools validate`.

One streaming engine behind both: `scanner` reads lines in constant memory, `records` holds
the per-format rules, `dataset` checks a whole dataset (files, settings, counts, cost),
`prepare` writes what Bedrock reads, `upload` runs it all against S3 for the Lambda.
"""
