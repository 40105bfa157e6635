"""Names of everything a run creates, derived from the uploaded object version alone.

The same upload (bucket, key, version) always yields the same execution name, job name,
model name and idempotency tokens, so a duplicate event or a retried Lambda can never
start a second paid job; a new version of the same file yields new names, so it runs
again. Any function can find a run's job from the upload alone (the abort path does).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace

from customization import layout

# Step Functions: 80 characters, no whitespace, brackets, wildcards or punctuation such as
# " # % \ ^ | ~ ` $ & , ; : /, and ASCII only so that execution logs work.
EXECUTION_NAME_MAX = 80
# Bedrock: jobName [a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])* up to 63; customModelName
# ([0-9a-zA-Z][_-]?){1,63}; provisionedModelName up to 63; clientRequestToken
# [a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?
BEDROCK_NAME_MAX = 63
RUN_ID_LENGTH = 16
# The slug's share of the run's S3 folder: every key a run writes stays short (S3 allows
# 1,024 bytes) and matches Bedrock's S3Uri pattern, whatever the dataset is called.
FOLDER_SLUG_MAX = 64
# Tag on everything a run creates, and the stacks' name prefix: how the pipeline's resources
# are told from the rest of the account (cleanup, the safety net).
PROJECT = "BedrockCustomization"
# The tags on everything a run creates; IAM lets the pipeline create only with exactly these.
RUN_TAG_KEYS = ("project", "environment", "dataset", "run")
# Added to a re-fine-tuning run's job and custom model: the run (or model) it customized further.
PARENT_RUN_TAG = "parentRun"
# On a run's job and custom model: the S3 version of the upload it trained on. The run id is a
# hash of the upload and cannot be read back, so a later run that customizes this model further
# learns the version it descends from here (lineage). Absent for an unversioned upload.
DATASET_VERSION_TAG = "datasetVersion"
# Every tag key a run's creation may carry (IAM's aws:TagKeys allows exactly these).
ALL_RUN_TAG_KEYS = (*RUN_TAG_KEYS, PARENT_RUN_TAG, DATASET_VERSION_TAG)
_NOT_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class RunNames:
    environment: str
    dataset: str  # as uploaded, any characters
    slug: str  # ASCII letters, digits and single dashes
    run_id: str  # 16 hex digits of the upload's identity
    # A sweep's variant (1, 2, ...): its job, custom model and job token end in `-v<n>`; what
    # the run creates once (serving) keeps the run's names. None: the run's one job.
    variant: int | None = None

    def for_variant(self, index: int) -> RunNames:
        return replace(self, variant=index)

    @property
    def folder(self) -> str:
        """`<slug>/<run id>/`: where the run's prepared files and reports go, one folder per
        uploaded version (a re-upload never overwrites what a running job reads). Built from
        the slug, never the raw name: Bedrock refuses S3 URIs with spaces, '+', '=' or accents."""
        return f"{self.slug[:FOLDER_SLUG_MAX].rstrip('-') or 'dataset'}/{self.run_id}/"

    @property
    def execution_name(self) -> str:
        return f"{self.slug[: EXECUTION_NAME_MAX - RUN_ID_LENGTH - 1]}-{self.run_id}"

    @property
    def job_name(self) -> str:
        return self._bedrock_name("job", self._variant_suffix)

    @property
    def job_marker(self) -> str:
        """What every job name of this run contains, the sweep's variants' included: how
        compensation and the abort guard list the run's jobs."""
        return f"{self.environment}-job-{self.run_id}"

    @property
    def custom_model_name(self) -> str:
        return self._bedrock_name("model", self._variant_suffix)

    @property
    def _variant_suffix(self) -> str:
        return f"-v{self.variant}" if self.variant is not None else ""

    @property
    def provisioned_model_name(self) -> str:
        return self._bedrock_name("pt")

    @property
    def deployment_name(self) -> str:
        return self._bedrock_name("deploy")

    def client_token(self, purpose: str) -> str:
        """Idempotency token for one create call: repeated, Bedrock ignores the request."""
        return f"{purpose}-{self.environment}-{self.run_id}{self._variant_suffix}"

    @property
    def tags(self) -> dict[str, str]:
        """Tags on everything the run creates: cleanup and IAM conditions key on them."""
        return {
            "project": PROJECT,
            "environment": self.environment,
            "dataset": _tag_value(self.dataset),
            "run": self.run_id,
        }

    def model_tags(self, *, dataset_version: str | None = None, parent: str | None = None) -> dict[str, str]:
        """The tags of the run's job and custom model: the run's, with the upload's S3 version
        (S3's version ids fit Bedrock's TagValue pattern as they are) and, when it customizes an
        earlier run's model, `parentRun` (folded to the pattern; an ARN fits it as it is)."""
        tags = dict(self.tags)
        # Only a version the tag holds as it is: S3 names an unversioned object's version "null",
        # and a folded or cut id would be shown in a later run's lineage as if it were the real one.
        if dataset_version and dataset_version != "null" and _tag_value(dataset_version) == dataset_version:
            tags[DATASET_VERSION_TAG] = dataset_version
        if parent:
            tags[PARENT_RUN_TAG] = _tag_value(parent)
        return tags

    def _bedrock_name(self, kind: str, suffix: str = "") -> str:
        # The suffix (a sweep variant's) takes room from the slug, never from the run's identity.
        fixed = f"{self.environment}-{kind}-{self.run_id}{suffix}"
        room = BEDROCK_NAME_MAX - len(fixed) - 1
        return f"{self.slug[:room].rstrip('-')}-{fixed}" if room > 1 else fixed


def run_names(environment: str, bucket: str, key: str, version_id: str | None) -> RunNames:
    """The names of the run that this exact object version starts."""
    dataset = layout.dataset_name(key)
    identity = f"{bucket}\n{key}\n{version_id or ''}".encode()
    return RunNames(
        environment=environment,
        dataset=dataset,
        slug=slugify(dataset),
        run_id=hashlib.sha256(identity).hexdigest()[:RUN_ID_LENGTH],
    )


def slugify(name: str) -> str:
    """`Spam Filter (v2)` -> `Spam-Filter-v2`; `données` -> `donnees`; never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_NAME_CHARACTERS.sub("-", ascii_name).strip("-")
    return slug or "dataset"


def _tag_value(value: str) -> str:
    r"""A tag value Bedrock accepts: its TagValue pattern is [a-zA-Z0-9\s._:/=+@-]*, ASCII only,
    up to 256 characters (`données (v2)` -> `donnees _v2_`)."""
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-zA-Z0-9 ._:/=+@-]", "_", ascii_value)[:256]
