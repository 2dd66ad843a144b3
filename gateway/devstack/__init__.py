"""The local stack: the whole gateway on one machine, only Bedrock emulated (see docs/local-stack.md)."""

from gateway.devstack.stack import LocalStack, StackError

__all__ = ["LocalStack", "StackError"]
