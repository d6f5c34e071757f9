"""Shared fixtures: small cohorts written to temporary folders."""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

EAQ_ITEMS = [f"q{i}" for i in range(1, 31)]


def write_cohort(folder, children=None, facilitators=None, *, extra=None, children_cfg=None):
    """Write CSVs and a cohort.yml into ``folder``; return the config path.

    ``children``/``facilitators`` are DataFrames (written as CSV) or None.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"name": "Test cohort"}
    if children is not None:
        children.to_csv(folder / "children.csv", index=False)
        cfg["children"] = {"file": "children.csv", "instrument": "eaq30",
                           "columns": {"id": "child_id", "timepoint": "timepoint"},
                           "timepoints": {"pre": ["pre", "baseline"], "post": ["post", "end"]}}
        for role in ("age", "delivery", "referral_reason", "site"):
            if role in children.columns:
                cfg["children"]["columns"][role] = role
        cfg["children"].update(children_cfg or {})
    if facilitators is not None:
        facilitators.to_csv(folder / "facilitators.csv", index=False)
        cfg["facilitators"] = {"file": "facilitators.csv", "instrument": "facilitator_tip",
                               "columns": {"id": "facilitator_id", "timepoint": "timepoint"},
                               "timepoints": {"pre": ["pre"], "post": ["post"]}}
    cfg.update(extra or {})
    path = folder / "cohort.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def sample_config():
    return SAMPLE / "cohort.yml"


def post_pre(frame):
    """The before-and-after rows of an outcomes table (``contrast == "post-pre"``; all rows without the column).

    Outcomes tables carry follow-up contrasts too when a cohort has a follow-up wave (issue 12).
    """
    return frame[frame["contrast"] == "post-pre"] if "contrast" in frame.columns else frame


def shared_sample_report(tmp_path_factory):
    """The sample cohort's report, built once per test run and shared by every module and pytest-xdist worker
    that asks for it (``browser.built_once`` under the name ``"sample-report"``). Read it; never change it:
    copy it first (``shutil.copytree``) to alter anything."""
    import browser  # the test helper next to this file
    from evalkit.cli import main

    def build(folder):
        assert main(["report", str(SAMPLE / "cohort.yml"), "--out", str(folder), "--force"]) == 0

    return browser.built_once(tmp_path_factory, "sample-report", build)
