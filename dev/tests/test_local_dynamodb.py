"""The local DynamoDB servers behave as DynamoDB where the functions rely on it: Amazon DynamoDB
Local (the default) and moto (dev/moto_server.py, the fallback without Java), each run against
the same checks when `make test` has both (LOCAL_DYNAMODB_EMULATORS).

Each check states DynamoDB's own answer, from AWS's documentation, and holds every emulator to it.
Where the emulators answer differently from each other, the test says so and which one DynamoDB
matches:

- Error *messages* differ (DynamoDB Local: "Member must have length less than or equal to 100";
  moto, like DynamoDB: "1 validation error detected at 'transactItems' failed to satisfy
  constraint: ..."). The functions never read a message: they match error codes and
  cancellation reason codes by type (`shared/src/store`), which both emulators give as DynamoDB
  does. `test_the_store_never_reads_an_error_message` holds the code to that.
- A `TransactionConflict` (DynamoDB cancels a transaction that meets another one holding an
  item, TransactWriteItems, "Errors") comes from neither emulator: both run transactions one at a
  time. The store's handling of it is tested by injecting DynamoDB's answer
  (`Interleave::conflicting_transactions`, shared/tests/store.rs).
"""

from __future__ import annotations

import os
import pathlib
import re
import uuid

import botocore.exceptions
import pytest

import local_table

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _emulators() -> dict[str, str]:
    """name -> endpoint, from LOCAL_DYNAMODB_EMULATORS ("dynamodb-local=http://... moto=http://...")."""
    given = os.environ.get("LOCAL_DYNAMODB_EMULATORS", "")
    emulators = dict(pair.split("=", 1) for pair in given.split())
    if not emulators and os.environ.get("LOCAL_DYNAMODB_ENDPOINT"):
        emulators["local"] = os.environ["LOCAL_DYNAMODB_ENDPOINT"]
    assert emulators, "LOCAL_DYNAMODB_EMULATORS is set by `make test`"
    return emulators


EMULATORS = _emulators() if os.environ.get("LOCAL_DYNAMODB_ENDPOINT") else {"unset": ""}


@pytest.fixture(params=sorted(EMULATORS), ids=sorted(EMULATORS))
def table(request):
    endpoint = EMULATORS[request.param]
    assert endpoint, "LOCAL_DYNAMODB_ENDPOINT is set by `make test`"
    name = f"emulator-{uuid.uuid4().hex[:8]}"
    local_table.create(endpoint, name)
    client = local_table.client(endpoint)
    yield client, name
    client.delete_table(TableName=name)


def put(name: str, key: str, *, new: bool = True, old_on_failure: bool = False) -> dict:
    operation = {"TableName": name, "Item": {"pk": {"S": key}, "sk": {"S": "X"}, "v": {"N": "1"}}}
    if new:
        operation["ConditionExpression"] = "attribute_not_exists(pk)"
    if old_on_failure:
        operation["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": operation}


def refusal(call) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value


def test_both_emulators_are_checked_when_java_is_here():
    if os.environ.get("LOCAL_DYNAMODB") == "dynamodb-local":
        assert set(EMULATORS) == {"dynamodb-local", "moto"}, EMULATORS


def test_a_transaction_retried_with_its_client_request_token_gets_the_first_answer(table):
    """DynamoDB: a TransactWriteItems repeated with its ClientRequestToken within 10 minutes
    succeeds without running again; the same token on a different request is
    IdempotentParameterMismatchException (TransactWriteItems, ClientRequestToken)."""
    client, name = table
    token = str(uuid.uuid4())
    items = [put(name, "once")]
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)
    # A new request (new token) is evaluated again: the item exists now.
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))
    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=[put(name, "other")], ClientRequestToken=token)


def test_a_cancelled_transaction_gives_one_reason_per_item_in_order_with_the_old_item(table):
    """DynamoDB: TransactionCanceledException carries CancellationReasons, one per item in request
    order, `None` where the item passed; with ReturnValuesOnConditionCheckFailure ALL_OLD the
    failed item's reason holds the item (TransactWriteItems, CancellationReason). The store
    names each failure by its item's position (`Guarded`) and reads the old item from it."""
    client, name = table
    client.transact_write_items(TransactItems=[put(name, "taken")])
    error = refusal(lambda: client.transact_write_items(
        TransactItems=[put(name, "free", new=False), put(name, "taken", old_on_failure=True)]))  # fmt: skip
    assert error.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = error.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["pk"] == {"S": "taken"}
    # Nothing of a cancelled transaction is written.
    assert "Item" not in client.get_item(TableName=name, Key={"pk": {"S": "free"}, "sk": {"S": "X"}},
                                         ConsistentRead=True)  # fmt: skip


def test_a_failed_condition_check_item_also_returns_the_old_item(table):
    client, name = table
    client.transact_write_items(TransactItems=[put(name, "held")])
    check = {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "held"}, "sk": {"S": "X"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}  # fmt: skip
    error = refusal(lambda: client.transact_write_items(TransactItems=[check, put(name, "new", new=False)]))
    reasons = error.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["ConditionalCheckFailed", "None"]
    assert reasons[0]["Item"]["pk"] == {"S": "held"}


def test_a_single_conditional_write_that_fails_returns_the_old_item(table):
    """DynamoDB: PutItem/UpdateItem with ReturnValuesOnConditionCheckFailure ALL_OLD answer
    ConditionalCheckFailedException with the item (PutItem, ReturnValuesOnConditionCheckFailure)."""
    client, name = table
    client.put_item(**put(name, "here")["Put"])
    error = refusal(lambda: client.update_item(
        TableName=name, Key={"pk": {"S": "here"}, "sk": {"S": "X"}}, UpdateExpression="SET v = :new",
        ConditionExpression="v = :expected", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ExpressionAttributeValues={":new": {"N": "3"}, ":expected": {"N": "2"}}))  # fmt: skip
    assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error.response["Item"]["v"] == {"N": "1"}


@pytest.mark.parametrize(
    "case",
    ["two operations on one item", "101 items", "an item over 400 KB"],
)
def test_the_limits_the_store_stays_within_are_dynamodbs(table, case):
    """DynamoDB: a transaction may not touch one item twice, holds at most 100 items
    (TransactWriteItems), and an item is at most 400 KB (Service quotas): each a
    ValidationException, the same code from both emulators (their messages differ)."""
    client, name = table
    if case == "two operations on one item":
        call = lambda: client.transact_write_items(TransactItems=[put(name, "z", new=False)] * 2)  # noqa: E731
    elif case == "101 items":
        call = lambda: client.transact_write_items(  # noqa: E731
            TransactItems=[put(name, f"k{i}", new=False) for i in range(101)])
    else:
        call = lambda: client.put_item(TableName=name, Item={  # noqa: E731
            "pk": {"S": "big"}, "sk": {"S": "X"}, "data": {"S": "x" * 410_000}})
    assert refusal(call).response["Error"]["Code"] == "ValidationException"


def test_the_store_never_reads_an_error_message():
    """The emulators' messages differ from each other and from DynamoDB's; the store's
    decisions may rest only on codes and types."""
    for file in sorted((ROOT / "shared" / "src").rglob("*.rs")):
        text = file.read_text()
        found = re.findall(r"\.(?:message|meta\(\)\.message)\(\)[^;]*(?:contains|starts_with|==)", text)
        assert not found, f"{file.relative_to(ROOT)} decides on an error message: {found}"
