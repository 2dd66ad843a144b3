"""Where a new service key's value goes: one secret per key, named by environment and alias.

AWS: Secrets Manager, `<project>-<environment>/access/<alias>`, written with the role the
tool runs as (the deploy job's or a task's). Locally: one file per key in a git-ignored
folder (`.work/` is in .gitignore), the folder mode 0700 and each file 0600, created
with that mode so the value is never readable by others, not even for a moment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class SecretStore(Protocol):
    def put(self, alias: str, value: str) -> None: ...

    def get(self, alias: str) -> str | None: ...

    def where(self, alias: str) -> str:
        """Where the value of `alias` is kept (said in the output instead of the value)."""
        ...


class FileStore:
    """Local: `<folder>/<alias>`, mode 0600, in a folder of mode 0700."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def put(self, alias: str, value: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        path = self.folder / alias
        partial = path.with_name(f".{alias}.new")
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(value)
        os.replace(partial, path)  # a reader sees the old value or the new one, never half of it

    def get(self, alias: str) -> str | None:
        path = self.folder / alias
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def where(self, alias: str) -> str:
        return f"file {self.folder / alias} (mode 0600)"


class SecretsManagerStore:
    """AWS Secrets Manager: one secret per key; a rotation writes a new version of the same secret."""

    def __init__(
        self, prefix: str, *, region: str, client: object | None = None, kms_key_id: str | None = None
    ) -> None:
        import boto3  # only the AWS store needs it

        self.prefix = prefix
        # The admin task's role may create secrets only under the gateway's key (a KmsKeyId condition).
        self.kms_key_id = kms_key_id
        self._client = client or boto3.client("secretsmanager", region_name=region)

    def name(self, alias: str) -> str:
        return f"{self.prefix}/access/{alias}"

    def put(self, alias: str, value: str) -> None:
        client = self._client
        try:
            client.put_secret_value(SecretId=self.name(alias), SecretString=value)  # type: ignore[attr-defined]
        except client.exceptions.ResourceNotFoundException:  # type: ignore[attr-defined]
            client.create_secret(  # type: ignore[attr-defined]
                Name=self.name(alias),
                SecretString=value,
                Description=f"LiteLLM service key {alias}, declared in access.yaml",
                Tags=[{"Key": "managed-by", "Value": "access.yaml"}],
                **({"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}),
            )

    def get(self, alias: str) -> str | None:
        client = self._client
        try:
            return client.get_secret_value(SecretId=self.name(alias))["SecretString"]  # type: ignore[attr-defined]
        except client.exceptions.ResourceNotFoundException:  # type: ignore[attr-defined]
            return None

    def where(self, alias: str) -> str:
        return f"Secrets Manager secret {self.name(alias)}"
