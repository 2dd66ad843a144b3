"""Teams, keys and budgets as code: environments/<env>/access.yaml reconciled with a running gateway.

state.py reduces the declaration and the gateway to comparable settings, diff.py plans
(create, update, rotate, delete; drift), apply.py carries a plan out through gateway.py
(LiteLLM's management API), secrets.py keeps new key values, reconcile.py runs one plan or
apply (the CLI, the admin task and the smoke's provisioning share it). It ships in the image:
`python -m gateway.entrypoint admin access plan|apply` (gateway/admin.py) runs it inside the
VPC; `python -m pipeline.access` (`nox -s access`) is the developer's and CI's command line.
docs/access.md says how both are used.
"""
