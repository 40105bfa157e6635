"""Stateless resources: everything that can be replaced without touching the data.

The customization role, the functions, the state machine, the trigger on uploads, the
abort guard, notifications and alarms. Each function's permissions are listed here, next
to the step it serves, so a reviewer reads one place (and `docs/iam.md` shows the result).
"""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from customization import layout
from customization.catalog import load_catalog
from stacks.config import EnvironmentConfig
from stacks.constructs.customization_role import CustomizationServiceRole
from stacks.constructs.dashboard import PipelineDashboard
from stacks.constructs.functions import PipelineFunction
from stacks.constructs.workflow import CustomizationWorkflow, WorkflowFunctions
from stacks.nag import acknowledge
from stacks.storage_stack import StorageStack

BEDROCK_IDS_REASON = (
    "Bedrock assigns job, custom model, throughput and deployment IDs at creation, so the grant is the "
    "resource type in this account and region; the names the pipeline picks are not part of these ARNs"
)
TRAINING_FILE_PATTERNS = [f"{layout.DATASETS_PREFIX}*/{name}" for name in layout.TRAINING_FILES]


class PipelineStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, storage: StorageStack, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.storage = storage
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        retention = logs.RetentionDays.ONE_YEAR if config.retain_data else logs.RetentionDays.ONE_MONTH
        self.customization_role = CustomizationServiceRole(
            self,
            "CustomizationServiceRole",
            data_bucket=storage.data_bucket,
            output_bucket=storage.output_bucket,
            key=storage.key,
            job_vpc=config.job_vpc,
        )

        # Logs, the topic and the dead-letter queue hold run details: encrypted with a key of
        # this stack, so the pipeline never needs a grant on the data key for them.
        self.operations_key = kms.Key(
            self,
            "OperationsKey",
            description=f"Encrypts the {config.name} Bedrock customization logs, notifications and dead letters",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.operations_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            self.operations_key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")

        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"Bedrock customization ({config.name})",
            master_key=self.operations_key,
            enforce_ssl=True,
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.operations_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.operations_key.grant(iam.ServicePrincipal("sns.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        for email in config.notifications.emails:
            # Undeliverable notifications are kept in the dead-letter queue, which alarms.
            self.topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.dead_letters))
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.dead_letters,
                rule,
                "This queue is the dead-letter queue of the upload trigger, the abort guard and the e-mail "
                "subscriptions; a DLQ of a DLQ would only move the same messages",
            )
        functions = self._functions(retention, removal)
        self.workflow = CustomizationWorkflow(
            self,
            "Workflow",
            config=config,
            functions=functions,
            log_key=self.operations_key,
            log_retention=retention,
            removal_policy=removal,
        )
        state_machine = self.workflow.state_machine
        self._trigger(state_machine, retention, removal)
        self._abort_guard(state_machine, functions.stop_job)
        self.safety_net = self._safety_net(retention, removal) if config.serving.time_to_live_hours else None
        self._alarms(state_machine, functions)
        self.dashboard = PipelineDashboard(
            self,
            "Dashboard",
            environment=config.name,
            state_machine=state_machine,
            dead_letters=self.dead_letters,
            poll_job_logs=functions.poll_job.log_group,
            validate_logs=functions.validate.log_group,
            notify_logs=functions.notify.log_group,
            evaluate_logs=functions.evaluate.log_group if functions.evaluate else None,
        )

        CfnOutput(self, "CustomizationRoleArn", value=self.customization_role.role.role_arn)
        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.dead_letters.queue_url)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)

    # -- functions --------------------------------------------------------------------------

    def _function(self, name: str, package: str, description: str, retention, removal, **options) -> PipelineFunction:
        environment = {"ENVIRONMENT": self.config.name, **options.pop("environment", {})}
        function = PipelineFunction(
            self,
            name,
            handler_package=package,
            description=description,
            environment=environment,
            log_key=self.operations_key,
            log_retention=retention,
            removal_policy=removal,
            **options,
        )
        return function

    def _functions(self, retention, removal) -> WorkflowFunctions:
        config, storage = self.config, self.storage
        serving_json = json.dumps(
            {
                "mode": config.serving.mode,
                "modelUnits": config.serving.model_units,
                "commitment": config.serving.commitment,
            }
        )
        data, key = storage.data_bucket, storage.key

        validate = self._function(
            "ValidateDataset",
            "validate_dataset",
            "Validates an uploaded dataset and prepares it for Bedrock",
            retention,
            removal,
            timeout=Duration.minutes(15),
            memory_mib=2048,
            # Prepared train and validation files are written to /tmp before upload.
            ephemeral_storage_mib=4096,
            environment={
                "DEFAULT_JOB_SETTINGS": json.dumps(config.customization.as_job_settings()),
                "ALLOWED_BASE_MODELS": json.dumps(config.customization.allowed_base_models),
                "SERVING": serving_json,
            },
        )
        uploads = data.arn_for_objects(f"{layout.DATASETS_PREFIX}*")
        outputs = [
            data.arn_for_objects(f"{layout.REPORTS_PREFIX}*"),
            data.arn_for_objects(f"{layout.PREPARED_PREFIX}*"),
        ]
        validate.grant(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[uploads]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=outputs),
            # Without ListBucket, a missing job.json reads as AccessDenied instead of NoSuchKey.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["datasets/*"]}},
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            ),
        )
        validate.acknowledge_wildcards(
            [uploads],
            "Reads any uploaded dataset (datasets/<name>/...), whose names are chosen at upload time; "
            "the data bucket only",
        )
        validate.acknowledge_wildcards(
            outputs,
            "Writes reports/<name>/<version>/ and prepared/<name>/<version>/, named per upload at run time",
        )

        job_arns = self._bedrock_arn("model-customization-job/*")
        start_job = self._function(
            "StartCustomizationJob",
            "start_job",
            "Checks the cost ceiling and starts the Bedrock customization job",
            retention,
            removal,
            environment={
                "CUSTOMIZATION_ROLE_ARN": self.customization_role.role.role_arn,
                "OUTPUT_BUCKET": storage.output_bucket.bucket_name,
                "DATA_KEY_ARN": key.key_arn,
                **({"COST_CEILING_USD": str(config.limits.cost_ceiling_usd)} if config.limits.cost_ceiling_usd else {}),
                **(
                    {
                        "JOB_VPC": json.dumps(
                            {
                                "subnetIds": config.job_vpc.subnet_ids,
                                "securityGroupIds": config.job_vpc.security_group_ids,
                            }
                        )
                    }
                    if config.job_vpc
                    else {}
                ),
            },
        )
        foundation_models = [
            self.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=model)
            for model in config.customization.allowed_base_models
        ]
        start_job.grant(
            iam.PolicyStatement(
                actions=["bedrock:CreateModelCustomizationJob"],
                resources=[*foundation_models, self._bedrock_arn("custom-model/*"), job_arns],
            ),
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob"],
                resources=[job_arns],
            ),
            iam.PolicyStatement(
                actions=["bedrock:TagResource"],
                resources=[job_arns, self._bedrock_arn("custom-model/*")],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.customization_role.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            ),
            # customModelKmsKeyId: Bedrock encrypts the custom model with the data key on our behalf.
            iam.PolicyStatement(
                actions=["kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"bedrock.{self.region}.amazonaws.com"}},
            ),
        )

        poll_job = self._function(
            "PollJob", "poll_job", "Reports the customization job's status and metrics", retention, removal
        )
        poll_job.grant(iam.PolicyStatement(actions=["bedrock:GetModelCustomizationJob"], resources=[job_arns]))
        for step in (start_job, poll_job):
            step.acknowledge_wildcards([job_arns], BEDROCK_IDS_REASON)
        start_job.acknowledge_wildcards([self._bedrock_arn("custom-model/*")], BEDROCK_IDS_REASON)

        stop_job = self._function(
            "StopJob",
            "stop_job",
            "Stops the run's job (and serving) when the run is aborted or over its time limit",
            retention,
            removal,
            environment={"SERVING": serving_json},
            # Invoked asynchronously by EventBridge: events it fails on are kept for a person.
            dead_letter_queue=self.dead_letters,
        )
        stop_job.grant(
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
                resources=[job_arns],
            )
        )
        stop_job.acknowledge_wildcards([job_arns], BEDROCK_IDS_REASON)

        create_serving = poll_serving = delete_serving = evaluate = None
        if config.serving.mode != "none":
            create_serving, poll_serving, delete_serving = self._serving_functions(serving_json, retention, removal)
            evaluate = self._evaluate_function(serving_json, retention, removal)
            stop_job.grant(*self._serving_delete_statements())
            stop_job.acknowledge_wildcards([self._serving_resource()], BEDROCK_IDS_REASON)

        notify = self._function(
            "Notify",
            "notify",
            "Publishes the run's outcome to the notification topic",
            retention,
            removal,
            environment={"TOPIC_ARN": self.topic.topic_arn},
        )
        notify.grant(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.operations_key.key_arn]
            ),
        )
        for function in (validate, start_job, poll_job, create_serving, poll_serving, delete_serving, evaluate, notify):
            if function is not None:
                acknowledge(
                    function.function,
                    "NIST.800.53.R5-LambdaDLQ",
                    "Invoked synchronously by the state machine, which retries it and routes every failure to "
                    "NotifyFailure; a DLQ only applies to asynchronous invocations",
                )
                acknowledge(
                    function.function,
                    "Serverless-LambdaDLQ",
                    "Invoked synchronously by the state machine, which retries it and routes every failure to "
                    "NotifyFailure; a DLQ only applies to asynchronous invocations",
                )
        return WorkflowFunctions(
            validate=validate,
            start_job=start_job,
            poll_job=poll_job,
            stop_job=stop_job,
            create_serving=create_serving,
            poll_serving=poll_serving,
            delete_serving=delete_serving,
            evaluate=evaluate,
            notify=notify,
        )

    def _serving_resource(self) -> str:
        provisioned = self.config.serving.mode == "provisioned"
        return self._bedrock_arn("provisioned-model/*" if provisioned else "custom-model-deployment/*")

    def _serving_functions(self, serving_json: str, retention, removal):
        provisioned = self.config.serving.mode == "provisioned"
        resource = self._serving_resource()
        create_action = "CreateProvisionedModelThroughput" if provisioned else "CreateCustomModelDeployment"
        get_action = "GetProvisionedModelThroughput" if provisioned else "GetCustomModelDeployment"
        environment = {"SERVING": serving_json}
        create = self._function(
            "CreateServing",
            "create_serving",
            "Creates the serving the environment asks for",
            retention,
            removal,
            environment=environment,
        )
        create.grant(
            iam.PolicyStatement(
                actions=[f"bedrock:{create_action}"], resources=[self._bedrock_arn("custom-model/*"), resource]
            ),
            iam.PolicyStatement(actions=[f"bedrock:{get_action}", "bedrock:TagResource"], resources=[resource]),
        )
        poll = self._function(
            "PollServing",
            "poll_serving",
            "Reports whether the serving is ready",
            retention,
            removal,
            environment=environment,
        )
        poll.grant(iam.PolicyStatement(actions=[f"bedrock:{get_action}"], resources=[resource]))
        delete = self._function(
            "DeleteServing",
            "delete_serving",
            "Deletes the run's serving after a failure",
            retention,
            removal,
            environment=environment,
        )
        delete.grant(*self._serving_delete_statements())
        create.acknowledge_wildcards([self._bedrock_arn("custom-model/*"), resource], BEDROCK_IDS_REASON)
        for step in (poll, delete):
            step.acknowledge_wildcards([resource], BEDROCK_IDS_REASON)
        return create, poll, delete

    def _evaluate_function(self, serving_json: str, retention, removal) -> PipelineFunction:
        """Asks the served custom model and its base model the same validation questions."""
        config, data, key = self.config, self.storage.data_bucket, self.storage.key
        evaluate = self._function(
            "EvaluateModel",
            "evaluate_model",
            "Scores the served custom model against its base model on validation records",
            retention,
            removal,
            # Sample x 2 models at bounded concurrency, with backoff when throttled.
            timeout=Duration.minutes(15),
            memory_mib=512,
            environment={"EVALUATION": json.dumps(config.evaluation.as_variable()), "SERVING": serving_json},
        )
        prepared = data.arn_for_objects(f"{layout.PREPARED_PREFIX}*")
        reports = data.arn_for_objects(f"{layout.REPORTS_PREFIX}*")
        base_models, through_profile = self._base_model_grants()
        served = [self._serving_resource()]
        if config.serving.mode == "on-demand":
            # A deployment answers with the account's custom model behind it.
            served.append(self._bedrock_arn("custom-model/*"))
        evaluate.grant(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[prepared]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[reports]),
            # The validation file and reports through S3; the custom model, which the job
            # encrypted with this key (customModelKmsKeyId), through Bedrock when it answers.
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"s3.{self.region}.amazonaws.com", f"bedrock.{self.region}.amazonaws.com"]
                    }
                },
            ),
            # Converse is authorized as bedrock:InvokeModel.
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[*served, *base_models]),
            # A model behind a cross-Region profile, in any Region of it, but only through the
            # profile (the condition AWS documents for inference profiles).
            *(
                iam.PolicyStatement(
                    actions=["bedrock:InvokeModel"],
                    resources=[model],
                    conditions={"StringLike": {"bedrock:InferenceProfileArn": profile}},
                )
                for model, profile in through_profile.items()
            ),
        )
        evaluate.acknowledge_wildcards(
            [prepared], "Reads the validation file of any run (prepared/<name>/<version>/), named per upload"
        )
        evaluate.acknowledge_wildcards(
            [reports], "Writes reports/<name>/<version>/evaluation.*, named per upload at run time"
        )
        evaluate.acknowledge_wildcards(served, BEDROCK_IDS_REASON)
        evaluate.acknowledge_wildcards(
            list(through_profile),
            "A cross-Region inference profile routes to the model in any Region of its geography: the "
            "foundation model is granted in all of them, for this one model, and only through the profile",
        )
        return evaluate

    def _base_model_grants(self) -> tuple[list[str], dict[str, str]]:
        """What invoking each allowed base model on demand needs: the in-Region model, or an
        inference profile plus the model in every Region the profile routes to. Returns the
        ARNs to grant as they are, and {model ARN in any Region: the profile it is reached by}."""
        direct: list[str] = []
        through_profile: dict[str, str] = {}
        for model_id in self.config.customization.allowed_base_models:
            invocation = load_catalog().model(model_id).invocation
            if invocation.inference_profile:
                profile = self.format_arn(
                    service="bedrock", resource="inference-profile", resource_name=invocation.model_id
                )
                direct.append(profile)
                through_profile[f"arn:{self.partition}:bedrock:*::foundation-model/{invocation.base_model_id}"] = (
                    profile
                )
            else:
                direct.append(
                    self.format_arn(
                        service="bedrock", account="", resource="foundation-model", resource_name=invocation.model_id
                    )
                )
        return direct, through_profile

    def _serving_delete_statements(self) -> list[iam.PolicyStatement]:
        provisioned = self.config.serving.mode == "provisioned"
        resource = self._serving_resource()
        kind = "ProvisionedModelThroughput" if provisioned else "CustomModelDeployment"
        return [iam.PolicyStatement(actions=[f"bedrock:Get{kind}", f"bedrock:Delete{kind}"], resources=[resource])]

    def _bedrock_arn(self, resource: str) -> str:
        kind, _, name = resource.partition("/")
        return self.format_arn(service="bedrock", resource=kind, resource_name=name)

    # -- trigger, abort guard, alarms ----------------------------------------------------------

    def _trigger(self, state_machine, retention, removal) -> None:
        starter = self._function(
            "StartRun",
            "start_run",
            "Starts one execution per uploaded training file version",
            retention,
            removal,
            environment={"STATE_MACHINE_ARN": state_machine.state_machine_arn},
            dead_letter_queue=self.dead_letters,
        )
        uploads = self.storage.data_bucket.arn_for_objects(f"{layout.DATASETS_PREFIX}*")
        starter.grant(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn]),
            # Only to tell a URL-encoded key from a real one ("a+b.jsonl"): HeadObject.
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[uploads]),
        )
        starter.acknowledge_wildcards(
            [uploads], "HeadObject on uploaded datasets (datasets/<name>/...), named at upload time"
        )
        self.upload_rule = events.Rule(
            self,
            "TrainingFileUploaded",
            description="A training file under datasets/<name>/ starts a run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.storage.data_bucket.bucket_name]},
                    "object": {"key": [{"wildcard": pattern} for pattern in TRAINING_FILE_PATTERNS]},
                },
            ),
        )
        self.upload_rule.add_target(
            targets.LambdaFunction(
                starter.function,
                dead_letter_queue=self.dead_letters,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )
        self.starter = starter

    def _abort_guard(self, state_machine, stop_job: PipelineFunction) -> None:
        self.abort_rule = events.Rule(
            self,
            "RunAbortedOrTimedOut",
            description="An aborted or timed-out execution stops its Bedrock job",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [state_machine.state_machine_arn]},
            ),
        )
        self.abort_rule.add_target(
            targets.LambdaFunction(
                stop_job.function,
                dead_letter_queue=self.dead_letters,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )

    def _safety_net(self, retention, removal) -> PipelineFunction:
        """Hourly: delete this environment's no-commitment serving past its time to live."""
        net = self._function(
            "SafetyNet",
            "safety_net",
            "Deletes forgotten no-commitment serving after serving.timeToLiveHours, with notifications",
            retention,
            removal,
            timeout=Duration.minutes(5),
            environment={
                "TOPIC_ARN": self.topic.topic_arn,
                "SERVING_TTL_HOURS": str(self.config.serving.time_to_live_hours),
            },
            dead_letter_queue=self.dead_letters,
            star_resource_reason="X-Ray tracing, and Bedrock's List* actions, which take no resource-level "
            "permissions; deletion is scoped to throughput and deployments, and in code to this environment's "
            "tagged, uncommitted ones",
        )
        listed = [self._bedrock_arn(r) for r in ("provisioned-model/*", "custom-model-deployment/*", "custom-model/*")]
        net.grant(
            # List actions take no resource-level permissions (Service Authorization Reference, Bedrock).
            iam.PolicyStatement(
                actions=[
                    "bedrock:ListProvisionedModelThroughputs",
                    "bedrock:ListCustomModelDeployments",
                    "bedrock:ListCustomModels",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=listed),
            iam.PolicyStatement(
                actions=["bedrock:DeleteProvisionedModelThroughput", "bedrock:DeleteCustomModelDeployment"],
                resources=listed[:2],
            ),
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.operations_key.key_arn]
            ),
        )
        net.acknowledge_wildcards(listed, BEDROCK_IDS_REASON)
        rule = events.Rule(
            self,
            "SafetyNetSchedule",
            description="Hourly sweep of forgotten serving",
            schedule=events.Schedule.rate(Duration.hours(1)),
        )
        rule.add_target(targets.LambdaFunction(net.function, dead_letter_queue=self.dead_letters, retry_attempts=2))
        return net

    def _alarms(self, state_machine, functions: WorkflowFunctions) -> None:
        action = cloudwatch_actions.SnsAction(self.topic)
        alarms = {
            "RunsFailed": state_machine.metric_failed(period=Duration.minutes(5)),
            "RunsTimedOut": state_machine.metric_timed_out(period=Duration.minutes(5)),
            "DeadLettersWaiting": self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)
            ),
        }
        # Function errors are alarmed only where an error is always a fault. The polling and
        # checking steps raise named errors as control flow (JobStillRunning every poll,
        # DatasetInvalidError on a bad upload): a fault there fails the run, which RunsFailed
        # reports with the cause.
        for step in (self.starter, functions.stop_job, functions.notify, functions.delete_serving, self.safety_net):
            if step is not None:
                alarms[f"{step.node.id}Errors"] = step.function.metric_errors(period=Duration.minutes(5))
        for name, metric in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{name} in the {self.config.name} Bedrock customization pipeline",
            )
            alarm.add_alarm_action(action)
