import json
from pathlib import Path

from labkit.events import mission_slack_test, sample_alarm

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "seed_mission_slack_test.json"


def test_mission_slack_test_is_the_source_labs_event():
    # The fixture was copied from the source lab's text; labkit builds the same event.
    assert mission_slack_test() == json.loads(FIXTURE.read_text())


def test_sample_alarm_is_a_copy():
    alarm = sample_alarm()
    alarm["AlarmName"] = "changed"
    assert sample_alarm()["AlarmName"] == "Example alarm name"
    inner = json.loads(mission_slack_test()["Records"][0]["Sns"]["Message"])
    assert inner == sample_alarm()
