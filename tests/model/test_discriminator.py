import pytest
import torch

from isegan.model.config import DiscriminatorConfig
from isegan.model.networks.discriminator import PatchDiscriminator


def _measured_receptive_field(network: PatchDiscriminator, channels: int, size: int = 160) -> int:
    """Side of the input region whose pixels change the centre logit (via gradients)."""
    network.eval()
    x = torch.randn(1, channels, size, size, requires_grad=True)
    out = network(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad.abs().sum(dim=(0, 1, 3)) > 0).nonzero()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(("num_layers", "field"), [(3, 70), (1, 16)])
def test_patchgan_receptive_fields(num_layers: int, field: int) -> None:
    torch.manual_seed(0)
    network = PatchDiscriminator(6, DiscriminatorConfig(base_channels=8, num_layers=num_layers))
    assert network.receptive_field == field
    assert _measured_receptive_field(network, 6) == field


def test_conditional_inputs_and_output_grid() -> None:
    # D1: cat(sketch 3, sketch parsing 8, photo 3); D_par: parsing 8 alone.
    d1 = PatchDiscriminator(14, DiscriminatorConfig(base_channels=8))
    assert d1(torch.randn(2, 14, 256, 256)).shape == (2, 1, 30, 30)
    d2 = PatchDiscriminator(14, DiscriminatorConfig(base_channels=8, num_layers=1))
    assert d2(torch.randn(1, 14, 256, 256)).shape == (1, 1, 126, 126)
    with pytest.raises(ValueError, match="in_channels"):
        PatchDiscriminator(0, DiscriminatorConfig())


def test_paper_size_parameter_count() -> None:
    # pix2pix's 70x70 PatchGAN with 6 input channels has 2,768,705 parameters
    # (64*6*16+64 + 128*64*16+256 + 256*128*16+512 + 512*256*16+1024 + 512*16+1).
    network = PatchDiscriminator(6, DiscriminatorConfig())
    assert sum(p.numel() for p in network.parameters()) == 2_768_705
