"""Train the answer-span ranker on XQuAD questions kept apart from the evaluation.

Its LLM features come from the answer scorer (``RAG_SCORER_PATH``, default: the bundled Gemma 3 270M), whose
weights go to rag/span_ranker_scorer.json; with ``--scorer-path none`` SmolLM2 scores, into rag/span_ranker.json.

    .venv/bin/python eval/train_span_ranker.py                  # 20–40 min on 2 cores (longer with the scorer)
    .venv/bin/python eval/train_span_ranker.py --train 100 --out /tmp/ranker.json   # a quick look
    .venv/bin/python eval/train_span_ranker.py --rows rows.json --rescore   # collected rows, rescored (~20 min)

What it does:

1. Holds out the evaluation sample: ``--heldout-limit 300 --heldout-seed 1`` is exactly the sample that
   ``rag eval --limit 300 --seed 1`` draws, so the numbers the README reports are on questions the ranker
   never saw. ``--train`` other questions are drawn (``--seed``) from the rest.
2. Runs the real pipeline on each (the bundled models, the real index of the XQuAD articles), with a
   neutral ranker so that every candidate span of the best two sentences is scored by the LLM too.
   ``--rows`` keeps what was collected (each candidate's features, sentence and offsets); a later run
   reuses it and recomputes the evidence features that need no LLM (``answered_cos``) with today's code,
   and a larger ``--train`` asks only the questions the file does not hold yet.
3. Labels a candidate positive when its token F1 against the gold answers is the question's best and at
   least 0.5, and fits two linear rankers: ``cheap`` on the evidence features (it shortlists what the LLM
   scores; with the answer scorer, its first-token log-probability of each candidate too, which it has for
   all of them once it has read the prompt) and ``full`` with the LLM's likelihood features added. Each is a softmax over a
   question's candidates (``--objective listwise``, the default: it learns the choice the ranker makes);
   a logistic regression of "this candidate is the answer" (scikit-learn) on the full features is kept as
   ``confidence``, whose scores mean the same across questions, for the abstention floor.
   (``--objective pointwise`` fits the two stages that way instead, as the weights before
   the fifteenth session were.)
4. Prints 5-fold cross-validated F1 / contains of the span each stage would choose, and the share of
   questions whose best candidate survives the shortlist, then writes the weights.

Nothing about a particular question, answer or article is stored: only one weight per feature.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.gold import read_gold, sample_gold  # noqa: E402
from rag.metrics import best_f1, contains_answer  # noqa: E402
from rag.spans import CHEAP_FEATURES, FIRST_TOKEN_FEATURES, LLM_FEATURES, LP_FLOOR, SCORER_WEIGHTS, WEIGHTS, Candidate, SpanRanker  # noqa: E402


def collect(pipe, items, progress=True):
    """(question, gold answers, candidates with features) for each question; no candidates when it abstained."""
    from tqdm import tqdm

    rows = []
    for g in tqdm(items, desc="collect", disable=not progress):
        a = pipe.ask(g.question)
        if a.abstained or not a.spans:
            rows.append((g.question, g.answers, []))  # nothing to learn from; kept so that it is not asked again
            continue
        # the sentence and offsets too, so that a new evidence feature can be tried without collecting again
        rows.append((g.question, g.answers, [(c.text, dict(c.features), getattr(c.doc, "text", None), c.start, c.end)
                                             for c in a.spans]))
    return rows


def refresh_evidence_features(rows, embedder=None, nlp=None, progress=True):
    """Recompute the evidence features that need no LLM (``answered_cos``, the gap's context, what the question
    asks for) from the sentence and offsets
    stored with each candidate, with the function the pipeline calls: rows collected before the feature
    existed, or before its code changed, then train on what the pipeline computes today."""
    from tqdm import tqdm

    from rag.answer import clean_question
    from rag.settings import Settings
    from rag.spans import add_answered_cos, asks_action, asks_reason, context_features

    if any(len(c) < 5 or c[2] is None for r in rows for c in r[2]):
        raise SystemExit("these rows were collected without their sentences: collect them again (a new --rows)")
    settings = Settings()
    if embedder is None:
        from rag.embedding import make_embedder

        embedder = make_embedder(settings)
    if nlp is None:
        from rag.text import load_parser

        nlp = load_parser()  # as rag.answer
    for q, _, cands in tqdm(rows, desc="evidence features", disable=not progress):
        q = clean_question(q, settings.max_question_chars)
        sentences = list(dict.fromkeys(c[2] for c in cands))
        docs = [nlp(s) for s in sentences]
        q_doc = nlp(q)
        objs = [Candidate(c[0], sentences.index(c[2]), c[3], c[4], None, "collected", c[1],
                          doc=docs[sentences.index(c[2])]) for c in cands]
        add_answered_cos(objs, sentences, q, q_doc, embedder)  # writes into each row's feature dict
        action, why = asks_action(q, q_doc), asks_reason(q)
        for o in objs:
            o.features.update(context_features(o, q_doc))
            clause, verb = o.features.get("is_clause", 0.0), o.features.get("is_verb", 0.0)
            o.features["action_for_do"] = float(action and bool(clause or verb))
            o.features["clause_for_why"] = float(why and bool(clause))


def rescore(rows, scorer, progress=True):
    """Replace every candidate's LLM features with the answer scorer's (``rag.llm.LikelihoodScorer``), computed as
    the pipeline computes them: the candidate's question and its two best sentences (in evidence order)."""
    from tqdm import tqdm

    from rag.answer import clean_question
    from rag.spans import llm_features

    for q, _, cands in tqdm(rows, desc="answer scorer", disable=not progress):
        sentences = [text for _, text in sorted({(c[1]["ev_rank"], c[2]) for c in cands})]
        rated = scorer.score_shortlist(sentences, clean_question(q), [c[0] for c in cands],
                                       lambda firsts: range(len(firsts)))
        if rated is None:
            raise SystemExit(f"the answer scorer {scorer.name} failed; see the warning above")
        for i, (c, lp_first) in enumerate(zip(cands, rated[0])):
            c[1].update(llm_features(*rated[1][i]), lp_first=max(LP_FLOOR, lp_first))


