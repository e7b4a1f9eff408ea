"""The engine's parts and rules: winnowing, normalised tokens, what is discounted, what counts as a match."""

from __future__ import annotations

import os
import textwrap

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.commands.similarity import find_similar
from grader.commands.similarity.code_tokens import DEDENT, INDENT, STATEMENT_END, code_tokens
from grader.commands.similarity.inputs import CodeUnit, HandInText, SharedMaterial
from grader.commands.similarity.prose_tokens import prose_tokens
from grader.commands.similarity.report import SimilaritySettings
from grader.commands.similarity.winnow import kgram_hashes, token_id, winnow

PROPERTIES = settings(max_examples=60, deadline=None, derandomize=os.environ.get("CI") == "true")


@PROPERTIES
@given(st.lists(st.integers(0, 5), min_size=0, max_size=40), st.lists(st.integers(0, 5), min_size=0, max_size=40),
       st.lists(st.integers(0, 5), min_size=15, max_size=30))
def test_a_shared_passage_of_the_guaranteed_length_always_shares_a_fingerprint(before, after, passage):
    """Winnowing's guarantee: a passage of window + k - 1 tokens gives both documents a common fingerprint,
    whatever surrounds it (tokens drawn from six values, so ties and repeats are frequent)."""
    k, window = 8, 6
    assert len(passage) >= k + window - 1
    first = np.array([*before, *passage], dtype=np.uint64) + np.uint64(1)
    second = np.array([*passage, *after], dtype=np.uint64) + np.uint64(1)
    kept = []
    for doc in (first, second):
        hashes = kgram_hashes(doc, k)
        kept.append(set(hashes[winnow(hashes, window)].tolist()))
    assert kept[0] & kept[1]


def test_winnowing_keeps_few_fingerprints_and_hashes_are_stable_across_processes():
    ids = [token_id(f"t{i % 97}") for i in range(5000)]
    hashes = kgram_hashes(ids, 10)
    assert len(hashes) == 4991
    kept = winnow(hashes, 6)
    assert 0.2 < len(kept) / len(hashes) < 0.4  # about 2 / (window + 1)
    assert list(kept) == sorted(set(kept.tolist()))
    # blake2b, not Python's salted hash(): the same token has the same id in every run.
    assert token_id("def") == 4315770529682823461
    assert len(winnow(kgram_hashes([1, 2, 3], 10), 6)) == 0
    short = kgram_hashes([1, 2, 3, 4], 2)  # fewer hashes than a window: the rightmost minimum is kept
    assert list(winnow(short, 6)) == [max(i for i, h in enumerate(short) if h == short.min())]


def test_code_is_compared_without_names_literals_comments_docstrings_and_layout():
    original = textwrap.dedent('''
        def kl_discrete(p, q):
            """KL(p||q)."""
            # sum over the support of p
            terms = np.where(p > 0, p * np.log(p / q), 0.0)
            return float(terms.sum())
        ''')
    disguised = textwrap.dedent('''
        def kl_discrete(probs,
                        ref):
            """Kullback-Leibler divergence, natural log."""
            t = np.where(probs > 0, probs * np.log(probs / ref), 1.5)   # zero where p is zero
            return float(t.sum());
        ''')
    assert code_tokens(original).tokens == code_tokens(disguised).tokens
    tokens = code_tokens(original).tokens
    assert "np" not in tokens and "V" in tokens and "log" in tokens and "float" in tokens and "N" in tokens


def test_code_tokens_know_their_question_from_the_checked_names():
    source = "import numpy as np\n\ndef reparameterize(mu, log_var, eps):\n    return mu\n\nP = [0.5, 0.5]\nx = 1\n"
    result = code_tokens(source, {"reparameterize": "3d", "P": "3c"})
    by_line = {}
    for token, (line, _), question in zip(result.tokens, result.lines, result.questions):
        if token not in (STATEMENT_END, INDENT, DEDENT):  # the dedent ending a def sits on the next line
            by_line.setdefault(line, set()).add(question)
    assert by_line[1] == {None} and by_line[3] == {"3d"} and by_line[4] == {"3d"}
    assert by_line[6] == {"3c"} and by_line[7] == {None}
    assert code_tokens(source, {"reparameterize": "3d"}, question="1b").questions == ["1b"] * len(result.tokens)


def test_code_that_python_cannot_tokenize_is_compared_as_plain_tokens():
    broken = "def f(x):\n    return x + 1\n  y = 2\nz = '''never closed\n"
    result = code_tokens(broken)
    assert result.note and "line 3" in result.note
    assert result.tokens[:3] == ["def", "V", "("] and "V" in result.tokens[-6:]


def test_prose_tokens_fold_stem_and_drop_stop_words_and_checked_names():
    a = prose_tokens("Die Gradienten verschwinden, weil kl_discrete(P, Q) NICHT symmetrisch ist.", ["kl_discrete", "P"])
    b = prose_tokens("die gradienten verschwinden weil <b>nicht</b> symmetrisch", [])
    assert a.tokens == b.tokens
    text = "Über-Anpassung (overfitting)"
    words = prose_tokens(text)
    assert [text[s:e] for s, e in words.spans] == ["Über-Anpassung", "overfitting"]


