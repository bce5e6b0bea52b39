"""The held-out scores: volume Dice pooled over slices, HD95 per slice, intervals, on label maps made by hand."""

import numpy as np
import pytest
import torch

from freqseg.evaluate import SliceScores, interval, markdown


def test_dice_is_pooled_over_slices_and_absent_classes_are_left_out():
    truth = torch.zeros(2, 8, 8, dtype=torch.long)
    truth[0, 0:4, 0:4] = 1  # 16 pixels of class 1 on slice 0
    truth[1, 0:2, 0:2] = 1  # 4 on slice 1
    prediction = torch.zeros_like(truth)
    prediction[0, 0:4, 0:2] = 1  # 8 of the 16
    prediction[1, 0:2, 0:2] = 1  # all 4
    prediction[1, 6:8, 6:8] = 2  # class 2, in no label: left out of the table and the mean
    scores = SliceScores(3, (1.0, 1.0))
    scores.add(prediction, truth)
    result = scores.summary(["background", "liver", "spleen"])
    assert [row["class"] for row in result["classes"]] == ["liver"]
    liver = result["classes"][0]
    assert liver["dice"] == pytest.approx(2 * 12 / (12 + 20))  # pooled: not the mean of 0.667 and 1.0
    assert liver["slices"] == 2 and result["mean_dice"] == pytest.approx(liver["dice"])
    low, high = liver["dice_ci"]
    assert low <= liver["dice"] <= high and low > 0.6 and high <= 1.0
    assert liver["hd95_mm"] == pytest.approx(np.mean([2.0, 0.0]), abs=0.5)  # half the square missed on slice 0
    assert "| liver | 2 | 0.750 (" in markdown(result)


def test_interval_formats_undefined_values():
    assert interval(float("nan"), [float("nan"), float("nan")], 3) == "-"
    assert interval(0.5, [0.4, 0.6], 2) == "0.50 (0.40-0.60)"