def matrix(rows, names):
    X = [np.array([[c[1].get(n, 0.0) for n in names] for c in cands], dtype=np.float64) for _, _, cands in rows]
    Y = []
    for _, gold, cands in rows:
        f1 = np.array([best_f1(c[0], gold) for c in cands])
        Y.append(((f1 >= f1.max() - 1e-9) & (f1 >= 0.5)).astype(int))
    return X, Y


def _clean(X):
    return np.maximum(np.nan_to_num(X, nan=LP_FLOOR, neginf=LP_FLOOR), LP_FLOOR)  # as rag.spans.llm_features


def fit(X, Y, C=1.0):
    """Pointwise: a logistic regression of "this candidate is the answer", over all candidates at once. Its
    score means the same across questions, which is what the abstention floor needs."""
    from sklearn.linear_model import LogisticRegression

    Xa, ya = _clean(np.vstack(X)), np.concatenate(Y)
    mean = Xa.mean(axis=0)
    scale = Xa.std(axis=0) + 1e-6
    model = LogisticRegression(C=C, max_iter=5000).fit((Xa - mean) / scale, ya)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0])}


def fit_listwise(X, Y, C=1.0):
    """Listwise: a softmax over each question's candidates (a conditional logit), fitted to put the
    probability on its right ones, with the same L2 penalty as ``fit``. It learns what the ranker does,
    choosing one span among a question's candidates; a feature that is the same for all of them (how
    well the passage matches) only shifts them together, so its scores do not say how sure it is."""
    from scipy.optimize import minimize

    Xa = _clean(np.vstack(X))
    mean = Xa.mean(axis=0)
    scale = Xa.std(axis=0) + 1e-6
    groups = [((_clean(x) - mean) / scale, np.asarray(y, dtype=float) / np.sum(y)) for x, y in zip(X, Y) if np.sum(y)]

    def loss(w):
        value, grad = 0.5 * w @ w / C, w / C
        for x, target in groups:
            z = x @ w
            z -= z.max()
            p = np.exp(z)
            p /= p.sum()
            value -= target @ np.log(np.maximum(p, 1e-300))
            grad += x.T @ (p - target)
        return value, grad

    w = minimize(loss, np.zeros(Xa.shape[1]), jac=True, method="L-BFGS-B").x
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": w.tolist(), "intercept": 0.0}


def stage(names, w):
    return {"features": list(names), **w}


def candidates(feats_list):
    return [Candidate(c[0], 0, 0, 0, None, "collected", dict(c[1])) for c in feats_list]


def choose(ranker, stage_name, feats_list, limit=None):
    cands = candidates(feats_list)
    if limit:
        cands = ranker.shortlist(cands, limit)
    for c in cands:
        c.score = ranker._score(stage_name, c.features)
    return max(cands, key=lambda c: c.score).text


