"""The census model: grouping by (database, channel) and the problems it can prove."""

from __future__ import annotations

from pgcluster_tui.core.census import Census, Session, expected_channels, near, take_census

GRANT = 'GRANT pg_read_all_stats TO "me";'


def session(pid: int, query: str | None, database: str = "app", user: str = "app") -> Session:
    """A client session whose last statement is `query` (None: hidden from us)."""
    return Session(pid, database, user, "realtime", "10.0.0.1", "idle", query)


def census(*sessions: Session, expected: list[tuple[str, str]] | None = None) -> Census:
    return take_census(sessions, user="me", grant=GRANT, expected=expected or [])


def codes(result: Census, database: str, channel: str | None) -> list[str]:
    [entry] = [c for c in result.channels if (c.database, c.channel) == (database, channel)]
    return [p.code for p in entry.problems]


def test_a_healthy_cluster_has_no_problem() -> None:
    result = census(
        session(1, 'LISTEN "my_cookie_1"'),
        session(2, "NOTIFY \"my_cookie_1\", 'a@10.0.0.1'"),
        session(3, 'LISTEN "my_cookie_1"'),
        session(4, "NOTIFY \"my_cookie_1\", 'b@10.0.0.2'"),
        session(5, "SELECT now()"),
    )
    assert result.visibility == "full"
    assert result.grant is None
    [entry] = result.channels
    assert (entry.database, entry.channel) == ("app", "my_cookie_1")
    assert [m.session.pid for m in entry.listeners] == [1, 3]
    assert [m.session.pid for m in entry.senders] == [2, 4]
    assert entry.nodes == ["a@10.0.0.1", "b@10.0.0.2"]
    assert result.problem_count() == 0
    assert result.sessions == 5


def test_listeners_without_senders_and_senders_without_listeners() -> None:
    result = census(session(1, 'LISTEN "lonely"'), session(2, "NOTIFY \"shouting\", 'a@h'"))
    assert codes(result, "app", "lonely") == ["no_senders"]
    assert codes(result, "app", "shouting") == ["no_listeners"]


def test_the_same_channel_in_two_databases_never_hears_itself() -> None:
    result = census(
        session(1, 'LISTEN "c1"', database="app"),
        session(2, "NOTIFY \"c1\", 'a@h'", database="app"),
        session(3, 'LISTEN "c1"', database="other"),
    )
    assert codes(result, "app", "c1") == ["other_database"]
    assert "no_senders" in codes(result, "other", "c1")
    [entry] = [c for c in result.channels if c.database == "other"]
    message = next(p.message for p in entry.problems if p.code == "other_database")
    assert "also used in database app" in message
    assert "per database" in message


def test_case_or_quoting_splits_a_channel_and_says_which_spelling_folded() -> None:
    result = census(session(1, 'LISTEN "MyCluster"'), session(2, "NOTIFY MyCluster, 'a@h'"))
    assert codes(result, "app", "MyCluster") == ["no_senders", "case_mismatch"]
    assert codes(result, "app", "mycluster") == ["no_listeners", "case_mismatch"]
    message = result.channels[0].problems[-1].message
    assert 'NOTIFY MyCluster is unquoted, so it lands on "mycluster"' in message


def test_a_near_miss_is_named_when_a_side_is_missing() -> None:
    result = census(session(1, 'LISTEN "my_cluster"'), session(2, "NOTIFY \"my_clutser\", 'a@h'"))
    assert "near_miss" in codes(result, "app", "my_cluster")
    assert '2 edits from "my_clutser"' in result.channels[0].problems[-1].message


def test_two_healthy_clusters_with_close_names_are_no_near_miss() -> None:
    result = census(
        session(1, 'LISTEN "cluster_1"'),
        session(2, "NOTIFY \"cluster_1\", 'a@h'"),
        session(3, 'LISTEN "cluster_2"'),
        session(4, "NOTIFY \"cluster_2\", 'b@h'"),
    )
    assert result.problem_count() == 0


def test_a_bound_parameter_is_listed_as_channel_not_visible() -> None:
    result = census(session(1, "SELECT pg_notify($1, $2)"))
    [entry] = result.channels
    assert entry.channel is None
    assert [m.session.pid for m in entry.senders] == [1]
    assert codes(result, "app", None) == ["channel_not_visible"]
    assert entry.to_json()["senders"][0]["payload"] is None


def test_hidden_sessions_make_absence_unproven_and_give_the_grant() -> None:
    result = census(
        session(1, 'LISTEN "c1"'),
        session(2, None, user="other"),
        session(3, None, user="third"),
        session(4, None, database="elsewhere", user="other"),
    )
    assert result.visibility == "partial"
    assert result.grant == GRANT
    assert [(h.database, h.sessions, h.roles) for h in result.hidden] == [
        ("app", 2, ("other", "third")),
        ("elsewhere", 1, ("other",)),
    ]
    assert codes(result, "app", "c1") == ["no_visible_senders"]
    assert "2 sessions there are hidden from us" in result.channels[0].problems[0].message


def test_the_channel_derived_from_the_cookie_that_no_one_uses() -> None:
    result = census(
        session(1, 'LISTEN "my_cookie_l"'),
        session(2, "NOTIFY \"my_cookie_l\", 'a@h'"),
        expected=[("my_cookie_1", "derived from the cookie")],
    )
    [problem] = result.problems
    assert problem.code == "expected_unused"
    assert '"my_cookie_1", has no listener and no sender' in problem.message
    assert 'close to it: "my_cookie_l" (database app)' in problem.message
    used = census(session(1, 'LISTEN "my_cookie_1"'), expected=[("my_cookie_1", "configured")])
    assert used.problems == ()


def test_an_identifier_over_63_bytes_is_cut_and_said() -> None:
    result = census(session(1, f"LISTEN {'x' * 70}"), session(2, f"NOTIFY {'x' * 64}, 'a@h'"))
    [entry] = result.channels
    assert entry.channel == "x" * 63
    assert [p.code for p in entry.problems] == ["truncated"]


def test_the_json_shape() -> None:
    document = census(session(1, 'LISTEN "c"'), session(2, None)).to_json()
    assert document["visibility"] == "partial"
    assert document["grant"] == GRANT
    [channel] = document["channels"]
    assert set(channel) == {"database", "channel", "listeners", "senders", "nodes", "problems"}
    assert set(channel["listeners"][0]) == {
        "pid",
        "user",
        "application",
        "address",
        "state",
        "statement",
    }
    assert channel["problems"] == [
        {"code": "no_visible_senders", "message": channel["problems"][0]["message"]}
    ]


def test_near() -> None:
    assert near("my_cookie_1", "my_cookie_2") == 1
    assert near("my_cluster", "my_clutser") == 2
    assert near("abc", "abd") is None  # too short to call a typo
    assert near("cluster", "clusterxyz") is None
    assert near("same", "same") is None


def test_expected_channels_from_the_cookie_and_the_configuration() -> None:
    assert expected_channels("my-cookie#1", None) == [("my_cookie_1", "derived from the cookie")]
    assert expected_channels("my-cookie#1", "my_cookie_1") == [
        ("my_cookie_1", "derived from the cookie")
    ]
    assert expected_channels("c", "Other") == [
        ("c", "derived from the cookie"),
        ("Other", "configured"),
    ]
    assert expected_channels(None, None) == []
