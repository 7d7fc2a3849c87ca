import numpy as np

from facemask.crops import face_crop, face_crops, square_box


def test_square_box_is_padded_square_around_centre():
    sq = square_box([10, 20, 30, 60], pad=0.25)
    assert np.allclose(sq[2] - sq[0], 60) and np.allclose(sq[3] - sq[1], 60)
    assert np.allclose([(sq[0] + sq[2]) / 2, (sq[1] + sq[3]) / 2], [20, 40])


def test_crop_is_rgb_and_sized():
    image = np.zeros((100, 100, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    crop = face_crop(image, [40, 40, 60, 60], 45)
    assert crop.shape == (45, 45, 3) and crop[..., 2].min() == 255 and crop[..., 0].max() == 0


def test_edge_faces_keep_their_scale():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, :10] = 200  # a bright band at the left edge
    crop = face_crop(image, [0, 40, 20, 60], 40, pad=0.0)
    # the square spans x in [0, 20]: half the crop comes from the bright band, none is black padding
    assert crop[:, :15].mean() > 150 and crop[:, 25:].mean() < 50


def test_batch_of_none_and_many():
    image = np.zeros((50, 50, 3), np.uint8)
    assert face_crops(image, [], 45).shape == (0, 45, 45, 3)
    assert face_crops(image, [[0, 0, 10, 10], [200, 200, 210, 210]], 45).shape == (2, 45, 45, 3)


def test_crop_shift_moves_the_square_down_by_box_heights():
    base, shifted = square_box([10, 20, 30, 60], pad=0.25), square_box([10, 20, 30, 60], pad=0.25, shift=0.25)
    assert np.allclose(shifted - base, [0, 10, 0, 10])  # 0.25 of the 40 px box height, same side
    image = np.zeros((100, 100, 3), np.uint8)
    image[60:] = 255  # bright below the box
    assert face_crop(image, [40, 20, 60, 60], 45, 0.0, 0.25).mean() > face_crop(image, [40, 20, 60, 60], 45).mean()
