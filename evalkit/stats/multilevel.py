"""Everyone who started: a linear mixed model on every questionnaire of every person with a baseline."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

INTENTION_TO_TREAT_COLUMNS = [
    "measure", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "n_people", "n_observations",
    "n_groups", "complete_case_estimate", "difference", "method", "note",
]
#: Waves after the baseline, in the order their contrasts are reported.
LATER_WAVES = ("post", "follow_up")
#: Fewest people with a baseline for which the model is fitted.
MIN_PEOPLE = 5

_METHOD = ("linear mixed model fitted by REML: score ~ timepoint with pre as the reference, "
           "{random}; fitted on every questionnaire of every person with a baseline score; standard error from "
           "(X'V^-1 X)^-1 as lme4 reports it; Wald z interval and p")


def _random_part(grouped):
    return ("a random intercept for each person nested in a random intercept for each group "
            "(a person without a group is a group of one)" if grouped else "a random intercept for each person")


def _empty(measure, contrast, note, **counts):
    return dict.fromkeys(INTENTION_TO_TREAT_COLUMNS, np.nan) | {"measure": measure, "contrast": contrast,
                                                               "method": "", "note": note} | counts


def _complete_case(person, timepoint, score, first, later):
    """Mean change ``later - first`` over the people scored at both waves (codes; a repeated row: the first)."""
    n = int(person.max(initial=-1)) + 1
    values = []
    for code in (first, later):
        at = np.full(n, np.nan)
        rows = np.flatnonzero(timepoint == code)[::-1]  # reversed: a person's first row is written last
        at[person[rows]] = score[rows]
        values.append(at)
    d = values[1] - values[0]
    d = d[~np.isnan(d)]
    return float(d.mean()) if d.size else np.nan


class _NestedREML:
    """Profiled REML criterion of ``y = X b + u_group + v_person + e`` from per-person and per-group sums.

    With ``H = I + lp Zp Zp' + lg Zg Zg'`` (variance ratios to the residual) and ``M = [X y]``,
    Woodbury's identity applied per person and then per group gives ``M' H^-1 M`` and ``log|H|`` from
    the sums ``s_p`` of M's rows per person. A person's weight depends only on their number of
    questionnaires ``m`` (1, 2 or 3), so the sums are gathered once per ``m`` (``sum s_p s_p'``) and
    per group and ``m`` (``sum s_p``): one evaluation then costs O(groups x k), whatever the number of
    questionnaires. ``-2 log L_REML = (n - k) log s2 + log|H| + log|X' H^-1 X|`` (+ a constant), with
    ``s2 = (y' H^-1 y - b' X' H^-1 y) / (n - k)`` (Harville, 1977).
    """

    def __init__(self, exog, endog, person, group=None):
        m_mat = np.column_stack([exog, endog]).astype(float)
        self.n, self.k = exog.shape
        n_people = int(person.max()) + 1
        m = np.bincount(person, minlength=n_people)
        sums = np.column_stack([np.bincount(person, weights=col, minlength=n_people) for col in m_mat.T])
        self.sizes, which = np.unique(m, return_inverse=True)      # distinct questionnaires per person
        self.sizes = self.sizes.astype(float)
        n_sizes = self.sizes.size
        self.people_of_size = np.bincount(which, minlength=n_sizes).astype(float)
        self.outer = np.stack([sums[which == j].T @ sums[which == j] for j in range(n_sizes)])
        self.mtm = m_mat.T @ m_mat
        self.grouped = group is not None
        if not self.grouped:  # people only: no group sums (the group term of every evaluation is zero)
            return
        person_group = np.zeros(n_people, dtype=np.int64)
        person_group[person] = group
        n_groups = int(group.max()) + 1
        cell = person_group * n_sizes + which                       # (group, size) of each person
        # (group, column) rows x size columns: t = group_sums @ keep is one matrix-vector product
        per_cell = np.stack([np.bincount(cell, weights=col, minlength=n_groups * n_sizes) for col in sums.T], axis=1)
        self.group_sums = np.ascontiguousarray(
            per_cell.reshape(n_groups, n_sizes, self.k + 1).transpose(0, 2, 1).reshape(n_groups * (self.k + 1), n_sizes))
        self.n_groups = n_groups
        self.group_counts = np.bincount(cell, minlength=n_groups * n_sizes).reshape(n_groups, n_sizes).astype(float)

    def parts(self, lp, lg):
        """(beta, s2, X' H^-1 X, log|H|) at variance ratios ``lp`` (people) and ``lg`` (groups)."""
        w = lp / (1 + self.sizes * lp)                              # A^-1 = I - w J per person of size m
        keep = 1 - w * self.sizes                                   # 1' A^-1 on a person's block
        g = self.mtm - np.tensordot(w, self.outer, axes=1)
        logdet = float(self.people_of_size @ np.log1p(self.sizes * lp))
        if self.grouped and lg > 0:  # with lg = 0 the group term adds nothing (c = 0, log1p(0) = 0)
            t = (self.group_sums @ keep).reshape(self.n_groups, self.k + 1)
            q = self.group_counts @ (self.sizes * keep)
            c = lg / (1 + lg * q)
            g = g - (t * c[:, None]).T @ t
            logdet += float(np.sum(np.log1p(lg * q)))
        xhx, xhy, yhy = g[:self.k, :self.k], g[:self.k, self.k], g[self.k, self.k]
        beta = np.linalg.solve(xhx, xhy)
        s2 = (yhy - xhy @ beta) / (self.n - self.k)
        return beta, s2, xhx, logdet

    def criterion(self, theta):
        lp, lg = theta[0] ** 2, (theta[1] ** 2 if len(theta) > 1 else 0.0)
        _, s2, xhx, logdet = self.parts(lp, lg)
        if not s2 > 0:
            return np.inf
        return (self.n - self.k) * np.log(s2) + logdet + np.linalg.slogdet(xhx)[1]


def _fit(exog, endog, person, group, grouped):
    """REML fit: (beta, covariance of beta, residual, person and group variances, converged)."""
    from scipy import optimize

    reml = _NestedREML(exog, endog, person, group if grouped else None)
    best = None
    for start in ((1.0, 0.5), (0.3, 0.1)):
        x0 = np.array(start if grouped else start[:1])
        res = optimize.minimize(reml.criterion, x0, method="L-BFGS-B", bounds=[(0, None)] * x0.size,
                                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
        if best is None or res.fun < best.fun:
            best = res
        # the second start is a safeguard where the criterion is flat near a zero variance: needed only
        # when the first ends at (or near) the boundary or runs out of iterations
        if best.status != 1 and np.all(np.abs(best.x) > 1e-3):
            break
    lp = best.x[0] ** 2
    lg = best.x[1] ** 2 if grouped else 0.0
    beta, s2, xhx, _ = reml.parts(lp, lg)
    # L-BFGS-B stops with ABNORMAL_TERMINATION_IN_LNSRCH when no step improves the criterion at machine
    # precision, which is convergence here; only running out of iterations (status 1) is not
    converged = best.success or best.status == 2
    return beta, s2 * np.linalg.inv(xhx), s2, lp * s2, lg * s2, bool(converged)


def intention_to_treat(scores, *, measures, group=None, confidence=0.95):
    """Change from baseline estimated on everyone who started, by a linear mixed model.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``id``, ``timepoint`` (``pre``, ``post`` and optionally ``follow_up``), one
        column per measure, and the ``group`` column when ``group`` is given.
    measures : list of str
        Measures to model, one at a time.
    group : str, optional
        Column holding each person's delivery group; the model then nests people in groups. A person
        without a group value is a group of one (for example a child seen one-to-one).
    confidence : float
        Level of the Wald intervals.

    Returns
    -------
    pandas.DataFrame
        One row per measure and later wave, columns ``INTENTION_TO_TREAT_COLUMNS``: ``contrast``
        (``post-pre`` or ``follow_up-pre``), the model's ``estimate`` with ``se``, Wald z ``ci_low``,
        ``ci_high`` and ``p``; ``n_people`` (with a baseline), ``n_observations`` (questionnaires used),
        ``n_groups`` (groups of one included; blank without ``group``); ``complete_case_estimate`` (the
        mean change of the people with both waves) and ``difference`` = estimate - complete_case_estimate.

    Notes
    -----
    The model is ``score ~ timepoint + (1 | group/person)``, fitted by REML: the same model as R's
    ``lme4::lmer(score ~ timepoint + (1 | group/person), REML = TRUE)`` and statsmodels'
    ``MixedLM(groups=group, vc_formula={"person": ...})``. evalkit maximises the profiled REML
    likelihood in closed form from per-person and per-group sums (:class:`_NestedREML`; exact, not an
    approximation) because statsmodels' MixedLM took 23 s for 2,000 children in groups; the tests
    check the estimates against statsmodels' MixedLM and R's lme4. The standard error is lme4's,
    ``sqrt(diag(s2 (X' H^-1 X)^-1))``; the interval and p are Wald z. People
    without a follow-up still inform the estimate through their baseline, under the assumption that
    their missing scores are missing at random given their observed ones.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"id": list("aabbccddeeff") + ["g"], "timepoint": ["pre", "post"] * 6 + ["pre"],
    ...                        "m": [1, 2, 2, 3, 1, 3, 2, 2, 3, 4, 1, 2, 2.5]})
    >>> res = intention_to_treat(scores, measures=["m"])
    >>> res[["contrast", "n_people", "n_observations", "complete_case_estimate"]]
       contrast  n_people  n_observations  complete_case_estimate
    0  post-pre         7              13                     1.0
    """
    grouped = group is not None
    # codes once for every measure: people, waves and groups (a person without a group: a group of their own)
    id_codes, id_values = pd.factorize(scores["id"], use_na_sentinel=False)
    tp_codes, tp_values = pd.factorize(scores["timepoint"], use_na_sentinel=False)
    wave_code = {str(v): i for i, v in enumerate(tp_values)}
    pre = wave_code.get("pre", -1)
    usable = np.isin(tp_codes, [wave_code[w] for w in ("pre",) + LATER_WAVES if w in wave_code])
    if grouped:
        group_of = pd.factorize(scores[group].astype(object), use_na_sentinel=True)[0].astype(np.int64)
        alone = group_of < 0
        group_of[alone] = group_of.max(initial=-1) + 1 + id_codes[alone]
    rows = []
    for m in measures:
        values = scores[m].to_numpy(dtype=float)
        scored = ~np.isnan(values)
        starter = np.zeros(len(id_values), dtype=bool)
        starter[id_codes[scored & (tp_codes == pre)]] = True
        keep = starter[id_codes] & scored & usable
        person_codes = pd.factorize(id_codes[keep])[0]
        tp_kept, score = tp_codes[keep], values[keep]
        group_codes = pd.factorize(group_of[keep])[0] if grouped else person_codes
        waves = [w for w in LATER_WAVES if w in wave_code and (tp_kept == wave_code[w]).any()]
        counts = {"n_people": int(starter.sum()), "n_observations": int(keep.sum()),
                  "n_groups": int(group_codes.max(initial=-1)) + 1 if grouped else np.nan}
        if not waves:
            rows.append(_empty(m, "post-pre", "nobody with a baseline has a later questionnaire", **counts))
            continue
        if counts["n_people"] < MIN_PEOPLE:
            rows.extend(_empty(m, f"{w}-pre", f"fewer than {MIN_PEOPLE} people with a baseline", **counts)
                        for w in waves)
            continue
        exog = np.column_stack([np.ones(score.size)] + [(tp_kept == wave_code[w]).astype(float) for w in waves])
        try:
            beta, cov, *_, converged = _fit(exog, score, person_codes, group_codes, grouped)
        except np.linalg.LinAlgError as exc:
            rows.extend(_empty(m, f"{w}-pre", f"the mixed model could not be fitted ({exc})", **counts)
                        for w in waves)
            continue
        note = "" if converged else "the REML optimiser did not report convergence; treat the estimate with caution"
        z = stats.norm.ppf(0.5 + confidence / 2)
        for j, w in enumerate(waves, start=1):
            cc = _complete_case(person_codes, tp_kept, score, pre, wave_code[w])
            est, se = float(beta[j]), float(np.sqrt(max(cov[j, j], 0.0)))
            if not (np.isfinite(se) and se > 0):  # an exact fit (every change equal): no interval, no test
                rows.append(_empty(m, f"{w}-pre", "no variation left to estimate an error from (every change "
                                   "is equal), so no interval or test", **counts)
                            | {"estimate": est, "complete_case_estimate": cc, "difference": est - cc,
                               "method": _METHOD.format(random=_random_part(grouped))})
                continue
            rows.append({"measure": m, "contrast": f"{w}-pre", "estimate": est, "se": se,
                         "ci_low": est - z * se, "ci_high": est + z * se,
                         "p": float(2 * stats.norm.sf(abs(est / se))), **counts, "complete_case_estimate": cc,
                         "difference": est - cc, "method": _METHOD.format(random=_random_part(grouped)),
                         "note": note})
    out = pd.DataFrame(rows, columns=INTENTION_TO_TREAT_COLUMNS)
    out["n_people"] = out["n_people"].astype(int)
    out["n_observations"] = out["n_observations"].astype(int)
    out["n_groups"] = out["n_groups"].astype("Int64")
    return out
