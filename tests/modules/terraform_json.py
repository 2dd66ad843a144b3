"""Lookups in synthesized Terraform JSON that several construct tests make the same way."""

from __future__ import annotations


def one(doc: dict, kind: str) -> dict:
    """The only resource of type `kind` (fails when there are none or several)."""
    (item,) = doc["resource"][kind].values()
    return item


def sg_id(doc: dict, name: str) -> str:
    """The Terraform reference to the id of the security group named `name`."""
    (key,) = [k for k, v in doc["resource"]["aws_security_group"].items() if v["name"] == name]
    return f"${{aws_security_group.{key}.id}}"
