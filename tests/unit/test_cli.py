"""`dunning policy check` and `dunning render`, driven through main(argv)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from dunning.domain.models import Jurisdiction
from dunning.domain.notices.render import templates_root
from dunning.domain.notices.samples import sample_account
from sandbox.cli import main

DEFAULT_POLICY = templates_root().parent / "policies" / "default.yaml"


def write_policy(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(DEFAULT_POLICY.read_text("utf-8"))
    mutate(raw)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    return path


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_the_bundled_policy_checks_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(DEFAULT_POLICY)]) == 0
    assert capsys.readouterr().out.strip() == "ok: policy 2026-12-05.1"


def test_unknown_strategy_and_bad_shares_are_reported_one_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def mutate(raw: dict) -> None:
        raw["segments"][0]["strategy"] = "gentle"
        raw["variants"][2]["share"] = "0.20"

    assert main(["policy", "check", str(write_policy(tmp_path, mutate))]) == 1
    assert lines(capsys.readouterr().out) == [
        "segment all: unknown strategy 'gentle'",
        "variants: shares add up to 1.10, not 1",
    ]


def test_a_step_without_template_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def mutate(raw: dict) -> None:
        del raw["strategies"]["standard"]["steps"][2]["template"]

    assert main(["policy", "check", str(write_policy(tmp_path, mutate))]) == 1
    out = lines(capsys.readouterr().out)
    assert len(out) == 1 and "step sms_3" in out[0] and "needs a template" in out[0]


def test_a_step_whose_template_does_not_exist_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def mutate(raw: dict) -> None:
        raw["strategies"]["vulnerable_care"]["steps"][1]["template"] = "final_demand"

    assert main(["policy", "check", str(write_policy(tmp_path, mutate))]) == 1
    out = lines(capsys.readouterr().out)
    assert out and all(
        line.startswith("strategy vulnerable_care: step care_email_10: template final_demand") for line in out
    )


def test_broken_yaml_and_missing_files_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [", "utf-8")
    assert main(["policy", "check", str(bad)]) == 1
    assert main(["policy", "check", str(tmp_path / "absent.yaml")]) == 1
    out = lines(capsys.readouterr().out)
    assert out[0].startswith("policy: not valid YAML") and out[1].startswith("policy: cannot read")


def test_render_sms_prints_the_text_and_its_segments(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "render",
        "--template",
        "overdue_reminder",
        "--locale",
        "en-US",
        "--channel",
        "sms",
        "--now",
        "2026-11-10T15:00:00Z",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Harbor Consumer Finance: reminder") and "Reply STOP to opt out." in out[0]
    assert out[1].startswith("[2 segments, GSM-7, ") and out[1].endswith(" units]")
    assert "lint clean" in out[-1]


def test_render_chinese_sms_counts_ucs2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--template", "pre_due_reminder", "--locale", "zh-CN", "--channel", "sms"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "拒收请回复R" in out[0] and ", UCS-2, " in out[1]
    # As sent in China: a short link on the lender's short host, so the reminder is one segment, not 3
    assert "hfjr.cn/p/Ab3dE6gH9k " in out[0] and out[1].startswith("[1 segment, UCS-2, ")


def test_render_email_writes_the_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "notice.html"
    argv = [
        "render",
        "--template",
        "first_notice",
        "--locale",
        "en-US",
        "--channel",
        "email",
        "--out",
        str(target),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: Your loan account ••••1234")
    # the bundled policy: the lender collects its own loans, and never calls itself a debt collector
    assert "debt collector" not in out
    assert f"HTML written to {target}" in out
    assert target.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_render_uses_an_account_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    account = sample_account(Jurisdiction.CN, "zh-CN").model_copy(
        update={"account_number": "6222000000009999"}
    )
    path = tmp_path / "account.json"
    path.write_text(account.model_dump_json(), "utf-8")
    argv = [
        "render",
        "--template",
        "overdue_reminder",
        "--locale",
        "zh-CN",
        "--channel",
        "sms",
        "--account",
        str(path),
        "--now",
        "2026-11-10T15:00:00Z",
    ]
    assert main(argv) == 0
    assert "尾号9999" in capsys.readouterr().out
    assert json.loads(path.read_text("utf-8"))["account_id"] == "SAMPLE-CN-0001"


def test_render_of_an_unknown_template_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--template", "final_demand", "--locale", "en-US", "--channel", "sms"]) == 1
    assert "no template final_demand" in capsys.readouterr().err


def test_render_help_says_the_link_secret_is_for_development(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    assert "development secret" in capsys.readouterr().out


# ---------------------------------------------------------------------------- check-text


def test_check_text_passes_a_polite_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-text", "如有疑问请联系我们", "--locale", "zh-CN"]) == 0
    assert capsys.readouterr().out.strip() == "ok"


def test_check_text_rejects_a_threat_with_its_reason_codes_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Pay today or you will be arrested, and we will report you to your employer."
    assert main(["check-text", text, "--locale", "en-US", "--json"]) == 1
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "ok": False,
        "locale": "en-US",
        "reasons": [
            {"code": "TONE", "rule": "arrest", "detail": "arrest"},
            {"code": "TONE", "rule": "employer", "detail": "employer"},
        ],
    }
    assert "arrested" not in out  # the rule is named, the text is not repeated


def test_check_text_prints_one_reason_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-text", "再不还款就联系你的紧急联系人，让你社死", "--locale", "zh-CN"]) == 1
    assert lines(capsys.readouterr().out) == ["TONE third_party", "TONE shaming"]


def test_check_text_as_a_notice_also_checks_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-text", "Please pay what you owe.", "--locale", "en-US", "--notice", "--json"]) == 1
    rules = [(r["code"], r["rule"]) for r in json.loads(capsys.readouterr().out)["reasons"]]
    assert rules == [
        ("CONTENT", "amount"),
        ("CONTENT", "days_overdue"),
        ("CONTENT", "deadline"),
        ("CONTENT", "pay_link"),
        ("CONTENT", "contact_phone"),
        ("CONTENT", "collector"),
        ("CONTENT", "opt_out"),
    ]


def test_check_text_as_a_notice_passes_a_rendered_notice_read_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (a Chinese reminder leaves the hotline to its page: the first notice names everything)
    assert main(["render", "--template", "first_notice", "--locale", "zh-CN", "--channel", "sms"]) == 0
    body = capsys.readouterr().out.splitlines()[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(body))
    assert main(["check-text", "-", "--locale", "zh-CN", "--notice"]) == 0
    assert capsys.readouterr().out.strip() == "ok"


def test_check_text_on_time_barred_debt_refuses_legal_words(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Your account may be referred to our legal department."
    assert main(["check-text", text, "--locale", "en-US"]) == 0
    assert main(["check-text", text, "--locale", "en-US", "--time-barred"]) == 1
    assert lines(capsys.readouterr().out)[-1] == "TONE legal_time_barred"


@pytest.mark.parametrize(
    "argv",
    [
        ["check-text", "hello"],  # no locale
        ["check-text", "hello", "--locale", "fr-FR"],
        ["check-text", "--locale", "en-US"],  # no text
    ],
)
def test_check_text_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_check_text_of_an_empty_text_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-text", "  ", "--locale", "en-US"]) == 2
    assert "empty" in capsys.readouterr().err
