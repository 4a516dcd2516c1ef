"""docs/scaling.md's capacity and cost table is what dev/capacity.py computes from the records
the handler tests just wrote (so it follows the code), and its pricing rules are DynamoDB's."""

from __future__ import annotations

import pytest

import capacity
import cfn

RECORDS_PRESENT = capacity.RECORDS.is_dir() and any(capacity.RECORDS.glob("*.tsv"))


@pytest.mark.skipif(not RECORDS_PRESENT, reason="needs the handler tests' records: make test")
def test_the_capacity_table_is_what_the_records_give():
    requests, largest = capacity.read_records()
    table = capacity.rows(requests, largest)
    assert capacity.current(capacity.TARGET.read_text()) == capacity.render(table), (
        "docs/scaling.md's capacity table is stale: run `make docs` after `make test`"
    )


@pytest.mark.skipif(not RECORDS_PRESENT, reason="needs the handler tests' records: make test")
def test_every_function_has_a_row_priced_from_real_requests():
    requests, largest = capacity.read_records()
    rows = {row.route: row for row in capacity.rows(requests, largest)}
    template = cfn.load_template()
    expected = {f"{m} {p}" for m, p, _ in cfn.http_api_routes(template)}
    expected |= {"mailer", "authorizer"}
    assert set(rows) == expected
    # Sign-up writes the user, its claim and its session in one transaction: 3 items x 2 units.
    assert rows["POST /register"].writes == 6 and rows["POST /register"].argon2 == 1
    # Who-am-I reads the user and the session, strongly consistent, in one batch.
    assert (rows["GET /profile"].reads, rows["GET /profile"].writes, rows["GET /profile"].round_trips) == (2, 0, 1)


def request(**kwargs) -> capacity.Request:
    return capacity.Request(route="POST /x", status=200, **kwargs)


def test_reads_are_per_4_kb_halved_when_eventually_consistent_doubled_in_transactions():
    assert capacity.units(request(reads=[("GetItem", 100, False, False)]), {}) == (0.5, 0)
    assert capacity.units(request(reads=[("GetItem", 100, True, False)]), {}) == (1, 0)
    assert capacity.units(request(reads=[("GetItem", 5000, True, False)]), {}) == (2, 0)
    assert capacity.units(request(reads=[("GetItem", 0, True, False)]), {}) == (1, 0)  # not found: still 1
    assert capacity.units(request(reads=[("GetItem", 100, True, True)]), {}) == (2, 0)


def test_writes_are_per_kb_doubled_in_transactions_and_a_keyed_write_takes_its_kinds_size():
    assert capacity.units(request(writes=[("PutItem", "USER/USER", 1500, False)]), {}) == (0, 2)
    assert capacity.units(request(writes=[("PutItem", "USER/USER", 1500, True)]), {}) == (0, 4)
    largest = {"USER/USER": 2100}
    assert capacity.units(request(writes=[("UpdateItem", "USER/USER", None, False)]), largest) == (0, 3)
    assert capacity.units(request(writes=[("DeleteItem", "OTHER/X", None, False)]), largest) == (0, 1)


def test_a_route_that_hashes_is_priced_at_its_cpu_share():
    row = capacity.Row(route="POST /login", memory=1769, requests=1, reads=0, writes=0,
                       round_trips=0, argon2=1, messages=0, mails=0)  # fmt: skip
    small = capacity.Row(**{**row.__dict__, "memory": 256})
    assert row.duration_ms == 1 + capacity.ARGON2_MS
    assert small.duration_ms > 6 * row.duration_ms


def test_only_requests_that_ran_alone_are_priced_so_a_race_cannot_move_the_table(tmp_path):
    """Two runs of one commit give one table: a request that raced another of its test (whose
    path, and so its calls, depends on which won) is left out, whatever it did."""
    route = "GET /profile"
    alone = "capacity\t{r}\t1\t1\tBatchGetItem\tUSER/USER\tread\t300\t1\t0\n" \
            "response\t{r}\t200\t0\t1\t1\n"
    raced = "capacity\t{r}\t2\t2\tBatchGetItem\tUSER/USER\tread\t9000\t1\t0\n" \
            "capacity\t{r}\t2\t3\tGetItem\tUSER/USER\tread\t9000\t1\t0\n" \
            "response\t{r}\t200\t0\t2\t0\n"  # fmt: skip
    (tmp_path / "profile-1.tsv").write_text((alone + raced + raced).format(r=route))
    requests, largest = capacity.read_records(tmp_path)
    (row,) = [row for row in capacity.rows(requests, largest) if row.route == route]
    assert (row.requests, row.reads, row.round_trips) == (1, 1, 1)
    assert largest == {"USER/USER": 300}, "sizes of raced requests are not taken either"
