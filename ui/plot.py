"""Drawing the local boundary projection, and reading clicks on the drawing.

The figure has a fixed size and a fixed axes box, so a pixel of the image maps
to plane coordinates (a, b) by a fixed affine map (:class:`PlotGeometry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from loop.projection import Projection

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
FIGURE_PIXELS = (640, 560)  # width, height
DPI = 100
AXES_BOX = (0.12, 0.09, 0.85, 0.85)  # left, bottom, width, height as figure fractions
TRUTH_GRID = 241  # the true boundary is traced on a finer grid than the model's field


class ClickOutsidePlot(ValueError):
    """A click that is not inside the plotted area."""


@dataclass(frozen=True)
class PlotGeometry:
    """Where the axes sit in the image (pixels, origin top-left) and what they show."""

    left: float
    top: float
    right: float
    bottom: float
    a_range: tuple[float, float]
    b_range: tuple[float, float]

    @classmethod
    def of(cls, projection: Projection) -> PlotGeometry:
        width, height = FIGURE_PIXELS
        left, bottom, box_width, box_height = AXES_BOX
        return cls(
            left=left * width,
            top=(1 - bottom - box_height) * height,
            right=(left + box_width) * width,
            bottom=(1 - bottom) * height,
            a_range=(float(projection.a[0]), float(projection.a[-1])),
            b_range=(float(projection.b[0]), float(projection.b[-1])),
        )

    def to_plane(self, x_pixel: float, y_pixel: float) -> tuple[float, float]:
        """Image pixel (x right, y down) -> plane coordinates (a, b)."""
        if not (self.left <= x_pixel <= self.right and self.top <= y_pixel <= self.bottom):
            raise ClickOutsidePlot("that click was outside the plot: click inside the picture")
        fraction_x = (x_pixel - self.left) / (self.right - self.left)
        fraction_y = (self.bottom - y_pixel) / (self.bottom - self.top)
        a = self.a_range[0] + fraction_x * (self.a_range[1] - self.a_range[0])
        b = self.b_range[0] + fraction_y * (self.b_range[1] - self.b_range[0])
        return a, b

    def to_pixel(self, a: float, b: float) -> tuple[float, float]:
        """Plane coordinates (a, b) -> image pixel (x right, y down)."""
        fraction_x = (a - self.a_range[0]) / (self.a_range[1] - self.a_range[0])
        fraction_y = (b - self.b_range[0]) / (self.b_range[1] - self.b_range[0])
        return (self.left + fraction_x * (self.right - self.left),
                self.bottom - fraction_y * (self.bottom - self.top))


def render_projection(
    projection: Projection,
    class_names: list[str],
    *,
    arrow: tuple[float, float] | None = None,
    truth: Callable[[np.ndarray], np.ndarray] | None = None,
    towards: int | None = None,
) -> np.ndarray:
    """The projection as an RGB image (H, W, 3) of ``FIGURE_PIXELS``.

    Probability field and 0.5 contour of the model, shown points coloured by
    class (labelled: large with a black edge; unlabelled: small, by prediction),
    the query as a star at (0, 0), the true boundary (dashed) when ``truth`` is
    given, and the annotator's arrow to ``arrow`` when given.
    """
    width, height = FIGURE_PIXELS
    # a bare Figure, not pyplot: pyplot's global state is not safe when several tabs draw at once
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes(AXES_BOX)
    extent = (projection.a[0], projection.a[-1], projection.b[0], projection.b[-1])
    _draw_field(axes, projection, extent, len(class_names))
    if truth is not None:
        grid_a, grid_b = np.meshgrid(np.linspace(*extent[:2], TRUTH_GRID), np.linspace(*extent[2:], TRUTH_GRID))
        points = projection.plane.to_space(np.stack([grid_a, grid_b], axis=-1).reshape(-1, 2))
        true_class = truth(points).reshape(grid_a.shape)
        axes.contour(grid_a, grid_b, true_class, levels=np.arange(len(class_names) - 1) + 0.5,
                     colors="0.25", linestyles="--", linewidths=1.2)
    _draw_points(axes, projection, towards)
    axes.scatter([0], [0], marker="*", s=420, c="gold", edgecolors="black", linewidths=1.2, zorder=5)
    if arrow is not None:
        axes.annotate("", xy=arrow, xytext=(0, 0), zorder=6,
                      arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2.2, "mutation_scale": 22})
    axes.set_xlim(extent[0], extent[1])
    axes.set_ylim(extent[2], extent[3])
    if projection.is_data_plane:
        axes.set_xlabel("x1 (relative to the query)")
        axes.set_ylabel("x2 (relative to the query)")
    else:
        axes.set_xlabel("a: across the boundary (u1)")
        axes.set_ylabel("b: towards other examples (u2)")
    handles = [Line2D([], [], marker="o", ls="", color=CLASS_COLOURS[i % len(CLASS_COLOURS)], label=name)
               for i, name in enumerate(class_names)]
    handles.append(Line2D([], [], marker="*", ls="", markersize=12, color="gold", markeredgecolor="black",
                          label="query"))
    if projection.probabilities is not None:
        handles.append(Line2D([], [], color="black", lw=2, label="model boundary"))
    if truth is not None:
        handles.append(Line2D([], [], color="0.25", ls="--", lw=1.2, label="true boundary"))
    # above the axes, so the legend never hides a point
    axes.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(handles),
                fontsize=8, frameon=False, handletextpad=0.3, columnspacing=1.2, borderaxespad=0.2)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def _draw_field(axes, projection: Projection, extent, n_classes: int) -> None:
    if projection.probabilities is None:
        axes.set_facecolor("0.96")
        axes.text(0.5, 0.97, "no model yet: label a few points", transform=axes.transAxes,
                  ha="center", va="top", fontsize=9, color="0.3")
        return
    probabilities = projection.probabilities
    if n_classes == 2:
        cmap = ListedColormap(colormaps["RdBu_r"](np.linspace(0.1, 0.9, 256)))
        # blue for class 0, red-orange for class 1; saturation shows confidence
        axes.imshow(probabilities[:, :, 1], origin="lower", extent=extent, aspect="auto",
                    cmap=cmap, vmin=0, vmax=1, alpha=0.55, interpolation="bilinear")
        axes.contour(projection.a, projection.b, probabilities[:, :, 1], levels=[0.5],
                     colors="black", linewidths=2)
    else:
        predicted = probabilities.argmax(axis=-1)
        colours = ListedColormap([CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(n_classes)])
        axes.imshow(predicted, origin="lower", extent=extent, aspect="auto", cmap=colours,
                    vmin=-0.5, vmax=n_classes - 0.5, alpha=0.3)
        axes.contour(projection.a, projection.b, predicted, levels=np.arange(n_classes - 1) + 0.5,
                     colors="black", linewidths=1.5)


def _draw_points(axes, projection: Projection, towards: int | None) -> None:
    coordinates, classes = projection.coordinates, projection.classes
    colours = np.array([CLASS_COLOURS[c % len(CLASS_COLOURS)] if c >= 0 else "0.5" for c in classes])
    pool = ~projection.labelled
    axes.scatter(coordinates[pool, 0], coordinates[pool, 1], s=9, c=colours[pool], alpha=0.5, linewidths=0)
    labelled = projection.labelled
    axes.scatter(coordinates[labelled, 0], coordinates[labelled, 1], s=60, c=colours[labelled],
                 edgecolors="black", linewidths=1.0, zorder=4)
    if towards is not None and towards in set(projection.point_ids.tolist()):
        index = list(projection.point_ids).index(towards)
        axes.scatter(*coordinates[index], s=260, facecolors="none", edgecolors="black", linewidths=2, zorder=5)
        axes.annotate("", xy=tuple(coordinates[index]), xytext=(0, 0), zorder=6,
                      arrowprops={"arrowstyle": "-|>", "color": "0.2", "lw": 1.8, "ls": "--"})
