"""The load run's verdict can fail: its table check finds lost, duplicated, unexpected and
unclaimed accounts, and the answers its mix accepts besides 2xx are the contract's."""

from __future__ import annotations

import importlib.util
import re

import yaml

import cfn

ROOT = cfn.ROOT


def _module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _module("load_report", "dev/load/report.py")


def test_the_table_check_finds_every_kind_of_damage():
    created = {"a@x": "1", "b@x": "2", "c@x": "3", "d@x": "4"}
    users = {"a@x": ["1"], "b@x": ["2", "9"], "c@x": ["3"], "e@x": ["5"]}  # d lost, b twice, e unknown
    claims = {"a@x": "1", "b@x": "2", "e@x": "5"}  # c has no claim
    check = report.check_accounts(created, users, claims)
    assert check["lost"] == ["d@x"]
    assert check["duplicated"] == ["b@x"]
    assert check["unexpected"] == ["e@x"]
    assert check["unclaimed"] == ["c@x"]
    # A sign-up whose answer was lost (a 5xx after the write committed) may exist, once.
    lost_answer = report.check_accounts({}, {"u@x": ["7"]}, {"u@x": "7"}, ["u@x"])
    assert lost_answer["unexpected"] == [] and lost_answer["unclaimed"] == []
    assert report.check_accounts({}, {"u@x": ["7", "8"]}, {"u@x": "7"}, ["u@x"])["duplicated"] == ["u@x"]
    clean = report.check_accounts({"a@x": "1"}, {"a@x": ["1"]}, {"a@x": "1"})
    assert not any(clean[k] for k in ("lost", "duplicated", "unexpected", "unclaimed", "wrong_id"))


def test_the_mix_accepts_besides_2xx_only_answers_the_contract_gives_those_routes():
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    source = (ROOT / "dev" / "load" / "locustfile.py").read_text()
    # Which route each flow calls, from the mix itself.
    flows = {
        "duplicate sign-up": ("/register", "post"),
        "guess a password": ("/login", "post"),
        "profile after logout": ("/profile", "get"),
    }
    for flow in flows:
        assert f'"{flow}"' in source
    locust = _locustfile_expected(source)
    assert set(locust) == set(flows)
    for flow, answers in locust.items():
        path, method = flows[flow]
        responses = document["paths"][path][method]["responses"]
        for status, code in answers:
            response = responses[str(status)]
            while "$ref" in response:
                response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
            assert code in response["x-error-codes"], (flow, status, code)


def _locustfile_expected(source: str) -> dict[str, set[tuple[int, str]]]:
    block = source[source.index("EXPECTED = {"):source.index("}\n\n", source.index("EXPECTED = {"))]
    return {
        flow: {(int(s), c) for s, c in re.findall(r'\((\d{3}), "([a-z_]+)"\)', answers)}
        for flow, answers in re.findall(r'"([^"]+)": \{(.*?)\},?\n', block)
    }
