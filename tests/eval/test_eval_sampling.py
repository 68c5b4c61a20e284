"""Few-shot sampling order equals the reference procedure of lm-evaluation-harness branch `polyglot` (v0.3
evaluator): one generator per task, seeded 42, shuffles the test docs, then draws `rnd.sample(train, k)` for each
document in turn, so the draws depend on every earlier document."""

from __future__ import annotations

import random

from polyglot_ko.eval.kobest import build_requests, load_split, render


def reference_contexts(task, test_docs, train_docs, k, limit):
    """The reference evaluator's loop, written out step by step (evaluator.evaluate + Task.fewshot_context)."""
    task_docs = list(test_docs)
    rnd = random.Random()
    rnd.seed(42)
    rnd.shuffle(task_docs)
    out = []
    for doc in task_docs[:limit]:
        if k == 0:
            labeled = ""
        else:
            fewshotex = rnd.sample(train_docs, k)
            labeled = "\n\n".join(render(task, d).prompt + render(task, d).target for d in fewshotex) + "\n\n"
        out.append((doc, labeled + render(task, doc).prompt))
    return out


def test_sampling_order_matches_reference(kobest_dir):
    test = load_split("copa", "test", kobest_dir)
    train = load_split("copa", "train", kobest_dir)
    for k in (0, 1, 5):
        ours = build_requests("kobest_copa", test, train, k, limit=40)
        ref = reference_contexts("kobest_copa", test, train, k, limit=40)
        assert [(r.doc, r.context) for r in ours] == ref


def test_generator_is_shared_across_documents(kobest_dir):
    test = load_split("sentineg", "test", kobest_dir)
    train = load_split("sentineg", "train", kobest_dir)
    reqs = build_requests("kobest_sentineg", test, train, 5, limit=3)
    # The second document's examples come from the generator state after the first document's draw, not from a
    # generator reseeded per document.
    rnd = random.Random(42)
    rnd.shuffle(list(test))
    first = rnd.sample(train, 5)
    second = rnd.sample(train, 5)
    assert reqs[0].context.startswith(render("kobest_sentineg", first[0]).prompt)
    assert reqs[1].context.startswith(render("kobest_sentineg", second[0]).prompt)
    assert first != second
    # --limit keeps the first documents of the full run unchanged.
    full = build_requests("kobest_sentineg", test, train, 5, limit=10)
    assert [r.context for r in full[:3]] == [r.context for r in reqs]
    # The shuffle is of the test split: the first document is not simply the first row.
    assert [r.doc for r in full] != test[:10]


def test_lm_eval_protocol_order(kobest_dir):
    """lm-eval 0.4: test docs in split order, examples from Random(1234) (its default fewshot_random_seed)."""
    test = load_split("wic", "test", kobest_dir)
    train = load_split("wic", "train", kobest_dir)
    reqs = build_requests("kobest_wic", test, train, 2, "lm-eval-0.4", limit=4)
    rnd = random.Random(1234)
    for req, doc in zip(reqs, test[:4], strict=False):
        ex = rnd.sample(train, 2)
        expect = (
            "".join(
                render("kobest_wic", e).prompt + " " + render("kobest_wic", e).choices[e["label"]] + "\n\n" for e in ex
            )
            + render("kobest_wic", doc).prompt
        )
        assert req.doc == doc and req.context == expect
