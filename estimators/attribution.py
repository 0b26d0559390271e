"""Word attributions: which words of a text push a classifier over sentence embeddings towards each class.

The classifier reads E(text), the sentence model's embedding (for MiniLM: the
normalised mean of the transformer's last hidden states). Each word piece t of
the text gets a share a_t of each class score s_c, the log-odds of class c,
log p_c - log(1 - p_c) = z_c - logsumexp_{j != c} z_j (for two classes the two
scores are opposite, z_1 - z_0 and z_0 - z_1, so one pass gives both). Two
ways, one path each (:meth:`SentenceAttributor.path`):

- :class:`SentenceAttributor`: integrated gradients (Sundararajan et al. 2017,
  by Captum) on the word-piece embeddings e, through the whole model:
  a_t = (e_t - e'_t) . integral_0^1 d s(e' + alpha (e - e')) / d e_t d alpha,
  with the baseline e' putting ``[PAD]`` in place of every word piece (``[CLS]``
  and ``[SEP]`` kept, so they get nothing). Completeness: sum_t a_t =
  s(e) - s(e') up to the quadrature error, reported as ``delta``. With
  ``n_steps=1``: gradient x (input - baseline) at the text.
- :class:`HiddenStateAttributor`: each position's exact share of a linear
  classifier's score through the last hidden states, in one forward pass.
- :class:`OcclusionAttributor`: leave one word (or a short run of words) out,
  re-embed every such variant with the encoder that made the vectors, and take
  the drop in each class score; one embedding per word. The methods are
  compared on the CAD revisions by bench/bench_highlights.py.

Word pieces are gathered into words (letters and digits with inner
apostrophes, see :func:`word_spans`; IMDb's ``<br />`` markup and punctuation
are not words) by their character offsets; a word's weight is the sum of its
pieces'. The sentence model reads only its first ``max_seq_length`` word
pieces (256 for MiniLM, about 200 words): later words are marked unread and
get no weight, as the model never saw them.

Attributions use the loaded ``SentenceTransformer`` itself (the weights that
made the embeddings), calling its modules directly (with ``inputs_embeds`` in
place of token ids for integrated gradients): nothing is hooked or changed in
the model, so embeddings computed at the same time in other threads are untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import Tensor

WORD = re.compile(r"\w+(?:['’]\w+)*")
HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def word_spans(text: str) -> np.ndarray:
    """(W, 2) int64 character spans [start, end) of the words of ``text``, in order.

    A word is a run of letters and digits, with inner apostrophes ("don't" is
    one word, "well-made" two); IMDb's HTML line breaks (``<br />``) are markup,
    not words.
    """
    visible = HTML_BREAK.sub(lambda match: " " * len(match.group()), text)
    spans = [match.span() for match in WORD.finditer(visible)]
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def log_odds(logits: Tensor) -> Tensor:
    """(N, C) logits -> (N, C) log-odds log p_c - log(1 - p_c) of each class c."""
    n_classes = logits.shape[-1]
    others = logits.unsqueeze(-2).expand(*logits.shape[:-1], n_classes, n_classes)
    excluded = torch.eye(n_classes, dtype=torch.bool, device=logits.device)
    return logits - others.masked_fill(excluded, float("-inf")).logsumexp(dim=-1)


@dataclass(frozen=True)
class WordAttributions:
    """A text's words and how much each pushed the classifier towards each class (W words, C classes).

    spans : (W, 2) character spans [start, end) in the text.
    weights : (W, C) each word's share of each class's log-odds, s_c(text) - s_c(baseline);
        positive: towards class c. Unread words have 0.
    read : (W,) whether the sentence model read the word (within its first word pieces).
    read_chars : the model read text[:read_chars]; len(text) when it read it all.
    scores : (C,) log-odds of each class for the text; ``baseline_scores`` for the baseline.
    probabilities : (C,) the classifier's probabilities for the text.
    delta : (C,) completeness gap, sum of all word pieces' attributions - (scores - baseline_scores);
        the part of it outside words (punctuation, markup) is ``weights`` left out.
    """

    text: str
    spans: np.ndarray
    weights: np.ndarray
    read: np.ndarray
    read_chars: int
    scores: np.ndarray
    baseline_scores: np.ndarray
    probabilities: np.ndarray
    delta: np.ndarray

    @property
    def words(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]


@dataclass(frozen=True)
class WordPieces:
    """A tokenised text as the sentence model reads it (T word pieces, after truncation)."""

    features: dict[str, Any]  # the model's own preprocess output: input_ids (1, T), attention_mask, ...
    offsets: np.ndarray  # (T, 2) character spans; (0, 0) for special tokens
    special: np.ndarray  # (T,) bool

    def read_chars(self, length: int, max_pieces: int) -> int:
        """How many characters of a text of ``length`` the model read: all, unless truncated."""
        if len(self.special) < max_pieces:
            return length
        return int(self.offsets[~self.special, 1].max())


class SentenceAttributor:
    """Integrated gradients through a sentence-transformers model into a classifier over its embeddings.

    Parameters
    ----------
    model : a loaded ``SentenceTransformer`` whose first module is a transformer taking
        ``inputs_embeds`` (BERT-like: MiniLM, MPNet, ...); see :meth:`SentenceEncoder.sentence_model`.
    n_steps : points on the path from the baseline to the text (one batched pass);
        1 gives gradient x (input - baseline).
    baseline_token : the word piece that replaces every word piece of the text in the
        baseline. Default None: the tokenizer's pad token.
    head : ``head(text, logits) -> logits``, the classifier as a function of ``model``'s embedding
        of ``text`` when the classifier reads more than it (several models' vectors side by side:
        :meth:`nudge.estimators.encoders.SentenceEncoder.logits_through_model`). Default None: ``logits``.
    """

    def __init__(self, model, n_steps: int = 8, baseline_token: str | None = None,
                 head: Callable[[str, Callable], Callable] | None = None) -> None:
        if n_steps < 1:
            raise ValueError(f"n_steps must be at least 1, got {n_steps}")
        self.model = model.eval()  # as SentenceTransformer.encode does: no dropout
        self.n_steps = n_steps
        self.head = head
        tokenizer = model.tokenizer
        token = tokenizer.pad_token if baseline_token is None else baseline_token
        if token not in tokenizer.get_vocab():
            raise ValueError(f"{token!r} is not a token of the sentence model's vocabulary")
        self.baseline_id = tokenizer.convert_tokens_to_ids(token)
        self.token_embeddings = model[0].auto_model.get_input_embeddings()
        prompt = getattr(model, "default_prompt_name", None)
        self.prefix = model.prompts.get(prompt, "") if prompt else ""  # e5 reads "query: " + text

    @property
    def description(self) -> str:
        """The method in words, for a page or a report."""
        if self.n_steps == 1:
            return "gradient x (input - baseline) on the word-piece embeddings, [PAD] baseline"
        return f"integrated gradients on the word-piece embeddings, {self.n_steps} steps, [PAD] baseline"

    @property
    def max_pieces(self) -> int:
        return int(self.model.max_seq_length)

    def word_pieces(self, text: str) -> WordPieces:
        """The model's own tokenisation of ``text`` (after the model's prefix, if it has one) and
        each piece's character span in ``text``; the prefix's pieces count as special."""
        read = self.prefix + text
        features = self.model.preprocess([read])
        encoded = self.model.tokenizer(
            read, truncation=True, max_length=self.max_pieces,
            return_offsets_mapping=True, return_special_tokens_mask=True,
        )
        if encoded["input_ids"] != features["input_ids"][0].tolist():
            raise ValueError("the sentence model's preprocessing does not match its tokenizer's; "
                             "cannot map word pieces back to characters")
        offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        for piece in range(len(offsets)):  # a SentencePiece piece's span starts at the space before it
            while offsets[piece, 0] < offsets[piece, 1] and read[offsets[piece, 0]].isspace():
                offsets[piece, 0] += 1
        special = np.asarray(encoded["special_tokens_mask"], dtype=bool) | (offsets[:, 1] <= len(self.prefix))
        offsets = np.where(special[:, None], 0, np.clip(offsets - len(self.prefix), 0, None))
        return WordPieces(features, offsets, special)

    def embed(self, inputs_embeds: Tensor, features: dict[str, Any]) -> Tensor:
        """(S, T, h) word-piece embeddings -> (S, d) sentence embeddings, through the model's modules."""
        steps = len(inputs_embeds)
        batch = {key: value.expand(steps, -1) if isinstance(value, Tensor) else value
                 for key, value in features.items() if key != "input_ids"}
        batch["inputs_embeds"] = inputs_embeds
        return self.model(batch)["sentence_embedding"].float()  # a bfloat16 model's too

    def path(self, pieces: WordPieces) -> tuple[Tensor, Tensor, Callable[[Tensor], Tensor]]:
        """What is attributed: (inputs (1, T, h), baseline (1, T, h), the map from a batch of such
        inputs (S, T, h) to sentence embeddings (S, d)). Here the word-piece embeddings, the
        baseline word piece in place of every non-special piece, and the whole sentence model."""
        ids = pieces.features["input_ids"]
        baseline_ids = torch.where(torch.from_numpy(pieces.special)[None, :], ids, self.baseline_id)
        with torch.no_grad():
            inputs, baseline = self.token_embeddings(ids), self.token_embeddings(baseline_ids)
        return inputs, baseline, lambda batch: self.embed(batch, pieces.features)

    def attribute(self, text: str, logits: Callable[[Tensor], Tensor]) -> WordAttributions:
        """The words of ``text`` with their weight towards each class of ``logits``.

        ``logits`` maps (S, d) sentence embeddings to (S, C) class logits (a torch module
        such as a fitted DirectionClassifier's ``module_``, in eval mode).
        """
        if self.head is not None:
            logits = self.head(text, logits)
        pieces = self.word_pieces(text)
        inputs, baseline, to_embedding = self.path(pieces)
        with torch.no_grad():
            end_logits = logits(to_embedding(torch.cat([inputs, baseline])))
        scores, baseline_scores = log_odds(end_logits).numpy()
        probabilities = torch.softmax(end_logits[0], -1).numpy()
        n_classes = len(scores)
        targets = [1] if n_classes == 2 else list(range(n_classes))

        def score(path_inputs: Tensor) -> Tensor:
            return log_odds(logits(to_embedding(path_inputs)))

        per_piece = self._per_piece(score, inputs, baseline, targets)
        if n_classes == 2:
            per_piece = np.concatenate([-per_piece, per_piece], axis=1)
        spans = word_spans(text)
        weights, read = gather_to_words(per_piece, pieces.offsets, pieces.special, spans)
        delta = per_piece.sum(axis=0) - (scores - baseline_scores)
        return WordAttributions(text, spans, weights, read, pieces.read_chars(len(text), self.max_pieces),
                                scores, baseline_scores, probabilities, delta)


    def _per_piece(self, score: Callable[[Tensor], Tensor], inputs: Tensor, baseline: Tensor,
                   targets: list[int]) -> np.ndarray:
        """(T, len(targets)) each word piece's attribution to each target score.

        Integrated gradients by Captum (Gauss-Legendre nodes, all steps in one batch), or,
        with one step, the gradient at the text times (input - baseline), which Captum's
        integrated gradients does not take.
        """
        if self.n_steps == 1:
            inputs = inputs.detach().requires_grad_(True)
            with torch.enable_grad():
                scores = score(inputs)[0]
                gradients = [torch.autograd.grad(scores[t], inputs, retain_graph=True)[0] for t in targets]
            return np.stack([((g * (inputs - baseline))[0].sum(-1)).detach().numpy() for g in gradients], axis=1)
        integrated = IntegratedGradients(score)
        return np.stack([
            integrated.attribute(inputs, baselines=baseline, target=target, n_steps=self.n_steps,
                                 internal_batch_size=self.n_steps)[0].sum(-1).detach().numpy()
            for target in targets
        ], axis=1)


