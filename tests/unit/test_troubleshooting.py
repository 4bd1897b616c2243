"""The troubleshooting page and the links to it from labkit's messages.

Messages name the page from the project's folder (``docs/troubleshooting.md#role-not-ready``):
the one form that is right wherever the text is read. A path relative to the notebook would
break in a papermill output written elsewhere and in a terminal, and JupyterLab, whose root is
notebooks/ (``tasks.py jupyter``), cannot open ../docs at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from labkit import i18n
from labkit.errors import explain

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = {"en": "troubleshooting.md", "ko": "troubleshooting.ko.md"}
ANCHOR = re.compile(r'^## <a id="([a-z0-9-]+)"></a>\S', re.M)
LINK = re.compile(r"docs/(troubleshooting(?:\.ko)?\.md)#([\w-]+)")
# What learners meet in class; each has a section in both languages.
SECTIONS = {"alarm-never-fires", "insufficient-data", "role-not-ready", "access-denied-decrypt",
            "invalid-ciphertext", "slack-429", "local-cloud-restarted", "port-taken",
            "kernel-not-labs", "webhook-url-invalid", "stack-rolled-back"}


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def anchors(lang: str) -> list[str]:
    return ANCHOR.findall((DOCS / PAGES[lang]).read_text(encoding="utf-8"))


def links(lang: str) -> dict[str, list[tuple[str, str]]]:
    """Message key -> the (page, anchor) pairs its text links to."""
    return {key: LINK.findall(text) for key, text in i18n.catalogue(lang).items()
            if LINK.search(text)}


def test_both_pages_have_the_same_anchors_in_the_same_order_each_once():
    assert anchors("en") == anchors("ko")
    assert len(set(anchors("en"))) == len(anchors("en"))
    assert set(anchors("en")) == SECTIONS


@pytest.mark.parametrize("lang", sorted(PAGES))
def test_the_table_of_contents_links_to_anchors_of_the_page(lang):
    text = (DOCS / PAGES[lang]).read_text(encoding="utf-8")
    listed = re.findall(r"\]\(#([\w-]+)\)", text)
    assert set(listed) <= set(anchors(lang)) and set(anchors(lang)) <= set(listed)


@pytest.mark.parametrize("lang", sorted(PAGES))
def test_every_link_in_the_messages_names_an_anchor_of_the_page_in_its_language(lang):
    found = links(lang)
    assert found, "no message links to the page"
    for key, pairs in found.items():
        for page, anchor in pairs:
            assert page == PAGES[lang], f"{key}: {page}"
            assert anchor in anchors("en") and anchor in anchors("ko"), f"{key}: #{anchor}"


def test_a_message_links_at_its_end_and_the_same_anchor_in_both_languages():
    en, ko = links("en"), links("ko")
    assert sorted(en) == sorted(ko)
    for key in en:
        assert [a for _, a in en[key]] == [a for _, a in ko[key]], key
        for lang in PAGES:
            text = i18n.t(key, lang)
            assert text.endswith(f"docs/{PAGES[lang]}#{LINK.findall(text)[-1][1]}"), key


def test_every_section_but_the_kernels_is_linked_from_some_message():
    linked = {anchor for pairs in links("en").values() for _, anchor in pairs}
    # A kernel without labkit cannot run labkit to say so: that section is for people.
    assert linked == SECTIONS - {"kernel-not-labs"}


def client_error(code: str, message: str, operation: str = "Decrypt") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_invalid_ciphertext_is_explained_with_a_link_in_the_current_language():
    what, todo = explain(client_error("InvalidCiphertextException", ""))
    assert "InvalidCiphertextException" in what
    assert todo.endswith("docs/troubleshooting.md#invalid-ciphertext")
    i18n.set_language("ko")
    _, todo = explain(client_error("InvalidCiphertextException", ""))
    assert todo.endswith("docs/troubleshooting.ko.md#invalid-ciphertext")


def test_a_denied_decrypt_links_to_its_section_and_other_denials_do_not():
    denied = ("User: arn:aws:sts::123456789012:assumed-role/mission-lambda-role/x is not "
              "authorized to perform: kms:Decrypt on resource: "
              "arn:aws:kms:ap-northeast-2:123456789012:key/1234 because no identity-based "
              "policy allows the kms:Decrypt action")
    _, todo = explain(client_error("AccessDeniedException", denied))
    assert todo.endswith("docs/troubleshooting.md#access-denied-decrypt")
    other = denied.replace("kms:Decrypt", "sns:Publish")
    _, todo = explain(client_error("AuthorizationError", other, "Publish"))
    assert "troubleshooting" not in todo


def test_a_failed_check_ends_its_hint_with_the_link_and_a_passed_one_reads_as_before():
    from labkit.checks.report import CheckReport, expect

    report = CheckReport("08")
    expect(report, True, "08.rate_limited")
    expect(report, False, "08.rate_limited")
    passed, failed = report.items
    assert passed.hint == "Run the 429 cell again and read the function's log lines."
    assert failed.hint == passed.hint + " More: docs/troubleshooting.md#slack-429"
    assert "→ " + failed.hint in report.as_text()
    i18n.set_language("ko")
    korean = CheckReport("08")
    expect(korean, False, "08.rate_limited")
    assert korean.items[0].hint.endswith(" 자세히: docs/troubleshooting.ko.md#slack-429")
