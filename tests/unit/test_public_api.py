"""The public surface is explicit: ``__all__`` is sorted, complete and importable."""

import conveyor
import conveyor.testing


def test_all_is_sorted_and_unique() -> None:
    assert list(conveyor.__all__) == sorted(set(conveyor.__all__))


def test_every_name_in_all_exists() -> None:
    for name in conveyor.__all__:
        assert hasattr(conveyor, name), name


def test_issue_api_names_are_exported() -> None:
    for name in ("Conveyor", "JobContext", "Retry", "Fail", "Job", "Page", "Attempt"):
        assert name in conveyor.__all__


def test_no_public_name_is_left_out() -> None:
    public = {
        name
        for name, value in vars(conveyor).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("conveyor")
    }
    assert public <= set(conveyor.__all__)


def test_testing_kit_exports() -> None:
    assert set(conveyor.testing.__all__) == {
        "ClaimBarrier",
        "FakeClock",
        "drain",
        "run_duties",
        "wait_for_state",
    }


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("conveyor").joinpath("py.typed").is_file()
