"""The gateway container: LiteLLM config rendering, entrypoint, health check and image build."""
