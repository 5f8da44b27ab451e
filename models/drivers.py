"""Key-driver analysis: which complaint categories drive a satisfaction score, and by how much.

:class:`DriverModel` is a scikit-learn regressor fitted on 0/1 complaint indicators
(:func:`tousu.analysis.drivers.indicator_matrix`) and a score: the importance of each
indicator as its share of R² (exact Shapley/LMG decomposition, or Johnson's relative
weights past 15 predictors) and its OLS effect.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d, validate_data

# Fewer responses than this: a group's numbers carry the note "interpret with care".
SMALL_N = 30
MAX_SHAPLEY_PREDICTORS = 15
# The last three (IMPACT_COLUMNS), added after the others: how much the mean score of every
# response would rise if the respondents with the indicator scored like the baseline (share × −effect).
IMPACT_COLUMNS = ["impact", "impact_low", "impact_high"]
DRIVER_COLUMNS = [
    "driver", "importance", "importance_share", "importance_low", "importance_high",
    "coef", "coef_low", "coef_high", "p_value", "n_with", "mean_with", "mean_without", "note", *IMPACT_COLUMNS,
]


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a finite float matrix and how often each occurs, in the order of
    ``np.unique(rows, axis=0, return_counts=True)`` (lexicographic), with the same values.

    np.unique(axis=0) compares rows as records, field by field: 0.4–0.6 s on 100,000 rows of 12
    indicators. Each row compared as one string of bytes takes a tenth of that. Byte order is not numeric order
    (negative numbers), and the bootstrap's draws follow the order of the rows, so the few
    distinct rows are sorted again."""
    rows = np.ascontiguousarray(rows + 0.0)  # -0.0 becomes 0.0: equal numbers, equal bytes
    values, counts = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel(),
                               return_counts=True)
    distinct = values.view(rows.dtype).reshape(len(values), rows.shape[1])
    order = np.lexsort(distinct.T[::-1])
    return distinct[order], counts[order]


class _Subsets:
    """Every subset of p predictors, grouped by size, with the Shapley weight of each."""

    def __init__(self, p: int):
        self.p = p
        self.blocks = []
        for size in range(1, p + 1):
            members = np.array(list(itertools.combinations(range(p), size)), dtype=np.intp)
            self.blocks.append((members, (1 << members).sum(axis=1)))
        masks = np.arange(1 << p)
        sizes = np.array([bin(m).count("1") for m in masks])
        factorial = np.array([math.factorial(k) for k in range(p + 1)], dtype=float)
        self.without = [masks[(masks >> j) & 1 == 0] for j in range(p)]
        weight = factorial[sizes] * factorial[np.clip(p - sizes - 1, 0, None)] / factorial[p]
        self.weights = [weight[w] for w in self.without]


# A ridge far below any real signal: keeps subsets with constant or collinear predictors
# solvable in one batched call, and changes R² by ~1e-9 at most.
_RIDGE = 1e-9


def _correlations(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predictor correlation matrix, correlations with y) from a covariance with y last;
    zero-variance columns get zero correlations."""
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    scale = np.where(sd > 1e-12, sd, np.inf)
    corr = cov / np.outer(scale, scale)
    return corr[:-1, :-1], corr[:-1, -1]


def _shapley(cov: np.ndarray, subsets: _Subsets) -> np.ndarray:
    """Exact Shapley (LMG) decomposition of R²: each predictor's R² gain averaged over orders."""
    R, r = _correlations(cov)
    r2 = np.zeros(1 << subsets.p)
    for members, masks in subsets.blocks:
        block = R[members[:, :, None], members[:, None, :]] + _RIDGE * np.eye(members.shape[1])
        rs = r[members]
        r2[masks] = (rs * np.linalg.solve(block, rs[..., None])[..., 0]).sum(axis=1)
    shares = np.array([(weights * (r2[without | (1 << j)] - r2[without])).sum()
                       for j, (without, weights) in enumerate(zip(subsets.without, subsets.weights))])
    # R² never falls when a predictor is added, so a negative share is rounding error.
    return np.clip(shares, 0, None)


