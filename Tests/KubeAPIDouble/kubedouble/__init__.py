"""A test double of the Kubernetes API server, for CI machines that cannot run a cluster.

Never shipped: only the tests start it. See ../README.md for what it does and does not do.
"""
