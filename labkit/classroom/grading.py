"""What nbgrader's autograder tests call: has the learner's own code built what the exercise asks?

Each exercise of the workbook has a locked test cell right after it (see
:mod:`labkit.classroom.course`). It runs in the submission's kernel, after the learner's cells,
so ``lab`` is the learner's: their ``student`` parameter, their resources. The test reads the
cloud through the step's own check (:mod:`labkit.checks.steps`), keeping only the expectations
that show this exercise was done, and fails with their hints when any of them did not pass.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..checks.report import CheckReport
from ..i18n import t
from ..checks.steps import decrypt_policy_expectations, run_checks

if TYPE_CHECKING:
    from ..lab import Lab


def require_passed(report: CheckReport, keys: tuple[str, ...]) -> None:
    """Raise AssertionError, naming what failed and its hint, unless *report*'s expectations
    *keys* all passed (an expectation that could not be read counts as failed)."""
    mine = [item for item in report.items if item.key in keys or item.key == "could_not_read"]
    failed = [item for item in mine if not item.ok]
    if not mine:
        # The check stopped before them (no topic, so no subscription to look at): what stopped
        # it is the learner's problem to fix. Or none applies here: nothing shows the work.
        failed = [item for item in report.items if not item.ok]
        if not failed:
            raise AssertionError(t("grading.nothing_to_check", step=report.step,
                                   keys=", ".join(keys)))
    if failed:
        raise AssertionError("\n".join(f"❌ {item.text}" + (f"\n   → {item.hint}" if item.hint
                                                             else "") for item in failed))


def assert_step(lab: Lab, step: str, keys: tuple[str, ...] | list[str], **facts: Any) -> None:
    """Raise AssertionError unless every expectation *keys* of step *step*'s check passes.

    *facts* are what the learner's kernel holds (``response=...``), as the notebook's check
    cell hands them over. Expectations the check does not record here (a local-only one on AWS)
    are left out; when none of *keys* is recorded, the test fails: nothing shows the work.
    """
    require_passed(run_checks(lab, step, **facts), tuple(keys))


def assert_decrypts(lab: Lab, blob: Any) -> None:
    """Raise AssertionError unless *blob* is a ciphertext of the lab's key that decrypts with
    the encryption context naming the learner's function (exercise 04's encrypt call)."""
    if isinstance(blob, str):
        blob = base64.b64decode(blob)
    if not isinstance(blob, bytes) or not blob:
        raise AssertionError("no ciphertext: the encrypt call's answer is missing")
    kms = lab.client("kms")
    try:
        answer = kms.decrypt(CiphertextBlob=blob,
                             EncryptionContext={"LambdaFunctionName": lab.names.function})
    except ClientError as exc:
        raise AssertionError(f"the ciphertext does not decrypt with the function's context: "
                             f"{exc}") from None
    key = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["Arn"]
    if answer.get("KeyId") != key or not answer.get("Plaintext"):
        raise AssertionError("the ciphertext was not made with the lab's key")


def assert_policy_document(lab: Lab, document: Any) -> None:
    """Raise AssertionError unless *document* allows ``kms:Decrypt`` on the lab's key only,
    and only when the encryption context names the learner's function (exercise 05.1)."""
    if not isinstance(document, (dict, str)):
        raise AssertionError("no policy document: policy_document is missing")
    key = lab.client("kms").describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["Arn"]
    report = CheckReport("05")
    decrypt_policy_expectations(report, document, key, lab.names.function)
    require_passed(report, ("05.decrypt_on_key_only", "05.decrypt_needs_context"))