def _hand_in(name: str, code: str = "", **answers: str) -> HandInText:
    return HandInText(name, code=(CodeUnit("cell 1", code),) if code else (), answers=answers)


TEMPLATE = "def reparameterize(mu, log_var, eps):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
SHARED = SharedMaterial(code=(TEMPLATE,), names={"reparameterize": "3d"})


def test_independent_correct_solutions_of_a_three_line_function_are_not_a_match():
    """Three groups write the obvious three lines the same way: that is not evidence, however alike."""
    solution = ("def reparameterize(mu, log_var, eps):\n    std = torch.exp(0.5 * log_var)\n"
                "    return mu + std * eps\n")
    renamed = ("def reparameterize(mean, logvar, noise):\n    sigma = torch.exp(0.5 * logvar)\n"
               "    return mean + sigma * noise\n")
    report = find_similar([_hand_in("a", solution), _hand_in("b", renamed), _hand_in("c", solution)], SHARED,
                          SimilaritySettings(listed_from=0.0))
    assert report.flagged == []
    assert all(p.score < 0.35 for p in report.pairs)


def test_a_long_function_copied_with_new_names_is_a_match():
    body = "\n".join(f"    value_{i} = torch.exp(0.5 * log_var) * eps + mu * {i}" for i in range(12))
    original = f"def reparameterize(mu, log_var, eps):\n{body}\n    return value_11\n"
    copy = original.replace("value_", "v").replace("log_var", "lv")
    report = find_similar([_hand_in("a", original), _hand_in("b", copy)], SHARED)
    assert [p.names for p in report.flagged] == [("a", "b")]
    assert report.flagged[0].code.share_a == 1.0


def test_the_same_sentences_in_one_question_are_found_even_when_the_rest_differs():
    shared_3b = ("The Kullback Leibler divergence quantifies the expected surplus of nats when samples drawn from "
                 "the true distribution are encoded with a code optimised for an approximating distribution.")
    first = _hand_in("first", **{"3b": shared_3b + " We use it in the VAE loss.",
                                 "2a": "Dropout, weight decay and early stopping all reduce overfitting in practice."})
    second = _hand_in("second", **{"3b": "In short: " + shared_3b,
                                   "2a": "Batch normalisation and data augmentation help a network generalise."})
    report = find_similar([first, second])
    assert len(report.flagged) == 1
    found = report.flagged[0]
    assert found.questions == ("3b",) and found.answers[0].part.share_b > 0.8
    assert found.prose.share_a < 0.8  # over all answers less matches: the single question is what flags it


def test_answers_to_different_questions_are_not_compared():
    text = ("Residual connections let the gradient flow through an identity shortcut around every block, so "
            "very deep networks remain trainable.")
    report = find_similar([_hand_in("x", **{"2d": text}), _hand_in("y", **{"2b": text})])
    assert report.pairs == [] and report.candidate_pairs == 0


def test_task_text_restated_in_answers_is_not_evidence():
    task = ("Explain the internal covariate shift and how it has been addressed in the literature. Describe "
            "how normalising the activations of each layer over a mini-batch changes the optimisation of deep "
            "networks and which learning rates become possible.")
    shared = SharedMaterial(text=(task,))
    first = _hand_in("first", **{"2b": task + " Layers see shifting inputs; batch norm helps."})
    second = _hand_in("second", **{"2b": task + " It slows training; normalising activations fixes it."})
    assert find_similar([first, second], SharedMaterial()).flagged
    assert not find_similar([first, second], shared).flagged


def test_a_passage_that_many_hand_ins_have_is_everybodys():
    """A helper every group pasted from the forum is discounted once more than the limit have it."""
    helper = "\n".join(f"def helper_{i}(x):\n    return np.clip(x * {i}, -1.0, 1.0) + np.tanh(x) ** 2\n"
                       for i in range(6))
    hand_ins = [_hand_in(f"h{i}", helper + f"\nresult = [{i}] * {i}\n") for i in range(12)]
    crowded = find_similar(hand_ins, settings=SimilaritySettings(common_hand_ins=10))
    assert crowded.flagged == [] and crowded.discounted.common_code_passages > 0
    few = find_similar(hand_ins[:4], settings=SimilaritySettings(common_hand_ins=10))
    assert len(few.flagged) == 6  # four hand-ins: every pair shares the helper


def test_the_index_compares_only_pairs_that_share_something():
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(3000)]
    hand_ins = [_hand_in(f"s{i}", **{"1a": " ".join(rng.choice(words, 150))}) for i in range(60)]
    hand_ins.append(_hand_in("copy", **{"1a": hand_ins[5].answers["1a"]}))
    report = find_similar(hand_ins)
    assert report.all_pairs == 61 * 60 // 2
    assert report.candidate_pairs < 20
    assert [p.names for p in report.flagged] == [("s5", "copy")]


def test_capped_input_is_noted_not_dropped_silently():
    big = "x = 1\n" * 20_000
    report = find_similar([_hand_in("big", big), _hand_in("other", "y = 2\n")],
                          settings=SimilaritySettings(max_code_chars=1_000, max_answer_chars=100))
    assert any("first 1,000 characters" in note for note in report.notes["big"])