def cross_validate(rows, prefilter, groups, folds=5, objective="listwise"):
    """Folds by article (``groups``): no test question shares a paragraph with a training one."""
    order = {g: k for k, g in enumerate(sorted(set(groups)))}
    fold_of = [order[g] % folds for g in groups]
    out = {"cheap": [], "full": [], "shortlist_recall": []}
    for f in range(folds):
        train = [r for r, k in zip(rows, fold_of) if k != f]
        test = [r for r, k in zip(rows, fold_of) if k == f]
        ranker = SpanRanker(train_weights(train, prefilter, objective))
        for q, gold, cands in test:
            out["cheap"].append(_scores(choose(ranker, "cheap", cands), gold))
            out["full"].append(_scores(choose(ranker, "full", cands, prefilter), gold))
            f1 = [best_f1(c[0], gold) for c in cands]
            short = {c.text for c in ranker.shortlist(candidates(cands), prefilter)}
            if max(f1) >= 0.5:
                out["shortlist_recall"].append(any(c[0] in short and v >= max(f1) - 1e-9 for c, v in zip(cands, f1)))
    return out


def _scores(text, gold):
    return best_f1(text, gold), float(contains_answer(text, gold))


def train_weights(rows, prefilter, objective="listwise"):
    """The two ranking stages; with the listwise objective, the pointwise model of the full features too, as
    the ``confidence`` stage that the abstention floor reads."""
    full_names = CHEAP_FEATURES + LLM_FEATURES
    # the answer scorer's first-token log-probabilities, when it gave them, help the cheap stage shortlist
    # (it has them for every candidate); the full stage has the whole span's likelihood instead
    have = [all(n in c[1] for n in FIRST_TOKEN_FEATURES) for _, _, cands in rows for c in cands]
    first = FIRST_TOKEN_FEATURES if all(have) else ()
    if any(have) and not all(have):
        print(f"{have.count(False)} of {len(have)} candidates lack the answer scorer's {', '.join(FIRST_TOKEN_FEATURES)}"
              " (rows collected before it, or without the scorer): the cheap stage is trained without it; add "
              "--rescore to compute it for every row", file=sys.stderr)
    cheap_names = CHEAP_FEATURES + first
    Xc, Y = matrix(rows, cheap_names)
    Xf, _ = matrix(rows, full_names)
    if objective == "pointwise":
        return {"prefilter": prefilter, "cheap": stage(cheap_names, fit(Xc, Y)),
                "full": stage(full_names, fit(Xf, Y))}
    return {"prefilter": prefilter, "objective": objective, "cheap": stage(cheap_names, fit_listwise(Xc, Y)),
            "full": stage(full_names, fit_listwise(Xf, Y)), "confidence": stage(full_names, fit(Xf, Y))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "eval/xquad/gold.jsonl")
    ap.add_argument("--corpus", type=Path, default=ROOT / "eval/xquad/corpus")
    ap.add_argument("--index", type=Path, default=None, help="index of --corpus (default: rag eval's cached one)")
    ap.add_argument("--train", type=int, default=500, help="training questions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout-limit", type=int, default=300)
    ap.add_argument("--heldout-seed", type=int, default=1)
    ap.add_argument("--prefilter", type=int, default=8, help="candidates the LLM scores per question")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"weights file (default: {WEIGHTS.name}, or {SCORER_WEIGHTS.name} with an answer scorer)")
    ap.add_argument("--scorer-path", default=None,
                    help="answer scorer GGUF, or 'bundled' (default: RAG_SCORER_PATH; 'none' = the LLM scores)")
    ap.add_argument("--rescore", action="store_true",
                    help="with --rows: recompute the LLM features with the answer scorer instead of collecting again")
    ap.add_argument("--rows", type=Path, default=None, help="reuse (or save) the collected features here")
    ap.add_argument("--objective", choices=("listwise", "pointwise"), default="listwise",
                    help="how the ranking stages are fitted (pointwise: as up to the fourteenth session)")
    ap.add_argument("--compare", action="store_true", help="print the other objective's cross-validation too")
    args = ap.parse_args(argv)

    from rag.llm import make_scorer
    from rag.settings import Settings

    base_settings = Settings() if args.scorer_path is None else Settings(scorer_path=args.scorer_path)
    scorer = make_scorer(base_settings)
    args.out = args.out or (SCORER_WEIGHTS if scorer is not None else WEIGHTS)
    if args.rescore and (scorer is None or not (args.rows and args.rows.exists())):
        raise SystemExit("--rescore needs collected --rows and an answer scorer (--scorer-path or RAG_SCORER_PATH)")
    items = read_gold(args.gold)
    heldout = {g.id for g in sample_gold(items, args.heldout_limit, args.heldout_seed)}
    pool = [g for g in items if g.answerable and g.id not in heldout]
    train = sample_gold(pool, args.train, args.seed)
    print(f"{len(items)} gold questions; held out {len(heldout)} (rag eval --limit {args.heldout_limit} "
          f"--seed {args.heldout_seed}); training on {len(train)} of the other {len(pool)}")

    rows = []
    if args.rows and args.rows.exists():
        rows = [tuple(r) for r in json.loads(args.rows.read_text())]
        drawn = {g.question for g in train}
        rows = [r for r in rows if r[0] in drawn]  # a smaller --train reuses part of a larger collection
        have = {r[0] for r in rows}
        # a larger --train collects only what is missing (and again the questions that abstained last time)
        todo = [g for g in train if g.question not in have] if not args.rescore else []
    else:
        todo = train
    if todo:
        from rag.answer import Pipeline
        from rag.evaluate import cache_dir_for

        settings = base_settings.model_copy(update={"span_llm_candidates": 64})
        index = args.index or cache_dir_for(args.corpus.resolve())
        if not (index / "CURRENT").exists():
            from rag.embedding import make_embedder
            from rag.indexing import build_index

            build_index(settings, make_embedder(settings), args.corpus, index, progress=True)
        pipe = Pipeline.from_settings(settings, index)  # with the answer scorer, if one is set
        pipe.ranker = SpanRanker.neutral()
        pipe.warm_up()
        t0 = time.perf_counter()
        new = collect(pipe, todo)
        print(f"collected {sum(len(c) for _, _, c in new)} candidates of {sum(1 for r in new if r[2])} answered questions "
              f"({len(todo)} asked) in {time.perf_counter() - t0:.0f} s")
        rows += new
        if args.rows:
            args.rows.write_text(json.dumps(rows))
    rows = [r for r in rows if r[2]]  # the answered questions

    refresh_evidence_features(rows)
    if args.rescore:
        rescore(rows, scorer)
    doc_of = {g.question: g.doc for g in items}
    groups = [doc_of.get(q, q) for q, _, _ in rows]
    cv = cross_validate(rows, args.prefilter, groups, objective=args.objective)
    mean = lambda xs, k: statistics.mean(x[k] for x in xs)  # noqa: E731
    oracle = [max(_scores(c[0], g) for c in cands) for _, g, cands in rows]
    print(f"5-fold CV by article over {len(rows)} answered training questions (F1 / contains of the chosen span):")
    print(f"  shortlisting stage (cheap) {mean(cv['cheap'], 0):.3f} / {mean(cv['cheap'], 1):.3f}")
    print(f"  + LLM likelihood (full)   {mean(cv['full'], 0):.3f} / {mean(cv['full'], 1):.3f}")
    print(f"  best candidate (ceiling)  {mean(oracle, 0):.3f} / {mean(oracle, 1):.3f}")
    print(f"  best candidate kept by the top-{args.prefilter} shortlist: {statistics.mean(cv['shortlist_recall']):.3f}")
    if args.compare:
        other = "pointwise" if args.objective == "listwise" else "listwise"
        cv2 = cross_validate(rows, args.prefilter, groups, objective=other)
        print(f"  {other}: cheap {mean(cv2['cheap'], 0):.3f} / {mean(cv2['cheap'], 1):.3f}, "
              f"full {mean(cv2['full'], 0):.3f} / {mean(cv2['full'], 1):.3f}, "
              f"shortlist {statistics.mean(cv2['shortlist_recall']):.3f}")

    weights = train_weights(rows, args.prefilter, args.objective)
    if scorer is not None:
        weights["scorer"] = scorer.name
    weights["trained_on"] = {"gold": args.gold.name, "questions": len(rows), "drawn": args.train, "seed": args.seed,
                             "heldout": f"--limit {args.heldout_limit} --seed {args.heldout_seed}",
                             "candidates": sum(len(c) for _, _, c in rows)}
    args.out.write_text(json.dumps(weights, indent=1) + "\n")
    for name in ("cheap", "full"):
        w = weights[name]
        print(f"{name}: " + ", ".join(f"{n} {c:+.2f}" for n, c in sorted(zip(w["features"], w["coef"]),
                                                                         key=lambda t: -abs(t[1]))))
    print(f"wrote {args.out}; new scores need a new abstention floor, which it no longer holds:\n"
          "  python eval/calibrate_span_floor.py --split-dir /tmp/xquad-split --recollect --write")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
