"""Free loopback ports: usable at once, and distinct within one stack."""

from __future__ import annotations

import socket

from gateway.devstack.ports import LOOPBACK, PortAllocator, free_port


def test_a_free_port_can_be_bound_on_loopback():
    port = free_port()
    with socket.socket() as sock:
        sock.bind((LOOPBACK, port))


def test_excluded_ports_are_never_returned():
    first = free_port()
    assert all(free_port(exclude={first}) != first for _ in range(20))


def test_an_allocator_never_hands_out_the_same_port_twice():
    allocate = PortAllocator()
    ports = [allocate() for _ in range(30)]
    assert len(set(ports)) == 30
