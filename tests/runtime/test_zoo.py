"""zoo_manifest.json: 80 ImageNet models + 4 PaddleX PP-LCNet classifiers of other modules, every entry a valid
PreprocessSpec, consistent with the shared reference."""
from __future__ import annotations

import json

import pytest
from helpers import REFERENCE, ROOT

from imgcls_onnx.hub import obtain_model
from imgcls_onnx.runtime.transforms import CropImage, PreprocessSpec, ResizeImage
from imgcls_onnx.store.catalogue import load_zoo
from imgcls_onnx.store.errors import UnknownModelError

FAMILIES = {"PP-LCNet", "PP-LCNetV2", "PP-HGNet", "PP-HGNetV2", "ResNet", "ResNet_vd", "MobileNetV1", "MobileNetV2",
            "MobileNetV3", "MobileNetV4_conv", "MobileNetV4_hybrid", "ConvNeXt", "SwinTransformer", "CLIP",
            "StarNet", "FasterNet"}


PULC = {"PP-LCNet_x1_0_doc_ori": ("0", "90", "180", "270"), "PP-LCNet_x0_25_textline_ori": ("0_degree", "180_degree"),
        "PP-LCNet_x1_0_textline_ori": ("0_degree", "180_degree"),
        "PP-LCNet_x1_0_table_cls": ("wired_table", "wireless_table")}


def test_eighty_imagenet_models_sixteen_families_and_four_pulc_modules():
    zoo = load_zoo()
    assert len(zoo.models) == 84
    assert len([m for m in zoo.models if m.module == "image_classification"]) == 80
    assert {m.family for m in zoo.models} == FAMILIES
    for name, labels in PULC.items():
        m = zoo.get(name)
        assert m.label_names() == labels and m.class_num == len(labels) and m.module != "image_classification"
    # PaddleClas PULC text-line orientation: a plain resize to 160x80 (w x h), no crop
    assert zoo.get("PP-LCNet_x0_25_textline_ori").preprocess.output_hw == (80, 160)


@pytest.mark.parametrize("name", load_zoo().names())
def test_entry_is_valid(name):
    m = load_zoo().get(name)
    assert isinstance(m.preprocess, PreprocessSpec)
    assert m.preprocess.output_hw == m.input_hw
    if name in PULC:
        assert m.class_num == len(m.label_names()) == len(PULC[name])
    else:
        assert m.class_num == 1000 and len(m.label_names()) == 1000
    assert m.reference.top1 is None or 40 < m.reference.top1 < 100
    assert m.arch and m.arch[0].isupper()


def test_known_preprocessing_values():
    zoo = load_zoo()
    hg = zoo.get("PP-HGNetV2-B0").preprocess.ops[0]
    assert isinstance(hg, ResizeImage) and (hg.resize_short, hg.interpolation, hg.backend) == (232, "bicubic", "pil")
    mnv4 = zoo.get("MobileNetV4_hybrid_large")
    assert mnv4.input_hw == (448, 448)
    swin = zoo.get("SwinTransformer_base_patch4_window12_384").preprocess.ops
    assert swin[0].resize_short == 438 and swin[1] == CropImage((384, 384))
    assert zoo.get("PP-LCNet_x1_0").preprocess == PreprocessSpec.imagenet(256, 224)


def test_generated_file_is_what_the_script_makes(tmp_path):
    """The committed JSON equals a fresh run of scripts/make_zoo_manifest.py on the shared reference."""
    if not (REFERENCE / "zoo_preprocess.json").exists():
        pytest.skip("../shared/reference absent")
    import subprocess
    import sys

    out = tmp_path / "zoo.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_zoo_manifest.py"), "--reference", str(REFERENCE),
                    "--out", str(out)], check=True, capture_output=True, timeout=60)
    assert json.loads(out.read_text()) == json.loads((ROOT / "imgcls_onnx" / "zoo_manifest.json").read_text())


def test_name_resolution_messages(tmp_path):
    with pytest.raises(UnknownModelError, match="did you mean .*PP-LCNet_x1_0"):
        load_zoo().get("PP-LCNet_x1_O")
    assert load_zoo().get("pp_lcnet_x1_0").name == "PP-LCNet_x1_0"
    with pytest.raises(UnknownModelError, match="imgcls-onnx convert ResNet50"):
        obtain_model("ResNet50", convert=False)
    with pytest.raises(UnknownModelError, match="does not exist"):
        obtain_model(str(tmp_path / "nope" / "model"))
