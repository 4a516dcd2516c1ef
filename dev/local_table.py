"""Creates the users table on a local DynamoDB endpoint, exactly as template.yaml declares it, and
on the local SQS/SES endpoint (moto) the mail queue with its dead-letter queue and the verified SES
sender.

    python dev/local_table.py --endpoint http://127.0.0.1:8000 --mail-endpoint http://127.0.0.1:8001 \
        --table accounts-local

The mail queue is `<table>-mail` (`dev/lib.sh` gives the functions its URL), its dead-letter
queue `<table>-mail-dlq`, with the template's redrive policy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

import boto3

import cfn


def client(endpoint: str, service: str = "dynamodb"):
    """A client for the local server (dummy credentials, the region of dev/local.env)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def scan(endpoint: str, table: str) -> Iterator[dict[str, Any]]:
    """Every item of a local table, as plain Python values (`{"pk": "USER#...", ...}`)."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    for page in client(endpoint).get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            yield {name: plain.deserialize(value) for name, value in item.items()}


def create(endpoint: str, table: str) -> None:
    dynamodb = client(endpoint)
    if table in dynamodb.list_tables()["TableNames"]:
        print(f"table {table} already exists at {endpoint}")
        return
    dynamodb.create_table(**cfn.create_table_input(table))
    dynamodb.get_waiter("table_exists").wait(TableName=table)
    ttl = cfn.table_properties().get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    print(f"created table {table} at {endpoint}")


def create_mail(endpoint: str, table: str, sender: str) -> None:
    """The mail queue, its dead-letter queue (the template's redrive policy) and the sender."""
    sqs = client(endpoint, "sqs")
    queue = cfn.load_template()["Resources"]["MailQueue"]["Properties"]
    dlq = sqs.create_queue(QueueName=f"{table}-mail-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue["RedrivePolicy"]["maxReceiveCount"]}
    url = sqs.create_queue(
        QueueName=f"{table}-mail",
        Attributes={
            "VisibilityTimeout": str(queue["VisibilityTimeout"]),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    ses = client(endpoint, "sesv2")
    ses.create_email_identity(EmailIdentity=sender)
    print(f"created queue {url} (dead letters: {dlq}) and SES sender {sender}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="DynamoDB")
    parser.add_argument("--mail-endpoint", help="SQS and SES (moto); --endpoint unless given")
    parser.add_argument("--table", required=True)
    parser.add_argument("--sender", default="no-reply@example.com", help="MAIL_FROM")
    args = parser.parse_args()
    create(args.endpoint, args.table)
    create_mail(args.mail_endpoint or args.endpoint, args.table, args.sender)
    return 0


if __name__ == "__main__":
    sys.exit(main())
