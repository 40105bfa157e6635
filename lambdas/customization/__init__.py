"""The pipeline's runtime: the code every Lambda handler runs, shared with the CDK stacks
(settings, layout, catalog) and the operator tools.

One import name everywhere: `customization`. The Lambda asset is the `lambdas/` folder, so
the package is top-level there; in the repository it is installed into the virtual
environment (`pip install -e .`, see pyproject.toml), so stacks, tools, tests and handlers
import the same module objects, and an exception class exists once.

Modules use only the standard library and boto3.
"""
