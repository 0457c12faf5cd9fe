"""The embedded local stack: everything the workflows touch, on loopback, with no AWS account."""
