"""The embedding job: chunks, progress polled from another thread, resumption (also after a real
kill -9 and Ctrl+C of ``nudge embed``), the memory-mapped matrix, and bad rows."""

import csv
import mmap
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.cli import main
from nudge.loop.compute.embedding import EmbeddingJob, EncoderSpec
from nudge.loop.compute.matrix import embedding_matrix, matrix_path
from nudge.loop.datasets import load_dataset
from nudge.loop.datasets.text_checks import check_text_file


class CountingModel:
    """Stands in for a SentenceTransformer: 3 numbers per text; records what it embedded; may wait
    for a gate before each call, or fail on a text."""

    def __init__(self, gate=None, fail_on=None):
        self.embedded, self.gate, self.fail_on = [], gate, fail_on

    def encode(self, texts, **options):
        if self.gate is not None:
            assert self.gate.acquire(timeout=30)
        if self.fail_on in texts:
            raise RuntimeError("the model broke")
        self.embedded.extend(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], np.float32)

    def get_embedding_dimension(self):
        return 3


@pytest.fixture
def encoder(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    model = CountingModel()
    monkeypatch.setattr(SentenceEncoder, "_load_model", lambda self: model)
    encoder = SentenceEncoder(folder, cache_dir=tmp_path / "cache", batch_size=4)
    encoder.fake = model
    return encoder


def memory_mapped(array):
    """True when ``array`` is a view of a file mapped into memory."""
    while array is not None and not isinstance(array, (np.memmap, mmap.mmap)):
        array = getattr(array, "base", None)
    return array is not None


def expected(texts):
    return np.array([[len(t), t.count("a"), 1.0] for t in texts], np.float32)


TEXTS = [f"text {'a' * (i % 5)} {i}" for i in range(23)]


def test_job_embeds_in_chunks_and_a_second_job_embeds_nothing(encoder):
    progress = EmbeddingJob(TEXTS + TEXTS[:3], encoder, chunk_size=5).run()
    assert (progress.stage, progress.done, progress.total, progress.cached) == ("done", 23, 23, 0)
    assert sorted(encoder.fake.embedded) == sorted(TEXTS)  # duplicates once
    again = EmbeddingJob(TEXTS, encoder, chunk_size=5).run()
    assert (again.done, again.cached) == (23, 23) and len(encoder.fake.embedded) == 23
    matrix = embedding_matrix(encoder, TEXTS[::-1])
    assert isinstance(matrix, np.memmap) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, expected(TEXTS[::-1]))
    half = embedding_matrix(encoder, TEXTS, dtype="float16")
    assert half.dtype == np.float16 and matrix_path(encoder, TEXTS, "float16").is_file()
    np.testing.assert_array_equal(half, expected(TEXTS).astype(np.float16))


def test_progress_is_polled_from_another_thread_while_the_job_runs(encoder):
    gate = threading.Semaphore(0)
    encoder.fake.gate = gate
    job = EmbeddingJob(TEXTS, encoder, chunk_size=8).start()  # 3 chunks: 8, 8, 7 texts

    def poll_until(finished, seconds=10):
        deadline = time.monotonic() + seconds
        while not finished(job.progress()) and time.monotonic() < deadline:
            time.sleep(0.01)
        return job.progress()

    seen = [poll_until(lambda p: p.stage == "embedding")]
    for expected_done in (8, 16, 23):  # one permit per chunk: a chunk is one model call
        gate.release(1)
        seen.append(poll_until(lambda p, goal=expected_done: p.done >= goal))
    final = job.wait(10)
    assert final.stage == "done" and final.done == 23 and final.seconds_left == 0.0
    assert [p.done for p in seen] == [0, 8, 16, 23]  # the job never runs ahead of its permits
    chunk = seen[1]
    assert chunk.stage == "embedding" and chunk.rate > 0 and chunk.seconds_left == pytest.approx(15 / chunk.rate)
    assert "8 of 23 texts" in chunk.describe() and "left" in chunk.describe()


