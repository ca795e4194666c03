import pytest
import torch

from vae.model import latent


def test_lerp_and_slerp_endpoints():
    a, b = torch.randn(32), torch.randn(32)
    for fn in (latent.lerp, latent.slerp):
        frames = fn(a, b, 7)
        assert frames.shape == (7, 32)
        assert torch.allclose(frames[0], a, atol=1e-5)
        assert torch.allclose(frames[-1], b, atol=1e-5)


def test_slerp_norms_between_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(32, generator=g) * 2, torch.randn(32, generator=g)
    norms = latent.slerp(a, b, 20).norm(dim=1)
    lo, hi = sorted([a.norm().item(), b.norm().item()])
    assert torch.all(norms >= lo - 1e-4) and torch.all(norms <= hi + 1e-4)
    # lerp through the middle of two random directions loses norm: slerp must not
    assert latent.lerp(a, b, 20).norm(dim=1).min() < lo


def test_slerp_identical_and_opposite_endpoints():
    a = torch.randn(8)
    same = latent.slerp(a, a, 5)
    assert torch.allclose(same, a.expand(5, 8), atol=1e-6)
    opposite = latent.slerp(a, -a, 9)
    assert torch.isfinite(opposite).all()
    assert torch.allclose(opposite[0], a, atol=1e-5) and torch.allclose(opposite[-1], -a, atol=1e-5)
    assert torch.allclose(opposite.norm(dim=1), a.norm().expand(9), atol=1e-4)
    zero = latent.slerp(torch.zeros(8), a, 3)
    assert torch.allclose(zero[1], a / 2)


def test_arithmetic_equals_hand_computation():
    a, b, c = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    # A + w·B − w·C and A + w·(B − C) round apart by ~1e-7: an element near 0 fails allclose's relative test alone
    assert torch.allclose(latent.analogy(a, b, c, 0.7), a + 0.7 * (b - c), atol=1e-6)
    assert torch.allclose(latent.weighted_sum([(2.0, a), (-1.0, b)]), 2 * a - b, atol=1e-6)
    with pytest.raises(ValueError):
        latent.weighted_sum([])


def test_traversal_grid():
    z = torch.zeros(4)
    grid = latent.traversal_grid(z, [1, 3], [-1.0, 0.0, 1.0])
    assert grid.shape == (6, 4)
    assert grid[:3, 1].tolist() == [-1.0, 0.0, 1.0] and grid[3:, 3].tolist() == [-1.0, 0.0, 1.0]
    assert grid[:3, 3].abs().sum() == 0


def test_active_units_and_ranking():
    mu = torch.zeros(100, 4)
    mu[:, 2] = torch.randn(100) * 2
    logvar = torch.zeros(100, 4)
    logvar[:, 2] = -3
    kl = latent.average_kl(mu, logvar)
    assert latent.active_units(kl).tolist() == [False, False, True, False]
    assert latent.rank_dimensions(kl)[0].item() == 2


def test_attribute_direction_and_conditional_variant():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(400, 6, generator=g)
    labels = z[:, 0] + 0.5 * z[:, 1] > 0
    d = latent.attribute_direction(z, labels)
    assert d.norm().item() == pytest.approx(1.0)
    assert d[0] > d[1] > 0.1
    other = torch.zeros(6)
    other[1] = 1.0
    cond = latent.conditional_direction(d, [other])
    assert cond.norm().item() == pytest.approx(1.0)
    assert abs(cond @ other) < 1e-6
    moved = z[0] + 2.0 * cond
    assert (moved @ other).item() == pytest.approx((z[0] @ other).item(), abs=1e-5)
    with pytest.raises(ValueError):
        latent.attribute_direction(z, torch.ones(400))


def test_compose_adds_directions_and_keeps_fixed_ones():
    g = torch.Generator().manual_seed(1)
    a, b, c = torch.randn(3, 6, generator=g)
    d = torch.randn(6, generator=g)
    d = d / d.norm()
    z = latent.compose([(1.0, a), (0.5, b), (-0.5, c)], [(2.0, d)])
    assert torch.allclose(z, a + 0.5 * (b - c) + 2.0 * d, atol=1e-6)
    keep = torch.zeros(6)
    keep[0] = 1.0
    z2 = latent.compose([(1.0, a)], [(3.0, d)], keep_fixed=[keep])
    assert abs(z2[0] - a[0]) < 1e-5
    assert ((z2 - a).norm() - 3.0).abs() < 1e-5


