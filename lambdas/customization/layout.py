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

# Uploading one of these under datasets/<name>/ starts a run (see ARCHITECTURE.md).
TRAINING_FILES = ("train.jsonl", "train.txt")
VALIDATION_FILE = "validation.jsonl"
JOB_FILE = "job.json"
REPORT_FILE = "validation-report.json"
EVALUATION_REPORT = "evaluation.json"
EVALUATION_PAGE = "evaluation.md"


class UploadKeyError(ValueError):
    """An object key that does not follow the upload contract."""


def dataset_name(key: str) -> str:
    """`email-classifier` for `datasets/email-classifier/train.jsonl`."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != DATASETS_PREFIX or parts[2] not in TRAINING_FILES or not parts[1]:
        raise UploadKeyError(
            f"{key!r} does not start a run: upload the training file as "
            f"{DATASETS_PREFIX}<name>/{' or '.join(TRAINING_FILES)}"
        )
    return parts[1]


def sibling_key(training_key: str, file_name: str) -> str:
    return training_key.rsplit("/", 1)[0] + "/" + file_name


def report_key(run_folder: str, file_name: str = REPORT_FILE) -> str:
    """reports/<slug>/<run id>/: the validation report, and the evaluation's beside it."""
    return REPORTS_PREFIX + run_folder + file_name


def prepared_key(run_folder: str, file_name: str) -> str:
    """prepared/<slug>/<run id>/: the files Bedrock reads for this run."""
    return PREPARED_PREFIX + run_folder + file_name