class HiddenStateAttributor(SentenceAttributor):
    """Attributions to the transformer's last hidden states: one forward pass, no gradient through it.

    A mean-pooled, normalised sentence model embeds a text as e = m / ||m||, m the mean of
    the last hidden states h_t over the T word pieces. Holding the text's own length ||m||
    fixed, e is linear in the h_t, so for a linear classifier the class score splits exactly
    into one share per word piece, the classifier's reading of h_t / (T ||m||) (gradient x
    input with a zero baseline; any ``n_steps`` gives the same). Each h_t has seen the whole
    text, so a share says which position carries the score, not what removing the word
    would do. Needs a model made of Transformer, mean Pooling and Normalize (MiniLM is).
    """

    def __init__(self, model, n_steps: int = 1, baseline_token: str | None = None,
                 head: Callable[[str, Callable], Callable] | None = None) -> None:
        super().__init__(model, n_steps, baseline_token, head)
        names = [type(module).__name__ for module in model]
        if names != ["Transformer", "Pooling", "Normalize"] or getattr(model[1], "pooling_mode", None) not in ("mean", ("mean",)):
            raise ValueError(f"hidden-state attributions need Transformer, mean Pooling, Normalize; got {names}")

    @property
    def description(self) -> str:
        return "each word's share of the class score through the last hidden states (exact for a linear model)"

    def path(self, pieces: WordPieces) -> tuple[Tensor, Tensor, Callable[[Tensor], Tensor]]:
        transformer, pooling = self.model[0], self.model[1]
        mask = pieces.features["attention_mask"]

        def pooled(hidden: Tensor) -> Tensor:
            return pooling({"token_embeddings": hidden, "attention_mask": mask.expand(len(hidden), -1)})[
                "sentence_embedding"]

        with torch.no_grad():
            hidden = transformer(dict(pieces.features))["token_embeddings"].float()
            length = pooled(hidden).norm(dim=-1, keepdim=True)
        return hidden, torch.zeros_like(hidden), lambda batch: pooled(batch) / length


