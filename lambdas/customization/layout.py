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
# The job's training curves and their diagnosis (ReadTrainingCurves), beside the evaluation.
CURVES_REPORT = "curves.json"
CURVES_CHART = "curves.svg"


# S3 keys are at most 1,024 bytes (UTF-8): a dataset's name leaves room for the longest file
# beside the training file (datasets/<name>/validation.jsonl). Every key a run writes itself
# is built from the run's slug and id (naming.RunNames.folder), so it is short whatever the name.
S3_KEY_MAX_BYTES = 1024
DATASET_NAME_MAX_BYTES = (
    S3_KEY_MAX_BYTES - len(DATASETS_PREFIX) - max(len("/" + f) for f in (*TRAINING_FILES, VALIDATION_FILE, JOB_FILE))
)


def dataset_name_problem(name: str) -> str | None:
    """Why `name` cannot name a dataset folder in the bucket, or None when it can."""
    if not name or name in (".", ".."):
        return f"{name!r} cannot name a dataset: use letters, digits and dashes"
    if "/" in name:
        return f"a dataset name cannot hold '/' ({name!r}): runs start from {DATASETS_PREFIX}<name>/train.jsonl only"
    size = len(name.encode("utf-8"))
    if size > DATASET_NAME_MAX_BYTES:
        return (
            f"the dataset name is {size:,} bytes (UTF-8); at most {DATASET_NAME_MAX_BYTES:,}, so that "
            f"{DATASETS_PREFIX}<name>/{VALIDATION_FILE} stays within S3's {S3_KEY_MAX_BYTES:,}-byte key limit: "
            "choose a shorter name"
        )
    return None


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
