"""Model families: choosing a member per neuron by noise level and frame rate, in every entry point."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import ens2rt
from ens2rt.cli import app
from ens2rt.errors import InputError, ModelError
from ens2rt.example import load_example
from ens2rt.formats import write_result
from ens2rt.catalog.model import resolve_model_path


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """Two shipped networks posing as members trained at ν = 1 and ν = 5."""
    folder = tmp_path_factory.mktemp("family")
    members = []
    for name, level in (("ens2-exc-native", 1.0), ("ens2-published-exc", 5.0)):
        source = resolve_model_path(name)
        shutil.copy(source, folder / source.name)
        card = json.loads(source.with_suffix(".json").read_text())
        (folder / f"{name}.json").write_text(json.dumps({**card, "noise_level": level}))
        members.append(ens2rt.Model.load(folder / source.name, device="cpu"))
    return ens2rt.ModelFamily.from_models("test", members[::-1])


@pytest.fixture(scope="module")
def mixed():
    """Rows alternating between the example neuron as recorded (ν ≈ 0.4) and made noisy (ν ≈ 7)."""
    example = load_example()
    dff = example.dff[:3600]
    noisy = dff + np.random.default_rng(0).normal(0, 0.6, dff.size)
    return np.stack([dff, noisy, dff, noisy]), example.frame_rate


def test_members_are_ordered_and_the_nearest_is_chosen(family):
    assert [m.noise_level for m in family.members] == [1.0, 5.0]
    np.testing.assert_array_equal(family.choose(np.array([0.2, 2.9, 3.1, 9.0, np.nan]), 30.0), [0, 0, 1, 1, 0])
    assert family.member_for(4.0, 30.0).name == "ens2-published-exc"


def test_ranges_choose_by_frame_rate_and_noise_level(family):
    from ens2rt.catalog.manifest import MemberRange

    native, published = sorted(family.members, key=lambda m: m.noise_level)
    ranges = (MemberRange("ens2-published-exc", frame_rate_hz=(0.0, 40.0), noise_level=(0.0, 5.0)),
              MemberRange("ens2-exc-native", noise_level=(0.0, 5.0)), MemberRange("ens2-published-exc", noise_level=(5.0, np.inf)))  # fmt: skip
    with pytest.raises(ModelError, match="one range per member"):
        ens2rt.ModelFamily.with_ranges("ranged", [published, native], ranges)
    ranged = ens2rt.ModelFamily.with_ranges("ranged", [published, native, published], ranges)  # first match wins
    np.testing.assert_array_equal(ranged.choose(np.array([0.5, 4.9, 5.0, np.nan]), 30.0), [0, 0, 2, 0])
    np.testing.assert_array_equal(ranged.choose(np.array([0.5, 4.9, 5.0, np.nan]), 122.0), [1, 1, 2, 1])
    assert ranged.member_for(1.0, 40.0).name == "ens2-exc-native"  # ranges are half-open: 40 Hz is not below 40
    with pytest.raises(ModelError, match="no member takes a neuron of ν 5 at 0 Hz"):
        ens2rt.ModelFamily.with_ranges("gap", [native], (MemberRange("ens2-exc-native", noise_level=(0.0, 5.0)),))


def test_a_ranged_family_routes_each_neuron_in_every_entry_point(family, mixed):
    from ens2rt.catalog.manifest import MemberRange

    da = pytest.importorskip("dask.array")
    from ens2rt import dask as ens2rt_dask

    native, published = sorted(family.members, key=lambda m: m.noise_level)
    ranged = ens2rt.ModelFamily.with_ranges("ranged", [published, native], (MemberRange("ens2-published-exc", frame_rate_hz=(0.0, 20.0)),
                                                                           MemberRange("ens2-exc-native")))  # fmt: skip
    dff, rate = mixed  # 60 Hz: the native member takes every neuron, whatever its ν
    assert set(ens2rt.infer(dff, rate, model=ranged, spikes=False).neuron_model) == {"ens2-exc-native"}
    slow, rate = dff[:, ::4], rate / 4  # 15 Hz
    offline = ens2rt.infer(slow, rate, model=ranged, spikes=False)
    assert set(offline.neuron_model) == {"ens2-published-exc"}
    np.testing.assert_allclose(offline.rate, ens2rt.infer(slow, rate, model=published, spikes=False).rate, atol=1e-6)
    stream = ens2rt.Stream(4, rate, model=ranged, noise_level=ens2rt.noise_level(slow, rate), spikes=False)
    assert set(stream.neuron_model) == {"ens2-published-exc"}
    lazy = ens2rt_dask.infer(da.from_array(slow, chunks=(2, 300)), rate, model=ranged, spikes=False)
    assert np.array(lazy.models)[lazy.model_index.compute(scheduler="threads")].tolist() == offline.neuron_model.tolist()


def test_each_neuron_runs_on_its_member_and_numbers_match_that_member(family, mixed):
    dff, rate = mixed
    res = ens2rt.infer(dff, rate, model=family, spikes=False)
    assert res.noise_level[0] < 3 < res.noise_level[1]
    assert res.neuron_model.tolist() == ["ens2-exc-native", "ens2-published-exc"] * 2
    assert res.model == "test" and set(res.model_sha256) == {"ens2-exc-native", "ens2-published-exc"}
    quiet = ens2rt.infer(dff[0::2], rate, model=family.members[0], spikes=False)
    noisy = ens2rt.infer(dff[1::2], rate, model=family.members[1], spikes=False)
    np.testing.assert_allclose(res.rate[0::2], quiet.rate, atol=1e-6)
    np.testing.assert_allclose(res.rate[1::2], noisy.rate, atol=1e-6)


def test_noise_level_overrides_the_estimate(family, mixed):
    dff, rate = mixed
    assert set(ens2rt.infer(dff, rate, model=family, noise_level=6.0, spikes=False).neuron_model) == {"ens2-published-exc"}
    per_neuron = ens2rt.infer(dff, rate, model=family, noise_level=[9, 9, 0, 0], spikes=False)
    assert per_neuron.neuron_model.tolist() == ["ens2-published-exc"] * 2 + ["ens2-exc-native"] * 2
    assert per_neuron.settings["noise_level_given"] == [9, 9, 0, 0]
    with pytest.raises(InputError, match="one per neuron"):
        ens2rt.infer(dff, rate, model=family, noise_level=[1, 2])
    with pytest.raises(InputError, match="non-negative"):
        ens2rt.infer(dff, rate, model=family, noise_level=-1)
    with pytest.raises(InputError, match="single model"):
        ens2rt.infer(dff, rate, model=family.members[0], noise_level=2.0)


def test_a_stream_needs_noise_levels_up_front_and_then_equals_offline(family, mixed):
    dff, rate = mixed
    with pytest.raises(InputError, match="noise_level="):
        ens2rt.Stream(4, rate, model=family)
    levels = ens2rt.noise_level(dff[:, :600], rate)  # from the first 10 s, as an acquisition program would
    stream = ens2rt.Stream(4, rate, model=family, noise_level=levels, spikes=False)
    assert stream.neuron_model.tolist() == ["ens2-exc-native", "ens2-published-exc"] * 2
    pieces = [stream.push(dff[:, k : k + 500]).rate for k in range(0, dff.shape[1], 500)] + [stream.flush().rate]
    offline = ens2rt.infer(dff, rate, model=family, noise_level=levels, spikes=False)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), offline.rate, atol=1e-5)


def test_dask_chooses_members_lazily_like_offline(family, mixed):
    da = pytest.importorskip("dask.array")
    from ens2rt import dask as ens2rt_dask

    dff, rate = mixed
    result = ens2rt_dask.infer(da.from_array(dff, chunks=(2, 1000)), rate, model=family, spikes=False)
    offline = ens2rt.infer(dff, rate, model=family, spikes=False)
    index = result.model_index.compute(scheduler="threads")
    assert np.array(result.models)[index].tolist() == offline.neuron_model.tolist()
    np.testing.assert_allclose(result.rate.compute(scheduler="threads"), offline.rate, atol=1e-5)


def test_result_files_record_the_model_of_every_neuron(family, mixed, tmp_path):
    h5py = pytest.importorskip("h5py")
    dff, rate = mixed
    res = ens2rt.infer(dff, rate, model=family)
    with np.load(write_result(tmp_path / "r.npz", res)) as saved:
        assert saved["neuron_model"].tolist() == res.neuron_model.tolist()
        assert json.loads(str(saved["model_sha256"])) == res.model_sha256
    with h5py.File(write_result(tmp_path / "r.h5", res), "r") as saved:
        assert [name.decode() for name in saved["neuron_model"][:]] == res.neuron_model.tolist()


def test_shipped_families_are_consistent():
    families = ens2rt.available_families()
    assert {"ens2-exc", "ens2-inh"} <= set(families)
    shipped = set(ens2rt.available_models())
    for name, members in families.items():
        assert name not in shipped  # a family name never shadows a model
        family = ens2rt.ModelFamily.load(name, device="cpu")
        assert [m.name for m in family.members] == members
        cells = "inhibitory" if name.startswith("ens2-inh") else "excitatory"
        at_10hz_or_faster = {family.member_for(level, rate).name for level in np.arange(0.0, 12.0, 0.25) for rate in (10.0, 30.0, 122.0)}
        assert {ens2rt.Model.load(m).card["cell_class"] for m in at_10hz_or_faster} == {cells}  # only slower recordings may cross over
    with pytest.raises(ModelError, match="model family"):
        ens2rt.Model.load("ens2-exc")
    with pytest.raises(ModelError, match="unknown model family"):
        ens2rt.ModelFamily.load("ens2-nope")


def test_families_are_manifests_and_a_model_may_serve_several(tmp_path, monkeypatch):
    """One manifest per family in models/families/; a noise member may be listed by two families."""
    from ens2rt.catalog import model as catalog

    for name in ("a-native", "b-native", "shared-nu4"):
        (tmp_path / f"{name}.onnx").write_bytes(b"")
    (tmp_path / "families").mkdir()
    (tmp_path / "families" / "fam-a.json").write_text(json.dumps({"name": "fam-a", "members": ["a-native", "shared-nu4"]}))
    (tmp_path / "families" / "fam-b.json").write_text(json.dumps({"name": "fam-b", "members": [
        {"model": "b-native", "noise_level": [0, 5], "frame_rate_hz": [0, 40]}, {"model": "shared-nu4"}]}))  # fmt: skip
    monkeypatch.setattr(catalog, "models_dir", lambda: tmp_path)
    assert catalog.available_families() == {"fam-a": ["a-native", "shared-nu4"], "fam-b": ["b-native", "shared-nu4"]}
    assert catalog.family_manifest("fam-b").members[0].frame_rate_hz == (0.0, 40.0)
    bad = {"wrong-name.json": {"name": "other", "members": ["a-native"]},
           "empty.json": {"name": "empty", "members": []},
           "range.json": {"name": "range", "members": [{"model": "a-native", "noise_level": [5, 1]}]},
           "gap.json": {"name": "gap", "members": [{"model": "a-native", "frame_rate_hz": [10, None]}]},
           "twice.json": {"name": "twice", "members": ["a-native", "a-native"]},
           "missing.json": {"name": "missing", "members": ["a-native", "no-such-model"]}}  # fmt: skip
    messages = {"wrong-name": "whose name is", "empty": "non-empty", "range": "0 <= low < high", "gap": "no member takes a neuron of ν 0 at 0 Hz",
                "twice": "listed twice", "missing": "not a shipped model"}  # fmt: skip
    for file, manifest in bad.items():
        path = tmp_path / "families" / file
        path.write_text(json.dumps(manifest))
        with pytest.raises(ModelError, match=messages[path.stem]):
            catalog.family_manifest(path.stem)
        path.unlink()


def test_cli_noise_level_and_its_errors(tmp_path, mixed):
    dff, rate = mixed
    np.save(tmp_path / "x.npy", dff)
    runner = CliRunner()
    done = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", str(rate), "--noise-level", "6", "-o", str(tmp_path / "o.npz")])
    assert done.exit_code == 0, done.output
    with np.load(tmp_path / "o.npz") as saved:
        expected = ens2rt.ModelFamily.load("ens2-exc").member_for(6.0, rate).name
        assert saved["neuron_model"].tolist() == [expected] * 4
    refused = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", str(rate), "--model", "ens2-published-exc", "--noise-level", "6"])
    assert refused.exit_code == 1 and "single model" in refused.output and "Traceback" not in refused.output


def test_ens2_inh_hands_recordings_slower_than_10_hz_to_the_excitatory_student():
    """Inhibitory models over-count 2-5x below 10 Hz (research/results/inhibitory.md); ens2-exc-conv does not."""
    example = load_example()
    slow = ens2rt.infer(example.dff[::8], example.frame_rate / 8, model="ens2-inh")  # 7.5 Hz
    fast = ens2rt.infer(example.dff[::4], example.frame_rate / 4, model="ens2-inh")  # 15 Hz
    assert slow.neuron_model.tolist() == ["ens2-exc-conv"] and fast.neuron_model[0].startswith("ens2-inh-")
    manifest = ens2rt.catalog.model.family_manifest("ens2-inh")
    assert "research/results/inhibitory.md" in manifest.why


def test_ens2_inh_keeps_noise_members_only_where_no_real_inhibitory_neuron_is():
    """models/families/ens2-inh.json: below ν 5 the members lost to the native model on real held-out neurons."""
    family = ens2rt.ModelFamily.load("ens2-inh", device="cpu")
    assert {family.member_for(level, rate).name for level in (0.5, 1.5, 3.0, 4.9) for rate in (10.0, 30.0)} == {"ens2-inh-native"}
    assert family.member_for(5.5, 30.0).name == "ens2-inh-nu6" and family.member_for(9.0, 30.0).name == "ens2-inh-nu8"
    assert {family.member_for(level, 15.0).name for level in (5.5, 9.0)} == {"ens2-inh-native"}  # members only from 20 Hz
    assert "research/results/inhibitory_members.md" in ens2rt.catalog.model.family_manifest("ens2-inh").why


def test_the_default_runs_the_student_below_10_hz_and_noise_members_only_on_noisy_fast_recordings():
    """models/families/ens2-exc.json, chosen by the rules of research/findings.md (2026-12-07)."""
    family = ens2rt.ModelFamily.load("ens2-exc", device="cpu")
    quiet = (0.5, 3.0, 4.99, float("nan"))
    assert {family.member_for(level, rate).name for level in quiet for rate in (10.0, 15.0, 30.0, 122.0)} == {"ens2-exc-native"}
    assert {family.member_for(level, rate).name for level in (*quiet, 9.0) for rate in (2.5, 7.5, 9.99)} == {"ens2-exc-conv"}
    assert {family.member_for(level, 15.0).name for level in (5.0, 6.0, 9.0)} == {"ens2-exc-native"}  # point-sampled ν misleads there
    assert [family.member_for(level, rate).name for level, rate in ((5.0, 20.0), (6.9, 30.0), (7.0, 30.0), (12.0, 122.0))] == [
        "ens2-exc-nu6", "ens2-exc-nu6", "ens2-exc-nu8", "ens2-exc-nu8"]  # fmt: skip
    assert [m.name for m in family.members_at(15.0)] == ["ens2-exc-native"] and [m.name for m in family.members_at(7.5)] == ["ens2-exc-conv"]
    assert [m.name for m in family.members_at(30.0)] == ["ens2-exc-nu6", "ens2-exc-nu8", "ens2-exc-native"]
    assert "research/findings.md" in ens2rt.catalog.model.family_manifest("ens2-exc").why


def test_a_default_stream_needs_a_noise_level_only_where_it_has_a_choice_or_scales_by_it():
    example = load_example()
    between = ens2rt.Stream(1, 15.0)  # ens2-exc-native alone runs at 15 Hz: nothing to choose or scale
    assert list(between.neuron_model) == ["ens2-exc-native"]
    with pytest.raises(InputError, match=r"picks a model per neuron from its noise level.*ens2-exc-nu6, ens2-exc-nu8, ens2-exc-native"):
        ens2rt.Stream(1, 30.0)
    assert list(ens2rt.Stream(1, 30.0, noise_level=6.0).neuron_model) == ["ens2-exc-nu6"]
    with pytest.raises(InputError, match=r"ens2-exc \(at 7.5 Hz it runs ens2-exc-conv\) divides each trace by its noise std"):
        ens2rt.Stream(1, 7.5)
    slow_frames = example.dff[::8].astype(np.float64)
    level = ens2rt.noise_level(slow_frames, example.frame_rate / 8)
    stream = ens2rt.Stream(1, example.frame_rate / 8, noise_level=level, spikes=False)
    pieces = [stream.push(slow_frames[None, k : k + 40]).rate for k in range(0, slow_frames.size, 40)] + [stream.flush().rate]
    offline = ens2rt.infer(slow_frames, example.frame_rate / 8, spikes=False)
    assert list(offline.neuron_model) == ["ens2-exc-conv"]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), offline.rate, atol=1e-5)


def test_a_stream_over_a_mixed_family_whose_neurons_all_run_one_kind():
    family = ens2rt.ModelFamily.load("ens2-exc-mixed", device="cpu")
    example = load_example()
    stream = ens2rt.Stream(2, example.frame_rate, model=family, noise_level=[8.0, 9.0], spikes=False)  # every neuron on one windowed member
    assert set(stream.neuron_model) == {"ens2-exc-nu8"}
    pieces = [stream.push(np.stack([example.dff[:1800]] * 2)[:, k : k + 600]).rate for k in range(0, 1800, 600)] + [stream.flush().rate]
    offline = ens2rt.infer(np.stack([example.dff[:1800]] * 2), example.frame_rate, model=family, noise_level=[8.0, 9.0], spikes=False)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), offline.rate, atol=1e-5)
