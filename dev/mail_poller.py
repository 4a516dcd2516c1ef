"""Delivers the local mail queue to the mailer, as Lambda's SQS event source mapping does in AWS.

moto runs no event source mappings, so under `make dev` and `make test` this loop does it: it
receives up to 10 messages (no long poll: the local server answers one request at a time),
invokes the mailer through `cargo lambda watch` with the SQS event Lambda would send, and deletes
the messages the mailer did not report failed (partial batch responses). A failed message
becomes visible again after the queue's visibility timeout; after the redrive policy's receive
count it moves to the dead-letter queue, as in AWS.

    python dev/mail_poller.py --endpoint http://127.0.0.1:8000 \\
        --queue-url http://127.0.0.1:8000/123456789012/accounts-local-mail \\
        --invoke http://127.0.0.1:9000/2015-03-31/functions/mailer/invocations
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request

from local_table import client

IDLE_SECONDS = 0.25


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """The event Lambda hands an SQS-triggered function (aws_lambda_events' SqsEvent)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def invoke(url: str, event: dict) -> set[str] | None:
    """The ids the mailer reported failed, or None when the invocation itself failed."""
    request = urllib.request.Request(
        url, data=json.dumps(event).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"mail poller: the mailer invocation failed: {error}", file=sys.stderr)
        return None
    if not isinstance(answer, dict) or "batchItemFailures" not in answer:
        print(f"mail poller: the mailer answered {answer!r}", file=sys.stderr)
        return None
    return {f["itemIdentifier"] for f in answer["batchItemFailures"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--invoke", required=True)
    args = parser.parse_args()
    sqs = client(args.endpoint, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=args.queue_url, AttributeNames=["QueueArn"])
    queue_arn = arn["Attributes"]["QueueArn"]
    print(f"mail poller: {args.queue_url} -> {args.invoke}", flush=True)
    while True:
        try:
            received = sqs.receive_message(
                QueueUrl=args.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            ).get("Messages", [])
        except Exception as error:  # the local server restarting: try again
            print(f"mail poller: receive failed: {error}", file=sys.stderr)
            time.sleep(1)
            continue
        if not received:
            time.sleep(IDLE_SECONDS)
            continue
        failed = invoke(args.invoke, sqs_event(received, queue_arn))
        if failed is None:
            continue
        done = [m for m in received if m["MessageId"] not in failed]
        for message in done:
            sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=message["ReceiptHandle"])
        print(f"mail poller: delivered {len(received)}, {len(failed)} to retry", flush=True)


if __name__ == "__main__":
    sys.exit(main())
