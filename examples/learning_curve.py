"""A callback that records the learning curve of a session as it is trained.

Callbacks subclass `nudge.loop.SessionCallback` and override the hooks they need
(`on_query`, `on_answer`, `on_retrain`); here every published model adds a
point (labels, directions, held-out accuracy) and the curve is written to CSV.

    .venv/bin/python examples/learning_curve.py
"""

import csv
import os

from nudge.loop import Session, SessionCallback, SessionConfig, Store, apply_answer, make_oracle

BUDGET = int(os.environ.get("BUDGET", "30"))


class LearningCurve(SessionCallback):
    """(labels, directions, accuracy) of every model the session publishes."""

    def __init__(self) -> None:
        self.points: list[tuple[int, int, float]] = []

    def on_retrain(self, session, snapshot) -> None:
        self.points.append((snapshot.n_labeled, snapshot.n_directions, snapshot.accuracy))

    def write(self, path: str) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["labels", "directions", "accuracy"])
            writer.writerows(self.points)


def main() -> None:
    curve = LearningCurve()
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="circles", estimator={"max_epochs": 50}),
                             callbacks=[curve])
    oracle = make_oracle("exact", session.dataset)
    for _ in range(BUDGET):
        query = session.next_query("me")
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="me")
    curve.write("learning_curve.csv")
    shown = curve.points[:: max(1, len(curve.points) // 6)]
    if shown[-1] != curve.points[-1]:
        shown.append(curve.points[-1])
    for labels, directions, accuracy in shown:
        print(f"{labels:4d} labels {directions:4d} directions  accuracy {accuracy:.3f}")
    print("wrote learning_curve.csv")


if __name__ == "__main__":
    main()