def _relative_weights(cov: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights: R² of y on the orthogonal counterparts of the
    predictors, handed back to the predictors by their squared loadings."""
    R, r = _correlations(cov)
    eigenvalues, eigenvectors = np.linalg.eigh(R)
    loadings = eigenvectors @ np.diag(np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    beta = np.linalg.pinv(loadings, hermitian=True, rtol=1e-10) @ r
    return (loadings ** 2) @ (beta ** 2)


class DriverModel(RegressorMixin, BaseEstimator):
    """Which complaint categories drive satisfaction: importance and effect of each indicator.

    Fit on a 0/1 indicator matrix (:func:`indicator_matrix`; respondents without complaint
    are all zeros) and a score (CSAT or NPS). Two views:

    * importance: each predictor's share of R², by the exact Shapley (LMG) decomposition or
      Johnson's relative weights; they sum to R² and do not depend on which other
      indicators are in the model first;
    * effect: OLS coefficients with an intercept. With mutually exclusive categories the
      intercept is the baseline's mean score and a coefficient is the category's mean score
      minus the baseline's (e.g. −1.2 CSAT points).

    Without respondents without complaint (every row has an indicator) the baseline's mean
    is not observed: with ``reference="auto"`` the category with the highest mean score
    becomes the reference, its coefficient is 0 and the others are differences from it.

    Parameters
    ----------
    method: ``"shapley"``, ``"relative_weights"`` or ``"auto"`` (Shapley when there are at
        most 15 predictors: its cost doubles with each one, relative weights beyond).
    n_boot: bootstrap resamples for the importance intervals (0: none). Shapley with 15
        predictors costs about 0.05 s per resample.
    level: confidence level of every interval.
    seed: seed of the bootstrap.
    reference: predictor the effects are measured from, left out of the OLS design:
        ``"auto"`` (default): the highest-scoring predictor (among those with at least 30
        responses, when any has) if X is 0/1 with no all-zero row, else none; a predictor
        name; or None (never: without an all-zero row the intercept and coefficients are
        then not identified).

    Attributes
    ----------
    n_features_in_, feature_names_in_ (only when X has string column names; the drivers
    are otherwise named ``x0``, ``x1`` …), n_ (responses used: rows with a score), method_,
    reference_ (driver name or None), r2_, importance_ (R² share, sums to ``r2_``),
    importance_share_ (sums to 1), importance_low_/importance_high_, intercept_, coef_,
    coef_low_/coef_high_ (t intervals from OLS standard errors), p_value_, identified_
    (per predictor: its coefficient is identified), fitted_params_ (intercept then
    coefficients that :meth:`predict` uses: the minimum-norm least-squares solution, so
    collinear predictors share their effect), n_with_, mean_with_, mean_without_, notes_
    (per predictor, "" when none), share_ (``n_with_ / n_``), impact_ (``share_ × −coef_``:
    how much the mean score of all responses would rise if those with the indicator scored
    like the baseline) and impact_low_/impact_high_ (percentile bootstrap over the same
    resamples as the importance, the OLS refitted on each).

    Zero-variance predictors (nobody, or everyone, in the category) get importance 0 and a
    NaN coefficient; perfectly collinear ones share importance and get NaN coefficients
    (not identified). A predictor present once is kept, with a note. Scores that are NaN
    are missing answers: those rows are left out (X must be finite).
    """

    def __init__(self, method: str = "auto", n_boot: int = 200, level: float = 0.95, seed: int = 0,
                 reference: str | None = "auto"):
        self.method = method
        self.n_boot = n_boot
        self.level = level
        self.seed = seed
        self.reference = reference

    def fit(self, X, y):
        """Fit on X (n responses × p indicators) and y (n scores, NaN where unanswered); returns self."""
        if self.method not in ("auto", "shapley", "relative_weights"):
            raise ValueError(f"method must be 'auto', 'shapley' or 'relative_weights', not {self.method!r}")
        features = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        target = column_or_1d(check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan",
                                          input_name="y"), warn=True)
        check_consistent_length(features, target)
        keep = ~np.isnan(target)
        if keep.sum() < 2:
            raise ValueError(f"need at least 2 responses with a score, got {int(keep.sum())}")
        p = features.shape[1]
        names = self._driver_names()
        self.method_ = (self.method if self.method != "auto"
                        else "shapley" if p <= MAX_SHAPLEY_PREDICTORS else "relative_weights")

        # Indicator data repeat a handful of distinct rows: fit on (distinct row, count), which
        # gives the same numbers as the full data and makes the bootstrap independent of n.
        distinct, counts = _distinct_rows(np.column_stack([features[keep], target[keep]]))
        counts = counts.astype(float)
        n = counts.sum()
        self.n_ = int(n)
        self._describe_groups(distinct[:, :-1], distinct[:, -1], counts)
        reference = self._reference_index(distinct[:, :-1], names)
        self.reference_ = None if reference is None else names[reference]
        subsets = _Subsets(p) if self.method_ == "shapley" else None
        importance_of = (lambda cov: _shapley(cov, subsets)) if subsets else _relative_weights
        center = counts @ distinct / n
        centered = distinct - center
        cov = (centered * counts[:, None]).T @ centered / n
        self.importance_ = importance_of(cov)
        self._fit_ols(distinct[:, :-1], distinct[:, -1], counts, reference)
        total = self.importance_.sum()
        self.importance_share_ = self.importance_ / total if total > 0 else np.full(p, np.nan)
        self.share_ = self.n_with_ / n
        with np.errstate(invalid="ignore"):
            self.impact_ = self.share_ * -self.coef_ + 0.0  # the reference: 0, not -0
        (self.importance_low_, self.importance_high_), (self.impact_low_, self.impact_high_) = self._bootstrap(
            centered, counts, importance_of, distinct, reference)
        self._write_notes(distinct[:, :-1], reference)
        return self

    def predict(self, X):
        """Predicted score of each row of X, from the OLS fit."""
        check_is_fitted(self, "fitted_params_")
        features = validate_data(self, X, dtype=np.float64, reset=False)
        return self.fitted_params_[0] + features @ self.fitted_params_[1:]

    def _driver_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _reference_index(self, features, names) -> int | None:
        if self.reference is None:
            return None
        if self.reference != "auto":
            if self.reference not in names:
                raise ValueError(f"reference {self.reference!r} is not a driver; the drivers are: {', '.join(names)}")
            return names.index(self.reference)
        indicators = np.isin(features, (0.0, 1.0)).all()
        if not indicators or not features.any(axis=1).all():
            return None
        # The best category as reference: every effect then reads as "costs so many points
        # against the best", and a large one keeps the intervals narrow.
        present = self.n_with_ > 0
        eligible = self.n_with_ >= SMALL_N if (self.n_with_ >= SMALL_N).any() else present
        means = np.where(eligible, self.mean_with_, -np.inf)
        return int(np.argmax(means)) if eligible.any() else None

    def _fit_ols(self, features, target, counts, reference):
        p = features.shape[1]
        used = np.array([j for j in range(p) if j != reference], dtype=np.intp)
        design = np.column_stack([np.ones(len(features)), features[:, used]])
        gram = design.T @ (design * counts[:, None])
        gram_inverse = np.linalg.pinv(gram, hermitian=True, rtol=1e-10)
        beta = gram_inverse @ (design.T @ (counts * target))
        projection = np.diag(gram_inverse @ gram)
        identified = np.abs(projection - 1) < 1e-6
        rank = int(round(projection.sum()))
        residual = target - design @ beta
        rss = counts @ residual ** 2
        tss = counts @ (target - counts @ target / counts.sum()) ** 2
        self.r2_ = float(1 - rss / tss) if tss > 0 else 0.0
        dof = counts.sum() - rank
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt(rss / dof * np.diag(gram_inverse)) if dof > 0 else np.full(len(beta), np.nan)
            t_value = beta / se
        margin = stats.t.ppf((1 + self.level) / 2, dof) * se if dof > 0 else np.full(len(beta), np.nan)
        p_value = 2 * stats.t.sf(np.abs(t_value), dof) if dof > 0 else np.full(len(beta), np.nan)
        # Slot 0 is the intercept; the reference's coefficient is 0 by construction, with no interval.
        slots = np.concatenate([[0], used + 1])

        def per_predictor(values, reference_value):
            full = np.full(p + 1, reference_value, dtype=float)
            full[slots] = values
            return full

        self.fitted_params_ = per_predictor(beta, 0.0)
        estimate = per_predictor(np.where(identified, beta, np.nan), 0.0)
        low = per_predictor(np.where(identified, beta - margin, np.nan), np.nan)
        high = per_predictor(np.where(identified, beta + margin, np.nan), np.nan)
        self.intercept_ = float(estimate[0])
        self.coef_, self.coef_low_, self.coef_high_ = estimate[1:], low[1:], high[1:]
        self.p_value_ = per_predictor(np.where(identified, p_value, np.nan), np.nan)[1:]
        self.identified_ = per_predictor(identified, 1.0)[1:].astype(bool)

    def _bootstrap(self, centered, counts, importance_of, distinct, reference):
        """((importance low, high), (impact low, high)), both from the same resamples."""
        p = centered.shape[1] - 1
        nothing = (np.full(p, np.nan), np.full(p, np.nan))
        if self.n_boot < 1 or counts.sum() < 2 or p == 0:
            return nothing, nothing
        rng = np.random.default_rng(self.seed)
        n = int(counts.sum())
        # Continuous X or y leave many distinct rows: draw the resamples a bounded block at a time.
        per_block = max(1, 2_000_000 // len(counts))
        estimates, impacts = [], []
        for start in range(0, self.n_boot, per_block):
            draws = rng.multinomial(n, counts / n, size=min(per_block, self.n_boot - start)).astype(float)
            means = draws @ centered / n
            second = np.einsum("bk,ki,kj->bij", draws, centered, centered, optimize=True) / n
            estimates += [importance_of(cov) for cov in second - means[:, :, None] * means[:, None, :]]
            impacts.append(self._resampled_impacts(distinct[:, :-1], distinct[:, -1], draws, reference))
        low, high = np.quantile(estimates, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
        impacts = np.concatenate(impacts)
        impact_low, impact_high = np.quantile(impacts, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
        unidentified = np.isnan(self.impact_)
        impact_low[unidentified] = impact_high[unidentified] = np.nan
        return (low, high), (impact_low, impact_high)

    def _resampled_impacts(self, features, target, draws, reference):
        """share × −coefficient of each predictor in each resample (``draws``: counts of the
        distinct rows), the OLS refitted as in :meth:`_fit_ols`; the reference's is 0."""
        p = features.shape[1]
        used = np.array([j for j in range(p) if j != reference], dtype=np.intp)
        design = np.column_stack([np.ones(len(features)), features[:, used]])
        gram = np.einsum("bk,ki,kj->bij", draws, design, design, optimize=True)
        moments = (draws * target) @ design
        beta = np.einsum("bij,bj->bi", np.linalg.pinv(gram, hermitian=True, rtol=1e-10), moments)
        coef = np.zeros((len(draws), p))
        coef[:, used] = beta[:, 1:]
        share = draws @ (features != 0) / draws.sum(axis=1, keepdims=True)
        return share * -coef

    def _describe_groups(self, features, target, counts):
        present = features != 0
        self.n_with_ = (counts[:, None] * present).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.mean_with_ = ((counts * target)[:, None] * present).sum(axis=0) / self.n_with_
            self.mean_without_ = ((counts * target)[:, None] * ~present).sum(axis=0) / (counts.sum() - self.n_with_)

    def _write_notes(self, features, reference):
        constant = np.ptp(features, axis=0) == 0
        notes = []
        for j in range(self.n_features_in_):
            if constant[j]:
                notes.append("constant: no effect can be estimated")
            elif j == reference:
                notes.append("reference: no respondents without complaint, so the effects are "
                             "differences from this category")
            elif not self.identified_[j]:
                notes.append("collinear with other drivers: coefficient not identified")
            elif self.n_with_[j] == 1:
                notes.append("n=1: coefficient rests on one response")
            elif self.n_with_[j] < SMALL_N:
                notes.append(f"n<{SMALL_N}: interpret with care")
            else:
                notes.append("")
        self.notes_ = np.array(notes, dtype=object)

    def drivers_table(self) -> pd.DataFrame:
        """One row per predictor (``DRIVER_COLUMNS``), most important first.

        ``importance`` R² share (sums to ``r2_``), ``importance_share`` (sums to 1),
        ``importance_low``/``high`` bootstrap interval, ``coef`` OLS effect on the score with
        ``coef_low``/``high`` and ``p_value`` (0 and no interval for the reference),
        ``n_with`` responses with the indicator, ``mean_with``/``mean_without`` mean score of
        those with and without it, ``note``; then (``IMPACT_COLUMNS``) ``impact``, share of
        responses with the indicator × −``coef``: how much the mean score of all responses
        would rise if theirs matched the baseline, with ``impact_low``/``high``.
        """
        check_is_fitted(self, "importance_")
        table = pd.DataFrame({
            "driver": np.array(self._driver_names(), dtype=object), "importance": self.importance_,
            "importance_share": self.importance_share_, "importance_low": self.importance_low_,
            "importance_high": self.importance_high_, "coef": self.coef_, "coef_low": self.coef_low_,
            "coef_high": self.coef_high_, "p_value": self.p_value_, "n_with": self.n_with_.astype(np.int64),
            "mean_with": self.mean_with_, "mean_without": self.mean_without_, "note": self.notes_,
            "impact": self.impact_, "impact_low": self.impact_low_, "impact_high": self.impact_high_,
        }, columns=DRIVER_COLUMNS)
        return table.sort_values(["importance", "driver"], ascending=[False, True], kind="stable",
                                 na_position="last", ignore_index=True)
