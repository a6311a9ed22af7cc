"""The shareable link's address: students get one their computers can reach, not the teacher's 127.0.0.1.

``server.address`` and ``server.port`` (Streamlit's options) and the LAN address are mocked: the choice is the
same on any machine, with or without a network.
"""

from __future__ import annotations

import socket

import pytest
import streamlit as st

from dashboard.page import links

OPTIONS = {"server.port": 8501}


@pytest.fixture
def options(monkeypatch):
    """Set Streamlit's server options for ``links.server_share_base`` and a fixed LAN address."""
    values = dict(OPTIONS)
    monkeypatch.setattr(st, "get_option", lambda name: values[name])
    monkeypatch.setattr(links, "lan_address", lambda: "192.168.1.23")
    return values


@pytest.mark.parametrize("listen", ["0.0.0.0", "", None, "::"])
def test_a_server_on_every_interface_offers_its_lan_address_to_students(options, listen):
    options["server.address"] = listen
    base = links.server_share_base("http://127.0.0.1:8501/")
    assert base.students == "http://192.168.1.23:8501/"
    assert base.own == "http://127.0.0.1:8501/"  # the browser's own link is still offered
    assert "Give students the first link" in base.note and "192.168.1.23" in base.note


def test_a_server_on_this_computer_only_says_students_cannot_reach_it(options):
    options["server.address"] = "127.0.0.1"
    base = links.server_share_base("http://localhost:8501/")
    assert base.students is None and base.own == "http://localhost:8501/"
    assert "ADDRESS=0.0.0.0" in base.note


def test_a_server_on_one_interface_gives_that_address(options):
    options["server.address"] = "10.0.0.7"
    options["server.port"] = 9000
    assert links.server_share_base("http://127.0.0.1:9000/app/").students == "http://10.0.0.7:9000/app/"


def test_a_browser_that_already_uses_the_network_address_keeps_it(options):
    options["server.address"] = "0.0.0.0"
    base = links.server_share_base("http://192.168.1.23:8501/")
    assert base.students == base.own == "http://192.168.1.23:8501/"


def test_no_lan_address_found_means_no_student_link(monkeypatch):
    monkeypatch.setattr(st, "get_option", lambda name: {"server.address": "0.0.0.0", "server.port": 8501}[name])
    monkeypatch.setattr(links, "lan_address", lambda: None)
    base = links.server_share_base("http://127.0.0.1:8501/")
    assert base.students is None and "only this computer" in base.note


def test_the_lan_address_is_never_a_loopback_one(monkeypatch):
    """Without a network (every UDP connect fails, the host name is 127.0.1.1) there is no LAN address."""

    class NoRoute(socket.socket):
        def connect(self, address):
            raise OSError("no route")

    monkeypatch.setattr(socket, "socket", NoRoute)
    monkeypatch.setattr(socket, "gethostbyname", lambda name: "127.0.1.1")
    assert links.lan_address() is None
    monkeypatch.setattr(socket, "gethostbyname", lambda name: "192.168.0.5")
    assert links.lan_address() == "192.168.0.5"
