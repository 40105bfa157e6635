"""Where things live in the buckets: the upload contract shared by the stacks and handlers.

The stacks derive IAM scopes from these prefixes, and the handlers build keys from them,
so a permission can never drift from the place the code actually reads or writes.
"""

# Data bucket: what users upload, what the pipeline prepares from it, what it reports.
DATASETS_PREFIX = "datasets/"
PREPARED_PREFIX = "prepared/"
REPORTS_PREFIX = "reports/"

# Output bucket: Bedrock writes each job's artifacts under this prefix.
JOB_OUTPUT_PREFIX = "jobs/"

# Bedrock reads training and validation data only from these data-bucket prefixes.
BEDROCK_READABLE_PREFIXES = (DATASETS_PREFIX, PREPARED_PREFIX)
