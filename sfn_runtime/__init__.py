"""Our own AWS Step Functions runtime: an Amazon States Language interpreter behind the real API.

A package of its own: it imports nothing from ``toolkit`` (an import-linter contract checks it).
Names follow AWS's documentation: state machines, executions, states, history events, Map Runs.
Where each concept lives:

- ``engine.definition``  parsing and validation (InvalidDefinition), per-language field rules, compilation
- ``engine.states``      the state types: Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map (inline)
- ``engine.choice``      Choice Rules: comparison operators, And/Or/Not, JSONata Condition
- ``engine.dataflow``    InputPath/Parameters/ResultSelector/ResultPath/OutputPath and Arguments/Output/Assign
- ``engine.retry``       Retry and Catch: error-name matching and back-off
- ``engine.execution``   executions, the context object, variable scopes, history recording
- ``engine.history``     history events and their API shape
- ``engine.resources``   the Task plug-in point (TaskInvocation, TaskResource) and the local test resource
- ``engine.callbacks``   task tokens for ``.waitForTaskToken`` (SendTaskSuccess/Failure/Heartbeat)
- ``engine.clock``       the time scale; ``engine.quotas`` the service quotas
- ``expressions``        JSONata (``jsonata_eval`` with its ``jsonata_fast`` path), ``jsonpath``,
                         ``intrinsics``, ``payload`` (Parameters-style templates)
- ``distributed``        Distributed Map: ``map_run`` (Map Runs), ``item_io`` (ItemReader, ResultWriter),
                         ``redrive`` (RedriveExecution)
- ``integrations``       HTTP Task, aws-sdk, states, DynamoDB and Glue integrations; ``authorization``: the
                         IAM hook every call passes (Authorizer protocol, actions and resource ARNs)
- ``api``                the API operations (``service``), ``teststate``, ``awsjson`` (AWS's JSON
                         protocol), ``names`` (ARNs and name rules)
"""
