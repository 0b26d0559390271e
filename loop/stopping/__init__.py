"""Stopping criteria: when more answers no longer pay.

Each criterion is an object with one job, as small-text's stopping criteria
are: after every retrain it is shown the new model (:meth:`StoppingCriterion.update`)
and says whether it is met and the value it judges by. A session's criteria
come from its setting ``SessionConfig.stop``, a list of specs
``NAME=THRESHOLD[:OPTION=VALUE...]``; its :class:`StoppingRule` is met as soon
as any of them is met. The criteria:

==============  ========================================================  ====================
spec            met when                                                  options (default)
==============  ========================================================  ====================
budget=N        at least N points are labelled                            --
stable=K        the mean Cohen's kappa between successive models'         window (3), after (0)
                predictions on a fixed sample of the pool, over the last
                ``window`` retrains, is at least K (small-text
                ``KappaAverage``)
change=F        at most a share F of the sample's predictions changed     after (0)
                since the previous model (small-text ``ClassificationChange``)
uncertainty=U   the mean normalised entropy of the predictions on the     after (0)
                sample's unlabelled points is below U (small-text
                ``OverallUncertainty``)
delta-f=D       the estimated change of the F-score stayed below D over   window (3), after (0)
                ``window`` retrains; two classes only (small-text
                ``DeltaFScore``)
agreement=A     of the directions given in the last ``rounds`` retrains   cosine (0), rounds (3),
                (at least ``min``), a share of at least A agreed with     min (10), after (0)
                the model they were given to: the cosine between the
                model's input gradient towards the direction's target
                class, grad_x (z_c - z_y), and the direction is above
                ``cosine``
==============  ========================================================  ====================

A criterion of your own: subclass :class:`StoppingCriterion` (a ``name``, its
``OPTIONS``, ``judge(round_)``), then either register it with
:func:`register_criterion` (its specs work wherever a spec does, once its module
is imported) or put an instance in ``SessionConfig.stop`` (stored by its class's
import name and :meth:`~StoppingCriterion.get_params`, like an estimator object).

``after=N``: the criterion cannot be met before N points are labelled (early
models that predict one class everywhere look perfectly stable).

Why ``agreement`` asks the model *before* it trained on the directions: the
direction loss pushes the gradient of a trained-on point along its direction,
so agreement with directions already learnt says little; agreement with fresh
ones says the annotators no longer tell the model anything it does not
already believe. The fixed sample holds up to :data:`STOPPING_SAMPLE` pool
points drawn with the session's seed. Criteria keep their history in memory:
a resumed session starts their windows again.

small-text imports transformers when it is imported, which takes seconds, so
it is imported only when a criterion that uses it is built.
"""

from nudge.loop.stopping.criteria import CRITERIA, StoppingCriterion, register_criterion
from nudge.loop.stopping.round import Model, Round, gradient_cosines
from nudge.loop.stopping.rule import STOPPING_SAMPLE, StoppingRule
from nudge.loop.stopping.specs import as_criterion, check_stop_specs, parse_stop

__all__ = [
    "CRITERIA",
    "STOPPING_SAMPLE",
    "Model",
    "Round",
    "StoppingCriterion",
    "StoppingRule",
    "as_criterion",
    "check_stop_specs",
    "gradient_cosines",
    "parse_stop",
    "register_criterion",
]
