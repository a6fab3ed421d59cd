"""The services later stores run on are reachable (CI starts them in .ci/run)."""


def test_postgres_is_reachable(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")


def test_redis_is_reachable(redis_url: str) -> None:
    assert redis_url.startswith("redis://")
