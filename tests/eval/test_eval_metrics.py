"""Macro F1 against scikit-learn, and acc / acc_norm on hand-made log-likelihoods."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import f1_score

from polyglot_ko.eval.kobest import macro_f1, metrics


@pytest.mark.parametrize("n_classes", [2, 4])
def test_macro_f1_equals_sklearn(n_classes):
    rnd = random.Random(n_classes)
    for _trial in range(60):
        n = rnd.randint(1, 40)
        golds = [rnd.randrange(n_classes) for _ in range(n)]
        # Skewed predictions: some classes never predicted, sometimes only one class at all.
        weights = [rnd.random() ** 3 for _ in range(n_classes)]
        preds = rnd.choices(range(n_classes), weights=weights, k=n)
        assert macro_f1(golds, preds) == pytest.approx(f1_score(golds, preds, average="macro"), abs=1e-12)


def test_acc_and_acc_norm_by_hand():
    golds = [0, 1, 1]
    lls = [[-1.0, -2.0], [-3.0, -4.0], [-4.0, -4.5]]
    lens = [[1, 1], [1, 4], [2, 9]]
    m = metrics(golds, lls, lens)
    # argmax: 0, 0, 0 -> one correct; normalised: [-1,-2]->0, [-3,-1]->1, [-2,-0.5]->1 -> all correct
    assert m == {
        "macro_f1": pytest.approx(f1_score(golds, [0, 0, 0], average="macro")),
        "acc": pytest.approx(1 / 3),
        "acc_norm": pytest.approx(1.0),
        "n": 3,
    }


def test_ties_pick_the_first_candidate_like_numpy():
    m = metrics([1], [[-2.0, -2.0]], [[1, 1]])
    assert m["acc"] == 0.0
