"""Tests of evalkit.report.analysis: the result tables of each section and deterministic CSV output."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.data.cohort import SectionData
from evalkit.report.analysis import RESULT_KEYS, analyse_section, merge_results, write_results
from evalkit.errors import DataError
from evalkit.data.instruments import load_instrument
from evalkit.stats.moderators import MODERATOR_COLUMNS
from evalkit.stats import PAIRED_COLUMNS


def make_section(kind, n=120, seed=0):
    """A scored section from a one-factor item model; children get factors, one site is tiny."""
    inst = load_instrument("eaq30" if kind == "children" else "facilitator_tip")
    rng = np.random.default_rng(seed)
    ids = [f"{kind[0].upper()}{i:04d}" for i in range(n)]
    theta = rng.normal(size=n)
    item_ids = inst.items
    lo, hi = inst.min, inst.max
    frames = []
    for tp, shift in (("pre", 0.0), ("post", 0.5)):
        latent = theta[:, None] + shift + rng.normal(0, 1, (n, len(item_ids)))
        answers = np.clip(np.round((lo + hi) / 2 + latent * (hi - lo) / 4), lo, hi)
        frame = pd.DataFrame(answers, columns=item_ids)
        frame.insert(0, "timepoint", tp)
        frame.insert(0, "id", ids)
        frames.append(frame)
    items = pd.concat(frames, ignore_index=True)
    items = items.drop(index=items.index[(items["timepoint"] == "post")][-(n // 10):])  # dropouts
    items.loc[items.index[::17], item_ids[0]] = np.nan  # some missing answers
    scores = items[["id", "timepoint"]].copy()
    factors = []
    if kind == "children":
        person = pd.DataFrame({"id": ids,
                               "delivery": np.where(np.arange(n) % 2, "group", "one-to-one"),
                               "site": np.where(np.arange(n) < 5, "Site Z",
                                                np.where(np.arange(n) % 3, "Site A", "Site B"))})
        scores = scores.merge(person, on="id", how="left")
        factors = ["delivery", "site"]
    for sub in inst.subscales:
        scores[sub.id] = items[list(sub.items)].mean(axis=1).to_numpy()
    if inst.total is not None:
        scores[inst.total.id] = items[item_ids].mean(axis=1).to_numpy()
    return SectionData(section=kind, instrument=inst, scores=scores, items=items,
                       measures=list(inst.measures), factors=factors)


@pytest.fixture(scope="module")
def children():
    return analyse_section(make_section("children"))


@pytest.fixture(scope="module")
def facilitators():
    return analyse_section(make_section("facilitators", n=40))


def test_children_tables(children):
    assert list(children) == list(RESULT_KEYS["children"])
    out = children["child_outcomes"]
    # issue 12: every row says its contrast (post-pre without a follow-up) and its Holm family
    assert list(out.columns) == [*PAIRED_COLUMNS[:2], "contrast", *PAIRED_COLUMNS[2:], "holm_family"]
    assert out["contrast"].eq("post-pre").all()
    assert out["measure"].tolist() == ["differentiating", "verbal_sharing", "not_hiding",
                                       "bodily_awareness", "attending_others", "analyses"]
    assert out["label"].iloc[0] == "Differentiating Emotions"
    assert (out["n"] == 108).all() and (out["mean_diff"] > 0).all()
    mods = children["moderators"]
    assert list(mods.columns) == MODERATOR_COLUMNS
    assert len(mods) == 6 * 2 * 3 and (mods["ss_type"] == "III").all()
    site = mods.loc[mods["factor"] == "site"]
    assert site["note"].str.contains("'Site Z' left out").all()
    assert set(children["ancova"]["source"]) == {"delivery", "site", "pre"}
    assert children["reliability"]["instrument"].eq("eaq30").all()
    assert len(children["reliability"]) == 12
    assert children["reliable_change"]["section"].eq("children").all()
    assert children["reliable_change"]["r_source"].eq("cohort baseline Cronbach's alpha").all()
    assert children["findings"]["section"].eq("children").all()
    assert children["findings"]["sentence"].str.contains("matched children").all()
    att = children["attrition"]
    assert att["kind"].tolist() == ["baseline score"] * 6 + ["factor"] * 2
    assert (att.loc[att["kind"] == "baseline score", "dropouts_n"] == 12).all()


def test_facilitator_tables(facilitators):
    assert list(facilitators) == list(RESULT_KEYS["facilitators"])
    out = facilitators["facilitator_outcomes"]
    assert out["measure"].tolist() == ["knowledge", "understanding", "confidence", "total"]
    items = facilitators["facilitator_items"]
    assert len(items) == 12 * 2 * 5
    assert items.loc[items["item"] == "c4", "reverse"].all()
    assert facilitators["facilitator_findings"]["sentence"].str.contains("1\u20135 scale").all()
    assert facilitators["facilitator_reliable_change"]["section"].eq("facilitators").all()


def test_merged_shared_tables(children, facilitators):
    merged = merge_results(children, facilitators)
    assert merged["reliability"]["instrument"].unique().tolist() == ["eaq30", "facilitator_tip"]
    assert merged["item_statistics"]["instrument"].unique().tolist() == ["eaq30",
                                                                       "facilitator_tip"]
    assert merged["findings"]["section"].eq("children").all()
    assert merged["facilitator_findings"]["section"].eq("facilitators").all()
    assert "child_outcomes" in merged and "facilitator_outcomes" in merged


def test_reliability_coefficient_priority():
    sec = make_section("facilitators", n=40)
    sec.instrument.reliability.update({"knowledge": 0.85, "total": 0.9})  # instrument file
    try:
        res = analyse_section(sec, reliability_coefficients={"total": 0.95})[
            "facilitator_reliable_change"]
    finally:
        sec.instrument.reliability.clear()
    r = res.set_index("measure")["r_used"]
    assert r["total"] == 0.95 and r["knowledge"] == 0.85  # config wins, then the instrument file
    assert res.set_index("measure").loc["confidence", "r_source"] == \
        "cohort baseline Cronbach's alpha"


def test_write_results_is_byte_identical(tmp_path, children, facilitators):
    first = write_results(merge_results(children, facilitators), tmp_path / "a")
    again = analyse_section(make_section("children"))  # recomputed from scratch
    second = write_results(merge_results(again, facilitators), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    text = (tmp_path / "a" / "child_outcomes.csv").read_bytes()
    assert b"\r\n" not in text
    header = text.split(b"\n")[0].decode()
    assert header == ",".join([*PAIRED_COLUMNS[:2], "contrast", *PAIRED_COLUMNS[2:], "holm_family"])


def test_moderators_csv_carries_the_family_holm_column(tmp_path, children):
    """results/moderators.csv keeps every column and gains p_holm_family: Holm across the interaction tests,
    as statsmodels.stats.multitest.multipletests(p, method="holm") gives (the reference)."""
    from statsmodels.stats.multitest import multipletests

    write_results({"moderators": children["moderators"]}, tmp_path)
    table = pd.read_csv(tmp_path / "moderators.csv")
    assert list(table.columns) == MODERATOR_COLUMNS and MODERATOR_COLUMNS[-1] == "p_holm_family"
    inter = table[(table["source"] == "interaction") & table["p"].notna()]
    assert len(inter) == 6 * 2  # every subscale by delivery and site (Site Z left out, two sites tested)
    assert inter["p_holm_family"].to_numpy() == pytest.approx(multipletests(inter["p"], method="holm")[1],
                                                             rel=1e-9)
    assert table.loc[table["source"] != "interaction", "p_holm_family"].isna().all()


def test_row_order_of_input_does_not_change_output(tmp_path):
    sec = make_section("children")
    shuffled = make_section("children")
    order = np.random.default_rng(1).permutation(len(sec.scores))
    shuffled.scores = sec.scores.iloc[order].reset_index(drop=True)
    shuffled.items = sec.items.iloc[order].reset_index(drop=True)
    for key in ("child_outcomes", "moderators", "ancova", "reliable_change", "attrition"):
        a = write_results({key: analyse_section(sec)[key]}, tmp_path / "x")[0].read_bytes()
        b = write_results({key: analyse_section(shuffled)[key]}, tmp_path / "y")[0].read_bytes()
        assert a == b, key


def test_float_format(tmp_path):
    path = write_results({"t": pd.DataFrame({"a": [np.pi, 1e-20, np.nan], "b": ["x", "y", "z"]})},
                         tmp_path)[0]
    assert path.read_text() == "a,b\n3.141592654,x\n1e-20,y\n,z\n"


def test_unknown_section_raises():
    sec = make_section("facilitators", n=10)
    sec.section = "carers"
    with pytest.raises(DataError, match="unknown section"):
        analyse_section(sec)


def test_degenerate_section_gives_notes_not_errors():
    sec = make_section("children", n=12)
    sec.scores = sec.scores.loc[sec.scores["id"].isin(sec.scores["id"].unique()[:2])]
    sec.items = sec.items.loc[sec.items["id"].isin(sec.scores["id"])]
    res = analyse_section(sec)
    assert (res["child_outcomes"]["primary_test"] == "none").all()
    assert res["moderators"]["F"].isna().all()
    assert res["findings"]["direction"].eq("not tested").all()


def test_analysis_never_imports_pingouin_or_statsmodels():
    # importing pingouin costs about a second per process (it pulls in matplotlib and
    # statsmodels); the report's speed target counts on analysis doing without it
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from test_analysis import make_section
        import evalkit.report.analysis
        res = evalkit.report.analysis.analyse_section(make_section("children", n=60))
        assert res["child_outcomes"]["bf10"].notna().any()
        print(sorted(m for m in ("pingouin", "statsmodels", "matplotlib", "seaborn")
                     if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
