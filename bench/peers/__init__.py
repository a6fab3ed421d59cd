"""Peers: the other job systems measured in the same run, in their own venvs.

``venv`` builds ``bench/.peers/venv`` and ``bench/.peers/arq`` from the pinned
requirements files (run by the harness in conveyor's venv); every other module here runs
*inside* a peers' venv and imports only the standard library, ``bench.probe``,
``bench.pacing``, ``bench.clientcli``, ``bench.peers.env`` and the peer.
"""
