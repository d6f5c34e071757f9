"""Cohort config and instrument files: defaults, unknown keys and contradictions give named errors."""
import pandas as pd
import pytest
import yaml

from conftest import EAQ_ITEMS, write_cohort
from evalkit.data.config import load_config
from evalkit.errors import ConfigError, DataError
from evalkit.data.instruments import load_instrument, parse_instrument, shipped
from evalkit.data.pipeline import prepare_cohort


def _frame():
    return pd.DataFrame([{"child_id": "a", "timepoint": tp, **{q: 2 for q in EAQ_ITEMS}} for tp in ("pre", "post")])


def test_defaults_are_applied(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("children: {file: kids.csv}\n")
    cfg = load_config(path)
    assert cfg.name == "c"
    assert cfg.analysis == {"alpha": 0.05, "age_bands": [5, 11, 17], "min_group_n": 10, "primary": [],
                            "comparison": None, "full_dose": 5}  # issue 12 defaults
    assert cfg.disclosure == {"min_cell": 5}
    kids = cfg.children
    assert kids.instrument == "eaq30" and kids.columns == {"id": "child_id", "timepoint": "timepoint"}
    assert kids.files == [tmp_path.resolve() / "kids.csv"] and cfg.facilitators is None


@pytest.mark.parametrize("text,key", [
    ("children: {file: a.csv}\ncolour: red\n", "colour"),
    ("children: {file: a.csv, instrumnet: eaq30}\n", "children.instrumnet"),
    ("children: {file: a.csv}\nanalysis: {alfa: 0.1}\n", "analysis.alfa"),
    ("children: {file: a.csv, columns: {child: x}}\n", "children.columns.child"),
])
def test_unknown_keys_are_named(tmp_path, text, key):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"column '{key}'" in str(err.value) and "c.yml" in str(err.value)


def test_list_of_files_and_sections_optional(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("facilitators: {file: [a.csv, sub/b.xlsx]}\n")
    cfg = load_config(path)
    assert [p.name for p in cfg.facilitators.files] == ["a.csv", "b.xlsx"] and cfg.children is None


@pytest.mark.parametrize("text,fragment", [
    ("name: x\n", "neither a 'children' nor a 'facilitators'"),
    ("children: {file: a.csv}\nanalysis: {age_bands: [11, 5]}\n", "age_bands"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("children: {file: a.csv\n", "not valid YAML"),
])
def test_bad_configs(tmp_path, text, fragment):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


def test_unknown_instrument_names_config_and_key(tmp_path):
    cfg = write_cohort(tmp_path, children=_frame(), children_cfg={"instrument": "eaq31"})
    with pytest.raises(ConfigError) as err:
        prepare_cohort(cfg)
    assert "unknown instrument 'eaq31'" in str(err.value) and "children.instrument" in str(err.value)
    assert "cohort.yml" in str(err.value) and "eaq30" in str(err.value)


def test_missing_id_column_names_file_and_column(tmp_path):
    cfg = write_cohort(tmp_path, children=_frame().rename(columns={"child_id": "pupil"}))
    with pytest.raises(DataError) as err:
        prepare_cohort(cfg)
    msg = str(err.value)
    assert "children.csv" in msg and "'child_id'" in msg and "children.columns.id" in msg and "pupil" in msg


def test_missing_data_file(tmp_path):
    cfg = write_cohort(tmp_path, children=_frame())
    (tmp_path / "children.csv").unlink()
    with pytest.raises(DataError, match="data file not found"):
        prepare_cohort(cfg)


def test_header_only_file(tmp_path):
    cfg = write_cohort(tmp_path, children=_frame().iloc[:0])
    with pytest.raises(DataError, match="header but no rows"):
        prepare_cohort(cfg)


def test_no_usable_rows(tmp_path):
    cfg = write_cohort(tmp_path, children=_frame().assign(timepoint="mid"))
    with pytest.raises(DataError, match="no usable rows in section 'children'"):
        prepare_cohort(cfg)


def test_item_renames_from_form_question_text(tmp_path):
    frame = _frame().rename(columns={"q1": "I often don't know why I am angry"})
    cfg = write_cohort(tmp_path, children=frame,
                       children_cfg={"items": {"I often don't know why I am angry": "q1"}})
    assert "q1" in prepare_cohort(cfg).children.items


def test_instrument_contradictions():
    base = {"id": "s", "response": {"min": 1, "max": 3}}
    with pytest.raises(ConfigError, match="item 'q1' is in two subscales"):
        parse_instrument({**base, "subscales": [{"id": "a", "items": ["q1"]}, {"id": "b", "items": ["q1", "q2"]}]})
    with pytest.raises(ConfigError, match="reverse item 'q9' is not one of subscale 'a'"):
        parse_instrument({**base, "subscales": [{"id": "a", "items": ["q1"], "reverse": ["q9"]}]})
    with pytest.raises(ConfigError, match="outside the response range"):
        parse_instrument({**base, "response": {"min": 1, "max": 3, "labels": {"always": 4}},
                          "subscales": [{"id": "a", "items": ["q1"]}]})


def test_shipped_instruments_are_consistent():
    assert shipped() == ["eaq30", "facilitator_tip", "total_score"]
    eaq = load_instrument("eaq30")
    assert len(eaq.items) == 30 and sorted(eaq.items, key=lambda q: int(q[1:])) == EAQ_ITEMS
    assert [len(s.items) for s in eaq.subscales] == [7, 3, 5, 5, 5, 5]  # Rieffe et al. (2008)
    assert eaq.labels == {"not true": 1, "sometimes true": 2, "often true": 3}
    with open(eaq.source, encoding="utf-8") as fh:
        text = fh.read()
    assert "PLACEHOLDER" in text and "check every `items` and\n# `reverse` list against the form" in text
    with open(load_instrument("facilitator_tip").source, encoding="utf-8") as fh:
        assert "THIS IS EVALKIT'S OWN EXAMPLE INSTRUMENT" in fh.read()
    total = load_instrument("total_score")  # a generic container: no warning, its range from the config
    assert total.measures == ["total"] and total.items == ["total"] and total.warning is None
    assert total.min is None and total.answer_step is None


def test_user_instrument_path_relative_to_config(tmp_path):
    inst = {"id": "mini", "response": {"min": 1, "max": 3}, "subscales": [{"id": "a", "items": ["q1", "q2"]}]}
    (tmp_path / "mini.yml").write_text(yaml.safe_dump(inst))
    cfg = write_cohort(tmp_path, children=_frame()[["child_id", "timepoint", "q1", "q2"]],
                       children_cfg={"instrument": "mini.yml"})
    assert prepare_cohort(cfg).children.measures == ["a"]


# --- mistakes found by the corpus in tests/data/bad: each a named ConfigError, never a traceback ------

@pytest.mark.parametrize("text,key,fragment", [
    ("children: {file: a.csv}\nchildren: {file: b.csv}\n", None, "the key 'children' is given twice"),
    ("children: {file: a.csv, timepoints: {pre: [pre, T1], post: [t1]}}\n", "children.timepoints.post",
     "listed under both pre and post"),
    ("children: {file: a.csv, timepoints: {pre: [], post: [post]}}\n", "children.timepoints.pre", "no 'pre' labels"),
    ("children: {file: a.csv, columns: {site: Site, delivery: ' site'}}\n", "children.columns.delivery",
     "both name the column"),
    ("children: {file: a.csv, reliability: {total: high}}\n", "children.reliability.total", "must be a number"),
    ("children: {file: a.csv, items: {Question 1: [q1]}}\n", "children.items.Question 1", "map column names"),
    ("children: {file: a.csv, instrument: [eaq30]}\n", "children.instrument", "shipped instrument id"),
    ("children: {file: a.csv}\nanalysis: [0.05]\n", "analysis", "must be a mapping"),
    ("children: {file: a.csv}\ndisclosure: 5\n", "disclosure", "must be a mapping"),
])
def test_config_mistakes_are_named(tmp_path, text, key, fragment):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as err:
        load_config(path)
    assert "c.yml" in str(err.value)
    if key:
        assert f"column '{key}'" in str(err.value)


@pytest.mark.parametrize("change,fragment", [
    ({"subscales": [{"id": "a", "items": "q1 q2"}]}, "subscale 'a' items must be a list"),
    ({"subscales": [{"id": "a", "items": ["q1"], "reverse": "q1"}]}, "subscale 'a' reverse must be a list"),
    ({"response": {"min": 1, "max": 3, "labels": ["never", "always"]}}, "labels must map each label"),
    ({"response": {"min": True, "max": 3}}, "response min must be a number below max"),
    ({"reliability": {"a": "good"}}, "reliability must map measure ids to numbers"),
    ({"total": "yes"}, "total must be true or a mapping"),
])
def test_instrument_mistakes_are_named(change, fragment):
    raw = {"id": "s", "response": {"min": 1, "max": 3}, "subscales": [{"id": "a", "items": ["q1", "q2"]}]}
    raw.update(change)
    with pytest.raises(ConfigError, match=fragment):
        parse_instrument(raw)


def test_instrument_file_that_is_not_utf8(tmp_path):
    (tmp_path / "mini.yml").write_bytes("id: mini\nname: caf\u00e9\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_instrument("mini.yml", base=tmp_path)


def test_items_rename_to_an_unknown_item_names_the_key(tmp_path):
    frame = _frame().rename(columns={"q1": "Question 1"})
    cfg = write_cohort(tmp_path, children=frame, children_cfg={"items": {"Question 1": "q01"}})
    with pytest.raises(ConfigError, match="not an item of instrument 'eaq30'") as err:
        prepare_cohort(cfg)
    assert "children.items.Question 1" in str(err.value)


def test_column_used_twice_or_two_columns_for_one_item(tmp_path):
    twice = _frame().assign(Q1="3")
    with pytest.raises(DataError, match="more than once"):
        prepare_cohort(write_cohort(tmp_path / "a", children=twice))
    both = _frame().assign(**{"Question 1": "3"})
    with pytest.raises(DataError, match="would all become item 'q1'"):
        prepare_cohort(write_cohort(tmp_path / "b", children=both, children_cfg={"items": {"Question 1": "q1"}}))


def test_every_row_excluded_says_why(tmp_path):
    cfg = write_cohort(tmp_path, children=_frame().assign(timepoint=["T1", "T2"]))
    with pytest.raises(DataError) as err:
        prepare_cohort(cfg)
    msg = str(err.value)
    assert "all 2 rows were excluded (2 unknown timepoint)" in msg and "'T1', 'T2'" in msg
    assert "children.timepoints" in msg


# ----------------------------------------------------------------------------- hardening (issue 9)

@pytest.mark.parametrize("block,key,words", [
    ("disclosure: {min_cell: true}", "disclosure.min_cell", "min_cell must be a whole number of at least 1, not "
                                                             "true/false"),
    ("disclosure: {min_cell: yes}", "disclosure.min_cell", "not true/false"),
    ("disclosure: {min_cell: 2.5}", "disclosure.min_cell", "not 2.5"),
    ("disclosure: {min_cell: 0}", "disclosure.min_cell", "at least 1, not 0"),
    ("disclosure: {min_cell: .nan}", "disclosure.min_cell", "not a finite number"),
    ("disclosure: {min_cell: '5'}", "disclosure.min_cell", "not '5'"),
    ("analysis: {min_group_n: true}", "analysis.min_group_n", "at least 2, not true/false"),
    ("analysis: {min_group_n: 1}", "analysis.min_group_n", "at least 2, not 1"),
    ("analysis: {age_bands: [5, .nan, 17]}", "analysis.age_bands", "(NaN or infinity is not an age)"),
    ("analysis: {age_bands: [5, .inf]}", "analysis.age_bands", "(NaN or infinity is not an age)"),
    ("analysis: {age_bands: [5, true, 17]}", "analysis.age_bands", "(true/false is not an age)"),
    ("analysis: {age_bands: [5, eleven, 17]}", "analysis.age_bands", "('eleven' is not an age)"),
    ("analysis: {age_bands: [5, 17, 11]}", "analysis.age_bands", "must be increasing"),
    ("analysis: {age_bands: 5}", "analysis.age_bands", "at least two ages"),
    ("analysis: {alpha: true}", "analysis.alpha", "alpha must be a number between 0 and 1"),
    ("analysis: {alpha: .nan}", "analysis.alpha", "between 0 and 1"),
    ("analysis: {alpha: 1}", "analysis.alpha", "between 0 and 1"),
])
def test_settings_refuse_booleans_nan_and_wrong_numbers(tmp_path, block, key, words):
    # YAML reads true/yes as a boolean, which Python counts as 1: min_cell: true switched suppression off
    path = tmp_path / "c.yml"
    path.write_text(f"children: {{file: a.csv}}\n{block}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"column '{key}'" in str(err.value) and words in str(err.value) and "c.yml" in str(err.value)


def test_whole_number_settings_written_with_a_point_are_read_as_ints(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("children: {file: a.csv}\ndisclosure: {min_cell: 10.0}\nanalysis: {min_group_n: 8.0}\n")
    cfg = load_config(path)
    assert cfg.disclosure["min_cell"] == 10 and type(cfg.disclosure["min_cell"]) is int
    assert cfg.analysis["min_group_n"] == 8 and type(cfg.analysis["min_group_n"]) is int


def test_a_config_that_is_a_named_pipe_is_refused_unopened(tmp_path):
    import os

    fifo = tmp_path / "cohort.yml"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    with pytest.raises(ConfigError, match="this is not a regular file"):
        load_config(fifo)
    with pytest.raises(ConfigError, match="cohort config not found"):
        load_config(tmp_path / "missing.yml")


@pytest.mark.parametrize("key,value,words", [
    ("response", {"min": float("nan"), "max": 3}, "response min must be a number below max"),
    ("response", {"min": 1, "max": float("inf")}, "response min must be a number below max"),
    ("min_answered", True, "min_answered must be a share"),
    ("min_answered", float("nan"), "min_answered must be a share"),
    ("reliability", {"a": float("nan")}, "numbers above 0 and at most 1"),
    ("reliability", {"a": 1.5}, "numbers above 0 and at most 1"),
])
def test_instrument_numbers_must_be_finite_and_not_booleans(key, value, words):
    raw = {"id": "s", "response": {"min": 1, "max": 3}, "subscales": [{"id": "a", "items": ["q1", "q2"]}]}
    raw[key] = value
    with pytest.raises(ConfigError, match=words):
        parse_instrument(raw)


# ----------------------------------------------------------------------------- issue 10: about, primary, higher_is, item text

def test_about_and_primary_are_read_exactly_as_spelled(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("children: {file: kids.csv}\n"
                    "about: {programme: Healing Together, description: 'Year 5 and 6 pupils, Kent', "
                    "period: September 2025 to July 2026}\n"
                    "analysis: {primary: [differentiating, verbal_sharing, not_hiding]}\n")
    cfg = load_config(path)
    assert cfg.about == {"programme": "Healing Together", "description": "Year 5 and 6 pupils, Kent",
                         "period": "September 2025 to July 2026"}
    assert cfg.analysis["primary"] == ["differentiating", "verbal_sharing", "not_hiding"]


def test_about_defaults_to_the_programme_description(tmp_path):
    from evalkit.data.config import DEFAULT_PROGRAMME

    path = tmp_path / "c.yml"
    path.write_text("children: {file: kids.csv}\n")
    about = load_config(path).about
    assert about == {"programme": DEFAULT_PROGRAMME, "description": "", "period": ""}
    assert DEFAULT_PROGRAMME.startswith("Healing Together is a trauma-informed programme")


@pytest.mark.parametrize("text,column,words", [
    ("about: {funder: x}\n", "about.funder", "unknown key"),
    ("about: [a, b]\n", "about", "must be a mapping"),
    ("about: {period: [2025, 2026]}\n", "about.period", "must be text"),
    ("analysis: {primary: [differentiating, feelings]}\n", "analysis.primary", "'feelings'"),
    ("analysis: {primary: {a: 1}}\n", "analysis.primary", "list of measure ids"),
    ("analysis: {primary: [not_hiding, not_hiding]}\n", "analysis.primary", "twice"),
])
def test_about_and_primary_errors_name_the_key(tmp_path, text, column, words):
    path = tmp_path / "c.yml"
    path.write_text("children: {file: kids.csv}\n" + text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"column '{column}'" in str(err.value) and words in str(err.value)


def test_primary_may_name_a_facilitator_measure(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("children: {file: kids.csv}\nfacilitators: {file: f.csv}\n"
                    "analysis: {primary: [confidence]}\n")
    assert load_config(path).analysis["primary"] == ["confidence"]


def test_shipped_instruments_say_what_higher_means_and_give_item_text():
    eaq, tip = load_instrument("eaq30"), load_instrument("facilitator_tip")
    assert {eaq.higher_is(m) for m in eaq.measures} == {"better"}
    assert {tip.higher_is(m) for m in tip.measures} == {"better"}
    assert eaq.item_texts == {}  # the EAQ-30's wording is the authors' and not published openly
    assert len(tip.item_texts) == 12 and set(tip.item_texts) == set(tip.items)
    assert tip.item_texts["c4"] == "I feel out of my depth talking with children about abuse."


def test_shipped_instruments_carry_their_warning():
    eaq, tip = load_instrument("eaq30"), load_instrument("facilitator_tip")
    assert "placeholder scoring key" in eaq.warning and "evalkit/data/instruments/eaq30.yml" in eaq.warning
    assert "example instrument" in tip.warning and "instrument:" in tip.warning


def _spec(**extra):
    spec = {"id": "s", "name": "S", "response": {"min": 1, "max": 5},
            "subscales": [{"id": "a", "label": "A", "items": ["q1", {"id": "q2", "text": "How  are\nyou?"}]},
                          {"id": "b", "label": "B", "items": ["q3", "q4"], "higher_is": "worse"}]}
    spec.update(extra)
    return spec


def test_item_text_and_higher_is_per_subscale_or_instrument():
    inst = parse_instrument(_spec(higher_is="better", items=[{"id": "q3", "text": "Worried?"}, "q4"]))
    assert inst.items == ["q1", "q2", "q3", "q4"]
    assert inst.item_texts == {"q2": "How are you?", "q3": "Worried?"}
    assert inst.higher_is("a") == "better" and inst.higher_is("b") == "worse"
    assert parse_instrument(_spec()).higher_is("a") is None
    assert parse_instrument(_spec()).warning is None


@pytest.mark.parametrize("extra,column,words", [
    ({"higher_is": "up"}, "higher_is", "'better' or 'worse'"),
    ({"items": [{"id": "q9", "text": "Who?"}]}, "items", "in no subscale"),
    ({"items": [{"id": "q1", "txt": "Who?"}]}, "items.txt", "unknown key"),
    ({"items": [{"text": "Who?"}]}, "items", "no id"),
    ({"items": "q1"}, "items", "must be a list"),
    ({"colour": "red"}, "colour", "unknown key"),
])
def test_instrument_item_and_direction_errors(extra, column, words):
    with pytest.raises(ConfigError) as err:
        parse_instrument(_spec(**extra))
    assert f"column '{column}'" in str(err.value) and words in str(err.value)


# --- issue 11: layouts, a file per timepoint, the section's response range ------------------------------

@pytest.mark.parametrize("text,key,fragment", [
    ("children: {file: a.csv, layout: tall}\n", "children.layout", "must be long or wide, not 'tall'"),
    ("children: {file: a.csv, wide_columns: '{item}_{timepoint}'}\n", "children.wide_columns",
     "only read with 'layout: wide'"),
    ("children: {file: a.csv, layout: wide, wide_columns: '{item}_pre'}\n", "children.wide_columns",
     r"must hold \{item\} and \{timepoint\} once each"),
    ("children: {file: a.csv, layout: wide, wide_columns: '{item}_{timepoint}_{item}'}\n", "children.wide_columns",
     "once each"),
    ("children: {file: a.csv, layout: wide, wide_columns: '{item}_{timepoint'}\n", "children.wide_columns",
     "once each"),
    ("children: {file: {pre: a.csv, middle: b.csv}}\n", "children.file.middle",
     "names the timepoint 'middle', which is neither pre, post nor a label"),
    ("children: {file: {pre: a.csv, post: []}}\n", "children.file.post", "names no file"),
    ("children: {file: {pre: a.csv, post: b.csv}, layout: wide}\n", "children.layout",
     "gives a file per timepoint, which is the long layout"),
    ("children: {file: a.csv, response: {min: 0, max: 10, steps: 1}}\n", "children.response.steps",
     "unknown key 'steps'"),
    ("children: {file: a.csv, response: {min: 10, max: 0}}\n", "children.response", "min must be below max"),
    ("children: {file: a.csv, response: {min: true, max: 10}}\n", "children.response.min", "finite number"),
    ("children: {file: a.csv, response: {step: 0}}\n", "children.response.step", "positive number or 'any'"),
    ("children: {file: a.csv, response: 10}\n", "children.response", "must map min, max"),
    ("children: {file: a.csv, timepoints: {pre: [1], post: ['01']}}\n", "children.timepoints.post",
     "numbers compare as numbers"),
])
def test_layout_and_response_mistakes_are_named(tmp_path, text, key, fragment):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as err:
        load_config(path)
    assert "c.yml" in str(err.value) and f"column '{key}'" in str(err.value)


def test_layout_files_per_timepoint_and_response_are_read(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("children:\n  file: {pre: baseline.xlsx, baseline2: [b.csv], post: [end_a.csv, end_b.csv]}\n"
                    "  timepoints: {pre: [pre, baseline2], post: [post]}\n"
                    "  response: {min: 0, max: 10, step: 0.5}\n"
                    "facilitators: {file: f.csv, layout: wide, wide_columns: '{timepoint}{item}'}\n")
    cfg = load_config(path)
    kids = cfg.children
    assert [p.name for p in kids.files] == ["baseline.xlsx", "b.csv", "end_a.csv", "end_b.csv"]
    assert kids.file_timepoints == ["pre", "pre", "post", "post"] and kids.layout == "long"
    assert kids.timepoint_of(tmp_path.resolve() / "end_b.csv") == "post"
    assert kids.response == {"min": 0, "max": 10, "step": 0.5}
    assert [p.name for p in cfg.input_files()] == ["baseline.xlsx", "b.csv", "end_a.csv", "end_b.csv", "f.csv"]
    fac = cfg.facilitators
    assert (fac.layout, fac.wide_columns, fac.file_timepoints, fac.response) == ("wide", "{timepoint}{item}", [], None)
    assert (kids.wide_columns, load_config(tmp_path / "c.yml").children.columns["id"]) == ("{item}_{timepoint}",
                                                                                            "child_id")
