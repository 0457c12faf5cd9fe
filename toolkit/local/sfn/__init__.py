"""Our own AWS Step Functions runtime: an Amazon States Language interpreter behind the real API.

Names follow AWS's documentation: state machines, executions, states, history events, Map Runs.
"""
