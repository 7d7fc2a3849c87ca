"""Decide once per person: the classifier outputs of one track vote.

A single CCTV frame is often too blurry to tell; fifty frames of the same person are not. Each
classifier output of a track's face is one ballot:

* ``mask_prob > high``  -> a mask vote (+1 to the balance);
* ``mask_prob < low``   -> an unmasked vote (-1), attributed to ``mask_incorrect`` when the
  classifier has that class and rates it above ``no_mask``, else to ``no_mask``;
* ``low <= mask_prob <= high`` -> no vote (counted as an abstention, for reporting only);
* no classifier output at all (face filtered out, outside the detection area, not detected in
  this frame, detector not run on this frame) -> **no vote**. Not being seen is not evidence of
  an uncovered face; :meth:`VoteState.cast` with ``None`` changes nothing but a counter.

``balance = mask votes - unmasked votes``, clamped to ``[-cap, +cap]`` after every vote, so an
old majority cannot outweigh a change for long: someone who put a mask on after ``cap``
unmasked votes is decided masked after ``cap + min_votes`` mask votes.

Decision: ``mask`` when ``balance >= min_votes``; unmasked when ``balance <= -min_votes``;
``undecided`` in between (so ``min_votes`` is the net margin of votes a decision needs). An
unmasked decision is ``mask_incorrect`` when a second clamped balance, incorrect votes minus
no-mask votes, is positive, else ``no_mask``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import VoteConfig
from .types import INCORRECT, MASK, NO_MASK

UNDECIDED = "undecided"
DECISIONS = (MASK, NO_MASK, INCORRECT, UNDECIDED)


def _clamp(value: int, cap: int) -> int:
    return max(-cap, min(cap, value))


@dataclass
class VoteState:
    """The ballot box of one track."""

    rule: VoteConfig
    balance: int = 0  # mask votes - unmasked votes, clamped to +-cap
    incorrect_balance: int = 0  # among unmasked votes: mask_incorrect - no_mask, clamped to +-cap
    counts: dict[str, int] = field(default_factory=lambda: {MASK: 0, NO_MASK: 0, INCORRECT: 0, "abstain": 0, "none": 0})
    prob_sum: float = 0.0  # of every classifier output, for the mean in reports

    def ballot(self, mask_prob: float | None, class_probs: dict[str, float] | None = None) -> str | None:
        """The vote one classifier output casts (MASK, NO_MASK, INCORRECT) or None; pure."""
        if mask_prob is None or not math.isfinite(mask_prob):
            return None
        if mask_prob > self.rule.high:
            return MASK
        if mask_prob < self.rule.low:
            if class_probs and class_probs.get(INCORRECT, 0.0) > class_probs.get(NO_MASK, 0.0):
                return INCORRECT
            return NO_MASK
        return None

    def cast(self, mask_prob: float | None, class_probs: dict[str, float] | None = None) -> str | None:
        """Count one frame of this track; returns the vote cast, or None (abstention / no output)."""
        if mask_prob is None or not math.isfinite(mask_prob):
            self.counts["none"] += 1
            return None
        self.prob_sum += mask_prob
        vote = self.ballot(mask_prob, class_probs)
        if vote is None:
            self.counts["abstain"] += 1
            return None
        self.counts[vote] += 1
        cap = self.rule.cap
        if vote == MASK:
            self.balance = _clamp(self.balance + 1, cap)
        else:
            self.balance = _clamp(self.balance - 1, cap)
            self.incorrect_balance = _clamp(self.incorrect_balance + (1 if vote == INCORRECT else -1), cap)
        return vote

    def merge(self, other: "VoteState") -> None:
        """Add the ballots of ``other`` (the same person's broken-off track), as if cast after ours."""
        for key, n in other.counts.items():
            self.counts[key] += n
        self.prob_sum += other.prob_sum
        cap = self.rule.cap
        self.balance = _clamp(self.balance + other.balance, cap)
        self.incorrect_balance = _clamp(self.incorrect_balance + other.incorrect_balance, cap)

    @property
    def decision(self) -> str:
        if self.balance >= self.rule.min_votes:
            return MASK
        if self.balance <= -self.rule.min_votes:
            return INCORRECT if self.incorrect_balance > 0 else NO_MASK
        return UNDECIDED

    @property
    def voted(self) -> int:
        """Frames that cast a vote (mask, no mask or incorrect), abstentions left out."""
        return self.counts[MASK] + self.counts[NO_MASK] + self.counts[INCORRECT]

    @property
    def classified(self) -> int:
        """Classifier outputs seen (votes + abstentions)."""
        return self.counts[MASK] + self.counts[NO_MASK] + self.counts[INCORRECT] + self.counts["abstain"]

    @property
    def mean_prob(self) -> float | None:
        n = self.classified
        return self.prob_sum / n if n else None

    def to_json(self) -> dict:
        return {
            "decision": self.decision, "balance": self.balance,
            "votes": {k: self.counts[k] for k in (MASK, NO_MASK, INCORRECT)},
            "abstain": self.counts["abstain"],
        }
