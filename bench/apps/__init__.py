"""The benchmark's conveyor app, importable by ``conveyor worker --app``."""
