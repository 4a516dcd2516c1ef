"""Creates the users table on a local DynamoDB endpoint, exactly as template.yaml declares it.

    python dev/local_table.py --endpoint http://127.0.0.1:8000 --table accounts-local
"""

from __future__ import annotations

import argparse
import sys

import boto3

import cfn


def client(endpoint: str):
    """A DynamoDB client for the local server (dummy credentials, the region of dev/local.env)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    create(args.endpoint, args.table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
