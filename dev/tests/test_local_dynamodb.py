"""The local DynamoDB (dev/moto_server.py) behaves as DynamoDB where the functions rely on it."""

from __future__ import annotations

import os
import uuid

import pytest

import local_table


@pytest.fixture()
def table():
    endpoint = os.environ.get("LOCAL_DYNAMODB_ENDPOINT")
    assert endpoint, "LOCAL_DYNAMODB_ENDPOINT is set by `make test`"
    name = f"idempotency-{uuid.uuid4().hex[:8]}"
    local_table.create(endpoint, name)
    client = local_table.client(endpoint)
    yield client, name
    client.delete_table(TableName=name)


def put_once(name: str, key: str) -> list[dict]:
    return [
        {
            "Put": {
                "TableName": name,
                "Item": {"pk": {"S": key}, "sk": {"S": "X"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]


def test_a_transaction_retried_with_its_client_request_token_gets_the_first_answer(table):
    client, name = table
    token = str(uuid.uuid4())
    items = put_once(name, "once")
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)
    # The SDK retrying after a lost answer: same token, same request: the same (successful) answer.
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)
    # A new request (new token) is evaluated again: the item exists now.
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))
    # The same token for a different request is refused, as DynamoDB refuses it.
    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=put_once(name, "other"), ClientRequestToken=token)
