"""R's ``MASS::anorexia``, exactly as it ships, through ``evalkit report``: wide, no ids, a pre-scored measure.

Reference: R 4.2.2, MASS 7.3-58.2 (``tests/data/anorexia/README.md`` says where the data come from)::

    > library(MASS)
    > t.test(anorexia$Postwt, anorexia$Prewt, paired=TRUE)

            Paired t-test

    data:  anorexia$Postwt and anorexia$Prewt
    t = 2.9376, df = 71, p-value = 0.004458
    alternative hypothesis: true mean difference is not equal to 0
    95 percent confidence interval:
     0.8878354 4.6399424
    sample estimates:
    mean difference
           2.763889

With more digits (``print(x$statistic, digits = 15)`` and so on): t = 2.93756971889067,
p = 0.00445771807867015, CI 0.887835400175987 to 4.639942377601792, mean difference
2.76388888888889; ``sd(anorexia$Postwt - anorexia$Prewt)`` = 7.98359771975397. R is not needed to run
this test.
"""
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli import main

ANOREXIA = Path(__file__).parent / "data" / "anorexia"
SHA256 = "ee34e0c8f84fd3c266203115e6756ba3d3145b5e03542fba7fd66c1c14f9eb29"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anorexia")
    for name in ("anorexia.csv", "cohort.yml"):
        shutil.copy(ANOREXIA / name, folder / name)
    assert main(["report", str(folder / "cohort.yml"), "--out", str(folder / "out"), "--no-notebooks"]) == 0
    return folder / "out" / "results"


def test_the_data_is_mass_anorexia_as_it_ships():
    assert hashlib.sha256((ANOREXIA / "anorexia.csv").read_bytes()).hexdigest() == SHA256
    data = pd.read_csv(ANOREXIA / "anorexia.csv")
    assert list(data.columns) == ["Treat", "Prewt", "Postwt"] and len(data) == 72


def test_paired_t_test_is_rs(results):
    row = pd.read_csv(results / "child_outcomes.csv").set_index("measure").loc["total"]
    assert row["n"] == 72 and row["df"] == 71
    assert row["t"] == pytest.approx(2.93756971889067, rel=1e-9)
    assert row["p"] == pytest.approx(0.00445771807867015, rel=1e-9)
    assert row["mean_diff"] == pytest.approx(2.76388888888889, rel=1e-9)
    assert row["ci_low"] == pytest.approx(0.887835400175987, rel=1e-9)
    assert row["ci_high"] == pytest.approx(4.639942377601792, rel=1e-9)
    assert row["sd_diff"] == pytest.approx(7.98359771975397, rel=1e-9)
    # as printed by R, to its digits (results CSVs hold 10 significant digits)
    assert (round(row["t"], 4), round(row["p"], 6), round(row["ci_low"], 7), round(row["ci_high"], 7),
            round(row["mean_diff"], 6)) == (2.9376, 0.004458, 0.8878354, 4.6399424, 2.763889)


def test_every_weight_is_kept_and_every_row_is_two_questionnaires(results):
    summary = pd.read_csv(results / "cleaning_summary.csv")
    total = summary[summary["file"] == "all files"].iloc[0]
    assert (total["rows_in"], total["rows_kept"], total["rows_excluded"]) == (144, 144, 0)
    log = pd.read_csv(results / "cleaning_log.csv")
    assert not (log["action"] == "set missing").any()  # one-decimal weights: any number in range is on the scale
    scores = pd.read_csv(results / "scores.csv", dtype={"id": str})
    assert sorted(scores["id"].unique(), key=int) == [str(r) for r in range(2, 74)]  # the file's row numbers


def test_one_item_measure_through_every_analysis(results):
    reliability = pd.read_csv(results / "reliability.csv")
    assert reliability["note"].eq("not estimable from one item (a pre-scored measure)").all()
    assert reliability["alpha"].isna().all()
    change = pd.read_csv(results / "reliable_change.csv").set_index("measure").loc["total"]
    assert change["note"] == "no reliability coefficient (give one, or provide items to estimate alpha)"
    moderators = pd.read_csv(results / "moderators.csv")
    assert set(moderators.loc[moderators["factor"] == "delivery", "groups"]) == {"CBT; Cont; FT"}


def test_a_given_reliability_is_used_for_reliable_change(tmp_path):
    import yaml

    for name in ("anorexia.csv", "cohort.yml"):
        shutil.copy(ANOREXIA / name, tmp_path / name)
    cfg = yaml.safe_load((tmp_path / "cohort.yml").read_text())
    cfg["children"]["reliability"] = {"total": 0.9}
    (tmp_path / "cohort.yml").write_text(yaml.safe_dump(cfg))
    assert main(["report", str(tmp_path / "cohort.yml"), "--out", str(tmp_path / "out"), "--no-notebooks"]) == 0
    results = tmp_path / "out" / "results"
    note = pd.read_csv(results / "reliability.csv")["note"]
    assert note.eq("not estimable from one item (a pre-scored measure); reliable change uses the given "
                   "reliability 0.9").all()
    change = pd.read_csv(results / "reliable_change.csv").set_index("measure").loc["total"]
    assert change["r_used"] == 0.9 and change["r_source"] == "given (instrument file or config)"
    # Jacobson & Truax: S_diff = sqrt(2) * SD_pre * sqrt(1 - r), SD_pre of the 72 pre weights
    sd_pre = pd.read_csv(tmp_path / "anorexia.csv")["Prewt"].std()
    assert change["sdiff"] == pytest.approx((2 * (sd_pre * (1 - 0.9) ** 0.5) ** 2) ** 0.5, rel=1e-9)
    assert change["n"] == 72 and change["improved"] + change["no_change"] + change["deteriorated"] == 72
