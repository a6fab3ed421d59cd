"""Peers: the other job systems measured in the same run, each in its own venv.

``venv`` builds ``bench/.peers/venv`` from ``bench/requirements-peers.txt`` (run by the
harness in conveyor's venv); every other module here runs *inside* that venv and
imports only the standard library, ``bench.probe``/``bench.pacing`` and the peer.
"""