def test_a_cancelled_job_keeps_its_chunks_and_the_next_resumes(encoder):
    gate = threading.Semaphore(0)
    encoder.fake.gate = gate
    job = EmbeddingJob(TEXTS, encoder, chunk_size=4).start()
    gate.release()
    while job.progress().done < 4:
        time.sleep(0.01)
    job.cancel()
    gate.release(10)
    assert job.wait(10).stage == "cancelled" and 4 <= job.progress().done < 23
    first = list(encoder.fake.embedded)
    encoder.fake.gate = None
    resumed = EmbeddingJob(TEXTS, encoder, chunk_size=4).run()
    assert resumed.cached == len(first) and resumed.done == 23
    assert sorted(first + encoder.fake.embedded[len(first):]) == sorted(TEXTS)


def test_a_failing_chunk_is_reported_in_the_progress_and_earlier_chunks_stay(encoder):
    encoder.fake.fail_on = TEXTS[10]
    job = EmbeddingJob(TEXTS, encoder, chunk_size=5).start()
    final = job.wait(10)
    assert final.stage == "failed" and final.error == "RuntimeError: the model broke"
    assert final.done == 10 and encoder.missing(TEXTS).keys() == set(encoder.keys(TEXTS[10:]))
    with pytest.raises(ValueError, match="embedding failed: RuntimeError: the model broke"):
        EmbeddingJob(TEXTS, encoder, chunk_size=5).run()


def test_a_matrix_needs_every_text_embedded_first(encoder):
    EmbeddingJob(TEXTS[:5], encoder).run()
    with pytest.raises(ValueError, match="1 of the texts are not embedded yet"):
        embedding_matrix(encoder, TEXTS[:6])
    assert not matrix_path(encoder, TEXTS[:6]).exists()
    assert list((matrix_path(encoder, TEXTS).parent).iterdir()) == []  # no partial file left


def test_a_worker_with_another_model_refuses(encoder):
    spec = EncoderSpec.of(encoder)
    assert spec().model_id == encoder.model_id
    wrong = EncoderSpec(spec.backend, spec.model, spec.batch_size, 1, "0" * 64)
    with pytest.raises(ValueError, match="its torch model differs from the client's"):
        wrong()


def test_text_data_sets_load_their_vectors_memory_mapped(encoder, tmp_path):
    path = tmp_path / "texts.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["text", "label", "counterfactual"]]
                                     + [[t, i % 2, f"not {t}" if i % 3 else ""] for i, t in enumerate(TEXTS)])
    data = load_dataset(f"text-csv:{path}", encoder=encoder)
    np.testing.assert_array_equal(data.X, expected(TEXTS))
    assert memory_mapped(data.X)
    revised = [i for i in range(23) if i % 3]
    np.testing.assert_array_equal(data.counterfactual_X[revised], expected([f"not {TEXTS[i]}" for i in revised]))
    calls = len(encoder.fake.embedded)
    again = load_dataset(f"text-csv:{path}", encoder=encoder)
    np.testing.assert_array_equal(again.X, data.X)
    assert len(encoder.fake.embedded) == calls


@pytest.mark.parametrize(
    "content, message",
    [
        (b"text,label\nfine,a\ncaf\xe9,b\n", r"line 3: byte 0xe9 at column 4 is not UTF-8"),
        (b"text,label\nfine,a\nnul\x00,b\nok,a\n", r"line 3: a NUL character at column 4"),
        (b"\xef\xbb\xbftext,label\n" + b"\xff,a\n" * 7, r"line 2: .*line 6: .*; and 2 more bad lines"),
    ],
)
def test_bad_bytes_are_refused_with_their_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        check_text_file(path)


def test_good_text_passes_the_byte_check(tmp_path):
    path = tmp_path / "good.csv"
    path.write_bytes("\ufefftext,label\n\"two\nlines, café\",a\n".encode())
    check_text_file(path)


