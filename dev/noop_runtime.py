"""A Lambda function that does nothing, for dev/lambda_bench.py: what the emulator itself costs
per invocation (GET next, POST response over loopback HTTP), to read the other figures against."""

import http.client
import json
import os

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
connection = http.client.HTTPConnection(host, int(port))
while True:
    connection.request("GET", "/2018-06-01/runtime/invocation/next")
    response = connection.getresponse()
    request_id = response.getheader("lambda-runtime-aws-request-id")
    response.read()
    body = json.dumps({"statusCode": 200, "body": ""})
    connection.request(
        "POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=body,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    connection.getresponse().read()
