"""The pipeline's engine, shared by every Lambda handler and imported by the CDK stacks.

Modules here use only the standard library and what the Lambda Python runtime ships
(boto3), and import each other relatively, so the same files work as the Lambda asset's
top-level package and as `lambdas.customization` from the CDK app and the tools.
"""
