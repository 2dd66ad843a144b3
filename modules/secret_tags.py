"""The tags on the LiteLLM key secrets that say what pipeline.seed_secrets writes into them.

Set by modules/gateway_secrets.py, read by pipeline/seed_secrets.py; a module of its
own so the seed step does not load the CDK (about 15 s) to learn three strings.
"""

JSON_KEY_TAG = "llm-gateway:json-key"  # the value is {"<this>": "sk-…"}
KEY_LENGTH_TAG = "llm-gateway:key-length"  # random characters after `sk-`
GENERATION_TAG = "llm-gateway:generation"  # master key only: master_key_version; absent = written once
