"""Agreement per criterion from blind answers (issue 19, items 3-5): the libraries against their
published worked examples, our figures and intervals against the libraries' own results, two
blind reviewers and the machine on 60 calls with known disagreements, graduation, drift, and the
``callqa agreement`` command."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import krippendorff
import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from callqa.records import StoredFlag
from callqa.services import agreement as ag

# --------------------------------------------------------------------------- published examples

#: Fleiss (1971), 30 patients, 6 psychiatrists, 5 diagnoses (as statsmodels' tests carry it): kappa .430
FLEISS_1971 = [[4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
               [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
               [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
               [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
               [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
               [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
               [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
               [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5]]

#: Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units
#: (None: not coded); nominal alpha .743, interval .849
KRIPPENDORFF_2011 = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
                     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
                     [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
                     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]

#: Gwet (2014) / irrCAC's documentation: 3 abstractors' table (rows rater A, columns rater B): AC1 .84933
ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]


def expand(table) -> np.ndarray:
    """A two-rater table as calls × raters answer indexes."""
    return np.array([(i, j) for i, row in enumerate(table) for j, k in enumerate(row) for _ in range(k)])


def test_the_libraries_give_their_published_results():
    assert fleiss_kappa(pd.crosstab(np.repeat(np.arange(30), 6), np.ravel(FLEISS_1971)).to_numpy()) \
        == pytest.approx(0.430, abs=5e-4)
    data = np.array([[np.nan if v is None else v for v in row] for row in KRIPPENDORFF_2011])
    assert krippendorff.alpha(reliability_data=data, level_of_measurement="nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff.alpha(reliability_data=data, level_of_measurement="interval") == pytest.approx(0.849, abs=5e-4)
    frame = pd.DataFrame(data.T, columns=list("ABCD"))
    assert CAC(frame).gwet()["est"]["coefficient_value"] == pytest.approx(0.77544, abs=1e-5)  # irrCAC's docs
    assert CAC(frame).fleiss()["est"]["coefficient_value"] == pytest.approx(0.76117, abs=1e-5)
    assert cohens_kappa(np.array([[20, 5], [10, 15]]), return_results=False) == pytest.approx(0.4)  # textbook


def test_our_figures_are_the_libraries_on_published_examples():
    fleiss = ag.library_figures(np.array(FLEISS_1971) - 1, 5)
    assert fleiss["fleiss"] == pytest.approx(0.430, abs=5e-4)
    abstractors = ag.library_figures(expand(ABSTRACTORS), 3)
    assert abstractors["ac1"] == pytest.approx(0.84933, abs=1e-5)
    assert abstractors["agreement"] == pytest.approx(0.89)
    assert ag.library_figures(expand([[20, 5], [10, 15]]), 2)["kappa"] == pytest.approx(0.4)
    # Krippendorff's example on its complete units only, against the library on the same units
    complete = np.array([[v for v in col] for col in zip(*KRIPPENDORFF_2011) if None not in col]) - 1
    assert ag.library_figures(complete, 5)["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=complete.T.astype(float), level_of_measurement="nominal",
                           value_domain=list(range(5))))


@pytest.mark.parametrize("raters,q", [(2, 2), (2, 3), (3, 2), (3, 3), (4, 3), (2, 1)])
def test_every_resample_is_what_the_libraries_give_on_it(raters, q):
    rng = np.random.default_rng(raters * 10 + q)
    truth = rng.integers(0, q, 40)
    matrix = np.stack([np.where(rng.random(40) < 0.8, truth, rng.integers(0, q, 40)) for _ in range(raters)], 1)
    idx = ag.resample_indices(40, f"test{raters}{q}", 40)
    boot = ag._resampled(matrix, q, idx)
    for b in range(len(idx)):
        for name, value in ag.library_figures(matrix[idx[b]], q).items():
            if value is None:
                assert np.isnan(boot[name][b]), name
            else:
                assert boot[name][b] == pytest.approx(value, abs=1e-9), name


# --------------------------------------------------------------------------- comparisons


def answer(call_id, criterion, reviewer, value, rubric_hash="r1", when=datetime(2026, 11, 5, tzinfo=UTC)):
    return SimpleNamespace(call_id=call_id, criterion=criterion, reviewer=reviewer, answer=value,
                           rubric_hash=rubric_hash, created_at=when)


def machine(call_id, criterion, value, rubric_hash="r1"):
    return SimpleNamespace(call_id=call_id, criterion=criterion, answer=value, rubric_hash=rubric_hash)


def test_na_is_a_third_answer_and_each_comparison_uses_the_calls_all_its_raters_answered():
    answers = [answer(c, "hold", "ana", "na" if c < 3 else "yes") for c in range(10)]
    answers += [answer(c, "hold", "ben", "no" if c < 3 else "yes") for c in range(6)]  # ben: 6 calls only
    found = {c.raters: c for c in ag.comparisons(answers, [machine(c, "hold", "yes") for c in range(10)],
                                                 resamples=50)}
    assert set(found) == {("machine", "ana"), ("machine", "ben"), ("ana", "ben"), ("machine", "ana", "ben")}
    pair = found[("ana", "ben")]
    assert pair.n == 6 and pair.categories == ("yes", "no", "na")
    assert pair.disagreements == (0, 1, 2)  # ana's N-A against ben's no counts against them
    assert pair.confusion == ((3, 0, 0), (0, 0, 0), (0, 3, 0))
    assert pair.agreement.value == pytest.approx(0.5)
    assert found[("machine", "ana")].n == 10 and found[("machine", "ana", "ben")].n == 6
    assert pair.small  # 6 calls < 30


# --------------------------------------------------------------------------- graduation


def test_graduation_needs_the_lower_bound_against_every_reviewer_with_enough_calls():
    def cmp(reviewer, n, low):
        return ag.Comparison("c", ("machine", reviewer), n, ("yes", "no"), {"yes": n, "no": n},
                             ag.Stat(0.9), ag.Stat(0.9, low, 0.99))
    rule = ag.GraduationRule()
    auto = ag.propose([cmp("ana", 60, 0.85), cmp("ben", 55, 0.82)], {}, rule)[0]
    assert (auto.current, auto.proposed, auto.change) == ("human", "automatic", True)
    weak = ag.propose([cmp("ana", 60, 0.85), cmp("ben", 55, 0.70)], {"c": "automatic"}, rule)[0]
    assert weak.proposed == "assisted" and weak.evidence.raters == ("machine", "ben") and weak.change
    few = ag.propose([cmp("ana", 20, 0.95)], {"c": "assisted"}, rule)[0]
    assert few.proposed is None and not few.change and "20 blind-reviewed calls" in few.reason
    low = ag.propose([cmp("ana", 40, 0.3)], {}, rule)[0]
    assert (low.proposed, low.change) == ("human", False)
    assert ag.propose([], {}, rule, criteria=["z"])[0].current == "human"  # no entry: human


def test_toml_snippet_reads_back_as_the_states():
    import tomllib

    snippet = ag.toml_snippet({"greeting.opening": "automatic", "empathy.apology": "assisted"})
    assert tomllib.loads(snippet) == {"criteria": {"greeting.opening": "automatic", "empathy.apology": "assisted"}}


# --------------------------------------------------------------------------- drift


def test_drift_splits_by_rubric_version_and_month_so_an_edit_that_lowers_agreement_shows():
    nov, dec = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    answers = [answer(c, "hold", "ana", "yes" if c % 2 else "no", "r1", nov) for c in range(40)]
    answers += [answer(c, "hold", "ana", "na" if c == 79 else "yes" if c % 2 else "no", "r2", dec)
                for c in range(40, 80)]
    # under r2 the machine says yes on every call: half of them wrong
    mach = [machine(c, "hold", "yes" if c % 2 else "no", "r1") for c in range(40)]
    mach += [machine(c, "hold", "yes", "r2") for c in range(40, 80)]
    slices = {(s.kind, s.value): s.comparisons for s in ag.drift(answers, mach, resamples=100)}
    assert set(slices) == {("rubric", "r1"), ("rubric", "r2"), ("month", "2026-11"), ("month", "2026-12")}
    assert slices[("rubric", "r1")][0].agreement.value == 1.0
    assert slices[("rubric", "r2")][0].agreement.value == 19 / 40
    # every slice counts chance over the answers of the whole data (the N-A given in December too)
    assert {c.categories for cs in slices.values() for c in cs} == {("yes", "no", "na")}
    assert slices[("month", "2026-12")][0].ac1.value < slices[("month", "2026-11")][0].ac1.value


# --------------------------------------------------------------------------- anchored flag reviews


def test_cohen_kappa_textbook_values():
    # po = 0.7, pe = 0.5 → 0.4
    assert ag.cohen_kappa(20, 5, 10, 15) == pytest.approx(0.4)
    assert ag.cohen_kappa(10, 0, 0, 10) == pytest.approx(1.0)
    assert ag.cohen_kappa(0, 10, 10, 0) == pytest.approx(-1.0)
    assert ag.cohen_kappa(5, 0, 0, 0) is None  # one answer only: undefined
    assert ag.cohen_kappa(0, 0, 0, 0) is None


def test_anchored_agreement_from_flags_counts_items_per_call_and_criterion():
    def flag(call_id: int, criterion: str, polarity: str, origin: str, review_status: str | None) -> StoredFlag:
        return StoredFlag(criterion, criterion.split(".")[0], polarity, "major", "agent", 1.0, 2.0, id=call_id,
                          call_id=call_id, origin=origin, review_status=review_status)

    flags = [
        flag(1, "a.x", "negative", "machine", "accepted"),
        flag(2, "a.x", "negative", "machine", "rejected"),
        flag(3, "a.x", "negative", "reviewer", "accepted"),
        flag(4, "b.y", "positive", "machine", None),
    ]
    rows = {a.criterion: a for a in ag.anchored_from_flags([1, 2, 3, 4], flags)}
    a = rows["a.x"]
    assert (a.both, a.machine_only, a.reviewer_only, a.neither) == (1, 1, 1, 1)
    assert (a.accepted, a.rejected, a.added) == (1, 1, 1)
    assert a.rate == 0.5 and a.kappa == pytest.approx(0.0)
    assert rows["b.y"].neither == 4 and rows["b.y"].kappa is None


# --------------------------------------------------------------------------- 60 calls in a database

#: the machine's answers, ana's and ben's on 60 calls (index 0..59), with known disagreements:
#: greeting.opening: the machine fails calls 0-9; ana says no on 10-13 too; ben says yes on 0-1 and
#: N-A on 20. empathy.apology: all three agree on every call (no on every fourth).
def _answers(criterion: str, who: str, i: int) -> str:
    if criterion == "greeting.opening":
        base = "no" if i < 10 else "yes"
        if who == "ana" and 10 <= i <= 13:
            return "no"
        if who == "ben" and i in (0, 1):
            return "yes"
        if who == "ben" and i == 20:
            return "na"
        return base
    return "no" if i % 4 == 0 else "yes"


CRITERIA = {"greeting.opening": "greeting", "empathy.apology": "empathy"}
STATUS = {"yes": "pass", "no": "fail", "na": "na"}


@pytest.fixture
def calibrated(tmp_path):
    from callqa import services, storage
    from callqa.records import Flag
    from callqa.rubric.flags import CriterionResult
    from callqa.scoring import CallScore
    from callqa.services import calibration
    from callqa.transcript import Segment, Transcript
    from callqa.workspace import Workspace

    ws = Workspace(db=f"sqlite:///{tmp_path / 'a.db'}")
    ids = []
    with services.session_for(ws.db) as session:
        for i in range(60):
            statuses = {c: STATUS[_answers(c, "machine", i)] for c in CRITERIA}
            segments = (Segment("agent", 0.0, 3.0, "Hi."), Segment("customer", 3.0, 6.0, "My bill is wrong."))
            transcript = Transcript(file=f"call_{i}.txt", duration=6.0, engine="import", model="text",
                                    segments=segments, roles="labels")
            flags = tuple(Flag(c, c.split(".")[0], "negative", "major", "agent", 0.0, 3.0, "Hi.", f"missed {c}")
                          for c, s in statuses.items() if s == "fail")
            results = tuple(CriterionResult(c, c.split(".")[0], CRITERIA[c], s, 1.0, False,
                                            tuple(f for f in flags if f.criterion == c)) for c, s in statuses.items())
            score = CallScore(80.0, 80.0, {"greeting": 80.0, "empathy": 80.0}, results, flags, (), "default", "1",
                              section_weights={"greeting": 1.0, "empathy": 1.0})
            ids.append(storage.save_scored_call(session, transcript, score, agent="ana" if i % 2 else "bo",
                                                call_date=datetime(2026, 11, 1, tzinfo=UTC), content_hash=f"{i:064x}",
                                                rubric_id="default", rubric_hash="r1"))
        for i, call_id in enumerate(ids):
            for who in ("ana", "ben"):
                calibration.record_answers(session, call_id, who, {c: _answers(c, who, i) for c in CRITERIA})
    return ws, ids


def _expected(criterion, raters, cats):
    return np.array([[cats.index(_answers(criterion, r, i)) for r in raters] for i in range(60)])


def _library(matrix, q):
    """The libraries called directly (not through our code) on one answer matrix."""
    n, r = matrix.shape
    counts = np.zeros((n, q))
    for j in range(r):
        counts[np.arange(n), matrix[:, j]] += 1
    out = {"ac1": CAC(pd.DataFrame(matrix), categories=list(range(q)), digits=15).gwet()["est"]["coefficient_value"]}
    if r == 2:
        table = np.zeros((q, q))
        np.add.at(table, (matrix[:, 0], matrix[:, 1]), 1)
        out["kappa"] = cohens_kappa(table, return_results=False)
        out["agreement"] = np.trace(table) / n
    else:
        out["fleiss"] = fleiss_kappa(counts)
        out["alpha"] = krippendorff.alpha(reliability_data=matrix.T.astype(float), level_of_measurement="nominal",
                                          value_domain=list(range(q)))
    return out


def test_two_blind_reviewers_and_the_machine_on_60_calls_match_the_libraries(calibrated):
    from callqa import services

    ws, ids = calibrated
    with services.session_for(ws.db) as session:
        report, _ = ag.agreement_report(session, ws, resamples=150)
    found = {(c.criterion, c.raters): c for c in report.comparisons}
    assert set(found) == {(c, r) for c in CRITERIA for r in (("machine", "ana"), ("machine", "ben"), ("ana", "ben"),
                                                              ("machine", "ana", "ben"))}
    greeting = ("yes", "no", "na")
    assert found[("greeting.opening", ("machine", "ana"))].disagreements == tuple(ids[10:14])
    assert found[("greeting.opening", ("machine", "ben"))].disagreements == (ids[0], ids[1], ids[20])
    assert found[("greeting.opening", ("ana", "ben"))].confusion == ((45, 0, 1), (6, 8, 0), (0, 0, 0))
    assert found[("greeting.opening", ("machine", "ana"))].categories == greeting
    assert found[("empathy.apology", ("machine", "ana"))].categories == ("yes", "no")
    for (criterion, raters), c in found.items():
        matrix = _expected(criterion, raters, c.categories)
        assert c.n == 60 and not c.small
        assert c.prevalence == pytest.approx((matrix == 0).mean())
        expected = _library(matrix, len(c.categories))
        if len(raters) == 2:
            assert c.agreement.value == pytest.approx(expected["agreement"])
        for name, value in expected.items():
            stat = c.stats()[name]
            assert stat.value == pytest.approx(value, abs=1e-9), (criterion, raters, name)
        # every interval: the libraries on each of the same resamples of the calls
        idx = ag.resample_indices(60, ag.resample_key(criterion, raters), 150)
        per = [_library(matrix[b], len(c.categories)) for b in idx]
        for name in expected:
            values = np.array([p[name] for p in per], dtype=float)
            low, high = np.percentile(values[~np.isnan(values)], [2.5, 97.5])
            assert (c.stats()[name].low, c.stats()[name].high) == (pytest.approx(low), pytest.approx(high)), name
    apology = {p.criterion: p for p in report.proposals}
    assert apology["empathy.apology"].proposed == "automatic"  # AC1 1.0 [1.0, 1.0] against both over 60 calls
    weakest = apology["greeting.opening"].evidence
    assert weakest.raters == ("machine", "ana")  # ana disagrees with the machine more than ben does


def test_agreement_command_json_csv_html_and_apply(calibrated, tmp_path, monkeypatch, capsys):
    import tomllib

    from callqa.cli import main
    from callqa.workspace import resolve

    ws, ids = calibrated
    monkeypatch.chdir(tmp_path)
    assert main(["agreement", "--db", ws.db, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 1 and data["reviewers"] == ["ana", "ben"] and data["calls"] == 60
    assert data["method"]["resamples"] == ag.RESAMPLES
    pair = next(c for c in data["comparisons"] if c["criterion"] == "greeting.opening" and c["raters"] == ["machine", "ana"])
    assert pair["n"] == 60 and pair["disagreements"] == ids[10:14]
    assert pair["ac1"]["low"] <= pair["ac1"]["value"] <= pair["ac1"]["high"]
    assert {(d["by"], d["value"]) for d in data["drift"]} == {("rubric", "r1"), ("month", datetime.now(UTC).strftime("%Y-%m"))}
    grad = {g["criterion"]: g for g in data["graduation"]}
    assert grad["empathy.apology"] == {"criterion": "empathy.apology", "state": "human", "proposed": "automatic",
                                       "change": True, "reason": grad["empathy.apology"]["reason"]}

    assert main(["agreement", "--db", ws.db, "--format", "csv", "--session", "none-such"]) == 2
    capsys.readouterr()
    assert main(["agreement", "--db", ws.db, "--format", "csv", "--rubric", "r"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["slice"] for r in rows} == {"all", "rubric:r1", f"month:{datetime.now(UTC):%Y-%m}"}
    assert len([r for r in rows if r["slice"] == "all"]) == 8
    row = next(r for r in rows if r["slice"] == "all" and r["raters"] == "machine+ana+ben"
               and r["criterion"] == "greeting.opening")
    assert row["kappa"] == "" and float(row["fleiss_low"]) <= float(row["fleiss"]) <= float(row["fleiss_high"])

    html = tmp_path / "calibration.html"
    assert main(["agreement", "--db", ws.db, "--html", str(html), "--apply"]) == 0
    out = capsys.readouterr().out
    assert "empathy.apology" in out and "automatic" in out
    page = html.read_text()
    assert "<svg" in page and "Where raters disagreed" in page and "missed greeting.opening" in page
    assert f"call {ids[12]}" in page  # a call ana and the machine disagree on, with the machine's flag there
    states = tomllib.loads((tmp_path / "callqa.toml").read_text())["criteria"]
    assert states["empathy.apology"] == "automatic"
    assert resolve({}, cwd=tmp_path, environ={}).criteria["empathy.apology"] == "automatic"
    assert main(["agreement", "--db", ws.db, "--apply"]) == 0  # applied: nothing proposed any more
    assert "nothing to apply" in capsys.readouterr().err


def test_the_human_table_fits_an_80_column_terminal(calibrated, monkeypatch, capsys):
    """On a narrow terminal the table keeps what graduation reads (AC1 and its interval) and the
    too-few / skewed markers, instead of squeezing every column to an ellipsis."""
    from callqa.cli import main

    ws, _ = calibrated
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["agreement", "--db", ws.db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    row = next(line for line in lines if line.lstrip().startswith("empathy.apology"))
    assert "machine vs ana" in row and "60" in row and re.search(r"\d\.\d\d \S*\d\.\d\d–\S*\d\.\d\d", row)
    assert "…" not in " ".join(lines[:4])  # no header cut


def test_coaching_report_marks_what_is_to_work_on_when_its_criterion_is_not_automatic(calibrated):
    from callqa import reports

    ws, _ = calibrated
    report = reports.build_report(ws.db, "bo", states={"greeting.opening": "automatic"})
    marks = {f.criterion: f.marker for f in (*report.focus, *report.also)}
    assert marks == {"greeting.opening": "", "empathy.apology": "†"}  # no entry: human
    assert "† human" in report.legend
    html, md = reports.render_html(report), reports.render_markdown(report)
    assert 'title="human">†</sup>' in html and "† human" in html
    apology = next(f for f in report.focus if f.criterion == "empathy.apology")
    assert f"{apology.name}†**" in md and "human: the machine" in md
    done = reports.build_report(ws.db, "bo", states={"greeting.opening": "automatic", "empathy.apology": "automatic"})
    assert done.legend == "" and "†" not in reports.render_html(done)
    assert reports.report_json(report)["focus"][0]["state"] in ("human", "automatic")


def test_the_review_queue_asks_first_about_calls_failed_on_criteria_not_automatic(calibrated):
    from callqa import services
    from callqa.services import review

    ws, ids = calibrated
    assert review.rank({1: {"poor audio"}, 2: {"poor audio"}, 3: {"critical"}}, first=[1]) == [
        (3, ("critical",), 90), (1, ("poor audio",), 55), (2, ("poor audio",), 55)]
    # every call is queued for one reason, "lowest score" (each agent's 30 lowest)
    settings = review.QueueSettings(per_agent_week=0, lowest_per_agent=30)
    with services.session_for(ws.db) as session:
        plain = [item.call.id for item in review.review_queue(session, settings)]
        graded = [item.call.id for item in review.review_queue(session, settings,
                                                               states={"greeting.opening": "automatic"})]
    assert plain == sorted(ids, reverse=True)  # the same priority: newest first
    # the machine failed every fourth call on empathy.apology (not automatic: no entry) and calls
    # 0-9 on greeting.opening (automatic): those of empathy come first, newest first
    first = sorted((ids[i] for i in range(60) if i % 4 == 0), reverse=True)
    assert graded[:len(first)] == first and sorted(graded) == sorted(ids)


def test_criterion_states_and_the_rule_come_from_callqa_toml_or_the_environment(tmp_path):
    from callqa.workspace import ConfigError, resolve, write_criteria

    (tmp_path / "callqa.toml").write_text('reviewer = "ana"\n[criteria]\ngreeting.opening = "automatic"\n'
                                          '"empathy.apology" = "assisted"\n[graduation]\nautomatic-calls = 80\n')
    ws = resolve({}, cwd=tmp_path, environ={})
    assert ws.criteria == {"greeting.opening": "automatic", "empathy.apology": "assisted"}  # unquoted id too
    rule = ag.rule_of(ws.graduation)
    assert (rule.automatic_calls, rule.automatic_ac1) == (80, 0.80)
    env = resolve({}, cwd=tmp_path, environ={"CALLQA_CRITERIA": "hold.long_hold=human"})
    assert env.criteria == {"hold.long_hold": "human"}
    with pytest.raises(ConfigError, match="'sometimes' is not a state"):
        resolve({}, cwd=tmp_path, environ={"CALLQA_CRITERIA": "hold.long_hold=sometimes"})
    with pytest.raises(ConfigError, match="not a graduation setting"):
        resolve({}, cwd=tmp_path, environ={"CALLQA_GRADUATION": "automatic-kappa=0.9"})
    # --apply replaces the table and keeps every other line
    write_criteria(tmp_path / "callqa.toml", {"greeting.opening": "assisted"})
    text = (tmp_path / "callqa.toml").read_text()
    assert 'reviewer = "ana"' in text and "automatic-calls = 80" in text and "empathy.apology" not in text
    assert resolve({}, cwd=tmp_path, environ={}).criteria == {"greeting.opening": "assisted"}


def test_the_score_line_says_each_flags_criterion_state():
    from callqa.records import Flag
    from callqa.scoring import CallScore
    from callqa.services import CallOutcome

    flags = (Flag("greeting.opening", "greeting", "negative", "major", "agent", 0.0, 1.0, "Hi.", "no greeting"),
             Flag("empathy.apology", "empathy", "negative", "major", "agent", 2.0, 3.0, "Ok.", "no apology"))
    outcome = CallOutcome("c.txt", "scored", "ana", 1, CallScore(50.0, 50.0, {}, (), flags, (), "default", "1"))
    line = outcome.to_json({"greeting.opening": "automatic"})
    assert [f["state"] for f in line["flags"]] == ["automatic", "human"]
    assert "state" not in outcome.to_json()["flags"][0]
