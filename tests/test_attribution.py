"""Word attributions through the sentence model: exact math on a tiny BERT, words and offsets,
truncation and agreement with the real encoder's embeddings."""

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from transformers import AutoTokenizer, BertConfig, BertModel

from nudge.estimators.attribution import (
    HiddenStateAttributor,
    OcclusionAttributor,
    SentenceAttributor,
    gather_to_words,
    left_out,
    log_odds,
    occlusion_weights,
    sliding_runs,
    word_spans,
)
from nudge.estimators.encoders import SentenceEncoder, default_model_path

TEXT = "Don't miss it!<br /><br />A well-made film, 10/10."


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer, 16-wide BERT with MiniLM's tokenizer, mean pooling and normalisation,
    reading at most 12 word pieces."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(folder)
    modules = [Transformer(str(folder), max_seq_length=12), Pooling(16, "mean"), Normalize()]
    return SentenceTransformer(modules=modules, device="cpu")


@pytest.fixture(scope="module")
def minilm():
    return SentenceEncoder().sentence_model()


def head(width: int, n_classes: int) -> torch.nn.Module:
    """A classifier over (N, width) embeddings: linear for two classes, a tanh MLP for more;
    weights large enough that the unit-length embeddings give logits far apart."""
    torch.manual_seed(1)
    if n_classes == 2:
        layers = [torch.nn.Linear(width, 2)]
    else:
        layers = [torch.nn.Linear(width, 8), torch.nn.Tanh(), torch.nn.Linear(8, n_classes)]
    for layer in layers[::2]:
        torch.nn.init.normal_(layer.weight, std=3.0)
    return torch.nn.Sequential(*layers).eval()


def test_words_and_their_character_offsets():
    spans = word_spans(TEXT)
    words = [TEXT[start:end] for start, end in spans]
    assert words == ["Don't", "miss", "it", "A", "well", "made", "film", "10", "10"]
    assert spans[:4].tolist() == [[0, 5], [6, 10], [11, 13], [26, 27]]
    assert word_spans("").shape == (0, 2) and word_spans("<br /> ... !").shape == (0, 2)


def test_pieces_are_summed_into_the_word_that_holds_them():
    spans = np.array([[0, 5], [6, 10]])
    offsets = np.array([[0, 0], [0, 3], [3, 4], [4, 5], [6, 10], [10, 11], [0, 0]])  # [CLS] don ' t miss ! [SEP]
    special = np.array([True, False, False, False, False, False, True])
    per_piece = np.arange(14, dtype=float).reshape(7, 2)
    weights, read = gather_to_words(per_piece, offsets, special, spans)
    np.testing.assert_array_equal(weights, [[2 + 4 + 6, 3 + 5 + 7], [8, 9]])
    assert read.tolist() == [True, True]
    weights, read = gather_to_words(per_piece[:2], offsets[:2], special[:2], spans)  # only "don" was read
    np.testing.assert_array_equal(weights, [[2, 3], [0, 0]])
    assert read.tolist() == [True, False]


def test_log_odds_of_each_class():
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.0, 1.0, 1.0]])
    p = torch.softmax(logits, -1)
    torch.testing.assert_close(log_odds(logits), torch.log(p) - torch.log1p(-p))
    two = torch.tensor([[0.5, 2.0]])
    torch.testing.assert_close(log_odds(two), torch.tensor([[-1.5, 1.5]]))