def test_project_2d_finds_main_axes():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 8, generator=g) * torch.tensor([5.0, 0.1, 0.1, 3.0, 0.1, 0.1, 0.1, 0.1])
    xy = latent.project_2d(z)
    assert xy.shape == (200, 2)
    assert xy[:, 0].std() > xy[:, 1].std() > 1.0


def test_fitted_prior_matches_the_latents():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 0.1]])
    z = torch.randn(5000, 3, generator=g) @ mix.T + torch.tensor([1.0, -2.0, 0.5])
    prior = latent.fit_gaussian(z)
    samples = latent.sample_fitted(20000, prior, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(samples.mean(0), z.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(samples.T), torch.cov(z.T), atol=0.08)
    cold = latent.sample_fitted(3, prior, temperature=0.0)
    assert torch.allclose(cold, prior["mean"].expand(3, 3))


def test_mixture_prior_samples_land_on_the_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-4.0, -4.0], [-4.0, 4.0], [4.0, -4.0], [4.0, 4.0]])
    z = centres[torch.randint(0, 4, (4000,), generator=g)] + 0.1 * torch.randn(4000, 2, generator=g)
    mixture = latent.fit_mixture(z, components=4)
    assert mixture["weights"].shape == (4,) and torch.isclose(mixture["weights"].sum(), torch.tensor(1.0))

    def share_on_a_cluster(prior):
        samples = latent.sample_fitted(2000, prior, generator=torch.Generator().manual_seed(1))
        return (torch.cdist(samples, centres).min(1).values < 0.5).float().mean()

    assert share_on_a_cluster(mixture) > 0.95
    assert share_on_a_cluster(latent.fit_gaussian(z)) < 0.3


def _two_cluster_prior():
    """A 2-component mixture in 3-D whose components disagree on dimension 0 and correlate 0 with 1."""
    cov = torch.tensor([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 0.25]])
    tril = torch.linalg.cholesky(cov)
    return {
        "weights": torch.tensor([0.5, 0.5]),
        "mean": torch.tensor([[-4.0, -4.0, 0.0], [4.0, 4.0, 1.0]]),
        "scale_tril": torch.stack([tril, tril]),
    }


def test_condition_mixture_matches_the_closed_form():
    prior = _two_cluster_prior()
    cond = latent.condition_mixture(prior, [0], torch.tensor([4.5]))
    assert cond["free"].tolist() == [1, 2]
    # the locked value is 8.5σ from component 0's mean and 0.5σ from component 1's: all weight on 1
    assert cond["weights"][1] > 0.999
    # component 1: μ_1 + 0.9·(4.5 − 4) for dim 1, dim 2 independent; variance 1 − 0.81 = 0.19
    assert torch.allclose(cond["mean"][1], torch.tensor([4.45, 1.0]), atol=1e-5)
    cov = cond["scale_tril"][1] @ cond["scale_tril"][1].T
    assert torch.allclose(cov, torch.tensor([[0.19, 0.0], [0.0, 0.25]]), atol=1e-5)


def test_sample_conditional_keeps_locked_values_and_stays_likely():
    prior = _two_cluster_prior()
    g = torch.Generator().manual_seed(0)
    z = latent.sample_conditional(500, prior, [2, 0], torch.tensor([1.0, 4.0]), 1.0, g)
    assert torch.all(z[:, 0] == 4.0) and torch.all(z[:, 2] == 1.0)
    assert abs(z[:, 1].mean() - 4.0) < 0.1 and abs(z[:, 1].std() - 0.19**0.5) < 0.05
    # drawing the free dimension independently of the lock lands between the clusters half the time
    naive = latent.sample_fitted(500, prior, 1.0, g)
    naive[:, 0], naive[:, 2] = 4.0, 1.0
    assert latent.mixture_log_prob(prior, z).mean() > latent.mixture_log_prob(prior, naive).mean() + 10


def test_condition_mixture_without_locks_is_the_prior_and_standard_prior_density():
    prior = latent.standard_prior(4)
    assert torch.equal(latent.condition_mixture(prior, [], torch.tensor([]))["mean"], prior["mean"])
    expected = torch.distributions.MultivariateNormal(torch.zeros(4), torch.eye(4)).log_prob(torch.ones(4))
    assert torch.allclose(latent.mixture_log_prob(prior, torch.ones(4)), expected, atol=1e-5)


