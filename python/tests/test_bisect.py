"""`nanscope.bisect`: delta debugging for the modules to keep unquantized."""

import copy
import io

from conftest import needs_torchao

import nanscope


def test_ddmin_finds_two_culprits_among_many():
    names = [f"block.{i}" for i in range(40)]
    culprits = {"block.7", "block.31"}
    seen = []

    def build(exclude):
        seen.append(set(exclude))
        return exclude

    def run(exclude):
        return float("nan") if not culprits <= exclude else 1.0

    out = io.StringIO()
    result = nanscope.bisect(build, run, modules=names, file=out)
    assert sorted(result.exclude) == sorted(culprits)
    assert result.fixed and not result.already_finite
    assert result.candidates == 40 and result.trials == len(seen) <= 80
    printed = out.getvalue()
    assert "keep 2 of 40 modules in higher precision" in printed
    assert "'block.7'" in printed and "filter_fn=lambda m, fqn:" in printed and "quantize_dynamic" in printed


def test_an_already_finite_run_and_an_unfixable_one():
    result = nanscope.bisect(lambda e: e, lambda e: 1.0, modules=["a", "b"], verbose=False)
    assert result.already_finite and result.exclude == [] and result.trials == 1
    result = nanscope.bisect(lambda e: e, lambda e: [float("inf")], modules=["a", "b"], verbose=False)
    assert not result.fixed and result.exclude == [] and result.trials == 2


def tiny_unet():
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8, use_linear_projection=True,
    )
    # The planted overflow: the attention's GroupNorm scales its output by 1000
    # and proj_in's weights are 1000 times smaller, so in fp16 the unquantized
    # product stays small. int8 weight-only multiplies the activations by the
    # integer weights (up to 127) before the scale: that sum passes 65504.
    attention = unet.down_blocks[0].attentions[0]
    with torch.no_grad():
        attention.norm.weight.mul_(1000.0)
        attention.norm.bias.mul_(1000.0)
        attention.proj_in.weight.div_(1000.0)
    return unet.half().eval()


@needs_torchao
def test_bisect_names_the_planted_module_of_an_int8_weight_only_unet():
    import torch
    from torchao.quantization import quantize_

    try:
        from torchao.quantization import Int8WeightOnlyConfig as config
    except ImportError:  # older torchao
        from torchao.quantization import int8_weight_only as config

    base = tiny_unet()
    sample = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1)).half()
    context = torch.randn(1, 3, 32, generator=torch.Generator().manual_seed(2)).half()
    linears = [n for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)]

    def build(exclude):
        model = copy.deepcopy(base)
        quantize_(model, config(), filter_fn=lambda m, fqn: isinstance(m, torch.nn.Linear) and fqn not in exclude)
        return model

    @torch.no_grad()
    def run(model):
        return model(sample, 10, encoder_hidden_states=context).sample

    assert torch.isfinite(run(base)).all()  # unquantized fp16 is finite
    result = nanscope.bisect(build, run, modules=linears, verbose=False)
    assert result.exclude == ["down_blocks.0.attentions.0.proj_in"], result.log
    assert result.trials <= 2 * len(linears)
    # The filter it hands back quantizes everything else and keeps the output finite.
    model = copy.deepcopy(base)
    quantize_(model, config(), filter_fn=result.filter_fn())
    assert torch.isfinite(run(model)).all()
    assert type(model.down_blocks[0].attentions[0].proj_in.weight) is torch.nn.Parameter
