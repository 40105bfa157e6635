"""The service role that Amazon Bedrock assumes to run this environment's customization jobs."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from customization import invocation_logs, layout
from customization.catalog import load_catalog
from stacks.config import JobVpcConfig
from stacks.nag import acknowledge_wildcard_resource

BEDROCK_SERVICE = "bedrock.amazonaws.com"


class CustomizationServiceRole(Construct):
    """Trusted only by Bedrock jobs of this account and region; reads datasets, writes artifacts.

    Actions are listed one by one rather than through `grant_read`/`grant_write`, whose
    `s3:GetObject*`/`s3:List*` wildcards would give Bedrock more than a job ever calls.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        key: kms.IKey,
        job_vpc: JobVpcConfig | None = None,
        teacher_models: list[str] | None = None,
        invocation_log_prefixes: list[str] | None = None,
        invocation_log_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Confused-deputy guard: only customization jobs of this account and region may
        # hand this role to Bedrock, never another account's job.
        job_arns = stack.format_arn(service="bedrock", resource="model-customization-job", resource_name="*")
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to read training data and write model artifacts",
            assumed_by=iam.ServicePrincipal(
                BEDROCK_SERVICE,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": job_arns},
                },
            ),
        )

        # A customer-managed policy rather than an inline one: it is versioned by IAM and
        # shows up as its own resource in reviews and in NIST 800-53 (IAMNoInlinePolicy).
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="What Bedrock customization jobs may do with this environment's data",
            roles=[self.role],
        )
        self._allow_data_access(stack, data_bucket, output_bucket, key)
        if job_vpc is not None:
            self._allow_job_network_interfaces(stack, job_vpc)
        self.teacher_identifiers: dict[str, str] = {}
        if teacher_models:
            self._allow_invoking_teachers(stack, teacher_models)
        if invocation_log_prefixes:
            self._allow_reading_invocation_logs(stack, invocation_log_prefixes, invocation_log_key_arn)

    def _allow_reading_invocation_logs(self, stack: Stack, prefixes: list[str], key_arn: str | None) -> None:
        """Distillation from invocation logs: GetObject on exactly the environment's log prefixes,
        ListBucket on their buckets for those prefixes only (the permissions AWS's customization
        access page lists for training data, custom-model-job-access-security.html, checked
        2026-11-29). s3:ResourceAccount holds both to this account's buckets: a bucket name is
        global, and the stack cannot tell that another account's bucket of that name is safe to
        train on. A customer-managed key of the logs is usable through S3 only; SSE-S3 logs need
        nothing."""
        this_account = {"StringEquals": {"s3:ResourceAccount": stack.account}}
        objects, listed = [], {}
        for uri in prefixes:
            bucket, prefix = invocation_logs.bucket_and_prefix(uri)
            objects.append(f"arn:{stack.partition}:s3:::{bucket}/{prefix}*")
            listed.setdefault(bucket, []).append(f"{prefix}*")
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="ReadInvocationLogs", actions=["s3:GetObject"], resources=objects, conditions=this_account
            ),
            *(
                iam.PolicyStatement(
                    sid=sid,
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{stack.partition}:s3:::{bucket}"],
                    conditions={**this_account, "StringLike": {"s3:prefix": bucket_prefixes}},
                )
                for sid, (bucket, bucket_prefixes) in zip(_unique_sids(listed), listed.items(), strict=True)
            ),
        )
        for resource in objects:
            acknowledge_wildcard_resource(
                self.policy,
                resource,
                "GetObject under one of the invocation-log prefixes this environment allows "
                "(customization.invocationLogPrefixes) only, in this account's buckets: Bedrock names the log files",
            )
        if key_arn:
            self.policy.add_statements(
                iam.PolicyStatement(
                    sid="DecryptInvocationLogsThroughS3",
                    actions=["kms:Decrypt"],
                    resources=[key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                )
            )

    def _allow_invoking_teachers(self, stack: Stack, teacher_models: list[str]) -> None:
        """Distillation: the job invokes the teacher as this role. AWS's page ("Choose teacher and
        student models for distillation", prequisites-model-distillation.html, checked 2026-11-29)
        asks, for a teacher behind a cross-Region inference profile, for InvokeModel on the profile
        in this Region and on the model in each Region of the profile. An in-Region teacher is its
        foundation model only. Nothing wider: the environment's teachers (customization.teacherModels),
        and a model behind a profile only through that profile (bedrock:InferenceProfileArn, the
        condition the evaluation step uses for the same kind of grant)."""
        statements = []
        for teacher_id in teacher_models:
            teacher = load_catalog().teachers[teacher_id]
            if teacher.inference_profile:
                profile = stack.format_arn(
                    service="bedrock", resource="inference-profile", resource_name=teacher.invocation_id
                )
                any_region = f"arn:{stack.partition}:bedrock:*::foundation-model/{teacher.id}"
                sid = "InvokeTeacher" + "".join(c for c in teacher.id.title() if c.isalnum())
                statements.append(iam.PolicyStatement(sid=sid, actions=["bedrock:InvokeModel"], resources=[profile]))
                statements.append(
                    iam.PolicyStatement(
                        sid=f"{sid}InEachRegionOfItsProfile",
                        actions=["bedrock:InvokeModel"],
                        resources=[any_region],
                        conditions={"StringLike": {"bedrock:InferenceProfileArn": profile}},
                    )
                )
                acknowledge_wildcard_resource(
                    self.policy,
                    any_region,
                    f"The distillation teacher {teacher.name} is reached only through its cross-Region inference "
                    "profile, which routes to the model in any Region of its geography: the foundation model is "
                    "granted in all of them, for this one model, and only through the profile",
                )
                self.teacher_identifiers[teacher_id] = profile
            else:
                model = stack.format_arn(
                    service="bedrock", account="", resource="foundation-model", resource_name=teacher.id
                )
                sid = "InvokeTeacher" + "".join(c for c in teacher.id.title() if c.isalnum())
                statements.append(iam.PolicyStatement(sid=sid, actions=["bedrock:InvokeModel"], resources=[model]))
                self.teacher_identifiers[teacher_id] = teacher.id
        self.policy.add_statements(*statements)

    def _allow_data_access(self, stack: Stack, data_bucket: s3.IBucket, output_bucket: s3.IBucket, key: kms.IKey):
        """Read the training and validation data, write the model artifacts, through the data key."""
        readable_objects = [data_bucket.arn_for_objects(f"{p}*") for p in layout.BEDROCK_READABLE_PREFIXES]
        writable_objects = [output_bucket.arn_for_objects(f"{layout.JOB_OUTPUT_PREFIX}*")]
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="ReadTrainingAndValidationData",
                actions=["s3:GetObject"],
                resources=readable_objects,
            ),
            iam.PolicyStatement(
                sid="ListTrainingAndValidationData",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in layout.BEDROCK_READABLE_PREFIXES]}},
            ),
            iam.PolicyStatement(
                sid="WriteModelArtifacts",
                actions=["s3:PutObject", "s3:GetObject"],
                resources=writable_objects,
            ),
            iam.PolicyStatement(
                sid="ListModelArtifacts",
                actions=["s3:ListBucket"],
                resources=[output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{layout.JOB_OUTPUT_PREFIX}*"]}},
            ),
        )
        self._allow_key_use(stack, key)
        for objects, reason in (
            (
                readable_objects,
                "GetObject on keys under the datasets/ and prepared/ prefixes of this "
                "environment's data bucket only: the file names are chosen at upload time",
            ),
            (
                writable_objects,
                "Put/GetObject under the jobs/ prefix of this environment's output bucket "
                "only: Bedrock names each job's folder (model-customization-job-<id>/) at run time",
            ),
        ):
            for resource in objects:
                acknowledge_wildcard_resource(self.policy, resource, reason)

    def _allow_key_use(self, stack: Stack, key: kms.IKey) -> None:
        """Reading and writing SSE-KMS objects makes S3 call KMS on the role's behalf, and
        encrypting the custom model makes Bedrock do so; the key is usable through those two
        services in this region and no other way."""
        through_s3_and_bedrock = {
            "kms:ViaService": [f"bedrock.{stack.region}.amazonaws.com", f"s3.{stack.region}.amazonaws.com"]
        }
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="UseDataKeyThroughS3AndBedrock",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": through_s3_and_bedrock},
            ),
            # Grants only for an AWS service's own use of the key (kms:GrantIsForAWSResource, KMS
            # developer guide "AWS KMS condition keys", read 2026-11-29): Bedrock's grants on the model.
            iam.PolicyStatement(
                sid="GrantsForBedrockOnly",
                actions=["kms:CreateGrant"],
                resources=[key.key_arn],
                conditions={
                    "StringEquals": through_s3_and_bedrock,
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            ),
        )

    def _allow_job_network_interfaces(self, stack: Stack, job_vpc: JobVpcConfig) -> None:
        """VPC jobs: Bedrock creates network interfaces in the given subnets, tagged by itself.

        The five statements AWS documents for a VPC job's service role ("Protect model
        customization jobs using a VPC", custom-model-job-access-security.html#vpc-data-access-role,
        checked 2026-11-29): the request-tag condition is on the new network interface only,
        never on the subnets and security groups, which carry no such tags.
        """
        subnets = [stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in job_vpc.subnet_ids]
        groups = [
            stack.format_arn(service="ec2", resource="security-group", resource_name=g)
            for g in job_vpc.security_group_ids
        ]
        interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        jobs = stack.format_arn(service="bedrock", resource="model-customization-job", resource_name="*")
        self._allow_creating_network_interfaces(subnets, groups, interfaces, jobs)
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="ManageOwnNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[interfaces],
                conditions={
                    "ArnEquals": {"ec2:Subnet": subnets, "ec2:ResourceTag/BedrockModelCustomizationJobArn": [jobs]},
                    "StringEquals": {"ec2:ResourceTag/BedrockManaged": "true"},
                },
            ),
            iam.PolicyStatement(
                sid="TagNetworkInterfacesForVpcJobs",
                actions=["ec2:CreateTags"],
                resources=[interfaces],
                conditions={
                    "StringEquals": {"ec2:CreateAction": ["CreateNetworkInterface"]},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]},
                },
            ),
        )

    def _allow_creating_network_interfaces(self, subnets: list, groups: list, interfaces: str, jobs: str) -> None:
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="DescribeNetworkForVpcJobs",
                actions=[
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CreateTaggedNetworkInterfacesForVpcJobs",
                actions=["ec2:CreateNetworkInterface"],
                resources=[interfaces],
                conditions={
                    "StringEquals": {"aws:RequestTag/BedrockManaged": ["true"]},
                    "ArnEquals": {"aws:RequestTag/BedrockModelCustomizationJobArn": [jobs]},
                },
            ),
            iam.PolicyStatement(
                sid="CreateNetworkInterfacesInTheJobSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=[*subnets, *groups],
            ),
        )


def _unique_sids(buckets) -> list[str]:
    """ListInvocationLogs<Bucket> per bucket; IAM wants a policy's Sids unique, and "a.b" and "a-b"
    read alike once the punctuation is dropped, so a repeat gets a number."""
    sids: list[str] = []
    for bucket in buckets:
        sid = "ListInvocationLogs" + "".join(c for c in bucket.title() if c.isalnum())
        sids.append(sid if sid not in sids else f"{sid}{len(sids) + 1}")
    return sids
