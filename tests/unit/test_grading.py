"""The autograder tests pass only when the exercise's own expectations passed."""

import re

import pytest

from labkit import i18n
from labkit.checks.report import CheckReport
from labkit.classroom.grading import require_passed


def report(*items: tuple[str, bool]) -> CheckReport:
    made = CheckReport("02")
    for key, ok in items:
        made.expect(ok, f"text of {key}", f"hint of {key}", key)
    return made


def test_the_exercises_expectations_passing_is_a_pass_whatever_else_failed():
    require_passed(report(("02.topic_exists", True), ("02.message_received", False)),
                   ("02.topic_exists",))


def test_a_failed_expectation_fails_with_its_text_and_hint():
    with pytest.raises(AssertionError, match="text of 02.topic_tagged\n   → hint of"):
        require_passed(report(("02.topic_exists", True), ("02.topic_tagged", False)),
                       ("02.topic_exists", "02.topic_tagged"))


def test_a_check_that_stopped_before_them_fails_with_what_stopped_it():
    with pytest.raises(AssertionError, match="text of 02.topic_exists"):
        require_passed(report(("02.topic_exists", False)), ("02.queue_subscribed",))


def test_a_read_that_failed_fails():
    with pytest.raises(AssertionError, match="could_not_read"):
        require_passed(report(("could_not_read", False)), ("02.topic_exists",))


def test_nothing_recorded_is_not_a_pass():
    with pytest.raises(AssertionError, match=re.escape(i18n.t("grading.nothing_to_check", step="02",
                                                              keys="01.message_arrived"))):
        require_passed(report(("01.webhook_shape", True)), ("01.message_arrived",))