def gather_to_words(
    per_piece: np.ndarray, offsets: np.ndarray, special: np.ndarray, spans: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum word pieces' attributions (T, C) into words (W spans): ((W, C) weights, (W,) read).

    A piece belongs to the word whose span holds its first character; pieces in no
    word (punctuation, markup) and special tokens belong to none. A word is read
    when at least one of its pieces was.
    """
    weights = np.zeros((len(spans), per_piece.shape[1]))
    read = np.zeros(len(spans), dtype=bool)
    if len(spans) == 0:
        return weights, read
    starts = offsets[:, 0]
    word = np.searchsorted(spans[:, 0], starts, side="right") - 1
    inside = (~special) & (offsets[:, 1] > starts) & (word >= 0)
    inside &= starts < spans[np.clip(word, 0, None), 1]
    np.add.at(weights, word[inside], per_piece[inside])
    read[word[inside]] = True
    return weights, read


class OcclusionAttributor(SentenceAttributor):
    """Leave-one-out through the real encoder: a word's weight towards class c is how much c's
    log-odds drop when the word is left out of the text and the text is embedded again.

    Model-faithful by construction (what the classifier would read without the word), at the
    cost of one embedding per read word: all variants go to ``embed`` in one call. With
    ``window`` > 1, runs of ``window`` consecutive words (a short phrase) are left out, sliding
    one word at a time, and a word gets the mean drop of the runs that hold it. With
    ``shortlist``, only that many words are left out (one at a time): those with the largest
    hidden-state share (:class:`HiddenStateAttributor`, either sign, any class), so a long text
    costs ``shortlist`` embeddings; the others get 0. The baseline is the text with every read
    word left out; ``delta`` (sum of the weights - (scores - baseline scores)) is how far the
    drops are from adding up. Unread words (past the model's word pieces) are never left out
    and get 0.

    Parameters
    ----------
    model : the loaded ``SentenceTransformer`` (its tokenizer says which words are read).
    embed : ``embed(texts) -> (N, d)`` float32, the encoder's own embedding of texts, uncached
        (:meth:`nudge.estimators.encoders.SentenceEncoder.embed_uncached`).
    window : words left out together (default 1: single words).
    shortlist : leave out only this many words, chosen by their hidden-state shares (default
        None: every read word; needs ``window`` 1).
    head : the shortlist's ``head`` (:class:`SentenceAttributor`); the drops themselves read ``embed``'s
        whole vectors.
    """

    def __init__(self, model, embed: Callable[[list[str]], np.ndarray], window: int = 1,
                 shortlist: int | None = None, head: Callable[[str, Callable], Callable] | None = None) -> None:
        if window < 1 or (shortlist is not None and (shortlist < 1 or window != 1)):
            raise ValueError(f"window must be at least 1, and shortlist at least 1 with window 1; got window "
                             f"{window}, shortlist {shortlist}")
        super().__init__(model, n_steps=1)
        self.embed_texts = embed
        self.window = window
        self.shortlist = shortlist
        self._prior = None if shortlist is None else HiddenStateAttributor(model, head=head)

    @property
    def description(self) -> str:
        what = "the word" if self.window == 1 else f"each run of {self.window} words holding it"
        chosen = "" if self.shortlist is None else (f" (the {self.shortlist} words with the largest "
                                                    "hidden-state shares; the others 0)")
        return f"the drop of the class score when {what} is left out and the text embedded again{chosen}"

    def attribute(self, text: str, logits: Callable[[Tensor], Tensor]) -> WordAttributions:
        pieces = self.word_pieces(text)
        spans = word_spans(text)
        _, read = gather_to_words(np.zeros((len(pieces.special), 1)), pieces.offsets, pieces.special, spans)
        n_read = int(read.sum())
        if self._prior is None:
            runs = sliding_runs(n_read, self.window)
        else:
            largest = np.abs(self._prior.attribute(text, logits).weights[:n_read]).max(axis=1, initial=0.0)
            runs = [(int(i), int(i) + 1) for i in np.sort(np.argsort(-largest, kind="stable")[:self.shortlist])]

        def scores_of(texts: list[str]) -> np.ndarray:
            with torch.no_grad():
                return log_odds(logits(torch.from_numpy(self.embed_texts(texts)))).numpy()

        weights, scores, baseline_scores = occlusion_weights(text, spans, n_read, runs, scores_of)
        probabilities = 1.0 / (1.0 + np.exp(-scores))  # log-odds s_c = log p_c - log(1 - p_c)
        delta = weights.sum(axis=0) - (scores - baseline_scores)
        return WordAttributions(text, spans, weights, read, pieces.read_chars(len(text), self.max_pieces),
                                scores, baseline_scores, probabilities, delta)


def left_out(text: str, spans: np.ndarray, first: int, last: int) -> str:
    """``text`` without its words [first, last) and what lies between them."""
    if first >= last:
        return text
    return text[: spans[first, 0]] + text[spans[last - 1, 1]:]


def sliding_runs(n_words: int, window: int) -> list[tuple[int, int]]:
    """Runs [first, last) of ``window`` consecutive words among ``n_words``, one word apart
    (one run of all when fewer)."""
    if n_words == 0:
        return []
    return [(first, min(first + window, n_words)) for first in range(max(n_words - window, 0) + 1)]


def occlusion_weights(text: str, spans: np.ndarray, n_read: int, runs: list[tuple[int, int]],
                      scores_of: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each word's drop of each class score when left out: ((W, C) weights, (C,) the text's
    scores, (C,) the scores with all ``n_read`` first words left out).

    ``scores_of(texts) -> (N, C)`` scores every variant in one call: the text, the baseline, then
    the text without each run [first, last) of ``runs``. A word's weight is the mean drop over
    the runs holding it; words in no run get 0.
    """
    variants = [text, left_out(text, spans, 0, n_read), *(left_out(text, spans, a, b) for a, b in runs)]
    scored = np.asarray(scores_of(variants), dtype=np.float64)
    scores, baseline_scores = scored[0], scored[1]
    weights = np.zeros((len(spans), scored.shape[1]))
    held = np.zeros(len(spans))
    for (first, last), dropped in zip(runs, scored[2:]):
        weights[first:last] += scores - dropped
        held[first:last] += 1
    weights[held > 0] /= held[held > 0, None]
    return weights, scores, baseline_scores
