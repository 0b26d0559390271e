"""The user's texts: ``text-csv:PATH`` (CSV with a header row), ``jsonl:PATH`` (one JSON object a
line) and ``parquet:PATH``, all read the same way (:mod:`nudge.loop.datasets.records`).

Columns: ``text`` (the item; ``text_column`` names another), optionally ``label`` (known labels;
``label_column`` names another; empty cells are unknown: a file of texts alone is an unlabelled
pool), ``counterfactual`` (a rewrite of the text with another label) and an id column
(``id_column``; default: a hash of the text). Other columns are ignored. Class names are declared
(``classes``) or read from the labels present. The test set: ``test_file`` (same format, every row
labelled) or a share of the labelled rows (``test_fraction``; see
:func:`nudge.loop.datasets.labels.held_out`). Texts are embedded with the session's encoder.
"""

from __future__ import annotations

from nudge.loop.datasets.assembly import FileRows, assemble
from nudge.loop.datasets.base import Dataset, spread
from nudge.loop.datasets.reading import file_digest, resolve_data_path
from nudge.loop.datasets.records import Records, cell_text, read_records
from nudge.loop.datasets.registry import LoadOptions, register_dataset
from nudge.loop.datasets.texts import embed_texts, encoder_identity, text_encoder


def _text_rows(records: Records, options: LoadOptions,
               limit: int | None) -> tuple[FileRows, list[str], list[str | None]]:
    """(the rows as items, their texts, their revisions (None where none)) of ``records``."""
    text_at = records.column(options.text_column, what="text", option="--text-column", default="text",
                             required=True)
    label_at = records.column(options.label_column, what="label", option="--label-column", default="label")
    id_at = records.column(options.id_column, what="id", option="--id-column")
    revision_at = records.column(None, what="counterfactual", option="", default="counterfactual")
    rows, texts, revisions = FileRows(records.path), [], []
    for where, cells in spread(records.rows, limit):
        place = f"{records.path}, {where}"
        text = cells[text_at]
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{place}: the text is {'empty' if text is None or text == '' else 'not text'}")
        label = None if label_at is None else cell_text(cells[label_at], where=place, what="label")
        item_id = None
        if id_at is not None:
            item_id = cell_text(cells[id_at], where=place, what="id")
            if item_id is None:
                raise ValueError(f"{place}: the id is empty (every item needs one in the id column)")
        revision = None if revision_at is None else cell_text(cells[revision_at], where=place, what="counterfactual")
        rows.add(where, item_id, label, text.encode("utf-8"), revision or "")
        texts.append(text)
        revisions.append(revision)
    return rows, texts, revisions


def load_text_file(spec_path: str, options: LoadOptions, form: str, kind: str) -> Dataset:
    """A text data set from ``spec_path`` in ``form`` ("csv", "jsonl", "parquet"); see the module docstring."""
    path = resolve_data_path(spec_path, data_root=options.data_root)
    main, texts, revisions = _text_rows(read_records(path, form), options, options.limit)
    test_path = None if options.test_file is None else resolve_data_path(options.test_file, data_root=options.data_root)
    test = None
    if test_path is not None:
        test, test_texts, test_revisions = _text_rows(read_records(test_path, form), options, None)
        texts, revisions = texts + test_texts, revisions + test_revisions
    name = f"{kind}:{path}"
    items = assemble(main, test, options, name, what="text")
    encoder = text_encoder(options.encoder)
    X, revised_X = embed_texts(encoder, texts, revisions)
    has_revisions = any(revision is not None for revision in revisions)
    files = {str(path): file_digest(path)} | ({} if test_path is None else {str(test_path): file_digest(test_path)})
    return Dataset(
        name, X, items.y, items.class_names, items.pool, items.test,
        texts=texts,
        counterfactual_texts=revisions if has_revisions else None,
        counterfactual_X=revised_X if has_revisions else None,
        fingerprint={"kind": kind, "encoder": encoder_identity(encoder)},
        encoder=encoder, kind="text", item_ids=items.item_ids, item_digests=items.item_digests,
        files=files, test_from_file=items.test_from_file,
    )


@register_dataset("text-csv", takes_path=True, summary="your texts, CSV: a text column, optional label and id")
def load_text_csv(spec_path: str, options: LoadOptions) -> Dataset:
    return load_text_file(spec_path, options, "csv", "text-csv")


@register_dataset("jsonl", takes_path=True, summary="your texts, JSON Lines: {\"text\": ..., \"label\": ...} a line")
def load_jsonl(spec_path: str, options: LoadOptions) -> Dataset:
    return load_text_file(spec_path, options, "jsonl", "jsonl")


@register_dataset("parquet", takes_path=True, summary="your texts, Parquet: a text column, optional label and id")
def load_parquet(spec_path: str, options: LoadOptions) -> Dataset:
    return load_text_file(spec_path, options, "parquet", "parquet")

