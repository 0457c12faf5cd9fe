"""Operator and analyst toolkit for the Distributed Data Stream Aggregator.

Modules: ``config`` (StackConfig, every resource name), ``aws`` (boto3 sessions and clients),
``local`` (the embedded stack: Step Functions runtime, Glue runner, sample third-party API),
``cli`` (the ``dsa`` command).
"""

__version__ = "0.1.0"
