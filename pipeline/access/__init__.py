"""`python -m pipeline.access` (`nox -s access`): the command line of the access reconciler.

The reconciler itself is gateway/access/, shipped in the image so the one-off admin task
(`python -m gateway.entrypoint admin access …`, gateway/admin.py) runs the same code.
"""
