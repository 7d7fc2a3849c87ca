"""The per-person vote rule (facemask.votes), exhaustively: thresholds, the cap, min_votes, the
third class, and above all: a frame without a classifier output casts no vote."""

import itertools
import math

import pytest

from facemask.config import VoteConfig, parse_config
from facemask.errors import ConfigError
from facemask.types import INCORRECT, MASK, NO_MASK
from facemask.votes import UNDECIDED, VoteState

RULE = VoteConfig(min_votes=3)  # low 0.2, high 0.8, cap 100 (the defaults), min_votes 3

INC = {"mask": 0.05, "no_mask": 0.25, "mask_incorrect": 0.70}  # an output voting mask_incorrect
NOM = {"mask": 0.05, "no_mask": 0.70, "mask_incorrect": 0.25}


def cast_all(state, outputs):
    for out in outputs:
        if isinstance(out, tuple):
            state.cast(*out)
        else:
            state.cast(out)
    return state


def test_defaults_are_the_documented_ones():
    rule = VoteConfig()
    assert (rule.low, rule.high, rule.cap, rule.min_votes) == (0.2, 0.8, 100, 4)


@pytest.mark.parametrize("prob, vote", [
    (0.0, NO_MASK), (0.1999, NO_MASK), (0.2, None), (0.5, None), (0.8, None), (0.8001, MASK), (1.0, MASK),
])
def test_thresholds_are_strict(prob, vote):
    state = VoteState(RULE)
    assert state.cast(prob) == vote
    assert state.balance == {MASK: 1, NO_MASK: -1, None: 0}[vote]
    assert state.counts["abstain"] == (vote is None)


@pytest.mark.parametrize("missing", [None, math.nan, math.inf])
def test_no_classifier_output_casts_no_vote(missing):
    state = VoteState(RULE)
    for _ in range(1000):  # not seen / filtered / not detected for 40 s of video
        assert state.cast(missing) is None
    assert state.balance == 0 and state.decision == UNDECIDED
    assert state.counts[NO_MASK] == 0 and state.counts["none"] == 1000 and state.classified == 0


def test_missing_outputs_between_votes_change_nothing():
    votes = [0.9, 0.95, 0.1, 0.9, 0.99]
    plain = cast_all(VoteState(RULE), votes)
    gappy = cast_all(VoteState(RULE), [x for v in votes for x in (None, None, v, None)])
    assert (gappy.balance, gappy.decision) == (plain.balance, plain.decision) == (3, MASK)


@pytest.mark.parametrize("min_votes", [1, 2, 3, 5])
def test_min_votes_is_the_net_margin(min_votes):
    rule = VoteConfig(min_votes=min_votes)
    masked = VoteState(rule)
    for i in range(1, min_votes + 1):
        masked.cast(0.95)
        assert masked.decision == (MASK if i >= min_votes else UNDECIDED)
    unmasked = VoteState(rule)
    for i in range(1, min_votes + 1):
        unmasked.cast(0.05)
        assert unmasked.decision == (NO_MASK if i >= min_votes else UNDECIDED)
    # Margin, not total: one vote against undoes one vote for.
    masked.cast(0.05)
    assert masked.balance == min_votes - 1 and masked.decision == UNDECIDED


def test_alternating_votes_stay_undecided():
    state = cast_all(VoteState(RULE), [0.9, 0.1] * 200)
    assert state.balance == 0 and state.decision == UNDECIDED
    assert state.counts[MASK] == state.counts[NO_MASK] == 200


def test_cap_bounds_the_balance_both_ways():
    state = cast_all(VoteState(RULE), [0.05] * 500)
    assert state.balance == -100 and state.counts[NO_MASK] == 500
    cast_all(state, [0.95] * 1000)
    assert state.balance == 100


@pytest.mark.parametrize("cap, min_votes", [(100, 3), (10, 3), (5, 5), (30, 1)])
def test_putting_a_mask_on_flips_after_cap_plus_min_votes(cap, min_votes):
    rule = VoteConfig(cap=cap, min_votes=min_votes)
    state = cast_all(VoteState(rule), [0.05] * (cap * 4))  # long unmasked history
    assert state.decision == NO_MASK
    cast_all(state, [0.95] * (cap + min_votes - 1))
    assert state.decision == UNDECIDED
    state.cast(0.95)
    assert state.decision == MASK


def test_incorrect_votes_count_as_unmasked_and_decide_apart():
    state = cast_all(VoteState(RULE), [(0.05, INC)] * 3)
    assert state.balance == -3 and state.decision == INCORRECT and state.counts[INCORRECT] == 3
    cast_all(state, [(0.05, NOM)] * 3)  # equal: plain no_mask wins the tie
    assert state.decision == NO_MASK and state.incorrect_balance == 0
    state.cast(0.05, INC)
    assert state.decision == INCORRECT


def test_incorrect_class_only_matters_below_low():
    state = VoteState(RULE)
    assert state.cast(0.5, {"mask": 0.5, "no_mask": 0.1, "mask_incorrect": 0.4}) is None
    assert state.cast(0.9, {"mask": 0.9, "no_mask": 0.0, "mask_incorrect": 0.1}) == MASK
    assert state.cast(0.1, {"mask": 0.1, "no_mask": 0.9}) == NO_MASK  # two-class model
    assert state.cast(0.1, None) == NO_MASK


def test_mean_prob_ignores_missing_outputs():
    state = cast_all(VoteState(RULE), [0.9, None, 0.5, None, 0.1])
    assert state.mean_prob == pytest.approx(0.5) and state.classified == 3


def reference(outputs, low, high, cap, min_votes):
    """The rule as written in the module docstring, folded naively."""
    bal = inc = 0
    for out in outputs:
        prob, probs = out if isinstance(out, tuple) else (out, None)
        if prob is None:
            continue
        if prob > high:
            bal = min(cap, bal + 1)
        elif prob < low:
            bal = max(-cap, bal - 1)
            incorrect = bool(probs) and probs.get("mask_incorrect", 0) > probs.get("no_mask", 0)
            inc = max(-cap, min(cap, inc + (1 if incorrect else -1)))
    if bal >= min_votes:
        return MASK
    if bal <= -min_votes:
        return INCORRECT if inc > 0 else NO_MASK
    return UNDECIDED


def test_every_short_sequence_matches_the_written_rule():
    rule = VoteConfig(cap=3, min_votes=2)
    alphabet = [None, 0.05, 0.5, 0.95, (0.05, INC)]
    n = 0
    for length in range(7):
        for seq in itertools.product(alphabet, repeat=length):
            state = cast_all(VoteState(rule), seq)
            assert state.decision == reference(seq, 0.2, 0.8, 3, 2), seq
            assert -3 <= state.balance <= 3
            n += 1
    assert n == sum(5 ** k for k in range(7))


@pytest.mark.parametrize("vote, message", [
    ({"low": 0.9, "high": 0.1}, "vote.low must not exceed vote.high"),
    ({"cap": 2, "min_votes": 3}, "vote.cap must be at least vote.min_votes"),
    ({"min_votes": 0}, "vote.min_votes"),
    ({"cap": "100"}, "vote.cap"),
    ({"quorum": 3}, "vote.quorum: unknown key"),
])
def test_bad_vote_config_is_one_clear_error(vote, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config({"vote": vote})
