"""Our own AWS Step Functions runtime: an Amazon States Language interpreter behind the real API.

A package of its own: it imports nothing from ``toolkit``. Its packages are layers, each
importing only those below it: integrations > api > distributed > engine > expressions >
errors, authorization, jsontext (import-linter contracts in pyproject.toml; no import circle either). Names follow AWS's
documentation: state machines, executions, states, history events, Map Runs.
Where each concept lives:

- ``errors``             StatesError (``States.*`` and task errors) and DefinitionError
- ``authorization``      the hook every call a workflow makes passes: the Authorizer protocol, and the
                         IAM action and resource ARN of each call (the local stack plugs in its IAM)
- ``jsontext``           compact JSON text of state data (orjson): payload sizes, history text, HTTP bodies
- ``engine.definition``  parsing and validation (InvalidDefinition), per-language field rules, compilation
- ``engine.machine``     StateMachineRevision: a state machine as an execution started it
- ``engine.states``      the state types: Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map (inline),
                         and StateGraph (a machine, a branch or an ItemProcessor)
- ``engine.choice``      Choice Rules: comparison operators, And/Or/Not, JSONata Condition
- ``engine.dataflow``    InputPath/Parameters/ResultSelector/ResultPath/OutputPath and Arguments/Output/Assign
- ``engine.retry``       Retry and Catch: error-name matching and back-off
- ``engine.execution``   executions, frames, the context object, variable scopes, history recording,
                         and redrive (its count and date, why an execution is not redrivable, the restart)
- ``engine.runtime``     what executions share: the clock, quotas, task tokens, Task resources, the
                         Map Run runner, the log sink and the table of executions (the API service owns one)
- ``engine.execution_logs`` loggingConfiguration: history events as CloudWatch Logs events (AWS's
                         format and levels), handed to a LogSink
- ``engine.history``     history events and their API shape
- ``engine.resources``   the Task plug-in point (TaskInvocation, TaskResource) and the local test resource
- ``engine.callbacks``   task tokens for ``.waitForTaskToken`` (SendTaskSuccess/Failure/Heartbeat)
- ``engine.clock``       the time scale; ``engine.quotas`` the service quotas (table: docs/quotas.md)
- ``expressions``        JSONata (``jsonata_eval`` with its ``jsonata_fast`` path), ``jsonpath``,
                         ``intrinsics``, ``payload`` (Parameters-style templates), ``functions`` (what
                         AWS's JSONata functions and the intrinsics share: partition, range, hash, ...)
- ``distributed``        Distributed Map: ``map_run`` (Map Runs and the runner), ``item_io``
                         (ItemReader, ResultWriter)
- ``integrations``       ``http`` (HTTP Task, with EventBridge ``connections``), ``awssdk`` (aws-sdk:*),
                         ``states``, ``dynamodb`` and ``glue``; ``clients`` (boto3 from asyncio);
                         ``cloudwatch_logs`` (the LogSink writing execution logs)
- ``api``                the API operations (``service``; ``map_runs`` for ListMapRuns/DescribeMapRun/
                         UpdateMapRun), ``teststate``, ``awsjson`` (AWS's JSON protocol), ``pagination``
                         (maxResults/nextToken), ``names`` (ARNs and name rules),
                         ``logging_configuration`` (loggingConfiguration checked as AWS checks it)
"""
