"""Prisma's query engine for LiteLLM's database mode where no native engine binary can be had.

prisma-client-py (LiteLLM's database client) spawns Prisma's native `query-engine`
binary, which it downloads at run time from a host many machines cannot reach.
This folder holds a stand-in: `query-engine` runs `server.mjs`, Prisma's own engine
compiled to WebAssembly behind the native binary's HTTP interface (README.md). Its
npm dependencies are pinned in package.json and hash-locked in package-lock.json,
installed by the project's set-up (`npm ci`, INSTALL_COMMAND).

This module says whether the server can run here, and generates prisma-client-py's
client for LiteLLM's schema offline, once per installed environment (a stamp in the
prisma package records what it was generated from).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LAUNCHER = ROOT / "query-engine"
# The engine build server.mjs runs; package.json pins @prisma/query-engine-wasm to it.
ENGINE_COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"
INSTALL_COMMAND = "npm ci --ignore-scripts --prefix gateway/prisma_engine"
MIN_NODE_MAJOR = 20
STAMP_NAME = ".gateway-generated.json"
GENERATE_TIMEOUT_SECONDS = 180


def missing() -> str | None:
    """Why the engine server cannot run here (with what to do), or None when it can."""
    node = shutil.which("node")
    if node is None:
        return f"Node.js {MIN_NODE_MAJOR}+ is not on PATH (the Prisma engine server runs on it)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if not major or int(major.group(1)) < MIN_NODE_MAJOR:
        return f"the Prisma engine server needs Node.js {MIN_NODE_MAJOR}+, found {version or 'no version'}"
    installed = ROOT / "node_modules" / ".package-lock.json"
    if not installed.exists():
        return f"the Prisma engine server's npm packages are not installed: run `{INSTALL_COMMAND}`"
    if _locked_packages(ROOT / "package-lock.json") != _locked_packages(installed):
        return f"the Prisma engine server's npm packages differ from its lock: run `{INSTALL_COMMAND}`"
    return None


def _locked_packages(lock: Path) -> dict[str, str]:
    packages = json.loads(lock.read_text(encoding="utf-8")).get("packages", {})
    return {name: info.get("version", "") for name, info in packages.items() if name.startswith("node_")}


def engine_environment() -> dict[str, str]:
    """What a process using prisma-client-py needs: this engine (which also skips the client's version
    check), and Prisma's CLI from node_modules (package-lock.json) with no engine download.

    LiteLLM runs the CLI at start-up for a read-only schema diff (`prisma migrate diff`); that needs
    Prisma's schema engine, which this is not: the diff fails at once, logged by LiteLLM as
    "Failed to generate migration diff", instead of installing the CLI from npm on every start and
    then failing to download the schema engine.
    """
    return {
        "PRISMA_QUERY_ENGINE_BINARY": str(LAUNCHER),
        "PRISMA_SCHEMA_ENGINE_BINARY": str(LAUNCHER),  # answers --version; refuses schema-engine work
        "PRISMA_BINARY_CACHE_DIR": str(ROOT),  # prisma-client-py finds the CLI in node_modules/prisma here
        "PRISMA_USE_GLOBAL_NODE": "true",
        "PRISMA_USE_NODEJS_BIN": "false",
        "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING": "1",
        "PRISMA_HIDE_UPDATE_MESSAGE": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def generate_environment() -> dict[str, str]:
    """`prisma generate` offline."""
    return {
        **engine_environment(),
        # The schema's generator runs `prisma-client-py`, installed beside this interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def schema_path() -> Path:
    """LiteLLM's schema.prisma, found without importing LiteLLM (seconds)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"litellm is not installed in {sys.prefix}")
    return Path(next(iter(spec.submodule_search_locations))) / "proxy" / "schema.prisma"


def _prisma_dir() -> Path:
    spec = importlib.util.find_spec("prisma")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"prisma (prisma-client-py) is not installed in {sys.prefix}")
    return Path(next(iter(spec.submodule_search_locations)))


def _generation_key() -> str:
    """What the generated client depends on: the schema, the client's version, the engine and its path."""
    digest = hashlib.sha256(schema_path().read_bytes())
    digest.update(f"{importlib.metadata.version('prisma')}|{ENGINE_COMMIT}|{LAUNCHER}".encode())
    return digest.hexdigest()


def _client_digest(package: Path) -> str:
    client = package / "client.py"
    return hashlib.sha256(client.read_bytes()).hexdigest() if client.exists() else ""


def client_generated() -> bool:
    """Whether the installed prisma package holds a client generated for this schema and engine.

    A reinstalled package has its stub client.py back, whose digest no longer matches the stamp.
    """
    package = _prisma_dir()
    try:
        stamp = json.loads((package / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("key") == _generation_key() and stamp.get("client_sha256") == _client_digest(package)


def generate(*, log=print) -> bool:
    """Generate the client unless it is already generated; True if it generated. Safe to run concurrently."""
    package = _prisma_dir()
    with open(package / ".gateway-generate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two stacks starting at once generate once
        if client_generated():
            return False
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        schema = schema_path()
        log(f"generating the Prisma client for {schema} (once per environment)")
        env = {**os.environ, **generate_environment()}
        result = subprocess.run(
            [sys.executable, "-m", "prisma", "generate", "--schema", str(schema)],
            env=env,
            capture_output=True,
            text=True,
            timeout=GENERATE_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            output = f"{result.stdout[-1500:]}{result.stderr[-1500:]}"
            raise RuntimeError(f"prisma generate failed ({result.returncode}):\n{output}")
        stamp = {"key": _generation_key(), "client_sha256": _client_digest(package)}
        (package / STAMP_NAME).write_text(json.dumps(stamp) + "\n", encoding="utf-8")
        return True
