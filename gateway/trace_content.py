"""Whether traces may carry prompt and answer text: the rule every side applies.

A trace with content holds what users asked and what models answered. It may go
only to a collector on the company's private network. "Outside" is decided from
the collector URL alone, so the environment file check (modules/config.py), the
image (gateway/entrypoint.py) and the policy on the synthesized task definition
(policies/checks/llmgw_12_trace_content.py, which loads this file by path) agree:

- inside: `localhost`, a loopback address, an RFC 1918 IPv4 address, or a DNS name
  ending in `.internal` (AWS's private names such as `*.compute.internal`, a Route 53
  private zone or Cloud Map namespace named `*.internal`; ICANN reserves `.internal`
  for private use, so no public host can ever carry that name);
- outside: everything else. Phoenix Cloud (`app.phoenix.arize.com`) and any public
  DNS name count as outside, even one that resolves to a private address today:
  its DNS can change after the review that accepted it.

Content capture defaults to on for a collector inside and off for one outside;
turning it on for one outside is refused, not acknowledged (docs/gateway.md,
"What traces carry"). Standard library only: it runs in the image, in synth and
inside checkov.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# The container runtime contract's variable (docs/contracts.md): "true" or "false".
VARIABLE = "GATEWAY_TRACE_CONTENT"
VALUES = ("true", "false")
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
PRIVATE_SUFFIX = ".internal"
INSIDE = "a private IPv4 address (10/8, 172.16/12, 192.168/16), localhost or a *.internal name"


def collector_host(endpoint: str) -> str:
    """The host a collector URL connects to (`https://h/v1/traces`, `grpc://h:4317`, `h:4317`)."""
    text = endpoint.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    return (parts.hostname or "").rstrip(".")


def collector_is_external(endpoint: str) -> bool:
    """True unless the collector is provably on the private network (see the module's rule)."""
    host = collector_host(endpoint)
    if not host:
        return True
    if host == "localhost" or host.endswith(PRIVATE_SUFFIX):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a DNS name outside .internal: public DNS decides where it points
    if address.is_loopback:
        return False
    return not any(address in network for network in PRIVATE_NETWORKS)


def default_capture(endpoint: str) -> bool:
    """Content capture when nothing says otherwise: on inside the network, off outside it."""
    return not collector_is_external(endpoint)


def parse(raw: str | None) -> bool | None:
    """The variable's value: None when unset or empty; ValueError naming the allowed values otherwise."""
    text = (raw or "").strip().lower()
    if not text:
        return None
    if text not in VALUES:
        raise ValueError(f"{VARIABLE} must be true or false, got {raw!r}")
    return text == "true"
