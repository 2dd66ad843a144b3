"""Teams, keys and budgets as code: environments/<env>/access.yaml reconciled with a running gateway.

state.py reduces the declaration and the gateway to comparable settings, diff.py plans
(create, update, rotate, delete; drift), apply.py carries a plan out through gateway.py
(LiteLLM's management API), secrets.py keeps new key values, reconcile.py runs one plan or
apply (the CLI and the smoke's provisioning share it). `python -m pipeline.access`
(`nox -s access`) is the entry point; docs/access.md says how it is used.
"""
