"""A local Amazon Bedrock Runtime look-alike that speaks the wire protocol LiteLLM and boto3 use.

Split as moto splits its services: `routes` (HTTP and wire format), `backend`
(behaviour, no HTTP), `errors` (typed AWS errors). See README.md beside this file.
"""