# --------------------------------------------------------------------------- nudge embed, real processes


def nudge(*arguments, env, **options):
    return subprocess.Popen([sys.executable, "-m", "nudge.loop.cli", *arguments], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **options)


def cached_count(cache):
    database = cache / "embeddings" / "embeddings.sqlite3"
    if not database.exists():
        return 0
    with sqlite3.connect(database, timeout=30) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        except sqlite3.OperationalError:  # the table is being created
            return 0


def wait_for_cached(cache, at_least, process, timeout=180):
    deadline = time.monotonic() + timeout
    while cached_count(cache) < at_least:
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "nudge embed made no progress"
        time.sleep(0.1)
    return cached_count(cache)


@pytest.fixture
def review_file(tmp_path):
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as handle:
        rows = [["text", "label"]] + [[f"Review {i}: the plot was {'dull' if i % 2 else 'gripping'} "
                                       f"and the cast {'wooden' if i % 3 else 'superb'}.", i % 2]
                                      for i in range(120)]
        csv.writer(handle).writerows(rows)
    return path


def test_nudge_embed_resumes_after_ctrl_c_and_after_kill_9(tmp_path, review_file):
    cache = tmp_path / "cache"
    env = {**os.environ, "NUDGE_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    arguments = ("embed", "--dataset", f"text-csv:{review_file}", "--encoder", "minilm", "--chunk-size", "8",
                 "--backend", "torch")

    interrupted = nudge(*arguments, env=env)
    wait_for_cached(cache, 8, interrupted)
    interrupted.send_signal(signal.SIGINT)
    output = interrupted.communicate(timeout=60)[0]
    assert interrupted.returncode == 130 and "nudge embed: interrupted" in output
    assert "Traceback" not in output
    after_interrupt = cached_count(cache)
    assert after_interrupt % 8 == 0 and 8 <= after_interrupt < 120  # whole chunks only

    killed = nudge(*arguments, env=env)
    wait_for_cached(cache, after_interrupt + 8, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    after_kill = cached_count(cache)
    assert after_kill % 8 == 0 and after_interrupt < after_kill < 120

    finished = nudge(*arguments, env=env)
    output = finished.communicate(timeout=300)[0]
    assert finished.returncode == 0, output
    assert f"{120 - after_kill} embedded in" in output and f"{after_kill} were already in the cache" in output
    assert cached_count(cache) == 120
    vectors = load_dataset(f"text-csv:{review_file}", encoder=SentenceEncoder(cache_dir=cache / "embeddings")).X
    texts = [row[0] for row in list(csv.reader(review_file.open()))[1:]]
    fresh = SentenceEncoder(cache_dir=tmp_path / "fresh").embed_uncached([texts[0], texts[-1]])
    np.testing.assert_allclose(vectors[[0, -1]], fresh, atol=1e-5)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"text,label\ngood text,a\n,b\n", "line 3: the text is empty"),
        (b"text,label\ngood,a\nbad\xc3,b\n", "line 3: byte 0xc3 at column 4 is not UTF-8"),
        (b"text,label\ngood,a,extra\n", "line 2: 3 cells where 2 were expected"),
        (b"words,label\ngood,a\n", "has no text column 'text' (--text-column NAME names it)"),
    ],
)
def test_nudge_embed_refuses_bad_rows_with_one_line(tmp_path, monkeypatch, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["embed", "--dataset", f"text-csv:{path}"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("nudge embed: error: ") and message in error and "\n" not in error


def test_nudge_embed_process_refuses_a_nul_without_a_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\ngood,a\nnul \x00 here,b\n")
    process = nudge("embed", "--dataset", f"text-csv:{path}", env={**os.environ, "NUDGE_CACHE_DIR": str(tmp_path)})
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 1 and "Traceback" not in output
    assert output.strip() == f"nudge embed: error: {path}: line 3: a NUL character at column 5"
