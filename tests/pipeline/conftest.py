"""The emulator-applied dev stack, shared by the secret tests (one apply per test session)."""

from secret_stack import applied_stack  # noqa: F401 - a session fixture, defined once
