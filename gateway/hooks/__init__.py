"""LiteLLM hooks the gateway wires by dotted path from gateway/config.yaml, one per module."""
