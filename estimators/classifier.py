"""The skorch classifier trained with labels and counterfactual directions."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data
from skorch import NeuralNet
from skorch.utils import to_numpy, to_tensor

from nudge.estimators.losses import OBJECTIVES
from nudge.estimators.modules import MLP
from nudge.estimators.targets import SLOT_HEAD, check_directions, row_width, unpack_targets


def softmax_rows(logits: torch.Tensor) -> torch.Tensor:
    """Turn (N, C) logits into rows of probabilities (what ``predict_nonlinearity="auto"`` means)."""
    return torch.softmax(logits, dim=-1)


class DirectionClassifier(ClassifierMixin, NeuralNet):
    """A scikit-learn classifier whose network learns from labels and directions.

    ``fit(X, y)`` takes X of shape (N, n) and either labels y of shape (N,) or a
    packed y of shape (N, 1 + m * (2 + n)) that carries each point's
    counterfactual directions with it (build it with
    :func:`nudge.estimators.pack_targets`; the layout is documented in
    ``nudge.estimators.targets``). Because directions ride inside ``y``, modAL's
    ``ActiveLearner.teach`` stacks them with their points and skorch batches
    and splits them with their points.

    ``classes_`` (and so ``predict``) has the dtype of ``classes`` when that is
    given, else of the labels: int labels give ints, strings give strings. A
    packed y stores its labels as floats, so without ``classes`` its
    ``classes_`` are floats; with ``classes=[0, 1]`` they are ints again.

    Parameters (beyond skorch's ``NeuralNet``)
    ------------------------------------------
    criterion : the objective, a name from ``nudge.estimators.OBJECTIVES``
        ("ce", "direction", "gradient-supervision") or a module class called as
        ``criterion(logits, y, X, module)``. Default "direction". Its settings
        go through skorch's prefix, e.g. ``criterion__alpha=0.3``.
    module : the network class, default :class:`nudge.estimators.MLP`; ``n_features``
        and ``n_classes`` are filled in from the data when its constructor takes
        them. Settings via ``module__hidden=(32,)`` etc. Its C outputs are read
        as the logits of a softmax everywhere (the objectives,
        ``decision_function``, ``margin_and_gradient``).
    predict_nonlinearity : what ``predict_proba`` applies to the (N, C) logits,
        with skorch's choices: "auto" (default), None (the identity: raw logits)
        or a callable taking and returning an (N, C) tensor (e.g. a softmax with
        a temperature). "auto" is the softmax over classes, not skorch's
        inference: skorch infers from the criterion and falls back to the
        identity for any criterion it does not know, which is every objective
        here, so its ``predict_proba`` would return logits and silently break
        uncertainty sampling (docs/method.md section 2). Query strategies and
        scikit-learn's ``predict_proba`` contract need rows of probabilities
        that sum to 1: keep that when you pass your own. ``predict`` is the
        argmax of ``predict_proba``, as in skorch's ``NeuralNetClassifier``.
    classes : all class labels, when they are known before the data shows them
        (e.g. cold start with one class labelled so far). Default: inferred.
    random_state : seed for initialisation and shuffling; the same seed and
        data give the same model. Default None (not repeatable).

    Defaults differing from skorch: Adam, lr 0.01, 100 epochs, no internal
    validation split (skorch's 5-fold split fails on a handful of labels; pass
    ``train_split=skorch.dataset.ValidSplit(0.2)`` to get one), silent.
    """

    def __init__(
        self,
        module: type[torch.nn.Module] | torch.nn.Module = MLP,
        criterion: str | type[torch.nn.Module] = "direction",
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 0.01,
        max_epochs: int = 100,
        batch_size: int = 128,
        train_split=None,
        predict_nonlinearity: str | Callable[[torch.Tensor], torch.Tensor] | None = "auto",
        verbose: int = 0,
        classes=None,
        random_state: int | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            predict_nonlinearity=predict_nonlinearity,
            verbose=verbose,
            **kwargs,
        )
        self.classes = classes
        self.random_state = random_state

    def _get_param_names(self) -> list[str]:
        """skorch's parameter names less ``_params_to_validate``, its bookkeeping (not a parameter)."""
        return [name for name in super()._get_param_names() if name != "_params_to_validate"]

    # ----------------------------------------------------------- initialisation
    def initialize_module(self):
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, torch.nn.Module):
            accepted = inspect.signature(self.module).parameters
            if "n_features" in accepted and "n_features" not in kwargs:
                if not hasattr(self, "n_features_in_"):
                    raise ValueError(
                        "the network's input size is unknown: call fit first, "
                        "or pass module__n_features=<n>"
                    )
                kwargs["n_features"] = self.n_features_in_
            if "n_classes" in accepted and "n_classes" not in kwargs and hasattr(self, "classes_"):
                kwargs["n_classes"] = len(self.classes_)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def initialize_criterion(self):
        criterion = self.criterion
        if isinstance(criterion, str):
            if criterion not in OBJECTIVES:
                raise ValueError(
                    f"unknown criterion {criterion!r}; choose one of {sorted(OBJECTIVES)}"
                )
            criterion = OBJECTIVES[criterion]
        self.criterion_ = self.initialized_instance(criterion, self.get_params_for("criterion"))
        return self

    def check_is_fitted(self, attributes=None, *args, **kwargs) -> None:
        """Raise skorch's NotInitializedError (a scikit-learn NotFittedError) unless fitted.

        Fitted means a network and its classes (``module_`` and ``classes_``), by
        ``fit``, ``partial_fit`` or ``load_weights``; ``initialize()`` alone builds
        the network but gives it no classes.
        """
        super().check_is_fitted(attributes or ["module_", "classes_"], *args, **kwargs)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, **fit_params) -> DirectionClassifier:
        """Train on X (N, n) and y (labels (N,) or packed targets); see the class doc.

        With ``warm_start=True`` a fitted network continues from its weights.
        """
        fresh = not (self.warm_start and self.__sklearn_is_fitted__())
        X, y = self._prepare_training_data(X, y, reset=fresh, classes=self.classes)
        with self._seeded():
            if fresh:
                self.initialize()
            NeuralNet.partial_fit(self, X, y, _routing_method="fit", **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params) -> DirectionClassifier:
        """Train ``max_epochs`` more epochs from the current weights (scikit-learn's semantics).

        ``classes`` lists every class label: required on the first call (unless
        the ``classes`` parameter gives them), since one batch need not show
        them all; on later calls it may be omitted and, when given, must equal
        ``classes_``. Labels outside the classes are refused.
        """
        first = not self.__sklearn_is_fitted__()
        declared = self._partial_fit_classes(classes, first=first)
        X, y = self._prepare_training_data(X, y, reset=first, classes=declared)
        with self._seeded():
            if first:
                self.initialize()
            NeuralNet.partial_fit(self, X, y, **fit_params)
        return self

    def _partial_fit_classes(self, classes, *, first: bool) -> np.ndarray | None:
        """The classes a partial_fit call declares (None after the first: keep ``classes_``)."""
        given = None if classes is None else np.unique(classes)
        if not first:
            if given is not None and not np.array_equal(given, self.classes_):
                raise ValueError(
                    f"classes={given.tolist()} differs from the classes fitted so far, "
                    f"{self.classes_.tolist()}"
                )
            return None
        parameter = None if self.classes is None else np.unique(self.classes)
        if given is None and parameter is None:
            raise ValueError(
                "classes must be given on the first call to partial_fit "
                "(partial_fit(X, y, classes=[...]) or the classes parameter)"
            )
        if given is not None and parameter is not None and not np.array_equal(given, parameter):
            raise ValueError(
                f"classes={given.tolist()} differs from the classes parameter, {parameter.tolist()}"
            )
        return parameter if given is None else given

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Hand the objective the batch inputs and the network, for input gradients."""
        y_true = to_tensor(y_true, device=self.device)
        X = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, y_true, X, self.module_)

    @contextmanager
    def _seeded(self) -> Iterator[None]:
        if self.random_state is None:
            yield
            return
        cuda = str(self.device).startswith("cuda") and torch.cuda.is_available()
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
            torch.manual_seed(self.random_state)
            yield

    def _prepare_training_data(self, X, y, *, reset: bool, classes) -> tuple[np.ndarray, np.ndarray]:
        """Validate X and y, set ``classes_`` and encode labels and targets as class indices.

        ``classes_`` becomes ``classes`` when given; else, when ``reset``, the
        labels' own classes; else it stays. Returns X as float32 (N, n) and y as
        float32 (N, 1 + m * (2 + n)).
        """
        X, y = validate_data(
            self, X, y, reset=reset, dtype=np.float32, ensure_all_finite=True, multi_output=True
        )
        if y.ndim == 1:
            labels, mask, targets, directions = y, np.zeros((len(y), 0), bool), None, None
        else:
            labels, mask, targets, directions = unpack_targets(y, X.shape[1])
        check_classification_targets(labels)
        if classes is not None:
            self.classes_ = self._at_least_two(np.unique(classes), "classes")
        elif reset:
            self.classes_ = self._at_least_two(np.unique(labels), "the labels")
        label_index = self._encode(labels, "label")
        slots = mask.shape[1]
        encoded = np.zeros((len(X), row_width(X.shape[1], slots)), dtype=np.float32)
        encoded[:, 0] = label_index
        if mask.any():
            target_index = np.zeros(mask.shape)
            target_index[mask] = self._encode(targets[mask], "direction target")
            if np.any((target_index == label_index[:, None]) & mask):
                raise ValueError("a direction leads to its point's own class; it must lead to another")
            check_directions(directions[mask])
            slot_view = encoded[:, 1:].reshape(len(X), slots, SLOT_HEAD + X.shape[1])
            slot_view[:, :, 0] = mask
            slot_view[:, :, 1] = target_index
            slot_view[:, :, SLOT_HEAD:] = np.where(mask[:, :, None], directions, 0.0)
        return X, encoded

    @staticmethod
    def _at_least_two(classes: np.ndarray, source: str) -> np.ndarray:
        if len(classes) < 2:
            raise ValueError(
                f"{source} hold one class only ({classes.tolist()}); a classifier needs "
                "two, or pass classes=[...] to say which classes exist"
            )
        return classes

    def _encode(self, values: np.ndarray, what: str) -> np.ndarray:
        index = np.searchsorted(self.classes_, values)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != values
        if np.any(unknown):
            raise ValueError(
                f"{what} {values[unknown][0]!r} is not one of the classes {self.classes_.tolist()}"
            )
        return index

    def _check_inputs(self, X) -> np.ndarray:
        """X as a finite float32 (N, n) array with the fitted number of features."""
        return validate_data(self, X, reset=False, dtype=np.float32, ensure_all_finite=True)

    # --------------------------------------------------------------- predicting
    def logits(self, X, batch_size: int = 65536) -> np.ndarray:
        """(N, C) network outputs, computed in large chunks under ``no_grad``.

        skorch's ``forward`` goes through a DataLoader that indexes one row at a
        time; for the pools a query strategy scores (10^5..10^6 rows) that costs
        about 8x a plain forward pass, so prediction bypasses it.
        """
        self.check_is_fitted()
        X = self._check_inputs(X)
        self.module_.eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                x = to_tensor(X[start : start + batch_size], device=self.device)
                chunks.append(self.module_(x).cpu().numpy())
        return np.concatenate(chunks)  # _check_inputs refuses an empty X: never empty

    def _get_predict_nonlinearity(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """skorch's choice of nonlinearity, except that "auto" is the softmax (see the class doc)."""
        if isinstance(self.predict_nonlinearity, str) and self.predict_nonlinearity == "auto":
            self.check_is_fitted()
            return softmax_rows
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X) -> np.ndarray:
        """(N, C) ``predict_nonlinearity`` of the logits; columns follow ``classes_``.

        With the default "auto", class probabilities: rows sum to 1.
        """
        nonlinearity = self._get_predict_nonlinearity()
        return to_numpy(nonlinearity(torch.from_numpy(self.logits(X))))

    def predict(self, X) -> np.ndarray:
        """(N,) predicted class labels (the argmax of ``predict_proba``), dtype of ``classes_``."""
        best = self.predict_proba(X).argmax(axis=1)  # first, so an unfitted net says so
        return self.classes_[best]

    def decision_function(self, X) -> np.ndarray:
        """Logit f = z_1 - z_0 of shape (N,) for two classes; (N, C) logits otherwise."""
        logits = self.logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def margin_and_gradient(self, X, batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """The logit margin and its input gradient, for every row, batched.

        The margin is z_top - z_runner_up >= 0 (|f(x)| for two classes); its
        gradient with respect to x is returned as (N, n). Each row's margin
        depends on that row only, so one backward pass of the sum gives all
        per-row gradients of a chunk at once.
        """
        self.check_is_fitted()
        X = self._check_inputs(X)
        margins, gradients = [], []
        self.module_.eval()
        for start in range(0, len(X), batch_size):
            with torch.enable_grad():
                x = to_tensor(X[start : start + batch_size], device=self.device).requires_grad_(True)
                top2 = self.module_(x).topk(2, dim=1).values
                margin = top2[:, 0] - top2[:, 1]
                (gradient,) = torch.autograd.grad(margin.sum(), x)
            margins.append(margin.detach().cpu().numpy())
            gradients.append(gradient.cpu().numpy())
        return np.concatenate(margins), np.concatenate(gradients)

    # ------------------------------------------------------------- persistence
    def weights_bytes(self) -> bytes:
        """The network's weights, classes and input size as one safetensors blob."""
        self.check_is_fitted()
        metadata = {
            "classes": json.dumps(self.classes_.tolist()),
            "n_features": str(self.n_features_in_),
        }
        state = {k: v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()}
        return safetensors.torch.save(state, metadata=metadata)

    def save_weights(self, path: str | Path) -> None:
        """Write :meth:`weights_bytes` to a file."""
        Path(path).write_bytes(self.weights_bytes())

    def non_finite_weights(self) -> list[str]:
        """The names of the network's weight tensors that hold NaN or infinity (empty: all finite, or
        no network yet)."""
        if not getattr(self, "initialized_", False):
            return []
        return non_finite_tensors(self.module_.state_dict())

    def load_weights_bytes(self, data: bytes, *, source: str = "the weights") -> DirectionClassifier:
        """Load weights made by :meth:`weights_bytes` (tensors only; nothing is unpickled). Damaged
        (e.g. truncated) and non-finite (NaN, infinity) weights are refused with a ValueError; the
        estimator is left as it was."""
        try:
            metadata = safetensors_metadata(data)
            state = safetensors.torch.load(data)
        except (SafetensorError, ValueError) as error:
            raise ValueError(f"{source} is not a nudge weights file (damaged or cut short: {error})") from None
        if "classes" not in metadata or "n_features" not in metadata:
            raise ValueError(f"{source} is not a nudge weights file (no classes / n_features)")
        bad = non_finite_tensors(state)
        if bad:
            raise ValueError(f"{source} holds non-finite weights (NaN or infinity) in {', '.join(bad[:3])}"
                             f"{' and more' if len(bad) > 3 else ''}")
        self.classes_ = np.asarray(json.loads(metadata["classes"]))
        self.n_features_in_ = int(metadata["n_features"])
        self.initialize()
        self.module_.load_state_dict(state)
        return self

    def load_weights(self, path: str | Path) -> DirectionClassifier:
        """Load weights written by :meth:`save_weights` (tensors only; nothing is unpickled)."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ValueError(f"{path} cannot be read: {error.strerror or error}") from None
        try:
            return self.load_weights_bytes(data, source=str(path))
        except ValueError as error:
            raise ValueError(f"{error}; save the weights again from a good model, or train it again") from None


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors of ``state`` that hold NaN or infinity."""
    return [name for name, tensor in state.items()
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]


def safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors blob: its header is an 8-byte little-endian
    length followed by that many bytes of JSON (the format's specification)."""
    if len(data) < 8:
        raise ValueError("too short to be a safetensors blob")
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise ValueError("its header is longer than the blob")
    try:
        header = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("its header is not JSON") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(metadata) if isinstance(metadata, dict) else {}

