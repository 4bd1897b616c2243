from labkit.checks import passed_steps as progress


def test_steps_done_on_the_same_cloud_are_not_lost(tmp_path):
    assert progress.start_on(tmp_path, "", "cloud-a") == []
    progress.mark_done(tmp_path, "", "cloud-a", "01")
    progress.mark_done(tmp_path, "", "cloud-a", "02")
    assert progress.start_on(tmp_path, "", "cloud-a") == []


def test_a_restarted_cloud_reports_the_lost_steps_once(tmp_path):
    progress.mark_done(tmp_path, "", "cloud-a", "02")
    progress.mark_done(tmp_path, "", "cloud-a", "01")
    assert progress.start_on(tmp_path, "", "cloud-b") == ["01", "02"]
    assert progress.start_on(tmp_path, "", "cloud-b") == []


def test_learners_are_tracked_apart(tmp_path):
    progress.mark_done(tmp_path, "kim", "cloud-a", "01")
    assert progress.start_on(tmp_path, "lee", "cloud-b") == []
    assert progress.start_on(tmp_path, "kim", "cloud-b") == ["01"]


def test_a_first_run_loses_nothing(tmp_path):
    assert progress.lost_steps({"cloud_id": None, "steps": []}, "x") == []
