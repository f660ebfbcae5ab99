"""Small-VAE training: decoder-only fine-tuning with smoothed latents keeps the encoder and learns."""
import torch

from edge_sdk.samples import sample_pairs
from edge_sdk.train.data import PhotoCrops
from edge_sdk.train.vae_training import VaeTrainConfig, box_smooth, smooth_some, train_vae


def test_box_smooth_is_the_window_mean_with_replicated_edges():
    x = torch.randn(1, 2, 9, 9, generator=torch.Generator().manual_seed(0))
    smoothed = box_smooth(x, 3)
    assert smoothed.shape == x.shape
    assert torch.allclose(smoothed[0, :, 4, 4], x[0, :, 3:6, 3:6].mean((1, 2)), atol=1e-6)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    assert torch.allclose(smoothed[0, :, 0, 0], padded[0, :, 0:3, 0:3].mean((1, 2)), atol=1e-6)


def test_smooth_some_smooths_pairs_together_at_the_given_share():
    g = torch.Generator().manual_seed(1)
    latents, images = torch.randn(32, 4, 8, 8, generator=g), torch.randn(32, 3, 64, 64, generator=g)
    untouched = smooth_some(latents, images, 0.0, g)
    assert torch.equal(untouched[0], latents) and torch.equal(untouched[1], images)
    smoothed_latents, smoothed_images = smooth_some(latents, images, 0.5, g)
    latent_changed = [not torch.equal(a, b) for a, b in zip(smoothed_latents, latents)]
    image_changed = [not torch.equal(a, b) for a, b in zip(smoothed_images, images)]
    assert latent_changed == image_changed and 6 <= sum(latent_changed) <= 26
    # Smoothing lowers the variance of what it touches; the rest is bit-identical.
    for i, changed in enumerate(latent_changed):
        if changed:
            assert smoothed_images[i].std() < 0.5 * images[i].std()


def test_decoder_only_fine_tuning_with_smoothed_latents_keeps_the_encoder(tmp_path):
    torch.set_num_threads(1)
    photos = [image for image, _ in sample_pairs()][:3]
    config = VaeTrainConfig(steps=3, batch_size=2, crop=32, checkpoint_every=1, log_every=1)
    first = train_vae(PhotoCrops(photos, 32), tmp_path / "vae", config, progress=False)
    before = torch.load(first, weights_only=True)["modules"]["vae"]
    tuned = VaeTrainConfig(steps=4, batch_size=2, crop=32, decoder_only=True, smoothed_latent_share=1.0, checkpoint_every=1, log_every=1)
    state = train_vae(PhotoCrops(photos, 32), tmp_path / "decoder", tuned, progress=False, init_state=first)
    after = torch.load(state, weights_only=True)["modules"]["vae"]
    encoder_keys = [k for k in before if k.startswith(("encoder.", "quant_conv."))]
    decoder_keys = [k for k in before if k.startswith("decoder.")]
    assert encoder_keys and all(torch.equal(before[k], after[k]) for k in encoder_keys)
    assert any(not torch.equal(before[k], after[k]) for k in decoder_keys)
    rows = (tmp_path / "decoder" / "log.csv").read_text().splitlines()
    assert len(rows) == 5 and all(float(r.split(",")[1]) > 0 for r in rows[1:])
