"""Policy as data: the guardrail definition and the checks run against synthesized stacks.

Kept import-light on purpose: the local Bedrock emulator imports
`policies.guardrail`, and it must not pay for CDKTF or checkov.
"""
