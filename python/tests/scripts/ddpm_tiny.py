"""An ordinary diffusers script, with no nanscope in it: a random tiny
UNet2DModel in a DDPMPipeline, three denoising steps. The tests record it with
`python -m nanscope.probe run`. `--plant-inf` sets one weight of
`up_blocks.0.resnets.0.conv1` to +Inf, so that convolution is the first
module to produce non-finite values, at step 0."""

import argparse

import torch
from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--plant-inf", action="store_true")
args = parser.parse_args()

torch.manual_seed(0)
unet = UNet2DModel(
    sample_size=16,
    in_channels=3,
    out_channels=3,
    layers_per_block=1,
    block_out_channels=(8, 16),
    down_block_types=("DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D"),
    norm_num_groups=4,
)
if args.plant_inf:
    with torch.no_grad():
        unet.up_blocks[0].resnets[0].conv1.weight.view(-1)[0] = float("inf")
pipe = DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=50))
pipe.set_progress_bar_config(disable=True)
images = pipe(batch_size=1, num_inference_steps=args.steps, output_type="np",
              generator=torch.Generator().manual_seed(0)).images
print("images", images.shape)