def test_typical_latent_is_the_densest_component_mean():
    prior = _two_cluster_prior()
    prior["weights"] = torch.tensor([0.2, 0.8])
    assert torch.equal(latent.typical_latent(prior), prior["mean"][1])
    assert torch.equal(latent.typical_latent(latent.standard_prior(3)), torch.zeros(3))


def test_denoise_to_prior_pulls_blends_onto_faces_and_leaves_faces_alone():
    from vae.model.latent import denoise_to_prior, fit_mixture, mixture_log_prob

    torch.manual_seed(0)
    centres = torch.tensor([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    points = torch.cat([c + 0.3 * torch.randn(400, 3) for c in centres])
    prior = fit_mixture(points, components=2)
    face = centres[0] + torch.tensor([0.1, -0.2, 0.1])
    blend = torch.tensor([0.4, 0.0, 0.0])  # between the two clusters
    moved = denoise_to_prior(torch.stack([face, blend]), prior, noise=1.0)
    assert moved[1, 0].abs() > 1.5  # pulled into a cluster
    assert (moved[0] - face).norm() < 0.15 * (moved[1] - blend).norm()  # a face moves far less
    assert mixture_log_prob(prior, moved[1:]) > mixture_log_prob(prior, blend[None]) + 5
    assert denoise_to_prior(blend, prior, noise=1.0).shape == blend.shape


def test_snapping_to_the_nearest_faces_makes_a_blend_between_two_kinds_one_of_them():
    from vae.model.latent import denoise_to_prior, fit_mixture

    torch.manual_seed(0)
    centres = torch.tensor([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    prior = fit_mixture(torch.cat([c + 0.3 * torch.randn(400, 3) for c in centres]), components=2)
    halfway = torch.tensor([[0.05, 0.2, 0.0]])  # as likely in either cluster
    averaged, nearest = denoise_to_prior(halfway, prior, 1.0), denoise_to_prior(halfway, prior, 1.0, nearest=True)
    assert averaged[0, 0].abs() < 1.0  # the two pulls cancel: still a blend of the two kinds
    assert nearest[0, 0] > 1.5  # one kind: the cluster it lies (barely) nearer
    face = centres[1:] + torch.tensor([0.1, -0.2, 0.1])
    snapped = denoise_to_prior(face, prior, 1.0, nearest=True)
    assert torch.allclose(snapped, denoise_to_prior(face, prior, 1.0), atol=1e-4)  # a face: one kind either way


def test_snap_path_keeps_the_ends_and_draws_the_middle_onto_faces():
    from vae.model.latent import denoise_to_prior, fit_mixture, mixture_log_prob, snap_path

    torch.manual_seed(0)
    centres = torch.tensor([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    prior = fit_mixture(torch.cat([c + 0.3 * torch.randn(300, 3) for c in centres]), components=3)
    a, b = centres[0] + torch.tensor([0.2, 0.1, 0.0]), centres[1] + torch.tensor([-0.1, 0.2, 0.1])
    frames = latent.lerp(a, b, 9)
    snapped = snap_path(frames, prior, noise=1.0)
    assert torch.equal(snapped[0], a) and torch.equal(snapped[-1], b)  # the chosen faces, exactly
    assert torch.allclose(snapped[4], denoise_to_prior(frames[4], prior, noise=1.0))  # the middle, fully
    nearest = snap_path(frames, prior, noise=1.0, nearest=True)
    assert torch.allclose(nearest[4], denoise_to_prior(frames[4], prior, noise=1.0, nearest=True))
    assert mixture_log_prob(prior, snapped[4:5]) > mixture_log_prob(prior, frames[4:5]) + 5
    moved = (snapped - frames).norm(dim=1)
    assert (
        moved[2] < (denoise_to_prior(frames[2], prior, noise=1.0) - frames[2]).norm()
    )  # part of the way near the ends
    assert torch.equal(snap_path(frames[[0, -1]], prior), frames[[0, -1]])  # two frames: nothing in between


def test_a_slot_from_a_file_of_several_latents_says_it_holds_the_first(tmp_path):
    from vae.explore.export import save_latents
    from vae.explore.slots import from_latent_file

    frames = torch.randn(12, 4)
    save_latents(tmp_path / "strip.json", frames, "model")
    slot = from_latent_file(tmp_path / "strip.json", 4)
    assert torch.allclose(slot.latent, frames[0]) and slot.label == "strip.json (face 1 of 12)"
    save_latents(tmp_path / "one.json", frames[3], "model")
    assert from_latent_file(tmp_path / "one.json", 4).label == "one.json"
