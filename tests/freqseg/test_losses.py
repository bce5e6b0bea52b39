import math

import pytest
import torch

from freqseg.losses import DiceCELoss, MarginalDiceCELoss, PartialBinaryDiceBCELoss, binary_dice, multiclass_dice


def test_binary_dice_by_hand():
    prob = torch.tensor([[0.9, 0.1], [0.8, 0.0]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # 2 * (0.9 + 0.8) / ((0.9 + 0.1 + 0.8) + 3) = 3.4 / 4.8
    assert binary_dice(prob, mask, dims=(0, 1), smooth=0).item() == pytest.approx(3.4 / 4.8)


def test_multiclass_dice_is_the_mean_of_binary_dices():
    probs = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.5]], [[0.0, 0.5]]]])  # [B=1, C=3, H=1, W=2]
    target = torch.tensor([[[0, 1]]])
    # class 1: 2*0.5 / (0.5 + 1) = 2/3; class 2: absent from the label, 0.5 predicted: 0 (smooth ~ 0)
    assert multiclass_dice(probs, target, smooth=1e-9).item() == pytest.approx((2 / 3 + 0) / 2, abs=1e-6)
    assert multiclass_dice(probs, target, empty="ignore", smooth=1e-9).item() == pytest.approx(2 / 3, abs=1e-6)
    with_background = multiclass_dice(probs, target, include_background=True, smooth=1e-9).item()
    assert with_background == pytest.approx((1.0 + 2 / 3 + 0) / 3, abs=1e-6)


def test_a_class_absent_from_label_and_prediction_scores_one():
    probs = torch.zeros(1, 3, 2, 2)
    probs[:, 1] = 1.0
    target = torch.ones(1, 2, 2, dtype=torch.long)
    assert multiclass_dice(probs, target).item() == pytest.approx(1.0)


def test_dice_ce_combines_both_terms():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 8, 8, requires_grad=True)
    target = torch.randint(0, 4, (2, 8, 8))
    ce = torch.nn.functional.cross_entropy(logits, target)
    dice = multiclass_dice(logits.softmax(1), target)
    loss = DiceCELoss(dice_weight=0.5, ce_weight=2.0)(logits, target)
    assert loss.item() == pytest.approx((0.5 * (1 - dice) + 2.0 * ce).item())
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_perfect_prediction_has_near_zero_dice_loss():
    target = torch.randint(0, 3, (1, 6, 6))
    logits = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert DiceCELoss(ce_weight=0)(logits, target).item() < 1e-4


def test_bad_arguments():
    with pytest.raises(ValueError, match="weights"):
        DiceCELoss(0, 0)
    with pytest.raises(ValueError, match="do not match"):
        DiceCELoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 5, 5, dtype=torch.long))


def partial_batch():
    torch.manual_seed(0)
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[0, :4] = 1
    target[1, 4:] = 2
    labelled = torch.tensor([[True, False, True], [False, True, True]])
    return target, labelled


def test_partial_binary_loss_gives_unlabelled_classes_no_gradient():
    target, labelled = partial_batch()
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    PartialBinaryDiceBCELoss()(logits, target, labelled).backward()
    grad = logits.grad.abs().sum(dim=(2, 3))
    assert (grad[~labelled] == 0).all() and (grad[labelled] > 0).all()


def test_partial_binary_loss_by_hand():
    target = torch.tensor([[[1, 0]]])  # one sample, one class, two pixels
    logits = torch.tensor([[[[0.0, 0.0]]]])  # p = 0.5 everywhere
    loss = PartialBinaryDiceBCELoss()(logits, target, torch.tensor([[True]]))
    dice = (2 * 0.5 + 1e-5) / (1.0 + 1.0 + 1e-5)
    assert loss.item() == pytest.approx(math.log(2) + 1 - dice, rel=1e-5)


def test_marginal_loss_merges_unlabelled_classes_into_background():
    target, labelled = partial_batch()
    logits = torch.randn(2, 4, 8, 8)
    probs = logits.softmax(1)
    by_hand = []
    for b in range(2):  # background pixels score log(p0 + the unlabelled classes' p): they may be those organs
        unlabelled = [k + 1 for k in range(3) if not labelled[b, k]]
        background = probs[b, 0] + sum(probs[b, k] for k in unlabelled)
        picked = probs[b].gather(0, target[b][None])[0]
        by_hand.append(-torch.where(target[b] == 0, background.log(), picked.log()))
    ce = MarginalDiceCELoss(dice_weight=0)(logits, target, labelled)
    assert ce.item() == pytest.approx(torch.stack(by_hand).mean().item(), rel=1e-5)
    full = torch.ones_like(labelled)
    ignore_empty = DiceCELoss(empty="ignore")(logits, target)  # every class labelled: Dice + CE over present classes
    assert MarginalDiceCELoss()(logits, target, full).item() == pytest.approx(ignore_empty.item(), rel=1e-5)


def test_partial_dice_leaves_out_classes_absent_from_the_sample():
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, :2] = 1  # class 1 drawn, class 2 labelled but absent
    logits = torch.full((1, 2, 4, 4), -20.0)
    logits[0, 0, :2] = 20.0  # a perfect answer
    loss = PartialBinaryDiceBCELoss()(logits, target, torch.tensor([[True, True]]))
    assert loss.item() < 1e-4  # the absent class's Dice (all smoothing) does not count


def test_partial_losses_check_shapes():
    target, labelled = partial_batch()
    with pytest.raises(ValueError, match="one flag per class"):
        PartialBinaryDiceBCELoss()(torch.randn(2, 4, 8, 8), target, labelled)
