"""A local stand-in for the parts of AWS Glue's ``awsglue`` library that need no JVM (``utils``).

Only the local Glue runner puts it on a job's ``PYTHONPATH``; on AWS Glue the real library is used.
"""
