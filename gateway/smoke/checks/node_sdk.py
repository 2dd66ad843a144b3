"""The official openai Node SDK with its defaults: chat, a streamed chat with usage, embeddings.

The Node SDK decodes the default base64 embeddings itself and was the client that got 256
denormal floats from Titan's sign bits; a check in Python alone would not have caught how
it reads the wire. Runs `gateway/smoke/node_sdk/sdk_check.mjs` (openai 6.49.0, hash-locked);
skipped, with the reason, where Node or the package is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from gateway.smoke.checks.common import ensure
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target

NODE_SDK = Path(__file__).resolve().parents[1] / "node_sdk"
INSTALL = "npm ci --ignore-scripts --prefix gateway/smoke/node_sdk"
TIMEOUT_S = 120


def _run(target: Target) -> dict:
    node = shutil.which("node")
    if node is None:
        raise Skip("Node.js is not installed (the Python SDK checks still ran)")
    if not (NODE_SDK / "node_modules" / "openai").is_dir():
        raise Skip(f"the Node SDK is not installed: {INSTALL}")
    chat = target.environment.aliases("chat")
    if not chat:
        raise Skip("the catalogue has no chat alias")
    embedding = target.environment.aliases("embedding")
    # The key travels in the environment, never on a command line.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OPENAI_BASE_URL": f"{target.url}/v1",
        "OPENAI_API_KEY": target.key,
    }
    done = subprocess.run(  # a fixed argv, no shell
        [node, "sdk_check.mjs", chat[0], embedding[0] if embedding else ""],
        cwd=NODE_SDK, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise CheckFailed(
            f"the Node script printed no report (exit {done.returncode}): {done.stderr[-300:]}"
        ) from None
    ensure(not report.get("error"), f"the Node SDK raised: {report.get('error')}")
    return report


def node_sdk_defaults(target: Target) -> str:
    report = _run(target)
    alias = target.environment.aliases("chat")[0]
    ensure(report["chat"]["text"].strip(), "empty chat answer")
    ensure(
        report["chat"]["model"] == alias, f"the answer names model {report['chat']['model']!r}, not {alias!r}"
    )
    stream = report["stream"]
    ensure(stream["text"].strip(), "empty streamed answer")
    ensure(stream["usage"] and stream["usage"]["completion_tokens"] > 0, "no usage chunk in the stream")
    ensure(
        stream["usageChoices"] == [], f"the usage chunk has choices {stream['usageChoices']}; OpenAI sends []"
    )
    version = json.loads((NODE_SDK / "node_modules" / "openai" / "package.json").read_text())["version"]
    detail = f"openai-node {version}: chat, stream with a usage chunk of choices []"
    embedding = report.get("embedding")
    if embedding:
        default, floats = embedding["default"], embedding["float"]
        ensure(len(default) == len(floats), f"{len(default)} values by default, {len(floats)} as float")
        worst = max(abs(a - b) for a, b in zip(default, floats, strict=True))
        ensure(worst < 1e-5, f"the SDK's default encoding differs from float by up to {worst:g}")
        ensure(len(set(default)) > 2, f"the default encoding gave only {sorted(set(default))[:3]}")
        detail += f"; embeddings default = float over {len(default)} values"
    return detail
