"""Our own AWS Step Functions runtime: an Amazon States Language interpreter behind the real API.

Names follow AWS's documentation: state machines, executions, states, history events, Map Runs.
Where each concept lives:

- ``definition``  parsing and validation (InvalidDefinition), per-language field rules, compilation
- ``states``      the state types: Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map (inline)
- ``choice``      Choice Rules: comparison operators, And/Or/Not, JSONata Condition
- ``dataflow``    InputPath/Parameters/ResultSelector/ResultPath/OutputPath and Arguments/Output/Assign
- ``retry``       Retry and Catch: error-name matching and back-off
- ``execution``   executions, the context object, variable scopes, history recording
- ``history``     history events and their API shape
- ``tasks``       the Task plug-in point (TaskInvocation, TaskResource) and the local test resource
- ``callbacks``   task tokens for ``.waitForTaskToken`` (SendTaskSuccess/Failure/Heartbeat)
- ``service``     the API operations (StepFunctionsService), ``names`` ARNs and name rules
- ``clock``       the time scale, ``quotas`` the service quotas
- ``jsonata_eval``, ``jsonpath``, ``intrinsics``, ``payload``: the expression layer
- ``integrations``, ``map_run``, ``item_io``, ``redrive``: service integrations and Distributed Map
"""