def test_the_embedding_path_is_the_encoders(minilm):
    attributor = SentenceAttributor(minilm)
    pieces = attributor.word_pieces(TEXT)
    with torch.no_grad():
        embedded = attributor.embed(attributor.token_embeddings(pieces.features["input_ids"]), pieces.features)
    np.testing.assert_allclose(embedded.numpy(), minilm.encode([TEXT]), atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_integrated_gradients_are_complete(tiny_model, n_classes):
    result = SentenceAttributor(tiny_model, n_steps=64).attribute("a fine film", head(16, n_classes))
    gap = result.scores - result.baseline_scores
    assert np.all(np.abs(gap) > 0.05)
    np.testing.assert_allclose(result.delta, 0.0, atol=1e-4 * np.abs(gap).max())
    # every piece of "a fine film" is a word: the words carry the whole difference
    np.testing.assert_allclose(result.weights.sum(axis=0), gap, rtol=1e-3)
    if n_classes == 2:
        np.testing.assert_allclose(result.weights[:, 0], -result.weights[:, 1])


def test_gradient_times_input_is_the_gradient_at_the_text_times_its_difference(tiny_model):
    classifier = head(16, 3)
    attributor = SentenceAttributor(tiny_model, n_steps=1)
    result = attributor.attribute("a fine film", classifier)
    pieces = attributor.word_pieces("a fine film")
    ids = pieces.features["input_ids"]
    inputs = attributor.token_embeddings(ids).detach().requires_grad_(True)
    baseline = attributor.token_embeddings(torch.where(torch.from_numpy(pieces.special), ids, 0)).detach()
    score = log_odds(classifier(attributor.embed(inputs, pieces.features)))[0, 2]
    (gradient,) = torch.autograd.grad(score, inputs)
    expected = (gradient * (inputs - baseline))[0].sum(-1)[1:-1]  # the three words, without [CLS] / [SEP]
    np.testing.assert_allclose(result.weights[:, 2], expected.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_words_past_the_models_reading_limit_are_unread(tiny_model):
    text = "one two three four five six seven eight nine ten eleven twelve thirteen"
    result = SentenceAttributor(tiny_model, n_steps=4).attribute(text, head(16, 2))
    assert result.words[:3] == ["one", "two", "three"]
    assert result.read.tolist() == [True] * 10 + [False] * 3  # 12 pieces: [CLS], ten words, [SEP]
    assert np.all(result.weights[~result.read] == 0) and np.all(result.weights[result.read] != 0)
    assert text[:result.read_chars] == "one two three four five six seven eight nine ten"
    short = SentenceAttributor(tiny_model, n_steps=4).attribute("one two", head(16, 2))
    assert short.read_chars == len("one two") and short.read.all()


def test_a_long_review_is_read_as_far_as_minilm_reads(minilm):
    text = " ".join(f"word{i}" for i in range(400))
    classifier = head(384, 2)
    result = SentenceAttributor(minilm, n_steps=1).attribute(text, classifier)
    pieces = len(minilm.tokenizer(text[:result.read_chars])["input_ids"])
    assert pieces == minilm.max_seq_length == 256
    assert 0 < result.read.sum() < 400 and not result.read[-1]
    with torch.no_grad():
        expected = torch.softmax(classifier(torch.from_numpy(minilm.encode([text]))), -1)[0].numpy()
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)


def test_hidden_state_shares_split_a_linear_score_exactly(tiny_model):
    classifier = head(16, 2)
    result = HiddenStateAttributor(tiny_model).attribute("a fine film", classifier)
    attributor = HiddenStateAttributor(tiny_model)
    pieces = attributor.word_pieces("a fine film")
    with torch.no_grad():
        hidden = tiny_model[0](dict(pieces.features))["token_embeddings"][0]  # (T, 16): [CLS] a fine film [SEP]
        mean = hidden.mean(0)
        w = classifier[0].weight[1] - classifier[0].weight[0]
        expected = (hidden @ w / (len(hidden) * mean.norm()))[1:-1]
    np.testing.assert_allclose(result.weights[:, 1], expected.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result.delta, 0.0, atol=1e-5)  # [CLS] and [SEP] hold the rest
    np.testing.assert_allclose(result.probabilities, torch.softmax(
        classifier(torch.from_numpy(tiny_model.encode(["a fine film"]))), -1)[0].detach().numpy(), atol=1e-6)


def test_hidden_state_shares_need_mean_pooling(tiny_model):
    cls_pooled = SentenceTransformer(modules=[tiny_model[0], Pooling(16, "cls"), Normalize()], device="cpu")
    with pytest.raises(ValueError, match="mean Pooling"):
        HiddenStateAttributor(cls_pooled)


def test_an_unknown_baseline_token_is_refused(tiny_model):
    with pytest.raises(ValueError, match="not a token"):
        SentenceAttributor(tiny_model, baseline_token="<nonsense-token>")
    with pytest.raises(ValueError, match="n_steps"):
        SentenceAttributor(tiny_model, n_steps=0)


WORD_VALUES = {"good": 2.0, "bad": -3.0, "film": 0.5}  # a toy encoder + classifier: the score sums word values


def toy_scores(texts: list[str]) -> np.ndarray:
    """(N, 2) log-odds of (Negative, Positive): s = sum of the words' values, and -s."""
    totals = [sum(WORD_VALUES.get(text[a:b], 0.0) for a, b in word_spans(text)) for text in texts]
    return np.array([[-s, s] for s in totals])


def test_occlusion_is_the_drop_of_the_score_when_a_word_is_left_out():
    text = "a good film, bad"  # s = 2 + 0.5 - 3 = -0.5
    spans = word_spans(text)
    assert [left_out(text, spans, 1, 2), left_out(text, spans, 2, 4)] == ["a  film, bad", "a good "]
    calls = []
    assert sliding_runs(4, 1) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    weights, scores, baseline = occlusion_weights(text, spans, 4, sliding_runs(4, 1),
                                                  lambda texts: calls.append(texts) or toy_scores(texts))
    assert len(calls) == 1 and len(calls[0]) == 2 + 4  # one batch: the text, the baseline, a variant per word
    # without "a": -0.5 (drop 0); "good": -2.5 (drop 2); "film": -1 (drop 0.5); "bad": 2.5 (drop -3)
    np.testing.assert_allclose(weights[:, 1], [0.0, 2.0, 0.5, -3.0])
    np.testing.assert_allclose(weights[:, 0], [0.0, -2.0, -0.5, 3.0])
    np.testing.assert_allclose(scores, [0.5, -0.5])
    np.testing.assert_allclose(baseline, [0.0, 0.0])  # every word left out: ""


def test_occlusion_of_runs_of_words_and_of_unread_words():
    text = "a good film, bad"
    spans = word_spans(text)
    # runs of two: "a good" (drop 2), "good film" (drop 2.5), "film, bad" (drop -2.5); means over the runs
    assert sliding_runs(4, 2) == [(0, 2), (1, 3), (2, 4)] and sliding_runs(1, 2) == [(0, 1)]
    weights, _, _ = occlusion_weights(text, spans, 4, sliding_runs(4, 2), toy_scores)
    np.testing.assert_allclose(weights[:, 1], [2.0, (2.0 + 2.5) / 2, (2.5 - 2.5) / 2, -2.5])
    # only the first three words read: "bad" is never left out and gets 0; the baseline keeps it
    weights, _, baseline = occlusion_weights(text, spans, 3, sliding_runs(3, 1), toy_scores)
    np.testing.assert_allclose(weights[:, 1], [0.0, 2.0, 0.5, 0.0])
    np.testing.assert_allclose(baseline, [3.0, -3.0])
    weights, scores, baseline = occlusion_weights("...", word_spans("..."), 0, sliding_runs(0, 1), toy_scores)
    assert weights.shape == (0, 2) and np.all(scores == baseline)


def test_occlusion_goes_through_the_encoder(tiny_model):
    classifier = head(16, 2)
    attributor = OcclusionAttributor(tiny_model, tiny_model.encode)
    text = "a fine film, really"
    result = attributor.attribute(text, classifier)
    with torch.no_grad():
        expected = log_odds(classifier(torch.from_numpy(tiny_model.encode([text, "a  film, really"]))))
    np.testing.assert_allclose(result.scores, expected[0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(result.weights[1], (expected[0] - expected[1]).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result.probabilities, torch.softmax(
        classifier(torch.from_numpy(tiny_model.encode([text]))), -1)[0].detach().numpy(), atol=1e-6)
    # a shortlist of 2: the two words with the largest hidden-state shares are left out, the others get 0
    shortlisted = OcclusionAttributor(tiny_model, tiny_model.encode, shortlist=2).attribute(text, classifier)
    shares = np.abs(HiddenStateAttributor(tiny_model).attribute(text, classifier).weights).max(axis=1)
    chosen = np.argsort(-shares)[:2]
    np.testing.assert_allclose(shortlisted.weights[chosen], result.weights[chosen], rtol=1e-5, atol=1e-7)
    assert np.all(np.delete(shortlisted.weights, chosen, axis=0) == 0)
    for wrong in ({"window": 0}, {"shortlist": 0}, {"window": 2, "shortlist": 3}):
        with pytest.raises(ValueError, match="window"):
            OcclusionAttributor(tiny_model, tiny_model.encode, **wrong)
